//! [`RocksStore`] and its [`LogStore`] implementation: the commit path and
//! the reads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use rocksdb::{ColumnFamily, DB, ReadOptions, WriteBatch, WriteOptions};
use vellum_merkle::{Hash, LeafIndex, NodeId, TreeSize};
use vellum_store::{CommitBatch, EngineStats, LogStore, StoreError, TreeHead, note_text};

use crate::keys::{
    CF_CHECKPOINTS, CF_DEDUP, CF_ENTRIES, CF_META, CF_NODES, META_TREE_HEAD, decode_hash,
    decode_u64, encode_head, node_id_key, node_key, u64_key,
};

/// A [`LogStore`] in a RocksDB database. See the [crate docs](crate) for the
/// layout, the commit order and what a crash leaves.
#[derive(Debug)]
pub struct RocksStore {
    /// The database, shared by every log it holds (see
    /// [`RocksStore::open_logs`]).
    pub(crate) db: Arc<DB>,
    pub(crate) dir: PathBuf,
    /// `""` for the database's default log, `"@<name>"` for another: the
    /// suffix of this log's column family names.
    pub(crate) suffix: String,
    /// This log's column family names, in the order of
    /// [`LOG_CFS`](crate::keys::LOG_CFS): made once, so that a lookup on the
    /// read and commit paths allocates nothing.
    pub(crate) cf_names: [String; 5],
    /// The committed head as the writer knows it: the compare-and-swap reads
    /// it, and holding this lock is what makes a commit the only writer.
    /// Loaded from `meta/tree_head` at open; this process is the only
    /// writer (RocksDB's LOCK), so it never goes stale.
    pub(crate) writer: Mutex<TreeHead>,
    /// The head readers see. Set under `writer` after the batch is durable,
    /// so everything it speaks of is already readable.
    pub(crate) published: RwLock<TreeHead>,
    /// Serialises `put_checkpoint`'s read-compare-write, apart from commits
    /// so that a checkpoint does not wait for a round's fsync.
    pub(crate) checkpoint_lock: Mutex<()>,
    /// Node hashes in memory (see [`StoreOptions::node_cache_entries`]).
    /// Nodes are write-once, so a cached hash can never be stale: it holds
    /// only nodes a commit has made durable or a read found stored.
    ///
    /// [`StoreOptions::node_cache_entries`]: crate::StoreOptions::node_cache_entries
    pub(crate) node_cache: Option<NodeCache>,
}

/// The in-memory node cache: concurrent, bounded by entry count.
pub(crate) type NodeCache = quick_cache::sync::Cache<NodeId, Hash>;

/// Every write that `LogStore` promises durable goes through this.
pub(crate) fn sync_write() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

pub(crate) fn io(what: &str, e: rocksdb::Error) -> StoreError {
    StoreError::Io(format!("{what}: {e}"))
}

/// Sizes of one column family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfUsage {
    /// Column family name.
    pub name: &'static str,
    /// Bytes in live SST files (after compression).
    pub sst_bytes: u64,
    /// Bytes in memtables, not yet flushed to SST files.
    pub memtable_bytes: u64,
    /// RocksDB's estimate of the number of keys.
    pub estimated_keys: u64,
}

/// Bytes on disk, for the "bytes per entry" figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskUsage {
    /// Per column family.
    pub column_families: Vec<CfUsage>,
    /// Every file in the store's directory (SST, WAL, MANIFEST, logs):
    /// what `du` would say.
    pub dir_bytes: u64,
}

impl RocksStore {
    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This log's column family of kind `name` (e.g. `entries`).
    pub(crate) fn cf(&self, name: &str) -> Result<&ColumnFamily, StoreError> {
        // Open refuses a database without all of them, so this is a bug,
        // not bad data; still an error rather than a panic in a server.
        let full = crate::keys::LOG_CFS
            .iter()
            .position(|kind| *kind == name)
            .map_or(name, |i| self.cf_names[i].as_str());
        self.db.cf_handle(full).ok_or_else(|| {
            StoreError::Io(format!("column family {name}{} is not open", self.suffix))
        })
    }

    /// The log's name within its database: `None` for the default log.
    pub fn namespace(&self) -> Option<&str> {
        self.suffix.strip_prefix(crate::keys::NAMESPACE_SEP)
    }

