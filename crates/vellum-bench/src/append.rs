// size: one benchmark run from start to report; `run` is a single sequence of phases
//! `append`: entries per second and latency of durable or checkpointed
//! appends, sent as unary calls, batched calls or streams, in closed or
//! open loop; then the baselines and the ratios.
//!
//! Order of a run: the bare gRPC baseline first (the server is fresh and
//! idle, so nothing of ours runs in the background), then our load, then
//! the server is stopped (its RocksDB closed, which waits for background
//! flushes and compactions) and the raw RocksDB baseline runs alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use vellum_log::Log;
use vellum_proto::v1 as pb;
use vellum_proto::v1::log_client::LogClient;

use crate::baseline::{self, Baseline};
use crate::cli::{AppendArgs, Mode, WaitArg};
use crate::entries::{EntryGen, Payload};
use crate::fill::{fill, sink_for};
use crate::machine::{CpuSample, CpuUse, Machine};
use crate::report::{Output, Row, thousands};
use crate::schedule::{Schedule, Slot};
use crate::stats::{Latency, Recorder, Window};
use crate::target::{RoundStats, ServerStats, Target, connect, log_client, runtime};
use crate::verify::{Verifier, check_append};

/// What every caller of one run shares.
#[derive(Debug)]
struct Shared {
    entries: EntryGen,
    next: AtomicU64,
    batch: usize,
    wait: WaitArg,
    verify_every: u64,
    verifier: Option<Verifier>,
}

impl Shared {
    /// Claims the counters of the next call's entries.
    fn claim(&self) -> u64 {
        self.next.fetch_add(self.batch as u64, Ordering::Relaxed)
    }

    fn request(&self, first: u64) -> pb::AppendRequest {
        pb::AppendRequest {
            entries: self.entries.batch(first, self.batch),
            wait: match self.wait {
                WaitArg::Durable => pb::WaitFor::Durable,
                WaitArg::Checkpoint => pb::WaitFor::Checkpoint,
            } as i32,
            request_id: first,
        }
    }

    /// Counts an answer, after checking it (fully for every Nth call).
    fn answer(
        &self,
        rec: &mut Recorder,
        origin: Instant,
        done: Instant,
        first: u64,
        resp: &pb::AppendResponse,
    ) {
        let sampled =
            self.verify_every > 0 && (first / self.batch as u64).is_multiple_of(self.verify_every);
        let full = if sampled {
            self.verifier.as_ref()
        } else {
            None
        };
        let checkpoint = self.wait == WaitArg::Checkpoint;
        match check_append(resp, &self.entries, first, self.batch, checkpoint, full) {
            Ok(verified) => {
                rec.ok(origin, done, self.batch as u64);
                rec.verified += u64::from(verified);
            }
            Err(why) => rec.invalid(why),
        }
    }
}

async fn unary_caller(
    mut client: LogClient<Channel>,
    sh: Arc<Shared>,
    schedule: Schedule,
    window: Window,
) -> Recorder {
    let mut rec = Recorder::new(window);
    while let Some(slot) = schedule.next(&mut rec).await {
        let first = sh.claim();
        let req = sh.request(first);
        // Closed loop: from the send (making the entries is the client's
        // work); open loop: from the scheduled time.
        let origin = slot.origin();
        let res = client.append(req).await;
        let done = Instant::now();
        match res {
            Ok(r) => sh.answer(&mut rec, origin, done, first, r.get_ref()),
            Err(s) => rec.error(origin, s.code()),
        }
    }
    rec
}

