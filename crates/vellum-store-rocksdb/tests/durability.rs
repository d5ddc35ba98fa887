//! What survives closing the store, and what survives killing the process
//! in the middle of commits.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use common::{XorShift, child_dir, small_options, spawn_child};
use vellum_merkle::compact::root_nodes;
use vellum_merkle::{CompactRange, LeafIndex, TreeSize, leaf_hash};
use vellum_store::conformance::{Builder, check_against_reference, entries, snapshot};
use vellum_store::{CommitBatch, LogStore, TreeHead};
use vellum_store_rocksdb::RocksStore;

#[test]
fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_options();
    let mut b = Builder::new();
    let mut all = Vec::new();
    let (before, leaves) = {
        let store = RocksStore::open(dir.path(), &opts).unwrap();
        for (i, len) in [1u64, 255, 3, 0, 513, 64].into_iter().enumerate() {
            let e = entries("reopen", all.len() as u64..all.len() as u64 + len);
            store.commit(&b.batch(&e)).unwrap();
            all.extend(e);
            if len > 0 {
                let size = TreeSize::new(all.len() as u64).unwrap();
                let note = format!("log\n{size}\nR{i}\n\n- sig\n");
                store.put_checkpoint(size, note.as_bytes()).unwrap();
            }
        }
        let leaves: Vec<_> = all.iter().map(|e| leaf_hash(e)).collect();
        (snapshot(&store), store.find_leaves(&leaves).unwrap())
    };
    let store = RocksStore::open(dir.path(), &opts).unwrap();
    assert_eq!(snapshot(&store), before);
    check_against_reference(&store, &all);
    let again: Vec<_> = all.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(store.find_leaves(&again).unwrap(), leaves);
    for size in [1u64, 256, 259, 772, 836] {
        let size = TreeSize::new(size).unwrap();
        assert!(
            store.checkpoint_at(size).unwrap().is_some(),
            "checkpoint {size}"
        );
    }
    // And the reopened store goes on from where it was.
    let e = entries("reopen", all.len() as u64..all.len() as u64 + 10);
    store.commit(&b.batch(&e)).unwrap();
    all.extend(e);
    check_against_reference(&store, &all);
}

#[test]
fn survives_flush_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path(), &small_options()).unwrap();
    let mut b = Builder::new();
    let all = entries("flush", 0..3000);
    for chunk in all.chunks(700) {
        store.commit(&b.batch(chunk)).unwrap();
    }
    store.flush().unwrap();
    store.compact().unwrap();
    check_against_reference(&store, &all);
    let usage = store.disk_usage().unwrap();
    let entries_cf = &usage.column_families[0];
    assert_eq!(entries_cf.name, "entries");
    assert!(entries_cf.sst_bytes > 0 && usage.dir_bytes >= entries_cf.sst_bytes);
}

/// Builds the next batches from what a (re)opened store holds: the resume
/// path a sequencer takes, with the entries of the crash test.
fn resume(store: &RocksStore) -> CompactRange {
    let head = store.tree_head().unwrap();
    let edge = store.read_nodes(&root_nodes(head.size)).unwrap();
    CompactRange::from_parts(head.size, edge).unwrap()
}

fn next_batch(edge: &mut CompactRange, n: u64) -> CommitBatch {
    let old_size = edge.size();
    let e = entries("crash", old_size.get()..old_size.get() + n);
    let mut nodes = Vec::new();
    for x in &e {
        edge.append(leaf_hash(x), |id, h| nodes.push((id, *h)))
            .unwrap();
    }
    CommitBatch {
        old_size,
        new_head: TreeHead {
            size: edge.size(),
            root: edge.root(),
        },
        entries: e,
        nodes,
    }
}

