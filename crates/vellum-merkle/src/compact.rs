//! The right edge of a tree (a "compact range" over `[0, size)`): the roots of
//! the perfect subtrees that tile the leaves, largest first.
//!
//! This is the only part of the tree a sequencer keeps in memory. Appending a
//! leaf hashes exactly the new complete nodes (one per trailing one-bit of the
//! old size) and hands each to the caller to store; nothing already stored is
//! ever hashed again. The root at the current size is folded from the edge on
//! demand and is never stored: it is ephemeral unless the size is a power of
//! two, in which case it is also the last node handed out.

use crate::hash::{Hash, node_hash};
use crate::ids::{LeafIndex, NodeId, RangeError, TreeSize};

/// The right edge of a tree of `size` leaves.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CompactRange {
    size: TreeSize,
    // INVARIANT: hashes.len() == size.count_ones(); hashes[i] is the root of
    // the i-th node of `root_nodes(size)`.
    hashes: Vec<Hash>,
}

/// Hashes handed to [`CompactRange::from_parts`] that cannot be a right edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tree of size {size} has a right edge of {expected} hashes, got {got}")]
pub struct EdgeLengthError {
    /// The size that was given.
    pub size: TreeSize,
    /// The number of hashes such a tree has on its edge.
    pub expected: usize,
    /// The number of hashes given.
    pub got: usize,
}

impl CompactRange {
    /// The edge of the empty tree.
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// Rebuilds an edge from stored hashes: `hashes[i]` must be the hash of
    /// node `root_nodes(size)[i]`. Used at start-up, so that the cost of
    /// resuming is `O(log size)` whatever the size of the log.
    ///
    /// The hashes are trusted as given: the caller compares
    /// [`root`](Self::root) with its last checkpoint before using the edge.
    ///
    /// # Errors
    ///
    /// [`EdgeLengthError`] when the number of hashes does not match the size.
    pub fn from_parts(size: TreeSize, hashes: Vec<Hash>) -> Result<CompactRange, EdgeLengthError> {
        let expected = size.get().count_ones() as usize;
        if hashes.len() != expected {
            return Err(EdgeLengthError {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The edge hashes, largest subtree first (see [`root_nodes`]).
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash and calls `store` with every node that became
    /// complete, from the leaf itself (level 0) upwards. Returns the leaf's
    /// index.
    ///
    /// # Errors
    ///
    /// [`RangeError::Full`] when the tree already holds 2^63 leaves; nothing
    /// changes and `store` is not called.
    pub fn append(
        &mut self,
        leaf: Hash,
        mut store: impl FnMut(NodeId, &Hash),
    ) -> Result<LeafIndex, RangeError> {
        let index = self.size.next_index()?;
        let mut id = index.node();
        let mut hash = leaf;
        store(id, &hash);
        // Each trailing one-bit of the index is a left sibling on the edge
        // that the new node completes.
        let mut i = index.get();
        while i & 1 == 1 {
            // INVARIANT: a set bit of `i` below the current level means the
            // edge holds a subtree for it (hashes.len() == popcount(size)).
            let Some(left) = self.hashes.pop() else {
                unreachable!("compact range edge shorter than popcount(size)")
            };
            hash = node_hash(&left, &hash);
            i >>= 1;
            id = NodeId::new_unchecked(id.level() + 1, i);
            store(id, &hash);
        }
        self.hashes.push(hash);
        // INVARIANT: next_index succeeded, so size + 1 <= MAX_TREE_SIZE.
        self.size = index.min_tree_size();
        Ok(index)
    }

    /// The root of the tree at its current size (the empty-tree hash when
    /// nothing was appended).
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }
}

/// The complete subtrees that tile `[0, size)`, largest (leftmost) first:
/// what to fetch to rebuild a [`CompactRange`], or to compute the root of an
/// earlier size with [`fold_right`].
pub fn root_nodes(size: TreeSize) -> Vec<NodeId> {
    subtree_nodes(0, size.get())
}

/// Folds the hashes of a subtree decomposition (largest first) into the
/// subtree's RFC 6962 hash, right to left. The empty slice folds to the
/// empty-tree root.
pub fn fold_right(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => Hash::empty_root(),
        Some((last, rest)) => rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)),
    }
}

