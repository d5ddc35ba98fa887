//! A store that fails on command: the model of what a crash can do to a
//! store, for tests of what the log does when storage fails.
//!
//! # The model
//!
//! A [`FaultyStore`] keeps two states:
//!
//! * the **visible** state: what this process reads back (the wrapped store,
//!   standing for the page cache and the store's memory);
//! * the **durable** state: the writes that reached the disk, in order.
//!
//! Without faults every write goes to both, as the [`LogStore`] contract asks
//! ("durable on `Ok`"). [`FaultyStore::crash`] is the power going out: the
//! old store answers nothing any more (every call fails, as in a process that
//! is gone), and the store a restart finds holds the durable writes only.
//!
//! A write can fail in three ways, and the caller cannot tell them apart:
//! each is an I/O error, whose outcome a correct caller treats as unknown
//! (it stops and reloads through its start-up path).
//!
//! | [`Fault`] | visible now | after [`crash`](FaultyStore::crash) | real-world cause |
//! |---|---|---|---|
//! | [`Fail`](Fault::Fail) | no | no | the write was refused before it began |
//! | [`LandThenFail`](Fault::LandThenFail) | yes | yes | a sync timed out after the data reached the disk |
//! | [`VisibleNotDurable`](Fault::VisibleNotDurable) | yes | no | a failed fsync: the data sits in the page cache only |
//!
//! After a [`VisibleNotDurable`](Fault::VisibleNotDurable) write the store
//! refuses every later write with an I/O error until the crash, as RocksDB
//! does after a failed WAL sync (and PostgreSQL after a failed fsync): a disk
//! keeps its writes in order, so nothing written after the lost write could
//! become durable without it, and a store that said `Ok` to such a write
//! would break the contract. Reads go on answering from the visible state.
//!
//! # Arming
//!
//! [`FaultyStore::arm`] takes the operation ([`Op`]), how many of its calls
//! to let through first (`skip`), and the [`Fault`]. Faults armed for the same
//! operation fire in the order armed: the first one counts its skipped calls
//! down, and the next one starts counting only after it fired. A fault fires
//! at most once. A read can fail ([`Fault::Fail`]) or answer and then fail
//! ([`Fault::LandThenFail`]); it has nothing to lose at a crash, so arming a
//! read with [`Fault::VisibleNotDurable`] panics.
//!
//! # Observing
//!
//! Tests wait for what they need instead of sleeping: [`FaultyStore::calls`]
//! counts the calls of each operation (held, failed and refused ones too),
//! [`FaultyStore::in_flight`] the calls that have begun and not returned, and
//! [`FaultyStore::all_fired`] says whether every armed fault fired.
//! [`FaultyStore::hold`] makes the calls of an operation wait until
//! [`FaultyStore::release`] (or the crash), so a test can act while one is in
//! progress; [`FaultyStore::slow_commits`] makes every commit slower.
//!
//! The durable state is kept as the list of writes made through this
//! wrapper and replayed into a fresh store at the crash, so
//! [`FaultyStore::crash`] needs a wrapped store that started empty.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};

use crate::memory::MemoryStore;
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

impl Op {
    fn index(self) -> usize {
        match self {
            Op::Commit => 0,
            Op::PutCheckpoint => 1,
            Op::Read => 2,
        }
    }
}

/// What the faulty call does. Each returns an I/O error; they differ in
/// what the store holds afterwards (see the [module](self) table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing visible, nothing durable: the call did not happen.
    Fail,
    /// Visible and durable, then an error: the call happened.
    LandThenFail,
    /// Visible to this process, lost at the crash: a failed fsync. Later
    /// writes are refused until the crash. Writes only.
    VisibleNotDurable,
}

/// A write that reached the disk.
#[derive(Debug)]
enum Durable {
    Commit(CommitBatch),
    Checkpoint(TreeSize, Vec<u8>),
}

#[derive(Debug)]
struct Armed {
    op: Op,
    skip: u64,
    fault: Fault,
}

#[derive(Debug, Default)]
struct Counter {
    calls: AtomicU64,
    in_flight: AtomicU64,
}

