//! The signing rule: a checkpoint is signed only if it provably extends the
//! last checkpoint this signer signed, and only after that fact is durable.
//!
//! The signer trusts nothing the sequencer says except what it can check: the
//! consistency proof is verified against the signer's own record of its last
//! tree, never against a root the caller supplies.

use std::path::Path;

use vellum_merkle::proof::verify_consistency;
use vellum_merkle::{ConsistencyError, Hash, TreeSize};
use vellum_note::{
    Checkpoint, CheckpointError, NoteError, SigType, SignedCheckpoint, SignerKey, VerifierKey,
    sign_note,
};

use crate::journal::{Journal, JournalError, RecordKind};

/// Why the signer did not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The proof starts from another size than the last one signed. Not a
    /// misbehaviour: the caller should prove from `signed_size`.
    #[error("the signer's last signed size is {signed_size}, the request proves from {given}")]
    StaleOldSize {
        /// The last size signed.
        signed_size: u64,
        /// The size the request proves from.
        given: u64,
    },
    /// A smaller tree than one already signed: a rollback.
    #[error("refused: size {requested} is smaller than size {signed} already signed (rollback)")]
    Shrink {
        /// The last size signed.
        signed: u64,
        /// The size asked for.
        requested: u64,
    },
    /// The same size with another root: a fork.
    #[error("refused: size {size} was signed with root {signed}, not {requested} (fork)")]
    Fork {
        /// The size.
        size: u64,
        /// The root signed.
        signed: Hash,
        /// The root asked for.
        requested: Hash,
    },
    /// The consistency proof does not prove the new tree extends the old.
    #[error("refused: the new tree is not proven to extend size {from}: {source}")]
    BadProof {
        /// The last size signed.
        from: u64,
        /// What failed.
        source: ConsistencyError,
    },
    /// The text is not a checkpoint this signer may sign.
    #[error("refused: {0}")]
    Malformed(String),
    /// The checkpoint names another log.
    #[error("refused: checkpoint origin {got:?} is not this signer's log {expected:?}")]
    WrongOrigin {
        /// The key's name.
        expected: String,
        /// The origin in the request.
        got: String,
    },
    /// The signer's journal failed: its durable state is unknown, so it signs
    /// nothing more until restarted.
    #[error("signer journal failure, signer stopped: {0}")]
    Journal(#[from] JournalError),
    /// The journal holds a checkpoint that this key did not sign, or that
    /// does not parse.
    #[error("signer journal does not belong to key {key}: {reason}")]
    ForeignJournal {
        /// The signer's key name.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The key cannot sign checkpoints.
    #[error("the signer key {0:?} is not an Ed25519 (type 0x01) note key")]
    WrongKeyType(String),
    /// A previous journal failure stopped the signer.
    #[error("the signer stopped after a journal failure; restart it")]
    Stopped,
}

impl SignerError {
    /// Whether this is a refusal that is evidence of misbehaviour by the
    /// caller (recorded in the journal), rather than a protocol condition or
    /// a failure of the signer itself.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            SignerError::Shrink { .. }
                | SignerError::Fork { .. }
                | SignerError::BadProof { .. }
                | SignerError::Malformed(_)
                | SignerError::WrongOrigin { .. }
        )
    }
}

/// The last checkpoint signed.
#[derive(Debug, Clone)]
pub struct LastSigned {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The signed note exactly as released.
    pub note: Vec<u8>,
}

/// A checkpoint signer with its durable state.
///
/// Not internally synchronised: `sign` takes `&mut self`, so concurrent
/// requests are serialised by whoever owns it (a mutex), and two requests for
/// the same size with different roots cannot both succeed.
#[derive(Debug)]
pub struct CheckpointSigner {
    key: SignerKey,
    journal: Journal,
    last: Option<LastSigned>,
    stopped: bool,
}

