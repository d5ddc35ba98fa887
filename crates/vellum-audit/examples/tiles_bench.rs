//! Benchmarks of the tlog-tiles read path (a program, not timed tests).
//!
//! ```text
//! # A log of N entries (built once with batched appends, reused after),
//! # served over HTTP until Ctrl-C; then load it with wrk:
//! cargo run --release -p vellum-audit --example tiles_bench -- serve --data /tmp/tb --entries 1000000
//! wrk -t1 -c64 -d15s -s crates/vellum-audit/examples/tiles.lua http://127.0.0.1:7080
//!
//! # Loopback bandwidth (one TCP stream, 64 KiB writes):
//! cargo run --release -p vellum-audit --example tiles_bench -- loopback
//!
//! # `vellum audit` of a large log, against raw SHA-256 of the same bytes:
//! cargo run --release -p vellum-audit --example tiles_bench -- audit --data /tmp/tb10m --entries 10000000
//! ```
//!
//! (Build with `--workspace`: see the repository's build notes.)

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vellum_log::{Log, Wait};
use vellum_note::Policy;
use vellum_server::http::HttpConfig;
use vellum_server::{Running, ServeOptions};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve a log of --entries entries over HTTP until Ctrl-C.
    Serve {
        #[command(flatten)]
        log: LogArgs,
        /// HTTP listen address.
        #[arg(long, default_value = "127.0.0.1:7080")]
        http: SocketAddr,
        /// Tile cache in MiB (0: none).
        #[arg(long, default_value_t = 64)]
        cache_mib: usize,
        /// Read the store on the request's task instead of spawn_blocking.
        #[arg(long)]
        inline: bool,
        /// Gzip entry bundles for clients that accept it.
        #[arg(long)]
        gzip: bool,
        /// Write the paths of every full tile and bundle to this file (for wrk).
        #[arg(long)]
        paths: Option<PathBuf>,
    },
    /// Loopback TCP bandwidth with one stream.
    Loopback {
        /// GiB to send.
        #[arg(long, default_value_t = 8)]
        gib: u64,
    },
    /// Audit a log of --entries entries over HTTP, and hash the same bytes.
    Audit {
        #[command(flatten)]
        log: LogArgs,
        /// Bundles fetched at once.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
        /// Gzip entry bundles.
        #[arg(long)]
        gzip: bool,
        /// Also export the log and audit the export served by python3 -m http.server.
        #[arg(long)]
        export: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct LogArgs {
    /// The data folder (reused if it holds a log of this size already).
    #[arg(long)]
    data: PathBuf,
    /// Entries in the log.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Bytes per entry.
    #[arg(long, default_value_t = 100)]
    entry_size: usize,
}

/// A synthetic audit record of `size` bytes, unique per index (the log
/// deduplicates).
fn entry(i: u64, size: usize) -> Vec<u8> {
    let mut e = format!(
        "{{\"seq\":{i},\"actor\":\"user-{}\",\"action\":\"read\",\"resource\":\"doc-{}\",\"outcome\":\"ok\"}}",
        i % 1000,
        i.wrapping_mul(2_654_435_761) % 99_991
    )
    .into_bytes();
    e.resize(size.max(e.len()), b' ');
    e
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn start(data: &Path, http: SocketAddr, config: HttpConfig) -> Running {
    let mut opts = ServeOptions::embedded();
    opts.data = data.to_path_buf();
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.http = Some(http);
    opts.http_config = config;
    opts.origin = Some("bench.example/tiles".into());
    opts.tuning.max_entries_per_call = Some(4096);
    opts.tuning.pool_max_entries = Some(16 * 1024);
    opts.tuning.queue_max_entries = Some(256 * 1024);
    opts.tuning.queue_max_bytes = Some(1 << 30);
    vellum_server::start(opts).await.unwrap()
}

/// Appends until the log holds `args.entries` entries: calls of 4,096
/// entries, 16 in flight, then one checkpoint covering them all.
async fn fill(log: &Log, args: &LogArgs) {
    let have = log.committed().size.get();
    if have >= args.entries {
        return;
    }
    eprintln!(
        "appending entries {have}..{} ({} B each)",
        args.entries, args.entry_size
    );
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(have));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (log, next, total, size) = (log.clone(), next.clone(), args.entries, args.entry_size);
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(4096, std::sync::atomic::Ordering::Relaxed);
                if from >= total {
                    return;
                }
                let to = (from + 4096).min(total);
                let batch: Vec<Bytes> = (from..to).map(|i| Bytes::from(entry(i, size))).collect();
                loop {
                    match log.append(batch.clone(), Wait::Durable).await {
                        Ok(_) => break,
                        Err(vellum_log::LogError::QueueFull { .. }) => {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                        Err(e) => panic!("append: {e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    log.append(
        vec![Bytes::from(entry(u64::MAX, args.entry_size))],
        Wait::Checkpoint,
    )
    .await
    .unwrap();
    let n = args.entries - have;
    eprintln!(
        "appended {n} entries in {:.1} s ({:.0} entries/s; entries are not in index order: 16 \
         callers race, which does not matter for reading)",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            log,
            http,
            cache_mib,
            inline,
            gzip,
            paths,
        } => {
            let config = HttpConfig {
                cache_bytes: cache_mib << 20,
                gzip_bundles: gzip,
                blocking_reads: !inline,
            };
            let running = start(&log.data, http, config).await;
            fill(&running.log, &log).await;
            let size = running.log.published().unwrap().size.get();
            if let Some(p) = paths {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
                for i in 0..size / 256 {
                    let t = vellum_merkle::tiles::Tile::new(
                        vellum_merkle::tiles::TileKind::Hashes(0),
                        i,
                        256,
                    )
                    .unwrap();
                    writeln!(f, "/{}", t.path()).unwrap();
                }
                f.flush().unwrap();
                eprintln!("wrote {} level-0 tile paths to {}", size / 256, p.display());
            }
            eprintln!(
                "serving {size} entries on http://{} (cache {cache_mib} MiB, {} reads, gzip {gzip}); \
                 load average {}; Ctrl-C to stop",
                running.http_addr.unwrap(),
                if inline { "inline" } else { "spawn_blocking" },
                load_avg()
            );
            let _ = tokio::signal::ctrl_c().await;
            running.stop().await.unwrap();
        }
        Cmd::Loopback { gib } => loopback(gib).await,
        Cmd::Audit {
            log,
            parallel,
            gzip,
            export,
        } => audit(log, parallel, gzip, export).await,
    }
}

async fn loopback(gib: u64) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let total = gib << 30;
    let sender = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let buf = vec![7u8; 64 << 10];
        let mut sent = 0;
        while sent < total {
            s.write_all(&buf).await.unwrap();
            sent += buf.len() as u64;
        }
    });
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 256 << 10];
    let t = Instant::now();
    let mut got = 0u64;
    while got < total {
        let n = c.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    sender.await.unwrap();
    println!(
        "loopback: {:.2} GiB/s ({:.0} MB/s) over one TCP stream, {gib} GiB in {secs:.2} s; load average {}",
        got as f64 / secs / (1u64 << 30) as f64,
        got as f64 / secs / 1e6,
        load_avg()
    );
}

