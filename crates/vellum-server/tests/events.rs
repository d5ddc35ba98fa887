//! An events log over gRPC: `Record` turns a client's event into the
//! canonical entry with the fields only the log attests (submitter,
//! received_at, prev); retries are idempotent; each resource's history is
//! a hash chain, across concurrent writers and restarts; raw appends are
//! refused; and bad events change nothing.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::collections::HashMap;

use tonic::Code;
use tonic::transport::Channel;
use vellum_event::{Actor, Outcome, OutcomeResult, Recorded, Resource, Submitted};
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::SignedCheckpoint;
use vellum_proto::v1 as pb;
use vellum_server::LogKind;
use vellum_testkit::TestServer;
use vellum_testkit::requests::{append, entries};

type Client = pb::log_client::LogClient<Channel>;

fn event(resource: &str, action: &str, id: Option<&str>) -> Submitted {
    Submitted {
        actor: Actor {
            id: "alice".into(),
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
        event_time: "2026-12-05T18:30:00+01:00".into(),
        attributes: Default::default(),
        payload: Some(br#"{"after":{"role":"editor"}}"#.to_vec()),
        event_id: id.map(str::to_owned),
    }
}

fn request(e: &Submitted, wait: pb::WaitFor) -> pb::RecordRequest {
    pb::RecordRequest {
        event: Some(e.into()),
        wait: wait as i32,
    }
}

async fn record(c: &mut Client, e: &Submitted) -> pb::RecordResponse {
    c.record(request(e, pb::WaitFor::Durable))
        .await
        .unwrap()
        .into_inner()
}

async fn events_log(dir: &std::path::Path) -> TestServer {
    TestServer::builder(dir)
        .with(|o| o.kind = LogKind::Events)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_attests_submitter_time_and_the_resource_chain() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;

    let a = record(&mut c, &event("doc-1", "document.create", Some("e1"))).await;
    assert_eq!((a.index, a.duplicate), (0, false));
    let first = Recorded::parse(&a.recorded).unwrap();
    assert_eq!(first.attested().submitter, "anonymous");
    assert_eq!(first.attested().prev, None);
    assert_eq!(first.event().action(), "document.create");

    let b = record(&mut c, &event("doc-2", "document.create", None)).await;
    assert_eq!(b.index, 1);
    assert_eq!(Recorded::parse(&b.recorded).unwrap().attested().prev, None);

    let d = record(&mut c, &event("doc-1", "document.update", None)).await;
    assert_eq!(d.index, 2);
    let third = Recorded::parse(&d.recorded).unwrap();
    let prev = third.attested().prev.unwrap();
    assert_eq!(prev.index, 0);
    assert_eq!(Hash(prev.leaf_hash), leaf_hash(&a.recorded));
    assert!(third.attested().received_at >= first.attested().received_at);

    // What is stored is exactly what was answered.
    let stored = server
        .running
        .log
        .entries(LeafIndex::new(0).unwrap(), 3)
        .await
        .unwrap();
    assert_eq!(stored, vec![a.recorded, b.recorded, d.recorded]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_gets_its_first_index_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;
    let e = event("doc-1", "document.create", Some("retry-me"));
    let first = record(&mut c, &e).await;
    record(&mut c, &event("doc-1", "document.update", None)).await;
    let again = record(&mut c, &e).await;
    assert!(again.duplicate);
    assert_eq!(again.index, first.index);
    assert_eq!(again.recorded, first.recorded);
    assert_eq!(server.running.log.committed().size.get(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_cannot_set_what_the_log_attests_and_bad_events_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;
    // Attested names inside the payload and attributes stay there: the
    // top-level fields are the log's.
    let mut e = event("doc-1", "document.create", None);
    e.payload = Some(br#"{"submitter":"root","prev":{"index":7}}"#.to_vec());
    e.attributes
        .insert("received_at".into(), "1970-01-01T00:00:00Z".into());
    let r = Recorded::parse(&record(&mut c, &e).await.recorded).unwrap();
    assert_eq!(r.attested().submitter, "anonymous");
    assert_eq!(r.attested().prev, None);
    assert_ne!(r.attested().received_at.to_string(), "1970-01-01T00:00:00Z");

    for (what, bad, field) in [
        ("no action", event("doc-1", "", None), "action"),
        (
            "not a dotted verb",
            event("doc-1", "Create", None),
            "action",
        ),
        (
            "no resource id",
            event("", "document.create", None),
            "resource",
        ),
    ] {
        let s = c
            .record(request(&bad, pb::WaitFor::Durable))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{what}: {s:?}");
        assert!(s.message().contains(field), "{what}: {}", s.message());
    }
    let s = c
        .record(pb::RecordRequest {
            event: None,
            wait: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    server.running.log.flush().await.unwrap();
    assert_eq!(server.running.log.committed().size.get(), 1);

    // An events log takes no raw entries, and says what to use instead.
    let s = c
        .append(append(entries("raw", 1), pb::WaitFor::Durable))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert!(s.message().contains("vellum record"), "{}", s.message());
    assert_eq!(server.running.log.committed().size.get(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_log_refuses_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    let mut c = server.client().await;
    let s = c
        .record(request(
            &event("d", "document.create", None),
            pb::WaitFor::Durable,
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert!(s.message().contains("--log-kind events"), "{}", s.message());
    server.stop().await;
}

/// Walks `resource`'s chain from `head` down; returns the indices visited.
fn chain(stored: &[bytes::Bytes], head: u64) -> Vec<u64> {
    let mut out = vec![head];
    let mut at = head;
    loop {
        let r = Recorded::parse(&stored[at as usize]).unwrap();
        let Some(prev) = r.attested().prev else {
            return out;
        };
        assert!(
            prev.index < at,
            "prev {} of {at} is not earlier",
            prev.index
        );
        assert_eq!(
            Hash(prev.leaf_hash),
            leaf_hash(&stored[prev.index as usize]),
            "the leaf hash of {at}'s prev"
        );
        at = prev.index;
        out.push(at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_a_restart_keep_every_chain_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = server.client().await;
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let res = if i % 2 == 0 { "shared" } else { "own" };
                let res = format!("{res}-{}", if res == "own" { w } else { 0 });
                let id = format!("w{w}-{i}");
                record(&mut c, &event(&res, "document.update", Some(&id))).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.stop().await;

    // After a restart the recorder rebuilds its state from the entries:
    // the chain goes on from the old head, and old event ids are known.
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;
    let again = record(&mut c, &event("shared-0", "document.update", Some("w3-2"))).await;
    assert!(again.duplicate, "an event id from before the restart");
    let next = record(&mut c, &event("shared-0", "document.delete", None)).await;
    assert_eq!(next.index, 80);
    let size = server.running.log.committed().size.get();
    let stored = server
        .running
        .log
        .entries(LeafIndex::new(0).unwrap(), size)
        .await
        .unwrap();
    let mut per_resource: HashMap<String, Vec<u64>> = HashMap::new();
    for (i, b) in stored.iter().enumerate() {
        let r = Recorded::parse(b).unwrap();
        per_resource
            .entry(r.event().resource().id.clone())
            .or_default()
            .push(i as u64);
    }
    for (res, mut indices) in per_resource {
        indices.reverse();
        assert_eq!(chain(&stored, indices[0]), indices, "the chain of {res}");
    }
    assert_eq!(chain(&stored, 80).len(), 41);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_wait_brings_a_proof_and_the_submitter_is_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .with(|o| {
            o.kind = LogKind::Events;
            o.access = Some(secure_support::policy());
        })
        .start()
        .await;
    let mut c = server.client().await;
    let mut req = tonic::Request::new(request(
        &event("doc-9", "document.create", None),
        pb::WaitFor::Checkpoint,
    ));
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", secure_support::APPEND)
            .parse()
            .unwrap(),
    );
    let r = c.record(req).await.unwrap().into_inner();
    let recorded = Recorded::parse(&r.recorded).unwrap();
    assert_eq!(recorded.attested().submitter, "ingest");
    let cp = SignedCheckpoint::open(&r.checkpoint, &server.vkey(), &[]).unwrap();
    let proof: Vec<Hash> = r
        .inclusion_proof
        .iter()
        .map(|h| Hash(h[..].try_into().unwrap()))
        .collect();
    verify_inclusion(
        &leaf_hash(&r.recorded),
        LeafIndex::new(r.index).unwrap(),
        TreeSize::new(cp.checkpoint().size().get()).unwrap(),
        &proof,
        &cp.checkpoint().root(),
    )
    .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_keep_their_checkpoint_while_the_log_grows() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;
    for _ in 0..5 {
        c.record(request(
            &event("doc-1", "document.update", None),
            pb::WaitFor::Checkpoint,
        ))
        .await
        .unwrap();
    }
    let query = |cursor: &str| pb::ListEventsRequest {
        resource_kind: "document".into(),
        resource_id: "doc-1".into(),
        page_size: 2,
        cursor: cursor.into(),
        ..Default::default()
    };
    let first = c.list_events(query("")).await.unwrap().into_inner();
    let got: Vec<u64> = first.events.iter().map(|e| e.index).collect();
    assert_eq!(got, [4, 3]);
    assert!(!first.next_cursor.is_empty());
    // The log grows between pages: the next pages stay on the first's
    // checkpoint and leave the new event out.
    c.record(request(
        &event("doc-1", "document.update", None),
        pb::WaitFor::Checkpoint,
    ))
    .await
    .unwrap();
    let second = c
        .list_events(query(&first.next_cursor))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.checkpoint, first.checkpoint);
    let got: Vec<u64> = second.events.iter().map(|e| e.index).collect();
    assert_eq!(got, [2, 1]);
    let third = c
        .list_events(query(&second.next_cursor))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<u64> = third.events.iter().map(|e| e.index).collect();
    assert_eq!(got, [0]);
    assert!(third.next_cursor.is_empty());

    // Refusals name what is wrong.
    for (what, req, needle) in [
        ("a forged cursor", query("v1.99999.3"), "cursor"),
        ("a garbled cursor", query("nonsense"), "cursor"),
        (
            "no selector",
            pb::ListEventsRequest::default(),
            "exactly one of",
        ),
        (
            "a time bound on a resource",
            pb::ListEventsRequest {
                since: "2026-01-01T00:00:00Z".into(),
                ..query("")
            },
            "since and until",
        ),
    ] {
        let s = c.list_events(req).await.unwrap_err();
        assert!(
            matches!(s.code(), Code::InvalidArgument | Code::NotFound),
            "{what}: {s:?}"
        );
        assert!(s.message().contains(needle), "{what}: {}", s.message());
    }
    server.stop().await;
}

/// Every entry of the log, from the server itself.
async fn stored(server: &TestServer) -> Vec<bytes::Bytes> {
    let size = server.running.log.committed().size.get();
    server
        .running
        .log
        .entries(LeafIndex::new(0).unwrap(), size)
        .await
        .unwrap()
}

/// The indices of the entries on resource `id`, newest first.
fn on_resource(stored: &[bytes::Bytes], id: &str) -> Vec<u64> {
    let mut out: Vec<u64> = (0..stored.len() as u64)
        .filter(|&i| {
            Recorded::parse(&stored[i as usize])
                .unwrap()
                .event()
                .resource()
                .id
                == id
        })
        .collect();
    out.reverse();
    out
}

/// Every page of a `ListEvents` query: the indices listed, newest first.
async fn list_all(c: &mut Client, mut req: pb::ListEventsRequest) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        let page = c.list_events(req.clone()).await.unwrap().into_inner();
        out.extend(page.events.iter().map(|e| e.index));
        if page.next_cursor.is_empty() {
            return out;
        }
        req.cursor = page.next_cursor;
    }
}

fn resource_query(id: &str) -> pb::ListEventsRequest {
    pb::ListEventsRequest {
        resource_kind: "document".into(),
        resource_id: id.into(),
        page_size: 7,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_goes_on_across_restarts_and_a_lost_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected_len = 0;
    // Three lives of the server: the second starts on the index the first
    // wrote, the third on none (the folder deleted: rebuilt from the
    // entries). Each records on `doc-r` between events on other resources.
    for life in 0..3 {
        if life == 2 {
            std::fs::remove_dir_all(dir.path().join("data/events-index")).unwrap();
        }
        let server = events_log(dir.path()).await;
        let mut c = server.client().await;
        for i in 0..4 {
            record(&mut c, &event("doc-r", "document.update", None)).await;
            record(
                &mut c,
                &event(&format!("other-{life}-{i}"), "document.create", None),
            )
            .await;
            expected_len += 1;
        }
        let last = c
            .record(request(
                &event("doc-r", "document.update", None),
                pb::WaitFor::Checkpoint,
            ))
            .await
            .unwrap()
            .into_inner();
        expected_len += 1;
        let stored = stored(&server).await;
        let mine = on_resource(&stored, "doc-r");
        assert_eq!(mine.len(), expected_len);
        assert_eq!(mine[0], last.index, "the last event is the head");
        // Every prev names the previous event on the resource, by index
        // and leaf hash, down to the first, which has none.
        assert_eq!(chain(&stored, last.index), mine, "life {life}");
        // The history from the index lists the same chain.
        assert_eq!(list_all(&mut c, resource_query("doc-r")).await, mine);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_to_one_resource_make_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                let id = format!("w{w}-{i}");
                let r = record(&mut c, &event("hot", "document.update", Some(&id))).await;
                assert!(!r.duplicate);
                got.push(r.index);
            }
            got
        }));
    }
    let mut answered = Vec::new();
    for t in tasks {
        answered.extend(t.await.unwrap());
    }
    answered.sort_unstable();
    answered.dedup();
    assert_eq!(answered.len(), 200, "200 distinct indices answered");
    let stored = stored(&server).await;
    assert_eq!(stored.len(), 200);
    // From the head down: all 200, each prev the one before (no gap), and
    // no two events naming the same prev (no fork).
    let head = *answered.last().unwrap();
    let walked = chain(&stored, head);
    assert_eq!(walked.len(), 200);
    let mut prevs: Vec<u64> = stored
        .iter()
        .filter_map(|b| Recorded::parse(b).unwrap().attested().prev.map(|p| p.index))
        .collect();
    prevs.sort_unstable();
    prevs.dedup();
    assert_eq!(
        prevs.len(),
        199,
        "every event but the first names a distinct prev"
    );
    // The index agrees: the resource's history is that chain.
    let mut c = server.client().await;
    // One more, waited for with a checkpoint, so that the history's
    // checkpoint covers all 200.
    c.record(request(
        &event("elsewhere", "document.create", None),
        pb::WaitFor::Checkpoint,
    ))
    .await
    .unwrap();
    assert_eq!(list_all(&mut c, resource_query("hot")).await, walked);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_range_lists_every_event_in_it_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let server = events_log(dir.path()).await;
    let mut c = server.client().await;
    // Event times out of index order, one before 1970, two equal.
    let times = [
        "2026-12-05T10:03:00Z",
        "1969-07-20T20:17:40Z",
        "2026-12-05T10:01:00Z",
        "2026-12-05T10:03:00Z",
        "2030-01-01T00:00:00.5Z",
        "2026-12-05T10:02:00.999Z",
    ];
    for (n, t) in times.iter().enumerate() {
        let mut e = event(&format!("doc-{n}"), "document.create", None);
        e.event_time = (*t).into();
        c.record(request(&e, pb::WaitFor::Checkpoint))
            .await
            .unwrap();
    }
    let range = |since: &str, until: &str| pb::ListEventsRequest {
        since: since.into(),
        until: until.into(),
        page_size: 2,
        ..Default::default()
    };
    for (since, until, want) in [
        ("2026-12-05T10:01:00Z", "2026-12-05T10:03:00Z", vec![5, 2]),
        ("2026-12-05T10:03:00Z", "", vec![4, 3, 0]),
        ("", "2026-12-05T10:01:00Z", vec![1]),
        ("0000-01-01T00:00:00Z", "", vec![5, 4, 3, 2, 1, 0]),
        (
            "2026-12-05T10:02:00.999Z",
            "2026-12-05T10:02:00.999000001Z",
            vec![5],
        ),
        ("2031-01-01T00:00:00Z", "", vec![]),
    ] {
        assert_eq!(
            list_all(&mut c, range(since, until)).await,
            want,
            "[{since}, {until})"
        );
    }
    // A time bound with an actor still filters that actor's events.
    let req = pb::ListEventsRequest {
        actor: "alice".into(),
        since: "2026-12-05T10:02:00Z".into(),
        ..Default::default()
    };
    assert_eq!(list_all(&mut c, req).await, [5, 4, 3, 0]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_log_started_as_an_events_log_is_refused_and_gets_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path()).start().await;
    let mut c = server.client().await;
    c.append(append(entries("raw", 2), pb::WaitFor::Durable))
        .await
        .unwrap();
    server.stop().await;
    let e = TestServer::builder(dir.path())
        .with(|o| o.kind = LogKind::Events)
        .try_start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("entry 0 is not a recorded audit event") && e.contains("not an events log"),
        "{e}"
    );
    assert!(!dir.path().join("data/events-index").exists());
}
