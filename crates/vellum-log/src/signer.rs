//! What the log needs from a signer. Implementations live where the wiring
//! is (`vellum-server`): the in-process signer, and a gRPC client for a
//! signer in its own process. This crate does not depend on
//! `vellum-signer` (scripts/check-layering): the log sees a signer only
//! through this trait.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use vellum_merkle::{Hash, TreeSize};

/// A boxed future, so that the trait can be used as `dyn Signer`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a signature was not obtained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The signer's last signed size is not the one the proof starts from.
    #[error("the signer's last signed size is {signed_size}")]
    StaleOldSize {
        /// The signer's last signed size.
        signed_size: u64,
    },
    /// The signer refused: the tree does not extend what it signed. For the
    /// log this means its own state is wrong, and it stops.
    #[error("the signer refused: {0}")]
    Refused(String),
    /// The signer could not be reached or failed; try again later.
    #[error("the signer is unavailable: {0}")]
    Unavailable(String),
}

/// A checkpoint signer, as seen by the log.
pub trait Signer: Send + Sync + 'static {
    /// Signs the checkpoint note `text`, given a consistency proof from
    /// `old_size` (which must be the signer's last signed size). Returns the
    /// signed note.
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old_size: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>>;

    /// The last checkpoint the signer signed (a signed note), if any.
    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>>;
}
