//! The fault matrix: each step of a commit fails in two ways, "the step
//! failed and nothing persisted" and "the step persisted but the caller saw
//! an error". After each, the process "crashes" (the store keeps only what
//! reached its disk, as `vellum_store::faulty` models it; the signer keeps
//! its journal), the log reloads through the normal start-up path, the
//! whole tree is re-verified from storage
//! (`vellum_log::fsck`: every entry, node, dedup record and checkpoint), every
//! acknowledged entry must be at its index, the root at the last signed
//! checkpoint must be the stored tree's, and the log must make progress.
//!
//! | # | step | injected fault | expected (and asserted) |
//! |---|---|---|---|
//! | 1a | store write batch (`commit`) | fails, nothing written | fatal stop; callers told "unknown"; reload; entries absent, re-append is new |
//! | 1b | store write batch | written, caller gets an error | fatal stop; reload; re-append finds them (duplicate, same indices) |
//! | 2a | sync | visible in memory, not durable, error | fatal stop (no answer, no signature); after the crash the batch is gone; reload; re-append is new |
//! | 2b | sync | durable, error | fatal stop; after the crash the batch is there; re-append is duplicate |
//! | 3a | signer journal | journal write fails, nothing recorded | signer stops; sequencing goes on (durable acks), no checkpoint until restart; reload resumes signing from the journal |
//! | 3b | signer journal | recorded, signer reports the failure | as 3a; reload takes the journal's checkpoint (not in the store) and stores it |
//! | 4a | signing | signer unavailable, nothing signed | progress: the publisher retries, checkpoint arrives |
//! | 4b | signing | signed and journaled, answer lost | progress: the retry gets "stale size", resyncs from the signer's state |
//! | 5a | witness round | witness fails, cosigns nothing | progress: the round is retried, checkpoint witnessed |
//! | 5b | witness round | witness cosigns, answer lost | progress: the retry gets 409 with the size, re-proves, witnessed |
//! | 5c | witness round, storing the cosigned note | store fails, nothing written | fatal stop; reload; checkpoint re-witnessed |
//! | 5d | witness round, storing the cosigned note | written, error | fatal stop; reload serves the stored cosigned note as witnessed |
//! | 6a | checkpoint publication (`put_checkpoint`) | fails, nothing written | fatal stop; reload stores the signer's checkpoint |
//! | 6b | checkpoint publication | written, error | fatal stop; reload serves it |
//! | 7a | response | queue full: refused at once, nothing queued | progress: `ResourceExhausted`, the retry is new |
//! | 7b | response | committed, caller gone before the answer | progress: the retry is a duplicate at the same indices |
//!
//! Ambiguous storage errors (1, 2, 5c/d, 6) stop the log: it never retries a
//! write whose outcome it does not know; the only way on is the reload.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use support::{Fixture, LocalSigner, entries};
use vellum_log::fsck::fsck;
use vellum_log::{
    BoxFuture, Log, LogError, LogState, SignError, Signer, Wait, Witness, WitnessFailure,
    Witnessing,
};
use vellum_merkle::proof::verify_consistency;
use vellum_merkle::{Hash, LeafIndex, TreeSize};
use vellum_note::{CosignerKey, Note, NoteSignature, Policy, SignedCheckpoint};
use vellum_server::local_signer::to_sign_error;
use vellum_signer::SignerError;
use vellum_signer::journal::JournalError;
use vellum_store::LogStore;
use vellum_store::faulty::{Fault, FaultyStore, Op};
use vellum_store::memory::MemoryStore;

// -------------------------------------------------------------- the signer

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignFault {
    /// The journal write fails before anything is recorded.
    JournalFail,
    /// The record lands, then the journal reports a failure.
    JournalLandThenFail,
    /// Unavailable, nothing signed.
    Unavailable,
    /// Signed and journaled; the answer is lost.
    AnswerLost,
}

