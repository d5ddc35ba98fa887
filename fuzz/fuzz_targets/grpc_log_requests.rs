//! Every request message of `vellum.v1.Log`, decoded with prost from
//! arbitrary bytes (the first byte picks the message), then converted into
//! `vellum_log::Log` calls as `vellum-server`'s gRPC service converts them:
//! reads against an in-memory log of 300 entries with a signed checkpoint
//! (shared by all runs, never written to), appends against a fresh log per
//! run (in-memory store, real signer on a scratch journal, small limits so
//! that every limit is reachable).
//!
//! Properties:
//! * no panic (decoding included), no hang;
//! * round trip: a decoded message re-encodes to one that decodes equal;
//! * accept ⇒ valid: every proof the log returns verifies against the
//!   naive reference root of the size it names; entries and checkpoints are
//!   the ones stored; a leaf-hash lookup finds only a leaf of the log;
//! * refusals are precise: reads fail only for what is outside the log
//!   (index or size beyond it, `from > to`, a count of 0, a leaf hash that
//!   is not 32 bytes or not in the log, a size above 2^63);
//! * an accepted append stores exactly its entries in order (dedup aside)
//!   and the whole store then matches the reference tree; a refused one
//!   stores nothing.

#![no_main]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use tokio::runtime::Runtime;
use vellum_fuzz::{LOG_ORIGIN, keys, scratch_dir};
use vellum_log::{At, BoxFuture, Log, LogConfig, LogError, SignError, Signer, Wait};
use vellum_merkle::proof::{verify_consistency, verify_inclusion};
use vellum_merkle::testonly::reference;
use vellum_merkle::{Hash, LeafIndex, MAX_TREE_SIZE, TreeSize, leaf_hash};
use vellum_note::{Checkpoint, SignedCheckpoint};
use vellum_proto::v1 as pb;
use vellum_signer::{CheckpointSigner, SignerError};
use vellum_store::LogStore;
use vellum_store::conformance::{Builder, check_against_reference, snapshot};
use vellum_store::memory::MemoryStore;

const ENTRIES: u64 = 300;

/// The real signer as the log sees it. `vellum-server`'s adapter would pull
/// RocksDB into the fuzz build; this one signs on the calling thread.
struct FuzzSigner(Mutex<CheckpointSigner>);

impl Signer for FuzzSigner {
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old_size: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        Box::pin(async move {
            let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
            s.sign(text, old_size, proof)
                .map(Bytes::from)
                .map_err(|e| match e {
                    SignerError::StaleOldSize { signed_size, .. } => {
                        SignError::StaleOldSize { signed_size }
                    }
                    e if e.is_refusal() => SignError::Refused(e.to_string()),
                    e => SignError::Unavailable(e.to_string()),
                })
        })
    }

    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        Box::pin(async move {
            let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
            Ok(s.last_signed().map(|l| Bytes::from(l.note.clone())))
        })
    }
}

struct Fixture {
    rt: Runtime,
    log: Log,
    entries: Vec<Bytes>,
    /// The reference root of every size `0..=ENTRIES`.
    roots: Vec<Hash>,
    _journal: tempfile::TempDir,
}

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("vellum test entry {i}"))
}

fn config() -> LogConfig {
    let mut c = LogConfig::new(LOG_ORIGIN);
    c.max_entries_per_call = 8;
    c.max_entry_size = 64;
    c.queue_max_entries = 16;
    c.queue_max_bytes = 256;
    c.max_page = 50;
    c.checkpoint_wait_timeout = Duration::from_secs(5);
    c
}

