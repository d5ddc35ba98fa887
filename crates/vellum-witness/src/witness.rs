//! The tlog-witness `add-checkpoint` logic, without HTTP.
//!
//! Checks, in the order the specification gives them, each with its status:
//!
//! | check | refusal | status |
//! |---|---|---|
//! | body within [`MAX_BODY_SIZE`] | [`AddCheckpointError::Malformed`] (`TooLarge`) | 413 |
//! | body well formed | [`AddCheckpointError::Malformed`] | 400 |
//! | origin trusted | [`AddCheckpointError::UnknownOrigin`] | 404 |
//! | a valid signature by the origin's key | [`AddCheckpointError::NotSigned`] | 403 |
//! | old size <= checkpoint size | [`AddCheckpointError::OldSizeBeyondCheckpoint`] | 400 |
//! | old size == latest cosigned size | [`AddCheckpointError::SizeConflict`] | 409 |
//! | same size => same root | [`AddCheckpointError::RootConflict`] | 409 |
//! | consistency proof verifies | [`AddCheckpointError::InconsistentProof`] | 422 |
//! | state persisted | [`AddCheckpointError::State`] | 500 / 503 |
//!
//! Everything from the comparison with the stored size to the reply happens
//! under the origin's lock (see [`crate::state`]), so two racing requests
//! from the same old size cannot both be cosigned.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use vellum_merkle::{ConsistencyError, Hash, proof::verify_consistency};
use vellum_note::{
    CosignatureError, CosignatureVerifier, CosignerKey, Note, NoteError, NoteVerifier,
};

use crate::config::TrustedLogs;
use crate::request::{AddCheckpointRequest, MAX_BODY_SIZE, RequestError};
use crate::state::{StateError, StoredCheckpoint, WitnessState};

/// A source of the current time, in POSIX seconds; `None` when the clock
/// cannot say (set before 1970, or beyond 2^63-1).
pub type Clock = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// Why a checkpoint was not cosigned. [`AddCheckpointError::status`] gives
/// the HTTP status tlog-witness prescribes.
#[derive(Debug, thiserror::Error)]
pub enum AddCheckpointError {
    /// The body is malformed (400) or too large (413).
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(#[from] RequestError),
    /// The checkpoint's origin is not a log this witness trusts (404).
    #[error("unknown log origin {origin:?}: this witness does not witness that log")]
    UnknownOrigin {
        /// The origin as claimed.
        origin: String,
    },
    /// No valid signature by the origin's trusted key (403).
    #[error("the checkpoint for {origin:?} is not validly signed by the log's key {key}: {reason}")]
    NotSigned {
        /// The origin.
        origin: String,
        /// The trusted key, `<name>+<id>`.
        key: String,
        /// Why the note did not verify.
        reason: NoteError,
    },
    /// The old size is beyond the checkpoint's size (400).
    #[error("the old size {old} is larger than the checkpoint size {size}")]
    OldSizeBeyondCheckpoint {
        /// The old size.
        old: u64,
        /// The checkpoint size.
        size: u64,
    },
    /// The old size is not the latest size this witness cosigned (409).
    #[error(
        "the old size {old} is not the size of the latest checkpoint this witness cosigned for {origin:?}, which is {latest}"
    )]
    SizeConflict {
        /// The origin.
        origin: String,
        /// The old size in the request.
        old: u64,
        /// The latest cosigned size.
        latest: u64,
    },
    /// Same size as the latest cosigned checkpoint, different root: a fork
    /// (409).
    #[error(
        "the checkpoint for {origin:?} has size {size}, the size this witness last cosigned, but root {root} instead of {latest_root}: the log forked"
    )]
    RootConflict {
        /// The origin.
        origin: String,
        /// The common size.
        size: u64,
        /// The root cosigned before.
        latest_root: Hash,
        /// The root in the request.
        root: Hash,
    },
    /// The consistency proof does not verify (422).
    #[error(
        "the consistency proof from size {old} to {size} for {origin:?} does not verify: {source}"
    )]
    InconsistentProof {
        /// The origin.
        origin: String,
        /// The old size.
        old: u64,
        /// The checkpoint size.
        size: u64,
        /// What failed.
        source: ConsistencyError,
    },
    /// The state could not be read or written; nothing was cosigned (500,
    /// or 503 when the origin is out of service until a restart).
    #[error("witness state: {0}")]
    State(#[from] StateError),
    /// The cosignature could not be made (500).
    #[error("cosigning failed: {0}")]
    Cosign(#[from] CosignatureError),
    /// The system clock gave no usable time (500).
    #[error("the system clock gives no usable POSIX time")]
    Clock,
}

impl AddCheckpointError {
    /// The HTTP status for this refusal, as tlog-witness prescribes.
    pub fn status(&self) -> u16 {
        match self {
            AddCheckpointError::Malformed(RequestError::TooLarge { .. }) => 413,
            AddCheckpointError::Malformed(_) => 400,
            AddCheckpointError::UnknownOrigin { .. } => 404,
            AddCheckpointError::NotSigned { .. } => 403,
            AddCheckpointError::OldSizeBeyondCheckpoint { .. } => 400,
            AddCheckpointError::SizeConflict { .. } | AddCheckpointError::RootConflict { .. } => {
                409
            }
            AddCheckpointError::InconsistentProof { .. } => 422,
            AddCheckpointError::State(
                StateError::OutOfService { .. } | StateError::Poisoned { .. },
            ) => 503,
            AddCheckpointError::State(_)
            | AddCheckpointError::Cosign(_)
            | AddCheckpointError::Clock => 500,
        }
    }

    /// For a 409, the latest cosigned size: the response body is this size
    /// in decimal and a newline, with type `text/x.tlog.size`.
    pub fn conflict_size(&self) -> Option<u64> {
        match self {
            AddCheckpointError::SizeConflict { latest, .. } => Some(*latest),
            AddCheckpointError::RootConflict { size, .. } => Some(*size),
            _ => None,
        }
    }

    /// Whether this is the witness's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        self.status() >= 500
    }
}