impl CheckpointSigner {
    /// Opens the signer with `key` and the journal in `journal_dir`
    /// (created if absent).
    ///
    /// # Errors
    ///
    /// [`SignerError::WrongKeyType`], [`SignerError::Journal`] when the
    /// journal cannot be read, [`SignerError::ForeignJournal`] when its last
    /// checkpoint was not signed by `key`.
    pub fn open(key: SignerKey, journal_dir: &Path) -> Result<CheckpointSigner, SignerError> {
        if key.sig_type() != SigType::Ed25519 {
            return Err(SignerError::WrongKeyType(key.name().to_owned()));
        }
        let journal = Journal::open(journal_dir)?;
        let last = match journal.last_signed() {
            None => None,
            Some(note) => {
                let opened = SignedCheckpoint::open(note, &key.verifier(), &[]).map_err(|e| {
                    SignerError::ForeignJournal {
                        key: key.name().to_owned(),
                        reason: e.to_string(),
                    }
                })?;
                Some(LastSigned {
                    checkpoint: opened.checkpoint().clone(),
                    note: note.to_vec(),
                })
            }
        };
        Ok(CheckpointSigner {
            key,
            journal,
            last,
            stopped: false,
        })
    }

    /// The verifier key of the log.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The last checkpoint signed, if any.
    pub fn last_signed(&self) -> Option<&LastSigned> {
        self.last.as_ref()
    }

