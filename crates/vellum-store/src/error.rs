//! Store errors, each either fatal (the caller no longer knows the stored
//! state) or a refusal (nothing changed).

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The stored size is not the size the batch extends: another writer, or
    /// a sequencer whose view is stale. Fatal: the sequencer must reload.
    #[error("store holds a tree of size {stored}, the batch extends size {expected}")]
    Conflict {
        /// The size in the store.
        stored: u64,
        /// The size the batch expected.
        expected: u64,
    },
    /// The write would overwrite an immutable record; nothing was written.
    #[error("refused to overwrite an immutable record: {0}")]
    Immutable(String),
    /// The batch breaks a structural rule; nothing was written.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// What was asked for is not stored.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data fails a check. Fatal: run `vellum fsck`.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The storage engine failed; whether the write landed is unknown. Fatal.
    #[error("storage I/O error: {0}")]
    Io(String),
}

impl StoreError {
    /// Whether the caller can no longer trust its view of the store and must
    /// stop and reload through its normal start-up path.
    ///
    /// Refusals ([`Immutable`](Self::Immutable),
    /// [`InvalidBatch`](Self::InvalidBatch), [`NotFound`](Self::NotFound))
    /// are not fatal to the store, although a sequencer that produced an
    /// invalid batch has a bug and treats it as fatal for itself.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. } | StoreError::Corrupt(_) | StoreError::Io(_)
        )
    }
}
