//! The floor a store commit is measured against: raw RocksDB synced
//! `WriteBatch`es of the same entries, in a database with the same options,
//! without the store's checks and without its tree records.
//!
//! Used by this crate's benchmark and by the load generator, so that "the
//! store reaches N% of what RocksDB can sync on this machine" is measured in
//! one run on one disk.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocksdb::{DB, WriteBatch};
use vellum_store::{CommitBatch, StoreError};

use crate::keys::{CF_DEDUP, CF_ENTRIES, CF_META, CF_NODES, META_TREE_HEAD, encode_head};
use crate::keys::{node_id_key, u64_key};
use crate::options::{StoreOptions, column_families, db_options};
use crate::store::{io, sync_write};

/// A bare RocksDB database with the store's options and column families.
#[derive(Debug)]
pub struct RawBaseline {
    db: DB,
    next: u64,
    sync: bool,
}

impl RawBaseline {
    /// Creates (or opens) a database in `dir`: no schema, no checks.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if RocksDB fails to open.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<RawBaseline, StoreError> {
        RawBaseline::open_with(dir, &db_options(true), column_families(options))
    }

    /// Creates (or opens) a database with other options than the store's:
    /// for experiments that measure an option (`examples/sync_latency.rs`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if RocksDB fails to open.
    pub fn open_with(
        dir: &Path,
        db_options: &rocksdb::Options,
        column_families: Vec<rocksdb::ColumnFamilyDescriptor>,
    ) -> Result<RawBaseline, StoreError> {
        let db = DB::open_cf_descriptors(db_options, dir, column_families)
            .map_err(|e| io("open baseline", e))?;
        Ok(RawBaseline {
            db,
            next: 0,
            sync: true,
        })
    }

    /// Makes every later write unsynced: to measure how much of a synced
    /// write is RocksDB's own work rather than the disk's. Never for data.
    pub fn without_sync(mut self) -> RawBaseline {
        self.sync = false;
        self
    }

    fn write(&self, wb: WriteBatch) -> Result<(), StoreError> {
        let mut w = sync_write();
        w.set_sync(self.sync);
        self.db
            .write_opt(wb, &w)
            .map_err(|e| io("baseline write", e))
    }

    /// Flushes all memtables, which also starts a new WAL file (and lets
    /// the old one be recycled).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if RocksDB fails.
    pub fn flush(&self) -> Result<(), StoreError> {
        let cfs = crate::keys::ALL_CFS
            .iter()
            .map(|n| self.cf(n))
            .collect::<Result<Vec<_>, _>>()?;
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())
            .map_err(|e| io("flush", e))
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Io(format!("column family {name} is not open")))
    }

    /// Writes `entries` at the next indices in one synced batch: the entry
    /// bytes alone, which is the least any log must make durable.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the write fails.
    pub fn write_entries(&mut self, entries: &[Bytes]) -> Result<(), StoreError> {
        let cf = self.cf(CF_ENTRIES)?;
        let mut wb = WriteBatch::default();
        for (i, e) in (self.next..).zip(entries) {
            wb.put_cf(cf, u64_key(i), e);
        }
        self.write(wb)?;
        self.next += entries.len() as u64;
        Ok(())
    }

    /// Writes every record [`RocksStore::commit`](vellum_store::LogStore::commit)
    /// would write for `batch` (entries, nodes, dedup, head) in one synced
    /// batch, without validation, compare-and-swap or dedup lookup: the
    /// difference to a real commit is the cost of the checks.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the write fails.
    pub fn write_records(&mut self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        let (entries, nodes) = (self.cf(CF_ENTRIES)?, self.cf(CF_NODES)?);
        let (dedup, meta) = (self.cf(CF_DEDUP)?, self.cf(CF_META)?);
        for (i, e) in (batch.old_size.get()..).zip(&batch.entries) {
            wb.put_cf(entries, u64_key(i), e);
        }
        for (id, h) in &batch.nodes {
            wb.put_cf(nodes, node_id_key(*id), h.as_bytes());
        }
        for (h, i) in batch.leaves() {
            wb.put_cf(dedup, h.as_bytes(), u64_key(i));
        }
        wb.put_cf(meta, META_TREE_HEAD, encode_head(&batch.new_head));
        self.write(wb)
    }
}

/// What [`raw_sync_batches`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineStats {
    /// Batches written (each one synced write).
    pub batches: u64,
    /// Entries written.
    pub entries: u64,
    /// Entry bytes written (payload only).
    pub bytes: u64,
    /// Time spent in the synced writes (making the entries is excluded).
    pub elapsed: Duration,
    /// Median latency of one synced batch.
    pub p50: Duration,
    /// 99th percentile latency of one synced batch.
    pub p99: Duration,
}

impl BaselineStats {
    /// Entries per second over the run.
    pub fn entries_per_sec(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Deterministic, distinct entries of `size` bytes for indices
/// `first..first + n`: the index in decimal followed by filler that
/// compresses about as well as structured audit records (not all zeros,
/// not random).
pub fn synthetic_entries(first: u64, n: usize, size: usize) -> Vec<Bytes> {
    (first..first + n as u64)
        .map(|i| {
            let mut v =
                format!("{{\"seq\":{i},\"actor\":\"svc-{}\",\"data\":\"", i % 97).into_bytes();
            let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            while v.len() < size {
                // xorshift: cheap, varied bytes from a small alphabet.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(b'a' + (x % 16) as u8);
            }
            v.truncate(size);
            Bytes::from(v)
        })
        .collect()
}

/// Writes synced batches of `entries_per_batch` synthetic entries of
/// `entry_size` bytes into a fresh database in `dir` for `duration`: the
/// raw RocksDB figure to put next to the store's.
///
/// # Errors
///
/// [`StoreError::Io`] if RocksDB fails.
pub fn raw_sync_batches(
    dir: &Path,
    options: &StoreOptions,
    entries_per_batch: usize,
    entry_size: usize,
    duration: Duration,
) -> Result<BaselineStats, StoreError> {
    let mut db = RawBaseline::open(dir, options)?;
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut entries = 0u64;
    while start.elapsed() < duration {
        // Made outside the timed part: the figure is RocksDB's alone.
        let batch = synthetic_entries(entries, entries_per_batch, entry_size);
        let t = Instant::now();
        db.write_entries(&batch)?;
        latencies.push(t.elapsed());
        entries += entries_per_batch as u64;
    }
    let elapsed = latencies.iter().sum();
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(BaselineStats {
        batches: latencies.len() as u64,
        entries,
        bytes: entries * entry_size as u64,
        elapsed,
        p50: pct(50),
        p99: pct(99),
    })
}
