//! Alerts are recorded in the log itself: streamed by `WatchAlerts` from
//! any index, provable like any entry, counted, posted to a webhook that
//! cannot hold anything up, and never lost to a crash between being raised
//! and being recorded (the spool), nor recorded twice.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use serde_json::{Map, Value, json};
use vellum_client::{Client, UnverifiedClient};
use vellum_event::Recorded;
use vellum_proto::v1 as pb;
use vellum_server::LogKind;
use vellum_server::guard::{RaisedAlert, WebhookConfig};
use vellum_testkit::TestServer;
use vellum_testkit::metrics::{scrape, value};

fn alert(kind: &str, subject: &str, at_ms: u64) -> RaisedAlert {
    let mut evidence = Map::new();
    evidence.insert("count".into(), json!(42));
    evidence.insert("window_s".into(), json!(60));
    RaisedAlert {
        kind: kind.into(),
        subject: subject.into(),
        at_ms,
        evidence,
    }
}

/// Every alert the server recorded, from `from` (without following).
async fn listed(url: &str, from: u64) -> Vec<vellum_client::StreamedAlert> {
    let c = UnverifiedClient::connect(url).await.unwrap();
    let mut s = c.watch_alerts(from, false).await.unwrap();
    let mut out = Vec::new();
    while let Some(a) = s.next().await.unwrap() {
        out.push(a);
    }
    out
}

