//! The store against raw RocksDB, in one run on one disk.
//!
//! * `commit/*`: one round of 1,000 entries of 256 bytes. `store` is
//!   `RocksStore::commit` (validation, compare-and-swap, dedup lookup,
//!   entries + nodes + dedup + head, one synced write); `raw_records` writes
//!   the same records in one synced batch without any check; `raw_entries`
//!   writes only the entry bytes (the floor for any durable log). All three
//!   use the store's RocksDB options.
//! * `read/*`: the node hashes of an inclusion proof (`read_nodes`), a
//!   256-hash tile (`read_node_range`), 256 entries, and the dedup lookup of
//!   1,000 absent leaf hashes (what every commit does).
//!
//! `cargo bench -p vellum-store-rocksdb -- --test` runs each once, on a
//! small tree, as CI does.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash, proof};
use vellum_store::LogStore;
use vellum_store::conformance::Builder;
use vellum_store_rocksdb::baseline::{RawBaseline, synthetic_entries};
use vellum_store_rocksdb::{RocksStore, StoreOptions};

const BATCH: usize = 1_000;
const ENTRY_SIZE: usize = 256;

fn quick() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn commit(c: &mut Criterion) {
    let opts = StoreOptions::default();
    let mut g = c.benchmark_group("commit");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(15));

    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(dir.path(), &opts).expect("open");
    let mut builder = Builder::new();
    let mut next = 0u64;
    g.bench_function("store", |b| {
        b.iter_batched(
            || {
                let e = synthetic_entries(next, BATCH, ENTRY_SIZE);
                next += BATCH as u64;
                builder.batch(&e)
            },
            |batch| store.commit(&batch).expect("commit"),
            BatchSize::PerIteration,
        )
    });
    drop(store);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut raw = RawBaseline::open(dir.path(), &opts).expect("open raw");
    let mut builder = Builder::new();
    let mut next = 0u64;
    g.bench_function("raw_records", |b| {
        b.iter_batched(
            || {
                let e = synthetic_entries(next, BATCH, ENTRY_SIZE);
                next += BATCH as u64;
                builder.batch(&e)
            },
            |batch| raw.write_records(&batch).expect("write"),
            BatchSize::PerIteration,
        )
    });
    drop(raw);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut raw = RawBaseline::open(dir.path(), &opts).expect("open raw");
    let mut next = 0u64;
    g.bench_function("raw_entries", |b| {
        b.iter_batched(
            || {
                let e = synthetic_entries(next, BATCH, ENTRY_SIZE);
                next += BATCH as u64;
                e
            },
            |e| raw.write_entries(&e).expect("write"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let leaves: u64 = if quick() { 4_096 } else { 1 << 20 };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(dir.path(), &StoreOptions::default()).expect("open");
    let mut builder = Builder::new();
    for first in (0..leaves).step_by(8_192) {
        let n = 8_192.min(leaves - first) as usize;
        let e = synthetic_entries(first, n, ENTRY_SIZE);
        store.commit(&builder.batch(&e)).expect("commit");
    }
    // Reads from SST files and the block cache, as in a long-running log,
    // not from the memtable.
    store.flush().expect("flush");
    let size = TreeSize::new(leaves).expect("size");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };

    let mut g = c.benchmark_group("read");
    g.bench_function("read_nodes_inclusion_proof", |b| {
        b.iter_batched(
            || {
                let i = LeafIndex::new(rand(leaves)).expect("index");
                proof::plan_inclusion(i, size).expect("plan")
            },
            |plan| black_box(store.read_nodes(plan.nodes()).expect("read")),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("read_node_range_tile_256", |b| {
        b.iter(|| {
            let t = rand(leaves / 256);
            black_box(store.read_node_range(0, t * 256, 256).expect("tile"))
        })
    });
    g.bench_function("read_entries_256", |b| {
        b.iter(|| {
            let t = rand(leaves / 256);
            let start = LeafIndex::new(t * 256).expect("index");
            black_box(store.read_entries(start, 256).expect("entries"))
        })
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut salt = 0u64;
    g.bench_function("find_leaves_1000_absent", |b| {
        b.iter_batched(
            || {
                salt += 1;
                (0..BATCH as u64)
                    .map(|i| leaf_hash(&[salt.to_be_bytes(), i.to_be_bytes()].concat()))
                    .collect::<Vec<Hash>>()
            },
            |h| black_box(store.find_leaves(&h).expect("find")),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, commit, reads);
criterion_main!(benches);
