//! What the store refuses to open, and what it reports as corrupt instead
//! of reading on.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::io::{BufRead, BufReader};

use common::{child_dir, raw, small_options, spawn_child};
use vellum_merkle::{LeafIndex, NodeId, TreeSize, leaf_hash};
use vellum_store::conformance::{Builder, entries};
use vellum_store::{LogStore, StoreError};
use vellum_store_rocksdb::{OpenError, RocksStore, SCHEMA_VERSION, StoreOptions};

/// A closed store of 5 leaves (nodes (0,0..5), (1,0..2), (2,0)) with a
/// checkpoint.
fn store_of_five() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksStore::open(dir.path(), &small_options()).unwrap();
    store
        .commit(&Builder::new().batch(&entries("five", 0..5)))
        .unwrap();
    store
        .put_checkpoint(TreeSize::new(5).unwrap(), b"log\n5\nR\n\n- s\n")
        .unwrap();
    dir
}

fn open(dir: &std::path::Path) -> Result<RocksStore, OpenError> {
    RocksStore::open(dir, &small_options())
}

#[test]
fn second_open_in_this_process_is_refused() {
    let dir = store_of_five();
    let _first = open(dir.path()).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "another vellum process is using {}",
            dir.path().display()
        )),
        "{msg}"
    );
}

/// Child side of [`open_in_another_process_is_refused`]: holds the store
/// open until its stdin closes.
#[test]
fn hold_child() {
    let Some(dir) = child_dir() else { return };
    let _store = open(&dir).unwrap();
    println!("@vellum@ open");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn open_in_another_process_is_refused() {
    if child_dir().is_some() {
        return;
    }
    let dir = store_of_five();
    let mut child = spawn_child("hold_child", dir.path());
    // Wait until the child has the store open (the harness's own lines
    // come first).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("@vellum@ open")),
        "child exited without opening the store"
    );
    let err = open(dir.path()).unwrap_err();
    // Closing stdin lets the child finish; its last lines are drained so
    // that it does not fail writing them.
    drop(child.stdin.take());
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("another vellum process is using"),
        "{err}"
    );
    // Once the other process is gone, the store opens.
    open(dir.path()).unwrap();
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        db.put_cf(meta, b"schema_version", (SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert_eq!(
        err,
        OpenError::UnsupportedSchema {
            dir: dir.path().to_path_buf(),
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("run a newer vellum"), "{err}");
}

#[test]
fn other_directories_are_not_stores() {
    // Files that are not RocksDB.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("no CURRENT file"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "left untouched"
    );

    // A RocksDB database of someone else.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        let db = rocksdb::DB::open(&o, dir.path()).unwrap();
        db.put(b"k", b"v").unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("data in default"), "{err}");
    assert_eq!(
        rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap(),
        vec!["default"],
        "left untouched"
    );

    // Our column families, with data but no schema version.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&o, dir.path(), common::CFS).unwrap();
        db.put_cf(db.cf_handle("entries").unwrap(), 0u64.to_be_bytes(), b"x")
            .unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("no schema version"), "{err}");

    // A file where the directory should be.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(open(&file), Err(OpenError::NotAStore { .. })));

    // Missing, with creation not allowed.
    let no_create = StoreOptions {
        create_if_missing: false,
        ..small_options()
    };
    let missing = dir.path().join("missing");
    let err = RocksStore::open(&missing, &no_create).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err:?}");
    assert!(!missing.exists());
}

#[test]
fn an_interrupted_creation_is_finished() {
    // A crash between RocksDB creating its files and the first batch leaves
    // our column families, all empty.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        rocksdb::DB::open_cf(&o, dir.path(), common::CFS).unwrap();
    }
    let store = open(dir.path()).unwrap();
    assert_eq!(store.tree_head().unwrap().size, TreeSize::ZERO);

    // Earlier still: RocksDB has created the database with only `default`.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        rocksdb::DB::open(&o, dir.path()).unwrap();
    }
    let store = open(dir.path()).unwrap();
    store
        .commit(&Builder::new().batch(&entries("late", 0..3)))
        .unwrap();
    drop(store);
    assert_eq!(open(dir.path()).unwrap().tree_head().unwrap().size.get(), 3);

    // Earliest: RocksDB had not written CURRENT yet.
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "LOCK",
        "LOG",
        "IDENTITY",
        "MANIFEST-000001",
        "CURRENT.dbtmp",
    ] {
        std::fs::write(dir.path().join(f), b"").unwrap();
    }
    assert_eq!(open(dir.path()).unwrap().tree_head().unwrap().size.get(), 0);

    // But not when creating is not allowed.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        rocksdb::DB::open(&o, dir.path()).unwrap();
    }
    let no_create = StoreOptions {
        create_if_missing: false,
        ..small_options()
    };
    let err = RocksStore::open(dir.path(), &no_create).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err:?}");
}

