//! C2SP signed-note: a text, a blank line, and one or more signature lines
//! `— <key name> base64(key id || signature)`.
//!
//! Parsing here is structural only; [`Note::verify`] decides which signatures
//! count. The text MUST be ignored until a note has been verified.

mod error;
mod sign;
mod verify;

pub use error::NoteError;
pub use sign::{NoteSigner, sign_note};
pub use verify::{NoteVerifier, VerifiedNote, VerifiedSignature};

use std::fmt;

use crate::text::{b64_decode, b64_encode, find_control_char, is_valid_key_name};

/// Largest note accepted, in bytes. A checkpoint with a hundred post-quantum
/// cosignatures is well under this; anything larger is an attack on memory.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Most signature lines accepted in one note. signed-note requires at least
/// 16; 100 is the Go reference's limit, so both accept the same notes.
pub const MAX_SIGNATURES: usize = 100;

/// The prefix of a signature line: EM DASH (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by the key `name`/`key_id`; `signature` is the bytes that
    /// follow the 4-byte key id.
    ///
    /// # Errors
    ///
    /// [`NoteError::InvalidSignerName`] for a name signed-note does not
    /// allow; [`NoteError::EmptySignature`] when `signature` is empty (a line
    /// must carry at least one byte after the id).
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<NoteSignature, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidSignerName {
                name: name.to_owned(),
            });
        }
        if signature.is_empty() {
            return Err(NoteError::EmptySignature {
                name: name.to_owned(),
            });
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// Parses one signature line, without its final newline. `line` is the
    /// 1-based line number used in errors.
    fn parse_line(text: &str, line: usize) -> Result<NoteSignature, NoteError> {
        let rest = text
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::MissingEmDash { line })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::MissingSignature { line })?;
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName {
                line,
                name: name.to_owned(),
            });
        }
        let raw = b64_decode(b64).ok_or(NoteError::InvalidSignatureBase64 { line })?;
        if raw.len() < 5 {
            return Err(NoteError::SignatureTooShort {
                line,
                len: raw.len(),
            });
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }

    /// The signing key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signing key's id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key id.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Whether this signature claims the key `name`/`key_id`.
    pub fn is_by(&self, name: &str, key_id: u32) -> bool {
        self.name == name && self.key_id == key_id
    }

    /// The signature line, `— <name> <base64(id || signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, b64_encode(&raw))
    }
}

/// Parses newline-terminated signature lines, as a tlog-witness
/// `add-checkpoint` response carries them.
///
/// # Errors
///
/// The [`NoteError`] for the first bad line (numbered from 1 in `lines`),
/// [`NoteError::NoSignatures`] when there are none, and
/// [`NoteError::TooManySignatures`] past [`MAX_SIGNATURES`].
pub fn parse_signature_lines(lines: &str) -> Result<Vec<NoteSignature>, NoteError> {
    if lines.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: lines.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    if let Some((line, byte)) = find_control_char(lines) {
        return Err(NoteError::ControlCharacter { line, byte });
    }
    parse_signature_block(lines, 1)
}

/// Parses a signature block whose first line is line `first_line` of the
/// whole input. The block must be non-empty and newline-terminated.
fn parse_signature_block(block: &str, first_line: usize) -> Result<Vec<NoteSignature>, NoteError> {
    let Some(body) = block.strip_suffix('\n') else {
        return Err(if block.is_empty() {
            NoteError::NoSignatures
        } else {
            NoteError::MissingFinalNewline
        });
    };
    let mut signatures = Vec::new();
    for (i, text) in body.split('\n').enumerate() {
        if signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        signatures.push(NoteSignature::parse_line(text, first_line + i)?);
    }
    Ok(signatures)
}

/// Checks that `text` can be the text of a note: non-empty, newline at the
/// end, no control characters but newline, not too large.
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: text.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextMissingFinalNewline);
    }
    if let Some((line, byte)) = find_control_char(text) {
        return Err(NoteError::ControlCharacter { line, byte });
    }
    Ok(())
}

