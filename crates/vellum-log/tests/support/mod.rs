//! Shared set-up for the log's tests: a log on a given store with a real
//! signer journaling into a temporary folder, seen through the production
//! adapter (`vellum_server::LocalSigner`: the log's tests may use the
//! server, the log itself may not).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vellum_log::{Log, LogConfig, StartupError};
use vellum_note::{SigType, SignerKey, VerifierKey};
use vellum_signer::CheckpointSigner;
use vellum_store::LogStore;

// The production in-process adapter: the same signer, the same errors.
pub use vellum_server::LocalSigner;

pub const ORIGIN: &str = "example.com/vellum-log-test";

pub struct Fixture {
    pub key_text: String,
    pub vkey: VerifierKey,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let key = SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap();
        Fixture {
            key_text: key.to_text().to_string(),
            vkey: key.verifier(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A signer on this fixture's journal (reopened each time, as after a
    /// restart).
    pub fn signer(&self) -> Arc<LocalSigner> {
        self.signer_at(&self.dir.path().join("signer"))
    }

    pub fn signer_at(&self, journal: &Path) -> Arc<LocalSigner> {
        let key = SignerKey::parse(&self.key_text).unwrap();
        Arc::new(LocalSigner::new(
            CheckpointSigner::open(key, journal).unwrap(),
        ))
    }

    pub fn config(&self) -> LogConfig {
        let mut c = LogConfig::new(ORIGIN);
        // Tests cut rounds with `flush` or rely on natural batching; a long
        // delay makes a forgotten flush show up as a timeout, not a flake.
        c.pool_max_delay = Duration::from_millis(2);
        c.checkpoint_wait_timeout = Duration::from_secs(20);
        c
    }

    pub async fn open(&self, store: Arc<dyn LogStore>) -> Result<Log, StartupError> {
        self.open_with(store, self.config()).await
    }

    pub async fn open_with(
        &self,
        store: Arc<dyn LogStore>,
        config: LogConfig,
    ) -> Result<Log, StartupError> {
        Log::builder(store, self.signer(), self.vkey.clone())
            .config(config)
            .open()
            .await
    }
}

pub fn entries(prefix: &str, range: std::ops::Range<u64>) -> Vec<Bytes> {
    range
        .map(|i| Bytes::from(format!("{prefix} {i}")))
        .collect()
}

/// Waits until the log has published a checkpoint of at least `size`.
pub async fn wait_published(log: &Log, size: u64) {
    let mut rx = log.subscribe_published();
    tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() >= size)),
    )
    .await
    .expect("checkpoint published in time")
    .unwrap();
}
