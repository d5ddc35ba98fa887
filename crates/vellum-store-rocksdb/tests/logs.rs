//! Several logs in one database (`RocksStore::open_logs`): each named log
//! passes the conformance suite on its own column families, the logs never
//! see each other's records, a log added later is created empty while the
//! others keep their trees, and every log is checked at open.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use bytes::Bytes;
use vellum_store::LogStore;
use vellum_store::conformance::{Builder, entries, run_all};
use vellum_store_rocksdb::RocksStore;

/// A named log `t` in a fresh database that also holds the default log
/// (with one entry of its own) and another log (with one entry): the suite
/// must see only `t`'s records.
struct Named {
    store: RocksStore,
    _others: (RocksStore, RocksStore),
    _dir: tempfile::TempDir,
}

fn named() -> Named {
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["t".to_owned(), "u".to_owned()];
    let (default, mut logs) =
        RocksStore::open_logs(dir.path(), &common::small_options(), &names).unwrap();
    let u = logs.pop().unwrap();
    let t = logs.pop().unwrap();
    for other in [&default, &u] {
        other
            .commit(&Builder::new().batch(&entries("other", 0..1)))
            .unwrap();
    }
    assert_eq!(t.namespace(), Some("t"));
    assert_eq!(default.namespace(), None);
    Named {
        store: t,
        _others: (default, u),
        _dir: dir,
    }
}

impl std::fmt::Debug for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Named")
    }
}

impl LogStore for Named {
    fn tree_head(&self) -> Result<vellum_store::TreeHead, vellum_store::StoreError> {
        self.store.tree_head()
    }
    fn read_nodes(
        &self,
        ids: &[vellum_merkle::NodeId],
    ) -> Result<Vec<vellum_merkle::Hash>, vellum_store::StoreError> {
        self.store.read_nodes(ids)
    }
    fn read_node_range(
        &self,
        level: u8,
        start: u64,
        count: u64,
    ) -> Result<Vec<vellum_merkle::Hash>, vellum_store::StoreError> {
        self.store.read_node_range(level, start, count)
    }
    fn read_entries(
        &self,
        start: vellum_merkle::LeafIndex,
        count: u64,
    ) -> Result<Vec<Bytes>, vellum_store::StoreError> {
        self.store.read_entries(start, count)
    }
    fn find_leaves(
        &self,
        leaf_hashes: &[vellum_merkle::Hash],
    ) -> Result<Vec<Option<vellum_merkle::LeafIndex>>, vellum_store::StoreError> {
        self.store.find_leaves(leaf_hashes)
    }
    fn commit(&self, batch: &vellum_store::CommitBatch) -> Result<(), vellum_store::StoreError> {
        self.store.commit(batch)
    }
    fn put_checkpoint(
        &self,
        size: vellum_merkle::TreeSize,
        signed_note: &[u8],
    ) -> Result<(), vellum_store::StoreError> {
        self.store.put_checkpoint(size, signed_note)
    }
    fn latest_checkpoint(
        &self,
    ) -> Result<Option<(vellum_merkle::TreeSize, Bytes)>, vellum_store::StoreError> {
        self.store.latest_checkpoint()
    }
    fn checkpoint_at(
        &self,
        size: vellum_merkle::TreeSize,
    ) -> Result<Option<Bytes>, vellum_store::StoreError> {
        self.store.checkpoint_at(size)
    }
}

#[test]
fn a_named_log_passes_the_conformance_suite_beside_others() {
    run_all(|| {
        // The other logs' single entry must not show in t's tree.
        let n = named();
        assert_eq!(n.store.tree_head().unwrap().size.get(), 0);
        n
    });
}

#[test]
fn logs_keep_their_trees_and_a_new_one_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::small_options();
    let a = vec!["a".to_owned()];
    let (head_default, head_a) = {
        let (default, logs) = RocksStore::open_logs(dir.path(), &opts, &a).unwrap();
        default
            .commit(&Builder::new().batch(&entries("d", 0..3)))
            .unwrap();
        logs[0]
            .commit(&Builder::new().batch(&entries("a", 0..5)))
            .unwrap();
        (default.tree_head().unwrap(), logs[0].tree_head().unwrap())
    };
    assert_ne!(head_default, head_a);

    // Reopened with a second log: the first two keep their heads; the new
    // one is empty; a log not named is opened (and checked) but not
    // returned.
    let ab = vec!["b".to_owned(), "a".to_owned()];
    {
        let (default, logs) = RocksStore::open_logs(dir.path(), &opts, &ab).unwrap();
        assert_eq!(default.tree_head().unwrap(), head_default);
        assert_eq!(logs[0].namespace(), Some("b"));
        assert_eq!(logs[0].tree_head().unwrap().size.get(), 0);
        assert_eq!(logs[1].tree_head().unwrap(), head_a);
        let got = logs[1]
            .read_entries(vellum_merkle::LeafIndex::new(0).unwrap(), 5)
            .unwrap();
        assert_eq!(got, entries("a", 0..5));
    }
    // The plain open still works on a database holding other logs.
    let default = RocksStore::open(dir.path(), &opts).unwrap();
    assert_eq!(default.tree_head().unwrap(), head_default);
    drop(default);
    // Without creation allowed, a log the database does not hold is an
    // error, and nothing is created.
    let strict = vellum_store_rocksdb::StoreOptions {
        create_if_missing: false,
        ..opts.clone()
    };
    let c = vec!["c".to_owned()];
    assert!(RocksStore::open_logs(dir.path(), &strict, &c).is_err());
    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    assert!(!cfs.iter().any(|n| n.ends_with("@c")), "{cfs:?}");
    assert!(cfs.iter().any(|n| n == "entries@a") && cfs.iter().any(|n| n == "meta@b"));
    // A name that is not a log name is refused before anything opens.
    let bad = vec!["Bad/name".to_owned()];
    assert!(RocksStore::open_logs(dir.path(), &opts, &bad).is_err());
}
