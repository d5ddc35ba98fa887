//! RFC 6962 Merkle tree math for Vellum.
//!
//! Pure computation: no I/O, no async, no storage types. Callers that keep a
//! tree in storage use this crate in three steps: *plan* which node hashes an
//! operation needs, *fetch* them from wherever they live, *assemble* or
//! *verify* with the functions here.
//!
//! * [`hash`]: leaf and node hashing and the [`Hash`] type.
//! * [`ids`]: [`TreeSize`], [`LeafIndex`], [`NodeId`], checked newtypes.
//! * [`compact`]: [`CompactRange`], the right edge of a growing tree.
//! * [`proof`]: inclusion and consistency proofs: plan, assemble, verify.
//! * [`tiles`]: C2SP tlog-tiles coordinates and byte formats.
//!
//! ```
//! use vellum_merkle::{CompactRange, LeafIndex, TreeSize, leaf_hash, proof};
//! use std::collections::HashMap;
//!
//! // Grow a tree, keeping every complete node as storage would.
//! let mut edge = CompactRange::new();
//! let mut stored = HashMap::new();
//! for entry in ["a", "b", "c", "d", "e"] {
//!     edge.append(leaf_hash(entry.as_bytes()), |id, h| { stored.insert(id, *h); })?;
//! }
//! let root = edge.root();
//!
//! // Prove that "c" is leaf 2: plan, fetch, assemble.
//! let (index, size) = (LeafIndex::new(2)?, TreeSize::new(5)?);
//! let plan = proof::plan_inclusion(index, size)?;
//! let hashes: Vec<_> = plan.nodes().iter().map(|id| stored[id]).collect();
//! let path = plan.assemble(&hashes)?;
//!
//! // Anyone holding the root can check it.
//! proof::verify_inclusion(&leaf_hash(b"c"), index, size, &path, &root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// STYLE.md: `unwrap()` is fine in tests; the workspace lint is for the rest.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compact;
pub mod hash;
pub mod ids;
pub mod proof;
pub mod tiles;

#[cfg(any(test, feature = "testonly"))]
pub mod testonly;

pub use compact::CompactRange;
pub use hash::{HASH_LEN, Hash, leaf_hash, node_hash};
pub use ids::{LeafIndex, MAX_TREE_SIZE, NodeId, RangeError, TreeSize};
pub use proof::{ConsistencyError, InclusionError};
