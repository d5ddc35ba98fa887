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

/// The logs of one database committed together (`RocksGroup`): every
/// batch lands, each log keeps its own tree, and a batch that one log
/// refuses leaves every log as it was (one write, staged before it).
#[test]
fn a_group_commits_several_logs_in_one_write_or_none() {
    use std::sync::Arc;
    use vellum_store::CommitGroup;
    use vellum_store_rocksdb::RocksGroup;

    let dir = tempfile::tempdir().unwrap();
    let names = vec!["t".to_owned()];
    let (default, mut named) =
        RocksStore::open_logs(dir.path(), &common::small_options(), &names).unwrap();
    let (a, b) = (Arc::new(default), Arc::new(named.pop().unwrap()));
    let group = RocksGroup::new(vec![a.clone(), b.clone()]).unwrap();
    let (mut ba, mut bb) = (Builder::new(), Builder::new());
    let (ea, eb) = (entries("a", 0..3), entries("b", 0..5));
    let (first_a, first_b) = (ba.batch(&ea), bb.batch(&eb));
    group.commit_all(&[(1, &first_b), (0, &first_a)]).unwrap();
    assert_eq!(a.tree_head().unwrap(), first_a.new_head);
    assert_eq!(b.tree_head().unwrap(), first_b.new_head);
    assert!(group.member(0).is_some() && group.member(2).is_none());

    // The next round: `a`'s batch is fine, `b`'s is stale (its old size is
    // 0 again). Nothing of either may land.
    let next_a = ba.batch(&entries("a", 3..4));
    let stale_b = Builder::new().batch(&entries("c", 0..1));
    let err = group
        .commit_all(&[(0, &next_a), (1, &stale_b)])
        .unwrap_err();
    assert!(
        matches!(err, vellum_store::StoreError::Conflict { .. }),
        "a stale batch is a conflict: {err}"
    );
    assert_eq!(a.tree_head().unwrap(), first_a.new_head);
    assert_eq!(b.tree_head().unwrap(), first_b.new_head);
    assert!(
        group.commit_all(&[(0, &next_a), (0, &next_a)]).is_err(),
        "one log twice in a round"
    );
    assert!(group.commit_all(&[(2, &next_a)]).is_err(), "no member 2");

    // Durable across a reopen, each log with its own tree.
    drop((group, a, b));
    let (default, named) =
        RocksStore::open_logs(dir.path(), &common::small_options(), &names).unwrap();
    assert_eq!(default.tree_head().unwrap(), first_a.new_head);
    assert_eq!(named[0].tree_head().unwrap(), first_b.new_head);
    assert_eq!(
        default
            .read_entries(vellum_merkle::LeafIndex::new(0).unwrap(), 3)
            .unwrap(),
        ea
    );
}

#[test]
fn a_group_is_made_of_one_database_and_each_log_once() {
    use std::sync::Arc;
    use vellum_store_rocksdb::RocksGroup;

    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = Arc::new(RocksStore::open(d1.path(), &common::small_options()).unwrap());
    let other = Arc::new(RocksStore::open(d2.path(), &common::small_options()).unwrap());
    let err = RocksGroup::new(vec![one.clone(), other]).unwrap_err();
    assert!(err.to_string().contains("another database"), "{err}");
    let err = RocksGroup::new(vec![one.clone(), one]).unwrap_err();
    assert!(err.to_string().contains("same log"), "{err}");
}
