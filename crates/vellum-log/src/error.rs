//! Errors of the log. Each variant names one reason precisely, and says
//! whether retrying can help ([`LogError::is_retryable`]) and whether the
//! log has stopped on a fault ([`LogError::is_fatal`]); `vellum-server`'s
//! `status` module maps each to one gRPC code, in one place. Start-up
//! failures have their own enum because each is a reason to refuse to run
//! that an operator must read.

use std::time::Duration;

use vellum_merkle::{Hash, LeafIndex, RangeError, TreeSize};
use vellum_store::StoreError;

/// Why a log operation failed.
///
/// The messages are part of the API: the gRPC layer sends them as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    // Bad input: nothing changed.
    /// An append with no entries.
    #[error("an append needs at least one entry")]
    NoEntries,
    /// More entries in one append than a call may carry.
    #[error("{count} entries in one call; the limit is {limit}")]
    TooManyEntries {
        /// Entries in the call.
        count: usize,
        /// [`LogConfig::max_entries_per_call`](crate::LogConfig::max_entries_per_call).
        limit: usize,
    },
    /// An entry longer than the log takes; no entry of the call was queued.
    #[error("entry {index} is {len} bytes; the limit is {limit} bytes")]
    EntryTooLarge {
        /// The entry's position in the call.
        index: usize,
        /// Its length.
        len: usize,
        /// [`LogConfig::max_entry_size`](crate::LogConfig::max_entry_size).
        limit: usize,
    },
    /// A page of entries of length 0.
    #[error("count must be at least 1")]
    EmptyPage,
    /// A consistency proof from a larger tree to a smaller one.
    #[error("from size {from} is larger than to size {to}")]
    FromAfterTo {
        /// The requested first size.
        from: u64,
        /// The second size, resolved.
        to: TreeSize,
    },
    /// A number no tree can have (a size above 2^63).
    #[error(transparent)]
    OutOfRange(#[from] RangeError),

    // Not in the log (yet).
    /// A tree size larger than the committed tree.
    #[error("tree size {size} is beyond the log's {committed} entries")]
    SizeBeyondTree {
        /// The requested size.
        size: u64,
        /// The committed tree size.
        committed: TreeSize,
    },
    /// A leaf index at or past the size of the tree it was asked in.
    #[error("index {index} is not in the tree of size {size}")]
    IndexBeyondTree {
        /// The requested index.
        index: u64,
        /// The size of the tree asked about.
        size: TreeSize,
    },
    /// A page of entries starting at or past the committed tree.
    #[error("entry {index} is beyond the log's {committed} entries")]
    EntryBeyondTree {
        /// The requested first entry.
        index: u64,
        /// The committed tree size.
        committed: TreeSize,
    },
    /// No checkpoint was signed for exactly this size.
    #[error("the log signed no checkpoint of size {size}")]
    NoCheckpointAt {
        /// The requested size.
        size: TreeSize,
    },
    /// No entry has this leaf hash.
    #[error("no entry with leaf hash {leaf}")]
    UnknownLeaf {
        /// The leaf hash asked for.
        leaf: Hash,
    },

    // Valid, but not in the log's current state.
    /// The latest checkpoint was asked for before the first was signed.
    #[error("the log has not signed a checkpoint yet")]
    NotSignedYet,
    /// A witnessed wait on a log without witnesses.
    #[error("this log has no witnesses configured; wait for a checkpoint instead")]
    NoWitnesses,
    /// The tree cannot take more leaves (2^63). Stops the log.
    #[error("the log is full: {0}")]
    LogFull(RangeError),

    // Pushback: retry later.
    /// The queue has no room for the call; nothing was queued.
    #[error("the log's queue is full ({limit}); nothing was queued, retry later")]
    QueueFull {
        /// The limit the call would have passed.
        limit: QueueLimit,
        /// How long the log needs to sequence what is queued now, at the
        /// rate it has measured under backlog (`None` before a measurement).
        expected_wait: Option<Duration>,
    },

    // The log is not sequencing.
    /// Shutdown has begun: no new appends.
    #[error("the log is shutting down")]
    ShuttingDown,
    /// The log stopped on a fault (the reason); restart it.
    #[error("the log has stopped: {reason}")]
    Stopped {
        /// Why it stopped.
        reason: String,
    },
    /// The sequencer is gone (after shutdown or a fault).
    #[error("the log is not sequencing")]
    NotSequencing,
    /// The sequencer went away before answering this append: whether its
    /// entries were stored is unknown.
    #[error(
        "the log stopped before answering; whether the entries were stored is unknown: retry \
         (duplicates are detected)"
    )]
    Unanswered,
    /// The round holding this append failed, and stopped the log: whether
    /// its entries were stored is unknown.
    #[error(
        "the log stopped on a storage error while sequencing this request; whether it was stored \
         is unknown: retry (duplicates are detected): {cause}"
    )]
    RoundFailed {
        /// Why the round failed.
        cause: String,
    },
    /// The entries are sequenced, but the log stopped before a checkpoint
    /// covered them.
    #[error(
        "the log stopped before a checkpoint covered the entries (sequenced at {})",
        describe(.sequenced)
    )]
    StoppedBeforeCheckpoint {
        /// The indices the call's entries got.
        sequenced: Vec<LeafIndex>,
    },
    /// No checkpoint covered the entries in time; they stay sequenced.
    #[error(
        "no checkpoint covered the entries within {waited:?}; they are sequenced at {} and \
         durable; ask for their proofs later",
        describe(.sequenced)
    )]
    CheckpointTimeout {
        /// How long the call waited.
        waited: Duration,
        /// The indices the call's entries got.
        sequenced: Vec<LeafIndex>,
    },

    // Faults.
    /// Reading the store failed; the store's error, as it said it.
    #[error(transparent)]
    Read(StoreError),
    /// Writing (or the lookups of a round) failed. Stops the log.
    #[error("{during}: {error}")]
    Storage {
        /// The step that failed.
        during: &'static str,
        /// The store's error.
        error: StoreError,
    },
    /// A broken invariant or a lost task inside the log.
    #[error("{0}")]
    Fatal(String),
}