/// A tlog-witness witness: its cosigner key, the logs it trusts, and its
/// durable state.
pub struct Witness {
    key: CosignerKey,
    logs: TrustedLogs,
    state: WitnessState,
    clock: Clock,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("key", &self.key)
            .field("logs", &self.logs)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness signing with `key`, trusting `logs`, keeping its state in
    /// `state_dir` (see [`WitnessState::open`]), using the system clock.
    ///
    /// # Errors
    ///
    /// As [`WitnessState::open`]; a corrupt state file stops the start-up.
    pub fn open(
        key: CosignerKey,
        logs: TrustedLogs,
        state_dir: &Path,
    ) -> Result<Witness, StateError> {
        let state = WitnessState::open(state_dir, logs.origins())?;
        Ok(Witness {
            key,
            logs,
            state,
            clock: Arc::new(system_time),
        })
    }

    /// The same witness with another clock (tests; a clock that must not be
    /// the system's).
    pub fn with_clock(mut self, clock: Clock) -> Witness {
        self.clock = clock;
        self
    }

    /// The witness's name (its key's name).
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The witness's public key.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.key.verifier()
    }

    /// The witness's public key as a vkey.
    pub fn vkey(&self) -> String {
        self.key.verifier().verifier_key().to_string()
    }

    /// The trusted logs.
    pub fn logs(&self) -> &TrustedLogs {
        &self.logs
    }

    /// The durable state, for inspection.
    pub fn state(&self) -> &WitnessState {
        &self.state
    }

    /// Handles one `add-checkpoint` request body; on success returns the
    /// response body: one tlog-cosignature/v1 signature line by this
    /// witness over the checkpoint, timestamped now.
    ///
    /// Blocks on file I/O (fsync): call it from a blocking context.
    ///
    /// # Errors
    ///
    /// An [`AddCheckpointError`]; see the table in the module docs. On any
    /// error the state is unchanged (an `Ambiguous` state error aside, which
    /// takes the origin out of service).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddCheckpointError> {
        if body.len() > MAX_BODY_SIZE {
            return Err(RequestError::TooLarge {
                size: body.len(),
                max: MAX_BODY_SIZE,
            }
            .into());
        }
        let request = AddCheckpointRequest::parse(body)?;
        let origin = request.claimed().origin();
        let log = self
            .logs
            .get(origin)
            .ok_or_else(|| AddCheckpointError::UnknownOrigin {
                origin: origin.to_owned(),
            })?;
        let log_key = log.key();
        // Signatures by other keys are ignored, and a bad one by the log's
        // key rejects the whole note (signed-note).
        let verified = request
            .note()
            .verify(&[log_key as &dyn NoteVerifier])
            .map_err(|reason| AddCheckpointError::NotSigned {
                origin: origin.to_owned(),
                key: format!("{}+{:08x}", log_key.name(), log_key.key_id()),
                reason,
            })?;
        // From here the checkpoint text is the log's word. Keep only the
        // verified signature lines: a forged line is neither stored nor
        // logged as evidence.
        let note = Note::new(
            verified.text().to_owned(),
            verified
                .verified()
                .iter()
                .map(|v| v.signature().clone())
                .collect(),
        )
        .map_err(|reason| AddCheckpointError::NotSigned {
            origin: origin.to_owned(),
            key: format!("{}+{:08x}", log_key.name(), log_key.key_id()),
            reason,
        })?;
        let record = StoredCheckpoint::new(note)
            .map_err(|e| AddCheckpointError::Malformed(RequestError::Checkpoint(e)))?;
        let result = self.check_and_cosign(&request, &record);
        if let Err(e) = &result {
            report_refusal(e, &request, &record);
        }
        result
    }

    /// The part under the origin's lock.
    fn check_and_cosign(
        &self,
        request: &AddCheckpointRequest,
        record: &StoredCheckpoint,
    ) -> Result<String, AddCheckpointError> {
        let origin = record.origin().to_owned();
        let (old, size, root) = (request.old_size(), record.size(), record.root());
        if old > size {
            return Err(AddCheckpointError::OldSizeBeyondCheckpoint {
                old: old.get(),
                size: size.get(),
            });
        }
        let mut guard = self.state.lock(&origin)?;
        let (latest, latest_root) = (guard.size(), guard.root());
        if old != latest {
            return Err(AddCheckpointError::SizeConflict {
                origin,
                old: old.get(),
                latest: latest.get(),
            });
        }
        if old == size && root != latest_root {
            return Err(AddCheckpointError::RootConflict {
                origin,
                size: size.get(),
                latest_root,
                root,
            });
        }
        // Old size 0: latest_root is the empty-tree root and the proof must
        // be empty; old == size: the proof must be empty. verify_consistency
        // checks both through its length rule.
        verify_consistency(old, &latest_root, size, &root, request.proof()).map_err(|source| {
            AddCheckpointError::InconsistentProof {
                origin: origin.clone(),
                old: old.get(),
                size: size.get(),
                source,
            }
        })?;
        let now = (self.clock)().ok_or(AddCheckpointError::Clock)?;
        // Signed before persisting so that a signing failure changes
        // nothing; handed out only after persisting.
        let cosignature = self.key.cosign(record.note().text(), now)?;
        // A crash before persist returns leaves the old state and no
        // cosignature out; after it, the new state and possibly a
        // cosignature the log never received, which a retry from the new
        // size (old == size, same root) obtains again.
        guard.persist(record.clone())?;
        drop(guard);
        tracing::debug!(origin, old = old.get(), size = size.get(), "cosigned");
        Ok(cosignature.to_line())
    }
}

