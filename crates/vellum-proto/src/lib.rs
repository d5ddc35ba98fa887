//! Generated code for Vellum's gRPC API (`proto/vellum/v1`).
//!
//! This is the only crate that sees prost types; the others convert at their
//! edges. Field-level documentation is in the `.proto` files. The
//! conversions of audit events to and from `vellum-event` are in [`events`].

#![allow(missing_docs, clippy::all)]

pub mod codec;
pub mod events;

/// Package `vellum.v1`.
pub mod v1 {
    tonic::include_proto!("vellum.v1");
}

/// The encoded `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vellum_descriptor.bin"));

/// The request header (gRPC metadata) naming the log a call is for, on a
/// server that holds several logs. Without it a call goes to the server's
/// default log, named [`DEFAULT_LOG`].
pub const LOG_HEADER: &str = "vellum-log";

/// The name of a server's default log: the one a call without
/// [`LOG_HEADER`] reaches, and whose tiles are served at the root.
pub const DEFAULT_LOG: &str = "default";

/// The longest log name.
pub const MAX_LOG_NAME: usize = 64;

/// Checks a log's name: 1 to [`MAX_LOG_NAME`] bytes of `a-z`, `0-9`, `-`
/// and `_`, starting with a letter or digit. Names appear in URL paths
/// (`/logs/<name>/`), folder names and token files, so nothing else is
/// allowed.
///
/// # Errors
///
/// A message saying what is wrong with `name`.
pub fn check_log_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_LOG_NAME {
        return Err(format!(
            "log name {name:?} must be 1 to {MAX_LOG_NAME} characters"
        ));
    }
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    if !name.bytes().all(ok) || !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "log name {name:?} may hold only a-z, 0-9, '-' and '_', and starts with a letter \
             or digit"
        ));
    }
    Ok(())
}
