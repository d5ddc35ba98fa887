//! Evidence that a log showed two views of its history that cannot both be
//! true, in a file anyone holding the log's key can check.
//!
//! # File format
//!
//! Text, line by line; every line ends with `\n`. The notes are included
//! byte for byte, prefixed by their length, because a signed note itself
//! contains a blank line.
//!
//! ```text
//! vellum-evidence v1 <kind>
//! reason <one line, for people; never trusted>
//! trusted <byte length>
//! <the trusted signed checkpoint note, verbatim>
//! offending <byte length>
//! <the offending signed checkpoint note, verbatim>
//! proof none | proof <count>
//! <count base64 hashes, one per line: the consistency proof from the
//!  trusted size to the offending size, as the log served it>
//! ```
//!
//! `<kind>` is one of:
//!
//! * `split-view`: both checkpoints have the same size and different roots.
//!   Conclusive on its own: a log that signs two different trees of one size
//!   has forked.
//! * `inconsistent`: the offending checkpoint is larger, and the log's
//!   consistency proof from the trusted one does not verify. Anyone can
//!   re-check that this proof fails; the log can refute the evidence only by
//!   producing a consistency proof that verifies, which a forked log cannot.
//! * `rollback`: the offending checkpoint is smaller than the trusted one,
//!   which the log had already signed: the log (or its storage) went back in
//!   time, or is showing an old view.
//!
//! [`Evidence::verify`] checks the signatures of both notes against the
//! log's key or policy and recomputes the kind from their contents; the
//! header's kind and reason are never trusted.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vellum_merkle::{ConsistencyError, Hash, proof::verify_consistency};
use vellum_note::PolicyError;

use crate::trust::{Trust, TrustedCheckpoint};

/// The first word of an evidence file.
const HEADER: &str = "vellum-evidence v1";
/// Largest evidence file accepted: two notes at their maximum size and a
/// proof of at most 126 hashes, with room to spare.
pub const MAX_EVIDENCE_SIZE: usize = 1 << 20;

/// What the two checkpoints show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// Same size, different roots.
    SplitView,
    /// A larger tree that the log's consistency proof does not connect.
    Inconsistent,
    /// A smaller tree than one already signed.
    Rollback,
}

impl EvidenceKind {
    fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::SplitView => "split-view",
            EvidenceKind::Inconsistent => "inconsistent",
            EvidenceKind::Rollback => "rollback",
        }
    }

    fn parse(s: &str) -> Option<EvidenceKind> {
        match s {
            "split-view" => Some(EvidenceKind::SplitView),
            "inconsistent" => Some(EvidenceKind::Inconsistent),
            "rollback" => Some(EvidenceKind::Rollback),
            _ => None,
        }
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Two signed checkpoints of one log that conflict, with the consistency
/// proof the log offered (if any) and why they conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    kind: EvidenceKind,
    reason: String,
    trusted: Vec<u8>,
    offending: Vec<u8>,
    proof: Option<Vec<Hash>>,
}

/// Why an evidence file was refused or does not show a conflict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The file is not in the evidence format.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line (from 1).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file is larger than [`MAX_EVIDENCE_SIZE`].
    #[error("the evidence is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A checkpoint is not validly signed by a trusted log.
    #[error("the {which} checkpoint does not verify: {source}")]
    BadSignature {
        /// `trusted` or `offending`.
        which: &'static str,
        /// Why.
        source: PolicyError,
    },
    /// The two checkpoints are from different logs.
    #[error("the checkpoints are from different logs ({trusted:?} and {offending:?})")]
    DifferentLogs {
        /// The trusted checkpoint's origin.
        trusted: String,
        /// The offending checkpoint's origin.
        offending: String,
    },
    /// The checkpoints do not conflict.
    #[error("no conflict: {0}")]
    NoConflict(String),
    /// The file says one kind, the checkpoints show another.
    #[error("the evidence claims {claimed} but the checkpoints show {actual}")]
    WrongKind {
        /// The kind in the header.
        claimed: EvidenceKind,
        /// The kind the checkpoints show.
        actual: EvidenceKind,
    },
}

/// What [`Evidence::verify`] established.
#[derive(Clone, Debug)]
pub struct VerifiedEvidence {
    /// The kind of conflict.
    pub kind: EvidenceKind,
    /// The trusted checkpoint, verified.
    pub trusted: TrustedCheckpoint,
    /// The offending checkpoint, verified.
    pub offending: TrustedCheckpoint,
    /// For [`EvidenceKind::Inconsistent`]: why the proof fails.
    pub proof_failure: Option<ConsistencyError>,
}