#[test]
fn a_corrupt_tree_head_is_refused() {
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        db.put_cf(db.cf_handle("meta").unwrap(), b"tree_head", [0u8; 39])
            .unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("tree_head is 39 bytes"), "{err}");
}

#[test]
fn a_head_that_does_not_match_the_data_is_refused() {
    // A flipped byte in an edge node: the root no longer folds.
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        let nodes = db.cf_handle("nodes").unwrap();
        let key = [&[2u8][..], &0u64.to_be_bytes()].concat();
        let mut v = db.get_cf(nodes, &key).unwrap().unwrap();
        v[0] ^= 1;
        db.put_cf(nodes, &key, v).unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("the stored nodes give"), "{err}");

    // A head larger than the data.
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        let mut head = db.get_cf(meta, b"tree_head").unwrap().unwrap();
        head[7] = 6;
        db.put_cf(meta, b"tree_head", head).unwrap();
    }
    assert!(matches!(open(dir.path()), Err(OpenError::Corrupt { .. })));

    // An entry beyond the head.
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        db.put_cf(db.cf_handle("entries").unwrap(), 5u64.to_be_bytes(), b"x")
            .unwrap();
    }
    let err = open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("beyond the tree size"), "{err}");
}

#[test]
fn damaged_records_read_as_corrupt() {
    let dir = store_of_five();
    {
        let db = raw(dir.path());
        // Node (0, 1) is not on the edge of a 5-leaf tree, so open succeeds.
        let nodes = db.cf_handle("nodes").unwrap();
        let key = [&[0u8][..], &1u64.to_be_bytes()].concat();
        db.put_cf(nodes, &key, [1u8; 31]).unwrap();
        let entries = db.cf_handle("entries").unwrap();
        db.delete_cf(entries, 2u64.to_be_bytes()).unwrap();
        let dedup = db.cf_handle("dedup").unwrap();
        db.put_cf(dedup, leaf_hash(b"five-3").as_bytes(), [3u8; 7])
            .unwrap();
        let cps = db.cf_handle("checkpoints").unwrap();
        db.put_cf(cps, [9u8; 9], b"x").unwrap();
    }
    let store = open(dir.path()).unwrap();
    let corrupt = |r: Result<_, StoreError>, what: &str| match r {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(what), "{m}"),
        other => panic!("expected Corrupt({what}), got {other:?}"),
    };
    corrupt(
        store.read_nodes(&[NodeId::new(0, 1).unwrap()]).map(|_| ()),
        "node (0, 1)",
    );
    corrupt(store.read_node_range(0, 0, 5).map(|_| ()), "node (0, 1)");
    corrupt(
        store
            .read_entries(LeafIndex::new(0).unwrap(), 5)
            .map(|_| ()),
        "below the tree head but not stored",
    );
    corrupt(
        store.find_leaves(&[leaf_hash(b"five-3")]).map(|_| ()),
        "not 8",
    );
    corrupt(store.latest_checkpoint().map(|_| ()), "checkpoint key");
    // Undamaged records still read.
    assert_eq!(
        store.read_entries(LeafIndex::new(3).unwrap(), 2).unwrap(),
        entries("five", 3..5)
    );
    assert!(store.read_nodes(&[NodeId::new(0, 0).unwrap()]).is_ok());
    // A damaged dedup record stops the commit that looks it up, rather
    // than being overwritten.
    let mut b = Builder::new();
    b.batch(&entries("five", 0..5));
    let before = store.tree_head().unwrap();
    corrupt(store.commit(&b.batch(&entries("five", 3..4))), "not 8");
    assert_eq!(store.tree_head().unwrap(), before);
}