/// A signed note, parsed but not verified: its text must not be trusted
/// before [`Note::verify`] has succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Includes the final newline, not the blank separator line.
    text: String,
    /// In the order they appear; never empty.
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note from its text and signatures.
    ///
    /// # Errors
    ///
    /// [`NoteError::TextMissingFinalNewline`],
    /// [`NoteError::ControlCharacter`] or [`NoteError::TooLarge`] for a text
    /// that cannot be a note's; [`NoteError::NoSignatures`] or
    /// [`NoteError::TooManySignatures`].
    pub fn new(text: String, signatures: Vec<NoteSignature>) -> Result<Note, NoteError> {
        check_text(&text)?;
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let note = Note { text, signatures };
        note.check_size()?;
        Ok(note)
    }

    /// Parses a signed note, strictly: valid UTF-8, no control character but
    /// newline, the text separated from the signatures by the last blank
    /// line, at least one and at most [`MAX_SIGNATURES`] well-formed
    /// signature lines, a final newline, at most [`MAX_NOTE_SIZE`] bytes.
    ///
    /// # Errors
    ///
    /// The [`NoteError`] for the first thing wrong, with its line number.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let all = std::str::from_utf8(bytes).map_err(|e| NoteError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        if let Some((line, byte)) = find_control_char(all) {
            return Err(NoteError::ControlCharacter { line, byte });
        }
        // The LAST blank line separates: the text may contain blank lines,
        // the signature block cannot.
        let split = all.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, block) = (&all[..split + 1], &all[split + 2..]);
        let first_sig_line = text.bytes().filter(|&b| b == b'\n').count() + 2;
        let signatures = parse_signature_block(block, first_sig_line)?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, final newline included. Untrusted until verified.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The note in wire form: text, blank line, signature lines.
    pub fn format(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }

    /// [`Note::format`] as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.format().into_bytes()
    }

    /// Adds signatures, e.g. the cosignatures a witness returned. A new
    /// signature replaces an existing one by the same key (same name and id),
    /// in place, as a fresh cosignature supersedes an older one; the others
    /// are appended in order.
    ///
    /// # Errors
    ///
    /// [`NoteError::TooManySignatures`] or [`NoteError::TooLarge`] if the
    /// result would be too big; the note is then unchanged.
    pub fn add_signatures<I>(&mut self, signatures: I) -> Result<(), NoteError>
    where
        I: IntoIterator<Item = NoteSignature>,
    {
        let mut merged = self.signatures.clone();
        for new in signatures {
            match merged.iter_mut().find(|s| s.is_by(&new.name, new.key_id)) {
                Some(old) => *old = new,
                None => {
                    if merged.len() == MAX_SIGNATURES {
                        return Err(NoteError::TooManySignatures {
                            max: MAX_SIGNATURES,
                        });
                    }
                    merged.push(new);
                }
            }
        }
        let candidate = Note {
            text: self.text.clone(),
            signatures: merged,
        };
        candidate.check_size()?;
        *self = candidate;
        Ok(())
    }

    /// Parses `lines` with [`parse_signature_lines`] and adds them with
    /// [`Note::add_signatures`].
    ///
    /// # Errors
    ///
    /// As those two functions.
    pub fn add_signature_lines(&mut self, lines: &str) -> Result<(), NoteError> {
        let signatures = parse_signature_lines(lines)?;
        self.add_signatures(signatures)
    }

    fn check_size(&self) -> Result<(), NoteError> {
        let size = self.text.len()
            + 1
            + self
                .signatures
                .iter()
                .map(|s| {
                    SIG_PREFIX.len()
                        + s.name.len()
                        + 1
                        + (4 + s.signature.len()).div_ceil(3) * 4
                        + 1
                })
                .sum::<usize>();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size,
                max: MAX_NOTE_SIZE,
            });
        }
        Ok(())
    }
}

/// The wire form, as [`Note::format`].
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    fn sig(name: &str, id: u32, bytes: &[u8]) -> NoteSignature {
        NoteSignature::new(name, id, bytes.to_vec()).unwrap()
    }

    #[test]
    fn parse_splits_at_last_blank_line() {
        let s = sig("a.example", 7, &[1, 2, 3]);
        let raw = format!("one\n\ntwo\n\n{}", s.to_line());
        let note = Note::parse(raw.as_bytes()).unwrap();
        assert_eq!(note.text(), "one\n\ntwo\n");
        assert_eq!(note.signatures(), &[s]);
        assert_eq!(note.format(), raw);
    }

    #[test]
    fn structural_errors_name_the_line() {
        let good = sig("a.example", 7, &[1, 2, 3]).to_line();
        let cases: Vec<(String, NoteError)> = vec![
            ("t\n".into(), NoteError::MissingBlankLine),
            ("t\n\n".into(), NoteError::NoSignatures),
            (
                format!("t\n\n{}", good.trim_end()),
                NoteError::MissingFinalNewline,
            ),
            (
                format!("t\n\n{good}- x AAAAAAA=\n"),
                NoteError::MissingEmDash { line: 4 },
            ),
            (
                format!("t\n\n{good}\u{2014} x\n"),
                NoteError::MissingSignature { line: 4 },
            ),
            (
                "t\n\n\u{2014} a+b AAAAAAA=\n".into(),
                NoteError::InvalidKeyName {
                    line: 3,
                    name: "a+b".into(),
                },
            ),
            (
                "t\n\n\u{2014} a  AAAAAAA=\n".into(),
                NoteError::InvalidSignatureBase64 { line: 3 },
            ),
            (
                "t\n\n\u{2014} a AAAAAAA\n".into(),
                NoteError::InvalidSignatureBase64 { line: 3 },
            ),
            (
                "t\n\n\u{2014} a AAAAAA==\n".into(),
                NoteError::SignatureTooShort { line: 3, len: 4 },
            ),
            (
                format!("t\r\n\n{good}"),
                NoteError::ControlCharacter {
                    line: 1,
                    byte: b'\r',
                },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(Note::parse(raw.as_bytes()), Err(want), "{raw:?}");
        }
        assert_eq!(
            Note::parse(b"t\n\n\xff"),
            Err(NoteError::InvalidUtf8 { offset: 3 })
        );
    }

    #[test]
    fn add_signatures_replaces_same_key_and_appends_others() {
        let mut note =
            Note::new("t\n".into(), vec![sig("log", 1, &[1]), sig("w", 2, &[2])]).unwrap();
        note.add_signature_lines(&(sig("w", 2, &[3]).to_line() + &sig("w", 9, &[4]).to_line()))
            .unwrap();
        assert_eq!(
            note.signatures(),
            &[sig("log", 1, &[1]), sig("w", 2, &[3]), sig("w", 9, &[4])]
        );
        let too_many: Vec<_> = (0..MAX_SIGNATURES as u32)
            .map(|i| sig("x", 100 + i, &[0]))
            .collect();
        let before = note.clone();
        assert_eq!(
            note.add_signatures(too_many),
            Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES
            })
        );
        assert_eq!(note, before);
    }

    #[test]
    fn size_limit() {
        let text = "a".repeat(MAX_NOTE_SIZE) + "\n";
        assert!(matches!(
            Note::new(text.clone(), vec![sig("a", 1, &[1])]),
            Err(NoteError::TooLarge { .. })
        ));
        assert!(matches!(
            Note::parse(text.as_bytes()),
            Err(NoteError::TooLarge { .. })
        ));
    }
}
