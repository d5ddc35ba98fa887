//! Proof verification, as RFC 9162 section 2.1.3.2 and 2.1.4.2 describe it,
//! preceded by an exact length check so that a wrong-length proof is named as
//! such rather than as a root mismatch.

use super::plan::{consistency_len, inclusion_len};
use super::{ConsistencyError, InclusionError};
use crate::hash::{Hash, node_hash};
use crate::ids::{LeafIndex, TreeSize};

/// The root that an inclusion proof leads to from `leaf` at `index` in a tree
/// of `size` leaves.
///
/// # Errors
///
/// [`InclusionError::IndexOutOfRange`] or [`InclusionError::WrongLength`].
pub fn root_from_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
) -> Result<Hash, InclusionError> {
    if !size.contains(index) {
        return Err(InclusionError::IndexOutOfRange {
            index: index.get(),
            size: size.get(),
        });
    }
    let expected = inclusion_len(index.get(), size.get());
    if proof.len() != expected {
        return Err(InclusionError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    // `node` is the position of the running hash at the current level, `last`
    // the position of the tree's last node at that level.
    let mut node = index.get();
    let mut last = size.get() - 1;
    let mut hash = *leaf;
    for p in proof {
        if node & 1 == 1 || node == last {
            hash = node_hash(p, &hash);
            // A left child with nothing to its right is promoted unchanged:
            // skip the levels where that happens.
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, p);
        }
        node >>= 1;
        last >>= 1;
    }
    // The length check guarantees the walk reached the root.
    debug_assert_eq!(last, 0);
    Ok(hash)
}

/// Checks that `proof` proves `leaf` is at `index` in the tree of `size`
/// leaves whose root is `root`.
///
/// # Errors
///
/// [`InclusionError::IndexOutOfRange`], [`InclusionError::WrongLength`] or
/// [`InclusionError::RootMismatch`].
pub fn verify_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    let calculated = root_from_inclusion(leaf, index, size, proof)?;
    if calculated != *root {
        return Err(InclusionError::RootMismatch {
            expected: *root,
            calculated,
        });
    }
    Ok(())
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree
/// of `size1` leaves with root `root1`.
///
/// Every tree extends the empty tree (whose root must then be the empty-tree
/// hash), and a tree extends itself only with the same root; both take an
/// empty proof.
///
/// # Errors
///
/// Any [`ConsistencyError`]; [`ConsistencyError::SameSizeDifferentRoots`] is
/// evidence of a fork.
pub fn verify_consistency(
    size1: TreeSize,
    root1: &Hash,
    size2: TreeSize,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), ConsistencyError> {
    let (m, n) = (size1.get(), size2.get());
    if m > n {
        return Err(ConsistencyError::SizesOutOfOrder { size1: m, size2: n });
    }
    let expected = if m == 0 || m == n {
        0
    } else {
        consistency_len(m, n)
    };
    if proof.len() != expected {
        return Err(ConsistencyError::WrongLength {
            size1: m,
            size2: n,
            expected,
            got: proof.len(),
        });
    }
    if m == 0 {
        let empty = Hash::empty_root();
        if *root1 != empty {
            return Err(ConsistencyError::OldRootMismatch {
                expected: *root1,
                calculated: empty,
            });
        }
        if n != 0 {
            return Ok(());
        }
    }
    if m == n {
        if root1 != root2 {
            return Err(ConsistencyError::SameSizeDifferentRoots {
                size: m,
                root1: *root1,
                root2: *root2,
            });
        }
        return Ok(());
    }

    // When the old tree is perfect, its root is the first hash of the walk.
    let mut path = proof.iter();
    let first = if m.is_power_of_two() {
        *root1
    } else {
        // INVARIANT: the length check made the proof non-empty here.
        match path.next() {
            Some(h) => *h,
            None => unreachable!("consistency proof length checked"),
        }
    };
    let mut node = m - 1;
    let mut last = n - 1;
    // Climb to the seed: the old tree's last complete node.
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let (mut old, mut new) = (first, first);
    for c in path {
        if node & 1 == 1 || node == last {
            old = node_hash(c, &old);
            new = node_hash(c, &new);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new = node_hash(&new, c);
        }
        node >>= 1;
        last >>= 1;
    }
    debug_assert_eq!(last, 0);
    if old != *root1 {
        return Err(ConsistencyError::OldRootMismatch {
            expected: *root1,
            calculated: old,
        });
    }
    if new != *root2 {
        return Err(ConsistencyError::NewRootMismatch {
            expected: *root2,
            calculated: new,
        });
    }
    Ok(())
}
