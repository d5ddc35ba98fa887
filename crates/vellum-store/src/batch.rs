//! The writes of one sequencing round, and the rules every store checks
//! before applying them.

use std::collections::HashSet;

use bytes::Bytes;
use vellum_merkle::tiles::MAX_ENTRY_SIZE;
use vellum_merkle::{Hash, NodeId, TreeSize};

use crate::StoreError;

/// A tree size and the root at that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: TreeSize,
    /// RFC 6962 root at that size.
    pub root: Hash,
}

impl TreeHead {
    /// The head of the empty tree.
    pub fn empty() -> TreeHead {
        TreeHead {
            size: TreeSize::ZERO,
            root: Hash::empty_root(),
        }
    }
}

/// Everything one sequencing round writes, committed in one atomic, synced
/// write by [`LogStore::commit`](crate::LogStore::commit).
///
/// Built by the sequencer from its in-memory right edge: integration returns
/// its writes as data and the store applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitBatch {
    /// The tree size the batch extends; the commit fails unless it is the
    /// stored size.
    pub old_size: TreeSize,
    /// The tree head after the batch.
    pub new_head: TreeHead,
    /// The new entries: `entries[i]` gets index `old_size + i`.
    pub entries: Vec<Bytes>,
    /// Every node that becomes complete: exactly those with
    /// `old_size < end <= new_size`, level 0 (the leaf hashes) included.
    /// The level-0 nodes also become the dedup records.
    pub nodes: Vec<(NodeId, Hash)>,
}

/// How many complete nodes appear when a tree grows from `old` to `new`
/// leaves: at each level, the complete nodes of the new tree minus those of
/// the old one.
pub fn expected_node_count(old: TreeSize, new: TreeSize) -> u64 {
    (0..64u32)
        .map(|l| (new.get() >> l) - (old.get() >> l))
        .sum()
}

impl CommitBatch {
    /// Checks the structural rules of a batch, which are what makes every
    /// key it writes new: the entries are exactly `old_size..new_size`, and
    /// the nodes exactly those completed by that growth, each once. Together
    /// with the store's compare-and-swap on `old_size`, no key a valid batch
    /// writes can already be stored (dedup records excepted: stores look
    /// those up).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidBatch`] naming the first broken rule.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |m: String| Err(StoreError::InvalidBatch(m));
        let (old, new) = (self.old_size.get(), self.new_head.size.get());
        if old.checked_add(self.entries.len() as u64) != Some(new) {
            return invalid(format!(
                "{} entries do not take the tree from {old} to {new}",
                self.entries.len()
            ));
        }
        if let Some((i, e)) = self
            .entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
        {
            return invalid(format!(
                "entry {} is {} bytes, above the {MAX_ENTRY_SIZE}-byte limit",
                old + i as u64,
                e.len()
            ));
        }
        let expected = expected_node_count(self.old_size, self.new_head.size);
        if self.nodes.len() as u64 != expected {
            return invalid(format!(
                "growing from {old} to {new} completes {expected} nodes, the batch has {}",
                self.nodes.len()
            ));
        }
        let mut seen = HashSet::with_capacity(self.nodes.len());
        for (id, _) in &self.nodes {
            if id.end() <= old || id.end() > new {
                return invalid(format!(
                    "node {id} is not completed by growing from {old} to {new}"
                ));
            }
            if !seen.insert(*id) {
                return invalid(format!("node {id} appears twice"));
            }
        }
        Ok(())
    }

    /// The level-0 nodes: (leaf hash, index) for every new entry.
    pub fn leaves(&self) -> impl Iterator<Item = (&Hash, u64)> {
        self.nodes
            .iter()
            .filter(|(id, _)| id.level() == 0)
            .map(|(id, h)| (h, id.index()))
    }

    /// Checks that no two new entries have the same leaf hash.
    ///
    /// # Errors
    ///
    /// [`StoreError::Immutable`] naming the duplicate.
    pub fn check_unique_leaves(&self) -> Result<(), StoreError> {
        let mut seen = HashSet::with_capacity(self.entries.len());
        for (h, i) in self.leaves() {
            if !seen.insert(h) {
                return Err(StoreError::Immutable(format!(
                    "leaf hash {h} appears twice in one batch (index {i})"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vellum_merkle::{CompactRange, leaf_hash};

    fn batch(old: u64, n: u64) -> CommitBatch {
        let mut edge = CompactRange::new();
        for i in 0..old {
            edge.append(leaf_hash(&i.to_be_bytes()), |_, _| {}).unwrap();
        }
        let mut nodes = Vec::new();
        let mut entries = Vec::new();
        for i in old..old + n {
            let e = Bytes::from(i.to_be_bytes().to_vec());
            edge.append(leaf_hash(&e), |id, h| nodes.push((id, *h)))
                .unwrap();
            entries.push(e);
        }
        CommitBatch {
            old_size: TreeSize::new(old).unwrap(),
            new_head: TreeHead {
                size: edge.size(),
                root: edge.root(),
            },
            entries,
            nodes,
        }
    }

    #[test]
    fn real_batches_are_valid() {
        for old in 0..40 {
            for n in 0..20 {
                let b = batch(old, n);
                b.validate().unwrap();
                assert_eq!(
                    b.nodes.len() as u64,
                    expected_node_count(b.old_size, b.new_head.size)
                );
            }
        }
    }

    #[test]
    fn broken_batches_are_named() {
        let mut b = batch(5, 4);
        b.entries.pop();
        assert!(matches!(b.validate(), Err(StoreError::InvalidBatch(m)) if m.contains("entries")));

        let mut b = batch(5, 4);
        b.nodes.pop();
        assert!(
            matches!(b.validate(), Err(StoreError::InvalidBatch(m)) if m.contains("completes"))
        );

        // An old node re-sent instead of a new one: would overwrite.
        let mut b = batch(5, 4);
        b.nodes[0].0 = NodeId::new(0, 2).unwrap();
        assert!(
            matches!(b.validate(), Err(StoreError::InvalidBatch(m)) if m.contains("not completed"))
        );

        let mut b = batch(5, 4);
        b.nodes[1].0 = b.nodes[0].0;
        assert!(matches!(b.validate(), Err(StoreError::InvalidBatch(m)) if m.contains("twice")));

        let mut b = batch(5, 1);
        b.entries[0] = Bytes::from(vec![0; MAX_ENTRY_SIZE + 1]);
        assert!(matches!(b.validate(), Err(StoreError::InvalidBatch(m)) if m.contains("limit")));
    }
}
