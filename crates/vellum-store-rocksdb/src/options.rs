//! RocksDB options, chosen by measurement (see `examples/sync_latency.rs`
//! and the numbers next to each choice).
//!
//! [`RocksStore::open`](crate::RocksStore::open) and the
//! benchmarks' `baseline` (feature `baseline`) use exactly [`db_options`] and
//! [`column_families`], so a benchmark that compares them compares the
//! store's logic, not two configurations.

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode, Options,
};

use crate::keys::{CF_CHECKPOINTS, CF_DEDUP, CF_ENTRIES, CF_META, CF_NODES};

/// What a deployment may tune. Everything that durability or crash recovery
/// depends on is fixed in code, not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Size of the block cache shared by all column families. Default
    /// 256 MiB.
    pub block_cache_bytes: usize,
    /// Memtable size of each column family, which is also how much WAL
    /// accumulates before a flush lets a WAL file be recycled. Default
    /// 64 MiB.
    pub write_buffer_bytes: usize,
    /// Node hashes kept in memory, in front of RocksDB: every node a
    /// commit writes, and every node a read fetches. Proofs read ~20 nodes
    /// each, mostly recent ones and the same upper ones; from the memtable,
    /// each costs a skip-list search (a third of the server's CPU in a
    /// profile of proof reads). About 100 bytes per node. Default 262,144
    /// (the nodes of the last ~128k entries, ~25 MiB); 0 turns it off.
    pub node_cache_entries: usize,
    /// Create the store if the directory is missing or empty. A server
    /// whose log already exists should set this to `false`, so that a
    /// mistyped path is an error instead of a new, empty log.
    /// Default `true`.
    pub create_if_missing: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
            node_cache_entries: 1 << 18,
            create_if_missing: true,
        }
    }
}

/// WAL files kept for reuse. See the [crate docs](crate#durability-and-the-wal)
/// for the measurement behind it.
const RECYCLE_LOG_FILES: usize = 2;

/// Bits per key of the bloom filters on `nodes` and `dedup`: ~1% false
/// positives, so an absent leaf hash (every dedup check of a new entry)
/// almost never reads a data block.
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// The share of the dedup memtable's budget given to its bloom filter.
const MEMTABLE_BLOOM_RATIO: f64 = 0.1;

/// The database-wide options. `create` says whether a missing database and
/// missing column families may be created.
pub fn db_options(create: bool) -> Options {
    let mut o = Options::default();
    o.create_if_missing(create);
    o.create_missing_column_families(create);
    // Durability: every acknowledged write is `sync = true`, one WAL append
    // plus fdatasync. Nothing here removes or defers that sync. Measured
    // with examples/sync_latency.rs (crate docs, "Durability and the WAL"
    // has the full table); one 64-entry round, ~24 KiB, steady state,
    // p50 / p99 ms, variants interleaved write by write:
    //   recycling on (this)       0.513 / 6.756   churn 0.766 / 1.515
    //   recycle_log_file_num = 0  0.549 / 7.498   churn 0.816 / 3.021
    //   RocksDB default options   0.547 / 8.000   churn 0.819 / 2.579
    //   same batch without sync   0.395 / 0.574   (RocksDB's CPU share)
    //   plain file append+sync    0.210 / 7.005   churn 0.594 / 1.607
    //   plain file overwrite+sync 0.119 / 4.047   churn 0.341 / 0.819
    // A recycled WAL is overwritten in place: same size, blocks already
    // written, so its fdatasync commits no journal transaction.
    o.set_recycle_log_file_num(RECYCLE_LOG_FILES);
    // kPointInTimeRecovery: opens after a crash that tore the last
    // (unacknowledged) record, stops replay at the first bad record (every
    // record before it was synced before its commit returned), and keeps
    // recycling on: RocksDB turns recycling off under kAbsoluteConsistency
    // and kTolerateCorruptedTailRecords, and kSkipAnyCorruptedRecords would
    // replay around a hole. Explicit, so that a change of RocksDB's default
    // cannot change it.
    o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    // fdatasync, not fsync: on ext4 and xfs fdatasync persists the data and
    // any size change, which is all a WAL record needs (use_fsync measured
    // 0.514 / 7.029: no gain either way).
    o.set_use_fsync(false);
    // All column families flush together. The small ones (`meta` gets one
    // key per round) would otherwise pin every WAL file until
    // max_total_wal_size forced a flush, and a pinned WAL cannot be recycled.
    o.set_atomic_flush(true);
    // Left at their defaults, measured without gain: manual_wal_flush
    // (0.526 / 4.636; a synced write flushes the buffer first anyway),
    // allow_fallocate (false: 0.514 / 6.023), async_wal_precreate (off
    // whenever recycling is on).
    o.set_paranoid_checks(true);
    // RocksDB's own info LOG: enough to debug, bounded on disk.
    o.set_keep_log_file_num(5);
    o.set_max_log_file_size(16 << 20);
    o
}

