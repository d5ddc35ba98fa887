//! Integration: growing the tree by one round's entries.
//!
//! Pure: it takes the in-memory right edge and the entries (with their leaf
//! hashes, computed by the callers' tasks in parallel) and returns everything
//! to write as a [`CommitBatch`]. Old leaves are never hashed again: each
//! appended leaf hashes only the nodes it completes.

use bytes::Bytes;
use vellum_merkle::{CompactRange, Hash, RangeError};
use vellum_store::{CommitBatch, TreeHead};

/// Appends `entries` to `edge` and returns the writes that make the growth
/// durable. On error nothing has been appended.
///
/// # Errors
///
/// [`RangeError::Full`] when the tree cannot take that many more leaves.
pub fn integrate(
    edge: &mut CompactRange,
    entries: Vec<(Bytes, Hash)>,
) -> Result<CommitBatch, RangeError> {
    let old_size = edge.size();
    old_size.checked_add(entries.len() as u64)?;
    // A round completes about two nodes per leaf.
    let mut nodes = Vec::with_capacity(entries.len() * 2 + 64);
    let mut bodies = Vec::with_capacity(entries.len());
    for (entry, leaf) in entries {
        edge.append(leaf, |id, h| nodes.push((id, *h)))?;
        bodies.push(entry);
    }
    Ok(CommitBatch {
        old_size,
        new_head: TreeHead {
            size: edge.size(),
            root: edge.root(),
        },
        entries: bodies,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vellum_merkle::leaf_hash;
    use vellum_merkle::testonly::reference;

    #[test]
    fn batches_are_valid_and_match_the_reference() {
        let mut edge = CompactRange::new();
        let mut all = Vec::new();
        for round in 0..30u64 {
            let entries: Vec<(Bytes, Hash)> = (0..round % 7)
                .map(|i| {
                    let e = Bytes::from(format!("r{round} e{i}"));
                    let h = leaf_hash(&e);
                    (e, h)
                })
                .collect();
            all.extend(entries.iter().map(|(e, _)| e.clone()));
            let batch = integrate(&mut edge, entries).unwrap();
            batch.validate().unwrap();
            assert_eq!(batch.new_head.root, reference::root(&all));
        }
    }
}
