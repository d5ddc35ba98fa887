//! Reads: proofs, checkpoints, entries, leaf lookups, against the log's
//! store through [`reader`], the one home of store-backed proofs.

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, TreeSize};
use vellum_store::StoreError;

use crate::error::LogError;
use crate::log::Log;
use crate::publisher::Published;
use crate::reader;

pub(crate) fn store_err(e: StoreError) -> LogError {
    match e {
        StoreError::NotFound(m) => LogError::NotFound(m),
        e => LogError::Internal(e.to_string()),
    }
}

impl Log {
    /// Resolves a requested tree size: 0 means the latest checkpoint (which
    /// is returned too); anything else must not exceed the committed tree.
    ///
    /// # Errors
    ///
    /// [`LogError::FailedPrecondition`] when 0 is asked before any checkpoint,
    /// [`LogError::NotFound`] for a size beyond the tree.
    pub fn resolve_size(&self, size: u64) -> Result<(TreeSize, Option<Published>), LogError> {
        if size == 0 {
            let p = self.published().ok_or_else(|| {
                LogError::FailedPrecondition("the log has not signed a checkpoint yet".into())
            })?;
            return Ok((p.size, Some(p)));
        }
        let committed = self.committed().size;
        if size > committed.get() {
            return Err(LogError::NotFound(format!(
                "tree size {size} is beyond the log's {committed} entries"
            )));
        }
        // INVARIANT: size <= committed <= MAX_TREE_SIZE.
        let s = TreeSize::new(size).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        Ok((s, None))
    }

    /// The inclusion proof of `index` at `size` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::NotFound`] for an index not in the tree of that size.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (size, cp) = self.resolve_size(size)?;
        if index >= size.get() {
            return Err(LogError::NotFound(format!(
                "index {index} is not in the tree of size {size}"
            )));
        }
        let index = LeafIndex::new(index).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let proof = reader::inclusion(&*self.inner.store, index, size).map_err(store_err)?;
        Ok((size, proof, cp))
    }

    /// The checkpoint signed for exactly `size`, as stored (with whatever
    /// cosignatures it gathered), if the log signed one.
    ///
    /// # Errors
    ///
    /// A storage failure, or an out-of-range size.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<Bytes>, LogError> {
        let size = TreeSize::new(size).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        self.inner.store.checkpoint_at(size).map_err(store_err)
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
            .map_err(store_err)?;
        Ok(found.into_iter().next().flatten())
    }

    /// The consistency proof from `from` to `to` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidArgument`] when `from > to`, [`LogError::NotFound`]
    /// for sizes beyond the tree.
    pub fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<(TreeSize, TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (to, cp) = self.resolve_size(to)?;
        if from > to.get() {
            return Err(LogError::InvalidArgument(format!(
                "from size {from} is larger than to size {to}"
            )));
        }
        let from = TreeSize::new(from).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let proof = reader::consistency(&*self.inner.store, from, to).map_err(store_err)?;
        Ok((from, to, proof, cp))
    }

    /// Up to `count` entries from `start` (bounded by the page limit and the
    /// end of the committed tree).
    ///
    /// # Errors
    ///
    /// [`LogError::NotFound`] when `start` is at or beyond the tree size.
    pub async fn entries(&self, start: u64, count: u64) -> Result<Vec<Bytes>, LogError> {
        let size = self.committed().size.get();
        if start >= size {
            return Err(LogError::NotFound(format!(
                "entry {start} is beyond the log's {size} entries"
            )));
        }
        if count == 0 {
            return Err(LogError::InvalidArgument("count must be at least 1".into()));
        }
        let count = count
            .min(self.inner.config.max_page as u64)
            .min(size - start);
        let start = LeafIndex::new(start).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.read_entries(start, count))
            .await
            .map_err(|e| LogError::Internal(e.to_string()))?
            .map_err(store_err)
    }
}
