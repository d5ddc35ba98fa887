//! Appends end to end on the in-memory store: indices, dedup, proofs,
//! bad input, pushback, shutdown.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use support::{Fixture, entries, wait_published};
use vellum_log::{At, LogError, QueueLimit, Wait};
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{LeafIndex, MAX_TREE_SIZE, TreeSize, leaf_hash};
use vellum_note::SignedCheckpoint;
use vellum_store::LogStore;
use vellum_store::conformance::{check_against_reference, snapshot};
use vellum_store::faulty::FaultyStore;
use vellum_store::memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_get_consecutive_durable_indices() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    let mut all = Vec::new();
    for call in 0..20u64 {
        let e = entries("durable", call * 10..call * 10 + 10);
        let r = log.append(e.clone(), Wait::Durable).await.unwrap();
        let idx: Vec<u64> = r.results.iter().map(|a| a.index.get()).collect();
        assert_eq!(idx, (call * 10..call * 10 + 10).collect::<Vec<_>>());
        assert!(r.results.iter().all(|a| !a.duplicate));
        assert!(r.proofs.is_none());
        // Acknowledged means stored.
        assert!(store.tree_head().unwrap().size.get() >= call * 10 + 10);
        all.extend(e);
    }
    check_against_reference(&*store, &all);
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_are_batched_and_all_answered() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..20u64 {
                    let e = Bytes::from(format!("caller {t} entry {i}"));
                    let r = log.append(vec![e.clone()], Wait::Durable).await.unwrap();
                    got.push((r.results[0].index.get(), e));
                }
                got
            })
        })
        .collect();
    let mut by_index = std::collections::BTreeMap::new();
    for t in tasks {
        for (i, e) in t.await.unwrap() {
            assert!(by_index.insert(i, e).is_none(), "index {i} given twice");
        }
    }
    let all: Vec<Bytes> = by_index.values().cloned().collect();
    assert_eq!(
        by_index.keys().copied().collect::<Vec<_>>(),
        (0..1280).collect::<Vec<_>>()
    );
    check_against_reference(&*store, &all);
    let rounds = log
        .stats()
        .rounds
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        rounds < 1280,
        "1280 single appends took {rounds} rounds: no batching"
    );
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_bytes_get_the_same_index() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    let first = log
        .append(entries("dup", 0..5), Wait::Durable)
        .await
        .unwrap();
    assert!(first.results.iter().all(|a| !a.duplicate));
    // Entry 2 again, a new one, and the new one twice in the same call.
    let e = vec![
        Bytes::from("dup 2"),
        Bytes::from("fresh"),
        Bytes::from("fresh"),
    ];
    let r = log.append(e, Wait::Durable).await.unwrap();
    let got: Vec<(u64, bool)> = r
        .results
        .iter()
        .map(|a| (a.index.get(), a.duplicate))
        .collect();
    assert_eq!(got, vec![(2, true), (5, false), (5, true)]);
    assert_eq!(store.tree_head().unwrap().size.get(), 6);
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_wait_returns_proofs_that_verify() {
    let f = Fixture::new();
    let log = f.open(Arc::new(MemoryStore::new())).await.unwrap();
    log.append(entries("pre", 0..33), Wait::Durable)
        .await
        .unwrap();
    let e = entries("proved", 0..17);
    let r = log.append(e.clone(), Wait::Checkpoint).await.unwrap();
    let (cp, proofs) = r.proofs.unwrap();
    let opened = SignedCheckpoint::open(&cp.note, &f.vkey, &[]).unwrap();
    let size = opened.checkpoint().size();
    assert!(size.get() >= 50);
    for ((entry, a), proof) in e.iter().zip(&r.results).zip(&proofs) {
        verify_inclusion(
            &leaf_hash(entry),
            a.index,
            size,
            proof,
            &opened.checkpoint().root(),
        )
        .unwrap();
    }
    // A duplicate with a checkpoint wait gets a proof too.
    let r = log
        .append(vec![Bytes::from("pre 3")], Wait::Checkpoint)
        .await
        .unwrap();
    assert!(r.results[0].duplicate);
    let (cp, proofs) = r.proofs.unwrap();
    let opened = SignedCheckpoint::open(&cp.note, &f.vkey, &[]).unwrap();
    verify_inclusion(
        &leaf_hash(b"pre 3"),
        r.results[0].index,
        opened.checkpoint().size(),
        &proofs[0],
        &opened.checkpoint().root(),
    )
    .unwrap();
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let mut cfg = f.config();
    cfg.max_entries_per_call = 10;
    let log = f.open_with(store.clone(), cfg).await.unwrap();
    log.append(entries("base", 0..3), Wait::Durable)
        .await
        .unwrap();
    log.flush().await.unwrap();
    let before = snapshot(&*store);
    let cases: Vec<(Vec<Bytes>, LogError, &str)> = vec![
        (vec![], LogError::NoEntries, "at least one entry"),
        (
            entries("many", 0..11),
            LogError::TooManyEntries {
                count: 11,
                limit: 10,
            },
            "limit is 10",
        ),
        (
            vec![Bytes::from("ok"), Bytes::from(vec![0u8; 65_536])],
            LogError::EntryTooLarge {
                index: 1,
                len: 65_536,
                limit: 65_535,
            },
            "entry 1 is 65536 bytes",
        ),
    ];
    for (e, want, expect) in cases {
        match log.append(e, Wait::Durable).await {
            Err(got) => {
                assert_eq!(got, want);
                assert!(got.to_string().contains(expect), "{got}");
                assert!(!got.is_retryable() && !got.is_fatal(), "{got:?}");
            }
            other => panic!("expected {want:?}, got {other:?}"),
        }
    }
    assert!(matches!(
        log.append(entries("w", 0..1), Wait::Witnessed).await,
        Err(LogError::NoWitnesses)
    ));
    log.flush().await.unwrap();
    assert_eq!(snapshot(&*store).head, before.head);
    // Empty entries are valid entries.
    log.append(vec![Bytes::new()], Wait::Durable).await.unwrap();
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_pushes_back_at_once_and_recovers() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let mut cfg = f.config();
    cfg.queue_max_entries = 8;
    cfg.max_entries_per_call = 4;
    // Rounds only when flushed: the queue cannot drain by itself.
    cfg.pool_max_delay = Duration::from_secs(3600);
    cfg.pool_max_entries = 1_000;
    let log = f.open_with(store.clone(), cfg).await.unwrap();
    let waiting: Vec<_> = (0..2)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(entries(&format!("q{i}"), 0..4), Wait::Durable)
                    .await
            })
        })
        .collect();
    // Let both calls reach the sequencer, then one more entry does not fit.
    while log
        .stats()
        .accepted
        .load(std::sync::atomic::Ordering::Relaxed)
        < 2
    {
        tokio::task::yield_now().await;
    }
    match log.append(entries("over", 0..1), Wait::Durable).await {
        Err(e @ LogError::QueueFull { .. }) => {
            assert!(e.to_string().contains("queue is full"), "{e}");
            assert!(e.is_retryable(), "{e:?}");
            assert!(
                matches!(
                    e,
                    LogError::QueueFull {
                        limit: QueueLimit::Entries(8),
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        other => panic!("an entry beyond the queue got {other:?}"),
    }
    assert_eq!(
        log.stats()
            .pushbacks
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        store.tree_head().unwrap().size.get(),
        0,
        "nothing sequenced yet"
    );
    log.flush().await.unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    assert_eq!(store.tree_head().unwrap().size.get(), 8);
    // Capacity is back.
    let more = {
        let log = log.clone();
        tokio::spawn(async move { log.append(entries("after", 0..4), Wait::Durable).await })
    };
    while log
        .stats()
        .accepted
        .load(std::sync::atomic::Ordering::Relaxed)
        < 3
    {
        tokio::task::yield_now().await;
    }
    log.flush().await.unwrap();
    more.await.unwrap().unwrap();
    log.shutdown().await;
}

/// With a slow disk and a long queue, the queue length alone would let a
/// flood build seconds of backlog. The queue-delay limit refuses appends
/// once the queued work exceeds what the log sequences in that time, so the
/// queue stays far below its length limit, and nothing accepted is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_by_expected_wait_long_before_the_queue_is_full() {
    const CALLERS: usize = 32;
    const PER_CALL: usize = 4;
    let f = Fixture::new();
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    // 16 entries per 20 ms round: about 800 entries/s; 50 ms of that is 40
    // entries, far below the 100,000 the queue may hold.
    store.slow_commits(Duration::from_millis(20));
    let mut cfg = f.config();
    cfg.queue_max_entries = 100_000;
    cfg.max_entries_per_call = PER_CALL;
    cfg.pool_max_entries = 16;
    cfg.max_queue_delay = Duration::from_millis(50);
    let log = f.open_with(store.clone(), cfg).await.unwrap();
    assert_eq!(log.admission_limit(), None, "no estimate before a backlog");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|c| {
            let log = log.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut accepted, mut refused) = (Vec::new(), 0usize);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let e = entries(&format!("flood {c}"), n * 4..n * 4 + 4);
                    n += 1;
                    match log.append(e.clone(), Wait::Durable).await {
                        Ok(r) => accepted.extend(r.results.iter().map(|a| a.index).zip(e)),
                        Err(
                            e @ LogError::QueueFull {
                                limit: QueueLimit::Delay { .. },
                                expected_wait: Some(_),
                            },
                        ) => {
                            assert!(e.to_string().contains("ms of work"), "{e}");
                            refused += 1;
                            tokio::task::yield_now().await;
                        }
                        Err(e) => panic!("unexpected answer: {e}"),
                    }
                }
                (accepted, refused)
            })
        })
        .collect();
    // Watch the queue while the flood runs for about 40 rounds.
    let mut deepest = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(800) {
        deepest = deepest.max(log.queued_entries());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let (a, r) = t.await.unwrap();
        accepted.extend(a);
        refused += r;
    }
    let limit = log.admission_limit().expect("the flood measured a rate");
    assert!(refused > 0, "a flood of 32 callers was never refused");
    // Callers check and then enqueue, so a few calls can pass the check
    // together: the queue may exceed the limit by one call per caller.
    assert!(
        deepest <= limit + CALLERS * PER_CALL,
        "the queue reached {deepest} entries, past the limit of {limit}"
    );
    assert!(limit < 2_000, "limit {limit} did not follow the slow disk");
    // Every accepted entry is where its answer said.
    log.flush().await.unwrap();
    store.slow_commits(Duration::ZERO);
    for (index, e) in &accepted {
        let got = store.read_entries(*index, 1).unwrap();
        assert_eq!(&got[0], e);
    }
    assert_eq!(store.tree_head().unwrap().size.get(), accepted.len() as u64);
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sequences_what_was_queued_and_signs_it() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let mut cfg = f.config();
    cfg.pool_max_delay = Duration::from_secs(3600);
    let log = f.open_with(store.clone(), cfg).await.unwrap();
    let pending = {
        let log = log.clone();
        tokio::spawn(async move { log.append(entries("late", 0..5), Wait::Durable).await })
    };
    while log
        .stats()
        .accepted
        .load(std::sync::atomic::Ordering::Relaxed)
        < 1
    {
        tokio::task::yield_now().await;
    }
    assert_eq!(log.queued_entries(), 5);
    log.shutdown().await;
    pending.await.unwrap().unwrap();
    assert_eq!(store.tree_head().unwrap().size.get(), 5);
    let (size, _) = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!(size, TreeSize::new(5).unwrap(), "final checkpoint signed");
    assert!(matches!(
        log.append(entries("x", 0..1), Wait::Durable).await,
        Err(LogError::ShuttingDown)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_serve_proofs_and_pages() {
    let f = Fixture::new();
    let log = f.open(Arc::new(MemoryStore::new())).await.unwrap();
    let e = entries("read", 0..3000);
    for chunk in e.chunks(1000) {
        log.append(chunk.to_vec(), Wait::Durable).await.unwrap();
    }
    wait_published(&log, 3000).await;
    let cp = log.published().unwrap();
    let index = |i| LeafIndex::new(i).unwrap();
    let size = |n| TreeSize::new(n).unwrap();
    let p = log.inclusion_proof(index(1234), At::Latest).unwrap();
    assert_eq!(p.size, cp.size);
    assert_eq!(p.index, index(1234));
    assert_eq!(p.checkpoint.unwrap().size, cp.size);
    verify_inclusion(
        &leaf_hash(&e[1234]),
        index(1234),
        p.size,
        &p.proof,
        &cp.root,
    )
    .unwrap();
    // A given size comes without a checkpoint.
    let at = log.inclusion_proof(index(5), At::Size(size(3000))).unwrap();
    assert_eq!((at.size, at.checkpoint), (size(3000), None));
    assert_eq!(
        log.inclusion_proof(index(3000), At::Latest),
        Err(LogError::IndexBeyondTree {
            index: 3000,
            size: size(3000)
        })
    );
    assert_eq!(
        log.inclusion_proof(index(5), At::Size(size(3001))),
        Err(LogError::SizeBeyondTree {
            size: 3001,
            committed: size(3000)
        })
    );
    assert_eq!(
        log.inclusion_proof(index(MAX_TREE_SIZE - 1), At::Size(size(MAX_TREE_SIZE))),
        Err(LogError::SizeBeyondTree {
            size: MAX_TREE_SIZE,
            committed: size(3000)
        })
    );
    // Size 0 is the empty tree, which holds no leaf.
    assert_eq!(
        log.inclusion_proof(index(0), At::Size(TreeSize::ZERO)),
        Err(LogError::IndexBeyondTree {
            index: 0,
            size: TreeSize::ZERO
        })
    );
    let c = log.consistency_proof(size(1000), At::Latest).unwrap();
    assert_eq!((c.from.get(), c.to.get()), (1000, 3000));
    assert!(!c.proof.is_empty());
    assert_eq!(c.checkpoint.map(|p| p.size), Some(cp.size));
    assert_eq!(
        log.consistency_proof(size(10), At::Size(size(5))),
        Err(LogError::FromAfterTo {
            from: 10,
            to: size(5)
        })
    );
    let page = log.entries(index(2990), 100).await.unwrap();
    assert_eq!(page, e[2990..].to_vec());
    let page = log.entries(index(0), 100_000).await.unwrap();
    assert_eq!(page.len(), log.config().max_page);
    assert_eq!(
        log.entries(index(3000), 1).await,
        Err(LogError::EntryBeyondTree {
            index: 3000,
            committed: size(3000)
        })
    );
    assert_eq!(log.entries(index(0), 0).await, Err(LogError::EmptyPage));
    assert_eq!(
        log.find_leaf(&leaf_hash(&e[77])).unwrap().unwrap().get(),
        77
    );
    assert_eq!(log.find_leaf(&leaf_hash(b"absent")).unwrap(), None);
    assert_eq!(log.leaf_index(&leaf_hash(&e[77])), Ok(index(77)));
    assert_eq!(
        log.leaf_index(&leaf_hash(b"absent")),
        Err(LogError::UnknownLeaf {
            leaf: leaf_hash(b"absent")
        })
    );
    // An entry with its proof, stitched by the log.
    let ep = log.entry_and_proof(index(42), At::Latest).await.unwrap();
    assert_eq!(ep.entry, e[42]);
    verify_inclusion(
        &leaf_hash(&ep.entry),
        index(42),
        ep.inclusion.size,
        &ep.inclusion.proof,
        &cp.root,
    )
    .unwrap();
    // Checkpoints: the latest as published, a signed size as stored, and
    // a size never signed.
    assert_eq!(log.checkpoint(At::Latest).unwrap(), cp.note);
    assert_eq!(log.checkpoint(At::Size(cp.size)).unwrap(), cp.note);
    assert_eq!(
        log.checkpoint(At::Size(size(1))),
        Err(LogError::NoCheckpointAt { size: size(1) })
    );
    log.shutdown().await;
}