/// The real signer (journal on disk) with faults, and a switch for "the
/// process is gone".
struct FaultySigner {
    inner: Arc<LocalSigner>,
    armed: Mutex<Option<SignFault>>,
    /// After a journal failure the real signer stops until restarted.
    stopped: AtomicBool,
    dead: AtomicBool,
    /// Signing requests refused because the signer had stopped: each is a
    /// chance the log had, and missed, to get a checkpoint signed.
    refused_stopped: AtomicU64,
}

fn journal_failure() -> SignError {
    to_sign_error(SignerError::Journal(JournalError::Io {
        path: "signer".into(),
        source: std::io::Error::other("injected journal failure"),
    }))
}

impl Signer for FaultySigner {
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        Box::pin(async move {
            if self.dead.load(Ordering::SeqCst) {
                return Err(SignError::Unavailable("the process is gone".into()));
            }
            if self.stopped.load(Ordering::SeqCst) {
                self.refused_stopped.fetch_add(1, Ordering::SeqCst);
                return Err(to_sign_error(SignerError::Stopped));
            }
            let fault = self.armed.lock().unwrap().take();
            match fault {
                None => self.inner.sign(text, old, proof).await,
                Some(SignFault::JournalFail) => {
                    self.stopped.store(true, Ordering::SeqCst);
                    Err(journal_failure())
                }
                Some(SignFault::JournalLandThenFail) => {
                    self.inner.sign(text, old, proof).await?;
                    self.stopped.store(true, Ordering::SeqCst);
                    Err(journal_failure())
                }
                Some(SignFault::Unavailable) => {
                    Err(SignError::Unavailable("injected: signer down".into()))
                }
                Some(SignFault::AnswerLost) => {
                    self.inner.sign(text, old, proof).await?;
                    Err(SignError::Unavailable("injected: answer lost".into()))
                }
            }
        })
    }
    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        self.inner.last_signed()
    }
}

// ------------------------------------------------------------- the witness

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WitnessFault {
    Fail,
    AnswerLost,
}

/// A tlog-witness in memory: cosigns only what extends what it cosigned.
struct TestWitness {
    key: CosignerKey,
    log_key: vellum_note::VerifierKey,
    state: Mutex<(u64, Hash)>,
    armed: Mutex<Option<WitnessFault>>,
}

impl Witness for TestWitness {
    fn name(&self) -> &str {
        "w0"
    }
    fn add_checkpoint<'a>(
        &'a self,
        old_size: u64,
        proof: &'a [Hash],
        signed: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<NoteSignature>, WitnessFailure>> {
        Box::pin(async move {
            let fault = self.armed.lock().unwrap().take();
            if fault == Some(WitnessFault::Fail) {
                return Err(WitnessFailure::Failed("injected: witness down".into()));
            }
            let cp = SignedCheckpoint::open(signed, &self.log_key, &[])
                .map_err(|e| WitnessFailure::Failed(e.to_string()))?;
            let (size, root) = (cp.checkpoint().size(), cp.checkpoint().root());
            let mut st = self.state.lock().unwrap();
            if old_size != st.0 {
                return Err(WitnessFailure::Conflict { size: st.0 });
            }
            verify_consistency(TreeSize::new(st.0).unwrap(), &st.1, size, &root, proof)
                .map_err(|e| WitnessFailure::Failed(e.to_string()))?;
            let text = Note::parse(signed).unwrap().text().to_owned();
            let sig = self.key.cosign(&text, 1_700_000_000).unwrap();
            *st = (size.get(), root);
            if fault == Some(WitnessFault::AnswerLost) {
                return Err(WitnessFailure::Failed("injected: answer lost".into()));
            }
            Ok(vec![sig])
        })
    }
}

// ------------------------------------------------------------ the harness

struct Harness {
    f: Fixture,
    disk: Arc<FaultyStore>,
    signer: Arc<FaultySigner>,
    witness: Option<Arc<TestWitness>>,
    log: Log,
    /// Every acknowledged (index, entry).
    acked: Vec<(u64, Bytes)>,
}

