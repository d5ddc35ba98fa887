//! A client for Vellum logs that trusts nothing it has not verified.
//!
//! * [`Client`]: appends and reads over gRPC. Every checkpoint it returns
//!   has been verified against a [`Trust`] (the log's key, or a C2SP
//!   tlog-policy with witness quorums); every proof it returns has been
//!   verified against such a checkpoint. No size or root is used unless it
//!   was inside a verified note.
//! * [`TrustedState`]: the last verified checkpoint, in a file replaced
//!   atomically. [`Client::update_trusted`] advances it only through a
//!   consistency proof that verifies.
//! * [`Evidence`]: when the log shows two histories that cannot both be true
//!   (a split view, an unprovable extension, a rollback), the two signed
//!   checkpoints and the failed proof, in a file anyone can check with
//!   [`Evidence::verify`].
//! * [`batch`]: many entries split into `Append` calls a server accepts.
//! * [`UnverifiedClient`]: the calls underneath, for *showing* what a log
//!   serves without a key. Never decide anything on its answers.
//!
//! The client depends on no storage crate: it can only learn about a log
//! through the log's answers and its signatures.
//!
//! ```
//! use vellum_client::{Client, Step, TrustedState, Wait};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let mut opts = vellum_server::ServeOptions::embedded();
//! # opts.data = dir.path().join("data");
//! # opts.listen = "127.0.0.1:0".parse()?;
//! # let server = vellum_server::start(opts).await?;
//! # let url = format!("http://{}", server.grpc_addr);
//! # let vkey_file = dir.path().join("data/log.vkey");
//! # let state_file = dir.path().join("log.checkpoint");
//! // The log's public key, as `vellum serve` wrote it.
//! let vkey: vellum_note::VerifierKey = std::fs::read_to_string(&vkey_file)?.trim().parse()?;
//! let client = Client::connect(&url, vkey).await?;
//!
//! // Append, and get a verified C2SP tlog-proof back.
//! let appended = client.append(vec!["user=alice action=login".into()], Wait::Checkpoint).await?;
//! let proof = appended[0].proof.as_ref().ok_or("a checkpoint wait brings a proof")?;
//! assert_eq!(appended[0].index.get(), 0);
//! let _file_text = proof.format(); // what `vellum verify` checks offline
//!
//! // Follow the log: the state only moves forward, through proofs.
//! let mut state = TrustedState::open(&state_file, client.trust())?;
//! assert!(matches!(client.update_trusted(&mut state).await?, Step::Initialized { .. }));
//! client.append(vec!["user=bob action=logout".into()], Wait::Checkpoint).await?;
//! match client.update_trusted(&mut state).await {
//!     Ok(step) => println!("{step:?}"),
//!     // Publish the evidence: anyone with the log's key can check it.
//!     Err(e) => match e.evidence() {
//!         Some(evidence) => std::fs::write("evidence.txt", evidence.to_file_text())?,
//!         None => return Err(e.into()),
//!     },
//! }
//! assert_eq!(state.checkpoint().map(|c| c.size().get()), Some(2));
//! # server.stop().await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod alerts;
pub mod batch;
mod client;
mod error;
pub mod evidence;
mod state;
mod trust;
pub mod unverified;

pub use alerts::{AlertStream, StreamedAlert};
pub use client::{
    Appended, Client, History, HistoryEvent, HistoryOf, PrefixProof, RecordedEvent, Step,
};
pub use error::{ClientError, ProofError};
pub use evidence::{Evidence, EvidenceError, EvidenceKind, VerifiedEvidence};
pub use state::TrustedState;
pub use trust::{PolicyText, Trust, TrustError, TrustedCheckpoint};
pub use unverified::{BearerToken, ClientIdentity, ClientOptions, UnverifiedClient, Wait};

/// The gRPC status code in [`ClientError::Status`] (re-exported from tonic
/// so that callers need not depend on it).
pub use tonic::Code as StatusCode;