/// Waits until the server has recorded `n` alerts.
async fn recorded(url: &str, n: usize) -> Vec<vellum_client::StreamedAlert> {
    let deadline = tokio::time::Instant::now() + vellum_testkit::DEADLINE;
    loop {
        let got = listed(url, 0).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} alerts recorded",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn events(dir: &std::path::Path) -> vellum_testkit::Builder {
    TestServer::builder(dir)
        .http()
        .with(|o| o.kind = LogKind::Events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_an_event_of_the_log_streamed_counted_and_provable() {
    let dir = tempfile::tempdir().unwrap();
    let server = events(dir.path()).start().await;
    let alerts = server.running.alerts.clone().unwrap();
    // A follower from the start sees the alert as it is recorded.
    let follower = UnverifiedClient::connect(&server.url).await.unwrap();
    let mut follow = follower.watch_alerts(0, true).await.unwrap();

    let raised = alert("denied_burst_identity", "mallory", 1_765_000_000_000);
    alerts.raise(raised.clone());
    let live = tokio::time::timeout(vellum_testkit::DEADLINE, follow.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.kind, "denied_burst_identity");
    assert_eq!(live.log, "default");

    // The entry is the log's own event, with the evidence.
    let r = Recorded::parse(&live.recorded).unwrap();
    assert_eq!(r.attested().submitter, "vellum");
    assert_eq!(r.event().action(), "vellum.alert.denied_burst_identity");
    assert_eq!(r.event().actor().id, "vellum");
    let payload = r.event().payload().unwrap();
    assert_eq!(payload["subject"], "mallory");
    assert_eq!(payload["evidence"]["count"], 42);
    assert_eq!(
        r.event().event_id(),
        Some(format!("alert-{}", raised.id()).as_str())
    );

    // Provable like any entry, at the index it was streamed with.
    let client = Client::connect(&server.url, server.vkey()).await.unwrap();
    let deadline = tokio::time::Instant::now() + vellum_testkit::DEADLINE;
    let proof = loop {
        match client.prove_entry(&live.recorded).await {
            Ok(p) => break p,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("no proof of the alert: {e}"),
        }
    };
    assert_eq!(proof.index().get(), live.index);

    // Listed from its index, not from the one after it.
    assert_eq!(listed(&server.url, live.index).await, vec![live.clone()]);
    assert!(listed(&server.url, live.index + 1).await.is_empty());

    // Counted by kind.
    let m = scrape(&server.http_url().unwrap()).await;
    assert_eq!(
        value(
            &m,
            "vellum_alerts_total",
            &[("kind", "denied_burst_identity")]
        ),
        1.0
    );
    assert_eq!(value(&m, "vellum_alerts_pending", &[]), 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_forge_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let server = events(dir.path()).start().await;
    let mut c = server.client().await;
    let forged = vellum_event::Submitted {
        actor: vellum_event::Actor {
            id: "vellum".into(),
            kind: "system".into(),
            on_behalf_of: None,
        },
        action: "vellum.alert.rate_spike_actor".into(),
        resource: vellum_event::Resource {
            kind: "vellum-log".into(),
            id: "default".into(),
        },
        outcome: vellum_event::Outcome {
            result: Some(vellum_event::OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-06T03:00:00Z".into(),
        attributes: Default::default(),
        payload: None,
        event_id: None,
    };
    let err = c
        .record(pb::RecordRequest {
            event: Some((&forged).into()),
            wait: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("reserved"), "{}", err.message());
    assert!(listed(&server.url, 0).await.is_empty());
    // An event by a client whose actor is called "vellum" is not an alert.
    let mut ok = forged.clone();
    ok.action = "document.read".into();
    c.record(pb::RecordRequest {
        event: Some((&ok).into()),
        wait: 0,
    })
    .await
    .unwrap();
    assert!(listed(&server.url, 0).await.is_empty());
    server.stop().await;

    // No token may be named after the log's own submitter.
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("append {} vellum\n", "ab".repeat(32))).unwrap();
    let e = vellum_server::access::AccessPolicy::load(&tokens).unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spooled_alert_is_recorded_at_the_next_start_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    // A first run records one alert.
    let server = events(dir.path()).start().await;
    let first = alert("witness_conflict", "w1", 1_765_000_000_001);
    server.running.alerts.as_ref().unwrap().raise(first.clone());
    recorded(&server.url, 1).await;
    server.stop().await;

    // A crash after raising, before recording: the spool holds a new
    // alert. A crash after recording, before the spool forgot it: the
    // spool still holds the first one.
    let spool = dir.path().join("data").join("alerts-spool");
    let second = alert("clock_backwards", "log", 1_765_000_000_002);
    for a in [&first, &second] {
        std::fs::write(
            spool.join(format!("{}.json", a.id())),
            serde_json::to_vec(a).unwrap(),
        )
        .unwrap();
    }
    let server = events(dir.path()).start().await;
    let got = recorded(&server.url, 2).await;
    let kinds: Vec<&str> = got.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["witness_conflict", "clock_backwards"]);
    // Give a duplicate every chance to appear: one more alert after them,
    // behind one that cannot make an event (a detector's bug), which is
    // set aside without holding up the next.
    let alerts = server.running.alerts.clone().unwrap();
    let bad = alert("Not A Kind!", "log", 1_765_000_000_003);
    alerts.raise(bad.clone());
    alerts.raise(alert("stale_checkpoint", "log", 1_765_000_000_004));
    let got = recorded(&server.url, 3).await;
    assert_eq!(got.len(), 3, "the first alert was recorded once: {got:?}");
    let left: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [format!("{}.rejected", bad.id())]);
    let m = scrape(&server.http_url().unwrap()).await;
    assert_eq!(value(&m, "vellum_alerts_rejected_total", &[]), 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_log_records_alerts_as_canonical_json_entries() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    let a = alert(
        "protected_resource",
        "secret/db-password",
        1_765_000_000_004,
    );
    server.running.alerts.as_ref().unwrap().raise(a);
    let got = recorded(&server.url, 1).await;
    let r = Recorded::parse(&got[0].recorded).unwrap();
    assert_eq!(r.event().action(), "vellum.alert.protected_resource");
    assert!(r.attested().prev.is_none());
    server.stop().await;
}

/// A webhook that accepts connections and never answers.
async fn hanging_webhook() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_hangs_holds_up_nothing_and_one_that_works_gets_json() {
    let dir = tempfile::tempdir().unwrap();
    let (url, hang) = hanging_webhook().await;
    let server = events(dir.path())
        .with(|o| {
            let mut w = WebhookConfig::new(&url);
            w.timeout = Duration::from_secs(30);
            o.guard.webhook = Some(w);
        })
        .start()
        .await;
    let alerts = server.running.alerts.clone().unwrap();
    for i in 0..20 {
        alerts.raise(alert(
            "rate_spike_actor",
            &format!("actor-{i}"),
            1_765_000_000_100 + i,
        ));
    }
    // Every alert is in the log while the webhook still holds its first
    // request, and the log takes events meanwhile.
    recorded(&server.url, 20).await;
    let m = scrape(&server.http_url().unwrap()).await;
    assert_eq!(
        value(&m, "vellum_alerts_total", &[("kind", "rate_spike_actor")]),
        20.0
    );
    assert_eq!(
        value(&m, "vellum_alert_webhook_total", &[("result", "delivered")]),
        0.0
    );
    server.stop().await;
    hang.abort();

    // A webhook that answers gets one JSON document per alert.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(serde_json::from_str::<Value>(&body).unwrap());
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let hook = tokio::spawn(async move { axum::serve(l, app).await });
    let dir = tempfile::tempdir().unwrap();
    let server = events(dir.path())
        .with(|o| o.guard.webhook = Some(WebhookConfig::new(&url)))
        .start()
        .await;
    server
        .running
        .alerts
        .as_ref()
        .unwrap()
        .raise(alert("off_hours", "alice", 1_765_000_000_200));
    let got = tokio::time::timeout(vellum_testkit::DEADLINE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["kind"], "off_hours");
    assert_eq!(got["subject"], "alice");
    assert_eq!(got["event"]["action"], "vellum.alert.off_hours");
    let listed = recorded(&server.url, 1).await;
    assert_eq!(got["index"], listed[0].index);
    server.stop().await;
    hook.abort();
}