impl Harness {
    async fn new(with_witness: bool) -> Harness {
        let f = Fixture::new();
        let witness = with_witness.then(|| {
            Arc::new(TestWitness {
                key: CosignerKey::generate("example.com/witness0").unwrap(),
                log_key: f.vkey.clone(),
                state: Mutex::new((0, Hash::empty_root())),
                armed: Mutex::default(),
            })
        });
        let disk = Arc::new(FaultyStore::new(MemoryStore::new()));
        let (log, signer) = open(&f, disk.clone(), witness.clone(), f.config()).await;
        Harness {
            f,
            disk,
            signer,
            witness,
            log,
            acked: Vec::new(),
        }
    }

    async fn append(&mut self, e: Vec<Bytes>, wait: Wait) -> Result<Vec<(u64, bool)>, LogError> {
        let r = self.log.append(e.clone(), wait).await?;
        let out: Vec<(u64, bool)> = r
            .results
            .iter()
            .map(|a| (a.index.get(), a.duplicate))
            .collect();
        for ((i, _), e) in out.iter().zip(e) {
            self.acked.push((*i, e));
        }
        Ok(out)
    }

    /// Waits until the signer has refused `n` signing requests because it
    /// had stopped.
    async fn wait_refused_stopped(&self, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.signer.refused_stopped.load(Ordering::SeqCst) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the publisher did not ask the stopped signer again within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_failed(&self) -> String {
        let mut st = self.log.state();
        let s = tokio::time::timeout(
            Duration::from_secs(20),
            st.wait_for(|s| matches!(s, LogState::Failed(_))),
        )
        .await
        .expect("the log must stop on this fault")
        .unwrap()
        .clone();
        match s {
            LogState::Failed(m) => m,
            _ => unreachable!(),
        }
    }

    /// Crash and reload through `Log::builder`, then check the whole tree.
    async fn crash_and_reload(&mut self) {
        self.crash();
        self.reload().await;
    }

    /// The process is gone; `disk` is what a restart finds.
    fn crash(&mut self) {
        self.signer.dead.store(true, Ordering::SeqCst);
        self.disk = Arc::new(self.disk.crash());
    }

    async fn reload(&mut self) {
        let (log, signer) = open(
            &self.f,
            self.disk.clone(),
            self.witness.clone(),
            self.f.config(),
        )
        .await;
        self.log = log;
        self.signer = signer;
        self.check_tree();
    }

    /// fsck from storage; every acknowledged entry at its index; the last
    /// signed checkpoint is the stored tree's.
    fn check_tree(&self) {
        let report = fsck(&*self.disk, &self.f.vkey, &mut |_| {}).unwrap();
        let size = report.head.size.get();
        for (i, e) in &self.acked {
            assert!(*i < size, "acknowledged entry {i} lost (tree size {size})");
            let stored = self
                .disk
                .read_entries(LeafIndex::new(*i).unwrap(), 1)
                .unwrap();
            assert_eq!(stored[0], *e, "acknowledged entry {i} changed");
        }
        if let Some(p) = self.log.published() {
            let root = vellum_log::reader::root_at(&*self.disk, p.size).unwrap();
            assert_eq!(
                root, p.root,
                "the published checkpoint is not the stored tree"
            );
        }
    }

    /// The log goes on: a new append is sequenced and signed.
    async fn progresses(&mut self, tag: &str) {
        let r = self
            .append(entries(tag, 0..3), Wait::Checkpoint)
            .await
            .unwrap();
        assert!(r.iter().all(|(_, d)| !d));
        self.check_tree();
    }
}

async fn open(
    f: &Fixture,
    disk: Arc<FaultyStore>,
    witness: Option<Arc<TestWitness>>,
    config: vellum_log::LogConfig,
) -> (Log, Arc<FaultySigner>) {
    let signer = Arc::new(FaultySigner {
        inner: f.signer(),
        armed: Mutex::default(),
        stopped: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        refused_stopped: AtomicU64::new(0),
    });
    let witnessing = witness.map(|w| {
        let policy = Policy::parse(&format!(
            "log {}\nwitness w0 {}\nquorum w0\n",
            f.vkey,
            w.key.verifier().verifier_key()
        ))
        .unwrap();
        Witnessing {
            witnesses: vec![w as Arc<dyn Witness>],
            policy,
            publish_below_policy: false,
            round_timeout: Duration::from_secs(5),
            retry: Duration::from_millis(20),
        }
    });
    let log = Log::builder(disk, signer.clone(), f.vkey.clone())
        .config(config)
        .witnessing(witnessing)
        .open()
        .await
        .unwrap();
    (log, signer)
}

fn row(id: &str, step: &str, fault: &str, observed: &str) {
    eprintln!("| {id} | {step} | {fault} | {observed} |");
}

// ----------------------------------------------------------------- rows 1, 2

async fn store_commit_row(id: &str, fault: Fault, landed_after_crash: bool) {
    let mut h = Harness::new(false).await;
    h.append(entries("ok", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    h.disk.arm(Op::Commit, 0, fault);
    let err = h
        .append(entries("doomed", 0..5), Wait::Durable)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            LogError::Unanswered | LogError::RoundFailed { .. } if err.to_string().contains("unknown")
        ),
        "{err:?}"
    );
    let why = h.wait_failed().await;
    assert!(why.contains("commit failed"), "{why}");
    // Stopped means stopped: nothing more is accepted.
    assert!(matches!(
        h.log.append(entries("after", 0..1), Wait::Durable).await,
        Err(LogError::Stopped { .. })
    ));
    h.crash_and_reload().await;
    assert_eq!(
        h.log.committed().size.get(),
        if landed_after_crash { 15 } else { 10 }
    );
    let r = h
        .append(entries("doomed", 0..5), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r[0].0, 10);
    assert!(r.iter().all(|(_, d)| *d == landed_after_crash), "{r:?}");
    h.progresses("more").await;
    row(
        id,
        "store commit",
        &format!("{fault:?}"),
        &format!(
            "fatal stop ({why}); reload ok; batch {} after the crash",
            if landed_after_crash {
                "present"
            } else {
                "absent"
            }
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_1a_write_batch_fails() {
    store_commit_row("1a", Fault::Fail, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_1b_write_batch_lands_then_errors() {
    store_commit_row("1b", Fault::LandThenFail, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_2a_sync_fails_data_only_in_memory() {
    store_commit_row("2a", Fault::VisibleNotDurable, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_2b_sync_errors_after_data_is_durable() {
    store_commit_row("2b", Fault::LandThenFail, true).await;
}

// ------------------------------------------------------------------- row 3

async fn journal_row(id: &str, fault: SignFault) {
    let mut h = Harness::new(false).await;
    h.append(entries("ok", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    *h.signer.armed.lock().unwrap() = Some(fault);
    // Sequencing does not wait for the signer: durable appends go on.
    h.append(entries("durable", 0..5), Wait::Durable)
        .await
        .unwrap();
    h.log.flush().await.unwrap();
    assert_eq!(h.log.committed().size.get(), 15);
    // ...but no checkpoint covers them while the signer is stopped: the
    // publisher asks again (its retry after the failed attempt) and is
    // refused, and publishes nothing.
    h.wait_refused_stopped(1).await;
    assert!(h.signer.stopped.load(Ordering::SeqCst));
    assert_eq!(
        h.log.published().unwrap().size.get(),
        10,
        "a checkpoint was published while the signer was stopped"
    );
    assert_eq!(*h.log.state().borrow(), LogState::Running);
    h.crash_and_reload().await;
    let after = h.log.published().unwrap().size.get();
    match fault {
        // The journal never recorded 15: the reload starts from 10.
        SignFault::JournalFail => assert_eq!(after, 10),
        // The journal recorded 15 before failing: start-up takes it and
        // stores it, though the store never had it.
        _ => {
            assert_eq!(after, 15);
            assert!(
                h.disk
                    .checkpoint_at(TreeSize::new(15).unwrap())
                    .unwrap()
                    .is_some()
            );
        }
    }
    h.progresses("more").await;
    row(
        id,
        "signer journal",
        &format!("{fault:?}"),
        &format!(
            "signer stopped, sequencing went on, no checkpoint until restart; reload resumed at {after}"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_3a_journal_write_fails() {
    journal_row("3a", SignFault::JournalFail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_3b_journal_records_then_fails() {
    journal_row("3b", SignFault::JournalLandThenFail).await;
}

// ------------------------------------------------------------------- row 4

async fn signing_row(id: &str, fault: SignFault) {
    let mut h = Harness::new(false).await;
    h.append(entries("ok", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    *h.signer.armed.lock().unwrap() = Some(fault);
    // The checkpoint wait rides over the failed attempt.
    let r = h
        .append(entries("signed", 0..5), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r[0].0, 10);
    assert!(h.signer.armed.lock().unwrap().is_none(), "the fault fired");
    assert_eq!(*h.log.state().borrow(), LogState::Running);
    h.check_tree();
    h.crash_and_reload().await;
    h.progresses("more").await;
    row(
        id,
        "signing",
        &format!("{fault:?}"),
        "progress (retried), reload ok",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_4a_signer_unavailable() {
    signing_row("4a", SignFault::Unavailable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_4b_signed_but_answer_lost() {
    signing_row("4b", SignFault::AnswerLost).await;
}

// ------------------------------------------------------------------- row 5

async fn witness_row(id: &str, fault: WitnessFault) {
    let mut h = Harness::new(true).await;
    h.append(entries("ok", 0..10), Wait::Witnessed)
        .await
        .unwrap();
    let w = h.witness.clone().unwrap();
    *w.armed.lock().unwrap() = Some(fault);
    let r = h.append(entries("w", 0..5), Wait::Witnessed).await.unwrap();
    assert_eq!(r[0].0, 10);
    assert!(w.armed.lock().unwrap().is_none(), "the fault fired");
    assert_eq!(h.log.witnessed().unwrap().size.get(), 15);
    assert_eq!(w.state.lock().unwrap().0, 15);
    h.crash_and_reload().await;
    h.append(entries("more", 0..3), Wait::Witnessed)
        .await
        .unwrap();
    h.check_tree();
    row(
        id,
        "witness round",
        &format!("{fault:?}"),
        "progress (round retried), witnessed at 15",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_5a_witness_fails() {
    witness_row("5a", WitnessFault::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_5b_witness_cosigns_but_answer_lost() {
    witness_row("5b", WitnessFault::AnswerLost).await;
}

async fn witness_store_row(id: &str, fault: Fault) {
    let mut h = Harness::new(true).await;
    h.append(entries("ok", 0..10), Wait::Witnessed)
        .await
        .unwrap();
    // The publisher stores checkpoint 15 first; the witness round second.
    h.disk.arm(Op::PutCheckpoint, 1, fault);
    h.append(entries("w", 0..5), Wait::Checkpoint)
        .await
        .unwrap();
    let why = h.wait_failed().await;
    assert!(why.contains("storing the cosigned checkpoint 15"), "{why}");
    h.crash();
    // What the restart finds: the cosigned note only if the write landed.
    let stored = h
        .disk
        .checkpoint_at(TreeSize::new(15).unwrap())
        .unwrap()
        .unwrap();
    let cosigned = Note::parse(&stored).unwrap().signatures().len() == 2;
    assert_eq!(cosigned, fault == Fault::LandThenFail);
    h.reload().await;
    if cosigned {
        // Start-up serves the stored, cosigned note as witnessed.
        assert_eq!(h.log.witnessed().unwrap().size.get(), 15);
    } else {
        // The first round after start-up witnesses it again.
        let mut w = h.log.subscribe_published();
        tokio::time::timeout(
            Duration::from_secs(20),
            w.wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() >= 15)),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(h.log.witnessed().unwrap().size.get(), 15);
    }
    h.append(entries("more", 0..3), Wait::Witnessed)
        .await
        .unwrap();
    h.check_tree();
    row(
        id,
        "witness round: store cosigned note",
        &format!("{fault:?}"),
        &format!(
            "fatal stop ({why}); reload ok, cosigned note {}",
            if cosigned {
                "kept"
            } else {
                "absent, re-witnessed"
            }
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_5c_storing_the_cosigned_note_fails() {
    witness_store_row("5c", Fault::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_5d_storing_the_cosigned_note_lands_then_errors() {
    witness_store_row("5d", Fault::LandThenFail).await;
}

// ------------------------------------------------------------------- row 6

async fn publication_row(id: &str, fault: Fault) {
    let mut h = Harness::new(false).await;
    h.append(entries("ok", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    h.disk.arm(Op::PutCheckpoint, 0, fault);
    h.append(entries("p", 0..5), Wait::Durable).await.unwrap();
    let why = h.wait_failed().await;
    assert!(why.contains("storing checkpoint 15"), "{why}");
    h.crash_and_reload().await;
    // Either way the signer signed 15: start-up takes it from the signer.
    assert_eq!(h.log.published().unwrap().size.get(), 15);
    assert!(
        h.disk
            .checkpoint_at(TreeSize::new(15).unwrap())
            .unwrap()
            .is_some()
    );
    h.progresses("more").await;
    row(
        id,
        "checkpoint publication",
        &format!("{fault:?}"),
        &format!("fatal stop ({why}); reload stored the signer's checkpoint 15"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_6a_put_checkpoint_fails() {
    publication_row("6a", Fault::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_6b_put_checkpoint_lands_then_errors() {
    publication_row("6b", Fault::LandThenFail).await;
}

// ------------------------------------------------------------------- row 7

/// Waits until a commit has reached the (held) store.
async fn wait_in_commit(disk: &FaultyStore) {
    for _ in 0..4000 {
        if disk.in_flight(Op::Commit) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no commit reached the store within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_7a_refused_at_once_nothing_queued() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.queue_max_entries = 4;
    cfg.max_entries_per_call = 4;
    let disk = Arc::new(FaultyStore::new(MemoryStore::new()));
    let (log, signer) = open(&f, disk.clone(), None, cfg).await;
    let mut h = Harness {
        f,
        disk,
        signer,
        witness: None,
        log,
        acked: Vec::new(),
    };
    h.disk.hold(Op::Commit);
    let first = {
        let log = h.log.clone();
        tokio::spawn(async move { log.append(entries("first", 0..4), Wait::Durable).await })
    };
    wait_in_commit(&h.disk).await;
    // The queue is full (the first call holds it until its round ends).
    let err = h
        .log
        .append(entries("second", 0..1), Wait::Durable)
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::QueueFull { .. }), "{err:?}");
    h.disk.release(Op::Commit);
    let r = first.await.unwrap().unwrap();
    for (a, e) in r.results.iter().zip(entries("first", 0..4)) {
        h.acked.push((a.index.get(), e));
    }
    assert_eq!(
        h.log.committed().size.get(),
        4,
        "nothing of the refused call was stored"
    );
    let r = h
        .append(entries("second", 0..1), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r, vec![(4, false)]);
    h.crash_and_reload().await;
    h.progresses("more").await;
    row(
        "7a",
        "response",
        "queue full",
        "RESOURCE_EXHAUSTED at once, nothing stored; retry new",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_7b_committed_but_the_caller_is_gone() {
    let mut h = Harness::new(false).await;
    h.append(entries("ok", 0..10), Wait::Checkpoint)
        .await
        .unwrap();
    h.disk.hold(Op::Commit);
    let gone = {
        let log = h.log.clone();
        tokio::spawn(async move { log.append(entries("gone", 0..5), Wait::Durable).await })
    };
    wait_in_commit(&h.disk).await;
    // The caller disconnects while its round commits.
    gone.abort();
    assert!(gone.await.unwrap_err().is_cancelled());
    h.disk.release(Op::Commit);
    h.log.flush().await.unwrap();
    assert_eq!(h.log.committed().size.get(), 15);
    let r = h
        .append(entries("gone", 0..5), Wait::Checkpoint)
        .await
        .unwrap();
    assert_eq!(r, (10..15).map(|i| (i, true)).collect::<Vec<_>>());
    h.crash_and_reload().await;
    h.progresses("more").await;
    row(
        "7b",
        "response",
        "caller gone after commit",
        "retry: duplicate at the same indices",
    );
}
