//! Shared by the integration tests: a store that owns its temporary
//! directory, raw access for damaging a store on purpose, and spawning this
//! test binary as a child process.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use rocksdb::{DB, Options};
use tempfile::TempDir;
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_store::{CommitBatch, LogStore, StoreError, TreeHead};
use vellum_store_rocksdb::{RocksStore, StoreOptions};

/// A store in a fresh temporary directory, deleted when dropped (after the
/// store: fields drop in declaration order).
#[derive(Debug)]
pub struct TempStore {
    pub store: RocksStore,
    pub dir: TempDir,
}

pub fn small_options() -> StoreOptions {
    StoreOptions {
        block_cache_bytes: 8 << 20,
        write_buffer_bytes: 4 << 20,
        ..StoreOptions::default()
    }
}

pub fn fresh() -> TempStore {
    fresh_with(&small_options())
}

pub fn fresh_with(options: &StoreOptions) -> TempStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(dir.path(), options).expect("open fresh store");
    TempStore { store, dir }
}

impl LogStore for TempStore {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        self.store.tree_head()
    }
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.store.read_nodes(ids)
    }
    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        self.store.read_node_range(level, start, count)
    }
    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        self.store.read_entries(start, count)
    }
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        self.store.find_leaves(leaf_hashes)
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.store.commit(batch)
    }
    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        self.store.put_checkpoint(size, signed_note)
    }
    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        self.store.latest_checkpoint()
    }
    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        self.store.checkpoint_at(size)
    }
}

/// The column families of a Vellum store, for raw access.
pub const CFS: [&str; 5] = ["entries", "nodes", "dedup", "checkpoints", "meta"];

/// Opens the store's database directly, bypassing every check: for tests
/// that damage a store and expect the store to notice.
pub fn raw(dir: &Path) -> DB {
    DB::open_cf(&Options::default(), dir, CFS).expect("raw open")
}

/// Spawns this test binary running only `test` (an `#[test]` that acts as a
/// child when `VELLUM_CHILD_DIR` is set), with stdin and stdout piped.
pub fn spawn_child(test: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("VELLUM_CHILD_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// The directory a child test works in, or `None` when the test runs as
/// part of the normal suite (then it does nothing).
pub fn child_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("VELLUM_CHILD_DIR").map(Into::into)
}

/// A tiny deterministic generator, so that runs differ without a
/// dependency on `rand`.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn seeded() -> XorShift {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        XorShift(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
