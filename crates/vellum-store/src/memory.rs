//! An in-memory store: the reference for the conformance suite and the base
//! of the fault-injecting store. Nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};

use crate::{CommitBatch, LogStore, StoreError, TreeHead, note_text};

/// A [`LogStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug)]
struct Inner {
    head: TreeHead,
    entries: Vec<Bytes>,
    nodes: HashMap<NodeId, Hash>,
    dedup: HashMap<Hash, u64>,
    checkpoints: BTreeMap<u64, Bytes>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            head: TreeHead::empty(),
            entries: Vec::new(),
            nodes: HashMap::new(),
            dedup: HashMap::new(),
            checkpoints: BTreeMap::new(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock means a writer panicked mid-update; the data is
        // plain maps updated only after validation, so reading on is safe.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl LogStore for MemoryStore {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        Ok(self.read().head)
    }

    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let inner = self.read();
        ids.iter()
            .map(|id| {
                inner
                    .nodes
                    .get(id)
                    .copied()
                    .ok_or_else(|| StoreError::NotFound(format!("node {id}")))
            })
            .collect()
    }

    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let inner = self.read();
        (0..count)
            .map(|i| {
                let id = start
                    .checked_add(i)
                    .and_then(|idx| NodeId::new(level, idx).ok())
                    .ok_or_else(|| StoreError::NotFound(format!("node ({level}, {start}+{i})")))?;
                inner
                    .nodes
                    .get(&id)
                    .copied()
                    .ok_or_else(|| StoreError::NotFound(format!("node {id}")))
            })
            .collect()
    }

    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        let inner = self.read();
        let s = start.get();
        let end = s
            .checked_add(count)
            .filter(|e| *e <= inner.entries.len() as u64)
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "entries {s}..{s}+{count} (tree size {})",
                    inner.entries.len()
                ))
            })?;
        Ok(inner.entries[s as usize..end as usize].to_vec())
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        let inner = self.read();
        leaf_hashes
            .iter()
            .map(|h| match inner.dedup.get(h) {
                None => Ok(None),
                Some(i) => LeafIndex::new(*i)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("dedup record for {h}: {e}"))),
            })
            .collect()
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        batch.validate()?;
        batch.check_unique_leaves()?;
        let mut inner = self.write();
        if inner.head.size != batch.old_size {
            return Err(StoreError::Conflict {
                stored: inner.head.size.get(),
                expected: batch.old_size.get(),
            });
        }
        for (h, i) in batch.leaves() {
            if let Some(existing) = inner.dedup.get(h) {
                return Err(StoreError::Immutable(format!(
                    "leaf hash {h} (index {i}) is already stored at index {existing}"
                )));
            }
        }
        // Validation and the size check make every key below new.
        inner.entries.extend(batch.entries.iter().cloned());
        for (id, h) in &batch.nodes {
            inner.nodes.insert(*id, *h);
        }
        for (h, i) in batch.leaves() {
            inner.dedup.insert(*h, i);
        }
        inner.head = batch.new_head;
        Ok(())
    }

    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        let mut inner = self.write();
        if size > inner.head.size {
            return Err(StoreError::InvalidBatch(format!(
                "checkpoint for size {size} but the tree has {} leaves",
                inner.head.size
            )));
        }
        if let Some(old) = inner.checkpoints.get(&size.get())
            && note_text(old) != note_text(signed_note)
        {
            return Err(StoreError::Immutable(format!(
                "a different checkpoint is stored for size {size}"
            )));
        }
        inner
            .checkpoints
            .insert(size.get(), Bytes::copy_from_slice(signed_note));
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        let inner = self.read();
        inner
            .checkpoints
            .last_key_value()
            .map(|(s, n)| {
                TreeSize::new(*s)
                    .map(|s| (s, n.clone()))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .transpose()
    }

    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        Ok(self.read().checkpoints.get(&size.get()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::conformance::run_all(MemoryStore::new);
    }
}
