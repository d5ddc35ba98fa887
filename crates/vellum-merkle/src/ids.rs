//! Newtypes for positions in the tree, so that a leaf index, a tree size and
//! a node address cannot be mixed up, and none of them can be out of range.

use std::fmt;

/// The largest tree this crate handles: 2^63 leaves.
///
/// The bound keeps every derived quantity inside a `u64` (the root of a
/// 2^63-leaf tree is node (63, 0); `1 << 63` is representable), and matches
/// the signed 64-bit sizes of the Go reference implementation.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// The number of leaves in a tree. Always `<= MAX_TREE_SIZE`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TreeSize(u64);

/// The zero-based index of a leaf. Always `< MAX_TREE_SIZE`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeafIndex(u64);

/// A position that is outside what the tree can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A tree size above [`MAX_TREE_SIZE`].
    #[error("tree size {0} is larger than the maximum 2^63")]
    TreeSize(u64),
    /// A leaf index at or above [`MAX_TREE_SIZE`].
    #[error("leaf index {0} is beyond the largest possible tree (2^63 leaves)")]
    LeafIndex(u64),
    /// A node level above 63 or an index that does not fit that level.
    #[error("node ({level}, {index}) is outside a 2^63-leaf tree")]
    Node {
        /// The level that was given.
        level: u8,
        /// The index that was given.
        index: u64,
    },
    /// Appending would grow the tree past [`MAX_TREE_SIZE`].
    #[error("the tree is full ({MAX_TREE_SIZE} leaves)")]
    Full,
}

impl TreeSize {
    /// The empty tree.
    pub const ZERO: TreeSize = TreeSize(0);

    /// A tree size, checked against [`MAX_TREE_SIZE`].
    ///
    /// # Errors
    ///
    /// [`RangeError::TreeSize`] when `size > MAX_TREE_SIZE`.
    pub const fn new(size: u64) -> Result<TreeSize, RangeError> {
        if size > MAX_TREE_SIZE {
            Err(RangeError::TreeSize(size))
        } else {
            Ok(TreeSize(size))
        }
    }

    /// The size as a plain number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether the tree has no leaves.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `index` names a leaf of a tree of this size.
    pub const fn contains(self, index: LeafIndex) -> bool {
        index.0 < self.0
    }

    /// The index the next appended leaf gets.
    ///
    /// # Errors
    ///
    /// [`RangeError::Full`] when the tree already has [`MAX_TREE_SIZE`] leaves.
    pub const fn next_index(self) -> Result<LeafIndex, RangeError> {
        if self.0 >= MAX_TREE_SIZE {
            Err(RangeError::Full)
        } else {
            Ok(LeafIndex(self.0))
        }
    }

    /// The size after `n` more leaves.
    ///
    /// # Errors
    ///
    /// [`RangeError::Full`] when that would exceed [`MAX_TREE_SIZE`].
    pub const fn checked_add(self, n: u64) -> Result<TreeSize, RangeError> {
        match self.0.checked_add(n) {
            Some(s) if s <= MAX_TREE_SIZE => Ok(TreeSize(s)),
            _ => Err(RangeError::Full),
        }
    }
}

impl LeafIndex {
    /// A leaf index, checked against [`MAX_TREE_SIZE`].
    ///
    /// # Errors
    ///
    /// [`RangeError::LeafIndex`] when `index >= MAX_TREE_SIZE`.
    pub const fn new(index: u64) -> Result<LeafIndex, RangeError> {
        if index >= MAX_TREE_SIZE {
            Err(RangeError::LeafIndex(index))
        } else {
            Ok(LeafIndex(index))
        }
    }

    /// The index as a plain number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The smallest tree that contains this leaf.
    pub const fn min_tree_size(self) -> TreeSize {
        // INVARIANT: self.0 < MAX_TREE_SIZE, so self.0 + 1 <= MAX_TREE_SIZE.
        TreeSize(self.0 + 1)
    }

    /// The node id of this leaf (level 0).
    pub const fn node(self) -> NodeId {
        NodeId {
            level: 0,
            index: self.0,
        }
    }
}

impl fmt::Debug for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeSize({})", self.0)
    }
}
impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Debug for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeafIndex({})", self.0)
    }
}
impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The address of a complete subtree: the node at `level` (0 for leaves)
/// covering leaves `[index << level, (index + 1) << level)`.
///
/// Only complete (perfect) subtrees have ids. The "ephemeral" nodes on the
/// right edge of a tree whose size is not a power of two have none: their
/// hashes change as the tree grows, so they are never stored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    level: u8,
    index: u64,
}

impl NodeId {
    /// A node id, checked so that the subtree lies inside a 2^63-leaf tree.
    ///
    /// # Errors
    ///
    /// [`RangeError::Node`] when `level > 63` or the subtree would end past
    /// [`MAX_TREE_SIZE`].
    pub const fn new(level: u8, index: u64) -> Result<NodeId, RangeError> {
        // The subtree ends at (index + 1) << level; it must be <= 2^63, i.e.
        // index < 2^(63 - level).
        if level > 63 || index >= (1u64 << (63 - level)) {
            Err(RangeError::Node { level, index })
        } else {
            Ok(NodeId { level, index })
        }
    }

    /// Builds an id the caller has already proven to be in range.
    pub(crate) const fn new_unchecked(level: u8, index: u64) -> NodeId {
        debug_assert!(level <= 63 && index < (1u64 << (63 - level)));
        NodeId { level, index }
    }

    /// Height above the leaves (0 for a leaf).
    pub const fn level(self) -> u8 {
        self.level
    }

    /// Position among the nodes of the same level, from the left.
    pub const fn index(self) -> u64 {
        self.index
    }

    /// First leaf covered.
    pub const fn begin(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf covered.
    pub const fn end(self) -> u64 {
        // INVARIANT: (index + 1) << level <= 2^63 by construction.
        (self.index + 1) << self.level
    }

    /// Whether the subtree is complete in a tree of `size` leaves.
    pub const fn is_complete_in(self, size: TreeSize) -> bool {
        self.end() <= size.get()
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({}, {})", self.level, self.index)
    }
}
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.level, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(TreeSize::new(MAX_TREE_SIZE).is_ok());
        assert_eq!(
            TreeSize::new(MAX_TREE_SIZE + 1),
            Err(RangeError::TreeSize(MAX_TREE_SIZE + 1))
        );
        assert!(LeafIndex::new(MAX_TREE_SIZE - 1).is_ok());
        assert!(LeafIndex::new(MAX_TREE_SIZE).is_err());
        assert!(LeafIndex::new(u64::MAX).is_err());
        assert!(NodeId::new(63, 0).is_ok());
        assert!(NodeId::new(63, 1).is_err());
        assert!(NodeId::new(64, 0).is_err());
        assert!(NodeId::new(0, MAX_TREE_SIZE - 1).is_ok());
        assert!(NodeId::new(0, MAX_TREE_SIZE).is_err());
        assert_eq!(
            TreeSize::new(MAX_TREE_SIZE).unwrap().next_index(),
            Err(RangeError::Full)
        );
        assert_eq!(TreeSize::ZERO.checked_add(u64::MAX), Err(RangeError::Full));
    }

    #[test]
    fn coverage() {
        let n = NodeId::new(3, 5).unwrap();
        assert_eq!((n.begin(), n.end()), (40, 48));
        assert!(n.is_complete_in(TreeSize::new(48).unwrap()));
        assert!(!n.is_complete_in(TreeSize::new(47).unwrap()));
        let top = NodeId::new(63, 0).unwrap();
        assert_eq!(top.end(), MAX_TREE_SIZE);
    }
}