/// The column families with their options, all sharing one block cache of
/// `opts.block_cache_bytes`.
pub fn column_families(opts: &StoreOptions) -> Vec<ColumnFamilyDescriptor> {
    let cache = Cache::new_lru_cache(opts.block_cache_bytes);
    log_column_families(&cache, "", opts.write_buffer_bytes)
}

/// The memtable size of each column family of a log other than a
/// database's default one: many logs share a database, and a memtable (with
/// the dedup memtable's bloom filter, a tenth of it) is allocated per
/// column family. Small logs flush small files; that is the price of one
/// WAL and one fsync for all of them.
pub(crate) fn namespace_write_buffer(opts: &StoreOptions) -> usize {
    (opts.write_buffer_bytes / 16).max(4 << 20)
}

/// One log's column families, named with `suffix` (`""` or `"@<name>"`),
/// sharing `cache`.
pub(crate) fn log_column_families(
    cache: &Cache,
    suffix: &str,
    write_buffer_bytes: usize,
) -> Vec<ColumnFamilyDescriptor> {
    let table = |bloom: bool, block_size: usize| {
        let mut t = BlockBasedOptions::default();
        t.set_block_cache(cache);
        t.set_block_size(block_size);
        // Index and filter blocks live in (and are bounded by) the cache;
        // L0's are pinned because every lookup touches them.
        t.set_cache_index_and_filter_blocks(true);
        t.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if bloom {
            // Full (not block-based) filters: one probe per SST file.
            t.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        }
        t
    };
    let cf = |name: &str, t: BlockBasedOptions, compression: DBCompressionType| {
        let mut o = Options::default();
        o.set_block_based_table_factory(&t);
        if name == CF_DEDUP {
            // Every new entry's dedup check looks up a key that is absent,
            // first in the memtable: a skip list of random 32-byte keys,
            // where each miss costs a walk of cache misses (the sequencer's
            // top CPU cost in a profile of batched appends). A whole-key
            // bloom filter on the memtable answers most misses at once.
            o.set_memtable_whole_key_filtering(true);
            o.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
        }
        o.set_write_buffer_size(write_buffer_bytes);
        o.set_compression_type(compression);
        o.set_bottommost_compression_type(compression);
        ColumnFamilyDescriptor::new(format!("{name}{suffix}"), o)
    };
    // Entries are the only data that compresses (SHA-256 output does not).
    // LZ4 on the upper levels, where data is rewritten often; zstd on the
    // bottom level, where most of it ends up and stays.
    let mut entries = {
        let mut o = Options::default();
        o.set_block_based_table_factory(&table(false, 16 << 10));
        o.set_write_buffer_size(write_buffer_bytes);
        o.set_compression_type(DBCompressionType::Lz4);
        o.set_bottommost_compression_type(DBCompressionType::Zstd);
        vec![ColumnFamilyDescriptor::new(
            format!("{CF_ENTRIES}{suffix}"),
            o,
        )]
    };
    entries.extend([
        // A 256-hash tile is ~10.5 KiB of keys and values: 16 KiB blocks
        // read one in one or two blocks.
        cf(CF_NODES, table(true, 16 << 10), DBCompressionType::None),
        cf(CF_DEDUP, table(true, 4 << 10), DBCompressionType::None),
        cf(
            CF_CHECKPOINTS,
            table(false, 4 << 10),
            DBCompressionType::None,
        ),
        cf(CF_META, table(false, 4 << 10), DBCompressionType::None),
    ]);
    entries
}