impl Evidence {
    /// Evidence from two checkpoints the client verified.
    pub(crate) fn new(
        kind: EvidenceKind,
        reason: String,
        trusted: &TrustedCheckpoint,
        offending: &TrustedCheckpoint,
        proof: Option<Vec<Hash>>,
    ) -> Evidence {
        Evidence {
            kind,
            // The reason is one line in the file.
            reason: reason.replace('\n', " "),
            trusted: trusted.note().to_vec(),
            offending: offending.note().to_vec(),
            proof,
        }
    }

    /// The kind of conflict, as recorded.
    pub fn kind(&self) -> EvidenceKind {
        self.kind
    }

    /// Why the client refused the offending checkpoint, for people.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The checkpoint the client trusted, as signed.
    pub fn trusted_note(&self) -> &[u8] {
        &self.trusted
    }

    /// The checkpoint that conflicts with it, as signed.
    pub fn offending_note(&self) -> &[u8] {
        &self.offending
    }

    /// The consistency proof the log offered from the trusted size to the
    /// offending size, if it offered one.
    pub fn proof(&self) -> Option<&[Hash]> {
        self.proof.as_deref()
    }

    /// Checks that both checkpoints are validly signed by the same trusted
    /// log and really conflict, recomputing the kind from their contents.
    ///
    /// # Errors
    ///
    /// [`EvidenceError::BadSignature`], [`EvidenceError::DifferentLogs`],
    /// [`EvidenceError::NoConflict`] or [`EvidenceError::WrongKind`].
    pub fn verify(&self, trust: &Trust) -> Result<VerifiedEvidence, EvidenceError> {
        let trusted = trust
            .check(&self.trusted)
            .map_err(|source| EvidenceError::BadSignature {
                which: "trusted",
                source,
            })?;
        let offending =
            trust
                .check(&self.offending)
                .map_err(|source| EvidenceError::BadSignature {
                    which: "offending",
                    source,
                })?;
        if trusted.origin() != offending.origin() {
            return Err(EvidenceError::DifferentLogs {
                trusted: trusted.origin().to_owned(),
                offending: offending.origin().to_owned(),
            });
        }
        let (m, n) = (trusted.size(), offending.size());
        let (actual, proof_failure) = if m == n {
            if trusted.root() == offending.root() {
                return Err(EvidenceError::NoConflict(format!(
                    "both checkpoints are of size {m} with the same root"
                )));
            }
            (EvidenceKind::SplitView, None)
        } else if n < m {
            (EvidenceKind::Rollback, None)
        } else {
            let proof = self.proof.as_deref().ok_or_else(|| {
                EvidenceError::NoConflict(format!(
                    "the offending checkpoint (size {n}) is larger than the trusted one (size \
                     {m}) and there is no consistency proof that fails"
                ))
            })?;
            match verify_consistency(m, &trusted.root(), n, &offending.root(), proof) {
                Ok(()) => {
                    return Err(EvidenceError::NoConflict(format!(
                        "the consistency proof from size {m} to {n} verifies"
                    )));
                }
                Err(e) => (EvidenceKind::Inconsistent, Some(e)),
            }
        };
        if actual != self.kind {
            return Err(EvidenceError::WrongKind {
                claimed: self.kind,
                actual,
            });
        }
        Ok(VerifiedEvidence {
            kind: actual,
            trusted,
            offending,
            proof_failure,
        })
    }