/// A log of `entries` with a checkpoint of its size, signed by a real
/// signer whose journal is in `journal`.
async fn open_log(entries: &[Bytes], journal: &std::path::Path) -> (Log, Arc<MemoryStore>) {
    let k = keys();
    let store = Arc::new(MemoryStore::new());
    let mut signer = CheckpointSigner::open(k.log.clone(), journal).expect("a fresh journal");
    if !entries.is_empty() {
        let batch = Builder::new().batch(entries);
        store.commit(&batch).expect("the first batch commits");
        let text = Checkpoint::new(LOG_ORIGIN, batch.new_head.size, batch.new_head.root)
            .expect("a valid origin")
            .to_text();
        let note = signer
            .sign(&text, TreeSize::ZERO, &[])
            .expect("the first checkpoint signs");
        store
            .put_checkpoint(batch.new_head.size, &note)
            .expect("the checkpoint stores");
    }
    let log = Log::builder(
        store.clone(),
        Arc::new(FuzzSigner(Mutex::new(signer))),
        k.log_vkey(),
    )
    .config(config())
    .open()
    .await
    .expect("the log opens");
    (log, store)
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let entries: Vec<Bytes> = (0..ENTRIES).map(entry).collect();
        let roots = (0..=ENTRIES as usize)
            .map(|n| reference::root(&entries[..n]))
            .collect();
        let journal = scratch_dir();
        let (log, _) = rt.block_on(open_log(&entries, journal.path()));
        Fixture {
            rt,
            log,
            entries,
            roots,
            _journal: journal,
        }
    })
}

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<M> {
    let m = M::decode(bytes).ok()?;
    let again = M::decode(m.encode_to_vec().as_slice()).expect("an encoded message decodes");
    assert_eq!(again, m);
    Some(m)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Some(m) = round_trip::<pb::AppendRequest>(bytes) {
                append(m);
            }
        }
        1 => {
            if let Some(m) = round_trip::<pb::GetCheckpointRequest>(bytes) {
                get_checkpoint(m);
            }
        }
        2 => {
            if let Some(m) = round_trip::<pb::GetInclusionProofRequest>(bytes) {
                get_inclusion_proof(m);
            }
        }
        3 => {
            if let Some(m) = round_trip::<pb::GetConsistencyProofRequest>(bytes) {
                get_consistency_proof(m);
            }
        }
        4 => {
            if let Some(m) = round_trip::<pb::GetEntriesRequest>(bytes) {
                get_entries(m);
            }
        }
        _ => {
            if let Some(m) = round_trip::<pb::GetEntryAndProofRequest>(bytes) {
                get_entry_and_proof(m);
            }
        }
    }
});

// The wire's conventions, translated as `vellum-server`'s gRPC service
// (`crates/vellum-server/src/grpc/log.rs`) translates them: a size of 0 is
// the latest checkpoint, and a number no tree can have is answered as one
// beyond the log's tree. (The fuzz build cannot link the server: RocksDB.)

fn at(log: &Log, size: u64) -> Result<At, LogError> {
    if size == 0 {
        return Ok(At::Latest);
    }
    TreeSize::new(size)
        .map(At::Size)
        .map_err(|_| LogError::SizeBeyondTree {
            size,
            committed: log.committed().size,
        })
}

fn leaf(log: &Log, index: u64, at: At) -> Result<LeafIndex, LogError> {
    match LeafIndex::new(index) {
        Ok(i) => Ok(i),
        Err(_) => Err(LogError::IndexBeyondTree {
            index,
            size: log.resolve(at)?.0,
        }),
    }
}

fn from_size(log: &Log, from: u64, to: At) -> Result<TreeSize, LogError> {
    match TreeSize::new(from) {
        Ok(s) => Ok(s),
        Err(_) => Err(LogError::FromAfterTo {
            from,
            to: log.resolve(to)?.0,
        }),
    }
}

