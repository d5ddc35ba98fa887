//! The conformance suite: what every [`LogStore`] must do. Backends call
//! [`run_all`] from a test with a function that makes a fresh, empty store.
//!
//! Every refusal is checked for "and nothing changed" by comparing a full
//! snapshot of the store before and after.

// Test support: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::testonly::reference;
use vellum_merkle::{CompactRange, Hash, LeafIndex, NodeId, TreeSize, leaf_hash};

use crate::{CommitBatch, LogStore, StoreError, TreeHead};

/// Runs every check against fresh stores from `make`.
pub fn run_all<S: LogStore>(make: impl Fn() -> S) {
    empty_store(&make());
    grows_in_batches_and_reads_back(&make());
    stale_batches_conflict(&make());
    invalid_batches_change_nothing(&make());
    duplicate_leaves_are_refused(&make());
    checkpoints(&make());
    concurrent_readers_never_see_partial_batches(make());
    racing_commits_one_wins(make());
}

/// Builds batches the way a sequencer does, for tests.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    edge: CompactRange,
}

impl Builder {
    /// A builder continuing from the empty tree.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The batch appending `entries` to the tree built so far.
    pub fn batch(&mut self, entries: &[Bytes]) -> CommitBatch {
        let old_size = self.edge.size();
        let mut nodes = Vec::new();
        for e in entries {
            self.edge
                .append(leaf_hash(e), |id, h| nodes.push((id, *h)))
                .expect("test tree is small");
        }
        CommitBatch {
            old_size,
            new_head: TreeHead {
                size: self.edge.size(),
                root: self.edge.root(),
            },
            entries: entries.to_vec(),
            nodes,
        }
    }
}

/// Deterministic test entries `prefix-i` for `i` in `range`.
pub fn entries(prefix: &str, range: std::ops::Range<u64>) -> Vec<Bytes> {
    range
        .map(|i| Bytes::from(format!("{prefix}-{i}")))
        .collect()
}

/// Everything observable in a store of at most `max` leaves.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The tree head.
    pub head: TreeHead,
    /// Every entry.
    pub entries: Vec<Bytes>,
    /// Every stored node, by level.
    pub nodes: Vec<Vec<Hash>>,
    /// The latest checkpoint.
    pub latest_checkpoint: Option<(TreeSize, Bytes)>,
}

/// Reads everything observable, to compare before and after a refusal.
pub fn snapshot<S: LogStore>(store: &S) -> Snapshot {
    let head = store.tree_head().expect("tree_head");
    let n = head.size.get();
    let entries = store
        .read_entries(LeafIndex::new(0).expect("0"), n)
        .expect("entries");
    let nodes = (0..64u8)
        .take_while(|l| n >> l > 0)
        .map(|l| store.read_node_range(l, 0, n >> l).expect("nodes"))
        .collect();
    Snapshot {
        head,
        entries,
        nodes,
        latest_checkpoint: store.latest_checkpoint().expect("checkpoint"),
    }
}

/// Checks every stored datum of the store against the reference tree.
pub fn check_against_reference<S: LogStore>(store: &S, all: &[Bytes]) {
    let head = store.tree_head().expect("tree_head");
    let n = head.size.get() as usize;
    assert_eq!(n, all.len(), "tree size");
    assert_eq!(head.root, reference::root(all), "stored root");
    let edge = store
        .read_nodes(&root_nodes(head.size))
        .expect("edge nodes");
    assert_eq!(fold_right(&edge), head.root, "root from stored edge");
    let got = store
        .read_entries(LeafIndex::new(0).expect("0"), n as u64)
        .expect("entries");
    assert_eq!(got, all, "entries");
    for level in 0..64u8 {
        let count = (n >> level) as u64;
        if count == 0 {
            break;
        }
        let hashes = store.read_node_range(level, 0, count).expect("node range");
        for (i, h) in hashes.iter().enumerate() {
            let w = 1usize << level;
            assert_eq!(
                *h,
                reference::root(&all[i * w..(i + 1) * w]),
                "node ({level}, {i})"
            );
        }
        assert!(
            matches!(
                store.read_node_range(level, count, 1),
                Err(StoreError::NotFound(_))
            ),
            "incomplete node ({level}, {count}) must not be readable"
        );
    }
    let leaves: Vec<Hash> = all.iter().map(|e| leaf_hash(e)).collect();
    let found = store.find_leaves(&leaves).expect("find_leaves");
    for (i, f) in found.iter().enumerate() {
        assert_eq!(f.map(LeafIndex::get), Some(i as u64), "dedup of {i}");
    }
}

