//! The tlog-witness `add-checkpoint` request body, both ways:
//!
//! ```text
//! old <size>\n
//! <base64 hash>\n        (0 to 63 consistency proof lines)
//! \n
//! <signed checkpoint note>
//! ```
//!
//! Parsing is structural: nothing in a parsed request is trusted until the
//! witness has verified the note.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vellum_merkle::{Hash, MAX_TREE_SIZE, TreeSize};
use vellum_note::{Checkpoint, CheckpointError, DecimalError, Note, NoteError};

/// Largest request body accepted, in bytes: a note at its size limit fits,
/// with the header lines, nothing much larger does.
pub const MAX_BODY_SIZE: usize = vellum_note::note::MAX_NOTE_SIZE + 4096;

/// Most consistency proof lines a request may carry (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// Why an `add-checkpoint` body is malformed. Lines count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Larger than [`MAX_BODY_SIZE`].
    #[error("the request body is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The size found (at least).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// No empty line between the header lines and the checkpoint.
    #[error(
        "the request has no empty line between the old size and proof lines and the checkpoint"
    )]
    MissingBlankLine,
    /// The header lines are not UTF-8.
    #[error("the old size and proof lines are not valid UTF-8")]
    NotUtf8,
    /// The first line is not `old <size>`.
    #[error("line 1 must be \"old <size>\", found {found:?}")]
    MissingOldLine {
        /// The line found (cut to 64 characters).
        found: String,
    },
    /// The old size is not a decimal with no leading zero.
    #[error("line 1: the old size {found:?} is not a valid decimal: {reason}")]
    InvalidOldSize {
        /// The size as written (cut to 64 characters).
        found: String,
        /// What is wrong with it.
        reason: DecimalError,
    },
    /// An old size larger than any tree.
    #[error("line 1: the old size {size} is larger than the maximum tree size {MAX_TREE_SIZE}")]
    OldSizeOutOfRange {
        /// The size.
        size: u64,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("the request has {found} consistency proof lines, at most {max} are allowed")]
    TooManyProofLines {
        /// The number found.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// A proof line that is not a canonical base64 32-byte hash.
    #[error(
        "line {line} is not a base64-encoded 32-byte hash (a missing empty line before the checkpoint looks like this too)"
    )]
    InvalidProofLine {
        /// The line.
        line: usize,
    },
    /// What follows the empty line is not a signed note.
    #[error("the checkpoint is not a valid signed note: {0}")]
    Note(NoteError),
    /// The note's text is not a checkpoint.
    #[error("the note is not a checkpoint: {0}")]
    Checkpoint(CheckpointError),
}

/// A parsed `add-checkpoint` request. Untrusted: the note is unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    old_size: TreeSize,
    proof: Vec<Hash>,
    note: Note,
    claimed: Checkpoint,
}

