//! The continuous self-audit of a running log: it re-verifies the stored
//! tree while appends go on, finds a flipped byte in an inner node or a
//! changed entry and stops signing with a message that names the record,
//! and continues across restarts where it was.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use support::{Fixture, entries};
use vellum_log::{
    Log, LogConfig, LogError, LogState, SelfAuditConfig, SelfAuditStatus, StartupError, Wait,
};
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_store::memory::MemoryStore;
use vellum_store::{CommitBatch, LogStore, StoreError, TreeHead};

/// Generous: only a broken audit waits this long.
const DEADLINE: Duration = Duration::from_secs(60);

/// A record whose stored bytes rot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rot {
    Entry(u64),
    Node(u8, u64),
}

/// A store whose reads return some records with their first byte flipped:
/// a disk that changed a record in place under a running log (the store's
/// contract has no call that changes a stored record).
struct Rotting {
    inner: MemoryStore,
    rot: Mutex<Vec<Rot>>,
}

impl Rotting {
    fn new() -> Arc<Rotting> {
        Arc::new(Rotting {
            inner: MemoryStore::new(),
            rot: Mutex::new(Vec::new()),
        })
    }
    fn rot(&self, r: Rot) {
        self.rot.lock().unwrap().push(r);
    }
    fn heal(&self) {
        self.rot.lock().unwrap().clear();
    }
    fn rotten(&self, r: Rot) -> bool {
        self.rot.lock().unwrap().contains(&r)
    }
    fn flip(h: &Hash) -> Hash {
        let mut b = *h.as_bytes();
        b[0] ^= 1;
        Hash::from(b)
    }
}

impl LogStore for Rotting {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        self.inner.tree_head()
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let mut v = self.inner.read_nodes(ids)?;
        for (h, id) in v.iter_mut().zip(ids) {
            if self.rotten(Rot::Node(id.level(), id.index())) {
                *h = Rotting::flip(h);
            }
        }
        Ok(v)
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let mut v = self.inner.read_node_range(level, start, count)?;
        for (i, h) in (start..).zip(v.iter_mut()) {
            if self.rotten(Rot::Node(level, i)) {
                *h = Rotting::flip(h);
            }
        }
        Ok(v)
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        let mut v = self.inner.read_entries(start, count)?;
        for (i, e) in (start.get()..).zip(v.iter_mut()) {
            if self.rotten(Rot::Entry(i)) {
                let mut b = e.to_vec();
                b[0] ^= 1;
                *e = Bytes::from(b);
            }
        }
        Ok(v)
    }
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.inner.find_leaves(leaf_hashes)
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.commit(batch)
    }
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        self.inner.put_checkpoint(size, signed_note)
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.inner.latest_checkpoint()
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.inner.checkpoint_at(size)
    }
}

fn audited(f: &Fixture, state: &Path, entries_per_second: u64, pass: Duration) -> LogConfig {
    let mut c = f.config();
    c.self_audit = SelfAuditConfig {
        entries_per_second,
        pass_interval: pass,
        state_file: Some(state.to_path_buf()),
    };
    c
}

fn state_file(f: &Fixture) -> PathBuf {
    f.dir.path().join("self-audit")
}

/// Waits until the self-audit's status meets `cond`, and returns it.
async fn wait_audit(
    log: &Log,
    what: &str,
    cond: impl Fn(&SelfAuditStatus) -> bool,
) -> SelfAuditStatus {
    let mut rx = log.watch_self_audit();
    tokio::time::timeout(DEADLINE, rx.wait_for(|s| cond(s)))
        .await
        .unwrap_or_else(|_| panic!("self-audit: {what} in time; now {:?}", log.self_audit()))
        .unwrap()
        .clone()
}

async fn wait_failed(log: &Log) -> String {
    let mut st = log.state();
    let s = tokio::time::timeout(DEADLINE, st.wait_for(|s| matches!(s, LogState::Failed(_))))
        .await
        .expect("the self-audit stops the log in time")
        .unwrap()
        .clone();
    match s {
        LogState::Failed(m) => m,
        _ => unreachable!(),
    }
}

