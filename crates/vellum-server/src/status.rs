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
use vellum_store::StoreError;

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

/// The gRPC code for a log error (see `proto/vellum/v1/log.proto`).
pub fn code(e: &LogError) -> Code {
    match e {
        LogError::NoEntries
        | LogError::TooManyEntries { .. }
        | LogError::EntryTooLarge { .. }
        | LogError::EmptyPage
        | LogError::FromAfterTo { .. }
        | LogError::OutOfRange(_) => Code::InvalidArgument,
        LogError::SizeBeyondTree { .. }
        | LogError::IndexBeyondTree { .. }
        | LogError::EntryBeyondTree { .. }
        | LogError::NoCheckpointAt { .. }
        | LogError::UnknownLeaf { .. }
        | LogError::Read(StoreError::NotFound(_)) => Code::NotFound,
        LogError::NotSignedYet | LogError::NoWitnesses | LogError::LogFull(_) => {
            Code::FailedPrecondition
        }
        LogError::QueueFull { .. } => Code::ResourceExhausted,
        LogError::ShuttingDown
        | LogError::Stopped { .. }
        | LogError::NotSequencing
        | LogError::Unanswered
        | LogError::RoundFailed { .. }
        | LogError::StoppedBeforeCheckpoint { .. } => Code::Unavailable,
        LogError::CheckpointTimeout { .. } => Code::DeadlineExceeded,
        LogError::Read(_) | LogError::Storage { .. } | LogError::Fatal(_) => Code::Internal,
    }
}

/// An `INVALID_ARGUMENT` status for a malformed field.
pub fn invalid(msg: impl Into<String>) -> Status {
    Status::invalid_argument(msg)
}

/// A raw append on an events log.
pub fn events_log_refuses_append() -> Status {
    Status::failed_precondition(
        "this is an events log: it stores audit events, recorded with `vellum record` \
         (Log.Record), not raw entries; nothing was appended",
    )
}

/// An event recorded on a raw log.
pub fn raw_log_refuses_record() -> Status {
    Status::failed_precondition(
        "this log stores raw entries (`vellum append`); serve an events log \
         (`vellum serve --log-kind events`) to record audit events",
    )
}

/// Why an event was not recorded.
pub fn record_failure(e: crate::events::RecordFailure) -> Status {
    use crate::events::RecordFailure;
    match e {
        RecordFailure::Invalid(m) => Status::invalid_argument(m),
        RecordFailure::Log(e) => status(e),
        RecordFailure::Stopped(m) => Status::unavailable(format!(
            "{m}; restart the server (the events recorder rebuilds its state from the log)"
        )),
    }
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
    use vellum_merkle::TreeSize;

    #[test]
    fn log_errors_keep_their_codes_and_messages() {
        let size = |n| TreeSize::new(n).unwrap();
        let cases = [
            (LogError::NoEntries, Code::InvalidArgument),
            (
                LogError::EntryTooLarge {
                    index: 0,
                    len: 1025,
                    limit: 1024,
                },
                Code::InvalidArgument,
            ),
            (
                LogError::SizeBeyondTree {
                    size: 11,
                    committed: size(10),
                },
                Code::NotFound,
            ),
            (
                LogError::Read(StoreError::NotFound("x".into())),
                Code::NotFound,
            ),
            (
                LogError::Read(StoreError::Corrupt("x".into())),
                Code::Internal,
            ),
            (LogError::NotSignedYet, Code::FailedPrecondition),
            (LogError::NoWitnesses, Code::FailedPrecondition),
            (LogError::ShuttingDown, Code::Unavailable),
            (LogError::Unanswered, Code::Unavailable),
            (LogError::Fatal("x".into()), Code::Internal),
        ];
        for (e, c) in cases {
            let s = status(e.clone());
            assert_eq!(s.code(), c, "{e:?}");
            assert_eq!(s.message(), e.to_string());
        }
    }

    #[test]
    fn retryable_log_errors_have_codes_clients_retry() {
        // vellum-client retries UNAVAILABLE, RESOURCE_EXHAUSTED and
        // DEADLINE_EXCEEDED: a retryable log error must get one of them.
        let retryable = [
            LogError::QueueFull {
                limit: vellum_log::QueueLimit::Entries(1),
                expected_wait: None,
            },
            LogError::ShuttingDown,
            LogError::Stopped { reason: "x".into() },
            LogError::NotSequencing,
            LogError::Unanswered,
            LogError::RoundFailed { cause: "x".into() },
            LogError::StoppedBeforeCheckpoint { sequenced: vec![] },
            LogError::CheckpointTimeout {
                waited: Duration::from_secs(1),
                sequenced: vec![],
            },
        ];
        for e in retryable {
            assert!(e.is_retryable(), "{e:?}");
            assert!(
                matches!(
                    code(&e),
                    Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded
                ),
                "{e:?}"
            );
        }
    }

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
