//! Signing a note text.

use super::{MAX_SIGNATURES, Note, NoteError, NoteSignature, check_text};
use crate::keys::{SigType, SignerKey};

/// A key that can sign note texts.
pub trait NoteSigner {
    /// The key name.
    fn name(&self) -> &str;
    /// The key id.
    fn key_id(&self) -> u32;
    /// The signature of `text` (the note text, final newline included),
    /// without the 4-byte key id.
    ///
    /// # Errors
    ///
    /// A [`NoteError`] when this key cannot sign this text.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError>;
}

/// Ed25519 (type 0x01) over the note text.
impl NoteSigner for SignerKey {
    fn name(&self) -> &str {
        SignerKey::name(self)
    }

    fn key_id(&self) -> u32 {
        SignerKey::key_id(self)
    }

    /// # Errors
    ///
    /// [`NoteError::WrongSignerType`] for a key that is not type 0x01: a
    /// cosigner key signs a different message (see
    /// [`CosignerKey`](crate::CosignerKey)), and using it here would produce
    /// a signature no verifier accepts.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError> {
        if self.sig_type() != SigType::Ed25519 {
            return Err(NoteError::WrongSignerType {
                name: self.name().to_owned(),
                expected: SigType::Ed25519,
                found: self.sig_type(),
            });
        }
        Ok(SignerKey::sign(self, text).to_vec())
    }
}

impl Note {
    /// Signs `text` with each signer, in order.
    ///
    /// # Errors
    ///
    /// [`NoteError::TextMissingFinalNewline`],
    /// [`NoteError::ControlCharacter`] or [`NoteError::TooLarge`] for a text
    /// that cannot be a note's; [`NoteError::NoSignatures`] without signers;
    /// [`NoteError::DuplicateSigner`]; [`NoteError::TooManySignatures`]; and
    /// any error a signer returns.
    pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<Note, NoteError> {
        check_text(text)?;
        if signers.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if signers.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures: Vec<NoteSignature> = Vec::with_capacity(signers.len());
        for signer in signers {
            let (name, key_id) = (signer.name(), signer.key_id());
            if signatures.iter().any(|s| s.is_by(name, key_id)) {
                return Err(NoteError::DuplicateSigner {
                    name: name.to_owned(),
                    key_id,
                });
            }
            let bytes = signer.sign(text.as_bytes())?;
            signatures.push(NoteSignature::new(name, key_id, bytes)?);
        }
        Note::new(text.to_owned(), signatures)
    }
}

/// Signs `text` with each signer and returns the signed note in wire form.
///
/// # Errors
///
/// As [`Note::sign`].
pub fn sign_note(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    Note::sign(text, signers).map(|note| note.format())
}
