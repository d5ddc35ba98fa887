//! Several logs in one server (`[[logs]]`): each has its own tree, key and
//! answers; a call reaches a log by its `vellum-log` header and its tiles
//! are under `/logs/<name>/`; a token with roles on one log is denied on
//! the others; and a log added to the configuration appears at the next
//! start while the existing ones keep their trees.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use vellum_client::{Client, ClientOptions, HistoryOf, StatusCode, Step, TrustedState, Wait};
use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
use vellum_note::SignedCheckpoint;
use vellum_server::access::token_hash_hex;
use vellum_server::{AccessPolicy, LogKind, NamedLog, RunningLog, ServeOptions};
use vellum_testkit::TestServer;

fn event(resource: &str, n: usize) -> Submitted {
    Submitted {
        actor: Actor {
            id: format!("actor-{resource}"),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: "document.update".into(),
        resource: Resource {
            kind: "document".into(),
            id: resource.into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-05T18:30:00Z".into(),
        attributes: Default::default(),
        payload: Some(format!(r#"{{"n":{n}}}"#).into_bytes()),
        event_id: None,
    }
}

fn ts(n: u64) -> vellum_merkle::TreeSize {
    vellum_merkle::TreeSize::new(n).unwrap()
}

fn with_logs(o: &mut ServeOptions, logs: &[(&str, LogKind)]) {
    o.logs = logs.iter().map(|(n, k)| NamedLog::new(n, *k)).collect();
}

fn named<'a>(server: &'a TestServer, name: &str) -> &'a RunningLog {
    server
        .running
        .logs
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no log {name}"))
}

/// A verifying client of the log `log` (`None`: the default one).
async fn client(server: &TestServer, log: Option<&str>, token: Option<&str>) -> Client {
    let vkey = match log {
        None => server.vkey(),
        Some(n) => named(server, n).vkey.clone(),
    };
    let opts = ClientOptions {
        log: log.map(str::to_owned),
        token: token.map(|t| vellum_client::BearerToken::new(t).unwrap()),
        ..ClientOptions::default()
    };
    Client::connect_with(&server.url, vkey, &opts)
        .await
        .unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, Bytes) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

/// The entries of a published tree of `size` < 256, from its tiles.
async fn bundle(base: &str, size: u64) -> Vec<Bytes> {
    let (status, body) = get(&format!("{base}/tile/entries/000.p/{size}"), None).await;
    assert_eq!(status, 200, "{base}");
    let mut out = Vec::new();
    let mut rest = &body[..];
    while !rest.is_empty() {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(Bytes::copy_from_slice(&rest[2..2 + n]));
        rest = &rest[2 + n..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_log_has_its_own_tree_key_answers_and_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| {
            with_logs(
                o,
                &[("tenant-a", LogKind::Events), ("tenant-b", LogKind::Events)],
            );
        })
        .start()
        .await;
    let base = server.http_url().unwrap();
    let (a, b) = (named(&server, "tenant-a"), named(&server, "tenant-b"));
    assert_ne!(a.vkey, b.vkey);
    assert_ne!(a.vkey, server.vkey());
    assert!(dir.path().join("data/logs/tenant-a/log.vkey").is_file());
    // One database for all: a's records are column families of the
    // default log's store (one WAL, one fsync for concurrent commits).
    assert!(!dir.path().join("data/logs/tenant-a/log").exists());
    assert!(!dir.path().join("data/logs/tenant-a.signer").exists());
    assert!(dir.path().join("data.signers/tenant-a").is_dir());

    let ca = client(&server, Some("tenant-a"), None).await;
    let cb = client(&server, Some("tenant-b"), None).await;
    let mut in_a = Vec::new();
    for n in 0..3 {
        in_a.push(
            ca.record(&event("doc-a", n), Wait::Checkpoint)
                .await
                .unwrap(),
        );
    }
    let in_b = cb
        .record(&event("doc-b", 9), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(in_b.index.get(), 0, "b's tree is its own");
    let raw = client(&server, None, None).await;
    raw.append(vec![Bytes::from_static(b"default entry")], Wait::Checkpoint)
        .await
        .unwrap();

    // Answers: each log's checkpoint is signed by its key (the client
    // checks it) and has its size; histories hold only the log's events.
    assert_eq!(ca.checkpoint().await.unwrap().size(), ts(3));
    assert_eq!(cb.checkpoint().await.unwrap().size(), ts(1));
    let h = ca
        .history(
            &HistoryOf::Resource("document".into(), "doc-a".into()),
            None,
            None,
        )
        .await
        .unwrap();
    let got: Vec<Bytes> = h.events.iter().rev().map(|e| e.bytes.clone()).collect();
    let want: Vec<Bytes> = in_a.iter().map(|r| r.bytes.clone()).collect();
    assert_eq!(got, want);
    let h = ca
        .history(&HistoryOf::Actor("actor-doc-b".into()), None, None)
        .await
        .unwrap();
    assert!(h.events.is_empty(), "b's actor in a's answer: {h:?}");
    // A client trusting b's key refuses a's checkpoint: a server that
    // answered a question about b with a's tree is caught.
    let crossed = Client::connect_with(
        &server.url,
        b.vkey.clone(),
        &ClientOptions {
            log: Some("tenant-a".into()),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let e = crossed.checkpoint().await.unwrap_err();
    assert!(e.is_verification_failure(), "{e}");

    // Tiles: each log under /logs/<name>/, the default also at the root.
    let (s, cp_a) = get(&format!("{base}/logs/tenant-a/checkpoint"), None).await;
    assert_eq!(s, 200);
    let cp_a = SignedCheckpoint::open(&cp_a, &a.vkey, &[]).unwrap();
    assert_eq!(cp_a.checkpoint().origin(), a.origin);
    assert_eq!(cp_a.checkpoint().size().get(), 3);
    assert_eq!(bundle(&format!("{base}/logs/tenant-a"), 3).await, want);
    assert_eq!(
        bundle(&format!("{base}/logs/tenant-b"), 1).await,
        vec![in_b.bytes.clone()]
    );
    let root = get(&format!("{base}/checkpoint"), None).await;
    assert_eq!(
        root,
        get(&format!("{base}/logs/default/checkpoint"), None).await
    );
    assert_eq!(
        bundle(&base, 1).await,
        vec![Bytes::from_static(b"default entry")]
    );
    assert_eq!(
        get(&format!("{base}/logs/nope/checkpoint"), None).await.0,
        404
    );

    // A log the server does not hold, or a malformed name.
    let opts = ClientOptions {
        log: Some("nope".into()),
        ..ClientOptions::default()
    };
    let unknown = vellum_client::UnverifiedClient::connect_with(&server.url, &opts)
        .await
        .unwrap();
    match unknown.checkpoint().await {
        Err(vellum_client::ClientError::Status { code, message }) => {
            assert_eq!(code, StatusCode::NotFound);
            assert!(message.contains("tenant-a, tenant-b"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let bad = ClientOptions {
        log: Some("Tenant A".into()),
        ..ClientOptions::default()
    };
    assert!(matches!(
        vellum_client::UnverifiedClient::connect_with(&server.url, &bad).await,
        Err(vellum_client::ClientError::InvalidLog(_))
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_one_log_is_denied_on_the_others_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let policy = AccessPolicy::parse(&format!(
        "append@tenant-a,audit@tenant-a {} ingest-a\nappend@tenant-b,audit@tenant-b {} ingest-b\n",
        token_hash_hex("token-a"),
        token_hash_hex("token-b"),
    ))
    .unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| {
            with_logs(
                o,
                &[("tenant-a", LogKind::Events), ("tenant-b", LogKind::Events)],
            );
            o.access = Some(Arc::new(policy));
        })
        .start()
        .await;
    let base = server.http_url().unwrap();
    let denied = || {
        server
            .running
            .stats
            .access
            .permission_denied
            .load(Ordering::Relaxed)
    };

    let a = client(&server, Some("tenant-a"), Some("token-a")).await;
    let r = a.record(&event("doc", 0), Wait::Checkpoint).await.unwrap();
    assert_eq!(r.recorded.attested().submitter, "ingest-a");

    // token-a on b, and on the default log: denied, counted, nothing added.
    let a_on_b = client(&server, Some("tenant-b"), Some("token-a")).await;
    match a_on_b.record(&event("doc", 1), Wait::Durable).await {
        Err(vellum_client::ClientError::Status { code, message }) => {
            assert_eq!(code, StatusCode::PermissionDenied);
            assert!(message.contains("tenant-b"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(denied(), 1);
    let a_on_default = client(&server, None, Some("token-a")).await;
    assert!(a_on_default.checkpoint().await.is_err());
    assert_eq!(denied(), 2);
    assert_eq!(named(&server, "tenant-b").log.committed().size.get(), 0);

    // The same over HTTP: each log's tiles need audit on that log.
    assert_eq!(
        get(&format!("{base}/logs/tenant-a/checkpoint"), Some("token-a"))
            .await
            .0,
        200
    );
    for path in [
        "/logs/tenant-b/checkpoint",
        "/checkpoint",
        "/logs/default/checkpoint",
    ] {
        assert_eq!(
            get(&format!("{base}{path}"), Some("token-a")).await.0,
            403,
            "{path}"
        );
    }
    assert_eq!(denied(), 5);
    let b = client(&server, Some("tenant-b"), Some("token-b")).await;
    b.record(&event("doc", 2), Wait::Checkpoint).await.unwrap();
    assert_eq!(named(&server, "tenant-b").log.committed().size.get(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_added_to_the_configuration_appears_and_the_others_keep_their_trees() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::builder(dir.path())
        .with(|o| with_logs(o, &[("tenant-a", LogKind::Events)]))
        .start()
        .await;
    let vkey_a = named(&first, "tenant-a").vkey.clone();
    let a = client(&first, Some("tenant-a"), None).await;
    let mut last = None;
    for n in 0..4 {
        last = Some(a.record(&event("doc", n), Wait::Checkpoint).await.unwrap());
    }
    // A client's trusted state of a: the restart must extend it.
    let mut state = TrustedState::open(dir.path().join("a.state"), a.trust()).unwrap();
    assert_eq!(
        a.update_trusted(&mut state).await.unwrap(),
        Step::Initialized { size: ts(4) }
    );
    first.stop().await;

    let second = TestServer::builder(dir.path())
        .with(|o| {
            with_logs(
                o,
                &[("tenant-a", LogKind::Events), ("tenant-b", LogKind::Raw)],
            );
        })
        .start()
        .await;
    let a2 = named(&second, "tenant-a");
    assert_eq!(a2.vkey, vkey_a);
    assert!(!a2.new_key);
    let b2 = named(&second, "tenant-b");
    assert!(b2.new_key);
    assert_ne!(b2.vkey, vkey_a);
    assert_eq!(b2.log.committed().size.get(), 0);

    // a's tree is the one it had: the next checkpoint is consistent with
    // the old one (the client proves it), and its chain goes on.
    let a = client(&second, Some("tenant-a"), None).await;
    let next = a.record(&event("doc", 4), Wait::Checkpoint).await.unwrap();
    assert_eq!(next.index.get(), 4);
    let prev = next.recorded.attested().prev.unwrap();
    assert_eq!(prev.index, last.unwrap().index.get());
    assert_eq!(
        a.update_trusted(&mut state).await.unwrap(),
        Step::Advanced {
            from: ts(4),
            to: ts(5)
        }
    );

    let b = client(&second, Some("tenant-b"), None).await;
    b.append(vec![Bytes::from_static(b"b's first")], Wait::Checkpoint)
        .await
        .unwrap();
    second.stop().await;
}

#[tokio::test]
async fn bad_log_declarations_are_refused_before_anything_opens() {
    let dir = tempfile::tempdir().unwrap();
    for (logs, needle) in [
        (vec!["a", "a"], "declared twice"),
        (vec!["default"], "default log"),
        (vec!["A"], "may hold only"),
        (vec![""], "1 to 64"),
    ] {
        let r = TestServer::builder(dir.path())
            .with(|o| {
                o.logs = logs
                    .iter()
                    .map(|n| NamedLog::new(n, LogKind::Raw))
                    .collect();
            })
            .try_start()
            .await;
        let e = r.err().unwrap_or_else(|| panic!("{logs:?} started"));
        assert!(e.to_string().contains(needle), "{logs:?}: {e}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "a refused start created the data folder"
    );
}
