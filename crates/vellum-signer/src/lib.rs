//! The checkpoint signer: it holds the log's Ed25519 key and refuses to sign
//! anything that does not extend what it signed before.
//!
//! The signer is its own authority. It keeps a durable journal of every
//! checkpoint it signed ([`journal`]), and signs a new one only when given a
//! consistency proof from its *own* last signed tree that verifies
//! ([`CheckpointSigner::sign`]). A smaller size, the same size with another
//! root, a bad proof or another origin is refused, and the refusal is
//! journaled as evidence. The new checkpoint is durable in the journal before
//! the signature leaves the signer.
//!
//! It runs inside the log process for the embedded default, or as its own
//! process behind gRPC (wired in `vellum-server`) so that the key never lives
//! in the sequencer's address space.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod journal;
pub mod keyfile;
mod signer;

pub use signer::{CheckpointSigner, LastSigned, SignerError};