/// A [`LogStore`] that fails on command and can crash; see the
/// [module](self) documentation for the model.
#[derive(Debug)]
pub struct FaultyStore<S = MemoryStore> {
    visible: S,
    /// The writes that reached the disk, in order. Locked across applying a
    /// write and recording it, so the order is the visible order.
    durable: Mutex<Vec<Durable>>,
    /// Whether `visible` was empty at the start (the durable list is then
    /// the whole durable state).
    started_empty: bool,
    armed: Mutex<VecDeque<Armed>>,
    /// A write was visible but not durable: later writes are refused.
    lost_write: AtomicBool,
    /// Crashed: the old process can do nothing.
    dead: AtomicBool,
    /// Which operations are held, and the wake-up for their waiting calls.
    held: Mutex<[bool; 3]>,
    unheld: Condvar,
    counters: [Counter; 3],
    /// Added to every commit, in nanoseconds (a slow disk).
    commit_delay_nanos: AtomicU64,
}

/// Decrements the in-flight count of a call when it returns.
struct InFlight<'a>(&'a Counter);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread may poison a lock; the state stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn injected(fault: Fault, op: Op) -> StoreError {
    StoreError::Io(format!("injected {fault:?} of {op:?}"))
}

impl<S: LogStore> FaultyStore<S> {
    /// Wraps `inner` (the visible state) with no fault armed. What `inner`
    /// holds already counts as durable only if it is empty: see
    /// [`FaultyStore::crash`].
    pub fn new(inner: S) -> FaultyStore<S> {
        let started_empty = inner.tree_head().is_ok_and(|h| h.size == TreeSize::ZERO)
            && inner.latest_checkpoint().is_ok_and(|c| c.is_none());
        FaultyStore {
            visible: inner,
            durable: Mutex::new(Vec::new()),
            started_empty,
            armed: Mutex::new(VecDeque::new()),
            lost_write: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            held: Mutex::new([false; 3]),
            unheld: Condvar::new(),
            counters: Default::default(),
            commit_delay_nanos: AtomicU64::new(0),
        }
    }

    /// Arms `fault` for a call of `op`: the next `skip` calls of `op` pass,
    /// the one after fails. See the [module](self) docs for the order of
    /// several armed faults.
    ///
    /// # Panics
    ///
    /// On [`Fault::VisibleNotDurable`] for [`Op::Read`]: a read has nothing
    /// to lose at a crash.
    pub fn arm(&self, op: Op, skip: u64, fault: Fault) {
        assert!(
            !(op == Op::Read && fault == Fault::VisibleNotDurable),
            "a read cannot be visible but not durable"
        );
        lock(&self.armed).push_back(Armed { op, skip, fault });
    }

    /// Whether every armed fault has fired.
    pub fn all_fired(&self) -> bool {
        lock(&self.armed).is_empty()
    }

    /// How many calls of `op` were made, whatever their outcome (held calls
    /// count from the moment they arrive).
    pub fn calls(&self, op: Op) -> u64 {
        self.counters[op.index()].calls.load(Ordering::SeqCst)
    }

    /// How many calls of `op` have begun and not returned (held calls
    /// included).
    pub fn in_flight(&self, op: Op) -> u64 {
        self.counters[op.index()].in_flight.load(Ordering::SeqCst)
    }

    /// Makes every call of `op` from now on wait, before it does anything,
    /// until [`FaultyStore::release`] or the crash.
    pub fn hold(&self, op: Op) {
        lock(&self.held)[op.index()] = true;
    }

    /// Lets the held calls of `op` go on, and the later ones through.
    pub fn release(&self, op: Op) {
        lock(&self.held)[op.index()] = false;
        self.unheld.notify_all();
    }

    /// Makes every commit from now on take at least `delay` longer, as on
    /// a slow disk (for tests of overload; zero restores full speed).
    pub fn slow_commits(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.commit_delay_nanos.store(nanos, Ordering::Relaxed);
    }

    /// The visible state: the wrapped store, as this process sees it.
    pub fn inner(&self) -> &S {
        &self.visible
    }

