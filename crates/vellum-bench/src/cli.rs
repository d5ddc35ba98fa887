//! The command line: subcommands, their flags, and the parsers for
//! durations (`10s`, `500us`) and counts (`10k`, `1M`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::entries::Payload;

/// What every run prints about itself on `--help`.
const ABOUT: &str = "\
Vellum's load generator. Every run has a fixed duration and exits; every
figure is printed next to a baseline measured in the same run on the same
machine (raw RocksDB synced batches, bare gRPC health checks), with the
ratio between them. By default an embedded server is started in-process
(fresh temp folder, 127.0.0.1:0); --server targets a running `vellum serve`.

Latency is measured from the *scheduled* send time when --rate is given (open
loop: a slow answer cannot delay the next request and hide its own cost), and
from the actual send time in closed loop (--rate 0).";

/// `vellum-bench`.
#[derive(Debug, Parser)]
#[command(name = "vellum-bench", version, about = "Vellum's load generator", long_about = ABOUT)]
pub struct Cli {
    /// One JSON object per result on stdout (the human table goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// The measurement.
    #[command(subcommand)]
    pub command: Command,
}

/// The measurements.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append throughput and latency (unary, batched or streamed calls).
    Append(AppendArgs),
    /// Inclusion proofs served per second, on a log filled first.
    Proofs(ProofsArgs),
    /// Fill a log to N entries, then measure restart time and bytes on disk.
    Fill(FillArgs),
    /// Time to reopen an existing data folder and serve its first answer.
    Restart(RestartArgs),
    /// Bytes on disk of an existing data folder, after a flush and compaction.
    Size(SizeArgs),
    /// Offered load at a multiple of the measured capacity: shed rate,
    /// latency of accepted appends, time to a refusal, peak RSS, recovery.
    Overload(OverloadArgs),
    /// Recorded audit events/s against raw appends of the same bytes, and
    /// many events logs in one process against one.
    Events(EventsArgs),
    /// The anomaly detectors on a seeded synthetic workload with injected
    /// anomalies (simulated time, no server): precision, recall and
    /// detection delay per detector, and a clean run that must not alert.
    Anomalies(AnomaliesArgs),
}

/// `vellum-bench anomalies`.
#[derive(Clone, Debug, clap::Args)]
pub struct AnomaliesArgs {
    /// The seed of every random choice of the workload.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Actors (at least 200).
    #[arg(long, value_name = "N", default_value = "10k", value_parser = count_usize)]
    pub actors: usize,

    /// Simulated length of each run (at least 25m).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = duration)]
    pub duration: Duration,

    /// Mean recorded events per simulated second (before the daily rhythm).
    #[arg(long, value_name = "R", default_value = "200", value_parser = count_u64)]
    pub rate: u64,

    /// Injected anomalies per detector, at most (fewer where the run is too
    /// short to space them by the detector's cooldown).
    #[arg(long, value_name = "N", default_value = "20", value_parser = count_usize)]
    pub injections: usize,
}

/// `vellum-bench events`.
#[derive(Clone, Debug, clap::Args)]
pub struct EventsArgs {
    /// Measured time of each window.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    pub duration: Duration,

    /// Unmeasured time before each window.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    pub warmup: Duration,

    /// Concurrent callers (closed loop, one event or entry per call).
    #[arg(long, value_name = "N", default_value = "100", value_parser = count_usize)]
    pub callers: usize,

    /// Events logs of the many-logs measurement (at least one caller each).
    #[arg(long, value_name = "N", default_value = "100", value_parser = count_usize)]
    pub logs: usize,

    /// Runs of each measurement (alternating).
    #[arg(long, value_name = "N", default_value = "5", value_parser = count_usize)]
    pub runs: usize,

    /// The checkpoint interval of every log measured (raw, recorded and the
    /// many logs alike): see `vellum serve --checkpoint-interval`.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration)]
    pub checkpoint_interval: Duration,
}

/// How appends are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One `Append` call per request, `--batch` entries each (default 1).
    Unary,
    /// As unary, with `--batch` defaulting to 1000 entries per call.
    Batch,
    /// `AppendStream`: `--streams` streams, `--in-flight` requests each.
    Stream,
}

