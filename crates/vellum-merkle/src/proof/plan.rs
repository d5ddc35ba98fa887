//! Which complete nodes a proof needs.
//!
//! Both proofs are the same walk. Take a complete node `seed` (a leaf for an
//! inclusion proof; the last node of the old tree's edge for a consistency
//! proof) in a tree of `size` leaves, and the node holding the last leaf at
//! the seed's level. Their paths to the root meet at the *fork*, `inner`
//! levels above the seed. The proof is, bottom up:
//!
//! * the siblings of the seed's path below the fork's child level: complete,
//!   stored nodes;
//! * the sibling at the level just below the fork: the subtree holding the
//!   last leaf, possibly incomplete, so planned as the complete nodes that
//!   tile it and folded at assembly;
//! * above the fork the path runs along the right edge of the tree: each time
//!   it is a right child, its left sibling (complete) is in the proof; when it
//!   is a left child with nothing to its right, RFC 6962 promotes it and the
//!   proof has nothing for that level.

use std::ops::Range;

use super::{AssembleError, ConsistencyError, InclusionError};
use crate::compact::{fold_right, subtree_nodes};
use crate::hash::Hash;
use crate::ids::{LeafIndex, NodeId, TreeSize};

/// The nodes to fetch for one proof, and how to assemble their hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    nodes: Vec<NodeId>,
    // INVARIANT: ephemeral is within 0..=nodes.len(); the nodes in it tile
    // one incomplete subtree, largest first, and fold into one proof hash.
    // An empty range means the proof has no ephemeral hash.
    ephemeral: Range<usize>,
}

impl ProofPlan {
    /// The complete nodes whose hashes the proof needs, in the order
    /// [`assemble`](Self::assemble) wants them. No node appears twice.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        let folded = self.ephemeral.len().saturating_sub(1);
        self.nodes.len() - folded
    }

    /// Builds the proof from the hashes of [`nodes`](Self::nodes), given in the
    /// same order.
    ///
    /// # Errors
    ///
    /// [`AssembleError`] when the number of hashes differs from the plan.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, AssembleError> {
        if hashes.len() != self.nodes.len() {
            return Err(AssembleError {
                expected: self.nodes.len(),
                got: hashes.len(),
            });
        }
        if self.ephemeral.is_empty() {
            return Ok(hashes.to_vec());
        }
        let mut proof = Vec::with_capacity(self.proof_len());
        proof.extend_from_slice(&hashes[..self.ephemeral.start]);
        proof.push(fold_right(&hashes[self.ephemeral.clone()]));
        proof.extend_from_slice(&hashes[self.ephemeral.end..]);
        Ok(proof)
    }
}

/// Plans the inclusion proof of leaf `index` in a tree of `size` leaves.
///
/// # Errors
///
/// [`InclusionError::IndexOutOfRange`] when `index >= size`.
pub fn plan_inclusion(index: LeafIndex, size: TreeSize) -> Result<ProofPlan, InclusionError> {
    if !size.contains(index) {
        return Err(InclusionError::IndexOutOfRange {
            index: index.get(),
            size: size.get(),
        });
    }
    let mut plan = ProofPlan {
        nodes: Vec::new(),
        ephemeral: 0..0,
    };
    walk(index.node(), size.get(), &mut plan);
    Ok(plan)
}

/// Plans the consistency proof from a tree of `size1` leaves to one of
/// `size2`. The proof is empty when `size1` is 0 or equal to `size2`.
///
/// # Errors
///
/// [`ConsistencyError::SizesOutOfOrder`] when `size1 > size2`.
pub fn plan_consistency(size1: TreeSize, size2: TreeSize) -> Result<ProofPlan, ConsistencyError> {
    if size1 > size2 {
        return Err(ConsistencyError::SizesOutOfOrder {
            size1: size1.get(),
            size2: size2.get(),
        });
    }
    let mut plan = ProofPlan {
        nodes: Vec::new(),
        ephemeral: 0..0,
    };
    if size1.is_empty() || size1 == size2 {
        return Ok(plan);
    }
    let seed = consistency_seed(size1.get());
    // When the old tree is a perfect tree its root is the seed, which the
    // verifier already holds as the old root: RFC 6962 leaves it out.
    if seed.index() != 0 {
        plan.nodes.push(seed);
    }
    walk(seed, size2.get(), &mut plan);
    Ok(plan)
}

/// The number of hashes in the inclusion proof of `index` in `size`, without
/// planning it. `index < size` is the caller's to check.
pub(crate) fn inclusion_len(index: u64, size: u64) -> usize {
    walk_len(index, size - 1)
}

/// The number of hashes in the consistency proof from `size1` to `size2`,
/// `0 < size1 < size2`.
pub(crate) fn consistency_len(size1: u64, size2: u64) -> usize {
    let seed = consistency_seed(size1);
    let last = (size2 - 1) >> seed.level();
    usize::from(seed.index() != 0) + walk_len(seed.index(), last)
}

/// The last (smallest, rightmost) node of the edge of a tree of `size > 0`.
fn consistency_seed(size: u64) -> NodeId {
    let level = size.trailing_zeros() as u8;
    NodeId::new_unchecked(level, (size >> level) - 1)
}

