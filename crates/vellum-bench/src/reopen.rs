//! `restart` and `size`: what an operator of a large log cares about once
//! it is filled: how long a restart takes before the log serves again (key,
//! signer journal, RocksDB open with WAL replay, start-up checks, the first
//! answer over a new connection), and how many bytes each entry costs on
//! disk beyond its own.
//!
//! The page cache stays warm (dropping it would disturb the other work on
//! a shared machine): restart times are for a process restart, not a cold
//! boot.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, ensure};
use serde::Serialize;
use vellum_proto::v1 as pb;
use vellum_server::ServeOptions;
use vellum_store_rocksdb::{RocksStore, StoreOptions};

use crate::cli::{RestartArgs, SizeArgs};
use crate::fill::note_size;
use crate::report::{Output, thousands};
use crate::target::{connect, log_client, runtime};

/// One timed restart.
#[derive(Clone, Debug, Serialize)]
pub struct RestartSample {
    /// Until `vellum_server::start` returned: key, signer journal, RocksDB
    /// open (with WAL replay), start-up checks, listener bound.
    pub start_ms: f64,
    /// Until the first `GetCheckpoint` answer over a new connection.
    pub first_answer_ms: f64,
    /// The size of that checkpoint.
    pub size: u64,
}

/// Starts the server on `opts` (an existing log), asks for its checkpoint,
/// stops it; `rt` runs the server.
///
/// # Errors
///
/// When it does not start or answer.
pub fn restart_once(
    rt: &tokio::runtime::Runtime,
    opts: &ServeOptions,
) -> anyhow::Result<RestartSample> {
    let t0 = Instant::now();
    let running = rt
        .block_on(vellum_server::start(opts.clone()))
        .context("restart")?;
    let start_ms = t0.elapsed().as_secs_f64() * 1e3;
    let url = format!("http://{}", running.grpc_addr);
    let vkey = running.vkey.clone();
    let size = rt.block_on(async {
        let chs = connect(&url, 1).await?;
        let r = log_client(&chs[0])
            .get_checkpoint(pb::GetCheckpointRequest::default())
            .await
            .context("first GetCheckpoint after restart")?;
        note_size(&r.get_ref().checkpoint, Some(&vkey))
    })?;
    let first_answer_ms = t0.elapsed().as_secs_f64() * 1e3;
    rt.block_on(running.stop())
        .context("stopping after restart")?;
    Ok(RestartSample {
        start_ms,
        first_answer_ms,
        size,
    })
}

/// A series of restarts.
#[derive(Clone, Debug, Serialize)]
pub struct Restarts {
    /// Always `restart`.
    pub kind: &'static str,
    /// When: `after_fill` (the first replays the WAL of the fill),
    /// `after_compaction`, or `existing`.
    pub phase: &'static str,
    /// Entries in the log.
    pub entries: u64,
    /// Each restart.
    pub samples: Vec<RestartSample>,
    /// Median time to the first answer.
    pub median_first_answer_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `n` restarts of the log in `opts.data`.
///
/// # Errors
///
/// When one fails.
pub fn restarts(
    rt: &tokio::runtime::Runtime,
    opts: &ServeOptions,
    n: usize,
    phase: &'static str,
) -> anyhow::Result<Restarts> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let s = restart_once(rt, opts)?;
        eprintln!(
            "vellum-bench: restart {} ({phase}): serving after {:.1} ms, first answer {:.1} ms, size {}",
            i + 1,
            s.start_ms,
            s.first_answer_ms,
            thousands(s.size as f64)
        );
        samples.push(s);
    }
    Ok(Restarts {
        kind: "restart",
        phase,
        entries: samples.first().map(|s| s.size).unwrap_or(0),
        median_first_answer_ms: median(samples.iter().map(|s| s.first_answer_ms).collect()),
        samples,
    })
}

/// Bytes of one column family.
#[derive(Clone, Debug, Serialize)]
pub struct CfSize {
    /// Its name.
    pub name: &'static str,
    /// Live SST bytes.
    pub sst_bytes: u64,
    /// RocksDB's key estimate.
    pub estimated_keys: u64,
    /// SST bytes per log entry.
    pub bytes_per_entry: f64,
}

/// Bytes on disk of a log.
#[derive(Clone, Debug, Serialize)]
pub struct Size {
    /// Always `size`.
    pub kind: &'static str,
    /// Entries in the log.
    pub entries: u64,
    /// Bytes per entry (as filled).
    pub entry_size: usize,
    /// `entries * entry_size`.
    pub entry_bytes: u64,
    /// Whether a full compaction ran first (else a flush only).
    pub compacted: bool,
    /// Live SST bytes of every column family.
    pub sst_bytes: u64,
    /// Every file of the RocksDB folder (SST, WAL, MANIFEST, info logs).
    pub store_dir_bytes: u64,
    /// Blocks allocated by the whole data folder (store, signer journal,
    /// keys), as `du` counts them.
    pub data_folder_allocated_bytes: u64,
    /// `(store_dir_bytes - entry_bytes) / entries`: what each entry costs
    /// beyond its own bytes.
    pub beyond_entry_bytes_per_entry: f64,
    /// The same from SST bytes only (no WAL, no logs).
    pub sst_beyond_entry_bytes_per_entry: f64,
    /// SST bytes of everything but `entries` (tree nodes, dedup index,
    /// checkpoints, meta) per entry: independent of how entries compress.
    pub tree_and_index_bytes_per_entry: f64,
    /// Per column family.
    pub column_families: Vec<CfSize>,
    /// Seconds the flush (and compaction) took.
    pub compaction_seconds: f64,
}

