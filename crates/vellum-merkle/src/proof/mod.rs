//! Inclusion and consistency proofs (RFC 6962 section 2.1.1 and 2.1.2, in the
//! verification form of RFC 9162 section 2.1.3.2 and 2.1.4.2).
//!
//! Producing a proof is three steps, so that this crate never touches
//! storage:
//!
//! 1. **plan**: [`plan_inclusion`] / [`plan_consistency`] say which complete
//!    nodes the proof needs;
//! 2. **fetch**: the caller reads those node hashes from wherever it keeps
//!    them;
//! 3. **assemble**: [`ProofPlan::assemble`] turns them into the proof,
//!    folding the nodes of the one ephemeral (incomplete) subtree a proof may
//!    contain.
//!
//! Verification ([`verify_inclusion`], [`verify_consistency`]) is pure and
//! total: it returns a precise error for every bad input and never panics.

mod plan;
mod verify;

pub use plan::{ProofPlan, plan_consistency, plan_inclusion};
pub use verify::{root_from_inclusion, verify_consistency, verify_inclusion};

use crate::hash::Hash;

/// Why an inclusion proof was not produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InclusionError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The size of the tree.
        size: u64,
    },
    /// The proof has the wrong number of hashes for this index and size.
    #[error("an inclusion proof for this index and size has {expected} hashes, got {got}")]
    WrongLength {
        /// The length RFC 6962 gives for this index and size.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// The proof leads to another root.
    #[error("inclusion proof leads to root {calculated}, expected {expected}")]
    RootMismatch {
        /// The root the proof was checked against.
        expected: Hash,
        /// The root the proof and leaf hash lead to.
        calculated: Hash,
    },
}

/// Why a consistency proof was not produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsistencyError {
    /// The old size is larger than the new size: no tree shrinks.
    #[error("old size {size1} is larger than new size {size2}")]
    SizesOutOfOrder {
        /// The old size.
        size1: u64,
        /// The new size.
        size2: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("a consistency proof from size {size1} to {size2} has {expected} hashes, got {got}")]
    WrongLength {
        /// The old size.
        size1: u64,
        /// The new size.
        size2: u64,
        /// The length RFC 6962 gives for these sizes.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// Both trees have the same size but different roots: a fork.
    #[error("two different roots for size {size}: {root1} and {root2}")]
    SameSizeDifferentRoots {
        /// The common size.
        size: u64,
        /// The old root.
        root1: Hash,
        /// The new root.
        root2: Hash,
    },
    /// The proof does not lead to the old root.
    #[error("consistency proof leads to old root {calculated}, expected {expected}")]
    OldRootMismatch {
        /// The old root given.
        expected: Hash,
        /// The old root the proof leads to.
        calculated: Hash,
    },
    /// The proof does not lead to the new root.
    #[error("consistency proof leads to new root {calculated}, expected {expected}")]
    NewRootMismatch {
        /// The new root given.
        expected: Hash,
        /// The new root the proof leads to.
        calculated: Hash,
    },
}

/// The hashes given to [`ProofPlan::assemble`] do not match the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the proof plan needs {expected} node hashes, got {got}")]
pub struct AssembleError {
    /// The number of nodes in the plan.
    pub expected: usize,
    /// The number of hashes given.
    pub got: usize,
}
