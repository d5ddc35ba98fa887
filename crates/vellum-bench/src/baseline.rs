//! The floors every figure is put next to, measured in the same run:
//!
//! * raw RocksDB: synced `WriteBatch`es of the same kind of entries, the
//!   same number per batch, into a fresh database with the store's own
//!   options, on the same filesystem as the server's data
//!   (`vellum_store_rocksdb::baseline`): what any log on this disk pays to
//!   make entries durable, without a tree, a dedup index or a network;
//! * bare gRPC: `grpc.health.v1.Health/Check` against the same server over
//!   the same connections with the same number of callers: what a unary
//!   call costs on this machine before the log does anything.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use vellum_store_rocksdb::StoreOptions;
use vellum_store_rocksdb::baseline::RawBaseline;

use crate::entries::EntryGen;
use crate::schedule::Schedule;
use crate::stats::{Latency, Recorder, Window};

/// A baseline's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// Always `baseline`.
    pub kind: &'static str,
    /// `rocksdb_sync_batches` or `grpc_health_check`.
    pub name: &'static str,
    /// Entries per batch (RocksDB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Concurrent callers (gRPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Connections (gRPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Entries (RocksDB) or calls (gRPC) per second.
    pub items_per_sec: f64,
    /// Batches or calls per second.
    pub calls_per_sec: f64,
    /// Latency of one synced batch or one call.
    pub latency: Latency,
    /// Seconds measured.
    pub duration_s: f64,
    /// Failed calls (gRPC).
    pub errors: u64,
}

/// Synced batches of `batch` entries from `entries` into a fresh database
/// under `parent`, after `prime` entries in large batches (not counted),
/// for `warmup` (not counted) and then `duration`.
///
/// The rate is entries over the time spent in the synced writes: making
/// the entries is not RocksDB's cost.
///
/// # Errors
///
/// When RocksDB fails.
pub fn rocksdb(
    parent: &Path,
    options: &StoreOptions,
    entries: &EntryGen,
    batch: usize,
    prime: u64,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Baseline> {
    let tmp = tempfile::Builder::new()
        .prefix("vellum-bench-rocksdb-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a baseline folder in {}", parent.display()))?;
    let mut db =
        RawBaseline::open(tmp.path(), options).context("opening the raw RocksDB baseline")?;
    let mut rec = Recorder::new(Window::after(Duration::ZERO, Duration::from_secs(1 << 30)));
    let mut next = 0u64;
    while next < prime {
        let n = (prime - next).min(4096) as usize;
        db.write_entries(&entries.batch(next, n))
            .context("raw RocksDB baseline write")?;
        next += n as u64;
    }
    let end_warmup = Instant::now() + warmup;
    while Instant::now() < end_warmup {
        db.write_entries(&entries.batch(next, batch))
            .context("raw RocksDB baseline write")?;
        next += batch as u64;
    }
    let start = Instant::now();
    let mut busy = Duration::ZERO;
    while start.elapsed() < duration {
        let b = entries.batch(next, batch);
        let t = Instant::now();
        db.write_entries(&b).context("raw RocksDB baseline write")?;
        let done = Instant::now();
        busy += done - t;
        rec.ok(t, done, batch as u64);
        next += batch as u64;
    }
    // Closing waits for RocksDB's background work, so it cannot disturb
    // what is measured next.
    drop(db);
    let secs = busy.as_secs_f64().max(1e-9);
    Ok(Baseline {
        kind: "baseline",
        name: "rocksdb_sync_batches",
        batch: Some(batch),
        concurrency: None,
        connections: None,
        items_per_sec: rec.ok_items as f64 / secs,
        calls_per_sec: rec.ok_calls as f64 / secs,
        latency: rec.latency(),
        duration_s: secs,
        errors: 0,
    })
}

/// Health checks, closed loop, `callers` at once over `channels`, for
/// `warmup` and then `duration`.
///
/// # Errors
///
/// When a caller task panics.
pub async fn grpc_health(
    channels: &[Channel],
    callers: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Baseline> {
    let window = Window::after(warmup, duration);
    let schedule = Schedule::closed(window.end);
    let mut tasks = Vec::with_capacity(callers);
    for i in 0..callers {
        let mut client = HealthClient::new(channels[i % channels.len()].clone());
        let schedule = schedule.clone();
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder::new(window);
            while schedule.next(&mut rec).await.is_some() {
                let t = Instant::now();
                let r = client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                match r {
                    Ok(_) => rec.ok(t, Instant::now(), 1),
                    Err(s) => rec.error(t, s.code()),
                }
            }
            rec
        }));
    }
    let mut all = Recorder::new(window);
    for t in tasks {
        all.merge(t.await.context("a health-check caller failed")?);
    }
    let secs = window.len().as_secs_f64();
    Ok(Baseline {
        kind: "baseline",
        name: "grpc_health_check",
        batch: None,
        concurrency: Some(callers),
        connections: Some(channels.len()),
        items_per_sec: all.ok_items as f64 / secs,
        calls_per_sec: all.ok_calls as f64 / secs,
        latency: all.latency(),
        duration_s: secs,
        errors: all.errors.values().sum(),
    })
}