/// Allocated bytes of every file under `dir`.
fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            total += allocated(&e.path());
        } else {
            total += m.blocks() * 512;
        }
    }
    total
}

/// Opens the store of the stopped log in `data`, flushes (and compacts),
/// and measures it.
///
/// # Errors
///
/// When the store cannot be opened or measured.
pub fn size(
    data: &Path,
    options: &StoreOptions,
    entry_size: usize,
    compact: bool,
) -> anyhow::Result<Size> {
    use vellum_store::LogStore;
    let mut opts = options.clone();
    opts.create_if_missing = false;
    let dir = data.join("log");
    let store =
        RocksStore::open(&dir, &opts).with_context(|| format!("opening {}", dir.display()))?;
    let entries = store
        .tree_head()
        .context("reading the tree head")?
        .size
        .get();
    let t = Instant::now();
    store.flush().context("flush")?;
    if compact {
        store.compact().context("compact")?;
    }
    let compaction_seconds = t.elapsed().as_secs_f64();
    let u = store.disk_usage().context("disk usage")?;
    drop(store);
    let n = entries.max(1) as f64;
    let entry_bytes = entries * entry_size as u64;
    let sst_bytes: u64 = u.column_families.iter().map(|c| c.sst_bytes).sum();
    let tree: u64 = u
        .column_families
        .iter()
        .filter(|c| c.name != "entries")
        .map(|c| c.sst_bytes)
        .sum();
    Ok(Size {
        kind: "size",
        entries,
        entry_size,
        entry_bytes,
        compacted: compact,
        sst_bytes,
        store_dir_bytes: u.dir_bytes,
        data_folder_allocated_bytes: allocated(data),
        beyond_entry_bytes_per_entry: (u.dir_bytes as f64 - entry_bytes as f64) / n,
        sst_beyond_entry_bytes_per_entry: (sst_bytes as f64 - entry_bytes as f64) / n,
        tree_and_index_bytes_per_entry: tree as f64 / n,
        column_families: u
            .column_families
            .iter()
            .map(|c| CfSize {
                name: c.name,
                sst_bytes: c.sst_bytes,
                estimated_keys: c.estimated_keys,
                bytes_per_entry: c.sst_bytes as f64 / n,
            })
            .collect(),
        compaction_seconds,
    })
}

pub fn size_lines(s: &Size) -> Vec<String> {
    let mut l = vec![
        format!(
            "{} entries of {} B = {} entry bytes; {} ({:.1} s)",
            thousands(s.entries as f64),
            s.entry_size,
            thousands(s.entry_bytes as f64),
            if s.compacted {
                "flushed and compacted"
            } else {
                "flushed"
            },
            s.compaction_seconds
        ),
        format!(
            "store folder {} B, SST {} B, whole data folder {} B allocated",
            thousands(s.store_dir_bytes as f64),
            thousands(s.sst_bytes as f64),
            thousands(s.data_folder_allocated_bytes as f64)
        ),
        format!(
            "beyond the entry bytes: {:.1} B/entry (store folder), {:.1} B/entry (SST only); tree + dedup + checkpoints: {:.1} B/entry",
            s.beyond_entry_bytes_per_entry,
            s.sst_beyond_entry_bytes_per_entry,
            s.tree_and_index_bytes_per_entry
        ),
    ];
    for c in &s.column_families {
        l.push(format!(
            "  {:<12} {:>16} B  {:>8.1} B/entry  ~{} keys",
            c.name,
            thousands(c.sst_bytes as f64),
            c.bytes_per_entry,
            thousands(c.estimated_keys as f64)
        ));
    }
    l
}

pub fn restart_lines(r: &Restarts) -> Vec<String> {
    r.samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "#{}: serving after {:.1} ms, first answer after {:.1} ms (size {})",
                i + 1,
                s.start_ms,
                s.first_answer_ms,
                thousands(s.size as f64)
            )
        })
        .chain([format!(
            "median to first answer: {:.1} ms",
            r.median_first_answer_ms
        )])
        .collect()
}

/// Runs `restart` on an existing folder.
///
/// # Errors
///
/// When the log cannot be reopened.
pub fn run_restart(args: RestartArgs, out: &mut Output) -> anyhow::Result<bool> {
    ensure!(
        args.data.join("log").is_dir(),
        "{} holds no log (no log/ folder)",
        args.data.display()
    );
    let mut opts = ServeOptions::embedded();
    opts.data = args.data.clone();
    opts.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    opts.store.create_if_missing = false;
    let rt = runtime("bench-server", args.server_threads)?;
    let r = restarts(&rt, &opts, args.restarts.max(1), "existing")?;
    out.result(&r);
    out.section(
        &format!("restart of {}", args.data.display()),
        restart_lines(&r),
    );
    Ok(true)
}

/// Runs `size` on an existing folder.
///
/// # Errors
///
/// When the store cannot be opened.
pub fn run_size(args: SizeArgs, out: &mut Output) -> anyhow::Result<bool> {
    let s = size(
        &args.data,
        &StoreOptions::default(),
        args.entry_size,
        !args.no_compact,
    )?;
    out.result(&s);
    out.section(&format!("size of {}", args.data.display()), size_lines(&s));
    Ok(true)
}
