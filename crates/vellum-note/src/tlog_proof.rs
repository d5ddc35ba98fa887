//! C2SP tlog-proof (`c2sp.org/tlog-proof@v1`): an offline-verifiable proof
//! that an entry is in a log, as one text file.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional)
//! index <decimal>
//! <base64 hash>             (zero or more: the inclusion proof)
//!
//! <the signed checkpoint note, verbatim>
//! ```

use vellum_merkle::{Hash, InclusionError, LeafIndex, TreeSize, leaf_hash, proof};

use crate::note::{MAX_NOTE_SIZE, Note, NoteError};
use crate::policy::{Policy, PolicyError, VerifiedCheckpoint};
use crate::text::{DecimalError, b64_decode, b64_encode, parse_decimal};

/// The first line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most inclusion proof hashes: a tree of at most 2^63 leaves is at most 63
/// levels high.
pub const MAX_PROOF_HASHES: usize = 63;
/// Largest proof file accepted: a largest checkpoint note plus room for the
/// header, extra data and hashes.
pub const MAX_PROOF_SIZE: usize = MAX_NOTE_SIZE + 64 * 1024;

/// Why a proof file was refused or did not verify. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFileError {
    /// Larger than [`MAX_PROOF_SIZE`].
    #[error("the proof is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The size found.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("line 1 must be \"c2sp.org/tlog-proof@v1\", found {found:?}")]
    WrongHeader {
        /// The first line found (lossily decoded, at most 64 bytes).
        found: String,
    },
    /// The header part (before the checkpoint) is not UTF-8 or is cut short.
    #[error("line {line}: expected {expected}, the file ends or is not text there")]
    Truncated {
        /// The line.
        line: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The extra data is not canonical standard base64.
    #[error("line {line}: the extra data is not valid standard base64 with padding")]
    InvalidExtra {
        /// The line.
        line: usize,
    },
    /// No `index ` line where one is required.
    #[error("line {line}: expected \"index <decimal>\", found {found:?}")]
    MissingIndex {
        /// The line.
        line: usize,
        /// The line found.
        found: String,
    },
    /// The index is not a decimal with no leading zero.
    #[error("line {line}: the index {found:?} is not a valid decimal: {reason}")]
    InvalidIndex {
        /// The line.
        line: usize,
        /// The field found.
        found: String,
        /// What is wrong with it.
        reason: DecimalError,
    },
    /// An index beyond the largest tree.
    #[error("line {line}: the index {index} is beyond the largest possible tree (2^63 leaves)")]
    IndexOutOfRange {
        /// The line.
        line: usize,
        /// The index.
        index: u64,
    },
    /// A proof line that is not a base64 32-byte hash.
    #[error("line {line}: expected a base64 SHA-256 hash or an empty line, found {found:?}")]
    InvalidHash {
        /// The line.
        line: usize,
        /// The line found.
        found: String,
    },
    /// More hashes than any inclusion proof has.
    #[error("the inclusion proof has more than {max} hashes")]
    TooManyHashes {
        /// The limit.
        max: usize,
    },
    /// The checkpoint after the empty line is not a well-formed note.
    #[error("the checkpoint (from line {line}) is not a well-formed signed note: {source}")]
    MalformedCheckpoint {
        /// Its first line.
        line: usize,
        /// What is wrong.
        source: NoteError,
    },
    /// The checkpoint is not signed as the policy requires.
    #[error("checkpoint rejected: {0}")]
    Checkpoint(#[from] PolicyError),
    /// The index is not inside the checkpoint's tree.
    #[error("the entry index {index} is not in the checkpoint's tree of size {size}")]
    IndexBeyondSize {
        /// The proof's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The inclusion proof does not prove this entry at this index (a
    /// different entry gives [`InclusionError::RootMismatch`]).
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] InclusionError),
}

/// A parsed tlog-proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: LeafIndex,
    inclusion: Vec<Hash>,
    /// The signed note, verbatim; known to be a well-formed note.
    checkpoint: Vec<u8>,
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    checkpoint: VerifiedCheckpoint,
    index: LeafIndex,
    leaf_hash: Hash,
}

impl VerifiedProof {
    /// The checkpoint, with who signed and cosigned it.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }

    /// The entry's index.
    pub fn index(&self) -> LeafIndex {
        self.index
    }

    /// The entry's RFC 6962 leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        self.leaf_hash
    }

    /// The size of the tree the entry was proven in.
    pub fn tree_size(&self) -> TreeSize {
        self.checkpoint.checkpoint().size()
    }
}