/// Logs refusals. Those after the signature check carry a checkpoint the log
/// really signed: a fork or a bad proof is evidence of misbehaviour and is
/// logged with the signed note so that it can be published.
fn report_refusal(
    e: &AddCheckpointError,
    request: &AddCheckpointRequest,
    signed: &StoredCheckpoint,
) {
    match e {
        AddCheckpointError::RootConflict { .. }
        | AddCheckpointError::InconsistentProof { .. }
        | AddCheckpointError::OldSizeBeyondCheckpoint { .. } => {
            tracing::warn!(
                error = %e,
                old_size = request.old_size().get(),
                proof = ?request.proof(),
                signed_note = %signed.note().format(),
                "refused a checkpoint the log signed: possible log misbehaviour"
            );
        }
        // Routine: a log behind or ahead of this witness, or racing itself.
        AddCheckpointError::SizeConflict { .. } => tracing::info!(
            error = %e,
            signed_note = %signed.note().format(),
            "refused a signed checkpoint: size conflict"
        ),
        e if e.is_internal() => tracing::error!(error = %e, "add-checkpoint failed"),
        e => tracing::debug!(error = %e, "refused add-checkpoint"),
    }
}

fn system_time() -> Option<u64> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs <= vellum_note::cosignature::MAX_TIMESTAMP).then_some(secs)
}
