//! Full offline re-verification of a store: `vellum fsck`.
//!
//! Start-up checks only the right edge (`O(log size)` reads, see
//! [`startup`](crate::startup)): enough to be sure that nothing new is signed
//! on top of a wrong tree, not enough to find a flipped byte in an old entry
//! or an inner node, which would make the log serve proofs that clients
//! reject. This module reads everything, bottom-up, so that every stored
//! hash is checked against data that was itself checked:
//!
//! 1. every entry hashes to its stored leaf hash (node `(0, i)`);
//! 2. every stored node at level `L >= 1` is the hash of its two stored
//!    children, level by level (each child was checked one level below);
//! 3. every leaf hash finds its own index in the dedup index;
//! 4. the root folded from the (now checked) right edge is the stored head's;
//! 5. every stored checkpoint verifies with the log key, is for the size it
//!    is stored under, and has the root of the stored tree at that size.
//!
//! Steps 1 to 3 run a page of leaves at a time ([`check_leaves`]): a page
//! checks its entries, their dedup records, and the nodes whose last leaf
//! it holds, so every node is checked after its children. It only reads,
//! in pages of [`PAGE`], so memory does not grow with the log. The first
//! disagreement stops it with a [`Finding`] that names the record.
//!
//! The running log re-verifies its store with the same checks, paced, in
//! the background: [`self_audit`](crate::self_audit).

use vellum_merkle::compact::root_nodes;
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash, node_hash};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_store::{LogStore, StoreError, TreeHead};

use crate::reader::root_at;

/// Records read per store call.
pub const PAGE: u64 = 4096;

/// What a full check counted, when everything verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsckReport {
    /// The stored tree head.
    pub head: TreeHead,
    /// Entries re-hashed (the tree size).
    pub entries: u64,
    /// Nodes above the leaves recomputed from their children.
    pub nodes: u64,
    /// Dedup records checked (one per entry).
    pub dedup: u64,
    /// Stored checkpoints verified.
    pub checkpoints: u64,
}

/// A disagreement in the stored data: the first one found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    /// The entry does not hash to its stored leaf hash, and the dedup index
    /// agrees with the stored leaf hash: the entry's bytes changed.
    #[error(
        "entry {index} is corrupt: it hashes to {recomputed}, but the stored leaf hash and the \
         dedup index say {stored}"
    )]
    Entry {
        /// The entry's index.
        index: u64,
        /// The stored leaf hash.
        stored: Hash,
        /// The hash of the stored entry.
        recomputed: Hash,
    },
    /// A stored node is not what its children (or, at level 0, its entry)
    /// give.
    #[error(
        "node (level {level}, index {index}) is corrupt: stored {stored}, recomputed {recomputed}"
    )]
    Node {
        /// The node's level.
        level: u8,
        /// The node's index in its level.
        index: u64,
        /// The stored hash.
        stored: Hash,
        /// The hash recomputed from below.
        recomputed: Hash,
    },
    /// The leaf hash of an entry does not lead back to its index.
    #[error("the dedup record of entry {index} (leaf hash {leaf}) is {found:?}, not {index}")]
    Dedup {
        /// The entry's index.
        index: u64,
        /// Its leaf hash.
        leaf: Hash,
        /// What the dedup index holds for it.
        found: Option<u64>,
    },
    /// The stored head's root is not the root of the stored nodes.
    #[error(
        "the stored tree head says size {size} has root {stored}, the entries give {recomputed}"
    )]
    Head {
        /// The stored size.
        size: u64,
        /// The stored root.
        stored: Hash,
        /// The root recomputed from the entries.
        recomputed: Hash,
    },
    /// A stored checkpoint does not verify or does not match the tree.
    #[error("the checkpoint stored for size {size} is bad: {reason}")]
    Checkpoint {
        /// The size it is stored under.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record that must exist below the stored head is missing.
    #[error("a record is missing below the stored tree head: {0}")]
    Missing(String),
}

