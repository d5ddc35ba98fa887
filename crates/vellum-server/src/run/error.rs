//! Why a server did not start, or stopped badly.

use std::net::SocketAddr;

use crate::embedded::DeployError;
use crate::grpc::GrpcError;
use crate::tls::TlsError;

/// Why the server did not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An unsafe configuration was refused.
    #[error("{0}")]
    Unsafe(String),
    /// The deployment could not be opened.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    /// The HTTP read API failed.
    #[error("HTTP read API: {0}")]
    Http(std::io::Error),
    /// The log stopped on a fatal error; restart the process.
    #[error("the log stopped: {0}")]
    LogFailed(String),
    /// A log other than the default one could not be opened.
    #[error("log {name:?}: {source}")]
    Log {
        /// Its name.
        name: String,
        /// Why.
        source: Box<ServeError>,
    },
    /// The remote signer or the witness policy cannot be used.
    #[error("{0}")]
    Config(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}