    /// The head readers see (a copy; the lock is held for the copy only).
    pub(crate) fn head(&self) -> TreeHead {
        // A poisoned lock: a thread panicked while assigning a `Copy` value,
        // which cannot leave it half-written.
        *self.published.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, TreeHead> {
        // Poisoned only by a panic inside `commit`. Everything there that can
        // panic runs before the write, and the head is assigned only after
        // the write returned Ok, so the guarded head is still the stored one.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes every memtable to SST files (atomically, all column families
    /// at once). Not needed for durability, which the WAL gives: for
    /// measuring sizes and for tests.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if RocksDB fails.
    pub fn flush(&self) -> Result<(), StoreError> {
        let cfs = crate::keys::LOG_CFS
            .iter()
            .map(|n| self.cf(n))
            .collect::<Result<Vec<_>, _>>()?;
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())
            .map_err(|e| io("flush", e))
    }

    /// Compacts every column family fully (after a [`flush`](Self::flush),
    /// gives the steady-state size on disk).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if a column family is missing.
    pub fn compact(&self) -> Result<(), StoreError> {
        for name in crate::keys::LOG_CFS {
            self.db
                .compact_range_cf(self.cf(name)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    /// Bytes on disk per column family and in the whole directory.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if RocksDB or the directory listing fails.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let mut column_families = Vec::new();
        for name in [CF_ENTRIES, CF_NODES, CF_DEDUP, CF_CHECKPOINTS, CF_META] {
            let cf = self.cf(name)?;
            let prop = |p: &str| -> Result<u64, StoreError> {
                Ok(self
                    .db
                    .property_int_value_cf(cf, p)
                    .map_err(|e| io(p, e))?
                    .unwrap_or(0))
            };
            column_families.push(CfUsage {
                name,
                sst_bytes: prop("rocksdb.live-sst-files-size")?,
                memtable_bytes: prop("rocksdb.size-all-mem-tables")?,
                estimated_keys: prop("rocksdb.estimate-num-keys")?,
            });
        }
        let mut dir_bytes = 0;
        let listing = std::fs::read_dir(&self.dir)
            .map_err(|e| StoreError::Io(format!("listing {}: {e}", self.dir.display())))?;
        for f in listing {
            let meta = f
                .and_then(|f| f.metadata())
                .map_err(|e| StoreError::Io(format!("listing {}: {e}", self.dir.display())))?;
            if meta.is_file() {
                dir_bytes += meta.len();
            }
        }
        Ok(DiskUsage {
            column_families,
            dir_bytes,
        })
    }

    /// Refuses the batch if any of its leaf hashes is already in `dedup`:
    /// one batched lookup for the whole round, which the bloom filter on
    /// `dedup` makes cheap when (as almost always) none is there.
    fn check_new_leaves(&self, batch: &CommitBatch, size: TreeSize) -> Result<(), StoreError> {
        let mut leaves: Vec<(&Hash, u64)> = batch.leaves().collect();
        // Sorted keys let RocksDB walk each SST file once.
        leaves.sort_unstable();
        let found = self.db.batched_multi_get_cf(
            self.cf(CF_DEDUP)?,
            leaves.iter().map(|(h, _)| h.as_bytes()),
            true,
        );
        for ((h, i), got) in leaves.iter().zip(found) {
            let Some(v) = got.map_err(|e| io("dedup lookup", e))? else {
                continue;
            };
            let existing = decode_u64(&format_args!("dedup record of {h}"), &v)?;
            if existing >= size.get() {
                // Only this writer adds dedup records, each with its head.
                return Err(StoreError::Corrupt(format!(
                    "dedup record of {h} points at index {existing}, beyond the tree size {size}"
                )));
            }
            return Err(StoreError::Immutable(format!(
                "leaf hash {h} (index {i}) is already stored at index {existing}"
            )));
        }
        Ok(())
    }

    /// Checks `batch` against the stored `head` (the caller holds the
    /// writer lock) and adds its writes to `wb`. `Ok(false)`: a valid empty
    /// batch, nothing to write.
    pub(crate) fn stage(
        &self,
        batch: &CommitBatch,
        head: &TreeHead,
        wb: &mut WriteBatch,
    ) -> Result<bool, StoreError> {
        batch.validate()?;
        batch.check_unique_leaves()?;
        if head.size != batch.old_size {
            return Err(StoreError::Conflict {
                stored: head.size.get(),
                expected: batch.old_size.get(),
            });
        }
        if batch.entries.is_empty() {
            // Nothing to store. A different root for the same size would be
            // a rewrite of history, which `validate` cannot see.
            return if batch.new_head == *head {
                Ok(false)
            } else {
                Err(StoreError::InvalidBatch(format!(
                    "an empty batch changes the root of size {} from {} to {}",
                    head.size, head.root, batch.new_head.root
                )))
            };
        }
        self.check_new_leaves(batch, head.size)?;
        // Validation and the compare-and-swap make every entry and node key
        // below new; the lookup above made every dedup key new.
        let (entries, nodes) = (self.cf(CF_ENTRIES)?, self.cf(CF_NODES)?);
        let (dedup, meta) = (self.cf(CF_DEDUP)?, self.cf(CF_META)?);
        let old = batch.old_size.get();
        for (i, e) in (old..).zip(&batch.entries) {
            wb.put_cf(entries, u64_key(i), e);
        }
        // Keys go into the batch in key order, column family by column
        // family: the memtable inserts a batch in its order and starts each
        // skip-list search from where the previous insert ended, so sorted
        // keys cost a short walk each. Dedup keys are random hashes: in
        // arrival order every insert searched from the top of a list of
        // millions (the sequencer's largest CPU cost in a profile).
        let mut node_puts: Vec<_> = batch
            .nodes
            .iter()
            .map(|(id, h)| (node_id_key(*id), h))
            .collect();
        node_puts.sort_unstable_by_key(|(k, _)| *k);
        for (k, h) in &node_puts {
            wb.put_cf(nodes, k, h.as_bytes());
        }
        let mut dedup_puts: Vec<_> = batch.leaves().collect();
        dedup_puts.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (h, i) in dedup_puts {
            wb.put_cf(dedup, h.as_bytes(), u64_key(i));
        }
        wb.put_cf(meta, META_TREE_HEAD, encode_head(&batch.new_head));
        Ok(true)
    }

    /// After `batch`'s writes are synced: its nodes may be served from
    /// memory, and readers see the new head.
    pub(crate) fn applied(&self, batch: &CommitBatch, head: &mut TreeHead) {
        if let Some(c) = &self.node_cache {
            for (id, h) in &batch.nodes {
                c.insert(*id, *h);
            }
        }
        *head = batch.new_head;
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = batch.new_head;
    }

    /// Reads `count` consecutive keys `key(0)..key(count)` of `cf_name` with
    /// one iterator. The caller has checked them against the head, so each
    /// must be there: a missing one is a hole in the store.
    fn scan<K: AsRef<[u8]>, T>(
        &self,
        cf_name: &str,
        count: u64,
        key: impl Fn(u64) -> K,
        decode: impl Fn(u64, &[u8]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(key(count).as_ref().to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.cf(cf_name)?, opts);
        it.seek(key(0));
        // The count is bounded by the tree, not by memory: do not trust it
        // for a preallocation.
        let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
        for i in 0..count {
            let expected = key(i);
            match it.item() {
                Some((k, v)) if k == expected.as_ref() => out.push(decode(i, v)?),
                other => {
                    it.status().map_err(|e| io(cf_name, e))?;
                    return Err(StoreError::Corrupt(format!(
                        "{cf_name}: key {:02x?} is below the tree head but not stored (found {:02x?})",
                        expected.as_ref(),
                        other.map(|(k, _)| k)
                    )));
                }
            }
            it.next();
        }
        Ok(out)
    }
}

impl LogStore for RocksStore {
    fn tree_head(&self) -> Result<TreeHead, StoreError> {
        Ok(self.head())
    }

    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let size = self.head().size;
        // Checked against the head first: an incomplete node is NotFound
        // without a lookup, and a complete one must be stored.
        if let Some(id) = ids.iter().find(|id| !id.is_complete_in(size)) {
            return Err(StoreError::NotFound(format!(
                "node {id} is not complete in the tree of size {size}"
            )));
        }
        let cache = self.node_cache.as_ref();
        let mut out: Vec<Option<Hash>> =
            ids.iter().map(|id| cache.and_then(|c| c.get(id))).collect();
        let missing: Vec<usize> = (0..ids.len()).filter(|i| out[*i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        let keys: Vec<[u8; 9]> = missing.iter().map(|i| node_id_key(ids[*i])).collect();
        let found = self
            .db
            .batched_multi_get_cf(self.cf(CF_NODES)?, keys.iter(), false);
        for (i, got) in missing.into_iter().zip(found) {
            let id = ids[i];
            let h = match got.map_err(|e| io("read nodes", e))? {
                Some(v) => decode_hash(&format_args!("node {id}"), &v)?,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "node {id} is complete in the tree of size {size} but not stored"
                    )));
                }
            };
            if let Some(c) = cache {
                c.insert(id, h);
            }
            out[i] = Some(h);
        }
        Ok(out.into_iter().flatten().collect())
    }

    fn read_node_range(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let size = self.head().size;
        let not_found = || {
            StoreError::NotFound(format!(
                "nodes ({level}, {start}..{start}+{count}) in the tree of size {size}"
            ))
        };
        // The last node is complete, so every node before it is, and every
        // index up to `start + count` fits in a u64 (a node index is below
        // 2^63).
        start
            .checked_add(count - 1)
            .and_then(|i| NodeId::new(level, i).ok())
            .filter(|id| id.is_complete_in(size))
            .ok_or_else(not_found)?;
        self.scan(
            CF_NODES,
            count,
            |i| node_key(level, start + i),
            |i, v| decode_hash(&format_args!("node ({level}, {})", start + i), v),
        )
    }

    fn read_entries(&self, start: LeafIndex, count: u64) -> Result<Vec<Bytes>, StoreError> {
        let size = self.head().size;
        let s = start.get();
        s.checked_add(count)
            .filter(|end| *end <= size.get())
            .ok_or_else(|| {
                StoreError::NotFound(format!("entries {s}..{s}+{count} (tree size {size})"))
            })?;
        if count == 0 {
            return Ok(Vec::new());
        }
        self.scan(
            CF_ENTRIES,
            count,
            |i| u64_key(s + i),
            |_, v| Ok(Bytes::copy_from_slice(v)),
        )
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LeafIndex>>, StoreError> {
        // The head is read first: a record at or beyond it belongs to a
        // round whose commit has not returned yet, and is reported absent,
        // so the answer is exactly the state at `size`.
        let size = self.head().size;
        let found = self.db.batched_multi_get_cf(
            self.cf(CF_DEDUP)?,
            leaf_hashes.iter().map(Hash::as_bytes),
            false,
        );
        leaf_hashes
            .iter()
            .zip(found)
            .map(|(h, got)| {
                let Some(v) = got.map_err(|e| io("find leaves", e))? else {
                    return Ok(None);
                };
                let i = decode_u64(&format_args!("dedup record of {h}"), &v)?;
                if i >= size.get() {
                    return Ok(None);
                }
                LeafIndex::new(i)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("dedup record of {h}: {e}")))
            })
            .collect()
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut head = self.lock_writer();
        let mut wb = WriteBatch::default();
        if !self.stage(batch, &head, &mut wb)? {
            return Ok(());
        }
        // The one durable step. A crash before it leaves the old store; a
        // crash during it leaves the old store or the whole batch (one WAL
        // record, replayed whole or not at all); Ok means it is synced. An
        // error leaves the outcome unknown, and RocksDB refuses further
        // writes until reopened: fatal, and `head` stays as it was.
        self.db
            .write_opt(wb, &sync_write())
            .map_err(|e| io("commit", e))?;
        self.applied(batch, &mut head);
        Ok(())
    }