/// One `AppendStream` with up to `in_flight` requests outstanding.
async fn stream_caller(
    mut client: LogClient<Channel>,
    sh: Arc<Shared>,
    schedule: Schedule,
    window: Window,
    in_flight: usize,
) -> anyhow::Result<Recorder> {
    let (tx, rx) = mpsc::channel::<pb::AppendRequest>(in_flight);
    let mut answers = client
        .append_stream(ReceiverStream::new(rx))
        .await
        .context("cannot open an AppendStream")?
        .into_inner();
    let permits = Arc::new(Semaphore::new(in_flight));
    let pending: Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Arc::default();
    let sender = {
        let (sh, permits, pending, schedule) = (
            sh.clone(),
            permits.clone(),
            pending.clone(),
            schedule.clone(),
        );
        tokio::spawn(async move {
            let mut rec = Recorder::new(window);
            loop {
                // Closed loop: wait for room, then send now. Open loop: the
                // slot is due whether or not there is room; waiting for room
                // counts in its latency.
                let (slot, permit) = if schedule.is_open() {
                    let Some(slot) = schedule.next(&mut rec).await else {
                        break;
                    };
                    let Ok(p) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    (slot, p)
                } else {
                    let Ok(p) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let Some(slot) = schedule.next(&mut rec).await else {
                        break;
                    };
                    (slot, p)
                };
                let first = sh.claim();
                let req = sh.request(first);
                let origin = match slot {
                    Slot::Now => Instant::now(),
                    Slot::Due(t) => t,
                };
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(first, origin);
                if tx.send(req).await.is_err() {
                    break;
                }
                // Given back when the answer arrives.
                permit.forget();
            }
            rec
        })
    };
    let mut rec = Recorder::new(window);
    loop {
        match answers.message().await {
            Ok(Some(resp)) => {
                let done = Instant::now();
                let origin = pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&resp.request_id);
                permits.add_permits(1);
                let Some(origin) = origin else {
                    rec.invalid(format!(
                        "an answer for unknown request_id {}",
                        resp.request_id
                    ));
                    continue;
                };
                match &resp.error {
                    Some(e) => rec.error(origin, tonic::Code::from(e.code)),
                    None => sh.answer(&mut rec, origin, done, resp.request_id, &resp),
                }
            }
            Ok(None) => break,
            Err(s) => {
                // The stream is gone: what was outstanding failed with it.
                permits.close();
                for (_, origin) in pending.lock().unwrap_or_else(|e| e.into_inner()).drain() {
                    rec.error(origin, s.code());
                }
                break;
            }
        }
    }
    let sent = sender.await.context("a stream sender failed")?;
    rec.merge(sent);
    let left = pending.lock().unwrap_or_else(|e| e.into_inner()).len();
    if left > 0 {
        rec.invalid(format!("the stream ended with {left} requests unanswered"));
    }
    Ok(rec)
}

/// Samples the server's rounds and the CPU at the window's edges.
async fn watch_window(window: Window, log: Option<Log>) -> (Option<RoundStats>, CpuUse) {
    let stats = |l: &Option<Log>| l.as_ref().map(ServerStats::of);
    tokio::time::sleep_until(window.start.into()).await;
    let (s0, c0) = (stats(&log), CpuSample::now());
    tokio::time::sleep_until(window.end.into()).await;
    let (s1, c1) = (stats(&log), CpuSample::now());
    let rounds = s0
        .zip(s1)
        .map(|(a, b)| b.since(&a, window.len().as_secs_f64()));
    (rounds, c1.since(&c0))
}

/// The load of one run.
#[derive(Debug)]
struct Load {
    mode: Mode,
    callers: usize,
    streams: usize,
    in_flight: usize,
    rate: u64,
    warmup: Duration,
    duration: Duration,
    drain: Duration,
}

struct Measured {
    rec: Recorder,
    window: Window,
    rounds: Option<RoundStats>,
    cpu: CpuUse,
}

async fn run_load(
    channels: &[Channel],
    sh: Arc<Shared>,
    load: &Load,
    log: Option<Log>,
) -> anyhow::Result<Measured> {
    let window = Window::after(load.warmup, load.duration);
    let schedule = if load.rate == 0 {
        Schedule::closed(window.end)
    } else {
        let calls_per_sec = load.rate as f64 / sh.batch as f64;
        Schedule::open(Instant::now(), window.end, calls_per_sec, load.drain)?
    };
    let watcher = tokio::spawn(watch_window(window, log));
    let mut all = Recorder::new(window);
    match load.mode {
        Mode::Unary | Mode::Batch => {
            let tasks: Vec<_> = (0..load.callers)
                .map(|i| {
                    let client = log_client(&channels[i % channels.len()]);
                    tokio::spawn(unary_caller(client, sh.clone(), schedule.clone(), window))
                })
                .collect();
            for t in tasks {
                all.merge(t.await.context("a caller failed")?);
            }
        }
        Mode::Stream => {
            let tasks: Vec<_> = (0..load.streams)
                .map(|i| {
                    let client = log_client(&channels[i % channels.len()]);
                    tokio::spawn(stream_caller(
                        client,
                        sh.clone(),
                        schedule.clone(),
                        window,
                        load.in_flight,
                    ))
                })
                .collect();
            for t in tasks {
                all.merge(t.await.context("a stream failed")??);
            }
        }
    }
    let (rounds, cpu) = watcher.await.context("the window watcher failed")?;
    Ok(Measured {
        rec: all,
        window,
        rounds,
        cpu,
    })
}