/// Why the check did not finish with a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FsckError {
    /// The data is corrupt: the first finding.
    #[error(transparent)]
    Corrupt(#[from] Finding),
    /// The store could not be read (I/O); nothing was concluded.
    #[error("cannot read the store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for FsckError {
    fn from(e: StoreError) -> FsckError {
        match e {
            // Below the stored head every record must exist: a hole is a
            // finding, not a read failure.
            StoreError::NotFound(m) => FsckError::Corrupt(Finding::Missing(m)),
            StoreError::Corrupt(m) => FsckError::Corrupt(Finding::Missing(m)),
            e => FsckError::Store(e),
        }
    }
}

/// Which part of the check is running, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Re-hashing entries, recomputing nodes from their children and
    /// checking the dedup index, a page of leaves at a time.
    Tree,
    /// Verifying stored checkpoints.
    Checkpoints,
}

/// Work done so far: `done` of `total` units, where a unit is one leaf
/// (its entry, its dedup record and the nodes it completes) or one
/// checkpoint size looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The running phase.
    pub phase: Phase,
    /// Units done.
    pub done: u64,
    /// Units in the whole check.
    pub total: u64,
}

/// Re-verifies everything `store` holds, as the module docs describe.
/// `progress` is called after each page.
///
/// # Errors
///
/// [`FsckError::Corrupt`] naming the first bad record, or
/// [`FsckError::Store`] if the store could not be read.
pub fn fsck(
    store: &dyn LogStore,
    log_key: &VerifierKey,
    progress: &mut dyn FnMut(Progress),
) -> Result<FsckReport, FsckError> {
    let head = store.tree_head()?;
    let size = head.size.get();
    let total = size + (size + 1);
    let mut done = 0u64;
    let mut report = |phase: Phase, n: u64| {
        done += n;
        progress(Progress { phase, done, total });
    };

    // 1.-3. Entries, nodes and dedup records, a page of leaves at a time:
    // each page checks the nodes its leaves complete, so every node is
    // checked once, after its children.
    let mut nodes = 0;
    let mut start = 0;
    while start < size {
        let end = start + PAGE.min(size - start);
        nodes += check_leaves(store, start, end)?;
        report(Phase::Tree, end - start);
        start = end;
    }

    // 4. The head: every node on the right edge is checked now.
    check_head(store, &head)?;

    // 5. Every stored checkpoint.
    let mut checkpoints = 0;
    let mut s = 0;
    while s <= size {
        let last = (s + PAGE - 1).min(size);
        checkpoints += check_checkpoints(store, log_key, s, last)?;
        report(Phase::Checkpoints, last - s + 1);
        s = last + 1;
    }

    Ok(FsckReport {
        head,
        entries: size,
        nodes,
        dedup: size,
        checkpoints,
    })
}

/// Checks the leaves `from..to` of the stored tree: each entry hashes to
/// its stored leaf hash, each leaf hash leads back to its index in the
/// dedup index, and every stored node above the leaves whose last leaf is
/// in `from..to` (at level `L`, the indices `from >> L .. to >> L`) is the
/// hash of its two stored children, level by level. Returns how many such
/// nodes it checked.
///
/// Called on consecutive ranges from 0 (as [`fsck`] and the self-audit do),
/// every stored node is checked exactly once, and after its children: each
/// stored hash is checked against data that was itself checked. `to` must
/// not exceed the committed size (those records are all stored). The one
/// per-page check that `vellum fsck` and the running log's
/// [`self_audit`](crate::self_audit) share.
///
/// # Errors
///
/// As [`fsck`].
pub fn check_leaves(store: &dyn LogStore, from: u64, to: u64) -> Result<u64, FsckError> {
    if from >= to {
        return Ok(0);
    }
    let count = to - from;
    // Entries against leaf hashes.
    let first = LeafIndex::new(from).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let entries = store.read_entries(first, count)?;
    let leaves = store.read_node_range(0, from, count)?;
    if entries.len() as u64 != count || leaves.len() as u64 != count {
        return Err(Finding::Missing(format!("entries or leaf hashes {from}..{to}")).into());
    }
    for (i, (entry, stored)) in (from..).zip(entries.iter().zip(&leaves)) {
        let recomputed = leaf_hash(entry);
        if recomputed != *stored {
            return Err(blame_leaf(store, i, *stored, recomputed)?.into());
        }
    }
    // Nodes against their children, one level at a time.
    let mut nodes = 0;
    for level in 1..64u8 {
        let (start, end) = (from >> level, to >> level);
        if end == 0 {
            break;
        }
        if start == end {
            continue;
        }
        let n = end - start;
        let stored = store.read_node_range(level, start, n)?;
        let children = store.read_node_range(level - 1, 2 * start, 2 * n)?;
        if stored.len() as u64 != n || children.len() as u64 != 2 * n {
            return Err(Finding::Missing(format!("nodes at level {level}, {start}..{end}")).into());
        }
        for (j, (s, pair)) in (start..).zip(stored.iter().zip(children.chunks_exact(2))) {
            let recomputed = node_hash(&pair[0], &pair[1]);
            if recomputed != *s {
                return Err(Finding::Node {
                    level,
                    index: j,
                    stored: *s,
                    recomputed,
                }
                .into());
            }
        }
        nodes += n;
    }
    // The dedup index: each leaf hash leads to its own index.
    let found = store.find_leaves(&leaves)?;
    for (i, (leaf, f)) in (from..).zip(leaves.iter().zip(found)) {
        let f = f.map(LeafIndex::get);
        if f != Some(i) {
            return Err(Finding::Dedup {
                index: i,
                leaf: *leaf,
                found: f,
            }
            .into());
        }
    }
    Ok(nodes)
}

