//! The one place where log errors become gRPC statuses.

use std::time::Duration;

use tonic::{Code, Status};
use vellum_log::LogError;

/// The gRPC status for a log error.
pub fn status(e: LogError) -> Status {
    let code = code(&e);
    Status::new(code, e.to_string())
}

/// The gRPC code for a log error.
pub fn code(e: &LogError) -> Code {
    match e {
        LogError::InvalidArgument(_) => Code::InvalidArgument,
        LogError::ResourceExhausted(_) => Code::ResourceExhausted,
        LogError::NotFound(_) => Code::NotFound,
        LogError::FailedPrecondition(_) => Code::FailedPrecondition,
        LogError::Unavailable(_) => Code::Unavailable,
        LogError::DeadlineExceeded(_) => Code::DeadlineExceeded,
        LogError::Internal(_) => Code::Internal,
    }
}

/// An `INVALID_ARGUMENT` status for a malformed field.
pub fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg)
}

/// A call that did not answer within the request timeout.
pub fn took_too_long(limit: Duration) -> Status {
    Status::deadline_exceeded(format!("the call took longer than {limit:?}"))
}