/// The queue limit an append would have passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueLimit {
    /// `queue_max_entries` entries are waiting.
    Entries(usize),
    /// `queue_max_bytes` bytes are waiting.
    Bytes(usize),
    /// The queued work would take longer than `max_queue_delay`.
    Delay {
        /// Entries waiting.
        queued: usize,
        /// Entries per second the log sequences under backlog.
        rate: u64,
        /// `max_queue_delay`.
        limit: Duration,
    },
}

impl std::fmt::Display for QueueLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueLimit::Entries(n) => write!(f, "{n} entries waiting"),
            QueueLimit::Bytes(n) => write!(f, "{n} bytes waiting"),
            QueueLimit::Delay {
                queued,
                rate,
                limit,
            } => write!(
                f,
                "{queued} entries waiting, about {} ms of work at the {rate} entries/s the log \
                 sequences; the limit is {} ms",
                *queued as u64 * 1000 / (*rate).max(1),
                limit.as_millis()
            ),
        }
    }
}

/// "index 4" or "indices 4..=9", for the messages of a call's entries.
fn describe(indices: &[LeafIndex]) -> String {
    match (indices.first(), indices.last()) {
        (Some(a), Some(b)) if indices.len() > 1 => format!("indices {a}..={b}"),
        (Some(a), _) => format!("index {a}"),
        _ => "no index".into(),
    }
}

impl LogError {
    /// Whether the same call may succeed later, unchanged: pushback, a log
    /// that is stopping or stopped (a restarted one may take it), a wait
    /// that ran out. Bad input, missing data and store faults are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            LogError::QueueFull { .. }
            | LogError::ShuttingDown
            | LogError::Stopped { .. }
            | LogError::NotSequencing
            | LogError::Unanswered
            | LogError::RoundFailed { .. }
            | LogError::StoppedBeforeCheckpoint { .. }
            | LogError::CheckpointTimeout { .. } => true,
            LogError::NoEntries
            | LogError::TooManyEntries { .. }
            | LogError::EntryTooLarge { .. }
            | LogError::EmptyPage
            | LogError::FromAfterTo { .. }
            | LogError::OutOfRange(_)
            | LogError::SizeBeyondTree { .. }
            | LogError::IndexBeyondTree { .. }
            | LogError::EntryBeyondTree { .. }
            | LogError::NoCheckpointAt { .. }
            | LogError::UnknownLeaf { .. }
            | LogError::NotSignedYet
            | LogError::NoWitnesses
            | LogError::LogFull(_)
            | LogError::Read(_)
            | LogError::Storage { .. }
            | LogError::Fatal(_) => false,
        }
    }

    /// Whether the log has stopped (or must stop) on a fault of its own:
    /// storage, a broken invariant, a full tree. An operator restarts it
    /// (and may run `vellum fsck`); an orderly shutdown is not fatal.
    pub fn is_fatal(&self) -> bool {
        match self {
            LogError::Stopped { .. }
            | LogError::RoundFailed { .. }
            | LogError::LogFull(_)
            | LogError::Storage { .. }
            | LogError::Fatal(_) => true,
            LogError::Read(e) => e.is_fatal(),
            _ => false,
        }
    }
}

/// Why the log refused to start. Each of these means the stored state and
/// the signed history disagree, or cannot be read; the log signs nothing.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The self-audit stopped the log on a finding before this start, and
    /// the record it named is still bad (see [`crate::self_audit`]).
    #[error(
        "the self-audit found the stored data corrupt: {0}; refusing to sign over it (repair \
         the store: `vellum fsck` names every bad record)"
    )]
    SelfAudit(String),
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

#[cfg(test)]
mod tests;
