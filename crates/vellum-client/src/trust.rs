//! What the client trusts, and the checkpoints that passed it.

use std::fmt;

use bytes::Bytes;
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Policy, PolicyError, VerifiedCheckpoint, VerifierKey, WitnessCosignature};

/// The root of trust: the log's key, or a C2SP tlog-policy (trusted logs,
/// witnesses and the k-of-n quorum of cosignatures a checkpoint needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The log's verifier key; no cosignature is required.
    Key(VerifierKey),
    /// A tlog-policy: a checkpoint must be signed by one of its logs and
    /// cosigned to its quorum.
    Policy(Policy),
}

impl From<VerifierKey> for Trust {
    fn from(k: VerifierKey) -> Trust {
        Trust::Key(k)
    }
}

impl From<Policy> for Trust {
    fn from(p: Policy) -> Trust {
        Trust::Policy(p)
    }
}

impl Trust {
    /// The trust as a policy: a key is the policy "this log, quorum none".
    ///
    /// # Errors
    ///
    /// [`PolicyError::WrongLogKeyType`] for a key that is not Ed25519.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        match self {
            Trust::Key(k) => Policy::quorum_none(k.clone()),
            Trust::Policy(p) => Ok(p.clone()),
        }
    }

    /// Verifies a signed checkpoint note.
    ///
    /// # Errors
    ///
    /// The [`PolicyError`] saying why the note is not trusted.
    pub fn check(&self, note: &[u8]) -> Result<TrustedCheckpoint, PolicyError> {
        let verified = self.policy()?.check_checkpoint(note)?;
        Ok(TrustedCheckpoint {
            note: Bytes::copy_from_slice(note),
            verified,
        })
    }
}

/// A signed checkpoint that verified against a [`Trust`]: its origin, size
/// and root can be relied on. The only way to make one is
/// [`Trust::check`], so holding one means it was checked.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    /// The note exactly as the log served it (all signature lines).
    note: Bytes,
    verified: VerifiedCheckpoint,
}

impl TrustedCheckpoint {
    /// The log's origin (its key's name).
    pub fn origin(&self) -> &str {
        self.verified.checkpoint().origin()
    }

    /// The tree size.
    pub fn size(&self) -> TreeSize {
        self.verified.checkpoint().size()
    }

    /// The tree root.
    pub fn root(&self) -> Hash {
        self.verified.checkpoint().root()
    }

    /// The signed note, byte for byte as served.
    pub fn note(&self) -> &[u8] {
        &self.note
    }

    /// The log key that signed it.
    pub fn log_key(&self) -> &VerifierKey {
        self.verified.log_key()
    }

    /// The policy witnesses whose cosignatures verified.
    pub fn cosignatures(&self) -> &[WitnessCosignature] {
        self.verified.cosignatures()
    }

    /// Everything the verification established.
    pub fn verified(&self) -> &VerifiedCheckpoint {
        &self.verified
    }
}

impl fmt::Debug for TrustedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCheckpoint")
            .field("origin", &self.origin())
            .field("size", &self.size().get())
            .field("root", &self.root())
            .finish_non_exhaustive()
    }
}
