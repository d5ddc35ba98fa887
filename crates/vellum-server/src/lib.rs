//! Vellum's network side and deployment wiring.
//!
//! * [`grpc`]: the `vellum.v1.Log` service, health and reflection.
//! * [`status`]: the one place where log errors become gRPC statuses.
//! * [`limits`]: every network limit, explicit.
//! * [`embedded`]: the one-folder deployment (store, signer journal, key).
//! * [`witness`]: the log's witnesses, reached over tlog-witness HTTP.
//! * [`http`]: the C2SP tlog-tiles read API (checkpoint, tiles, bundles).
//! * [`export`]: the same tiles written to a folder, for static hosting.
//! * [`run`]: a whole server with its start-up checks and clean shutdown.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod embedded;
pub mod export;
pub mod grpc;
pub mod http;
pub mod limits;
pub mod run;
pub mod status;
pub mod witness;

pub use export::ExportOptions;
pub use grpc::signer::SignerAddr;
pub use limits::Limits;
pub use run::{Running, ServeError, ServeOptions, Tuning, start};
