//! Note verification, with the signed-note rules: unknown keys are ignored, a
//! known key's signature must verify or the note is rejected, and at least
//! one known key must have signed.

use super::{Note, NoteError, NoteSignature};
use crate::keys::{SigType, VerifierKey};

/// A key that can check note signatures.
///
/// A key is identified by its name AND id: a signature matching only one of
/// them is from another key and is ignored.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The key id.
    fn key_id(&self) -> u32;
    /// Whether `signature` (the bytes after the key id) is this key's valid
    /// signature of `text` (the note text, final newline included).
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// Ed25519 (type 0x01) over the note text. A key of another type verifies
/// nothing here; wrap a type-0x04 key in a
/// [`CosignatureVerifier`](crate::CosignatureVerifier).
impl NoteVerifier for VerifierKey {
    fn name(&self) -> &str {
        VerifierKey::name(self)
    }

    fn key_id(&self) -> u32 {
        VerifierKey::key_id(self)
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        self.sig_type() == SigType::Ed25519 && self.verify_raw(text, signature)
    }
}

/// A signature that a known key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    signature: NoteSignature,
    verifier: usize,
}

impl VerifiedSignature {
    /// The signature.
    pub fn signature(&self) -> &NoteSignature {
        &self.signature
    }

    /// The position, in the slice given to [`Note::verify`], of the verifier
    /// that accepted it.
    pub fn verifier_index(&self) -> usize {
        self.verifier
    }

    /// The signing key's name.
    pub fn name(&self) -> &str {
        self.signature.name()
    }

    /// The signing key's id.
    pub fn key_id(&self) -> u32 {
        self.signature.key_id()
    }
}

/// A note whose signatures have been checked. Its text may be trusted as far
/// as the verified keys are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<VerifiedSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The note text.
    pub fn text(&self) -> &str {
        self.note.text()
    }

    /// The whole note, every signature line included.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// One signature per known key that signed, in note order.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// The signatures by unknown keys, identical lines once.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// Whether the verifier at `index` signed.
    pub fn is_signed_by(&self, index: usize) -> bool {
        self.verified.iter().any(|v| v.verifier == index)
    }

    /// The verified signature by the verifier at `index`, if it signed.
    pub fn signature_by(&self, index: usize) -> Option<&VerifiedSignature> {
        self.verified.iter().find(|v| v.verifier == index)
    }
}

impl Note {
    /// Verifies the note against the known keys `verifiers`.
    ///
    /// A signature whose name and id do not both match a verifier is from an
    /// unknown key and is kept aside as unverified. Every signature from a
    /// known key is checked, repeated ones included; a known key that signed
    /// more than once counts once.
    ///
    /// # Errors
    ///
    /// * [`NoteError::AmbiguousVerifier`]: two verifiers share a name and id;
    /// * [`NoteError::InvalidSignature`]: a known key's signature does not
    ///   verify (the whole note is rejected);
    /// * [`NoteError::NoVerifiedSignature`]: no known key signed.
    pub fn verify(&self, verifiers: &[&dyn NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        for (i, a) in verifiers.iter().enumerate() {
            if verifiers[..i]
                .iter()
                .any(|b| a.name() == b.name() && a.key_id() == b.key_id())
            {
                return Err(NoteError::AmbiguousVerifier {
                    name: a.name().to_owned(),
                    key_id: a.key_id(),
                });
            }
        }
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        for sig in &self.signatures {
            let known = verifiers
                .iter()
                .position(|v| sig.is_by(v.name(), v.key_id()));
            let Some(index) = known else {
                if !unverified.contains(sig) {
                    unverified.push(sig.clone());
                }
                continue;
            };
            // Checked even when this key already verified: signed-note says a
            // known key's signature MUST be verified, and a bad one anywhere
            // means the note was tampered with.
            if !verifiers[index].verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !verified.iter().any(|v| v.verifier == index) {
                verified.push(VerifiedSignature {
                    signature: sig.clone(),
                    verifier: index,
                });
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature {
                found: unverified
                    .iter()
                    .map(|s| (s.name.clone(), s.key_id))
                    .collect(),
            });
        }
        Ok(VerifiedNote {
            note: self.clone(),
            verified,
            unverified,
        })
    }
}
