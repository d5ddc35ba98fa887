//! Start-up checks and fatal errors: the log refuses stores that disagree
//! with what was signed, stops on ambiguous storage errors, and comes back
//! through the normal start-up path.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use support::{Fixture, entries, wait_published};
use vellum_log::{BoxFuture, LogError, LogState, SignError, Signer, StartupError, Wait};
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_store::conformance::{Builder, check_against_reference};
use vellum_store::faulty::{Fault, FaultyStore, Op};
use vellum_store::memory::MemoryStore;
use vellum_store::{CommitBatch, LogStore, StoreError, TreeHead};

/// Builds a store directly (no log, no checkpoints) holding `e`.
fn store_with(e: &[Bytes]) -> Arc<MemoryStore> {
    let s = Arc::new(MemoryStore::new());
    let mut b = Builder::new();
    s.commit(&b.batch(e)).unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_where_it_stopped() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    log.append(entries("a", 0..100), Wait::Checkpoint)
        .await
        .unwrap();
    let before = log.published().unwrap();
    log.shutdown().await;

    let log = f.open(store.clone()).await.unwrap();
    assert_eq!(log.published().unwrap(), before);
    let r = log
        .append(entries("a", 100..150), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r.results[0].index.get(), 100);
    let mut all = entries("a", 0..150);
    all.truncate(150);
    check_against_reference(&*store, &all);
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_copy_of_the_data_is_refused() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    log.append(entries("h", 0..20), Wait::Checkpoint)
        .await
        .unwrap();
    log.shutdown().await;
    // The same history, but only its first 10 entries: a backup taken
    // earlier and restored.
    let older = store_with(&entries("h", 0..10));
    let err = f.open(older).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartupError::StoreBehindSigner {
                signed: 20,
                stored: 10
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(
            "the signer remembers signing a tree of size 20, but the store holds only 10 entries"
        ) && err.to_string().contains("an older copy"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_another_history_is_refused() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    log.append(entries("h", 0..20), Wait::Checkpoint)
        .await
        .unwrap();
    log.shutdown().await;
    let mut forked = entries("h", 0..25);
    forked[7] = Bytes::from("rewritten");
    let err = f.open(store_with(&forked)).await.unwrap_err();
    assert!(
        matches!(err, StartupError::CheckpointMismatch { size: 20, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_that_forgot_is_refused() {
    let f = Fixture::new();
    let store = Arc::new(MemoryStore::new());
    let log = f.open(store.clone()).await.unwrap();
    log.append(entries("h", 0..20), Wait::Checkpoint)
        .await
        .unwrap();
    log.shutdown().await;
    let fresh = f.signer_at(&f.dir.path().join("empty-journal"));
    let err = vellum_log::Log::builder(store, fresh, f.vkey.clone())
        .config(f.config())
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StartupError::SignerBehindStore {
                signed: 0,
                stored: 20
            }
        ),
        "{err}"
    );
}

/// A store whose tree head lies about the root.
struct LyingHead(MemoryStore);

impl LogStore for LyingHead {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        let mut h = self.0.tree_head()?;
        h.root.0[0] ^= 1;
        Ok(h)
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.0.read_nodes(ids)
    }
    fn read_node_range(&self, l: u8, s: u64, c: u64) -> Result<Vec<Hash>, StoreError> {
        self.0.read_node_range(l, s, c)
    }
    fn read_entries(&self, s: LeafIndex, c: u64) -> Result<Vec<Bytes>, StoreError> {
        self.0.read_entries(s, c)
    }
    fn find_leaves(&self, h: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.0.find_leaves(h)
    }
    fn commit(&self, b: &CommitBatch) -> Result<(), StoreError> {
        self.0.commit(b)
    }
    fn put_checkpoint(&self, s: TreeSize, n: &[u8]) -> Result<(), StoreError> {
        self.0.put_checkpoint(s, n)
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.0.latest_checkpoint()
    }
    fn checkpoint_at(&self, s: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.0.checkpoint_at(s)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_root_that_does_not_match_its_nodes_is_refused() {
    let f = Fixture::new();
    let inner = MemoryStore::new();
    inner
        .commit(&Builder::new().batch(&entries("x", 0..9)))
        .unwrap();
    let err = f.open(Arc::new(LyingHead(inner))).await.unwrap_err();
    assert!(
        matches!(err, StartupError::RootMismatch { size: 9, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stops_the_log_and_reload_continues() {
    for fault in [Fault::Fail, Fault::LandThenFail] {
        let f = Fixture::new();
        let store = Arc::new(FaultyStore::new(MemoryStore::new()));
        let log = f.open(store.clone()).await.unwrap();
        log.append(entries("ok", 0..10), Wait::Checkpoint)
            .await
            .unwrap();
        store.arm(Op::Commit, 0, fault);
        let err = log
            .append(entries("doomed", 0..5), Wait::Durable)
            .await
            .unwrap_err();
        assert!(
            matches!(err, LogError::Unanswered | LogError::RoundFailed { .. })
                && err.to_string().contains("unknown"),
            "{err:?}"
        );
        let mut state = log.state();
        state
            .wait_for(|s| matches!(s, LogState::Failed(_)))
            .await
            .unwrap();
        assert!(matches!(
            log.append(entries("after", 0..1), Wait::Durable).await,
            Err(LogError::Stopped { .. })
        ));
        log.shutdown().await;

        // The normal start-up path, on the same store.
        let log = f.open(store.clone()).await.unwrap();
        let r = log
            .append(entries("doomed", 0..5), Wait::Checkpoint)
            .await
            .unwrap();
        let landed = fault == Fault::LandThenFail;
        assert!(
            r.results.iter().all(|a| a.duplicate == landed),
            "{fault:?}: duplicates must be exactly the entries that landed"
        );
        assert_eq!(r.results[0].index.get(), 10);
        let mut all = entries("ok", 0..10);
        all.extend(entries("doomed", 0..5));
        check_against_reference(&*store, &all);
        log.shutdown().await;
    }
}

/// A signer that is down for its first `down` calls.
struct Flaky {
    inner: Arc<support::LocalSigner>,
    down: AtomicUsize,
}

impl Signer for Flaky {
    fn sign<'a>(
        &'a self,
        t: &'a str,
        o: TreeSize,
        p: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        if self
            .down
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
            .is_ok()
        {
            return Box::pin(async { Err(SignError::Unavailable("injected outage".into())) });
        }
        self.inner.sign(t, o, p)
    }
    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        self.inner.last_signed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_outage_delays_checkpoints_not_sequencing() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.signer_retry = std::time::Duration::from_millis(10);
    let signer = Arc::new(Flaky {
        inner: f.signer(),
        down: AtomicUsize::new(5),
    });
    let log =
        vellum_log::Log::builder(Arc::new(MemoryStore::new()), signer.clone(), f.vkey.clone())
            .config(cfg)
            .open()
            .await
            .unwrap();
    // Durable appends go on while the signer is down.
    for i in 0..5 {
        log.append(entries(&format!("d{i}"), 0..10), Wait::Durable)
            .await
            .unwrap();
    }
    // And checkpoints arrive once it is back.
    wait_published(&log, 50).await;
    assert_eq!(signer.down.load(Ordering::SeqCst), 0);
    log.shutdown().await;
}
