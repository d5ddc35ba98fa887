//! The RocksDB backend of Vellum's [`LogStore`]: [`RocksStore`].
//!
//! It passes `vellum_store::conformance` and adds what only a disk has:
//! durability across crashes, and refusing to open what it cannot trust.
//!
//! # Layout
//!
//! One column family per kind of record. Integers in keys are big-endian,
//! so that key order is index order and a tile or a run of entries is one
//! contiguous key range.
//!
//! A database holds a default log under the names below, and may hold
//! other logs, each under the same names with `@<name>` appended
//! (`entries@tenant-a`), opened together by [`RocksStore::open_logs`].
//! Each log has its own tree, head, checks and node cache; all share the
//! database's write-ahead log, so that the synced commits of several logs
//! at the same moment are one WAL write and one `fdatasync` (RocksDB's
//! group commit). A named log's memtables are a sixteenth of the default
//! log's (at least 4 MiB), its node cache a sixteenth.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `entries` | index (8 B) | entry bytes (at most 65,535) |
//! | `nodes` | level (1 B) ‖ index (8 B) | hash (32 B); complete nodes only |
//! | `dedup` | leaf hash (32 B) | index (8 B) |
//! | `checkpoints` | size (8 B) | signed note |
//! | `meta` | `schema_version` | version (4 B), [`SCHEMA_VERSION`] |
//! | | `tree_head` | size (8 B) ‖ root (32 B) |
//! | | `created_by` | `vellum-store-rocksdb <version>` (informational) |
//!
//! Every value read is length-checked: a node that is not 32 bytes, an
//! index that is not 8, a head that is not 40 is [`StoreError::Corrupt`],
//! as is a key missing below the tree head (a hole in a range read, a node
//! that the head says is complete).
//!
//! # A commit, and what a crash leaves
//!
//! [`LogStore::commit`] runs, in order:
//!
//! 1. [`CommitBatch::validate`] and [`CommitBatch::check_unique_leaves`]:
//!    refusals, nothing touched.
//! 2. Under the writer mutex: compare-and-swap of `old_size` against the
//!    head held in memory (loaded at open; RocksDB's `LOCK` makes this
//!    process the only writer, so the copy cannot go stale). An empty batch
//!    stops here: it writes nothing, and may not change the root.
//! 3. One `batched_multi_get` of every new leaf hash in `dedup`; any hit is
//!    [`StoreError::Immutable`]. With step 2 this makes every key the batch
//!    writes new: `validate` proves the entry and node keys lie beyond the
//!    stored size, and open proved nothing is stored beyond it.
//! 4. One `WriteBatch` (entries, nodes, dedup records, `meta/tree_head`)
//!    written with `sync = true`: one WAL record, one `fdatasync`. Keys go
//!    in key order per column family, so that each memtable insert starts
//!    from the previous one (dedup keys are random hashes).
//! 5. The batch's nodes enter the node cache, the in-memory head is
//!    updated, then readers' copy of it.
//!
//! A crash before step 4 leaves the previous store. A crash during step 4
//! leaves the previous store or the whole batch: WAL replay applies a record
//! whole or not at all, and the head travels in the same record as the data
//! it describes. After step 4 returns the batch is on stable storage. A
//! RocksDB error in step 4 is [`StoreError::Io`]: the outcome is unknown
//! (the record may be in the WAL), RocksDB refuses further writes, and the
//! caller reopens. `tests/durability.rs` kills a committing child process
//! with SIGKILL 24 times and checks that the reopened store is a prefix of
//! what was committed and holds every acknowledged batch.
//!
//! # Reads
//!
//! Readers take a copy of the published head first and answer from it:
//! anything beyond it is [`StoreError::NotFound`] without a lookup, anything
//! below it must be stored. The head is published only after its batch is
//! durable, so a reader never sees a head whose data is missing, and
//! [`find_leaves`](vellum_store::LogStore::find_leaves) hides dedup records of a batch
//! whose commit has not returned yet. Node and dedup lookups are
//! `batched_multi_get`s; tiles and entry runs are one bounded iterator each.
//!
//! Node reads go through an in-memory cache first
//! ([`StoreOptions::node_cache_entries`]): proofs read ~20 nodes each, most
//! of them recent or near the top of the tree, and a memtable lookup costs
//! a skip-list search. Nodes are write-once, so a cached hash is never
//! stale; the cache holds only nodes of durable batches and nodes read
//! from disk. The full check of what is on disk stays `vellum fsck`'s,
//! which reads without the cache.
//!
//! # Opening
//!
//! [`RocksStore::open`] creates a store only in a missing or empty
//! directory (and only if [`StoreOptions::create_if_missing`]), writing the
//! `meta` records in one synced batch. Creation can be interrupted at three
//! points, and each leaves something the next open recognises and finishes:
//! RocksDB's files without `CURRENT` (its own creation had not finished),
//! a database with only some of our column families (RocksDB adds them one
//! by one; they are checked empty, read-only, before anything is written),
//! or all of them empty without a schema version. It refuses, with an
//! [`OpenError`] that names the directory and changes nothing:
//!
//! * a store open elsewhere: "another vellum process is using `<dir>`";
//! * other files, a RocksDB database with other column families or with
//!   data, or ours with data but no schema version: not a Vellum store;
//! * another schema version;
//! * a head that is not 40 bytes, whose root does not fold from the stored
//!   right edge, whose last entry is missing, or with entries beyond it.
//!
//! These checks cost `O(log size)` reads. The full check (every node from
//! the entries) is `vellum fsck`'s job.
//!
//! # Durability and the WAL
//!
//! Every write the store acknowledges is a `WriteBatch` with `sync = true`:
//! RocksDB appends one record to the WAL and calls `fdatasync` on it before
//! returning (`use_fsync = false` chooses `fdatasync` over `fsync`, which on
//! ext4 and xfs persists the data and any size change: all a WAL record
//! needs). No option below removes or defers that sync.
//!
//! The options that could make it cheaper were measured with
//! `examples/sync_latency.rs`, which gives every variant its own database
//! and lets them take turns write by write, so that drifting disk latency
//! (this VM has minutes-long spells where every flush to the device takes
//! ~3.5 ms, whatever the file) hits them all alike. Two plain files take
//! part: one appended to (each `fdatasync` changes its size and commits the
//! ext4 journal), one overwritten in place (each `fdatasync` writes data
//! only). Steady state (after three WAL rotations), p50 / p99 / mean in ms,
//! 300 writes each:
//!
//! ```text
//! cargo run -p vellum-store-rocksdb --example sync_latency -- /tmp/vellum-sync 64 [churn]
//!
//! one batch = 64 entries x 256 B + 127 nodes + 64 dedup records + head (~24 KiB)
//!                                          quiet                  with file churn
//! DB options: RocksDB defaults             0.547 / 8.000 / 0.967  0.819 / 2.579 / 0.895
//! vellum (recycle, atomic flush, PIT)      0.513 / 6.756 / 0.963  0.766 / 1.515 / 0.846
//! vellum, recycle 0                        0.549 / 7.498 / 1.002  0.816 / 3.021 / 0.904
//! vellum, recycle 0 + async_wal_precreate  0.549 / 3.912 / 0.778  0.815 / 1.624 / 0.909
//! vellum + kTolerateCorruptedTailRecords   0.544 / 8.197 / 0.901  0.809 / 1.720 / 0.946
//! vellum + manual_wal_flush                0.526 / 4.636 / 0.758  0.774 / 1.981 / 0.852
//! vellum + allow_fallocate=false           0.514 / 6.023 / 0.814  0.789 / 1.611 / 0.874
//! vellum + use_fsync                       0.514 / 7.029 / 0.876  0.775 / 1.835 / 0.860
//! vellum, no sync (RocksDB's CPU share)    0.395 / 0.574 / 0.365  0.430 / 0.579 / 0.420
//! plain file, append + fdatasync           0.210 / 7.005 / 0.660  0.594 / 1.607 / 0.622
//! plain file, overwrite + fdatasync        0.119 / 4.047 / 0.445  0.341 / 0.819 / 0.380
//! ```
//!
//! On this machine a size-changing `fdatasync` costs ~0.1 ms more than an
//! overwrite when the file system is quiet and ~0.25 ms more when other
//! files are being written (each journal commit then carries their
//! metadata); not the 4 ms against 0.05 ms once observed here, which did not
//! reproduce in a paired run. RocksDB's own work (memtable inserts of ~256
//! keys, the WAL record) is most of a small commit. WAL recycling is never
//! worse, gains ~0.05 ms at the median and halves p99 under churn, and
//! removes the journal commit from every sync where that is expensive
//! (busy or slow disks), so:
//!
//! * `recycle_log_file_num = 2`: a recycled WAL file is overwritten in
//!   place, so its `fdatasync` neither grows the file nor converts
//!   preallocated extents. One file is recycled per WAL rotation; two cover
//!   a rotation that starts before the last recycled file was picked up.
//!   Until the first memtable flush there is nothing to recycle, so a new
//!   store pays the growing-file cost for its first `write_buffer_bytes`.
//! * `atomic_flush = true`: all column families flush together. `meta`
//!   gets one small key per round and would otherwise keep every WAL file
//!   alive until `max_total_wal_size` forced its flush; a live WAL cannot
//!   be recycled.
//! * Left at their defaults, having measured no gain: `manual_wal_flush`
//!   (a synced write flushes RocksDB's WAL buffer first anyway),
//!   `allow_fallocate`, `async_wal_precreate` (RocksDB turns it off when
//!   recycling), `use_fsync`.
//!
//! For a 1,000-entry round (~376 KiB) the sync is a small part: 4.9 ms
//! synced against 4.3 ms unsynced, 0.8 ms for a plain append of the same
//! bytes (both CPUs shared with compiler jobs during the run).
//!
//! ## Recovery mode
//!
//! `kPointInTimeRecovery`, set explicitly so that a change of RocksDB's
//! default cannot change it.
//!
//! * `kAbsoluteConsistency` refuses to open after any crash that tore the
//!   last, unacknowledged WAL record: every `kill -9` during a commit would
//!   stop the log until an operator intervened. RocksDB also turns WAL
//!   recycling off with it (`SanitizeOptions`).
//! * `kTolerateCorruptedTailRecords` accepts a torn last record but fails
//!   on any other bad record, and cannot tell the stale tail of a recycled
//!   file from real corruption, so RocksDB turns recycling off with it too.
//! * `kPointInTimeRecovery` replays each WAL up to the first record that
//!   does not check out and stops there. With recycling, a record left from
//!   the file's previous life carries an older log number; since RocksDB
//!   9.x (facebook/rocksdb#12403, confirmed in #13819) recovery treats such
//!   a record as a possible corruption and looks at the next sequence
//!   number, so a recycled file cannot hide a hole. Records before the stop
//!   were synced before their `commit` returned; records after it were
//!   never acknowledged, unless the disk lost or damaged a synced write,
//!   which no recovery mode can undo. If that happens in an older WAL while
//!   a newer one has data, RocksDB refuses to open (the sequence numbers do
//!   not join). If it happens in the newest WAL, the store comes back at an
//!   earlier, internally consistent size, and that is not silent for
//!   Vellum: the signer and the witnesses have seen a larger size and
//!   refuse to go back.
//!
//! # Other options
//!
//! A shared LRU block cache ([`StoreOptions::block_cache_bytes`], 256 MiB by
//! default) holds data, index and filter blocks. `nodes` and `dedup` have
//! 10-bit bloom filters, so that the dedup lookup of a new (absent) leaf
//! hash rarely reads a data block. Only `entries` is compressed (LZ4, zstd
//! at the bottom level): hashes do not compress.
//!
//! # Measuring
//!
//! [`RocksStore::disk_usage`], [`RocksStore::flush`] and
//! [`RocksStore::compact`] give bytes on disk per column family.
//! `baseline` (behind the `baseline` feature, which only benchmarks enable)
//! writes raw synced RocksDB batches of the same entries with the same
//! options, for benchmarks that put the store next to RocksDB itself
//! (`benches/store.rs`, `vellum-bench`).
//!
//! [`LogStore`]: vellum_store::LogStore
//! [`LogStore::commit`]: vellum_store::LogStore::commit
//! [`CommitBatch::validate`]: vellum_store::CommitBatch::validate
//! [`CommitBatch::check_unique_leaves`]: vellum_store::CommitBatch::check_unique_leaves
//! [`StoreError::Corrupt`]: vellum_store::StoreError::Corrupt
//! [`StoreError::Immutable`]: vellum_store::StoreError::Immutable
//! [`StoreError::Io`]: vellum_store::StoreError::Io
//! [`StoreError::NotFound`]: vellum_store::StoreError::NotFound

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "baseline")]
pub mod baseline;
mod group;
mod keys;
mod open;
pub mod options;
mod store;
#[cfg(feature = "testonly")]
pub mod testonly;

pub use group::RocksGroup;
pub use keys::SCHEMA_VERSION;
pub use open::OpenError;
pub use options::StoreOptions;
pub use store::{CfUsage, DiskUsage, RocksStore};
