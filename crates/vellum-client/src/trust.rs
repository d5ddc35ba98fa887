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

/// Why a log key and a tlog-policy given together do not make a [`Trust`].
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The policy text does not parse.
    #[error("{name} is not a valid tlog-policy")]
    BadPolicy {
        /// Where the text came from (a file name, "standard input").
        name: String,
        /// The parser's reason.
        source: PolicyError,
    },
    /// The key is not one of the policy's logs: a checkpoint signed by it
    /// could never pass the policy, so the two cannot both be meant.
    #[error("{key} is not one of the logs in {name} (its logs: {logs})")]
    KeyNotInPolicy {
        /// The key given, in its text form.
        key: String,
        /// Where the policy came from.
        name: String,
        /// The policy's log keys, comma-separated, or "none".
        logs: String,
    },
}

/// A tlog-policy as read, not yet parsed, with the name it is known by.
#[derive(Clone, Copy, Debug)]
pub struct PolicyText<'a> {
    /// Where the text came from, for messages.
    pub name: &'a str,
    /// The text (at most [`vellum_note::policy::MAX_POLICY_SIZE`] bytes is
    /// what a reader should accept).
    pub bytes: &'a [u8],
}

impl Trust {
    /// What a log key and a tlog-policy, each optional, mean together: the
    /// policy if given (which must then list the key, if one is given),
    /// else the key, else nothing. Every command that takes a key or a
    /// policy reads them through this one function.
    ///
    /// # Errors
    ///
    /// [`TrustError::BadPolicy`] if the policy does not parse,
    /// [`TrustError::KeyNotInPolicy`] if the key is not among its logs.
    pub fn load(
        key: Option<VerifierKey>,
        policy: Option<PolicyText<'_>>,
    ) -> Result<Option<Trust>, TrustError> {
        let Some(text) = policy else {
            return Ok(key.map(Trust::Key));
        };
        let policy = Policy::parse_bytes(text.bytes).map_err(|source| TrustError::BadPolicy {
            name: text.name.to_owned(),
            source,
        })?;
        if let Some(key) = key
            && !policy.logs().iter().any(|l| *l.key() == key)
        {
            let logs: Vec<String> = policy.logs().iter().map(|l| l.key().to_string()).collect();
            return Err(TrustError::KeyNotInPolicy {
                key: key.to_string(),
                name: text.name.to_owned(),
                logs: if logs.is_empty() {
                    "none".to_owned()
                } else {
                    logs.join(", ")
                },
            });
        }
        Ok(Some(Trust::Policy(policy)))
    }

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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use vellum_note::{SigType, SignerKey};

    fn key(name: &str) -> VerifierKey {
        SignerKey::generate(name, SigType::Ed25519)
            .unwrap()
            .verifier()
    }

    fn text<'a>(bytes: &'a [u8]) -> Option<PolicyText<'a>> {
        Some(PolicyText {
            name: "p.policy",
            bytes,
        })
    }

    #[test]
    fn key_alone_policy_alone_or_neither() {
        let k = key("a.example/log");
        assert_eq!(Trust::load(None, None).unwrap(), None);
        assert_eq!(
            Trust::load(Some(k.clone()), None).unwrap(),
            Some(Trust::Key(k.clone()))
        );
        let policy = format!("log {k}\nquorum none\n");
        let Some(Trust::Policy(p)) = Trust::load(None, text(policy.as_bytes())).unwrap() else {
            panic!("a policy alone is a policy trust");
        };
        assert_eq!(p.logs()[0].key(), &k);
    }

    #[test]
    fn key_and_policy_must_agree() {
        let (k, other) = (key("a.example/log"), key("b.example/log"));
        let policy = format!("log {k}\nquorum none\n");
        assert!(matches!(
            Trust::load(Some(k.clone()), text(policy.as_bytes())).unwrap(),
            Some(Trust::Policy(_))
        ));
        let err = Trust::load(Some(other), text(policy.as_bytes())).unwrap_err();
        assert!(matches!(err, TrustError::KeyNotInPolicy { .. }));
        let msg = err.to_string();
        assert!(msg.contains("is not one of the logs in p.policy"), "{msg}");
        assert!(msg.contains(&k.to_string()), "{msg}");
    }

    #[test]
    fn a_bad_policy_names_its_source() {
        let err = Trust::load(None, text(b"not a policy\n")).unwrap_err();
        assert!(matches!(err, TrustError::BadPolicy { .. }));
        assert_eq!(err.to_string(), "p.policy is not a valid tlog-policy");
    }
}
