//! C2SP tlog-cosignature v1, Ed25519 (signature type 0x04).
//!
//! A witness signs `cosignature/v1\ntime <t>\n` followed by the checkpoint
//! note text; the note signature is the 8-byte big-endian timestamp followed
//! by the 64-byte Ed25519 signature. The message does not name the witness,
//! so one Ed25519 key must serve one cosigner only.

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::keys::{KeyError, SigType, SignerKey, VerifierKey};
use crate::note::{NoteSignature, NoteVerifier};

/// The header line of the signed message, for domain separation.
const HEADER: &str = "cosignature/v1\n";
/// Largest timestamp tlog-cosignature allows: 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// Length of a v1 Ed25519 cosignature: timestamp and signature.
const COSIGNATURE_LEN: usize = 8 + 64;

/// Why a cosignature was not made or not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The key is not usable as a cosigner key.
    #[error("cosigner key: {0}")]
    Key(#[from] KeyError),
    /// A timestamp above 2^63 - 1.
    #[error("cosignature timestamp {timestamp} is above the maximum 2^63-1")]
    TimestampTooLarge {
        /// The timestamp.
        timestamp: u64,
    },
    /// The text to cosign is not a checkpoint.
    #[error("only checkpoints are cosigned: {0}")]
    NotACheckpoint(CheckpointError),
    /// A signature of the wrong length for a v1 Ed25519 cosignature.
    #[error(
        "a cosignature/v1 signature is 72 bytes (timestamp and Ed25519 signature), found {found}"
    )]
    WrongLength {
        /// The length found.
        found: usize,
    },
}

/// The message a v1 cosignature signs.
///
/// # Errors
///
/// [`CosignatureError::TimestampTooLarge`].
pub fn cosigned_message(
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<Vec<u8>, CosignatureError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge { timestamp });
    }
    Ok(format!("{HEADER}time {timestamp}\n{checkpoint_text}").into_bytes())
}

/// The timestamp of a v1 cosignature (the bytes after the key id). Read it
/// only from a signature that verified.
///
/// # Errors
///
/// [`CosignatureError::WrongLength`] or
/// [`CosignatureError::TimestampTooLarge`].
pub fn cosignature_timestamp(signature: &[u8]) -> Result<u64, CosignatureError> {
    if signature.len() != COSIGNATURE_LEN {
        return Err(CosignatureError::WrongLength {
            found: signature.len(),
        });
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&signature[..8]);
    let timestamp = u64::from_be_bytes(ts);
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge { timestamp });
    }
    Ok(timestamp)
}

/// A witness's private key (type 0x04).
#[derive(Debug, Clone)]
pub struct CosignerKey {
    key: SignerKey,
}

impl CosignerKey {
    /// Wraps a type-0x04 key.
    ///
    /// # Errors
    ///
    /// [`CosignatureError::Key`] with [`KeyError::WrongSigType`] for another
    /// type.
    pub fn new(key: SignerKey) -> Result<CosignerKey, CosignatureError> {
        if key.sig_type() != SigType::CosignatureV1 {
            return Err(KeyError::WrongSigType {
                name: key.name().to_owned(),
                expected: SigType::CosignatureV1,
                found: key.sig_type(),
            }
            .into());
        }
        Ok(CosignerKey { key })
    }

    /// A new random cosigner key.
    ///
    /// # Errors
    ///
    /// As [`SignerKey::generate`].
    pub fn generate(name: &str) -> Result<CosignerKey, CosignatureError> {
        CosignerKey::new(SignerKey::generate(name, SigType::CosignatureV1)?)
    }

    /// Parses a private key in text form; it must be of type 0x04.
    ///
    /// # Errors
    ///
    /// As [`SignerKey::parse`] and [`CosignerKey::new`].
    pub fn parse(text: &str) -> Result<CosignerKey, CosignatureError> {
        CosignerKey::new(SignerKey::parse(text)?)
    }

    /// The underlying key (for [`SignerKey::to_text`], say).
    pub fn signer_key(&self) -> &SignerKey {
        &self.key
    }