    /// The power goes out. From now on every call of this store fails (held
    /// calls are let go and fail too): the process that used it is gone.
    /// Returns what a restart finds: a fresh `S` holding the durable writes
    /// only, with no fault armed and no call counted.
    ///
    /// # Panics
    ///
    /// If the wrapped store was not empty when wrapped (its earlier contents
    /// are not known to be durable), or if the durable writes do not replay
    /// (a bug of this store).
    pub fn crash(&self) -> FaultyStore<S>
    where
        S: Default,
    {
        assert!(
            self.started_empty,
            "crash() models only writes made through the FaultyStore: wrap an empty store"
        );
        self.dead.store(true, Ordering::SeqCst);
        *lock(&self.held) = [false; 3];
        self.unheld.notify_all();
        let writes = std::mem::take(&mut *lock(&self.durable));
        let restarted = FaultyStore::new(S::default());
        for w in &writes {
            let replayed = match w {
                Durable::Commit(b) => restarted.visible.commit(b),
                Durable::Checkpoint(size, note) => restarted.visible.put_checkpoint(*size, note),
            };
            if let Err(e) = replayed {
                panic!("a durable write does not replay after the crash ({e}): {w:?}");
            }
        }
        *lock(&restarted.durable) = writes;
        restarted
    }

    /// Counts the call, waits while `op` is held, and refuses if the store
    /// crashed meanwhile.
    fn enter(&self, op: Op) -> Result<InFlight<'_>, StoreError> {
        let c = &self.counters[op.index()];
        c.calls.fetch_add(1, Ordering::SeqCst);
        c.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(c);
        let mut held = lock(&self.held);
        while held[op.index()] {
            held = self.unheld.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        drop(held);
        self.alive()?;
        Ok(guard)
    }

    fn alive(&self) -> Result<(), StoreError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(StoreError::Io(
                "the store crashed: the process that used it is gone".into(),
            ));
        }
        Ok(())
    }

    fn take(&self, op: Op) -> Option<Fault> {
        let mut armed = lock(&self.armed);
        let pos = armed.iter().position(|a| a.op == op)?;
        if armed[pos].skip > 0 {
            armed[pos].skip -= 1;
            return None;
        }
        armed.remove(pos).map(|a| a.fault)
    }

    fn read<T>(&self, f: impl FnOnce(&S) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let _call = self.enter(Op::Read)?;
        match self.take(Op::Read) {
            None => f(&self.visible),
            Some(fault @ Fault::Fail) => Err(injected(fault, Op::Read)),
            Some(fault) => {
                let _ = f(&self.visible);
                Err(injected(fault, Op::Read))
            }
        }
    }

    fn write(
        &self,
        op: Op,
        apply: impl FnOnce(&S) -> Result<(), StoreError>,
        record: impl FnOnce() -> Durable,
    ) -> Result<(), StoreError> {
        let _call = self.enter(op)?;
        let mut durable = lock(&self.durable);
        // Again under the lock: a crash takes the durable writes under it.
        self.alive()?;
        if self.lost_write.load(Ordering::SeqCst) {
            return Err(StoreError::Io(format!(
                "{op:?} refused: an earlier write was lost (failed sync); \
                 this store takes no more writes until it restarts"
            )));
        }
        let fault = self.take(op);
        if fault == Some(Fault::Fail) {
            return Err(injected(Fault::Fail, op));
        }
        // The wrapped store's own refusal (conflict, invalid batch) is the
        // answer: nothing landed, whatever was armed.
        apply(&self.visible)?;
        match fault {
            None => {
                durable.push(record());
                Ok(())
            }
            Some(Fault::LandThenFail) => {
                durable.push(record());
                Err(injected(Fault::LandThenFail, op))
            }
            Some(f) => {
                self.lost_write.store(true, Ordering::SeqCst);
                Err(injected(f, op))
            }
        }
    }
}

impl<S: LogStore> LogStore for FaultyStore<S> {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        self.read(|s| s.tree_head())
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.read(|s| s.read_nodes(ids))
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        self.read(|s| s.read_node_range(level, start, count))
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        self.read(|s| s.read_entries(start, count))
    }
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.read(|s| s.find_leaves(leaf_hashes))
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let delay = self.commit_delay_nanos.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_nanos(delay));
        }
        self.write(
            Op::Commit,
            |s| s.commit(batch),
            || Durable::Commit(batch.clone()),
        )
    }
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        self.write(
            Op::PutCheckpoint,
            |s| s.put_checkpoint(size, signed_note),
            || Durable::Checkpoint(size, signed_note.to_vec()),
        )
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.read(|s| s.latest_checkpoint())
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.read(|s| s.checkpoint_at(size))
    }
}

#[cfg(test)]
mod tests;