    fn put_checkpoint(&self, size: TreeSize, signed_note: &[u8]) -> Result<(), StoreError> {
        let _guard = self
            .checkpoint_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // The tree only grows, so a head read now stays an upper bound.
        let tree = self.head().size;
        if size > tree {
            return Err(StoreError::InvalidBatch(format!(
                "checkpoint for size {size} but the tree has {tree} leaves"
            )));
        }
        let cf = self.cf(CF_CHECKPOINTS)?;
        let key = u64_key(size.get());
        if let Some(old) = self
            .db
            .get_pinned_cf(cf, key)
            .map_err(|e| io("read checkpoint", e))?
            && note_text(&old) != note_text(signed_note)
        {
            return Err(StoreError::Immutable(format!(
                "a different checkpoint is stored for size {size}"
            )));
        }
        // Replacing the same text (more cosignatures) is the only overwrite
        // the store allows; a crash leaves the old note or the new one.
        self.db
            .put_cf_opt(cf, key, signed_note, &sync_write())
            .map_err(|e| io("put checkpoint", e))
    }

    fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Bytes)>, StoreError> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_CHECKPOINTS)?);
        it.seek_to_last();
        let Some((k, v)) = it.item() else {
            it.status().map_err(|e| io("latest checkpoint", e))?;
            return Ok(None);
        };
        let size = decode_u64(&"checkpoint key", k)?;
        let size =
            TreeSize::new(size).map_err(|e| StoreError::Corrupt(format!("checkpoint key: {e}")))?;
        Ok(Some((size, Bytes::copy_from_slice(v))))
    }

    fn checkpoint_at(&self, size: TreeSize) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_CHECKPOINTS)?, u64_key(size.get()))
            .map_err(|e| io("read checkpoint", e))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    fn engine_stats(&self) -> Option<EngineStats> {
        // Database-wide figures (shared by every log of the database) and
        // sums over this log's column families. A property RocksDB cannot
        // give is left out rather than reported as 0.
        let db = |p: &str| self.db.property_int_value(p).ok().flatten();
        let per_log = |p: &str| {
            crate::keys::LOG_CFS.iter().try_fold(0u64, |sum, name| {
                let cf = self.cf(name).ok()?;
                let v = self.db.property_int_value_cf(cf, p).ok().flatten()?;
                Some(sum + v)
            })
        };
        Some(EngineStats {
            write_stopped: db("rocksdb.is-write-stopped").map(|v| v != 0),
            delayed_write_rate: db("rocksdb.actual-delayed-write-rate"),
            pending_compaction_bytes: per_log("rocksdb.estimate-pending-compaction-bytes"),
            running_compactions: db("rocksdb.num-running-compactions"),
            data_bytes: per_log("rocksdb.live-sst-files-size"),
            memtable_bytes: per_log("rocksdb.size-all-mem-tables"),
        })
    }
}
