//! C2SP tlog-checkpoint: the note text `<origin>\n<size>\n<base64 root>\n`
//! followed by optional extension lines, and the signed note that carries it.

use vellum_merkle::{Hash, MAX_TREE_SIZE, TreeSize};

use crate::keys::{SigType, VerifierKey};
use crate::note::{Note, NoteError, NoteVerifier, VerifiedNote};
use crate::text::{DecimalError, b64_decode, b64_encode, find_control_char, parse_decimal};

/// Why a checkpoint was refused. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text does not end with a newline.
    #[error("a checkpoint text must end with a newline")]
    MissingFinalNewline,
    /// Fewer than the three mandatory lines.
    #[error("a checkpoint has at least 3 lines (origin, size, root hash), found {found}")]
    TooFewLines {
        /// The number of lines found.
        found: usize,
    },
    /// A control character other than newline.
    #[error("line {line} contains control character 0x{byte:02x}")]
    ControlCharacter {
        /// The line.
        line: usize,
        /// The character.
        byte: u8,
    },
    /// An empty first line.
    #[error("the origin (line 1) is empty")]
    EmptyOrigin,
    /// An origin with a newline or control character (in [`Checkpoint::new`]).
    #[error("the origin {origin:?} contains a newline or control character")]
    InvalidOrigin {
        /// The origin given.
        origin: String,
    },
    /// The size line is not a decimal with no leading zero.
    #[error("the tree size (line 2) {found:?} is not a valid decimal: {reason}")]
    InvalidSize {
        /// The line found.
        found: String,
        /// What is wrong with it.
        reason: DecimalError,
    },
    /// A size above the largest tree.
    #[error("the tree size {size} is larger than the maximum {MAX_TREE_SIZE}")]
    SizeOutOfRange {
        /// The size found.
        size: u64,
    },
    /// The root line is not canonical standard base64.
    #[error("the root hash (line 3) {found:?} is not valid standard base64 with padding")]
    InvalidRootBase64 {
        /// The line found.
        found: String,
    },
    /// The root decodes to something other than 32 bytes.
    #[error("the root hash (line 3) is {len} bytes, expected 32")]
    WrongRootLength {
        /// The decoded length.
        len: usize,
    },
    /// An empty extension line.
    #[error("extension line {line} is empty; extension lines must be non-empty")]
    EmptyExtensionLine {
        /// The line.
        line: usize,
    },
    /// The signed note is malformed or its signatures do not verify.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The log key given is not an Ed25519 (type 0x01) key.
    #[error(
        "log key {name:?} has signature type {found}; a log signs checkpoints with Ed25519 (0x01)"
    )]
    WrongLogKeyType {
        /// The key's name.
        name: String,
        /// The key's type.
        found: SigType,
    },
    /// Other trusted keys signed, but not the log.
    #[error("the checkpoint is not signed by the log key {name}+{key_id:08x}")]
    MissingLogSignature {
        /// The log key's name.
        name: String,
        /// The log key's id.
        key_id: u32,
    },
    /// The origin line is not the log key's name.
    #[error("the checkpoint origin {origin:?} is not the log's name {key_name:?}")]
    OriginMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The log key's name.
        key_name: String,
    },
}

