//! A real checkpoint signer (journal on disk) seen through the log's
//! `Signer` trait. The production adapter lives in `vellum-server`, which
//! the log cannot depend on; this one is the same thing without the
//! blocking-thread hop, which tests do not need.

use std::sync::Mutex;

use bytes::Bytes;
use vellum_log::{BoxFuture, SignError, Signer};
use vellum_merkle::{Hash, TreeSize};
use vellum_signer::{CheckpointSigner, SignerError};

#[derive(Debug)]
pub struct TestSigner {
    inner: Mutex<CheckpointSigner>,
}

impl TestSigner {
    pub fn new(signer: CheckpointSigner) -> TestSigner {
        TestSigner {
            inner: Mutex::new(signer),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CheckpointSigner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Signer for TestSigner {
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old_size: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        Box::pin(async move {
            self.lock()
                .sign(text, old_size, proof)
                .map(Bytes::from)
                .map_err(to_sign_error)
        })
    }

    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .last_signed()
                .map(|l| Bytes::from(l.note.clone())))
        })
    }
}

/// As `vellum_server::local_signer::to_sign_error`.
pub fn to_sign_error(e: SignerError) -> SignError {
    match e {
        SignerError::StaleOldSize { signed_size, .. } => SignError::StaleOldSize { signed_size },
        e if e.is_refusal() => SignError::Refused(e.to_string()),
        e => SignError::Unavailable(e.to_string()),
    }
}