    /// The key name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key.key_id()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            key: self.key.verifier(),
        }
    }

    /// Cosigns a checkpoint note text as of `timestamp` (POSIX seconds).
    ///
    /// This only signs: checking that the checkpoint is consistent with what
    /// this witness saw before is the caller's duty, and the whole meaning
    /// of the signature.
    ///
    /// # Errors
    ///
    /// [`CosignatureError::NotACheckpoint`] when the text does not parse as
    /// a checkpoint; [`CosignatureError::TimestampTooLarge`].
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        Checkpoint::parse(checkpoint_text).map_err(CosignatureError::NotACheckpoint)?;
        let msg = cosigned_message(checkpoint_text, timestamp)?;
        let mut signature = Vec::with_capacity(COSIGNATURE_LEN);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&self.key.sign(&msg));
        // The name was validated when the key was made, and the signature is
        // never empty, so this cannot fail; map it anyway rather than panic.
        NoteSignature::new(self.name(), self.key_id(), signature).map_err(|_| {
            CosignatureError::Key(KeyError::InvalidName {
                name: self.name().to_owned(),
            })
        })
    }
}

/// A witness's public key (type 0x04), checking v1 cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    key: VerifierKey,
}

impl CosignatureVerifier {
    /// Wraps a type-0x04 key.
    ///
    /// # Errors
    ///
    /// [`CosignatureError::Key`] with [`KeyError::WrongSigType`] for another
    /// type.
    pub fn new(key: VerifierKey) -> Result<CosignatureVerifier, CosignatureError> {
        key.require_type(SigType::CosignatureV1)?;
        Ok(CosignatureVerifier { key })
    }

    /// Parses a vkey; it must be of type 0x04.
    ///
    /// # Errors
    ///
    /// As [`VerifierKey::parse`] and [`CosignatureVerifier::new`].
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, CosignatureError> {
        CosignatureVerifier::new(VerifierKey::parse(vkey)?)
    }

    /// The underlying key.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.key
    }

    /// The timestamp of `signature` if it is this key's valid cosignature of
    /// `checkpoint_text`, `None` otherwise.
    pub fn verify_cosignature(&self, checkpoint_text: &str, signature: &[u8]) -> Option<u64> {
        let timestamp = cosignature_timestamp(signature).ok()?;
        let msg = cosigned_message(checkpoint_text, timestamp).ok()?;
        self.key
            .verify_raw(&msg, &signature[8..])
            .then_some(timestamp)
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        self.key.name()
    }

    fn key_id(&self) -> u32 {
        self.key.key_id()
    }

    /// A type-0x04 Ed25519 signature over the v1 cosigned message; never a
    /// plain signature over the text, even by the same Ed25519 key.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        // A note text is UTF-8 (Note::parse checks); anything else is no
        // checkpoint this witness could have signed.
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        self.verify_cosignature(text, signature).is_some()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    const CP: &str = "example.com/log\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";

    #[test]
    fn message_layout() {
        assert_eq!(
            cosigned_message(CP, 1679315147).unwrap(),
            format!("cosignature/v1\ntime 1679315147\n{CP}").into_bytes()
        );
        assert_eq!(
            cosigned_message(CP, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampTooLarge {
                timestamp: MAX_TIMESTAMP + 1
            })
        );
    }

    #[test]
    fn round_trip_and_timestamp() {
        let key = CosignerKey::generate("w.example/1").unwrap();
        let sig = key.cosign(CP, 42).unwrap();
        assert_eq!(sig.signature().len(), 72);
        assert_eq!(cosignature_timestamp(sig.signature()), Ok(42));
        let v = key.verifier();
        assert_eq!(v.verify_cosignature(CP, sig.signature()), Some(42));
        assert!(NoteVerifier::verify(&v, CP.as_bytes(), sig.signature()));
        let other = CP.replace('5', "6");
        assert_eq!(v.verify_cosignature(&other, sig.signature()), None);
        assert_eq!(
            key.cosign(CP, MAX_TIMESTAMP)
                .map(|s| s.signature()[..8].to_vec()),
            Ok(MAX_TIMESTAMP.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn refuses_wrong_types_and_non_checkpoints() {
        let log = SignerKey::generate("log", SigType::Ed25519).unwrap();
        assert!(matches!(
            CosignerKey::new(log.clone()),
            Err(CosignatureError::Key(KeyError::WrongSigType { .. }))
        ));
        assert!(matches!(
            CosignatureVerifier::new(log.verifier()),
            Err(CosignatureError::Key(KeyError::WrongSigType { .. }))
        ));
        let key = CosignerKey::generate("w").unwrap();
        assert!(matches!(
            key.cosign("just text\n", 1),
            Err(CosignatureError::NotACheckpoint(_))
        ));
        assert_eq!(
            cosignature_timestamp(&[0; 71]),
            Err(CosignatureError::WrongLength { found: 71 })
        );
        let mut big = [0u8; 72];
        big[0] = 0x80;
        assert!(matches!(
            cosignature_timestamp(&big),
            Err(CosignatureError::TimestampTooLarge { .. })
        ));
    }
}