fn empty_store<S: LogStore>(store: &S) {
    assert_eq!(store.tree_head().unwrap(), TreeHead::empty());
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    assert!(matches!(
        store.read_nodes(&[NodeId::new(0, 0).unwrap()]),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.read_entries(LeafIndex::new(0).unwrap(), 1),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .read_entries(LeafIndex::new(0).unwrap(), 0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.find_leaves(&[leaf_hash(b"x")]).unwrap(), vec![None]);
}

fn grows_in_batches_and_reads_back<S: LogStore>(store: &S) {
    let mut b = Builder::new();
    let mut all = Vec::new();
    // Batch sizes chosen to cross tile and power-of-two boundaries, with an
    // empty batch among them.
    let mut next = 0;
    for len in [1u64, 2, 0, 5, 8, 100, 140, 1, 255, 257, 3] {
        let e = entries("grow", next..next + len);
        next += len;
        store.commit(&b.batch(&e)).unwrap();
        all.extend(e);
        check_against_reference(store, &all);
    }
    // Reads beyond the tree are NotFound, not empty or made up.
    let n = all.len() as u64;
    assert!(matches!(
        store.read_entries(LeafIndex::new(n - 1).unwrap(), 2),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.read_nodes(&[NodeId::new(0, n).unwrap()]),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.read_node_range(0, u64::MAX, 2),
        Err(StoreError::NotFound(_))
    ));
}

fn stale_batches_conflict<S: LogStore>(store: &S) {
    let mut b = Builder::new();
    let first = b.batch(&entries("stale", 0..10));
    store.commit(&first).unwrap();
    let before = snapshot(store);
    // Replaying the same batch (a retry after an ambiguous error, or a second
    // writer) must not apply twice.
    assert_eq!(
        store.commit(&first),
        Err(StoreError::Conflict {
            stored: 10,
            expected: 0
        })
    );
    // A rewrite of history: the same start, other entries.
    let mut other = Builder::new();
    let fork = other.batch(&entries("fork", 0..12));
    assert!(matches!(
        store.commit(&fork),
        Err(StoreError::Conflict { .. })
    ));
    // A batch from the future.
    let mut ahead = b.clone();
    ahead.batch(&entries("stale", 10..11));
    let future = ahead.batch(&entries("stale", 11..12));
    assert!(matches!(
        store.commit(&future),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(snapshot(store), before);
}

fn invalid_batches_change_nothing<S: LogStore>(store: &S) {
    let mut b = Builder::new();
    store.commit(&b.batch(&entries("inv", 0..7))).unwrap();
    let before = snapshot(store);
    let good = b.clone().batch(&entries("inv", 7..20));

    let mut bad = good.clone();
    bad.nodes.retain(|(id, _)| id.level() != 1);
    assert!(matches!(
        store.commit(&bad),
        Err(StoreError::InvalidBatch(_))
    ));

    // An attempt to overwrite a stored node by smuggling it into a batch.
    let mut bad = good.clone();
    bad.nodes[0] = (NodeId::new(0, 3).unwrap(), Hash([9; 32]));
    assert!(matches!(
        store.commit(&bad),
        Err(StoreError::InvalidBatch(_))
    ));

    let mut bad = good.clone();
    bad.entries.push(Bytes::from_static(b"extra"));
    assert!(matches!(
        store.commit(&bad),
        Err(StoreError::InvalidBatch(_))
    ));

    let mut bad = good;
    bad.entries[0] = Bytes::from(vec![1u8; 70_000]);
    assert!(matches!(
        store.commit(&bad),
        Err(StoreError::InvalidBatch(_))
    ));

    assert_eq!(snapshot(store), before);
}

fn duplicate_leaves_are_refused<S: LogStore>(store: &S) {
    let mut b = Builder::new();
    store.commit(&b.batch(&entries("dup", 0..5))).unwrap();
    let before = snapshot(store);
    // The same bytes again would overwrite the dedup record of index 2.
    let again = b.clone().batch(&entries("dup", 2..3));
    assert!(matches!(
        store.commit(&again),
        Err(StoreError::Immutable(_))
    ));
    // Twice within one batch.
    let twice = b.clone().batch(&[Bytes::from("x"), Bytes::from("x")]);
    assert!(matches!(
        store.commit(&twice),
        Err(StoreError::Immutable(_))
    ));
    assert_eq!(snapshot(store), before);
    // The log goes on normally afterwards.
    store.commit(&b.batch(&entries("dup", 5..6))).unwrap();
}

fn checkpoints<S: LogStore>(store: &S) {
    let mut b = Builder::new();
    store.commit(&b.batch(&entries("cp", 0..4))).unwrap();
    let size = |n| TreeSize::new(n).unwrap();
    let note2 = b"log\n2\nAAAA\n\n- sig one\n";
    let note2_more = b"log\n2\nAAAA\n\n- sig one\n- witness\n";
    let note2_other = b"log\n2\nBBBB\n\n- sig one\n";
    assert!(matches!(
        store.put_checkpoint(size(5), b"log\n5\nAAAA\n\n- s\n"),
        Err(StoreError::InvalidBatch(_))
    ));
    store.put_checkpoint(size(2), note2).unwrap();
    assert_eq!(
        store.checkpoint_at(size(2)).unwrap().as_deref(),
        Some(&note2[..])
    );
    // More signatures on the same checkpoint: allowed.
    store.put_checkpoint(size(2), note2_more).unwrap();
    assert_eq!(
        store.checkpoint_at(size(2)).unwrap().as_deref(),
        Some(&note2_more[..])
    );
    // Another root for a signed size: refused, the stored one stays.
    assert!(matches!(
        store.put_checkpoint(size(2), note2_other),
        Err(StoreError::Immutable(_))
    ));
    assert_eq!(
        store.checkpoint_at(size(2)).unwrap().as_deref(),
        Some(&note2_more[..])
    );
    store
        .put_checkpoint(size(4), b"log\n4\nCCCC\n\n- s\n")
        .unwrap();
    store
        .put_checkpoint(size(3), b"log\n3\nDDDD\n\n- s\n")
        .unwrap();
    let (s, n) = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!((s, &n[..]), (size(4), &b"log\n4\nCCCC\n\n- s\n"[..]));
    assert_eq!(store.checkpoint_at(size(1)).unwrap(), None);
}

fn concurrent_readers_never_see_partial_batches<S: LogStore>(store: S) {
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !done.load(Ordering::Relaxed) || checks == 0 {
                    let head = store.tree_head().unwrap();
                    // Everything the head speaks of must be readable and agree.
                    let edge = store.read_nodes(&root_nodes(head.size)).unwrap();
                    assert_eq!(fold_right(&edge), head.root);
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    let mut b = Builder::new();
    for i in 0..200u64 {
        store
            .commit(&b.batch(&entries("conc", i * 7..i * 7 + 7)))
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader panicked") > 0);
    }
}

fn racing_commits_one_wins<S: LogStore>(store: S) {
    let store = Arc::new(store);
    let mut b = Builder::new();
    store.commit(&b.batch(&entries("race", 0..3))).unwrap();
    let contenders: Vec<_> = (0..8u64)
        .map(|t| {
            let batch = b.clone().batch(&entries(&format!("race{t}"), 0..5));
            let store = store.clone();
            std::thread::spawn(move || store.commit(&batch))
        })
        .collect();
    let results: Vec<_> = contenders
        .into_iter()
        .map(|h| h.join().expect("committer panicked"))
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict { .. }))
    );
    assert_eq!(store.tree_head().unwrap().size.get(), 8);
}
