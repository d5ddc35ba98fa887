//! Reads: proofs, checkpoints, entries, leaf lookups. Each names the tree it
//! reads with an [`At`]: the latest published checkpoint or a given size,
//! which must not exceed the committed tree. (The wire's "0 means latest"
//! is the gRPC layer's to translate; here a size of 0 is the empty tree.)
//! The store is read through [`reader`], the one home of store-backed
//! proofs.

use bytes::Bytes;
use vellum_merkle::{Hash, LeafIndex, TreeSize};

use crate::error::LogError;
use crate::log::Log;
use crate::publisher::Published;
use crate::reader;

/// Which tree a read is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The tree of the latest published checkpoint (returned with the
    /// answer, so that the caller can verify against it).
    Latest,
    /// The tree of this size; it must not exceed the committed tree.
    Size(TreeSize),
}

impl At {
    /// The size this names, given the latest published checkpoint and the
    /// committed size, and for [`At::Latest`] that checkpoint.
    ///
    /// # Errors
    ///
    /// [`LogError::NotSignedYet`] for the latest before any checkpoint,
    /// [`LogError::SizeBeyondTree`] for a size beyond the committed tree.
    pub fn resolve(
        self,
        published: Option<Published>,
        committed: TreeSize,
    ) -> Result<(TreeSize, Option<Published>), LogError> {
        match self {
            At::Latest => {
                let p = published.ok_or(LogError::NotSignedYet)?;
                Ok((p.size, Some(p)))
            }
            At::Size(size) if size > committed => Err(LogError::SizeBeyondTree {
                size: size.get(),
                committed,
            }),
            At::Size(size) => Ok((size, None)),
        }
    }
}

/// An inclusion proof, and the tree it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf.
    pub index: LeafIndex,
    /// The size of the tree the proof is for.
    pub size: TreeSize,
    /// The proof's hashes.
    pub proof: Vec<Hash>,
    /// With [`At::Latest`]: the checkpoint of that tree.
    pub checkpoint: Option<Published>,
}

/// A consistency proof, and the two trees it links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The smaller tree's size.
    pub from: TreeSize,
    /// The larger tree's size.
    pub to: TreeSize,
    /// The proof's hashes.
    pub proof: Vec<Hash>,
    /// With [`At::Latest`]: the checkpoint of the larger tree.
    pub checkpoint: Option<Published>,
}

/// An entry with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryAndProof {
    /// The entry's bytes.
    pub entry: Bytes,
    /// Its inclusion proof.
    pub inclusion: InclusionProof,
}

impl Log {
    /// The size `at` names in this log, and for [`At::Latest`] its
    /// checkpoint (see [`At::resolve`]).
    ///
    /// # Errors
    ///
    /// [`LogError::NotSignedYet`], [`LogError::SizeBeyondTree`].
    pub fn resolve(&self, at: At) -> Result<(TreeSize, Option<Published>), LogError> {
        at.resolve(self.published(), self.committed().size)
    }

    /// The inclusion proof of `index` in the tree `at` names.
    ///
    /// # Errors
    ///
    /// Those of [`Log::resolve`]; [`LogError::IndexBeyondTree`] for an index
    /// not in that tree.
    pub fn inclusion_proof(&self, index: LeafIndex, at: At) -> Result<InclusionProof, LogError> {
        let (size, checkpoint) = self.resolve(at)?;
        if !size.contains(index) {
            return Err(LogError::IndexBeyondTree {
                index: index.get(),
                size,
            });
        }
        let proof = reader::inclusion(&*self.inner.store, index, size).map_err(LogError::Read)?;
        Ok(InclusionProof {
            index,
            size,
            proof,
            checkpoint,
        })
    }

    /// The consistency proof from `from` to the tree `to` names.
    ///
    /// # Errors
    ///
    /// Those of [`Log::resolve`]; [`LogError::FromAfterTo`] when `from` is
    /// larger than that tree.
    pub fn consistency_proof(&self, from: TreeSize, to: At) -> Result<ConsistencyProof, LogError> {
        let (to, checkpoint) = self.resolve(to)?;
        if from > to {
            return Err(LogError::FromAfterTo {
                from: from.get(),
                to,
            });
        }
        let proof = reader::consistency(&*self.inner.store, from, to).map_err(LogError::Read)?;
        Ok(ConsistencyProof {
            from,
            to,
            proof,
            checkpoint,
        })
    }

