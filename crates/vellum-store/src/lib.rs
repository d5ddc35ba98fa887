//! Storage for a Vellum log: the contract every backend fulfils.
//!
//! A store holds four kinds of data:
//!
//! * **entries**: index -> entry bytes. Write-once.
//! * **nodes**: (level, index) -> hash of every *complete* subtree. Write-once.
//!   Ephemeral right-edge hashes are never stored.
//! * **dedup**: leaf hash -> index, derived from the level-0 nodes. Write-once.
//! * **the tree head** (size, root) and **checkpoints** (size -> signed note).
//!
//! The only way to add entries and nodes is [`LogStore::commit`] of a whole
//! [`CommitBatch`], which is atomic, durable on return, and conditional on
//! the stored size (compare-and-swap). There is no call that updates or
//! deletes an entry, a node or a dedup record, and `commit` refuses a batch
//! that would overwrite one.
//!
//! The trait is synchronous: stores do blocking I/O and async callers run
//! them on a blocking thread. Implementations: [`memory::MemoryStore`] here,
//! the RocksDB backend in `vellum-store-rocksdb`. Both pass the same
//! [`conformance`] suite.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod batch;
mod error;
pub mod memory;

#[cfg(any(test, feature = "testonly"))]
pub mod conformance;
#[cfg(any(test, feature = "testonly"))]
pub mod faulty;

pub use batch::{CommitBatch, TreeHead, expected_node_count};
pub use bytes::Bytes;
pub use error::StoreError;

use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};

/// A log's storage. See the crate documentation for the data model.
///
/// Concurrency: every method may be called from many threads at once. Reads
/// see a state at least as new as the last `commit` that returned `Ok` before
/// the read began, and never a partial batch. Callers serialise `commit`s
/// themselves (one sequencer per log); a store MUST still reject a commit
/// whose `old_size` is stale rather than apply it.
///
/// Errors: [`StoreError::is_fatal`] says whether the store's state may have
/// become unknown to the caller (then the caller stops and reloads through its
/// normal start-up path) or the request was refused and nothing changed.
pub trait LogStore: Send + Sync + 'static {
    /// The committed tree head; [`TreeHead::empty`] for a new store.
    ///
    /// # Errors
    ///
    /// I/O or corruption of the stored head.
    fn tree_head(&self) -> Result<TreeHead, StoreError>;

    /// The hashes of complete nodes, in the order asked.
    ///
    /// # Errors
    ///
    /// MUST return [`StoreError::NotFound`] if any node is not stored (not yet
    /// complete, or beyond the tree); never a made-up hash.
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;

    /// `count` consecutive stored nodes at `level`, from `start`: the hashes
    /// of a tlog tile.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if any of them is not stored.
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError>;

    /// `count` consecutive entries from `start`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if any index is at or beyond the tree size.
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError>;

    /// The index of each leaf hash, if the log holds it: the dedup lookup.
    ///
    /// # Errors
    ///
    /// I/O or corruption.
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError>;

    /// Commits one sequencing round.
    ///
    /// MUST be atomic (after a crash, either all of the batch is stored or
    /// none of it) and durable on `Ok` (synced to stable storage). MUST fail
    /// with [`StoreError::Conflict`] and write nothing when the stored size is
    /// not `batch.old_size`. MUST fail with [`StoreError::InvalidBatch`] or
    /// [`StoreError::Immutable`] and write nothing when the batch breaks the
    /// rules of [`CommitBatch::validate`] or would overwrite a stored entry,
    /// node or dedup record.
    ///
    /// # Errors
    ///
    /// As above; any other error means the outcome is unknown (fatal).
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError>;

    /// Stores a signed checkpoint for `size`, which MUST NOT exceed the stored
    /// tree size. A checkpoint already stored for `size` may only be replaced
    /// by one with the same note text (e.g. the same checkpoint with more
    /// cosignatures). Durable on `Ok`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidBatch`] for a size beyond the tree,
    /// [`StoreError::Immutable`] for another text at a stored size.
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError>;

    /// The stored checkpoint with the largest size, if any.
    ///
    /// # Errors
    ///
    /// I/O or corruption.
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError>;

    /// The checkpoint stored for exactly `size`, if any.
    ///
    /// # Errors
    ///
    /// I/O or corruption.
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError>;

    /// What the storage engine says about its own health, for metrics;
    /// `None` (the default) where it says nothing. Cheap: called on every
    /// scrape.
    fn engine_stats(&self) -> Option<EngineStats> {
        None
    }
}