/// The cheap part of `check_against_reference`, for the rounds between
/// full checks: the head's root is the root of the expected entries, the
/// stored edge folds to it, and the last entry and its dedup record are
/// there.
fn quick_check(store: &RocksStore, size: u64) {
    let mut expected = CompactRange::new();
    for e in entries("crash", 0..size) {
        expected.append(leaf_hash(&e), |_, _| {}).unwrap();
    }
    let head = store.tree_head().unwrap();
    assert_eq!(head.root, expected.root(), "root of size {size}");
    assert_eq!(resume(store).root(), head.root, "root from the stored edge");
    if size > 0 {
        let last = LeafIndex::new(size - 1).unwrap();
        let e = store.read_entries(last, 1).unwrap();
        assert_eq!(e, entries("crash", size - 1..size));
        assert_eq!(
            store.find_leaves(&[leaf_hash(&e[0])]).unwrap(),
            vec![Some(last)]
        );
    }
}

/// Kills of the crash test. Every round also reopens and checks the store;
/// rounds 5 and the last check every stored datum, the others the head, the
/// edge and the last entry.
const ROUNDS: u64 = 24;

/// Starts each line the crash child reports, apart from the harness's own.
const MARK: &str = "@vellum@ ";

fn checkpoint_note(size: TreeSize) -> Vec<u8> {
    format!("crash\n{size}\nroot\n\n- sig\n").into_bytes()
}

/// Child side of [`killed_mid_commit_keeps_a_prefix_with_every_acknowledged_batch`]:
/// commits batches until killed, printing `commit <size>` / `checkpoint
/// <size>` after each one that returned Ok.
#[test]
fn crash_child() {
    let Some(dir) = child_dir() else { return };
    let store = RocksStore::open(&dir, &small_options()).unwrap();
    let mut edge = resume(&store);
    let mut rng = XorShift::seeded();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARK}open {}", edge.size()).unwrap();
    out.flush().unwrap();
    loop {
        let batch = next_batch(&mut edge, rng.range(1, 64));
        store.commit(&batch).unwrap();
        writeln!(out, "{MARK}commit {}", batch.new_head.size).unwrap();
        out.flush().unwrap();
        if rng.range(0, 4) == 0 {
            let size = batch.new_head.size;
            store.put_checkpoint(size, &checkpoint_note(size)).unwrap();
            writeln!(out, "{MARK}checkpoint {size}").unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn killed_mid_commit_keeps_a_prefix_with_every_acknowledged_batch() {
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift::seeded();
    let (mut acked, mut acked_checkpoint, mut commits) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = spawn_child("crash_child", dir.path());
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(rng.range(20, 250)));
        // SIGKILL: no destructor, no RocksDB shutdown, a commit likely in
        // the middle of its fsync.
        child.kill().unwrap();
        child.wait().unwrap();
        // Only whole lines count: a line is printed after the Ok it reports.
        for line in reader.join().unwrap() {
            // The test harness writes to the same stdout.
            let Some((_, report)) = line.split_once(MARK) else {
                continue;
            };
            let (what, n) = report.split_once(' ').unwrap();
            let n: u64 = n.parse().unwrap();
            match what {
                "open" => assert!(n >= acked, "round {round}: reopened at {n} < acked {acked}"),
                "commit" => {
                    acked = n;
                    commits += 1;
                }
                "checkpoint" => acked_checkpoint = n,
                other => panic!("unexpected child output {other}"),
            }
        }
        let store = RocksStore::open(dir.path(), &small_options()).unwrap();
        let size = store.tree_head().unwrap().size.get();
        assert!(
            size >= acked,
            "round {round}: store has {size}, {acked} were acknowledged"
        );
        if round == 5 || round == ROUNDS - 1 {
            check_against_reference(&store, &entries("crash", 0..size));
        } else {
            quick_check(&store, size);
        }
        if acked_checkpoint > 0 {
            let (cp, note) = store.latest_checkpoint().unwrap().unwrap();
            assert!(
                cp.get() >= acked_checkpoint,
                "round {round}: checkpoint lost"
            );
            assert_eq!(&note[..], &checkpoint_note(cp)[..]);
        }
        // The next child starts from exactly what this open found.
        acked = size;
    }
    // Most kills must land while commits are running, not during start-up.
    assert!(
        commits >= ROUNDS,
        "children made too little progress: {commits} commits"
    );
    eprintln!(
        "{ROUNDS} kills, {commits} acknowledged commits, final size {acked}, {:?}",
        started.elapsed()
    );
}