/// Checks that `head`'s root is the root folded from the stored nodes at
/// its size (those nodes checked by [`check_leaves`] first).
///
/// # Errors
///
/// [`Finding::Head`], or as [`fsck`].
pub fn check_head(store: &dyn LogStore, head: &TreeHead) -> Result<(), FsckError> {
    let recomputed = root_at(store, head.size)?;
    if recomputed != head.root {
        return Err(Finding::Head {
            size: head.size.get(),
            stored: head.root,
            recomputed,
        }
        .into());
    }
    // An empty tree has no edge: its root is the empty hash by definition.
    debug_assert!(head.size.get() > 0 || root_nodes(head.size).is_empty());
    Ok(())
}

/// Verifies every checkpoint stored for a size in `first..=last`: signed
/// with the log key, for the size it is stored under, with the root of the
/// stored tree at that size (whose nodes [`check_leaves`] must have checked
/// up to `last`). Returns how many there were.
///
/// # Errors
///
/// [`Finding::Checkpoint`], or as [`fsck`].
pub fn check_checkpoints(
    store: &dyn LogStore,
    log_key: &VerifierKey,
    first: u64,
    last: u64,
) -> Result<u64, FsckError> {
    let mut checkpoints = 0;
    for cs in first..=last {
        let at = TreeSize::new(cs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Some(note) = store.checkpoint_at(at)? else {
            continue;
        };
        check_checkpoint(store, log_key, at, &note)?;
        checkpoints += 1;
    }
    Ok(checkpoints)
}

/// Entry `index` and its stored leaf hash disagree: which one changed? The
/// dedup index is a third, independent record of the leaf hash.
fn blame_leaf(
    store: &dyn LogStore,
    index: u64,
    stored: Hash,
    recomputed: Hash,
) -> Result<Finding, FsckError> {
    let found = store.find_leaves(&[stored, recomputed])?;
    let points_here = |f: &Option<LeafIndex>| f.map(LeafIndex::get) == Some(index);
    Ok(if points_here(&found[1]) && !points_here(&found[0]) {
        Finding::Node {
            level: 0,
            index,
            stored,
            recomputed,
        }
    } else {
        Finding::Entry {
            index,
            stored,
            recomputed,
        }
    })
}

fn check_checkpoint(
    store: &dyn LogStore,
    log_key: &VerifierKey,
    size: TreeSize,
    note: &[u8],
) -> Result<(), FsckError> {
    let bad = |reason: String| {
        FsckError::Corrupt(Finding::Checkpoint {
            size: size.get(),
            reason,
        })
    };
    let cp = SignedCheckpoint::open(note, log_key, &[])
        .map_err(|e| bad(format!("it does not verify with the log key: {e}")))?;
    let c = cp.checkpoint();
    if c.size() != size {
        return Err(bad(format!("it is a checkpoint for size {}", c.size())));
    }
    let root = root_at(store, size)?;
    if c.root() != root {
        return Err(bad(format!(
            "it signs root {}, the stored tree has {root} at that size",
            c.root()
        )));
    }
    Ok(())
}