/// How long an append waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitArg {
    /// Until the entries are synced (WAIT_FOR_DURABLE).
    Durable,
    /// Until a signed checkpoint covers them; answers carry inclusion proofs
    /// (WAIT_FOR_CHECKPOINT), a sample of which is verified.
    Checkpoint,
}

/// The server under test and its tuning.
///
/// The embedded server is configured as `vellum serve` is: a serve
/// configuration file (`--config`, docs/CONFIG.md) read by the same type,
/// `vellum_server::ServeConfig`; the "Server tuning" flags below are the
/// bench's shorthands for the keys varied most, written over that file
/// (see [`ServerArgs::overlay`]), then the one conversion
/// `ServeConfig::to_options` gives the server's options.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Target a running `vellum serve` (e.g. http://127.0.0.1:6962) instead of
    /// starting one in-process.
    #[arg(long, value_name = "URL", help_heading = "Server")]
    pub server: Option<String>,

    /// The log's verifier key; with --server, needed to verify checkpoint
    /// answers (`--wait checkpoint`, `proofs`).
    #[arg(long, value_name = "VKEY", help_heading = "Server")]
    pub vkey: Option<String>,

    /// Data folder of the embedded server (default: a fresh folder under the
    /// system temp dir, deleted at exit). Baselines write beside it, on the
    /// same filesystem.
    #[arg(long, value_name = "DIR", help_heading = "Server")]
    pub data: Option<PathBuf>,

    /// A `vellum serve` configuration file (TOML; docs/CONFIG.md,
    /// examples/vellum.toml) for the embedded server: its limits, pool,
    /// queue and the rest. Its data folder and listen address are the
    /// bench's (--data, 127.0.0.1:0); the tuning flags below override it.
    /// Environment variables are not read.
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub config: Option<PathBuf>,

    /// Tuning: a round starts when this many entries are pooled...
    #[arg(long, value_name = "N", value_parser = count_usize, help_heading = "Server tuning")]
    pub pool_max_entries: Option<usize>,

    /// ...or when the oldest pooled entry has waited this long.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Server tuning")]
    pub pool_max_delay: Option<Duration>,

    /// Tuning: entries accepted but not yet sequenced, at most.
    #[arg(long, value_name = "N", value_parser = count_usize, help_heading = "Server tuning")]
    pub queue_max_entries: Option<usize>,

    /// Tuning: bytes accepted but not yet sequenced, at most.
    #[arg(long, value_name = "BYTES", value_parser = count_usize, help_heading = "Server tuning")]
    pub queue_max_bytes: Option<usize>,

    /// Tuning: refuse appends that would wait longer than this in the
    /// queue (0s turns the limit off).
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Server tuning")]
    pub max_queue_delay: Option<Duration>,

    /// Tuning: entries in one append call, at most.
    #[arg(long, value_name = "N", value_parser = count_usize, help_heading = "Server tuning")]
    pub max_entries_per_call: Option<usize>,

    /// Limit: requests of one AppendStream processed at once.
    #[arg(long, value_name = "N", help_heading = "Server tuning")]
    pub stream_max_in_flight: Option<usize>,

    /// Limit: concurrent calls (HTTP/2 streams) per connection.
    #[arg(long, value_name = "N", help_heading = "Server tuning")]
    pub max_concurrent_streams: Option<u32>,

    /// Worker threads of the embedded server's runtime (default: one per CPU,
    /// as `vellum serve`).
    #[arg(long, value_name = "N", help_heading = "Server tuning")]
    pub server_threads: Option<usize>,

    /// Worker threads of the load generator's runtime (default: one per CPU).
    #[arg(long, value_name = "N", help_heading = "Server tuning")]
    pub client_threads: Option<usize>,
}

impl ServerArgs {
    /// Writes the tuning flags that were given over `c` (the key each one
    /// sets is in docs/CONFIG.md under the `vellum serve` flag of the same
    /// name).
    pub fn overlay(&self, c: &mut vellum_server::ServeConfig) {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        let log = &mut c.log;
        set(&mut log.pool.max_entries, self.pool_max_entries);
        set(&mut log.pool.max_delay, self.pool_max_delay);
        set(&mut log.queue.max_entries, self.queue_max_entries);
        set(&mut log.queue.max_bytes, self.queue_max_bytes);
        set(&mut log.queue.max_delay, self.max_queue_delay);
        set(
            &mut log.append.max_entries_per_call,
            self.max_entries_per_call,
        );
        set(
            &mut c.limits.stream_max_in_flight,
            self.stream_max_in_flight,
        );
        set(
            &mut c.limits.max_concurrent_streams,
            self.max_concurrent_streams,
        );
    }
}