/// The complete subtrees that tile `[begin, end)`, left to right, where the
/// range is the leaves of one (possibly incomplete) subtree: `begin` is a
/// multiple of a power of two at least `end - begin`. Their hashes fold with
/// [`fold_right`] into `MTH(D[begin:end])`.
pub(crate) fn subtree_nodes(begin: u64, end: u64) -> Vec<NodeId> {
    debug_assert!(begin <= end);
    debug_assert!(begin == 0 || end - begin <= 1u64 << begin.trailing_zeros());
    let mut nodes = Vec::with_capacity((end - begin).count_ones() as usize);
    let mut pos = begin;
    // With the precondition, the tiling follows the one-bits of the length,
    // largest first.
    let mut rest = end - begin;
    while rest != 0 {
        let level = 63 - rest.leading_zeros() as u8;
        nodes.push(NodeId::new_unchecked(level, pos >> level));
        pos += 1 << level;
        rest &= !(1 << level);
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::testonly::reference;

    fn leaves(n: u64) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
    }

    #[test]
    fn append_matches_reference_roots_and_emits_each_complete_node_once() {
        let data = leaves(70);
        let mut edge = CompactRange::new();
        let mut stored = std::collections::BTreeMap::new();
        assert_eq!(edge.root(), Hash::empty_root());
        for (i, d) in data.iter().enumerate() {
            let idx = edge
                .append(leaf_hash(d), |id, h| {
                    assert!(stored.insert(id, *h).is_none(), "{id} emitted twice");
                })
                .unwrap();
            assert_eq!(idx.get(), i as u64);
            let size = i + 1;
            assert_eq!(edge.root(), reference::root(&data[..size]));
            // Every complete node of the current tree has been emitted, with
            // the reference hash, and nothing else.
            let complete: usize = (0..8).map(|l| size >> l).sum();
            assert_eq!(stored.len(), complete);
            for (id, h) in &stored {
                let (b, e) = (id.begin() as usize, id.end() as usize);
                assert_eq!(*h, reference::root(&data[b..e]), "node {id}");
            }
        }
    }

    #[test]
    fn rebuild_from_stored_nodes_continues_identically() {
        let data = leaves(45);
        let mut edge = CompactRange::new();
        let mut stored = std::collections::HashMap::new();
        for d in &data[..29] {
            edge.append(leaf_hash(d), |id, h| {
                stored.insert(id, *h);
            })
            .unwrap();
        }
        let size = edge.size();
        let hashes = root_nodes(size).iter().map(|id| stored[id]).collect();
        let mut resumed = CompactRange::from_parts(size, hashes).unwrap();
        assert_eq!(resumed, edge);
        for d in &data[29..] {
            resumed.append(leaf_hash(d), |_, _| {}).unwrap();
        }
        assert_eq!(resumed.root(), reference::root(&data));
    }

    #[test]
    fn from_parts_checks_length() {
        let size = TreeSize::new(5).unwrap();
        let err = CompactRange::from_parts(size, vec![Hash::default()]).unwrap_err();
        assert_eq!((err.expected, err.got), (2, 1));
    }

    #[test]
    fn root_nodes_tile_the_tree() {
        let ids = root_nodes(TreeSize::new(13).unwrap());
        let spans: Vec<_> = ids
            .iter()
            .map(|n| (n.level(), n.begin(), n.end()))
            .collect();
        assert_eq!(spans, vec![(3, 0, 8), (2, 8, 12), (0, 12, 13)]);
        assert!(root_nodes(TreeSize::ZERO).is_empty());
        let max = root_nodes(TreeSize::new(crate::MAX_TREE_SIZE).unwrap());
        assert_eq!(max, vec![NodeId::new(63, 0).unwrap()]);
    }
}
