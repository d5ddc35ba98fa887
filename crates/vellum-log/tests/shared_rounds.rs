//! Several logs sequenced by one thread ([`Sequencing`]): each log's tree,
//! indices and dedup stay its own, one log stopping leaves the others
//! running, a storage failure stops every log of the thread, and a log can
//! only join as the member whose store it holds.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bytes::Bytes;
use support::{Fixture, entries};
use vellum_log::{Log, LogError, LogState, Sequencing, StartupError, Wait};
use vellum_store::conformance::check_against_reference;
use vellum_store::faulty::{Fault, FaultyStore, Op};
use vellum_store::memory::MemoryStore;
use vellum_store::{CommitGroup, EachStore, LogStore};

/// `n` logs on memory stores, sequenced together, each with its own
/// signer journal.
async fn shared(f: &Fixture, stores: &[Arc<dyn LogStore>]) -> (Sequencing, Vec<Log>) {
    let group: Arc<dyn CommitGroup> = Arc::new(EachStore(stores.to_vec()));
    let seq = Sequencing::start(group).unwrap();
    let mut logs = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let log = Log::builder(
            store.clone(),
            f.signer_at(&f.dir.path().join(format!("signer{i}"))),
            f.vkey.clone(),
        )
        .config(f.config())
        .sequencing(&seq, i)
        .open()
        .await
        .unwrap();
        logs.push(log);
    }
    (seq, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_log_keeps_its_own_tree_under_concurrent_callers() {
    let f = Fixture::new();
    let mems: Vec<Arc<MemoryStore>> = (0..3).map(|_| Arc::new(MemoryStore::new())).collect();
    let stores: Vec<Arc<dyn LogStore>> = mems.iter().map(|m| m.clone() as _).collect();
    let (seq, logs) = shared(&f, &stores).await;

    // Eight callers per log; the same bytes go to every log, and each log
    // gives them its own index (dedup is per log).
    let mut tasks = Vec::new();
    for (l, log) in logs.iter().enumerate() {
        for t in 0..8u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..25u64 {
                    let e = Bytes::from(format!("caller {t} entry {i}"));
                    let r = log.append(vec![e.clone()], Wait::Durable).await.unwrap();
                    assert!(!r.results[0].duplicate, "log {l}: {e:?} is new in it");
                    got.push((l, r.results[0].index.get(), e));
                }
                got
            }));
        }
    }
    let mut per_log: Vec<Vec<(u64, Bytes)>> = vec![Vec::new(); 3];
    for t in tasks {
        for (l, i, e) in t.await.unwrap() {
            per_log[l].push((i, e));
        }
    }
    for (l, mut got) in per_log.into_iter().enumerate() {
        got.sort();
        let indices: Vec<u64> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(
            indices,
            (0..200).collect::<Vec<_>>(),
            "log {l}: dense indices"
        );
        let order: Vec<Bytes> = got.into_iter().map(|(_, e)| e).collect();
        check_against_reference(&*mems[l], &order);
        // A retry in one log is a duplicate there.
        let again = logs[l]
            .append(vec![order[7].clone()], Wait::Durable)
            .await
            .unwrap();
        assert_eq!(again.results[0].index.get(), 7);
        assert!(again.results[0].duplicate);
    }
    for log in &logs {
        log.shutdown().await;
    }
    seq.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_stops_leaves_the_others_running() {
    let f = Fixture::new();
    let mems: Vec<Arc<MemoryStore>> = (0..2).map(|_| Arc::new(MemoryStore::new())).collect();
    let stores: Vec<Arc<dyn LogStore>> = mems.iter().map(|m| m.clone() as _).collect();
    let (seq, logs) = shared(&f, &stores).await;
    let first = entries("first", 0..5);
    logs[0].append(first.clone(), Wait::Durable).await.unwrap();
    logs[0].shutdown().await;
    assert!(matches!(
        logs[0].append(entries("late", 0..1), Wait::Durable).await,
        Err(LogError::ShuttingDown | LogError::NotSequencing)
    ));
    // The other log still sequences, with checkpoints.
    let second = entries("second", 0..5);
    let r = logs[1]
        .append(second.clone(), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r.proofs.unwrap().0.size.get(), 5);
    check_against_reference(&*mems[0], &first);
    check_against_reference(&*mems[1], &second);
    logs[1].shutdown().await;
    seq.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stops_every_log_of_the_thread() {
    let f = Fixture::new();
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let healthy = Arc::new(MemoryStore::new());
    let stores: Vec<Arc<dyn LogStore>> = vec![healthy.clone(), faulty.clone()];
    let (seq, logs) = shared(&f, &stores).await;
    logs[0]
        .append(entries("ok", 0..3), Wait::Durable)
        .await
        .unwrap();
    faulty.arm(Op::Commit, 0, Fault::Fail);
    let err = logs[1]
        .append(entries("doomed", 0..3), Wait::Durable)
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::RoundFailed { .. }), "{err:?}");
    for log in &logs {
        let mut state = log.state();
        let s = state
            .wait_for(|s| matches!(s, LogState::Failed(_)))
            .await
            .unwrap()
            .clone();
        assert!(matches!(s, LogState::Failed(_)));
        assert!(
            log.append(entries("after", 0..1), Wait::Durable)
                .await
                .is_err()
        );
    }
    // Nothing of the failed round was stored; the earlier round was.
    assert_eq!(faulty.tree_head().unwrap().size.get(), 0);
    assert_eq!(healthy.tree_head().unwrap().size.get(), 3);
    seq.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_joins_only_as_the_member_holding_its_store() {
    let f = Fixture::new();
    let a: Arc<dyn LogStore> = Arc::new(MemoryStore::new());
    let b: Arc<dyn LogStore> = Arc::new(MemoryStore::new());
    let seq = Sequencing::start(Arc::new(EachStore(vec![a.clone()]))).unwrap();
    let journals = std::sync::atomic::AtomicUsize::new(0);
    let signer = || {
        let n = journals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f.signer_at(&f.dir.path().join(format!("signer{n}")))
    };
    let open = |store: Arc<dyn LogStore>, member: usize| {
        Log::builder(store, signer(), f.vkey.clone())
            .config(f.config())
            .sequencing(&seq, member)
            .open()
    };
    let wrong_store = open(b.clone(), 0).await.unwrap_err();
    assert!(
        matches!(&wrong_store, StartupError::Config(m) if m.contains("not the log's store")),
        "{wrong_store}"
    );
    let no_member = open(b, 1).await.unwrap_err();
    assert!(
        matches!(&no_member, StartupError::Config(m) if m.contains("no member 1")),
        "{no_member}"
    );
    let log_signer = signer();
    let log = Log::builder(a.clone(), log_signer.clone(), f.vkey.clone())
        .config(f.config())
        .sequencing(&seq, 0)
        .open()
        .await
        .unwrap();
    // A second log on the same store and signer passes every start-up
    // check; only the thread knows the member is taken.
    let twice = Log::builder(a, log_signer.clone(), f.vkey.clone())
        .config(f.config())
        .sequencing(&seq, 0)
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(&twice, StartupError::Config(m) if m.contains("already sequenced")),
        "{twice}"
    );
    log.append(entries("x", 0..2), Wait::Durable).await.unwrap();
    log.shutdown().await;
    seq.shutdown().await;
    // A thread that was shut down takes no new log.
    let late = Log::builder(Arc::new(MemoryStore::new()), signer(), f.vkey.clone())
        .sequencing(&seq, 0)
        .open()
        .await
        .unwrap_err();
    assert!(late.to_string().contains("shut down"), "{late}");
}
