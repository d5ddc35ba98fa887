//! Why a note was not parsed, signed or verified.

use crate::keys::SigType;

/// Why a note was not parsed, signed or verified. Line numbers count from 1
/// over the whole note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Bigger than [`MAX_NOTE_SIZE`](crate::note::MAX_NOTE_SIZE).
    #[error("the note is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The size found (or that the result would have).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid UTF-8.
    #[error("the note is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// A control character other than newline (CR from a CRLF conversion,
    /// tab, NUL...).
    #[error(
        "line {line} contains control character 0x{byte:02x}; a note allows no control character but newline (CRLF line endings are not allowed)"
    )]
    ControlCharacter {
        /// The line it is on.
        line: usize,
        /// The character.
        byte: u8,
    },
    /// No blank line separating the text from the signatures.
    #[error("the note has no blank line separating its text from its signature lines")]
    MissingBlankLine,
    /// Nothing after the blank line.
    #[error("the note has no signature lines after its last blank line")]
    NoSignatures,
    /// The last signature line has no newline.
    #[error("the note does not end with a newline")]
    MissingFinalNewline,
    /// More signature lines than [`MAX_SIGNATURES`](crate::note::MAX_SIGNATURES).
    #[error("the note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature line that does not start with an em dash and a space.
    #[error(
        "line {line} is in the signature block but does not start with \"— \" (U+2014 and a space)"
    )]
    MissingEmDash {
        /// The line.
        line: usize,
    },
    /// A signature line with a key name and nothing else.
    #[error("signature line {line} has a key name but no space and signature after it")]
    MissingSignature {
        /// The line.
        line: usize,
    },
    /// A signature line whose key name signed-note does not allow.
    #[error(
        "signature line {line} has invalid key name {name:?} (non-empty, no white space, no '+')"
    )]
    InvalidKeyName {
        /// The line.
        line: usize,
        /// The name found.
        name: String,
    },
    /// A signature that is not canonical standard base64 (with padding).
    #[error("signature line {line}: the signature is not valid standard base64 with padding")]
    InvalidSignatureBase64 {
        /// The line.
        line: usize,
    },
    /// A signature of fewer than 5 bytes (a 4-byte key id and at least one).
    #[error(
        "signature line {line}: the signature is {len} bytes, at least 5 expected (a 4-byte key id and the signature)"
    )]
    SignatureTooShort {
        /// The line.
        line: usize,
        /// The decoded length.
        len: usize,
    },
    /// A note text that does not end with a newline.
    #[error("a note text must end with a newline")]
    TextMissingFinalNewline,
    /// A signer or signature with a name signed-note does not allow.
    #[error("invalid signer key name {name:?} (non-empty, no white space, no '+')")]
    InvalidSignerName {
        /// The name.
        name: String,
    },
    /// A signer that produced no signature bytes.
    #[error("signer {name:?} produced an empty signature")]
    EmptySignature {
        /// The signer's name.
        name: String,
    },
    /// A key of the wrong signature type used to sign a note directly.
    #[error(
        "key {name:?} has signature type {found}; signing a note text directly needs {expected}"
    )]
    WrongSignerType {
        /// The key's name.
        name: String,
        /// The type needed.
        expected: SigType,
        /// The key's type.
        found: SigType,
    },
    /// Two signers with the same key name and id.
    #[error("two signers share key name {name:?} and id {key_id:08x}")]
    DuplicateSigner {
        /// The name.
        name: String,
        /// The id.
        key_id: u32,
    },
    /// Two verifiers with the same key name and id: a misconfiguration that
    /// would make "which key signed" ambiguous.
    #[error("two trusted keys share key name {name:?} and id {key_id:08x}")]
    AmbiguousVerifier {
        /// The name.
        name: String,
        /// The id.
        key_id: u32,
    },
    /// A signature from a known key that does not verify: the whole note is
    /// rejected, as signed-note recommends.
    #[error(
        "the signature by known key {name}+{key_id:08x} does not verify: the note was altered or the signature forged"
    )]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// No signature from any known key.
    #[error("no signature from a trusted key; the note is signed only by {}", list_keys(.found))]
    NoVerifiedSignature {
        /// The (name, id) of the signatures that were there, all unknown.
        found: Vec<(String, u32)>,
    },
}

fn list_keys(found: &[(String, u32)]) -> String {
    if found.is_empty() {
        return "nobody".to_owned();
    }
    found
        .iter()
        .map(|(name, id)| format!("{name}+{id:08x}"))
        .collect::<Vec<_>>()
        .join(", ")
}
