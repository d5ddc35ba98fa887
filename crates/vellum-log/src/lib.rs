//! The Vellum log: sequencing, integration, checkpoint publication, reads.
//!
//! An append passes admission (limits and a bounded queue that refuses at
//! once when full), joins the pool, and is sequenced in a round: indices
//! assigned, leaves deduplicated against the log, the tree grown from the
//! in-memory right edge, and everything written in one synced batch (see
//! [`sequencer`]). Callers hear back only after that. The [`publisher`] then
//! has the new tree head signed, checking the signer's answer, and publishes
//! it; callers who asked for proofs get them against that checkpoint.
//!
//! Opening a log ([`Log::builder`]) refuses to run on a store whose tree
//! does not match what was signed (see [`startup`]); [`fsck`] re-verifies a
//! whole store offline, and [`self_audit`] does the same in the background
//! while the log runs, stopping it on a finding.
//!
//! The handle is split by idea: `log` opens, holds and stops it,
//! `admission` decides what may be queued, `append` appends and waits,
//! `reads` answers reads (by [`At`]), and [`reader`] is the one home of
//! store-backed proofs and tiles.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod admission;
mod append;
mod config;
mod error;
pub mod fsck;
pub mod integrate;
pub mod latency;
mod log;
pub mod memory;
pub mod publisher;
pub mod reader;
mod reads;
pub mod self_audit;
pub mod sequencer;
pub mod signer;
pub mod startup;
mod stats;
pub mod witnessing;

pub use append::{Appended, Wait};
pub use config::LogConfig;
pub use error::{LogError, QueueLimit, StartupError};
pub use log::{Log, LogBuilder, LogState};
pub use publisher::Published;
pub use reads::{At, ConsistencyProof, EntryAndProof, InclusionProof};
pub use self_audit::{SelfAuditConfig, SelfAuditStatus};
pub use sequencer::{Assigned, Sequencing};
pub use signer::{BoxFuture, SignError, Signer};
pub use stats::{RoundSizes, Stats, WitnessStats};
pub use witnessing::{Witness, WitnessFailure, Witnessing};