    /// A signed checkpoint: the latest published one, or the one signed for
    /// exactly a size, as stored (with whatever cosignatures it gathered).
    ///
    /// # Errors
    ///
    /// [`LogError::NotSignedYet`] for the latest before any checkpoint,
    /// [`LogError::NoCheckpointAt`] for a size the log signed no checkpoint
    /// of, or a storage failure.
    pub fn checkpoint(&self, at: At) -> Result<Bytes, LogError> {
        match at {
            At::Latest => self
                .published()
                .map(|p| p.note)
                .ok_or(LogError::NotSignedYet),
            At::Size(size) => self
                .inner
                .store
                .checkpoint_at(size)
                .map_err(LogError::Read)?
                .ok_or(LogError::NoCheckpointAt { size }),
        }
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

    /// The index of a leaf hash the log holds.
    ///
    /// # Errors
    ///
    /// [`LogError::UnknownLeaf`] when it holds none, or a storage failure.
    pub fn leaf_index(&self, leaf: &Hash) -> Result<LeafIndex, LogError> {
        self.find_leaf(leaf)?
            .ok_or(LogError::UnknownLeaf { leaf: *leaf })
    }

    /// Up to `count` entries from `start` (bounded by the page limit and the
    /// end of the committed tree).
    ///
    /// # Errors
    ///
    /// [`LogError::EntryBeyondTree`] when `start` is at or beyond the tree
    /// size, [`LogError::EmptyPage`] for a count of 0.
    pub async fn entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, LogError> {
        let committed = self.committed().size;
        if !committed.contains(start) {
            return Err(LogError::EntryBeyondTree {
                index: start.get(),
                committed,
            });
        }
        if count == 0 {
            return Err(LogError::EmptyPage);
        }
        let count = count
            .min(self.inner.config.max_page as u64)
            .min(committed.get() - start.get());
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.read_entries(start, count))
            .await
            .map_err(|e| LogError::Fatal(e.to_string()))?
            .map_err(LogError::Read)
    }

    /// The entry at `index` and its inclusion proof in the tree `at` names.
    ///
    /// # Errors
    ///
    /// Those of [`Log::inclusion_proof`], or a storage failure.
    pub async fn entry_and_proof(
        &self,
        index: LeafIndex,
        at: At,
    ) -> Result<EntryAndProof, LogError> {
        let inclusion = self.inclusion_proof(index, at)?;
        let entry = self
            .entries(index, 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| LogError::Fatal("entry missing below the tree size".into()))?;
        Ok(EntryAndProof { entry, inclusion })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(n: u64) -> TreeSize {
        TreeSize::new(n).unwrap()
    }

    fn published(n: u64) -> Published {
        Published {
            size: size(n),
            root: Hash([7; 32]),
            note: Bytes::from(format!("checkpoint {n}")),
        }
    }

    #[test]
    fn latest_is_the_published_checkpoint_and_comes_with_it() {
        let p = published(5);
        assert_eq!(
            At::Latest.resolve(Some(p.clone()), size(9)),
            Ok((size(5), Some(p)))
        );
    }

    #[test]
    fn latest_before_any_checkpoint_is_not_signed_yet() {
        assert_eq!(
            At::Latest.resolve(None, size(9)),
            Err(LogError::NotSignedYet)
        );
    }

    #[test]
    fn a_size_up_to_the_committed_tree_is_itself_without_a_checkpoint() {
        for n in [0, 1, 5, 9] {
            assert_eq!(
                At::Size(size(n)).resolve(Some(published(5)), size(9)),
                Ok((size(n), None)),
                "size {n}"
            );
        }
        // A size needs no checkpoint: committed but unsigned trees are read.
        assert_eq!(
            At::Size(size(3)).resolve(None, size(3)),
            Ok((size(3), None))
        );
    }

    #[test]
    fn zero_is_the_empty_tree_not_the_latest() {
        assert_eq!(
            At::Size(TreeSize::ZERO).resolve(Some(published(5)), size(9)),
            Ok((TreeSize::ZERO, None))
        );
    }

    #[test]
    fn a_size_beyond_the_committed_tree_is_refused_with_both_sizes() {
        let err = At::Size(size(10))
            .resolve(Some(published(5)), size(9))
            .unwrap_err();
        assert_eq!(
            err,
            LogError::SizeBeyondTree {
                size: 10,
                committed: size(9)
            }
        );
        assert_eq!(
            err.to_string(),
            "tree size 10 is beyond the log's 9 entries"
        );
        assert!(!err.is_retryable() && !err.is_fatal());
    }
}