async fn audit(args: LogArgs, parallel: usize, gzip: bool, export: Option<PathBuf>) {
    let config = HttpConfig {
        gzip_bundles: gzip,
        ..HttpConfig::default()
    };
    let running = start(&args.data, "127.0.0.1:0".parse().unwrap(), config).await;
    fill(&running.log, &args).await;
    let cp = running.log.published().unwrap();
    let size = cp.size.get();
    let url = format!("http://{}/", running.http_addr.unwrap());
    println!(
        "log: {size} entries of {} B; load average {}",
        args.entry_size,
        load_avg()
    );

    let mut opts =
        vellum_audit::AuditOptions::new(&url, Policy::quorum_none(running.vkey.clone()).unwrap());
    opts.parallel = parallel;
    let r = vellum_audit::audit(&opts).await.unwrap();
    let audit_secs = r.elapsed.as_secs_f64();
    println!(
        "audit over HTTP: {} entries, {} bundles, {} hash tiles, {:.1} MB in {audit_secs:.2} s: \
         {:.0} entries/s, {:.0} requests/s, {:.0} MB/s (parallel {parallel}, gzip {gzip}); load average {}",
        r.entries,
        r.bundles,
        r.hash_tiles,
        r.bytes as f64 / 1e6,
        r.entries as f64 / audit_secs,
        r.requests as f64 / audit_secs,
        r.bytes as f64 / 1e6 / audit_secs,
        load_avg()
    );
    assert_eq!(r.root, cp.root);

    // The same bytes, hashed raw in this process: the leaf hashes alone
    // (one SHA-256 per entry, the least any audit must do), and one
    // SHA-256 over the concatenated entries (the hash function's speed).
    let store = running.log.store().clone();
    let entries: Vec<Bytes> = tokio::task::spawn_blocking(move || {
        let mut all = Vec::with_capacity(size as usize);
        let mut i = 0;
        while i < size {
            let n = (size - i).min(65_536);
            all.extend(
                store
                    .read_entries(vellum_merkle::LeafIndex::new(i).unwrap(), n)
                    .unwrap(),
            );
            i += n;
        }
        all
    })
    .await
    .unwrap();
    let bytes: u64 = entries.iter().map(|e| e.len() as u64).sum();
    let t = Instant::now();
    let mut acc = 0u8;
    for e in &entries {
        acc ^= vellum_merkle::leaf_hash(e).0[0];
    }
    let leaf_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut h = Sha256::new();
    for e in &entries {
        h.update(e);
    }
    let digest = h.finalize();
    let stream_secs = t.elapsed().as_secs_f64();
    std::hint::black_box((acc, digest));
    println!(
        "raw SHA-256 of the same {:.1} MB: one leaf hash per entry {:.0} entries/s ({leaf_secs:.2} s); \
         one stream {:.0} MB/s ({stream_secs:.2} s)",
        bytes as f64 / 1e6,
        size as f64 / leaf_secs,
        bytes as f64 / 1e6 / stream_secs
    );
    println!(
        "audit / raw: {:.2} of per-entry leaf hashing, {:.2} of streaming SHA-256 (by time for the same entries)",
        leaf_secs / audit_secs,
        stream_secs / audit_secs
    );
    drop(entries);

    if let Some(out) = export {
        let store = running.log.store().clone();
        let note = cp.note.clone();
        let o = out.clone();
        let t = Instant::now();
        let report = tokio::task::spawn_blocking(move || {
            vellum_server::export::export(&*store, &note, &o, false)
        })
        .await
        .unwrap()
        .unwrap();
        println!(
            "export: {} files, {:.1} MB in {:.2} s (previous size {:?})",
            report.written,
            report.bytes as f64 / 1e6,
            t.elapsed().as_secs_f64(),
            report.previous
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(&out)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        opts.url = format!("http://127.0.0.1:{port}/");
        let r = vellum_audit::audit(&opts).await.unwrap();
        println!(
            "audit of the export via python3 -m http.server: {} entries in {:.2} s ({:.0} entries/s)",
            r.entries,
            r.elapsed.as_secs_f64(),
            r.entries as f64 / r.elapsed.as_secs_f64()
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    running.stop().await.unwrap();
}