    /// The evidence file (see the [module docs](self) for the format).
    pub fn to_file_text(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.trusted.len() + self.offending.len() + 512);
        out.extend_from_slice(format!("{HEADER} {}\n", self.kind).as_bytes());
        out.extend_from_slice(format!("reason {}\n", self.reason).as_bytes());
        out.extend_from_slice(format!("trusted {}\n", self.trusted.len()).as_bytes());
        out.extend_from_slice(&self.trusted);
        out.extend_from_slice(format!("offending {}\n", self.offending.len()).as_bytes());
        out.extend_from_slice(&self.offending);
        match &self.proof {
            None => out.extend_from_slice(b"proof none\n"),
            Some(p) => {
                out.extend_from_slice(format!("proof {}\n", p.len()).as_bytes());
                for h in p {
                    out.extend_from_slice(STANDARD.encode(h.as_bytes()).as_bytes());
                    out.push(b'\n');
                }
            }
        }
        out
    }

    /// Parses an evidence file. Nothing is verified: call
    /// [`Evidence::verify`].
    ///
    /// # Errors
    ///
    /// [`EvidenceError::TooLarge`] or [`EvidenceError::Malformed`].
    pub fn parse(input: &[u8]) -> Result<Evidence, EvidenceError> {
        if input.len() > MAX_EVIDENCE_SIZE {
            return Err(EvidenceError::TooLarge {
                size: input.len(),
                max: MAX_EVIDENCE_SIZE,
            });
        }
        let mut r = Reader {
            rest: input,
            line: 0,
        };
        let header = r.line()?;
        let kind = header
            .strip_prefix(HEADER)
            .and_then(|k| k.strip_prefix(' '))
            .and_then(EvidenceKind::parse)
            .ok_or_else(|| {
                r.err(format!(
                    "expected \"{HEADER} split-view|inconsistent|rollback\""
                ))
            })?;
        let reason = r
            .line()?
            .strip_prefix("reason ")
            .ok_or_else(|| r.err("expected \"reason <text>\"".into()))?
            .to_owned();
        let trusted = r.note("trusted")?;
        let offending = r.note("offending")?;
        let count = r
            .line()?
            .strip_prefix("proof ")
            .ok_or_else(|| r.err("expected \"proof none\" or \"proof <count>\"".into()))?;
        let proof = if count == "none" {
            None
        } else {
            let n = parse_count(count).ok_or_else(|| r.err(format!("bad count {count:?}")))?;
            if n > 2 * 64 {
                return Err(r.err(format!("{n} hashes is more than any consistency proof")));
            }
            let mut p = Vec::with_capacity(n);
            for _ in 0..n {
                let l = r.line()?;
                let h = STANDARD
                    .decode(l)
                    .ok()
                    .and_then(|b| Hash::from_slice(&b).ok())
                    .ok_or_else(|| r.err("expected a base64 SHA-256 hash".into()))?;
                p.push(h);
            }
            Some(p)
        };
        if !r.rest.is_empty() {
            return Err(EvidenceError::Malformed {
                line: r.line + 1,
                reason: "unexpected data after the proof".into(),
            });
        }
        Ok(Evidence {
            kind,
            reason,
            trusted,
            offending,
            proof,
        })
    }
}

/// A decimal with no sign and no leading zero.
fn parse_count(s: &str) -> Option<usize> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

struct Reader<'a> {
    rest: &'a [u8],
    line: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: String) -> EvidenceError {
        EvidenceError::Malformed {
            line: self.line,
            reason,
        }
    }

    fn line(&mut self) -> Result<&'a str, EvidenceError> {
        self.line += 1;
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("the file ends here".into()))?;
        let l = std::str::from_utf8(&self.rest[..end])
            .map_err(|_| self.err("not UTF-8 text".into()))?;
        self.rest = &self.rest[end + 1..];
        Ok(l)
    }

    /// `<label> <length>` and that many bytes.
    fn note(&mut self, label: &str) -> Result<Vec<u8>, EvidenceError> {
        let l = self.line()?;
        let len = l
            .strip_prefix(label)
            .and_then(|x| x.strip_prefix(' '))
            .and_then(parse_count)
            .ok_or_else(|| self.err(format!("expected \"{label} <byte length>\"")))?;
        if len > self.rest.len() {
            return Err(self.err(format!("the {label} note is cut short")));
        }
        let (note, rest) = self.rest.split_at(len);
        if note.last() != Some(&b'\n') {
            return Err(self.err(format!("the {label} note does not end with a newline")));
        }
        self.line += note.iter().filter(|&&b| b == b'\n').count();
        self.rest = rest;
        Ok(note.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    fn sample(proof: Option<Vec<Hash>>) -> Evidence {
        Evidence {
            kind: EvidenceKind::Inconsistent,
            reason: "the proof does not verify".into(),
            trusted: b"o\n1\nAAAA\n\n\xe2\x80\x94 o abc\n".to_vec(),
            offending: b"o\n2\nBBBB\n\n\xe2\x80\x94 o def\n".to_vec(),
            proof,
        }
    }

    #[test]
    fn round_trips() {
        for proof in [None, Some(vec![]), Some(vec![Hash([7; 32]), Hash([9; 32])])] {
            let e = sample(proof);
            let text = e.to_file_text();
            assert_eq!(Evidence::parse(&text).unwrap(), e);
        }
    }

    #[test]
    fn refuses_damage() {
        let text = sample(Some(vec![Hash([1; 32])])).to_file_text();
        // Every truncation is refused, never accepted as a shorter file.
        for cut in 0..text.len() {
            assert!(Evidence::parse(&text[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = text.clone();
        extra.extend_from_slice(b"x\n");
        assert!(Evidence::parse(&extra).is_err());
        let wrong = String::from_utf8(text)
            .unwrap()
            .replace("inconsistent", "forked");
        assert!(matches!(
            Evidence::parse(wrong.as_bytes()),
            Err(EvidenceError::Malformed { line: 1, .. })
        ));
    }
}
