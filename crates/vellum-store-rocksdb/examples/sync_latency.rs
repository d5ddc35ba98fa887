//! Measures the latency of one synced commit-sized WriteBatch under WAL
//! option variants: the experiment behind the WAL options in
//! `src/options.rs`.
//!
//! ```text
//! cargo run --release -p vellum-store-rocksdb --example sync_latency -- DIR [ENTRIES] [churn]
//! ```
//!
//! Every variant gets its own database under DIR (give a directory on the
//! disk the log will use), and the variants take turns write by write: on a
//! machine whose sync latency drifts (other tenants, other I/O), each one
//! sees the same drift, so the comparison stays fair even when the absolute
//! figures move. Two plain files take part as a reference: one appended to
//! and `fdatasync`ed (the file grows), one overwritten in place (it does
//! not), each write the size of the batch.
//!
//! The batch is what a round of ENTRIES (default 64) entries writes: the
//! entries (256 bytes each), their complete nodes, their dedup records and
//! the tree head. "fresh" is the first WAL of a new database; "steady" is
//! after three WAL rotations, when recycled WAL files (if enabled) are in
//! use.
//!
//! With `churn`, a background thread keeps rewriting 50 files of 200 KB in
//! DIR, as a build or another service on the same file system would: every
//! journal commit then carries their metadata too.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rocksdb::{DBRecoveryMode, Options};
use vellum_store::conformance::Builder;
use vellum_store_rocksdb::StoreOptions;
use vellum_store_rocksdb::baseline::{RawBaseline, synthetic_entries};
use vellum_store_rocksdb::options::{column_families, db_options};

type Error = Box<dyn std::error::Error>;

const ENTRY_SIZE: usize = 256;
const WARMUP_WALS: usize = 3;
/// Entries written per WAL before each rotation (~10 MiB of WAL), and
/// measured in each phase: the same volume whatever the batch size, and
/// less than a WAL, so the steady phase stays inside one recycled file.
const ENTRIES_PER_WAL: usize = 25_600;
const ENTRIES_MEASURED: usize = 19_200;

/// One contestant.
enum Target {
    Db {
        db: RawBaseline,
        builder: Builder,
        next: u64,
    },
    /// A plain file: `grow` appends, otherwise it overwrites from the start.
    File {
        file: File,
        grow: bool,
        buf: Vec<u8>,
    },
}

impl Target {
    fn write(&mut self, entries: usize) -> Result<Duration, Error> {
        match self {
            Target::Db { db, builder, next } => {
                let batch = builder.batch(&synthetic_entries(*next, entries, ENTRY_SIZE));
                *next += entries as u64;
                let t = Instant::now();
                db.write_records(&batch)?;
                Ok(t.elapsed())
            }
            Target::File { file, buf, .. } => {
                let t = Instant::now();
                file.write_all(buf)?;
                file.sync_data()?;
                Ok(t.elapsed())
            }
        }
    }

    /// A WAL rotation for databases; back to the start for the overwritten
    /// file.
    fn rotate(&mut self) -> Result<(), Error> {
        match self {
            Target::Db { db, .. } => db.flush()?,
            Target::File { file, grow, .. } => {
                if !*grow {
                    file.seek(SeekFrom::Start(0))?;
                }
            }
        }
        Ok(())
    }
}

/// The store's database options.
fn vellum() -> Options {
    db_options(true)
}

