//! The server under test: an embedded one (in-process, its own runtime, a
//! fresh data folder, `127.0.0.1:0`) or a running `vellum serve`.
//!
//! The embedded server runs on its own tokio runtime, as `vellum serve`
//! would, so that the load generator's tasks do not run on the server's
//! workers; both share the machine's CPUs, which every report states.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tonic::transport::{Channel, Endpoint};
use vellum_log::Log;
use vellum_note::VerifierKey;
use vellum_proto::v1::log_client::LogClient;
use vellum_server::{Layered, Running, ServeConfig, ServeOptions};

use crate::cli::ServerArgs;

/// Largest message the load generator sends or accepts.
const MAX_MESSAGE: usize = 64 << 20;

/// A tokio runtime whose threads are named `name` (so CPU use can be told
/// apart per runtime).
///
/// # Errors
///
/// When the runtime cannot start.
pub fn runtime(name: &str, threads: Option<usize>) -> anyhow::Result<Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name(name);
    if let Some(n) = threads {
        b.worker_threads(n.max(1));
    }
    b.build()
        .with_context(|| format!("cannot start the {name} runtime"))
}

/// The server's options for an embedded run in `data`: the `--config`
/// file (defaults without one), the tuning flags over it, then the bench's
/// own folder and a free loopback port.
///
/// # Errors
///
/// The file cannot be read or holds a bad key or value (named with its
/// line), or a file it names cannot be used.
pub fn serve_options(args: &ServerArgs, data: &Path) -> anyhow::Result<ServeOptions> {
    let mut c = match &args.config {
        // The file alone: the bench's environment is not a server's.
        Some(file) => ServeConfig::load(Some(file), |_| None)?,
        None => ServeConfig::default(),
    };
    args.overlay(&mut c);
    c.data = data.to_path_buf();
    c.listen.grpc = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut o = c
        .to_options()
        .context("the embedded server's configuration (--config)")?;
    o.limits.max_message_bytes = o.limits.max_message_bytes.max(MAX_MESSAGE);
    Ok(o)
}

/// An embedded server.
#[derive(Debug)]
pub struct Embedded {
    /// The server's runtime.
    pub rt: Runtime,
    /// The server, until stopped.
    pub running: Option<Running>,
    /// How it was started (to start it again).
    pub opts: ServeOptions,
    _tmp: Option<TempDir>,
}

/// The server under test.
#[derive(Debug)]
pub struct Target {
    /// Its gRPC URL.
    pub url: String,
    /// The log's verifier key, when known.
    pub vkey: Option<VerifierKey>,
    /// The embedded server, if this run started one.
    pub embedded: Option<Embedded>,
}

impl Target {
    /// Starts an embedded server, or names the running one.
    ///
    /// # Errors
    ///
    /// When the server cannot start or the flags do not fit together.
    pub fn new(args: &ServerArgs) -> anyhow::Result<Target> {
        let vkey = args
            .vkey
            .as_deref()
            .map(|v| VerifierKey::parse(v.trim()).context("--vkey"))
            .transpose()?;
        if let Some(url) = &args.server {
            if args.data.is_some() {
                bail!("--data is for the embedded server; with --server the data is the server's");
            }
            if args.config.is_some() {
                bail!(
                    "--config is for the embedded server; with --server the configuration is the server's"
                );
            }
            return Ok(Target {
                url: url.clone(),
                vkey,
                embedded: None,
            });
        }
        let (data, tmp) = match &args.data {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("vellum-bench-")
                    .tempdir()
                    .context("cannot create a temp data folder")?;
                (t.path().join("data"), Some(t))
            }
        };
        let opts = serve_options(args, &data)?;
        let rt = runtime("bench-server", args.server_threads)?;
        let running = rt
            .block_on(vellum_server::start(opts.clone()))
            .context("the embedded server did not start")?;
        Ok(Target {
            url: format!("http://{}", running.grpc_addr),
            vkey: Some(running.vkey.clone()),
            embedded: Some(Embedded {
                rt,
                running: Some(running),
                opts,
                _tmp: tmp,
            }),
        })
    }

    /// The embedded log, while running.
    pub fn log(&self) -> Option<&Log> {
        self.embedded
            .as_ref()
            .and_then(|e| e.running.as_ref())
            .map(|r| &r.log)
    }

    /// The embedded server's data folder.
    pub fn data(&self) -> Option<&Path> {
        self.embedded.as_ref().map(|e| e.opts.data.as_path())
    }

    /// A folder on the same filesystem as the server's data, for the raw
    /// RocksDB baseline.
    pub fn scratch_parent(&self) -> PathBuf {
        self.data()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir)
    }

    /// The embedded server's counters now.
    pub fn stats(&self) -> Option<ServerStats> {
        self.log().map(ServerStats::of)
    }

    /// Stops the embedded server (sequencing and signing what was queued).
    ///
    /// # Errors
    ///
    /// When the server stopped badly.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(e) = &mut self.embedded
            && let Some(r) = e.running.take()
        {
            e.rt.block_on(r.stop())
                .context("stopping the embedded server")?;
        }
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The embedded log's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerStats {
    rounds: u64,
    round_entries: u64,
    round_nanos: u64,
    pushbacks: u64,
    duplicates: u64,
}

impl ServerStats {
    /// The counters of `log` now.
    pub fn of(log: &Log) -> ServerStats {
        let s = log.stats();
        ServerStats {
            rounds: s.rounds.load(Ordering::Relaxed),
            round_entries: s.round_entries.load(Ordering::Relaxed),
            round_nanos: s.round_nanos.load(Ordering::Relaxed),
            pushbacks: s.pushbacks.load(Ordering::Relaxed),
            duplicates: s.duplicates.load(Ordering::Relaxed),
        }
    }

    /// What happened between `earlier` and these counters, over `secs`.
    pub fn since(&self, earlier: &ServerStats, secs: f64) -> RoundStats {
        let rounds = self.rounds - earlier.rounds;
        let entries = self.round_entries - earlier.round_entries;
        let nanos = self.round_nanos - earlier.round_nanos;
        let per = |x: f64| if rounds == 0 { 0.0 } else { x / rounds as f64 };
        RoundStats {
            rounds,
            rounds_per_sec: rounds as f64 / secs.max(1e-9),
            entries_per_round: per(entries as f64),
            round_ms: per(nanos as f64 / 1e6),
            round_busy: nanos as f64 / 1e9 / secs.max(1e-9),
            pushbacks: self.pushbacks - earlier.pushbacks,
            duplicates: self.duplicates - earlier.duplicates,
        }
    }
}

/// The sequencer's rounds during the measured window (embedded only).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoundStats {
    /// Rounds committed.
    pub rounds: u64,
    /// Rounds per second.
    pub rounds_per_sec: f64,
    /// Mean entries per round.
    pub entries_per_round: f64,
    /// Mean time of a round (dedup lookup, integration, synced commit), ms.
    pub round_ms: f64,
    /// Fraction of the window the sequencer spent in rounds.
    pub round_busy: f64,
    /// Appends refused for a full queue.
    pub pushbacks: u64,
    /// Entries the log found already stored (should be 0: entries are unique).
    pub duplicates: u64,
}

/// Opens `n` connections to `url` (each a channel of its own).
///
/// # Errors
///
/// When a connection fails.
pub async fn connect(url: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let ep = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("bad server URL {url:?}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        out.push(
            ep.connect()
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
        );
    }
    Ok(out)
}

/// A log client on `ch` with large message limits.
pub fn log_client(ch: &Channel) -> LogClient<Channel> {
    LogClient::new(ch.clone())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}
