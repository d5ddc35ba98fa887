//! Overload: a server with a small queue, flooded far beyond what it can
//! sequence, sheds load with `RESOURCE_EXHAUSTED` at once (nothing of a
//! refused call is stored), keeps every entry it accepted (durable, at its
//! index, provable against a signed checkpoint), and takes appends again
//! once the flood stops.
//!
//! The one time bound below (a refusal arrives within 2 s) is a
//! correctness bound: a refusal that waited for the queue to drain would
//! take as long as the backlog, not a speed target. The figures of an
//! overload (shed rate, latency of accepted appends, peak memory) are
//! measured by `vellum-bench overload`.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod raw_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raw_support::raw_call;
use tokio::sync::Mutex;
use tonic::Code;
use tonic::transport::Channel;
use vellum_log::At;
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{LeafIndex, leaf_hash};
use vellum_note::SignedCheckpoint;
use vellum_proto::v1 as pb;
use vellum_testkit::TestServer;

const QUEUE: usize = 32;
const PER_CALL: usize = 8;
const CALLERS: usize = 48;
const CALLS_PER_CALLER: usize = 40;
/// A refusal must not wait for the backlog.
const REFUSAL_BOUND: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Outcome {
    /// (index, entry) of every acknowledged entry.
    accepted: Vec<(u64, Bytes)>,
    /// Entries of refused calls.
    refused: Vec<Bytes>,
    /// The slowest refusal.
    slowest_refusal: Duration,
    /// Codes other than OK and RESOURCE_EXHAUSTED.
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_shed_and_nothing_accepted_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .with(|o| {
            o.tuning.queue_max_entries = Some(QUEUE);
            o.tuning.max_entries_per_call = Some(PER_CALL);
        })
        .start()
        .await;
    let url = server.url.clone();
    let running = server.running;
    // A few connections, as many callers would share them.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(
            Channel::from_shared(url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
    }

    // The flood: every caller sends its calls back to back, 8 entries each,
    // so up to 384 entries are offered at once to a queue of 32.
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let mut client = pb::log_client::LogClient::new(channels[c % channels.len()].clone());
        let outcome = outcome.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..CALLS_PER_CALLER {
                let entries: Vec<Bytes> = (0..PER_CALL)
                    .map(|j| Bytes::from(format!("caller {c} call {n} entry {j}")))
                    .collect();
                let sent = Instant::now();
                let r = client
                    .append(pb::AppendRequest {
                        entries: entries.clone(),
                        wait: pb::WaitFor::Durable as i32,
                        request_id: n as u64,
                    })
                    .await;
                let took = sent.elapsed();
                let mut o = outcome.lock().await;
                match r {
                    Ok(r) => {
                        let r = r.into_inner();
                        assert_eq!(r.results.len(), PER_CALL);
                        for (e, res) in entries.into_iter().zip(&r.results) {
                            assert!(!res.duplicate, "entries are unique");
                            o.accepted.push((res.index, e));
                        }
                    }
                    Err(s) if s.code() == Code::ResourceExhausted => {
                        assert!(s.message().contains("queue is full"), "{s:?}");
                        o.slowest_refusal = o.slowest_refusal.max(took);
                        o.refused.extend(entries);
                    }
                    Err(s) => o.other.push(format!("{s:?}")),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let o = Arc::try_unwrap(outcome).ok().unwrap().into_inner();
    assert!(o.other.is_empty(), "unexpected answers: {:?}", o.other);
    assert!(
        !o.refused.is_empty(),
        "a flood of 12x the queue shed nothing"
    );
    assert!(!o.accepted.is_empty(), "a flood starved every caller");
    assert!(
        o.slowest_refusal < REFUSAL_BOUND,
        "a refusal took {:?}: it waited for the queue",
        o.slowest_refusal
    );
    assert_eq!(
        o.accepted.len() + o.refused.len(),
        CALLERS * CALLS_PER_CALLER * PER_CALL
    );

    // Once load drops, appends succeed again.
    let mut client = pb::log_client::LogClient::new(channels[0].clone());
    let mut accepted = o.accepted;
    for i in 0..20 {
        let e = Bytes::from(format!("after the flood {i}"));
        let r = client
            .append(pb::AppendRequest {
                entries: vec![e.clone()],
                wait: pb::WaitFor::Checkpoint as i32,
                request_id: 0,
            })
            .await
            .unwrap_or_else(|s| panic!("append {i} after the flood: {s:?}"))
            .into_inner();
        accepted.push((r.results[0].index, e));
    }

    // Nothing lost, nothing extra: the log is exactly the accepted entries,
    // each at the index it was acknowledged with.
    running.log.flush().await.unwrap();
    let size = running.log.committed().size.get();
    assert_eq!(size, accepted.len() as u64, "entries besides the accepted");
    accepted.sort_by_key(|(i, _)| *i);
    for (k, (i, _)) in accepted.iter().enumerate() {
        assert_eq!(*i, k as u64, "acknowledged indices are 0..size, each once");
    }
    let mut stored = Vec::new();
    while (stored.len() as u64) < size {
        let r = client
            .get_entries(pb::GetEntriesRequest {
                start: stored.len() as u64,
                count: 1000,
            })
            .await
            .unwrap()
            .into_inner();
        stored.extend(r.entries);
    }
    for ((i, e), s) in accepted.iter().zip(&stored) {
        assert_eq!(e, s, "entry {i}");
    }
    // Every accepted entry is provable against the signed checkpoint.
    let cp = client
        .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
        .await
        .unwrap()
        .into_inner();
    let cp = SignedCheckpoint::open(&cp.checkpoint, &running.vkey, &[]).unwrap();
    let (cp_size, root) = (cp.checkpoint().size(), cp.checkpoint().root());
    assert_eq!(
        cp_size.get(),
        size,
        "the last append waited for a checkpoint"
    );
    for (i, e) in &accepted {
        // Straight from the log: thousands of proofs over gRPC would only
        // slow the test; the gRPC read path has its own tests.
        let p = running
            .log
            .inclusion_proof(LeafIndex::new(*i).unwrap(), At::Size(cp_size))
            .unwrap();
        assert_eq!(p.size, cp_size);
        verify_inclusion(
            &leaf_hash(e),
            LeafIndex::new(*i).unwrap(),
            cp_size,
            &p.proof,
            &root,
        )
        .unwrap_or_else(|err| panic!("entry {i}: {err}"));
    }
    // And nothing of a refused call is in the log.
    for e in o.refused.iter().step_by(7) {
        assert_eq!(running.log.find_leaf(&leaf_hash(e)).unwrap(), None);
    }
    running.stop().await.unwrap();
}

/// While the queue has no room, an append is refused from its headers: its
/// body is never decoded. The proof: a body that is not protobuf at all
/// gets `RESOURCE_EXHAUSTED`, where a server that decoded it first would
/// answer `INVALID_ARGUMENT`. Once there is room, the same body is decoded
/// and refused as bad input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_appends_before_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .with(|o| {
            o.tuning.queue_max_entries = Some(4);
            o.tuning.max_entries_per_call = Some(4);
            // No round starts by itself: the queue stays full until flushed.
            o.tuning.pool_max_entries = Some(1_000);
            o.tuning.pool_max_delay = Some(Duration::from_secs(3600));
        })
        .start()
        .await;
    let channel = server.channel().await;
    let running = server.running;
    let mut client = pb::log_client::LogClient::new(channel.clone());
    let filler = tokio::spawn(async move {
        client
            .append(pb::AppendRequest {
                entries: (0..4).map(|i| Bytes::from(format!("filler {i}"))).collect(),
                wait: pb::WaitFor::Durable as i32,
                request_id: 0,
            })
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.log.queued_entries() < 4 {
        assert!(
            Instant::now() < deadline,
            "the filler's 4 entries never reached the queue"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // A gRPC frame holding a protobuf field with wire type 7 (invalid).
    const GARBAGE: &[u8] = &[0, 0, 0, 0, 2, 0x0f, 0x01];
    const APPEND: &str = "/vellum.v1.Log/Append";
    let pushbacks = || {
        running
            .log
            .stats()
            .pushbacks
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = pushbacks();
    let s = raw_call(&channel, APPEND, GARBAGE).await;
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(s.message().contains("before reading the call"), "{s:?}");
    assert_eq!(pushbacks(), before + 1, "the refusal is counted");

    running.log.flush().await.unwrap();
    filler.await.unwrap().unwrap();
    let s = raw_call(&channel, APPEND, GARBAGE).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert_eq!(running.log.committed().size.get(), 4);
    running.stop().await.unwrap();
}