/// A tree head as a tlog-checkpoint note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: TreeSize,
    root: Hash,
    /// Each non-empty, without newline.
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::EmptyOrigin`] or [`CheckpointError::InvalidOrigin`].
    pub fn new(origin: &str, size: TreeSize, root: Hash) -> Result<Checkpoint, CheckpointError> {
        check_line(origin).map_err(|empty| {
            if empty {
                CheckpointError::EmptyOrigin
            } else {
                CheckpointError::InvalidOrigin {
                    origin: origin.to_owned(),
                }
            }
        })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The same checkpoint with `extensions` as its extension lines.
    /// (tlog-checkpoint advises against them: monitors cannot audit them.)
    ///
    /// # Errors
    ///
    /// [`CheckpointError::EmptyExtensionLine`] for an empty line or
    /// [`CheckpointError::ControlCharacter`] for one with a newline or
    /// control character; lines are numbered as in the text (from 4).
    pub fn with_extensions(
        mut self,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, CheckpointError> {
        for (i, ext) in extensions.iter().enumerate() {
            let line = 4 + i;
            check_line(ext).map_err(|empty| {
                if empty {
                    CheckpointError::EmptyExtensionLine { line }
                } else {
                    CheckpointError::ControlCharacter {
                        line,
                        byte: ext.bytes().find(|&b| b < 0x20).unwrap_or(b'\n'),
                    }
                }
            })?;
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// Parses a checkpoint note text, strictly: at least three lines, a
    /// non-empty origin, a decimal size with no leading zero and within
    /// [`MAX_TREE_SIZE`], a base64 32-byte root, non-empty extension lines,
    /// a final newline, no control character but newline.
    ///
    /// # Errors
    ///
    /// The [`CheckpointError`] for the first thing wrong.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if let Some((line, byte)) = find_control_char(text) {
            return Err(CheckpointError::ControlCharacter { line, byte });
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { found: lines.len() });
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal(size).map_err(|reason| CheckpointError::InvalidSize {
            found: (*size).to_owned(),
            reason,
        })?;
        let size = TreeSize::new(size).map_err(|_| CheckpointError::SizeOutOfRange { size })?;
        let root_bytes = b64_decode(root).ok_or_else(|| CheckpointError::InvalidRootBase64 {
            found: (*root).to_owned(),
        })?;
        let root = Hash::from_slice(&root_bytes)
            .map_err(|e| CheckpointError::WrongRootLength { len: e.len })?;
        if let Some(i) = extensions.iter().position(|e| e.is_empty()) {
            return Err(CheckpointError::EmptyExtensionLine { line: 4 + i });
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        })
    }

    /// The note text, exactly: `<origin>\n<size>\n<base64 root>\n` and the
    /// extension lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size.get(),
            b64_encode(self.root.as_bytes())
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// The log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The root hash at that size.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines, without newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

/// `Err(true)` for an empty line, `Err(false)` for one with a control
/// character (newline included).
fn check_line(line: &str) -> Result<(), bool> {
    if line.is_empty() {
        Err(true)
    } else if line.bytes().any(|b| b < 0x20) {
        Err(false)
    } else {
        Ok(())
    }
}

/// A checkpoint in a note whose log signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    verified: VerifiedNote,
}

impl SignedCheckpoint {
    /// Parses and verifies a signed checkpoint from the log whose key is
    /// `log_key`: the note must carry a valid signature by that key, its
    /// text must be a checkpoint, and its origin must be the key's name.
    ///
    /// `others` are further trusted keys (witness
    /// [`CosignatureVerifier`](crate::CosignatureVerifier)s): their
    /// signatures, when present, must verify too, and are reported in
    /// [`SignedCheckpoint::verified`] at index `1 + i`. Index 0 is the log.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::WrongLogKeyType`], [`CheckpointError::Note`] when
    /// the note is malformed or a known signature fails,
    /// [`CheckpointError::MissingLogSignature`], the parse errors of
    /// [`Checkpoint::parse`], [`CheckpointError::OriginMismatch`].
    pub fn open(
        bytes: &[u8],
        log_key: &VerifierKey,
        others: &[&dyn NoteVerifier],
    ) -> Result<SignedCheckpoint, CheckpointError> {
        if log_key.sig_type() != SigType::Ed25519 {
            return Err(CheckpointError::WrongLogKeyType {
                name: log_key.name().to_owned(),
                found: log_key.sig_type(),
            });
        }
        let note = Note::parse(bytes)?;
        let mut verifiers: Vec<&dyn NoteVerifier> = Vec::with_capacity(1 + others.len());
        verifiers.push(log_key);
        verifiers.extend_from_slice(others);
        let verified = note.verify(&verifiers)?;
        if !verified.is_signed_by(0) {
            return Err(CheckpointError::MissingLogSignature {
                name: log_key.name().to_owned(),
                key_id: log_key.key_id(),
            });
        }
        let checkpoint = Checkpoint::parse(verified.text())?;
        if checkpoint.origin() != log_key.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: checkpoint.origin().to_owned(),
                key_name: log_key.name().to_owned(),
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            verified,
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note, every signature line included.
    pub fn note(&self) -> &Note {
        self.verified.note()
    }

    /// Which keys signed (index 0: the log; `1 + i`: `others[i]`).
    pub fn verified(&self) -> &VerifiedNote {
        &self.verified
    }

    /// The signed note in wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.verified.note().to_bytes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    const ROOT: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn round_trip_with_extensions() {
        let text = format!("example.com/log\n12\n{ROOT}\next one\next two\n");
        let cp = Checkpoint::parse(&text).unwrap();
        assert_eq!(cp.size().get(), 12);
        assert_eq!(cp.root(), Hash::empty_root());
        assert_eq!(cp.extensions(), ["ext one", "ext two"]);
        assert_eq!(cp.to_text(), text);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                format!("o\n1\n{ROOT}"),
                CheckpointError::MissingFinalNewline,
            ),
            ("o\n1\n".into(), CheckpointError::TooFewLines { found: 2 }),
            (format!("\n1\n{ROOT}\n"), CheckpointError::EmptyOrigin),
            (
                format!("o\n01\n{ROOT}\n"),
                CheckpointError::InvalidSize {
                    found: "01".into(),
                    reason: DecimalError::LeadingZero,
                },
            ),
            (
                format!("o\n-1\n{ROOT}\n"),
                CheckpointError::InvalidSize {
                    found: "-1".into(),
                    reason: DecimalError::NotADigit,
                },
            ),
            (
                format!("o\n9223372036854775809\n{ROOT}\n"),
                CheckpointError::SizeOutOfRange {
                    size: MAX_TREE_SIZE + 1,
                },
            ),
            (
                "o\n1\nAAAA\n".into(),
                CheckpointError::WrongRootLength { len: 3 },
            ),
            (
                "o\n1\nnot base64\n".into(),
                CheckpointError::InvalidRootBase64 {
                    found: "not base64".into(),
                },
            ),
            (
                format!("o\n1\n{ROOT}\n\n"),
                CheckpointError::EmptyExtensionLine { line: 4 },
            ),
            (
                format!("o\n1\r\n{ROOT}\n"),
                CheckpointError::ControlCharacter {
                    line: 2,
                    byte: b'\r',
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        assert!(Checkpoint::parse(&format!("o\n{MAX_TREE_SIZE}\n{ROOT}\n")).is_ok());
    }

    #[test]
    fn new_checks_lines() {
        let root = Hash::empty_root();
        assert_eq!(
            Checkpoint::new("", TreeSize::ZERO, root),
            Err(CheckpointError::EmptyOrigin)
        );
        assert!(matches!(
            Checkpoint::new("a\nb", TreeSize::ZERO, root),
            Err(CheckpointError::InvalidOrigin { .. })
        ));
        let cp = Checkpoint::new("o", TreeSize::ZERO, root).unwrap();
        assert_eq!(
            cp.clone().with_extensions(vec!["x".into(), String::new()]),
            Err(CheckpointError::EmptyExtensionLine { line: 5 })
        );
        assert_eq!(
            cp.with_extensions(vec!["a\nb".into()]),
            Err(CheckpointError::ControlCharacter {
                line: 4,
                byte: b'\n'
            })
        );
    }
}
