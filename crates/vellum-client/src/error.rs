//! The client's one error enum. Each variant says whether the call may be
//! retried ([`ClientError::is_retryable`]) and, for the verification
//! failures, what exactly did not check out.

use std::path::PathBuf;

use vellum_merkle::ConsistencyError;
use vellum_note::{PolicyError, ProofFileError};

use crate::evidence::Evidence;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not one the client can connect to.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The log name given is not a log name.
    #[error("invalid --log: {0}")]
    InvalidLog(String),
    /// No connection to the server (refused, unreachable, timed out).
    #[error("cannot connect to {url}: {reason}")]
    Transport {
        /// The server URL.
        url: String,
        /// The innermost cause, e.g. "connection refused".
        reason: String,
    },
    /// The server answered with a gRPC error status.
    #[error("the log answered {}: {message}", code_name(*.code))]
    Status {
        /// The gRPC status code, as the server sent it.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// The trust given cannot verify anything (e.g. a vkey that is not an
    /// Ed25519 log key).
    #[error("unusable trust: {0}")]
    BadTrust(PolicyError),
    /// A checkpoint the server sent does not verify against the trust.
    #[error("{context}: the checkpoint does not verify: {source}")]
    BadCheckpoint {
        /// Which answer carried it.
        context: String,
        /// Why it was refused.
        source: PolicyError,
    },
    /// A verified checkpoint from another log than the one this client (or
    /// its trusted state) follows; possible with a policy naming several logs.
    #[error("the server sent a checkpoint of log {found:?}, but this client follows {expected:?}")]
    OtherLog {
        /// The origin followed.
        expected: String,
        /// The origin served.
        found: String,
    },
    /// A proof the server sent does not verify against a verified checkpoint.
    #[error("{context}: {source}")]
    BadProof {
        /// Which proof.
        context: String,
        /// Why it was refused.
        source: ProofError,
    },
    /// The answer is malformed: wrong number of results, a hash that is not
    /// 32 bytes, an index or size other than the one asked for.
    #[error("malformed answer from the log: {0}")]
    BadResponse(String),
    /// Two checkpoints signed by the log that cannot both be true: the same
    /// size with different roots, or a larger tree that the log cannot prove
    /// extends the trusted one. The evidence can be checked by anyone with
    /// the log's key ([`Evidence::verify`]).
    #[error("split view: {}", .0.reason())]
    SplitView(Box<Evidence>),
    /// The log served a checkpoint smaller than one it signed before.
    #[error("rollback: {}", .0.reason())]
    Rollback(Box<Evidence>),
    /// The trusted-state file could not be read or written.
    #[error("trusted state {path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The trusted-state file does not hold a checkpoint that verifies.
    #[error("trusted state {path} does not hold a checkpoint of the trusted log: {reason}")]
    StateInvalid {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The call's arguments make no sense (nothing was sent).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// An inclusion proof (as a tlog-proof) does not verify.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofFileError),
    /// A consistency proof does not verify.
    #[error("consistency proof: {0}")]
    Consistency(#[from] ConsistencyError),
}

impl ClientError {
    /// Whether trying the same call again later may succeed: transport
    /// failures and the statuses the API defines as pushback or transient.
    /// Verification failures are never retryable: they are the log's fault
    /// or an attack, and retrying would only hide them.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Status { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Aborted
            ),
            _ => false,
        }
    }

    /// Whether this error is a verdict against the log: something it signed
    /// or sent was checked and is wrong (as opposed to "could not check").
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            ClientError::BadCheckpoint { .. }
                | ClientError::OtherLog { .. }
                | ClientError::BadProof { .. }
                | ClientError::BadResponse(_)
                | ClientError::SplitView(_)
                | ClientError::Rollback(_)
        )
    }

    /// The evidence carried by [`ClientError::SplitView`] or
    /// [`ClientError::Rollback`].
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            ClientError::SplitView(e) | ClientError::Rollback(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> ClientError {
        ClientError::Status {
            code: s.code(),
            message: s.message().to_owned(),
        }
    }
}

/// The status code as the gRPC specification spells it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