/// The JSON result of an append run.
#[derive(Debug, Serialize)]
struct AppendResult<'a> {
    kind: &'static str,
    mode: Mode,
    wait: WaitArg,
    batch: usize,
    concurrency: usize,
    streams: Option<usize>,
    in_flight: Option<usize>,
    connections: usize,
    entry_size: usize,
    payload: Payload,
    offered_entries_per_sec: Option<u64>,
    prefilled: u64,
    duration_s: f64,
    warmup_s: f64,
    entries_per_sec: f64,
    calls_per_sec: f64,
    entries_ok: u64,
    calls_ok: u64,
    latency: Latency,
    errors: &'a std::collections::BTreeMap<String, u64>,
    shed: u64,
    failed: u64,
    unsent: u64,
    verified: u64,
    invalid: u64,
    invalid_reasons: &'a [String],
    server: ServerInfo,
    rounds: Option<RoundStats>,
    cpu: &'a CpuUse,
}

/// What was measured.
#[derive(Clone, Debug, Serialize)]
struct ServerInfo {
    url: String,
    embedded: bool,
    pool_max_entries: Option<usize>,
    pool_max_delay_ms: Option<f64>,
    queue_max_entries: Option<usize>,
}

/// The ratios of a run.
#[derive(Debug, Serialize)]
struct Ratios {
    kind: &'static str,
    /// Our entries/s over raw RocksDB's, same entries per batch.
    ours_over_rocksdb: Option<f64>,
    /// Our calls/s over bare gRPC health checks, same callers.
    ours_over_grpc: Option<f64>,
    rocksdb_batch: Option<usize>,
}