    /// Signs `text`, a tlog-checkpoint note text, if `proof` proves that the
    /// tree it describes extends the last tree signed (from `old_size`, which
    /// must be that tree's size). Returns the signed note.
    ///
    /// Signing the last signed checkpoint again returns the same note.
    ///
    /// # Errors
    ///
    /// [`SignerError::StaleOldSize`] (prove from the size it names), a
    /// refusal ([`SignerError::is_refusal`], recorded in the journal), or a
    /// journal failure after which the signer stops.
    pub fn sign(
        &mut self,
        text: &str,
        old_size: TreeSize,
        proof: &[Hash],
    ) -> Result<Vec<u8>, SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        let result = self.check(text, old_size, proof);
        match result {
            Ok(Some(same)) => Ok(same),
            Ok(None) => {
                let note = sign_note(text, &[&self.key])
                    .map_err(|e: NoteError| SignerError::Malformed(e.to_string()))?;
                // The signature exists only in memory until the journal holds
                // it; a crash here loses nothing that was released.
                if let Err(e) = self.journal.append(RecordKind::Signed, note.as_bytes()) {
                    self.stopped = true;
                    return Err(e.into());
                }
                let checkpoint = Checkpoint::parse(text)
                    .map_err(|e: CheckpointError| SignerError::Malformed(e.to_string()))?;
                self.last = Some(LastSigned {
                    checkpoint,
                    note: note.clone().into_bytes(),
                });
                Ok(note.into_bytes())
            }
            Err(e) => {
                if e.is_refusal() {
                    tracing::warn!(error = %e, "signer refused a checkpoint");
                    let record = format!("{e}\n{}", text.chars().take(4096).collect::<String>());
                    if let Err(je) = self.journal.append(RecordKind::Refused, record.as_bytes()) {
                        self.stopped = true;
                        return Err(je.into());
                    }
                }
                Err(e)
            }
        }
    }

    /// Adopts `note`, a checkpoint signed with this signer's own key that its
    /// journal does not hold (the journal was lost or is older: a restore
    /// onto a new machine), as its last signed checkpoint. This is the
    /// operator's explicit recovery path (`vellum recover`), never an
    /// automatic one; the caller has checked that the store holds that tree
    /// and that no witness or publication remembers a larger one.
    ///
    /// The rules of [`CheckpointSigner::sign`] still hold: the adopted tree
    /// must extend what this journal signed (`proof` proves it from that
    /// size), so adoption can only move the signer's memory forward. The
    /// journal records a [`RecordKind::Recovered`] record with `reason`,
    /// then the adopted checkpoint, each durable before this returns.
    /// Adopting the last signed checkpoint again changes nothing and
    /// returns `Ok(false)`.
    ///
    /// # Errors
    ///
    /// [`SignerError::Malformed`] for a note that does not verify with this
    /// key, [`SignerError::Shrink`], [`SignerError::Fork`] or
    /// [`SignerError::BadProof`] for one that does not extend the journal,
    /// a journal failure.
    pub fn adopt(
        &mut self,
        note: &[u8],
        proof: &[Hash],
        reason: &str,
    ) -> Result<bool, SignerError> {
        if self.stopped {
            return Err(SignerError::Stopped);
        }
        let opened = SignedCheckpoint::open(note, &self.key.verifier(), &[]).map_err(|e| {
            SignerError::Malformed(format!("the checkpoint to adopt is not this log's: {e}"))
        })?;
        let cp = opened.checkpoint().clone();
        if let Some(last) = &self.last {
            match compare(&last.checkpoint, &cp)? {
                Extends::Same => return Ok(false),
                Extends::Grows => prove(&last.checkpoint, &cp, proof)?,
            }
        }
        // Ed25519 signatures are deterministic: signing the verified text
        // again gives the log's own signature line of `note`, without the
        // witnesses' cosignatures a stored copy may carry.
        let own = sign_note(opened.note().text(), &[&self.key])
            .map_err(|e: NoteError| SignerError::Malformed(e.to_string()))?;
        let record = format!(
            "adopted checkpoint of size {} root {} (was {}): {reason}",
            cp.size().get(),
            cp.root(),
            self.last.as_ref().map_or_else(
                || "nothing signed".to_owned(),
                |l| format!("size {}", l.checkpoint.size().get())
            ),
        );
        for (kind, payload) in [
            (RecordKind::Recovered, record.as_bytes()),
            (RecordKind::Signed, own.as_bytes()),
        ] {
            if let Err(e) = self.journal.append(kind, payload) {
                self.stopped = true;
                return Err(e.into());
            }
        }
        tracing::warn!(size = cp.size().get(), root = %cp.root(), reason, "signer adopted a checkpoint (recovery)");
        self.last = Some(LastSigned {
            checkpoint: cp,
            note: own.into_bytes(),
        });
        Ok(true)
    }

    /// Checks a request; `Ok(Some(note))` when it asks for the last signed
    /// checkpoint again, `Ok(None)` when it may be signed.
    fn check(
        &self,
        text: &str,
        old_size: TreeSize,
        proof: &[Hash],
    ) -> Result<Option<Vec<u8>>, SignerError> {
        let cp = Checkpoint::parse(text).map_err(|e| SignerError::Malformed(e.to_string()))?;
        if cp.to_text() != text {
            return Err(SignerError::Malformed(
                "checkpoint text is not in canonical form".into(),
            ));
        }
        if !cp.extensions().is_empty() {
            return Err(SignerError::Malformed(
                "this signer does not sign checkpoint extension lines".into(),
            ));
        }
        if cp.origin() != self.key.name() {
            return Err(SignerError::WrongOrigin {
                expected: self.key.name().to_owned(),
                got: cp.origin().to_owned(),
            });
        }
        let Some(last) = &self.last else {
            // Nothing signed yet: the first checkpoint is taken on trust, and
            // is the anchor every later one must extend.
            if !old_size.is_empty() || !proof.is_empty() {
                return Err(SignerError::StaleOldSize {
                    signed_size: 0,
                    given: old_size.get(),
                });
            }
            return Ok(None);
        };
        if compare(&last.checkpoint, &cp)? == Extends::Same {
            return Ok(Some(last.note.clone()));
        }
        let last_size = last.checkpoint.size();
        if old_size != last_size {
            return Err(SignerError::StaleOldSize {
                signed_size: last_size.get(),
                given: old_size.get(),
            });
        }
        prove(&last.checkpoint, &cp, proof)?;
        Ok(None)
    }
}

/// How a checkpoint relates to the last one signed, when it may follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Extends {
    /// The same size and root: nothing new to sign.
    Same,
    /// Larger: it may follow `last` once a consistency proof shows it.
    Grows,
}

/// The rule of a signer's memory, for a signing request and an adoption
/// alike: never a smaller tree, never another root for a signed size.
fn compare(last: &Checkpoint, cp: &Checkpoint) -> Result<Extends, SignerError> {
    let last_size = last.size();
    if cp.size() < last_size {
        return Err(SignerError::Shrink {
            signed: last_size.get(),
            requested: cp.size().get(),
        });
    }
    if cp.size() == last_size {
        if cp.root() != last.root() {
            return Err(SignerError::Fork {
                size: last_size.get(),
                signed: last.root(),
                requested: cp.root(),
            });
        }
        return Ok(Extends::Same);
    }
    Ok(Extends::Grows)
}

/// `proof` shows that `cp` extends `last`.
fn prove(last: &Checkpoint, cp: &Checkpoint, proof: &[Hash]) -> Result<(), SignerError> {
    verify_consistency(last.size(), &last.root(), cp.size(), &cp.root(), proof).map_err(|source| {
        SignerError::BadProof {
            from: last.size().get(),
            source,
        }
    })
}