/// Flags shared by the timed load runs.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Concurrent callers (unary and batch modes; proofs).
    #[arg(long, short = 'c', default_value_t = 16)]
    pub concurrency: usize,

    /// TCP connections the callers share (default: min(callers, 4)).
    #[arg(long, value_name = "N")]
    pub connections: Option<usize>,

    /// Offered load in entries (proofs: calls) per second, on a fixed
    /// schedule; 0 = closed loop, as fast as answers come.
    #[arg(long, value_name = "R", default_value = "0", value_parser = count_u64)]
    pub rate: u64,

    /// Measured time.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub duration: Duration,

    /// Time under load before measuring (not counted).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub warmup: Duration,

    /// Verify every Nth answer fully (signature, inclusion proof); 0: none.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub verify_every: u64,

    /// With --rate, how long after the end requests still scheduled in the
    /// window are sent; what is left then is reported as unsent.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    pub drain: Duration,
}

/// `vellum-bench append`.
#[derive(Clone, Debug, clap::Args)]
pub struct AppendArgs {
    /// How appends are sent.
    #[arg(long, value_enum, default_value = "unary")]
    pub mode: Mode,

    /// Entries per call (default: 1; 1000 with --mode batch).
    #[arg(long, value_name = "N", value_parser = count_usize)]
    pub batch: Option<usize>,

    /// Streams (stream mode).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub streams: usize,

    /// Requests in flight per stream (stream mode).
    #[arg(long, value_name = "K", default_value_t = 64)]
    pub in_flight: usize,

    /// What an append waits for.
    #[arg(long, value_enum, default_value = "durable")]
    pub wait: WaitArg,

    /// Bytes per entry.
    #[arg(long, value_name = "B", default_value = "256", value_parser = count_usize)]
    pub entry_size: usize,

    /// Entry contents: text compresses like audit records, random does not.
    #[arg(long, value_enum, default_value = "text")]
    pub payload: Payload,

    /// Entries appended (batched, unmeasured) before the run, and written
    /// to the raw RocksDB baseline before its run: a fresh store syncs a
    /// WAL file that grows, which costs more than the recycled WAL of a
    /// store that has flushed a few memtables (see vellum-store-rocksdb's
    /// docs); a fill of a few hundred MB measures the steady state.
    #[arg(long, value_name = "N", default_value = "0", value_parser = count_u64)]
    pub fill: u64,

    /// Measure the baselines too (raw RocksDB synced batches, bare gRPC).
    #[arg(long, num_args = 0..=1, default_value = "true", default_missing_value = "true", value_name = "BOOL")]
    pub baselines: bool,

    /// Entries per raw RocksDB batch (default: entries per call in batch
    /// mode; otherwise the mean round size the embedded server reached).
    #[arg(long, value_name = "N", value_parser = count_usize)]
    pub baseline_batch: Option<usize>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// `vellum-bench proofs`.
#[derive(Clone, Debug, clap::Args)]
pub struct ProofsArgs {
    /// Entries appended before measuring (batched; in-process when embedded).
    #[arg(long, value_name = "N", default_value = "100k", value_parser = count_u64)]
    pub fill: u64,

    /// Bytes per entry of the fill.
    #[arg(long, value_name = "B", default_value = "256", value_parser = count_usize)]
    pub entry_size: usize,

    /// Entry contents of the fill.
    #[arg(long, value_enum, default_value = "text")]
    pub payload: Payload,

    /// Measure the bare gRPC baseline too.
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true", value_name = "BOOL")]
    pub baselines: bool,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// `vellum-bench fill`.
#[derive(Clone, Debug, clap::Args)]
pub struct FillArgs {
    /// Entries to add.
    #[arg(long, value_name = "N", value_parser = count_u64)]
    pub entries: u64,

    /// Bytes per entry.
    #[arg(long, value_name = "B", default_value = "256", value_parser = count_usize)]
    pub entry_size: usize,

    /// Entry contents.
    #[arg(long, value_enum, default_value = "text")]
    pub payload: Payload,

