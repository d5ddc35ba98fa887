//! A store wrapper that injects faults, for tests of what the log does when
//! storage fails.
//!
//! Two kinds of failure matter and look the same to the caller:
//! [`Fault::Fail`] (the write did not happen) and [`Fault::LandThenFail`]
//! (the write happened, but the caller got an error, as when a sync times
//! out after the data reached the disk). A correct caller treats both as
//! "outcome unknown" and reloads.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};

use crate::{CommitBatch, LogStore, StoreError, TreeHead};

/// The operation a fault is armed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`LogStore::commit`].
    Commit,
    /// [`LogStore::put_checkpoint`].
    PutCheckpoint,
    /// Any read.
    Read,
}

/// What the faulty call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Return an I/O error without touching the inner store.
    Fail,
    /// Apply the call to the inner store, then return an I/O error anyway.
    LandThenFail,
}

/// A [`LogStore`] that fails on command.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    armed: Mutex<VecDeque<(Op, Fault)>>,
    /// Added to every commit, in nanoseconds (a slow disk).
    commit_delay_nanos: AtomicU64,
}

impl<S: LogStore> FaultyStore<S> {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: S) -> FaultyStore<S> {
        FaultyStore {
            inner,
            armed: Mutex::new(VecDeque::new()),
            commit_delay_nanos: AtomicU64::new(0),
        }
    }

    /// Makes every commit from now on take at least `delay` longer, as on
    /// a slow disk (for tests of overload; zero restores full speed).
    pub fn slow_commits(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.commit_delay_nanos.store(nanos, Ordering::Relaxed);
    }

    /// Arms `fault` for the next call of `op`. Faults for the same op fire in
    /// the order armed, one per call.
    pub fn arm(&self, op: Op, fault: Fault) {
        self.lock().push_back((op, fault));
    }

    /// Whether every armed fault has fired.
    pub fn all_fired(&self) -> bool {
        self.lock().is_empty()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Op, Fault)>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, op: Op) -> Option<Fault> {
        let mut armed = self.lock();
        let pos = armed.iter().position(|(o, _)| *o == op)?;
        armed.remove(pos).map(|(_, f)| f)
    }

    fn run<T>(&self, op: Op, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self.take(op) {
            None => f(),
            Some(Fault::Fail) => Err(StoreError::Io(format!("injected failure of {op:?}"))),
            Some(Fault::LandThenFail) => {
                let landed = f();
                Err(StoreError::Io(format!(
                    "injected failure of {op:?} after it {}",
                    if landed.is_ok() {
                        "landed"
                    } else {
                        "failed anyway"
                    }
                )))
            }
        }
    }
}

impl<S: LogStore> LogStore for FaultyStore<S> {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        self.run(Op::Read, || self.inner.tree_head())
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.run(Op::Read, || self.inner.read_nodes(ids))
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        self.run(Op::Read, || self.inner.read_node_range(level, start, count))
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        self.run(Op::Read, || self.inner.read_entries(start, count))
    }
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.run(Op::Read, || self.inner.find_leaves(leaf_hashes))
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let delay = self.commit_delay_nanos.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_nanos(delay));
        }
        self.run(Op::Commit, || self.inner.commit(batch))
    }
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        self.run(Op::PutCheckpoint, || {
            self.inner.put_checkpoint(size, signed_note)
        })
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.run(Op::Read, || self.inner.latest_checkpoint())
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.run(Op::Read, || self.inner.checkpoint_at(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{Builder, entries};
    use crate::memory::MemoryStore;

    #[test]
    fn passes_conformance_when_unarmed() {
        crate::conformance::run_all(|| FaultyStore::new(MemoryStore::new()));
    }

    #[test]
    fn faults_fire_once_with_the_right_effect() {
        let s = FaultyStore::new(MemoryStore::new());
        let mut b = Builder::new();
        let first = b.batch(&entries("f", 0..3));
        s.arm(Op::Commit, Fault::Fail);
        assert!(matches!(s.commit(&first), Err(StoreError::Io(_))));
        assert_eq!(s.tree_head().unwrap().size.get(), 0, "Fail must not land");
        s.arm(Op::Commit, Fault::LandThenFail);
        assert!(matches!(s.commit(&first), Err(StoreError::Io(_))));
        assert_eq!(
            s.tree_head().unwrap().size.get(),
            3,
            "LandThenFail must land"
        );
        assert!(s.all_fired());
        s.commit(&b.batch(&entries("f", 3..4))).unwrap();
    }
}