fn get_checkpoint(m: pb::GetCheckpointRequest) {
    let f = fixture();
    let at = match m.size {
        0 => Ok(At::Latest),
        n => TreeSize::new(n).map(At::Size).map_err(LogError::from),
    };
    let note = match at.and_then(|at| f.log.checkpoint(at)) {
        Ok(note) => note,
        Err(LogError::NoCheckpointAt { size }) => {
            assert_eq!(size.get(), m.size);
            assert_ne!(m.size, ENTRIES);
            return;
        }
        Err(e) => {
            assert!(
                m.size > MAX_TREE_SIZE && matches!(e, LogError::OutOfRange(_)),
                "{e}"
            );
            return;
        }
    };
    let cp =
        SignedCheckpoint::open(&note, &keys().log_vkey(), &[]).expect("a stored checkpoint opens");
    assert_eq!(cp.checkpoint().size().get(), ENTRIES);
    assert_eq!(cp.checkpoint().root(), f.roots[ENTRIES as usize]);
}

/// Checks an inclusion proof answer for `index` at the requested size.
fn check_inclusion(
    index: u64,
    requested: u64,
    answer: Result<vellum_log::InclusionProof, LogError>,
) {
    let f = fixture();
    let effective = if requested == 0 { ENTRIES } else { requested };
    match answer {
        Ok(p) => {
            assert_eq!(p.size.get(), effective);
            assert_eq!(p.index.get(), index);
            assert!(index < effective && effective <= ENTRIES);
            assert_eq!(p.checkpoint.is_some(), requested == 0);
            let leaf = leaf_hash(&f.entries[index as usize]);
            verify_inclusion(
                &leaf,
                p.index,
                p.size,
                &p.proof,
                &f.roots[p.size.get() as usize],
            )
            .expect("a served inclusion proof verifies against the reference root");
        }
        Err(LogError::SizeBeyondTree { size, committed }) => {
            assert_eq!((size, committed.get()), (requested, ENTRIES));
            assert!(effective > ENTRIES);
        }
        Err(LogError::IndexBeyondTree { index: i, size }) => {
            assert_eq!((i, size.get()), (index, effective));
            assert!(index >= effective);
        }
        Err(e) => panic!("inclusion proof of {index} at {requested}: {e}"),
    }
}

fn get_inclusion_proof(m: pb::GetInclusionProofRequest) {
    use pb::get_inclusion_proof_request::Leaf;
    let f = fixture();
    let log = &f.log;
    let index = match m.leaf {
        None => return,
        Some(Leaf::Index(i)) => i,
        Some(Leaf::LeafHash(h)) => {
            let Ok(h) = Hash::from_slice(&h) else {
                assert_ne!(h.len(), 32);
                return;
            };
            let found = log.leaf_index(&h);
            let known = f.entries.iter().position(|e| leaf_hash(e) == h);
            match found {
                Ok(i) => {
                    assert_eq!(Some(i.get() as usize), known);
                    i.get()
                }
                Err(LogError::UnknownLeaf { leaf }) => {
                    assert_eq!((leaf, known), (h, None));
                    return;
                }
                Err(e) => panic!("a lookup in memory works: {e}"),
            }
        }
    };
    let answer = at(log, m.tree_size).and_then(|at| log.inclusion_proof(leaf(log, index, at)?, at));
    check_inclusion(index, m.tree_size, answer);
}

fn get_consistency_proof(m: pb::GetConsistencyProofRequest) {
    let f = fixture();
    let log = &f.log;
    let to = if m.to_size == 0 { ENTRIES } else { m.to_size };
    let answer = at(log, m.to_size)
        .and_then(|to| log.consistency_proof(from_size(log, m.from_size, to)?, to));
    match answer {
        Ok(p) => {
            assert_eq!((p.from.get(), p.to.get()), (m.from_size, to));
            assert_eq!(p.checkpoint.is_some(), m.to_size == 0);
            let (a, b) = (p.from.get() as usize, p.to.get() as usize);
            verify_consistency(p.from, &f.roots[a], p.to, &f.roots[b], &p.proof)
                .expect("a served consistency proof verifies against the reference roots");
        }
        Err(LogError::SizeBeyondTree { .. }) => assert!(to > ENTRIES),
        Err(LogError::FromAfterTo { from, to: resolved }) => {
            assert_eq!((from, resolved.get()), (m.from_size, to));
            assert!(m.from_size > to && to <= ENTRIES);
        }
        Err(e) => panic!("consistency proof {} to {}: {e}", m.from_size, m.to_size),
    }
}

