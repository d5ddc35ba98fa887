//! Why a policy was refused, or a checkpoint did not satisfy it.

use crate::checkpoint::CheckpointError;
use crate::keys::{KeyError, SigType};
use crate::note::NoteError;

/// Why a policy file was refused (with its 1-based line), or why a
/// checkpoint does not satisfy a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file is larger than [`MAX_POLICY_SIZE`](crate::policy::MAX_POLICY_SIZE).
    #[error("the policy is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The size found.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An octet the policy format forbids (control characters other than tab
    /// and newline, CR included, and DEL).
    #[error(
        "line {line}: character 0x{byte:02x} is not allowed in a policy (only tab, newline, 0x20-0x7e and 0x80-0xff)"
    )]
    InvalidCharacter {
        /// The line.
        line: usize,
        /// The octet.
        byte: u8,
    },
    /// Non-ASCII octets that are not UTF-8 (this implementation requires
    /// UTF-8, as the specification recommends).
    #[error("line {line} is not valid UTF-8")]
    NotUtf8 {
        /// The line.
        line: usize,
    },
    /// A line that starts with none of `log`, `witness`, `group`, `quorum`.
    #[error("line {line}: unknown keyword {keyword:?} (expected log, witness, group or quorum)")]
    UnknownKeyword {
        /// The line.
        line: usize,
        /// The first word found.
        keyword: String,
    },
    /// A line with too few or too many fields.
    #[error("line {line}: expected \"{usage}\", found {found} fields")]
    WrongFieldCount {
        /// The line.
        line: usize,
        /// The line's form.
        usage: &'static str,
        /// The number of whitespace-separated fields found, keyword included.
        found: usize,
    },
    /// A vkey that does not parse.
    #[error("line {line}: invalid vkey: {source}")]
    InvalidKey {
        /// The line.
        line: usize,
        /// Why the key was refused.
        source: KeyError,
    },
    /// A log key that is not Ed25519 (0x01) or a witness key that is not a
    /// cosignature key (0x04).
    #[error("line {line}: a {role} key must have signature type {expected}, this one has {found}")]
    WrongKeyType {
        /// The line.
        line: usize,
        /// `log` or `witness`.
        role: &'static str,
        /// The type required.
        expected: SigType,
        /// The key's type.
        found: SigType,
    },
    /// The same public key listed twice (as two logs or two witnesses).
    #[error("line {line}: this public key is already listed on line {first_line}")]
    DuplicateKey {
        /// The line.
        line: usize,
        /// The line that first listed it.
        first_line: usize,
    },
    /// A witness or group named `none`, which is predefined.
    #[error("line {line}: the name \"none\" is reserved for \"quorum none\"")]
    ReservedName {
        /// The line.
        line: usize,
    },
    /// A name defined twice (witnesses and groups share one namespace).
    #[error("line {line}: the name {name:?} is already defined on line {first_line}")]
    DuplicateName {
        /// The line.
        line: usize,
        /// The name.
        name: String,
        /// The line that defined it first.
        first_line: usize,
    },
    /// A reference to a name not defined on an earlier line.
    #[error("line {line}: {name:?} is not a witness or group defined on an earlier line")]
    UnknownName {
        /// The line.
        line: usize,
        /// The name.
        name: String,
    },
    /// `none` listed as a group member.
    #[error("line {line}: \"none\" cannot be a group member")]
    NoneAsMember {
        /// The line.
        line: usize,
    },
    /// A group listing the same member twice.
    #[error("line {line}: {name:?} is listed twice in this group")]
    DuplicateMember {
        /// The line.
        line: usize,
        /// The member.
        name: String,
    },
    /// A threshold that is not a decimal, `all` or `any`.
    #[error("line {line}: group threshold {found:?} is not a decimal number, \"all\" or \"any\"")]
    InvalidThreshold {
        /// The line.
        line: usize,
        /// The field found.
        found: String,
    },
    /// A threshold k outside 1..=n.
    #[error("line {line}: group threshold {k} is outside 1..={n} for its {n} members")]
    ThresholdOutOfRange {
        /// The line.
        line: usize,
        /// The threshold.
        k: u64,
        /// The number of members.
        n: usize,
    },
    /// A second quorum line.
    #[error("line {line}: a second quorum line (the first is on line {first_line})")]
    DuplicateQuorum {
        /// The line.
        line: usize,
        /// The first quorum line.
        first_line: usize,
    },
    /// No quorum line.
    #[error("the policy has no quorum line (use \"quorum none\" to require no cosignatures)")]
    MissingQuorum,
    /// More logs, witnesses or groups than this implementation accepts.
    #[error("line {line}: more than {max} {what} in one policy")]
    TooMany {
        /// The line.
        line: usize,
        /// `logs`, `witnesses` or `groups`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A log key for [`Policy::quorum_none`](crate::Policy::quorum_none) that
    /// is not Ed25519 (0x01).
    #[error("log key {name:?} has signature type {found}; a log key must be Ed25519 (0x01)")]
    WrongLogKeyType {
        /// The key's name.
        name: String,
        /// Its type.
        found: SigType,
    },
    /// The checkpoint note is malformed, or a trusted key's signature on it
    /// does not verify, or no trusted key signed it.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The note text is not a checkpoint.
    #[error("checkpoint text: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint's origin is the name of no log in the policy.
    #[error("the checkpoint origin {origin:?} is not a log in the policy (known logs: {})", .known.join(", "))]
    UnknownLog {
        /// The checkpoint's origin (not authenticated: no key to check it).
        origin: String,
        /// The names of the policy's logs.
        known: Vec<String>,
    },
    /// Witnesses cosigned, but the log named by the origin did not sign.
    #[error("the checkpoint for {origin:?} carries no valid signature from that log's key")]
    MissingLogSignature {
        /// The checkpoint's origin.
        origin: String,
    },
    /// Not enough witnesses cosigned.
    #[error(
        "the witness quorum {quorum:?} is not met: cosigned by [{}]; unmet: {}",
        .cosigned.join(", "),
        .unmet.join("; ")
    )]
    QuorumNotMet {
        /// The quorum's name.
        quorum: String,
        /// The policy witnesses that did cosign.
        cosigned: Vec<String>,
        /// Each witness or group under the quorum that is not satisfied, and why.
        unmet: Vec<String>,
    },
}