/// Runs `append`; `Ok(false)` when an answer failed its checks.
///
/// # Errors
///
/// When the server cannot be started or reached.
pub fn run(args: AppendArgs, out: &mut Output, _machine: &mut Machine) -> anyhow::Result<bool> {
    let batch = args
        .batch
        .unwrap_or(if args.mode == Mode::Batch { 1000 } else { 1 });
    ensure!(batch >= 1, "--batch must be at least 1");
    ensure!(
        args.run.concurrency >= 1,
        "--concurrency must be at least 1"
    );
    ensure!(
        args.streams >= 1 && args.in_flight >= 1,
        "--streams and --in-flight must be at least 1"
    );
    let entries = EntryGen::new(args.entry_size, args.payload)?;
    let client_rt = runtime("bench-client", args.server.client_threads)?;
    let mut target = Target::new(&args.server)?;
    if args.wait == WaitArg::Checkpoint && target.vkey.is_none() && args.run.verify_every > 0 {
        bail!(
            "--wait checkpoint against --server needs --vkey to verify answers (or --verify-every 0)"
        );
    }
    let callers = match args.mode {
        Mode::Stream => args.streams * args.in_flight,
        _ => args.run.concurrency,
    };
    let streams_or_callers = match args.mode {
        Mode::Stream => args.streams,
        _ => args.run.concurrency,
    };
    let connections = args
        .run
        .connections
        .unwrap_or(streams_or_callers.min(4))
        .max(1);
    let channels = client_rt.block_on(connect(&target.url, connections))?;
    let server = ServerInfo {
        url: target.url.clone(),
        embedded: target.embedded.is_some(),
        pool_max_entries: target.log().map(|l| l.config().pool_max_entries),
        pool_max_delay_ms: target
            .log()
            .map(|l| l.config().pool_max_delay.as_secs_f64() * 1e3),
        queue_max_entries: target.log().map(|l| l.config().queue_max_entries),
    };

    // Counters below `prefilled` belong to the fill: the load starts after.
    let prefilled = args.fill;
    if args.fill > 0 {
        eprintln!(
            "vellum-bench: filling {} entries first (not measured)",
            thousands(args.fill as f64)
        );
        let sink = sink_for(&target, &channels);
        let f = match &target.embedded {
            Some(e) => {
                e.rt.block_on(fill(&sink, &entries, args.fill, 4096, 4, 0))?
            }
            None => client_rt.block_on(fill(&sink, &entries, args.fill, 1000, 8, 0))?,
        };
        eprintln!(
            "vellum-bench: filled in {:.1} s ({} entries/s)",
            f.seconds,
            thousands(f.entries_per_sec)
        );
    }

    let grpc: Option<Baseline> = if args.baselines {
        eprintln!(
            "vellum-bench: bare gRPC baseline ({callers} callers, {connections} connections)"
        );
        Some(client_rt.block_on(baseline::grpc_health(
            &channels,
            callers,
            args.run.warmup.min(Duration::from_secs(1)),
            args.run.duration,
        ))?)
    } else {
        None
    };

    eprintln!(
        "vellum-bench: append {:?}, {batch} entries/call, wait {:?}, {}",
        args.mode,
        args.wait,
        if args.run.rate == 0 {
            "closed loop".to_owned()
        } else {
            format!("{} entries/s offered", thousands(args.run.rate as f64))
        }
    );
    let sh = Arc::new(Shared {
        entries: entries.clone(),
        next: AtomicU64::new(prefilled),
        batch,
        wait: args.wait,
        verify_every: args.run.verify_every,
        verifier: target.vkey.clone().map(Verifier::new),
    });
    let load = Load {
        mode: args.mode,
        callers,
        streams: args.streams,
        in_flight: args.in_flight,
        rate: args.run.rate,
        warmup: args.run.warmup,
        duration: args.run.duration,
        drain: args.run.drain,
    };
    let m = client_rt.block_on(run_load(&channels, sh, &load, target.log().cloned()))?;
    drop(channels);
    let store_options = target
        .embedded
        .as_ref()
        .map(|e| e.opts.store.clone())
        .unwrap_or_default();
    target.stop()?;

    let rocks = if args.baselines {
        let b = args
            .baseline_batch
            .unwrap_or_else(|| match (&m.rounds, args.mode) {
                (Some(r), Mode::Unary | Mode::Stream) if r.entries_per_round >= 1.0 => {
                    r.entries_per_round.round() as usize
                }
                _ => batch,
            });
        eprintln!("vellum-bench: raw RocksDB baseline ({b} entries per synced batch)");
        Some(baseline::rocksdb(
            &target.scratch_parent(),
            &store_options,
            &entries,
            b,
            args.fill,
            args.run.warmup,
            args.run.duration,
        )?)
    } else {
        None
    };

    let secs = m.window.len().as_secs_f64();
    let rec = &m.rec;
    let result = AppendResult {
        kind: "append",
        mode: args.mode,
        wait: args.wait,
        batch,
        concurrency: callers,
        streams: (args.mode == Mode::Stream).then_some(args.streams),
        in_flight: (args.mode == Mode::Stream).then_some(args.in_flight),
        connections,
        entry_size: args.entry_size,
        payload: args.payload,
        offered_entries_per_sec: (args.run.rate > 0).then_some(args.run.rate),
        prefilled,
        duration_s: secs,
        warmup_s: args.run.warmup.as_secs_f64(),
        entries_per_sec: rec.ok_items as f64 / secs,
        calls_per_sec: rec.ok_calls as f64 / secs,
        entries_ok: rec.ok_items,
        calls_ok: rec.ok_calls,
        latency: rec.latency(),
        errors: &rec.errors,
        shed: rec.shed(),
        failed: rec.failed(),
        unsent: rec.unsent,
        verified: rec.verified,
        invalid: rec.invalid,
        invalid_reasons: &rec.invalid_reasons,
        server: server.clone(),
        rounds: m.rounds.clone(),
        cpu: &m.cpu,
    };
    out.result(&result);
    let what = match args.mode {
        Mode::Stream => format!(
            "stream {}x{} b={batch} {:?}",
            args.streams, args.in_flight, args.wait
        ),
        _ => format!("{:?} c={callers} b={batch} {:?}", args.mode, args.wait),
    }
    .to_lowercase();
    let offered = (args.run.rate > 0).then_some(args.run.rate as f64);
    out.row(Row::from_recorder(
        format!("append {what}"),
        offered,
        rec,
        secs,
    ));
    if let Some(g) = &grpc {
        out.result(g);
        out.row(baseline_row(&format!("bare gRPC health c={callers}"), g));
    }
    if let Some(r) = &rocks {
        out.result(r);
        out.row(baseline_row(
            &format!("raw RocksDB sync b={}", r.batch.unwrap_or(0)),
            r,
        ));
    }
    let ratios = Ratios {
        kind: "ratios",
        ours_over_rocksdb: rocks
            .as_ref()
            .map(|r| result.entries_per_sec / r.items_per_sec.max(1e-9)),
        ours_over_grpc: grpc
            .as_ref()
            .map(|g| result.calls_per_sec / g.calls_per_sec.max(1e-9)),
        rocksdb_batch: rocks.as_ref().and_then(|r| r.batch),
    };
    out.result(&ratios);

    let mut lines = Vec::new();
    if let Some(r) = ratios.ours_over_rocksdb {
        lines.push(format!(
            "ours / raw RocksDB sync batches (entries/s): {r:.2}"
        ));
    }
    if let Some(r) = ratios.ours_over_grpc {
        lines.push(format!("ours / bare gRPC unary calls (calls/s): {r:.2}"));
    }
    if !lines.is_empty() {
        out.section("ratios", lines);
    }
    let mut lines = vec![format!(
        "{} ({}), pool {} entries / {} ms, queue {} entries; {connections} connections",
        server.url,
        if server.embedded {
            "embedded"
        } else {
            "external"
        },
        server
            .pool_max_entries
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into()),
        server
            .pool_max_delay_ms
            .map(|v| format!("{v}"))
            .unwrap_or_else(|| "?".into()),
        server
            .queue_max_entries
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into()),
    )];
    if let Some(r) = &m.rounds {
        lines.push(format!(
            "rounds: {} ({:.0}/s), {:.1} entries/round, {:.3} ms/round, sequencer busy {:.0}%, pushbacks {}, duplicates {}",
            r.rounds,
            r.rounds_per_sec,
            r.entries_per_round,
            r.round_ms,
            r.round_busy * 100.0,
            r.pushbacks,
            r.duplicates
        ));
    }
    if server.embedded && args.fill == 0 {
        lines.push(
            "fresh store (no --fill): its WAL is not recycled until memtables have flushed, so \
             early syncs grow the file and cost more than in a long-running log"
                .into(),
        );
    }
    lines.push(cpu_line(&m.cpu));
    lines.push(format!(
        "answers fully verified (signature + inclusion proof): {}; invalid: {}",
        rec.verified, rec.invalid
    ));
    for r in &rec.invalid_reasons {
        lines.push(format!("INVALID: {r}"));
    }
    out.section("server", lines);
    Ok(rec.invalid == 0)
}

/// A table row for a baseline.
pub fn baseline_row(name: &str, b: &Baseline) -> Row {
    Row {
        name: name.to_owned(),
        offered: None,
        items_per_sec: b.items_per_sec,
        calls_per_sec: b.calls_per_sec,
        latency: b.latency.clone(),
        errors: b.errors.to_string(),
    }
}

/// CPU use as one line.
pub fn cpu_line(c: &CpuUse) -> String {
    let parts: Vec<String> = c
        .by_thread
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    format!(
        "cpu (cores) in the window: this process {:.2}, whole machine {:.2}; by thread: {}",
        c.process_cores,
        c.machine_busy_cores,
        parts.join(", ")
    )
}
