//! `GET /events` and the explorer's files on the HTTP listener: the answer
//! is `Log.ListEvents`'s (same events, bytes, proofs and checkpoint),
//! pages follow the cursor, bad parameters are a `400` naming the
//! parameter, a raw log has no `/events`, and with access control the
//! endpoint needs the `audit` role like the tiles while the explorer's
//! static files need nothing.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secure_support::{AUDIT, READ, policy};
use serde_json::Value;
use tonic::transport::Channel;
use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::SignedCheckpoint;
use vellum_proto::v1 as pb;
use vellum_server::{LogKind, NamedLog};
use vellum_testkit::TestServer;

type Client = pb::log_client::LogClient<Channel>;

fn event(actor: &str, action: &str, resource: &str) -> Submitted {
    Submitted {
        actor: Actor {
            id: actor.into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: action.into(),
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
        payload: Some(br#"{"note":"caf\u00e9 \"quoted\""}"#.to_vec()),
        event_id: None,
    }
}

async fn record(c: &mut Client, e: &Submitted) {
    c.record(pb::RecordRequest {
        event: Some(e.into()),
        wait: pb::WaitFor::Checkpoint as i32,
    })
    .await
    .unwrap();
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A recorded log: alice on doc-1 (twice) and doc-2, bob on doc-1.
async fn events_log(dir: &std::path::Path) -> (TestServer, Client) {
    let server = TestServer::builder(dir)
        .http()
        .with(|o| o.kind = LogKind::Events)
        .start()
        .await;
    let mut c = server.client().await;
    for (actor, action, res) in [
        ("alice", "document.create", "doc-1"),
        ("alice", "document.create", "doc-2"),
        ("bob", "document.read", "doc-1"),
        ("alice", "document.update", "doc-1"),
    ] {
        record(&mut c, &event(actor, action, res)).await;
    }
    (server, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_answers_what_list_events_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut c) = events_log(dir.path()).await;
    let base = server.http_url().unwrap();
    for (query, grpc) in [
        (
            "resource=document/doc-1",
            pb::ListEventsRequest {
                resource_kind: "document".into(),
                resource_id: "doc-1".into(),
                ..Default::default()
            },
        ),
        (
            "actor=alice",
            pb::ListEventsRequest {
                actor: "alice".into(),
                ..Default::default()
            },
        ),
        (
            "action=document.create",
            pb::ListEventsRequest {
                action: "document.create".into(),
                ..Default::default()
            },
        ),
    ] {
        let (status, body) = get(&format!("{base}/events?{query}"), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let want = c.list_events(grpc).await.unwrap().into_inner();
        assert_eq!(
            v["checkpoint"].as_str().unwrap().as_bytes(),
            &want.checkpoint[..],
            "{query}"
        );
        let cp = SignedCheckpoint::open(&want.checkpoint, &server.vkey(), &[]).unwrap();
        let got = v["events"].as_array().unwrap();
        assert_eq!(got.len(), want.events.len(), "{query}");
        for (g, w) in got.iter().zip(&want.events) {
            assert_eq!(g["index"], w.index, "{query}");
            // The event is the stored entry: its canonical form is the
            // listed bytes.
            let bytes = serde_json_canonicalizer::to_vec(&g["event"]).unwrap();
            assert_eq!(bytes, &w.recorded[..], "{query}");
            let proof: Vec<Hash> = g["inclusion_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    Hash(
                        STANDARD
                            .decode(h.as_str().unwrap())
                            .unwrap()
                            .try_into()
                            .unwrap(),
                    )
                })
                .collect();
            let want_proof: Vec<Hash> = w
                .inclusion_proof
                .iter()
                .map(|h| Hash(h[..].try_into().unwrap()))
                .collect();
            assert_eq!(proof, want_proof, "{query}");
            verify_inclusion(
                &leaf_hash(&bytes),
                LeafIndex::new(w.index).unwrap(),
                TreeSize::new(cp.checkpoint().size().get()).unwrap(),
                &proof,
                &cp.checkpoint().root(),
            )
            .unwrap();
        }
        assert!(v["next_cursor"].is_null(), "{query}");
    }
    // The chain of doc-1, newest first.
    let (_, body) = get(&format!("{base}/events?resource=document/doc-1"), None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<u64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [3, 2, 0]);
    assert_eq!(v["events"][0]["event"]["prev"]["index"], 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_the_cursor_and_bad_parameters_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _c) = events_log(dir.path()).await;
    let base = server.http_url().unwrap();
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let url = format!("{base}/events?actor=alice&limit=2{cursor}");
        let (status, body) = get(&url, None).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        for e in v["events"].as_array().unwrap() {
            seen.push(e["index"].as_u64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [3, 1, 0]);

    for (query, needle) in [
        ("", "exactly one of"),
        ("resource=doc-1", "resource: \"doc-1\" is not KIND/ID"),
        ("actor=alice&actor=bob", "actor: given twice"),
        (
            "actor=alice&limit=5000",
            "limit: \"5000\" is not a number from 1 to 1000",
        ),
        ("actor=alice&since=tuesday", "since: "),
        ("actor=alice&cursor=v1.99999.3", "cursor"),
        (
            "resource=document/doc-1&since=2026-01-01T00:00:00Z",
            "since and until",
        ),
        ("user=alice", "unknown parameter \"user\""),
    ] {
        let (status, body) = get(&format!("{base}/events?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let message = v["error"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_log_has_no_events_but_has_the_explorer() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).http().start().await;
    server.first_checkpoint().await;
    let base = server.http_url().unwrap();
    let (status, body) = get(&format!("{base}/events?actor=alice"), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not an events log"), "{body}");
    let (status, page) = get(&format!("{base}/explorer/"), None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<script type=\"module\" src=\"app.js\">"),
        "{page}"
    );
    let (status, _) = get(&format!("{base}/explorer/verify.js"), None).await;
    assert_eq!(status, 200);
    let (status, _) = get(&format!("{base}/explorer/nothing.js"), None).await;
    assert_eq!(status, 404);
    // Without the slash: a redirect to the page, relative to the path.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/explorer"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(r.headers()["location"], "explorer/");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_need_the_audit_role_and_the_explorer_files_need_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| {
            o.kind = LogKind::Events;
            o.access = Some(policy());
        })
        .start()
        .await;
    server.first_checkpoint().await;
    let base = server.http_url().unwrap();
    let events = format!("{base}/events?actor=alice");
    assert_eq!(get(&events, None).await.0, 401);
    assert_eq!(get(&events, Some(READ)).await.0, 403);
    let (status, body) = get(&events, Some(AUDIT)).await;
    assert_eq!(status, 200, "{body}");
    for file in ["explorer/", "explorer/app.js", "explorer/style.css"] {
        assert_eq!(get(&format!("{base}/{file}"), None).await.0, 200, "{file}");
    }
    // What the page reads stays behind the check.
    assert_eq!(get(&format!("{base}/checkpoint"), None).await.0, 401);
    assert_eq!(get(&format!("{base}/explorer/secret"), None).await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_log_has_its_own_events_and_explorer() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| o.logs = vec![NamedLog::new("tenant-a", LogKind::Events)])
        .start()
        .await;
    server.first_checkpoint().await;
    let mut c = server.client().await;
    let mut req = tonic::Request::new(pb::RecordRequest {
        event: Some((&event("alice", "document.create", "doc-1")).into()),
        wait: pb::WaitFor::Checkpoint as i32,
    });
    req.metadata_mut()
        .insert("vellum-log", "tenant-a".parse().unwrap());
    c.record(req).await.unwrap();
    let base = server.http_url().unwrap();
    let (status, body) = get(&format!("{base}/logs/tenant-a/events?actor=alice"), None).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    let origin = server
        .running
        .logs
        .iter()
        .find(|l| l.name == "tenant-a")
        .unwrap()
        .origin
        .clone();
    assert!(
        v["checkpoint"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{origin}\n1\n"))
    );
    // The default log here is a raw one.
    assert_eq!(
        get(&format!("{base}/events?actor=alice"), None).await.0,
        404
    );
    for file in ["explorer/", "explorer/app.js"] {
        let (status, _) = get(&format!("{base}/logs/tenant-a/{file}"), None).await;
        assert_eq!(status, 200, "{file}");
    }
    assert_eq!(
        get(&format!("{base}/logs/nope/explorer/"), None).await.0,
        404
    );
    server.stop().await;
}
