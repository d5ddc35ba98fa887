//! The signer in this process, seen through the log's `Signer` trait: the
//! in-process counterpart of [`grpc::signer`](crate::grpc::signer)'s client
//! and of [`witness`](crate::witness)'s HTTP witnesses. It lives here, where
//! the wiring is, so that `vellum-log` and `vellum-signer` never depend on
//! each other (scripts/check-layering).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use vellum_log::{BoxFuture, SignError, Signer};
use vellum_merkle::{Hash, TreeSize};
use vellum_signer::{CheckpointSigner, SignerError};

/// A [`CheckpointSigner`] behind a mutex, its journal writes on a blocking
/// thread. Used by the embedded default and served by `vellum signer`; a
/// separate signer process is reached through
/// [`RemoteSigner`](crate::grpc::signer::RemoteSigner).
#[derive(Debug)]
pub struct LocalSigner {
    inner: Arc<Mutex<CheckpointSigner>>,
}

impl LocalSigner {
    /// Wraps an opened signer.
    pub fn new(signer: CheckpointSigner) -> LocalSigner {
        LocalSigner {
            inner: Arc::new(Mutex::new(signer)),
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
