//! The detectors inside a running server, on real calls: actions on a
//! protected resource, a first privileged action, bursts of denied calls
//! by one token and from one address, a watched actor outside its hours
//! and one actor's burst are each raised as an alert, and each alert is an
//! event of the log with a valid inclusion proof. Every detector's own
//! tests (each kind and its near misses) are in crates/vellum-guard.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::collections::BTreeMap;
use std::time::Duration;

use secure_support::{ADMIN, APPEND, READ, policy};
use vellum_client::{BearerToken, Client, ClientOptions, UnverifiedClient, Wait};
use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
use vellum_server::LogKind;
use vellum_testkit::TestServer;

fn event(actor: &str, action: &str, resource: (&str, &str)) -> Submitted {
    Submitted {
        actor: Actor {
            id: actor.into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: action.into(),
        resource: Resource {
            kind: resource.0.into(),
            id: resource.1.into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-06T03:00:00Z".into(),
        attributes: Default::default(),
        payload: None,
        event_id: None,
    }
}

fn with_token(token: &str) -> ClientOptions {
    ClientOptions {
        token: Some(BearerToken::new(token).unwrap()),
        ..ClientOptions::default()
    }
}

/// Settings that make every detector fire within seconds: a one-second
/// window for rate spikes, small burst thresholds, and hours that exclude
/// the present hour on every day.
fn detectors_file(dir: &std::path::Path) -> std::path::PathBuf {
    let hour = (time::OffsetDateTime::now_utc().hour() + 2) % 24;
    let text = format!(
        r#"
[rate_spike_actor]
window = "1s"
warmup_windows = 2
min_count = 15
sigmas = 3.0
[protected_resource]
resources = ["secret/*"]
[new_privileged_actor]
actions = ["permission.grant"]
[denied_burst_identity]
threshold = 5
[denied_burst_address]
threshold = 5
[off_hours]
actors = ["night-owl"]
hours = "{hour:02}:00-{next:02}:00"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"#,
        next = (hour + 1) % 24
    );
    let path = dir.join("detectors.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_traffic_detector_raises_a_provable_alert_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = detectors_file(dir.path());
    let cfg = vellum_server::ServeConfig {
        guard: vellum_server::config::GuardConfig {
            detectors: Some(file),
            ..Default::default()
        },
        ..Default::default()
    };
    let guard = cfg.to_options().unwrap().guard;
    let server = TestServer::builder(dir.path())
        .with(|o| {
            o.kind = LogKind::Events;
            o.access = Some(policy());
            o.guard = guard;
        })
        .start()
        .await;
    let url = server.url.clone();
    let writer = UnverifiedClient::connect_with(&url, &with_token(APPEND))
        .await
        .unwrap();

    // A steady actor for a few windows, then a burst.
    for _ in 0..3 {
        writer
            .record(
                &event("steady", "document.read", ("document", "d1")),
                Wait::Durable,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let burst = (0..40).map(|i| {
        let w = writer.clone();
        async move {
            w.record(
                &event("steady", "document.read", ("document", &format!("b{i}"))),
                Wait::Durable,
            )
            .await
            .unwrap();
        }
    });
    futures::future::join_all(burst).await;
    // A protected resource, a first privileged action, a watched actor
    // outside its hours.
    for e in [
        event("alice", "secret.read", ("secret", "db-password")),
        event("mallory", "permission.grant", ("permission", "admin")),
        event("night-owl", "document.read", ("document", "d2")),
    ] {
        writer.record(&e, Wait::Durable).await.unwrap();
    }
    // A token without the append role, six times; an unknown token, six
    // times (from 127.0.0.1).
    let reader = UnverifiedClient::connect_with(&url, &with_token(READ))
        .await
        .unwrap();
    let stranger = UnverifiedClient::connect_with(&url, &with_token("not-a-token"))
        .await
        .unwrap();
    for _ in 0..6 {
        let e = event("reader", "document.read", ("document", "d3"));
        assert!(reader.record(&e, Wait::Durable).await.is_err());
        assert!(stranger.record(&e, Wait::Durable).await.is_err());
    }

    // Every one is in the log, with the subject it is about.
    let want: BTreeMap<&str, &str> = [
        ("rate_spike_actor", "steady"),
        ("protected_resource", "secret/db-password"),
        ("new_privileged_actor", "mallory"),
        ("off_hours", "night-owl"),
        ("denied_burst_identity", "reader"),
        ("denied_burst_address", "127.0.0.1"),
    ]
    .into();
    let auditor = UnverifiedClient::connect_with(&url, &with_token(ADMIN))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + vellum_testkit::DEADLINE;
    let found = loop {
        let mut s = auditor.watch_alerts(0, false).await.unwrap();
        let mut found = BTreeMap::new();
        while let Some(a) = s.next().await.unwrap() {
            let r = vellum_event::Recorded::parse(&a.recorded).unwrap();
            let subject = r.event().payload().unwrap()["subject"]
                .as_str()
                .unwrap()
                .to_owned();
            found.insert(a.kind.clone(), (subject, a));
        }
        if want.keys().all(|k| found.contains_key(*k)) {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alerts raised: {:?}",
            found.keys().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let prover = Client::connect_with(&url, server.vkey(), &with_token(ADMIN))
        .await
        .unwrap();
    for (kind, subject) in want {
        let (got, a) = &found[kind];
        assert_eq!(got, subject, "{kind}");
        let deadline = tokio::time::Instant::now() + vellum_testkit::DEADLINE;
        let proof = loop {
            match prover.prove_entry(&a.recorded).await {
                Ok(p) => break p,
                Err(e) if tokio::time::Instant::now() >= deadline => panic!("{kind}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        assert_eq!(proof.index().get(), a.index, "{kind}");
    }
    // Nothing fired that this traffic does not explain.
    for k in found.keys() {
        assert!(
            [
                "rate_spike_actor",
                "rate_spike_submitter",
                "protected_resource",
                "new_privileged_actor",
                "off_hours",
                "denied_burst_identity",
                "denied_burst_address",
            ]
            .contains(&k.as_str()),
            "unexpected alert {k}"
        );
    }
    server.stop().await;
}
