//! The one place where gRPC statuses are made: log errors, malformed
//! request fields, access denials, load shedding, timeouts and the signer
//! service's answers. A new error case gets its code here and nowhere else.
//!
//! (One status is made outside: `vellum-proto`'s codec answers a request
//! that is not protobuf with `INVALID_ARGUMENT` from its single
//! `malformed_request` constructor, because `vellum-proto` sits below this
//! crate and cannot call it.)

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use vellum_log::{LogError, SignError};

use crate::access::Denial;

/// The metadata key that carries a signer's last signed size with a
/// `FAILED_PRECONDITION`, so that the log can re-prove from there without
/// parsing a message.
pub const SIGNED_SIZE: &str = "x-vellum-signed-size";

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

/// A call refused by the access check.
pub fn denied(d: Denial) -> Status {
    match d {
        Denial::Unauthenticated(m) => Status::unauthenticated(m),
        Denial::PermissionDenied(m) => Status::permission_denied(m),
    }
}

/// An append refused from its headers while the log's queue has no room.
pub fn shed() -> Status {
    Status::resource_exhausted(
        "the log's queue is full (refused before reading the call); nothing was queued, retry \
         later",
    )
}

/// A call that did not answer within the request timeout.
pub fn took_too_long(limit: Duration) -> Status {
    Status::deadline_exceeded(format!("the call took longer than {limit:?}"))
}

/// An `AppendStream` closed for want of requests.
pub fn stream_idle(idle: Duration) -> Status {
    Status::deadline_exceeded(format!(
        "no request on this stream for {idle:?}; closing it"
    ))
}

/// The signer service's answer to a refused or failed signature. A stale
/// old size carries the signer's size in [`SIGNED_SIZE`].
pub fn sign_error(e: SignError) -> Status {
    match e {
        SignError::StaleOldSize { signed_size } => {
            let mut s = Status::failed_precondition(format!(
                "the signer's last signed size is {signed_size}; prove from there"
            ));
            if let Ok(v) = MetadataValue::try_from(signed_size.to_string()) {
                s.metadata_mut().insert(SIGNED_SIZE, v);
            }
            s
        }
        SignError::Refused(m) => Status::invalid_argument(m),
        SignError::Unavailable(m) => Status::unavailable(m),
    }
}

/// The signer service's answer when it cannot read its own state.
pub fn signer_state_unavailable(e: SignError) -> Status {
    Status::unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_old_size_carries_the_signed_size() {
        let s = sign_error(SignError::StaleOldSize { signed_size: 42 });
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert_eq!(
            s.metadata().get(SIGNED_SIZE).and_then(|v| v.to_str().ok()),
            Some("42")
        );
    }
}