impl TlogProof {
    /// A proof from its parts; `checkpoint` is the signed note, verbatim.
    ///
    /// # Errors
    ///
    /// [`ProofFileError::TooManyHashes`]; [`ProofFileError::MalformedCheckpoint`]
    /// when `checkpoint` is not a well-formed signed note.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: LeafIndex,
        inclusion: Vec<Hash>,
        checkpoint: Vec<u8>,
    ) -> Result<TlogProof, ProofFileError> {
        if inclusion.len() > MAX_PROOF_HASHES {
            return Err(ProofFileError::TooManyHashes {
                max: MAX_PROOF_HASHES,
            });
        }
        let first_line = 4 + usize::from(extra.is_some()) + inclusion.len();
        Note::parse(&checkpoint).map_err(|source| ProofFileError::MalformedCheckpoint {
            line: first_line,
            source,
        })?;
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint,
        })
    }

    /// Parses a proof file, strictly: the header line, an optional
    /// `extra <base64>` line, `index <decimal>` with no leading zero, zero to
    /// 63 base64 hash lines, an empty line, and a well-formed signed note.
    ///
    /// # Errors
    ///
    /// The [`ProofFileError`] for the first thing wrong, with its line.
    pub fn parse(input: impl AsRef<[u8]>) -> Result<TlogProof, ProofFileError> {
        let bytes = input.as_ref();
        if bytes.len() > MAX_PROOF_SIZE {
            return Err(ProofFileError::TooLarge {
                size: bytes.len(),
                max: MAX_PROOF_SIZE,
            });
        }
        let mut lines = Lines {
            rest: bytes,
            line: 0,
        };

        let header = lines.next_line("the header line")?;
        if header != TLOG_PROOF_HEADER {
            return Err(ProofFileError::WrongHeader {
                found: header.chars().take(64).collect(),
            });
        }

        let mut next = lines.next_line("\"extra <base64>\" or \"index <decimal>\"")?;
        let extra = match next.strip_prefix("extra ") {
            Some(b64) => {
                let data =
                    b64_decode(b64).ok_or(ProofFileError::InvalidExtra { line: lines.line })?;
                next = lines.next_line("\"index <decimal>\"")?;
                Some(data)
            }
            None => None,
        };

        let index_line = lines.line;
        let digits = next
            .strip_prefix("index ")
            .ok_or_else(|| ProofFileError::MissingIndex {
                line: index_line,
                found: next.chars().take(64).collect(),
            })?;
        let index = parse_decimal(digits).map_err(|reason| ProofFileError::InvalidIndex {
            line: index_line,
            found: digits.chars().take(64).collect(),
            reason,
        })?;
        let index = LeafIndex::new(index).map_err(|_| ProofFileError::IndexOutOfRange {
            line: index_line,
            index,
        })?;

        let mut inclusion = Vec::new();
        loop {
            let line = lines.next_line("a hash or the empty line before the checkpoint")?;
            if line.is_empty() {
                break;
            }
            if inclusion.len() == MAX_PROOF_HASHES {
                return Err(ProofFileError::TooManyHashes {
                    max: MAX_PROOF_HASHES,
                });
            }
            let hash = b64_decode(line)
                .and_then(|b| Hash::from_slice(&b).ok())
                .ok_or_else(|| ProofFileError::InvalidHash {
                    line: lines.line,
                    found: line.chars().take(64).collect(),
                })?;
            inclusion.push(hash);
        }

        let checkpoint = lines.rest.to_vec();
        Note::parse(&checkpoint).map_err(|source| ProofFileError::MalformedCheckpoint {
            line: lines.line + 1,
            source,
        })?;
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint,
        })
    }

    /// The proof file, exactly as tlog-proof lays it out.
    pub fn format(&self) -> String {
        let mut out = String::with_capacity(64 + 45 * self.inclusion.len() + self.checkpoint.len());
        out.push_str(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&b64_encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index.get()));
        for h in &self.inclusion {
            out.push_str(&b64_encode(h.as_bytes()));
            out.push('\n');
        }
        out.push('\n');
        // INVARIANT: the checkpoint parsed as a note, so it is UTF-8.
        out.push_str(&String::from_utf8_lossy(&self.checkpoint));
        out
    }

    /// The opaque extra data. Not authenticated: never trust it implicitly.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The entry's index.
    pub fn index(&self) -> LeafIndex {
        self.index
    }

    /// The inclusion proof, leaf's sibling first.
    pub fn inclusion(&self) -> &[Hash] {
        &self.inclusion
    }

    /// The signed checkpoint note, verbatim.
    pub fn checkpoint(&self) -> &[u8] {
        &self.checkpoint
    }

    /// Verifies that `entry` is at the proof's index in the log, under
    /// `policy`: the checkpoint must satisfy the policy (a policy log whose
    /// name is the origin signed it, the witness quorum cosigned it), the
    /// index must be inside the checkpoint's tree, and the inclusion proof
    /// must lead from the entry's leaf hash to the checkpoint's root.
    ///
    /// # Errors
    ///
    /// [`ProofFileError::Checkpoint`] with the policy's reason,
    /// [`ProofFileError::IndexBeyondSize`], or [`ProofFileError::Inclusion`]
    /// (a wrong entry or a corrupted proof gives
    /// [`InclusionError::RootMismatch`], a proof of the wrong length
    /// [`InclusionError::WrongLength`]).
    pub fn verify(&self, entry: &[u8], policy: &Policy) -> Result<VerifiedProof, ProofFileError> {
        let checkpoint = policy.check_checkpoint(&self.checkpoint)?;
        let size = checkpoint.checkpoint().size();
        if !size.contains(self.index) {
            return Err(ProofFileError::IndexBeyondSize {
                index: self.index.get(),
                size: size.get(),
            });
        }
        let leaf = leaf_hash(entry);
        proof::verify_inclusion(
            &leaf,
            self.index,
            size,
            &self.inclusion,
            &checkpoint.checkpoint().root(),
        )?;
        Ok(VerifiedProof {
            checkpoint,
            index: self.index,
            leaf_hash: leaf,
        })
    }
}

/// Reads newline-terminated UTF-8 lines from the front of a byte string,
/// counting them, and leaves the rest (the checkpoint) untouched.
struct Lines<'a> {
    rest: &'a [u8],
    /// The number of the line last returned.
    line: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self, expected: &'static str) -> Result<&'a str, ProofFileError> {
        self.line += 1;
        let truncated = ProofFileError::Truncated {
            line: self.line,
            expected,
        };
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(truncated.clone())?;
        let line = std::str::from_utf8(&self.rest[..end]).map_err(|_| truncated)?;
        self.rest = &self.rest[end + 1..];
        Ok(line)
    }
}