fn get_entries(m: pb::GetEntriesRequest) {
    let f = fixture();
    let start = LeafIndex::new(m.start).map_err(|_| LogError::EntryBeyondTree {
        index: m.start,
        committed: f.log.committed().size,
    });
    let got = start.and_then(|start| f.rt.block_on(f.log.entries(start, u64::from(m.count))));
    match got {
        Ok(entries) => {
            assert!(m.start < ENTRIES && m.count > 0);
            let n = u64::from(m.count).min(50).min(ENTRIES - m.start);
            assert_eq!(entries, f.entries[m.start as usize..(m.start + n) as usize]);
        }
        Err(LogError::EntryBeyondTree { .. }) => assert!(m.start >= ENTRIES),
        Err(LogError::EmptyPage) => assert_eq!(m.count, 0),
        Err(e) => panic!("entries from {} ({}): {e}", m.start, m.count),
    }
}

fn get_entry_and_proof(m: pb::GetEntryAndProofRequest) {
    let f = fixture();
    let log = &f.log;
    let answer = at(log, m.tree_size).and_then(|at| {
        let index = leaf(log, m.index, at)?;
        f.rt.block_on(log.entry_and_proof(index, at))
    });
    let entry = answer.as_ref().ok().map(|e| e.entry.clone());
    check_inclusion(m.index, m.tree_size, answer.map(|e| e.inclusion));
    if let Some(e) = entry {
        assert_eq!(e, f.entries[m.index as usize]);
    }
}

fn append(m: pb::AppendRequest) {
    let wait = match pb::WaitFor::try_from(m.wait) {
        Ok(pb::WaitFor::Unspecified | pb::WaitFor::Durable) => Wait::Durable,
        Ok(pb::WaitFor::Checkpoint) => Wait::Checkpoint,
        Ok(pb::WaitFor::Witnessed) => Wait::Witnessed,
        Err(_) => return,
    };
    let f = fixture();
    let journal = scratch_dir();
    f.rt.block_on(async {
        let (log, store) = open_log(&[], journal.path()).await;
        let entries = m.entries.clone();
        let result = log.append(m.entries, wait).await;
        log.shutdown().await;
        let cfg = config();
        match result {
            Ok(out) => {
                assert!(!entries.is_empty() && entries.len() <= cfg.max_entries_per_call);
                assert!(entries.iter().all(|e| e.len() <= cfg.max_entry_size));
                assert!(wait != Wait::Witnessed);
                assert_eq!(out.results.len(), entries.len());
                // The log as the results describe it: each new entry at its
                // index, each duplicate pointing at an equal earlier entry.
                let mut stored: Vec<Bytes> = Vec::new();
                for (e, r) in entries.iter().zip(&out.results) {
                    let i = r.index.get() as usize;
                    if r.duplicate {
                        assert_eq!(stored.get(i), Some(e), "a duplicate of an equal entry");
                    } else {
                        assert_eq!(i, stored.len(), "new entries get consecutive indices");
                        stored.push(e.clone());
                    }
                }
                check_against_reference(&store, &stored);
                if let Some((cp, proofs)) = out.proofs {
                    let opened = SignedCheckpoint::open(&cp.note, &keys().log_vkey(), &[])
                        .expect("the checkpoint of an append opens");
                    let (size, root) = (opened.checkpoint().size(), opened.checkpoint().root());
                    for ((e, r), p) in entries.iter().zip(&out.results).zip(&proofs) {
                        verify_inclusion(&leaf_hash(e), r.index, size, p, &root)
                            .expect("an append's proof verifies");
                    }
                }
            }
            Err(_) => {
                let empty = snapshot(&MemoryStore::new());
                let mut after = snapshot(&*store);
                // The final checkpoint of shutdown is not an entry.
                after.latest_checkpoint = None;
                assert_eq!(after, empty, "a refused append stored something");
            }
        }
    });
}
