//! Reads: proofs, checkpoints, entries, leaf lookups, against the log's
//! store through [`reader`], the one home of store-backed proofs.

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, TreeSize};

use crate::error::LogError;
use crate::log::Log;
use crate::publisher::Published;
use crate::reader;

impl Log {
    /// Resolves a requested tree size: 0 means the latest checkpoint (which
    /// is returned too); anything else must not exceed the committed tree.
    ///
    /// # Errors
    ///
    /// [`LogError::NotSignedYet`] when 0 is asked before any checkpoint,
    /// [`LogError::SizeBeyondTree`] for a size beyond the tree.
    pub fn resolve_size(&self, size: u64) -> Result<(TreeSize, Option<Published>), LogError> {
        if size == 0 {
            let p = self.published().ok_or(LogError::NotSignedYet)?;
            return Ok((p.size, Some(p)));
        }
        let committed = self.committed().size;
        if size > committed.get() {
            return Err(LogError::SizeBeyondTree { size, committed });
        }
        // INVARIANT: size <= committed <= MAX_TREE_SIZE.
        let s = TreeSize::new(size)?;
        Ok((s, None))
    }

    /// The inclusion proof of `index` at `size` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::IndexBeyondTree`] for an index not in the tree of that
    /// size.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (size, cp) = self.resolve_size(size)?;
        if index >= size.get() {
            return Err(LogError::IndexBeyondTree { index, size });
        }
        let index = LeafIndex::new(index)?;
        let proof = reader::inclusion(&*self.inner.store, index, size).map_err(LogError::Read)?;
        Ok((size, proof, cp))
    }

    /// The checkpoint signed for exactly `size`, as stored (with whatever
    /// cosignatures it gathered), if the log signed one.
    ///
    /// # Errors
    ///
    /// A storage failure, or an out-of-range size.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<Bytes>, LogError> {
        let size = TreeSize::new(size)?;
        self.inner.store.checkpoint_at(size).map_err(LogError::Read)
    }

    /// The index of a leaf hash, if the log holds it.
    ///
    /// # Errors
    ///
    /// A storage failure.
    pub fn find_leaf(&self, leaf: &Hash) -> Result<Option<LeafIndex>, LogError> {
        let found = self
            .inner
            .store
            .find_leaves(std::slice::from_ref(leaf))
            .map_err(LogError::Read)?;
        Ok(found.into_iter().next().flatten())
    }

    /// The consistency proof from `from` to `to` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::FromAfterTo`] when `from > to`,
    /// [`LogError::SizeBeyondTree`] for sizes beyond the tree.
    pub fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<(TreeSize, TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (to, cp) = self.resolve_size(to)?;
        if from > to.get() {
            return Err(LogError::FromAfterTo { from, to });
        }
        let from = TreeSize::new(from)?;
        let proof = reader::consistency(&*self.inner.store, from, to).map_err(LogError::Read)?;
        Ok((from, to, proof, cp))
    }

    /// Up to `count` entries from `start` (bounded by the page limit and the
    /// end of the committed tree).
    ///
    /// # Errors
    ///
    /// [`LogError::EntryBeyondTree`] when `start` is at or beyond the tree
    /// size, [`LogError::EmptyPage`] for a count of 0.
    pub async fn entries(&self, start: u64, count: u64) -> Result<Vec<Bytes>, LogError> {
        let committed = self.committed().size;
        let size = committed.get();
        if start >= size {
            return Err(LogError::EntryBeyondTree {
                index: start,
                committed,
            });
        }
        if count == 0 {
            return Err(LogError::EmptyPage);
        }
        let count = count
            .min(self.inner.config.max_page as u64)
            .min(size - start);
        let start = LeafIndex::new(start)?;
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.read_entries(start, count))
            .await
            .map_err(|e| LogError::Fatal(e.to_string()))?
            .map_err(LogError::Read)
    }
}
