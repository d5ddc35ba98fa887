//! Errors of the log. Each maps to one gRPC code, in one place
//! (`vellum-server`); start-up failures have their own enum because each is
//! a reason to refuse to run that an operator must read.

use vellum_merkle::Hash;
use vellum_store::StoreError;

/// Why a log operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Bad input; nothing changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// At capacity; nothing was queued. Retry later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The index, size or leaf does not exist (yet).
    #[error("{0}")]
    NotFound(String),
    /// Valid, but not in the log's current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The log is stopping or has stopped.
    #[error("{0}")]
    Unavailable(String),
    /// The wait asked for did not end in time; sequenced entries stay.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A fault inside the log (storage, signer); the log stops.
    #[error("{0}")]
    Internal(String),
}

impl LogError {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LogError::ResourceExhausted(_)
                | LogError::Unavailable(_)
                | LogError::DeadlineExceeded(_)
        )
    }
}

/// Why the log refused to start. Each of these means the stored state and
/// the signed history disagree, or cannot be read; the log signs nothing.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    /// The root recomputed from the stored right edge is not the stored root.
    #[error(
        "stored tree of size {size} has root {stored}, but its stored nodes give {recomputed}; \
         the store is corrupt (run `vellum fsck`)"
    )]
    RootMismatch {
        /// The stored size.
        size: u64,
        /// The stored root.
        stored: Hash,
        /// The root recomputed from the edge nodes.
        recomputed: Hash,
    },
    /// A signed checkpoint disagrees with the stored tree.
    #[error(
        "the checkpoint signed for size {size} has root {signed}, but the stored tree gives \
         {stored} at that size; the store does not hold the history that was signed"
    )]
    CheckpointMismatch {
        /// The checkpoint size.
        size: u64,
        /// The signed root.
        signed: Hash,
        /// The root computed from the store.
        stored: Hash,
    },
    /// The signer has signed a larger tree than the store holds: the store
    /// is an older copy of the data than the signer's memory (a restored
    /// backup, or a copy taken while the log ran).
    #[error(
        "the signer remembers signing a tree of size {signed}, but the store holds only {stored} \
         entries: the store is an older copy of the data than what was signed (a restored \
         backup?). Refusing to start: continuing would sign a different tree of a size the \
         signer already signed (a fork). Put back the newest copy of the store, or fetch what \
         is missing from a tiles export with `vellum recover --from-tiles`"
    )]
    StoreBehindSigner {
        /// The size the signer signed.
        signed: u64,
        /// The size in the store.
        stored: u64,
    },
    /// The store holds a checkpoint newer than anything the signer remembers.
    #[error(
        "the store holds a checkpoint of size {stored}, but the signer's last signed size is \
         {signed}: the signer has lost its state (or is another signer). Refusing to run. If \
         the data was restored onto a new machine on purpose, `vellum recover` checks it \
         against the witnesses and publications and lets the signer adopt it"
    )]
    SignerBehindStore {
        /// The signer's last signed size (0 if none).
        signed: u64,
        /// The largest checkpoint size in the store.
        stored: u64,
    },
    /// A witness has cosigned a larger tree of this log than the store holds:
    /// the data (and the signer's memory with it) is an older copy.
    #[error(
        "witness {witness} has cosigned a tree of size {witness_size} for this log, but the \
         store holds a signed tree of only size {size}: the data is an older copy than what \
         was published (a restored backup?). Refusing to start: continuing would sign a \
         different tree of a size the witness already cosigned (a fork). Put back the newest \
         copy of the data, or fetch what is missing with `vellum recover --from-tiles`"
    )]
    WitnessAhead {
        /// The witness's name.
        witness: String,
        /// The size the witness cosigned.
        witness_size: u64,
        /// The size of the store's latest signed checkpoint.
        size: u64,
    },
    /// A witness has cosigned another tree of the same size: the stored
    /// history is not the one that was published.
    #[error(
        "witness {witness} has cosigned a different tree of size {size} than the one in the \
         store: the stored history is not the one this log published (a fork). Refusing to \
         start"
    )]
    WitnessForked {
        /// The witness's name.
        witness: String,
        /// The size both hold.
        size: u64,
    },
    /// A stored or signer-held checkpoint does not verify with the log key.
    #[error("checkpoint does not verify with the log key: {0}")]
    BadCheckpoint(String),
    /// The signer could not be reached or answered nonsense.
    #[error("signer: {0}")]
    Signer(String),
}