/// Proof length for a seed at position `idx` of its level when the last leaf
/// is at position `last` of that level.
fn walk_len(idx: u64, last: u64) -> usize {
    let inner = u64::BITS - (idx ^ last).leading_zeros();
    inner as usize + (last >> inner).count_ones() as usize
}

/// Appends to `plan` the nodes of the proof for complete node `seed` in a tree
/// of `size` leaves (see the module documentation).
fn walk(seed: NodeId, size: u64, plan: &mut ProofPlan) {
    let level = seed.level();
    let idx = seed.index();
    let last = (size - 1) >> level;
    // Levels above the seed at which its path and the last leaf's path meet.
    let inner = (u64::BITS - (idx ^ last).leading_zeros()) as u8;

    for j in 0..inner.saturating_sub(1) {
        plan.nodes
            .push(NodeId::new_unchecked(level + j, (idx >> j) ^ 1));
    }
    if inner > 0 {
        // The seed's path is the left child here (idx < last and this is the
        // highest bit where they differ), so the sibling is the subtree that
        // holds the last leaf.
        let l = level + inner - 1;
        let sibling = (idx >> (inner - 1)) | 1;
        let start = plan.nodes.len();
        plan.nodes.extend(subtree_nodes(sibling << l, size));
        plan.ephemeral = start..plan.nodes.len();
    }
    let mut l = level + inner;
    let mut edge = last >> inner;
    while edge != 0 {
        if edge & 1 == 1 {
            plan.nodes.push(NodeId::new_unchecked(l, edge - 1));
        }
        l += 1;
        edge >>= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(plan: &ProofPlan) -> Vec<(u8, u64)> {
        plan.nodes()
            .iter()
            .map(|n| (n.level(), n.index()))
            .collect()
    }

    fn size(n: u64) -> TreeSize {
        TreeSize::new(n).unwrap()
    }

    fn index(n: u64) -> LeafIndex {
        LeafIndex::new(n).unwrap()
    }

    #[test]
    fn inclusion_plans_by_hand() {
        // RFC 6962 section 2.1.3 example tree of 7 leaves, leaf d (index 3):
        // path is [c, g(a,b), h(e,f,j)] where the last is node (1, 2) + leaf 6.
        let p = plan_inclusion(index(3), size(7)).unwrap();
        assert_eq!(ids(&p), vec![(0, 2), (1, 0), (1, 2), (0, 6)]);
        assert_eq!(p.proof_len(), 3);
        // Leaf 6 of 7: only left siblings along the edge.
        let p = plan_inclusion(index(6), size(7)).unwrap();
        assert_eq!(ids(&p), vec![(1, 2), (2, 0)]);
        // A perfect tree: plain siblings.
        let p = plan_inclusion(index(5), size(8)).unwrap();
        assert_eq!(ids(&p), vec![(0, 4), (1, 3), (2, 0)]);
        // The only leaf: empty proof.
        assert!(
            plan_inclusion(index(0), size(1))
                .unwrap()
                .nodes()
                .is_empty()
        );
    }

    #[test]
    fn consistency_plans_by_hand() {
        // RFC 6962 section 2.1.3: PROOF(3, D[7]) = [c, d, g, l]; l = h(e,f,j).
        let p = plan_consistency(size(3), size(7)).unwrap();
        assert_eq!(ids(&p), vec![(0, 2), (0, 3), (1, 0), (1, 2), (0, 6)]);
        assert_eq!(p.proof_len(), 4);
        // PROOF(4, D[7]) = [l] (old tree perfect: its root is left out).
        let p = plan_consistency(size(4), size(7)).unwrap();
        assert_eq!(ids(&p), vec![(1, 2), (0, 6)]);
        assert_eq!(p.proof_len(), 1);
        // PROOF(6, D[7]) = [i, j, k].
        let p = plan_consistency(size(6), size(7)).unwrap();
        assert_eq!(ids(&p), vec![(1, 2), (0, 6), (2, 0)]);
    }

    #[test]
    fn lengths_agree_with_plans() {
        for n in 1..200u64 {
            for i in 0..n {
                let p = plan_inclusion(index(i), size(n)).unwrap();
                assert_eq!(p.proof_len(), inclusion_len(i, n), "inclusion {i} {n}");
            }
            for m in 1..n {
                let p = plan_consistency(size(m), size(n)).unwrap();
                assert_eq!(p.proof_len(), consistency_len(m, n), "consistency {m} {n}");
            }
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        let max = size(crate::MAX_TREE_SIZE);
        let p = plan_inclusion(index(crate::MAX_TREE_SIZE - 1), max).unwrap();
        assert_eq!(p.proof_len(), 63);
        let p = plan_inclusion(index(0), max).unwrap();
        assert_eq!(p.proof_len(), 63);
        let p = plan_consistency(size(crate::MAX_TREE_SIZE - 1), max).unwrap();
        assert_eq!(
            p.proof_len(),
            consistency_len(crate::MAX_TREE_SIZE - 1, crate::MAX_TREE_SIZE)
        );
        assert!(plan_inclusion(index(5), size(5)).is_err());
        assert!(plan_consistency(size(6), size(5)).is_err());
    }

    #[test]
    fn assemble_checks_count() {
        let p = plan_inclusion(index(3), size(7)).unwrap();
        assert_eq!(
            p.assemble(&[Hash::default(); 3]),
            Err(AssembleError {
                expected: 4,
                got: 3
            })
        );
    }
}
