//! Why an audit failed: either a verdict on the log (it served something
//! that does not check out) or trouble that kept the audit from finishing.

use vellum_merkle::Hash;
use vellum_merkle::tiles::Tile;

/// Why an audit did not pass. [`AuditError::is_verdict`] tells the two
/// kinds apart: a verdict names the first resource (by its tlog-tiles path)
/// that does not match, and what did not match.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A resource could not be fetched (network, timeouts, server errors
    /// after retries). Trouble, not a verdict.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The log does not serve a resource that its checkpoint requires.
    #[error("{path}: the log answers HTTP {status}, but its checkpoint of size {size} requires it")]
    Missing {
        /// The tlog-tiles path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The checkpoint's size.
        size: u64,
    },
    /// The checkpoint does not verify (log signature, origin, witness quorum).
    #[error("the checkpoint at {url} does not verify: {reason}")]
    Checkpoint {
        /// Where it was fetched.
        url: String,
        /// Why.
        reason: String,
    },
    /// A tile or bundle that is not even well-formed (wrong length, a
    /// bundle that does not split into its width).
    #[error("{path}: {reason}")]
    Malformed {
        /// The tlog-tiles path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry whose leaf hash is not the level-0 tile's hash for it: the
    /// bundle or the tile is wrong.
    #[error(
        "entry {index} ({bundle}, entry {position}) has leaf hash {computed}, but {tile} holds \
         {served} at position {position}"
    )]
    EntryMismatch {
        /// The entry's index in the log.
        index: u64,
        /// The entry bundle (its `Display` is its path).
        bundle: Tile,
        /// The level-0 tile.
        tile: Tile,
        /// The position in both.
        position: usize,
        /// The leaf hash of the entry as served.
        computed: Hash,
        /// The hash the tile holds.
        served: Hash,
    },
    /// A hash in a tile above level 0 that is not the hash of the tile
    /// below it.
    #[error(
        "{path} position {position} (tree node at level {level}, index {index}) holds {served}, \
         but the tiles below it hash to {computed}"
    )]
    TileMismatch {
        /// The tile's path.
        path: String,
        /// The position in the tile.
        position: usize,
        /// The node's tree level.
        level: u8,
        /// The node's index in its level.
        index: u64,
        /// What the tile holds.
        served: Hash,
        /// What the entries give.
        computed: Hash,
    },
    /// A hash that an earlier audit verified has changed.
    #[error(
        "{path} position {position} now holds {now}, but the previous audit verified {before} \
         there: the log rewrote history"
    )]
    Changed {
        /// The tile's path.
        path: String,
        /// The position.
        position: usize,
        /// What was verified before.
        before: Hash,
        /// What is served now.
        now: Hash,
    },
    /// The tree recomputed from every entry does not have the signed root.
    #[error(
        "the tree of size {size} recomputed from the entries has root {computed}, but the \
         signed checkpoint says {signed}"
    )]
    RootMismatch {
        /// The size.
        size: u64,
        /// The root computed.
        computed: Hash,
        /// The root signed.
        signed: Hash,
    },
    /// The log serves a smaller tree than one it signed before.
    #[error(
        "the log now serves a checkpoint of size {now}, smaller than the size {before} it \
         signed before: it rolled back"
    )]
    Rollback {
        /// The size signed before.
        before: u64,
        /// The size served now.
        now: u64,
    },
    /// Two signed roots for the same size.
    #[error("the log signed root {before} for size {size} before, and {now} now: a fork")]
    Fork {
        /// The size.
        size: u64,
        /// The root signed before.
        before: Hash,
        /// The root signed now.
        now: Hash,
    },
    /// The state file cannot be read or written, or belongs to another log.
    #[error("state file {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The audit was set up wrongly (bad URL, policy without the log).
    #[error("{0}")]
    Config(String),
}

impl AuditError {
    /// Whether this is a verdict on the log (what it serves is wrong or
    /// missing), as opposed to trouble that kept the audit from finishing.
    pub fn is_verdict(&self) -> bool {
        !matches!(
            self,
            AuditError::Fetch { .. } | AuditError::State { .. } | AuditError::Config(_)
        )
    }
}
