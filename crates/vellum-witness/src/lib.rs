//! A C2SP tlog-witness witness, and the log's client of that protocol.
//!
//! A witness keeps, for each log it trusts, the latest checkpoint it
//! cosigned; it cosigns a new checkpoint only with a consistency proof from
//! exactly that one. Whoever holds its cosignature on a checkpoint thus knows
//! that the log showed this witness one linear history.
//!
//! * [`config`]: [`TrustedLogs`], the logs a witness trusts (tlog-policy
//!   `log` lines).
//! * [`state`]: [`WitnessState`], the durable latest-cosigned checkpoint per
//!   origin, with its atomicity and durability contract.
//! * [`request`]: the `add-checkpoint` body, parsed and encoded.
//! * [`witness`]: [`Witness::add_checkpoint`], the protocol, no HTTP.
//! * [`http`]: the axum [`router`] and [`serve`].
//! * [`auth`]: [`WitnessTokens`], the bearer tokens of the clients it
//!   serves (authentication is outside tlog-witness).
//! * [`client`]: [`WitnessClient`], the log side.
//! * [`service_config`]: [`WitnessServiceConfig`], the settings of the
//!   `vellum witness` process (TOML file, environment), which name the
//!   trusted-log file that [`config`] reads.
//!
//! This crate depends on no storage crate: a witness's state is its own.
//!
//! ```
//! use vellum_merkle::{TreeSize, leaf_hash};
//! use vellum_note::{Checkpoint, CosignerKey, NoteSigner, SigType, SignerKey, sign_note};
//! use vellum_witness::{AddCheckpointRequest, TrustedLogs, Witness};
//!
//! // A log with one entry, and a witness that trusts it.
//! let log = SignerKey::generate("example.com/log", SigType::Ed25519)?;
//! let checkpoint = Checkpoint::new("example.com/log", TreeSize::new(1)?, leaf_hash(b"hello"))?;
//! let note = sign_note(&checkpoint.to_text(), &[&log as &dyn NoteSigner])?;
//! let dir = tempfile::tempdir()?;
//! let key = CosignerKey::generate("witness.example/w1")?;
//! let witness = Witness::open(key, TrustedLogs::from_keys([log.verifier()])?, dir.path())?;
//!
//! // The first request comes from size 0, with an empty proof.
//! let body = AddCheckpointRequest::encode(0, &[], note.as_bytes());
//! let lines = witness.add_checkpoint(&body)?;
//! let cosignature = &vellum_note::parse_signature_lines(&lines)?[0];
//! assert!(witness.verifier().verify_cosignature(&checkpoint.to_text(), cosignature.signature()).is_some());
//!
//! // The witness now holds the log to size 1: an old size of 0 is a conflict.
//! let again = witness.add_checkpoint(&body).unwrap_err();
//! assert_eq!((again.status(), again.conflict_size()), (409, Some(1)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod config;
pub mod http;
pub mod request;
pub mod service_config;
pub mod state;
pub mod witness;

pub use auth::WitnessTokens;
pub use client::{BearerToken, ClientOptions, WitnessCallError, WitnessClient};
pub use config::{ConfigError, TrustedLog, TrustedLogs};
pub use http::{HttpOptions, InFlight, router, serve};
pub use request::{AddCheckpointRequest, MAX_BODY_SIZE, MAX_PROOF_LINES, RequestError};
pub use service_config::{
    WitnessAuthConfig, WitnessServiceConfig, WitnessSettings, WitnessTlsConfig,
};
pub use state::{CorruptState, OriginStatus, StateError, StoredCheckpoint, WitnessState};
pub use witness::{AddCheckpointError, Clock, Witness};