/// One damaged record in a log whose first pass was clean: the next pass
/// finds it, the log stops signing and refuses appends with the finding,
/// and a restart refuses to open while the record is still bad.
async fn rot_is_found(rot: Rot, says: &str) {
    let f = Fixture::new();
    let store = Rotting::new();
    let config = audited(&f, &state_file(&f), 1_000_000, Duration::from_millis(20));
    let log = f.open_with(store.clone(), config.clone()).await.unwrap();
    log.append(entries("r", 0..100), Wait::Checkpoint)
        .await
        .unwrap();
    let first = wait_audit(&log, "a clean first pass", |s| {
        s.verified_up_to == 100 && s.last_pass_completed_unix.is_some()
    })
    .await;
    assert_eq!(first.failed, None);
    let signed = log.published().unwrap();

    store.rot(rot);
    let m = wait_failed(&log).await;
    assert!(m.contains(says), "{m}");
    assert!(m.contains("stored") || m.contains("hashes to"), "{m}");
    let status = log.self_audit();
    assert_eq!(status.failed.as_deref(), Some(m.as_str()));
    assert!(status.pass > first.pass, "{status:?} {first:?}");

    // Signing stopped: appends are refused with the finding, and nothing
    // newer is published.
    let e = log
        .append(entries("r", 100..101), Wait::Durable)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LogError::Stopped { reason } if reason.contains(says)),
        "{e}"
    );
    assert_eq!(log.published().unwrap(), signed);
    log.shutdown().await;

    // The finding was saved: a start on the same bad store refuses.
    let e = f
        .open_with(store.clone(), config.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StartupError::SelfAudit(m) if m.contains(says)),
        "{e}"
    );
    // Repaired, it opens, and the audit goes on without the finding.
    store.heal();
    let log = f.open_with(store.clone(), config).await.unwrap();
    assert_eq!(log.self_audit().failed, None);
    assert_eq!(*log.state().borrow(), LogState::Running);
    log.append(entries("r", 100..110), Wait::Checkpoint)
        .await
        .unwrap();
    wait_audit(&log, "the repaired log verified", |s| {
        s.verified_up_to == 110
    })
    .await;
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_an_inner_node_stops_signing() {
    // Level 2, index 5: leaves 20..24, far from the right edge.
    rot_is_found(Rot::Node(2, 5), "node (level 2, index 5) is corrupt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_entry_stops_signing() {
    rot_is_found(Rot::Entry(37), "entry 37 is corrupt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_log_is_verified_to_its_size_while_appends_go_on() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let config = audited(&f, &state_file(&f), 20_000, Duration::from_secs(3600));
    let log = f.open_with(store, config).await.unwrap();
    // Appends from two writers while the audit reads behind them.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for round in 0..20u64 {
                    let first = round * 25;
                    log.append(entries(&format!("w{w}"), first..first + 25), Wait::Durable)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let size = log.committed().size.get();
    assert_eq!(size, 1000);
    let s = wait_audit(&log, "the whole log verified", |s| {
        s.verified_up_to == size && s.checkpoints_verified > 0
    })
    .await;
    assert_eq!(s.pass, 1);
    assert_eq!(s.failed, None);
    assert_eq!(*log.state().borrow(), LogState::Running);
    // And it follows the log as it grows.
    log.append(entries("more", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    wait_audit(&log, "the new entries verified", |s| {
        s.verified_up_to == 1010
    })
    .await;
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_survives_a_restart() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let config = audited(&f, &state_file(&f), 50_000, Duration::from_secs(3600));
    let log = f.open_with(store.clone(), config.clone()).await.unwrap();
    log.append(entries("p", 0..300), Wait::Checkpoint)
        .await
        .unwrap();
    let before = wait_audit(&log, "the log verified", |s| {
        s.verified_up_to == 300 && s.last_pass_completed_unix.is_some()
    })
    .await;
    log.shutdown().await;

    // The second start takes up where the first stopped, before it has
    // verified anything.
    let log = f.open_with(store.clone(), config.clone()).await.unwrap();
    let after = log.self_audit();
    assert!(after.enabled);
    assert_eq!(after.pass, before.pass);
    assert_eq!(after.verified_up_to, 300);
    assert_eq!(
        after.last_pass_completed_unix,
        before.last_pass_completed_unix
    );
    log.append(entries("p", 300..350), Wait::Checkpoint)
        .await
        .unwrap();
    let s = wait_audit(&log, "the new entries verified", |s| {
        s.verified_up_to == 350
    })
    .await;
    assert_eq!(s.pass, before.pass);
    log.shutdown().await;

    // Without a state file, or turned off, nothing is resumed or run.
    let mut off = config;
    off.self_audit = SelfAuditConfig::off();
    let log = f.open_with(store, off).await.unwrap();
    assert_eq!(log.self_audit(), SelfAuditStatus::default());
    log.shutdown().await;
}