/// A storage engine's figures that an operator watches: whether writes
/// stall, how much compaction work is pending, how big the log is. Every
/// field is optional: an engine fills what it knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Whether writes are stopped now (a write stall).
    pub write_stopped: Option<bool>,
    /// The rate writes are slowed to, in bytes per second (0: not slowed).
    pub delayed_write_rate: Option<u64>,
    /// Bytes the engine estimates compaction must still rewrite.
    pub pending_compaction_bytes: Option<u64>,
    /// Compactions running now.
    pub running_compactions: Option<u64>,
    /// Bytes of the log's data files on disk.
    pub data_bytes: Option<u64>,
    /// Bytes held in memory, not yet in data files (durable in the
    /// write-ahead log).
    pub memtable_bytes: Option<u64>,
}

/// The note text of a signed note: everything before the blank line that
/// separates it from the signatures (or the whole input if there is none).
/// Two checkpoints with the same text are the same checkpoint.
pub fn note_text(signed_note: &[u8]) -> &[u8] {
    match signed_note.windows(2).rposition(|w| w == b"\n\n") {
        Some(i) => &signed_note[..=i],
        None => signed_note,
    }
}

impl<S: LogStore + ?Sized> LogStore for std::sync::Arc<S> {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        (**self).tree_head()
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        (**self).read_nodes(ids)
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        (**self).read_node_range(level, start, count)
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        (**self).read_entries(start, count)
    }
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        (**self).find_leaves(leaf_hashes)
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        (**self).commit(batch)
    }
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        (**self).put_checkpoint(size, signed_note)
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        (**self).latest_checkpoint()
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        (**self).checkpoint_at(size)
    }
    fn engine_stats(&self) -> Option<EngineStats> {
        (**self).engine_stats()
    }
}

/// Several stores whose rounds are committed together: one sequencing round
/// serving several logs hands each log's [`CommitBatch`] to
/// [`CommitGroup::commit_all`] at once, so that a backend holding those logs
/// in one database can make them durable with one synced write.
///
/// Members are numbered from 0 in the order the group was made with.
pub trait CommitGroup: Send + Sync + 'static {
    /// Commits each `(member, batch)` as [`LogStore::commit`] would commit
    /// `batch` to that member's store: each batch atomic and conditional on
    /// its store's size, all of them durable when this returns `Ok`. A
    /// member appears at most once. Batches of different members need not
    /// be atomic together: a crash may keep some and not others, which is
    /// harmless because nobody has heard of any of them yet.
    ///
    /// # Errors
    ///
    /// As [`LogStore::commit`]; the outcome of every batch is then unknown
    /// and the caller treats the error as fatal for every member.
    fn commit_all(&self, batches: &[(usize, &CommitBatch)]) -> Result<(), StoreError>;

    /// The store of member `member` (`None` past the last): the one its
    /// log reads, and whose batches `commit_all` commits.
    fn member(&self, member: usize) -> Option<std::sync::Arc<dyn LogStore>>;
}

/// A [`CommitGroup`] that commits to each member's store in turn: for stores
/// that share nothing (and for a log on its own, a group of one).
#[derive(Clone)]
pub struct EachStore(pub Vec<std::sync::Arc<dyn LogStore>>);

impl std::fmt::Debug for EachStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EachStore").field(&self.0.len()).finish()
    }
}

impl CommitGroup for EachStore {
    fn commit_all(&self, batches: &[(usize, &CommitBatch)]) -> Result<(), StoreError> {
        for (member, batch) in batches {
            let store = self.0.get(*member).ok_or_else(|| {
                StoreError::InvalidBatch(format!(
                    "member {member} of a group of {} stores",
                    self.0.len()
                ))
            })?;
            store.commit(batch)?;
        }
        Ok(())
    }

    fn member(&self, member: usize) -> Option<std::sync::Arc<dyn LogStore>> {
        self.0.get(member).cloned()
    }
}