impl AddCheckpointRequest {
    /// Parses a request body, strictly: `old` line with a decimal size with
    /// no leading zero, at most 63 canonical base64 hashes, an empty line,
    /// a signed note whose text is a checkpoint.
    ///
    /// # Errors
    ///
    /// The [`RequestError`] for the first thing wrong.
    pub fn parse(body: &[u8]) -> Result<AddCheckpointRequest, RequestError> {
        if body.len() > MAX_BODY_SIZE {
            return Err(RequestError::TooLarge {
                size: body.len(),
                max: MAX_BODY_SIZE,
            });
        }
        // Header lines are never empty, so the first empty line ends them;
        // the note has its own empty line further on.
        let split = body
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or(RequestError::MissingBlankLine)?;
        let header = std::str::from_utf8(&body[..split]).map_err(|_| RequestError::NotUtf8)?;
        let note_bytes = &body[split + 2..];
        let mut lines = header.split('\n');
        // split always yields a first item.
        let first = lines.next().unwrap_or_default();
        let old_size = parse_old_line(first)?;
        let proof_lines: Vec<&str> = lines.collect();
        if proof_lines.len() > MAX_PROOF_LINES {
            return Err(RequestError::TooManyProofLines {
                found: proof_lines.len(),
                max: MAX_PROOF_LINES,
            });
        }
        let proof = proof_lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                STANDARD
                    .decode(l)
                    .ok()
                    .and_then(|b| Hash::from_slice(&b).ok())
                    .ok_or(RequestError::InvalidProofLine { line: i + 2 })
            })
            .collect::<Result<Vec<Hash>, RequestError>>()?;
        let note = Note::parse(note_bytes).map_err(RequestError::Note)?;
        let claimed = Checkpoint::parse(note.text()).map_err(RequestError::Checkpoint)?;
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            note,
            claimed,
        })
    }

    /// The body for a request, as a log sends it. The caller keeps the
    /// proof within [`MAX_PROOF_LINES`] and passes a signed note.
    pub fn encode(old_size: u64, proof: &[Hash], signed_checkpoint: &[u8]) -> Vec<u8> {
        let mut out = format!("old {old_size}\n").into_bytes();
        for h in proof {
            out.extend_from_slice(STANDARD.encode(h.as_bytes()).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(signed_checkpoint);
        out
    }

    /// The size the client says the witness last cosigned.
    pub fn old_size(&self) -> TreeSize {
        self.old_size
    }

    /// The consistency proof from the old size to the checkpoint's.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The note, every signature line included. Unverified.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint the note's text claims. Unverified: use its origin
    /// only to pick the key to verify with.
    pub fn claimed(&self) -> &Checkpoint {
        &self.claimed
    }
}

fn parse_old_line(line: &str) -> Result<TreeSize, RequestError> {
    let cut = |s: &str| s.chars().take(64).collect::<String>();
    let digits = line
        .strip_prefix("old ")
        .ok_or_else(|| RequestError::MissingOldLine { found: cut(line) })?;
    let invalid = |reason| RequestError::InvalidOldSize {
        found: cut(digits),
        reason,
    };
    if digits.is_empty() {
        return Err(invalid(DecimalError::Empty));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(DecimalError::NotADigit));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(invalid(DecimalError::LeadingZero));
    }
    let size: u64 = digits
        .parse()
        .map_err(|_| invalid(DecimalError::Overflow))?;
    TreeSize::new(size).map_err(|_| RequestError::OldSizeOutOfRange { size })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    const NOTE: &str =
        "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} o AAAAAQE=\n";
    const H: &str = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";

    fn parse(s: &str) -> Result<AddCheckpointRequest, RequestError> {
        AddCheckpointRequest::parse(s.as_bytes())
    }

    #[test]
    fn round_trip() {
        let proof = vec![Hash([1; 32]), Hash([2; 32])];
        let body = AddCheckpointRequest::encode(3, &proof, NOTE.as_bytes());
        let req = AddCheckpointRequest::parse(&body).unwrap();
        assert_eq!(req.old_size().get(), 3);
        assert_eq!(req.proof(), proof);
        assert_eq!(req.claimed().size().get(), 5);
        assert_eq!(req.note().format(), NOTE);
        let req = parse(&format!("old 0\n\n{NOTE}")).unwrap();
        assert!(req.proof().is_empty());
        let lines = format!("{H}\n").repeat(MAX_PROOF_LINES);
        assert_eq!(
            parse(&format!("old 1\n{lines}\n{NOTE}"))
                .unwrap()
                .proof()
                .len(),
            63
        );
    }

    #[test]
    fn refusals() {
        let too_many = format!("{H}\n").repeat(MAX_PROOF_LINES + 1);
        let cases: Vec<(String, RequestError)> = vec![
            (
                NOTE.to_owned(),
                RequestError::MissingOldLine { found: "o".into() },
            ),
            (
                format!("\n{NOTE}"),
                RequestError::MissingOldLine { found: "".into() },
            ),
            (
                format!("old 05\n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: "05".into(),
                    reason: DecimalError::LeadingZero,
                },
            ),
            (
                format!("old 00\n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: "00".into(),
                    reason: DecimalError::LeadingZero,
                },
            ),
            (
                format!("old +5\n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: "+5".into(),
                    reason: DecimalError::NotADigit,
                },
            ),
            (
                format!("old  5\n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: " 5".into(),
                    reason: DecimalError::NotADigit,
                },
            ),
            (
                format!("old \n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: "".into(),
                    reason: DecimalError::Empty,
                },
            ),
            (
                format!("old 99999999999999999999\n\n{NOTE}"),
                RequestError::InvalidOldSize {
                    found: "99999999999999999999".into(),
                    reason: DecimalError::Overflow,
                },
            ),
            (
                format!("old 9223372036854775809\n\n{NOTE}"),
                RequestError::OldSizeOutOfRange {
                    size: MAX_TREE_SIZE + 1,
                },
            ),
            (
                format!("OLD 5\n\n{NOTE}"),
                RequestError::MissingOldLine {
                    found: "OLD 5".into(),
                },
            ),
            (
                format!("old 5\n{too_many}\n{NOTE}"),
                RequestError::TooManyProofLines {
                    found: 64,
                    max: MAX_PROOF_LINES,
                },
            ),
            (
                format!("old 5\n{H}\nnot base64!\n\n{NOTE}"),
                RequestError::InvalidProofLine { line: 3 },
            ),
            (
                format!("old 5\nAAAA\n\n{NOTE}"),
                RequestError::InvalidProofLine { line: 2 },
            ),
            (
                format!("old 5\n{}\n\n{NOTE}", H.trim_end_matches('=')),
                RequestError::InvalidProofLine { line: 2 },
            ),
            (
                format!("old 5\n{H}\r\n\n{NOTE}"),
                RequestError::InvalidProofLine { line: 2 },
            ),
            ("old 5\n".to_owned(), RequestError::MissingBlankLine),
            (
                // Without the empty line, the note's text reads as proof.
                format!("old 5\n{NOTE}"),
                RequestError::InvalidProofLine { line: 2 },
            ),
            (
                "old 5\n\nhello\n".to_owned(),
                RequestError::Note(NoteError::MissingBlankLine),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(parse(&body), Err(want), "{body:?}");
        }
        assert!(matches!(
            parse("old 5\n\nnot\na checkpoint\n\n\u{2014} o AAAAAQE=\n"),
            Err(RequestError::Checkpoint(_))
        ));
        assert!(matches!(
            AddCheckpointRequest::parse(&[b'o', b'l', 0xff, b'\n', b'\n']),
            Err(RequestError::NotUtf8)
        ));
        let big = vec![b'a'; MAX_BODY_SIZE + 1];
        assert!(matches!(
            AddCheckpointRequest::parse(&big),
            Err(RequestError::TooLarge { .. })
        ));
    }
}
