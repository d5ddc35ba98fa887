//! The crash loop: the real `vellum serve` on one data folder, appended to
//! by many concurrent callers, killed with SIGKILL at random moments and
//! restarted, again and again.
//!
//! After every restart, from the outside (gRPC only):
//!
//! * every acknowledged entry is at its index: the test keeps its own copy
//!   of the log's leaf hashes, read back entry by entry (each read only
//!   once, so the whole run costs `O(entries)` reads), and every
//!   acknowledged (index, leaf hash) must be in it;
//! * the root recomputed from those entries equals the signed checkpoint's
//!   root (the server's start-up check does the same from its own storage);
//! * every signed checkpoint ever seen (at restarts and in the answers of
//!   appends that waited for one) verifies with the log key, no two have one
//!   size and two roots, and each is the root of a prefix of that one
//!   sequence of leaves, so all are consistent with each other; the
//!   server's consistency proof between the checkpoints seen at two
//!   consecutive restarts verifies too.
//!
//! Entries whose append got no answer (killed in flight) are appended again
//! after the restart: the log's dedup must give them their first index if
//! they landed.
//!
//! `VELLUM_CRASH_KILLS` sets the number of kills (default 20);
//! `VELLUM_CRASH_SEED` replays a run. `scripts/crash-loop` runs 1,000 in a
//! release build.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vellum_client::{ClientOptions, UnverifiedClient, Wait};
use vellum_merkle::proof::{verify_consistency, verify_inclusion};
use vellum_merkle::{CompactRange, Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_testkit::process::{self, Server};

const ORIGIN: &str = "example.com/crash-loop";
/// Concurrent appenders.
const WORKERS: usize = 8;

/// A small xorshift generator: the run is replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

/// What the appenders learned in one cycle.
#[derive(Default)]
struct Heard {
    /// Acknowledged (index, leaf hash): durable, by the log's promise.
    acks: Vec<(u64, Hash)>,
    /// Signed notes that came with answers.
    notes: Vec<Bytes>,
    /// Entries whose append got no answer: outcome unknown.
    unknown: Vec<Bytes>,
    /// Retried entries the log already held.
    duplicates: u64,
}

/// What the test knows for sure about the log, across restarts.
struct Truth {
    vkey: VerifierKey,
    /// Leaf hashes of entries 0..len, read back from the log and checked
    /// against every checkpoint that covers them.
    leaves: Vec<Hash>,
    edge: CompactRange,
    /// Every checkpoint seen: size -> root.
    seen: BTreeMap<u64, Hash>,
    /// Acknowledged entries beyond `leaves`, still to be read back.
    pending: HashMap<u64, Hash>,
    acks: u64,
    duplicates: u64,
    /// The checkpoint seen at the last restart.
    last_restart: Option<(u64, Hash)>,
}

impl Truth {
    /// Opens a signed note and records its (size, root): a second root for a
    /// size already seen is a fork.
    fn observe(&mut self, note: &[u8]) -> (u64, Hash) {
        let cp = SignedCheckpoint::open(note, &self.vkey, &[])
            .unwrap_or_else(|e| panic!("a checkpoint that does not verify: {e}"));
        let (size, root) = (cp.checkpoint().size().get(), cp.checkpoint().root());
        if let Some(old) = self.seen.insert(size, root) {
            assert_eq!(old, root, "two signed roots for size {size}: a fork");
        }
        // A checkpoint at or below what was read back must be the root of
        // that prefix.
        if size <= self.leaves.len() as u64 {
            assert_eq!(
                root_of(&self.leaves[..size as usize]),
                root,
                "checkpoint {size} is not the root of the entries the log served"
            );
        }
        (size, root)
    }

    fn ack(&mut self, index: u64, leaf: Hash) {
        self.acks += 1;
        match self.leaves.get(index as usize) {
            Some(h) => assert_eq!(
                *h, leaf,
                "acknowledged entry at {index} is not the entry the log holds there"
            ),
            None => {
                if let Some(old) = self.pending.insert(index, leaf) {
                    assert_eq!(old, leaf, "two entries acknowledged at index {index}");
                }
            }
        }
    }
}

fn root_of(leaves: &[Hash]) -> Hash {
    let mut r = CompactRange::new();
    for h in leaves {
        r.append(*h, |_, _| {}).unwrap();
    }
    r.root()
}

async fn connect(url: &str) -> UnverifiedClient {
    let opts = ClientOptions {
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    };
    UnverifiedClient::connect_with(url, &opts).await.unwrap()
}

/// After a restart: wait for a checkpoint covering every acknowledged entry,
/// read back what is new, and check it all.
async fn check_after_restart(client: &UnverifiedClient, truth: &mut Truth, rng: &mut Rng) {
    let needed = truth
        .pending
        .keys()
        .max()
        .map_or(truth.leaves.len() as u64, |m| m + 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let note = loop {
        match client.checkpoint().await {
            Ok(n) => {
                let cp = SignedCheckpoint::open(&n, &truth.vkey, &[]).unwrap();
                if cp.checkpoint().size().get() >= needed {
                    break n;
                }
            }
            // No checkpoint before the first signature.
            Err(e) if needed == 0 => {
                let _ = e;
                return;
            }
            Err(e) => assert!(Instant::now() < deadline, "no checkpoint: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint covering the {needed} acknowledged entries after a restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (size, root) = truth.observe(&note);

    // Read back the new entries, check acknowledgements and the root.
    while (truth.leaves.len() as u64) < size {
        let start = truth.leaves.len() as u64;
        let want = (size - start).min(1024) as u32;
        let page = client.entries(start, want).await.unwrap();
        assert!(!page.is_empty(), "empty page at {start}");
        for e in page.iter().take((size - start) as usize) {
            let index = truth.leaves.len() as u64;
            let h = leaf_hash(e);
            if let Some(acked) = truth.pending.remove(&index) {
                assert_eq!(acked, h, "acknowledged entry {index} changed or was lost");
            }
            truth.leaves.push(h);
            truth.edge.append(h, |_, _| {}).unwrap();
            let n = truth.leaves.len() as u64;
            if let Some(r) = truth.seen.get(&n) {
                assert_eq!(
                    *r,
                    truth.edge.root(),
                    "checkpoint {n} does not match the entries"
                );
            }
        }
    }
    assert!(
        truth.pending.is_empty(),
        "acknowledged entries beyond the checkpoint: {:?}",
        truth.pending.keys().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        truth.edge.root(),
        root,
        "the signed root is not the root of the entries"
    );

    // The server's own proofs: consistency from the last restart's
    // checkpoint, inclusion of a few acknowledged entries.
    if let Some((old_size, old_root)) = truth.last_restart {
        let c = client.consistency(old_size, size).await.unwrap();
        verify_consistency(
            TreeSize::new(old_size).unwrap(),
            &old_root,
            TreeSize::new(size).unwrap(),
            &root,
            &c.proof,
        )
        .unwrap_or_else(|e| panic!("consistency {old_size} -> {size}: {e}"));
    }
    for _ in 0..3 {
        if size == 0 {
            break;
        }
        let i = rng.below(size);
        let p = client.entry_and_proof(i, size).await.unwrap();
        let leaf = leaf_hash(p.entry.as_ref().unwrap());
        assert_eq!(leaf, truth.leaves[i as usize]);
        verify_inclusion(
            &leaf,
            LeafIndex::new(i).unwrap(),
            TreeSize::new(size).unwrap(),
            &p.proof,
            &root,
        )
        .unwrap();
    }
    truth.last_restart = Some((size, root));
}

/// One appender: appends until told to stop, records what it hears.
async fn appender(
    client: UnverifiedClient,
    heard: Arc<Mutex<Heard>>,
    retry: Arc<Mutex<Vec<Bytes>>>,
    stop: Arc<AtomicBool>,
    tag: String,
    seed: u64,
) {
    let mut rng = Rng(seed | 1);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut batch: Vec<Bytes> = {
            let mut r = retry.lock().unwrap();
            let n = r.len().min(4);
            r.drain(..n).collect()
        };
        let retried = batch.len();
        for _ in 0..(1 + rng.below(8)) {
            batch.push(Bytes::from(format!("{tag} {seq} {}", rng.next())));
            seq += 1;
        }
        let wait = if rng.below(8) == 0 {
            Wait::Checkpoint
        } else {
            Wait::Durable
        };
        match client.append(batch.clone(), wait).await {
            Ok(a) => {
                let mut h = heard.lock().unwrap();
                for (i, (e, r)) in batch.iter().zip(&a.results).enumerate() {
                    h.acks.push((r.index, leaf_hash(e)));
                    if i < retried && r.duplicate {
                        h.duplicates += 1;
                    }
                }
                if let Some(note) = a.checkpoint {
                    h.notes.push(note);
                }
            }
            Err(_) => {
                // Killed in flight, or refused: the outcome is unknown.
                heard.lock().unwrap().unknown.extend(batch);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let kills = env_u64("VELLUM_CRASH_KILLS").unwrap_or(20);
    assert!(kills >= 1, "VELLUM_CRASH_KILLS must be at least 1");
    let seed = env_u64("VELLUM_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    eprintln!("crash loop: {kills} kills, VELLUM_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut server: Server = Server::start_ok(&data, &["--origin", ORIGIN]);
    let mut truth = Truth {
        vkey: VerifierKey::parse(&server.vkey).unwrap(),
        leaves: Vec::new(),
        edge: CompactRange::new(),
        seen: BTreeMap::new(),
        pending: HashMap::new(),
        acks: 0,
        duplicates: 0,
        last_restart: None,
    };
    let retry: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let started = Instant::now();
    let mut startup_kills = 0u64;
    for kill in 0..kills {
        let heard: Arc<Mutex<Heard>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let url = server.url.clone();
        let run_for = Duration::from_millis(20 + rng.below(300));
        let seeds: Vec<u64> = (0..WORKERS).map(|_| rng.next()).collect();
        rt.block_on(async {
            let client = connect(&url).await;
            let tasks: Vec<_> = seeds
                .into_iter()
                .enumerate()
                .map(|(w, s)| {
                    tokio::spawn(appender(
                        client.clone(),
                        heard.clone(),
                        retry.clone(),
                        stop.clone(),
                        format!("k{kill} w{w}"),
                        s,
                    ))
                })
                .collect();
            tokio::time::sleep(run_for).await;
            // SIGKILL while the appenders are in full flight.
            server.kill();
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.unwrap();
            }
        });
        let heard = std::mem::take(&mut *heard.lock().unwrap());
        for note in &heard.notes {
            truth.observe(note);
        }
        for (i, h) in heard.acks {
            truth.ack(i, h);
        }
        truth.duplicates += heard.duplicates;
        retry.lock().unwrap().extend(heard.unknown);

        // Now and then a second kill during the restart itself: while the
        // store opens, the start-up check runs, or the first checkpoint is
        // signed and stored.
        if rng.below(4) == 0 {
            let delay = Duration::from_millis(rng.below(150));
            if let Some(status) = Server::start_and_kill(&data, &["--origin", ORIGIN], delay) {
                panic!("vellum serve exited on its own during start-up: {status}");
            }
            startup_kills += 1;
        }
        server = Server::start_ok(&data, &["--origin", ORIGIN]);
        let url = server.url.clone();
        rt.block_on(async {
            let client = connect(&url).await;
            check_after_restart(&client, &mut truth, &mut rng).await;
        });
        if (kill + 1) % 50 == 0 {
            eprintln!(
                "crash loop: {} kills survived ({startup_kills} more during start-up), {} \
                 entries, {:?}",
                kill + 1,
                truth.leaves.len(),
                started.elapsed()
            );
        }
    }

    // A clean stop, then the whole store offline.
    let (status, rest) = server.terminate();
    assert_eq!(status.code(), Some(0), "{rest}");
    let out = process::vellum([
        "fsck".as_ref(),
        "--quiet".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    process::assert_ok(&out);
    eprintln!(
        "crash loop: {kills} kills under load and {startup_kills} during start-up survived; \
         {} acknowledged entries checked ({} retried entries found already stored), {} \
         entries read back and re-hashed, {} signed checkpoints seen, 0 lost; fsck ok; \
         {:?}; VELLUM_CRASH_SEED={seed}",
        truth.acks,
        truth.duplicates,
        truth.leaves.len(),
        truth.seen.len(),
        started.elapsed()
    );
    assert!(
        truth.acks > 0,
        "nothing was acknowledged: the loop tested nothing"
    );
}