/// A variant: its name, its database options, and whether writes sync.
type Variant = (&'static str, fn() -> Result<Options, Error>, bool);

fn variants() -> Vec<Variant> {
    vec![
        (
            "DB options: RocksDB defaults",
            || {
                let mut o = Options::default();
                o.create_if_missing(true);
                o.create_missing_column_families(true);
                Ok(o)
            },
            true,
        ),
        (
            "vellum (recycling, atomic flush, PIT)",
            || Ok(vellum()),
            true,
        ),
        (
            "vellum, recycle 0",
            || {
                let mut o = vellum();
                o.set_recycle_log_file_num(0);
                Ok(o)
            },
            true,
        ),
        (
            "vellum, recycle 0 + async_wal_precreate",
            || {
                let mut o = vellum();
                o.set_recycle_log_file_num(0);
                Ok(o.get_options_from_string("async_wal_precreate=true")?)
            },
            true,
        ),
        (
            "vellum + kTolerateCorruptedTailRecords",
            || {
                let mut o = vellum();
                o.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
                Ok(o)
            },
            true,
        ),
        (
            "vellum + manual_wal_flush",
            || {
                let mut o = vellum();
                o.set_manual_wal_flush(true);
                Ok(o)
            },
            true,
        ),
        (
            "vellum + allow_fallocate=false",
            || Ok(vellum().get_options_from_string("allow_fallocate=false")?),
            true,
        ),
        (
            "vellum + use_fsync",
            || {
                let mut o = vellum();
                o.set_use_fsync(true);
                Ok(o)
            },
            true,
        ),
        ("vellum, NO SYNC (CPU part only)", || Ok(vellum()), false),
    ]
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let root = std::path::PathBuf::from(
        args.get(1)
            .ok_or("usage: sync_latency DIR [ENTRIES] [churn]")?,
    );
    let entries: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(64);
    let churn = args.iter().any(|a| a == "churn");
    std::fs::create_dir_all(&root)?;
    let stop = Arc::new(AtomicBool::new(false));
    let churner = churn.then(|| {
        let (dir, stop) = (root.join("churn"), stop.clone());
        std::thread::spawn(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let data = vec![7u8; 200_000];
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::fs::write(dir.join(format!("f{}", i % 50)), &data)?;
                i += 1;
            }
            std::fs::remove_dir_all(&dir)
        })
    });

    let store_opts = StoreOptions::default();
    let mut names = Vec::new();
    let mut targets = Vec::new();
    for (i, (name, make, sync)) in variants().into_iter().enumerate() {
        let dir = root.join(format!("variant-{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        let db = RawBaseline::open_with(&dir, &make()?, column_families(&store_opts))?;
        let db = if sync { db } else { db.without_sync() };
        names.push(name.to_string());
        targets.push(Target::Db {
            db,
            builder: Builder::new(),
            next: 0,
        });
    }
    // Bytes of one batch in the WAL, roughly: keys and values of every record.
    let nodes = (2 * entries).saturating_sub(1);
    let batch_bytes = entries * (8 + ENTRY_SIZE) + nodes * (9 + 32) + entries * (32 + 8) + 49;
    for grow in [true, false] {
        let path = root.join(if grow { "append.bin" } else { "overwrite.bin" });
        let mut file = File::create(&path)?;
        if !grow {
            // Allocated and written once, so that overwrites change no
            // metadata at all.
            file.write_all(&vec![0u8; batch_bytes * (ENTRIES_PER_WAL / entries + 1)])?;
            file.sync_all()?;
            file.seek(SeekFrom::Start(0))?;
        }
        names.push(format!(
            "plain file, {} + fdatasync",
            if grow { "append" } else { "overwrite" }
        ));
        targets.push(Target::File {
            file,
            grow,
            buf: vec![0x5a; batch_bytes],
        });
    }

    let (per_wal, measured) = (ENTRIES_PER_WAL / entries, ENTRIES_MEASURED / entries);
    let mut fresh = vec![Vec::new(); targets.len()];
    let mut steady = vec![Vec::new(); targets.len()];
    for w in 0..WARMUP_WALS {
        for n in 0..per_wal {
            for (t, lat) in targets.iter_mut().zip(&mut fresh) {
                let d = t.write(entries)?;
                if w == 0 && n < measured {
                    lat.push(d);
                }
            }
        }
        for t in &mut targets {
            t.rotate()?;
        }
    }
    for _ in 0..measured {
        for (t, lat) in targets.iter_mut().zip(&mut steady) {
            lat.push(t.write(entries)?);
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(c) = churner {
        c.join().map_err(|_| "churn thread panicked")??;
    }

    println!(
        "{entries} entries x {ENTRY_SIZE} B + nodes + dedup + head (~{} KiB) per synced batch{}; \
         {measured} writes per phase, interleaved; latency in ms (p50 / p99 / mean)",
        batch_bytes / 1024,
        if churn { ", with file churn" } else { "" }
    );
    for (i, name) in names.iter().enumerate() {
        let wals = wal_files(&root.join(format!("variant-{i}")));
        println!(
            "{name:42} fresh {}   steady {}{}",
            fmt(&fresh[i]),
            fmt(&steady[i]),
            wals.map(|n| format!("   WAL files {n}"))
                .unwrap_or_default()
        );
    }
    drop(targets);
    for entry in std::fs::read_dir(&root)? {
        let p = entry?.path();
        if p.is_dir() {
            std::fs::remove_dir_all(p)?;
        } else {
            std::fs::remove_file(p)?;
        }
    }
    Ok(())
}

/// WAL files in a database directory (more than one: recycled files kept).
fn wal_files(dir: &Path) -> Option<usize> {
    let listing = std::fs::read_dir(dir).ok()?;
    Some(
        listing
            .filter_map(Result::ok)
            .filter(|f| f.file_name().to_string_lossy().ends_with(".log"))
            .count(),
    )
}

fn fmt(d: &[Duration]) -> String {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let pct = |p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    format!("{:6.3} / {:6.3} / {:6.3}", pct(50), pct(99), mean)
}