    /// Entries per append call.
    #[arg(long, value_name = "N", default_value = "4096", value_parser = count_usize)]
    pub batch: usize,

    /// Append calls in flight.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,

    /// Restarts to time after the fill (0: skip restart and size).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub restarts: usize,

    /// Skip the compaction before measuring the size (flush only).
    #[arg(long)]
    pub no_compact: bool,

    /// Print progress to stderr every N entries (0: never).
    #[arg(long, value_name = "N", default_value = "1M", value_parser = count_u64)]
    pub progress_every: u64,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// `vellum-bench overload`.
#[derive(Clone, Debug, clap::Args)]
pub struct OverloadArgs {
    /// Offered load in the overload phase, as a multiple of the capacity
    /// measured first.
    #[arg(long, default_value_t = 5.0)]
    pub factor: f64,

    /// Closed-loop callers of the capacity phase.
    #[arg(long, default_value_t = 256)]
    pub callers: usize,

    /// Calls outstanding at most in the open-loop phases; past it a
    /// scheduled call is counted unsent.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub max_in_flight: usize,

    /// TCP connections the calls share.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: usize,

    /// Measured length of each phase (each has a 1 s warm-up before).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub phase: Duration,

    /// Bytes per entry.
    #[arg(long, value_name = "B", default_value = "256", value_parser = count_usize)]
    pub entry_size: usize,

    /// Entries per call. Rates are in entries; with more per call, a load
    /// generator sharing the server's cores can offer 5x in fewer calls.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch: usize,

    /// Entry contents.
    #[arg(long, value_enum, default_value = "text")]
    pub payload: Payload,

    /// With --server: the server's process id, to read its peak RSS.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// `vellum-bench restart`.
#[derive(Clone, Debug, clap::Args)]
pub struct RestartArgs {
    /// The data folder of a stopped log.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,

    /// Restarts to time.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub restarts: usize,

    /// Worker threads of the server's runtime (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub server_threads: Option<usize>,
}

/// `vellum-bench size`.
#[derive(Clone, Debug, clap::Args)]
pub struct SizeArgs {
    /// The data folder of a stopped log.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,

    /// Bytes per entry the log was filled with (all entries the same size).
    #[arg(long, value_name = "B", default_value = "256", value_parser = count_usize)]
    pub entry_size: usize,

    /// Skip the compaction (flush only).
    #[arg(long)]
    pub no_compact: bool,
}

/// Parses `10s`, `500ms`, `250us`, `2m`, `1h`, `0`.
///
/// # Errors
///
/// A message saying what was expected.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with a unit, e.g. 10s, 500ms, 250us"))?;
    let secs = match unit {
        "" if v == 0.0 => 0.0,
        "ns" => v / 1e9,
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use ns, us, ms, s, m, h)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Parses `1000`, `10k`, `1.5M`, `2G`, `1_000` (decimal multipliers).
///
/// # Errors
///
/// A message saying what was expected.
pub fn count_u64(s: &str) -> Result<u64, String> {
    let t: String = s.trim().chars().filter(|c| *c != '_').collect();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    if mult == 1.0 {
        return num
            .parse()
            .map_err(|_| format!("{s:?}: expected a count such as 1000, 10k or 1M"));
    }
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a count such as 1000, 10k or 1M"))?;
    let n = v * mult;
    if !(0.0..=u64::MAX as f64).contains(&n) || n.fract() != 0.0 {
        return Err(format!("{s:?}: not a whole count"));
    }
    Ok(n as u64)
}

/// As [`count_u64`], for sizes.
///
/// # Errors
///
/// A message saying what was expected.
pub fn count_usize(s: &str) -> Result<usize, String> {
    let n = count_u64(s)?;
    usize::try_from(n).map_err(|_| format!("{s:?}: too large"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(duration("0").unwrap(), Duration::ZERO);
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(duration("10").is_err());
        assert!(duration("10x").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(count_u64("1000").unwrap(), 1000);
        assert_eq!(count_u64("10k").unwrap(), 10_000);
        assert_eq!(count_u64("1.5M").unwrap(), 1_500_000);
        assert_eq!(count_u64("10_000").unwrap(), 10_000);
        assert!(count_u64("1.00001k").is_err());
        assert!(count_u64("ten").is_err());
    }
}
