//! What the log needs from a signer. Implementations live where the wiring
//! is (`vellum-server`): the in-process signer, and a gRPC client for a
//! signer in its own process.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use vellum_merkle::{Hash, TreeSize};
use vellum_signer::{CheckpointSigner, SignerError};

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

/// The signer in this process: a [`CheckpointSigner`] behind a mutex, its
/// journal writes on a blocking thread. Used by the embedded default; a
/// separate signer process is reached through `vellum-server`'s gRPC client.
#[derive(Debug)]
pub struct LocalSigner {
    inner: std::sync::Arc<std::sync::Mutex<CheckpointSigner>>,
}

impl LocalSigner {
    /// Wraps an opened signer.
    pub fn new(signer: CheckpointSigner) -> LocalSigner {
        LocalSigner {
            inner: std::sync::Arc::new(std::sync::Mutex::new(signer)),
        }
    }

    /// Runs `f` on the signer from a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut CheckpointSigner) -> T + Send + 'static,
    ) -> Result<T, SignError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the signer's memory as
            // it was before the journal write or after it: both are states
            // it can continue from, because the journal is the truth.
            let mut s = inner.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|e| SignError::Unavailable(format!("signer task failed: {e}")))
    }
}

impl Signer for LocalSigner {
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old_size: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        let text = text.to_owned();
        let proof = proof.to_vec();
        Box::pin(async move {
            self.with(move |s| s.sign(&text, old_size, &proof))
                .await?
                .map(Bytes::from)
                .map_err(to_sign_error)
        })
    }

    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        Box::pin(async move {
            self.with(|s| s.last_signed().map(|l| Bytes::from(l.note.clone())))
                .await
        })
    }
}

/// How the log reads a signer's answer.
pub fn to_sign_error(e: SignerError) -> SignError {
    match e {
        SignerError::StaleOldSize { signed_size, .. } => SignError::StaleOldSize { signed_size },
        e if e.is_refusal() => SignError::Refused(e.to_string()),
        e => SignError::Unavailable(e.to_string()),
    }
}
