//! Vellum's network side and deployment wiring.
//!
//! * [`grpc`]: the `vellum.v1.Log` service, health and reflection.
//! * [`status`]: the one place where log errors become gRPC statuses.
//! * [`limits`]: every network limit, explicit.
//! * [`net`]: accepted connections: the connection limit, TLS, idle timeout.
//! * [`tls`]: the rustls server configuration from PEM files, rotatable.
//! * [`reload`]: tokens and TLS read again and swapped in (SIGHUP).
//! * [`access`]: bearer tokens, roles, and the checks on both listeners.
//! * [`guard`]: alerts, recorded in the log itself, streamed and posted.
//! * [`embedded`]: the one-folder deployment (store, signer journal, key).
//! * [`witness`]: the log's witnesses, reached over tlog-witness HTTP.
//! * [`local_signer`]: the signer in this process, as the log sees it.
//! * [`http`]: the C2SP tlog-tiles read API (checkpoint, tiles, bundles).
//! * [`export`]: the same tiles written to a folder, for static hosting.
//! * [`config`]: the configurations of `vellum serve` and `vellum signer`
//!   (TOML, environment).
//! * [`run`]: a whole server with its start-up checks and clean shutdown.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod doctor;
pub mod embedded;
pub mod events;
pub mod export;
pub mod gate;
pub mod grpc;
pub mod guard;
pub mod http;
pub mod limits;
pub mod local_signer;
pub mod logs;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod recover;
pub mod reload;
pub mod run;
pub mod status;
pub mod tls;
pub mod witness;

pub use access::{AccessPolicy, Role};
pub use config::{ConfigError, Layered, ServeConfig, SignerServiceConfig, SignerSettings};
pub use export::ExportOptions;
pub use grpc::signer::SignerAddr;
pub use limits::Limits;
pub use local_signer::LocalSigner;
pub use reload::{ReloadReport, Reloader};
pub use run::{
    LogKind, NamedLog, Running, RunningLog, ServeError, ServeOptions, ServerStats, Tuning, start,
};
pub use tls::TlsFiles;
