//! `overload`: what a server does when offered more than it can sequence.
//!
//! Three phases, each `--phase` long after a 1 s warm-up:
//! 1. **capacity**: `--callers` closed-loop callers, `--batch` durable
//!    entries per call (default 1), as fast as answers come; the accepted entries per second are
//!    the machine's sequencing capacity for this configuration;
//! 2. **overload**: open loop at `--factor` times that capacity (default 5):
//!    a ticker starts each call at its scheduled time in a task of its own,
//!    so a slow answer never delays the next send. Reported: the shed rate
//!    (calls answered `RESOURCE_EXHAUSTED`), p50/p99/p99.9 of accepted
//!    appends (from send to answer), the time to the answer of a refusal,
//!    and the peak RSS during the phase;
//! 3. **recovery**: open loop at half the capacity: the shed rate should
//!    fall back to 0 and latency to the capacity phase's.
//!
//! Embedded, each phase also reports the log's own share of the latency of
//! accepted appends (from entering its queue to the answer of their round,
//! [`vellum_log::Stats::sequencing_latency`]): on a machine whose cores the
//! load generator shares, the rest is the RPC layer waiting for CPU.
//!
//! Peak RSS: `VmHWM` of the server process. Embedded (the default), the
//! server shares this process with the load generator: the high-water mark
//! is reset before the overload phase (`/proc/self/clear_refs`) and read
//! after it, so it covers both. With `--server`, pass `--server-pid` to read
//! the server's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;
use vellum_log::Log;
use vellum_log::latency::LatencySnapshot;
use vellum_proto::v1 as pb;

use crate::cli::OverloadArgs;
use crate::entries::EntryGen;
use crate::machine::Machine;
use crate::report::{Output, thousands};
use crate::stats::{Latency, code_name, histogram, record};
use crate::target::{Target, connect, log_client, runtime};

/// What one phase saw.
#[derive(Debug, Serialize)]
struct Phase {
    kind: &'static str,
    phase: &'static str,
    /// Offered entries per second; `None` in closed loop.
    offered_per_sec: Option<f64>,
    /// Entries per call.
    entries_per_call: usize,
    /// Accepted entries per second.
    accepted_per_sec: f64,
    /// Calls sent in the window.
    sent: u64,
    /// Calls answered RESOURCE_EXHAUSTED (each refuses all its entries).
    shed: u64,
    /// shed / sent.
    shed_rate: f64,
    /// Calls that failed otherwise, by code.
    other_errors: Vec<(String, u64)>,
    /// Calls not sent because `--max-in-flight` calls were outstanding.
    unsent: u64,
    /// Accepted appends, send to answer.
    accepted: Latency,
    /// Refusals, send to answer.
    refused: Latency,
    /// Peak RSS in the phase, KiB (overload phase only).
    peak_rss_kib: Option<u64>,
    /// RSS before the phase, KiB.
    rss_before_kib: Option<u64>,
    /// Embedded server only: the log's own share of accepted appends'
    /// latency (from entering the queue to the answer of their round), ms.
    log_p50_ms: Option<f64>,
    /// As `log_p50_ms`, the 99th percentile.
    log_p99_ms: Option<f64>,
}

#[derive(Debug)]
struct Counts {
    ok: Histogram<u64>,
    shed: Histogram<u64>,
    other: std::collections::BTreeMap<String, u64>,
    sent: u64,
    unsent: u64,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            ok: histogram(),
            shed: histogram(),
            other: Default::default(),
            sent: 0,
            unsent: 0,
        }
    }
}

/// Reads a `Vm*:` line of `/proc/<pid>/status`, in KiB.
fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `overload`.
///
/// # Errors
///
/// When the server cannot start or a phase cannot run.
pub fn run(args: OverloadArgs, out: &mut Output, _machine: &mut Machine) -> anyhow::Result<bool> {
    ensure!(args.factor > 0.0, "--factor must be positive");
    ensure!(args.callers > 0, "--callers must be at least 1");
    ensure!(args.batch > 0, "--batch must be at least 1");
    let target = Target::new(&args.server)?;
    let pid = match (&target.embedded, &args.server_pid) {
        (Some(_), _) => Some("self".to_owned()),
        (None, p) => p.map(|p| p.to_string()),
    };
    let rt = runtime("bench-client", args.server.client_threads)?;
    let calls = Calls {
        entries: Arc::new(EntryGen::new(args.entry_size, args.payload)?),
        batch: args.batch,
        log: target.log().cloned(),
    };
    let channels = rt.block_on(connect(&target.url, args.connections))?;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut phases = Vec::new();

    // 1. Capacity, closed loop.
    let cap = rt.block_on(closed_loop(
        &channels,
        &calls,
        &next,
        args.callers,
        args.phase,
    ))?;
    let capacity = cap.accepted_per_sec;
    ensure!(
        capacity > 0.0,
        "the server accepted nothing in the capacity phase"
    );
    phases.push(cap);

    // 2. Overload, open loop at factor x capacity.
    let rss_before = pid.as_deref().and_then(|p| proc_status_kib(p, "VmRSS:"));
    if pid.as_deref() == Some("self") {
        // "5" resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).
        if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
            eprintln!("vellum-bench: cannot reset the peak RSS ({e}); it covers the whole run");
        }
    }
    let mut over = rt.block_on(open_loop(
        &channels,
        &calls,
        &next,
        capacity * args.factor,
        args.max_in_flight,
        args.phase,
        "overload",
    ))?;
    over.peak_rss_kib = pid.as_deref().and_then(|p| proc_status_kib(p, "VmHWM:"));
    over.rss_before_kib = rss_before;
    phases.push(over);

    // 3. Recovery at half the capacity.
    phases.push(rt.block_on(open_loop(
        &channels,
        &calls,
        &next,
        capacity * 0.5,
        args.max_in_flight,
        args.phase,
        "recovery",
    ))?);

    let mut lines = Vec::new();
    for p in &phases {
        out.result(p);
        lines.push(format!(
            "{:<9} offered {:>9}/s  accepted {:>8}/s  shed {:>6.2}% ({} of {})  accepted p50 {:.2} p99 {:.2} p99.9 {:.2} ms  refusal p50 {:.2} p99 {:.2} ms{}{}{}",
            p.phase,
            p.offered_per_sec.map_or("closed".into(), thousands),
            thousands(p.accepted_per_sec),
            p.shed_rate * 100.0,
            p.shed,
            p.sent,
            p.accepted.p50_ms,
            p.accepted.p99_ms,
            p.accepted.p999_ms,
            p.refused.p50_ms,
            p.refused.p99_ms,
            if p.unsent > 0 { format!("  unsent {}", p.unsent) } else { String::new() },
            match (p.log_p50_ms, p.log_p99_ms) {
                (Some(a), Some(b)) => format!("  in the log p50 {a:.2} p99 {b:.2} ms"),
                _ => String::new(),
            },
            if p.other_errors.is_empty() {
                String::new()
            } else {
                format!("  other {:?}", p.other_errors)
            },
        ));
        if let (Some(peak), Some(before)) = (p.peak_rss_kib, p.rss_before_kib) {
            lines.push(format!(
                "          peak RSS {:.1} MiB (RSS before the phase {:.1} MiB; {})",
                peak as f64 / 1024.0,
                before as f64 / 1024.0,
                if target.embedded.is_some() {
                    "server and load generator in one process"
                } else {
                    "the server process"
                }
            ));
        }
    }
    if let Some(s) = target.stats() {
        lines.push(format!("server: {s:?}"));
    }
    out.section(
        &format!(
            "overload: {} callers, {} entries of {} bytes per call, {:?} per phase, factor {}",
            args.callers, args.batch, args.entry_size, args.phase, args.factor
        ),
        lines,
    );
    drop(rt);
    Ok(phases.iter().all(|p| p.other_errors.is_empty()))
}

/// The append calls of a run: `batch` entries each, every entry unique;
/// and the embedded log they go to, if any, to read its own latency.
#[derive(Clone)]
struct Calls {
    entries: Arc<EntryGen>,
    batch: usize,
    log: Option<Log>,
}

/// At `start`, the embedded log's latency counts (to subtract at the end
/// of a phase: the log's share of the latency of the phase's appends).
fn log_window_start(calls: &Calls, start: Instant) -> JoinHandle<Option<LatencySnapshot>> {
    let log = calls.log.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        log.map(|l| l.stats().sequencing_latency.snapshot())
    })
}

/// The log's latency counts since `start`, when the log is embedded.
async fn log_window_end(
    calls: &Calls,
    start: JoinHandle<Option<LatencySnapshot>>,
) -> anyhow::Result<Option<LatencySnapshot>> {
    let before = start.await.context("the log snapshot task failed")?;
    Ok(match (before, &calls.log) {
        (Some(b), Some(l)) => Some(l.stats().sequencing_latency.snapshot().since(&b)),
        _ => None,
    })
}

/// Call `n` of a run: entries `n * batch ..`.
fn request(calls: &Calls, n: u64) -> pb::AppendRequest {
    let first = n * calls.batch as u64;
    pb::AppendRequest {
        entries: (first..first + calls.batch as u64)
            .map(|i| calls.entries.entry(i))
            .collect(),
        wait: pb::WaitFor::Durable as i32,
        request_id: n,
    }
}

fn summarize(
    phase: &'static str,
    c: Counts,
    batch: usize,
    offered: Option<f64>,
    secs: f64,
    log: Option<LatencySnapshot>,
) -> Phase {
    let shed = c.shed.len();
    let ms = |q: f64| {
        log.as_ref()
            .and_then(|l| l.quantile(q))
            .map(|d| d.as_secs_f64() * 1e3)
    };
    Phase {
        kind: "overload",
        phase,
        offered_per_sec: offered,
        entries_per_call: batch,
        accepted_per_sec: (c.ok.len() * batch as u64) as f64 / secs,
        sent: c.sent,
        shed,
        shed_rate: if c.sent == 0 {
            0.0
        } else {
            shed as f64 / c.sent as f64
        },
        other_errors: c.other.into_iter().collect(),
        unsent: c.unsent,
        accepted: Latency::of(&c.ok),
        refused: Latency::of(&c.shed),
        peak_rss_kib: None,
        rss_before_kib: None,
        log_p50_ms: ms(0.5),
        log_p99_ms: ms(0.99),
    }
}

fn count(c: &mut Counts, r: Result<(), Code>, took: Duration) {
    c.sent += 1;
    match r {
        Ok(()) => record(&mut c.ok, took),
        Err(Code::ResourceExhausted) => record(&mut c.shed, took),
        Err(code) => *c.other.entry(code_name(code)).or_default() += 1,
    }
}

async fn call(ch: &Channel, req: pb::AppendRequest) -> Result<(), Code> {
    log_client(ch)
        .append(req)
        .await
        .map(|_| ())
        .map_err(|s| s.code())
}

/// `callers` callers, each sending as soon as its last answer came, for a
/// 1 s warm-up and then `len`.
async fn closed_loop(
    channels: &[Channel],
    calls: &Calls,
    next: &Arc<std::sync::atomic::AtomicU64>,
    callers: usize,
    len: Duration,
) -> anyhow::Result<Phase> {
    let start = Instant::now() + Duration::from_secs(1);
    let end = start + len;
    let window = log_window_start(calls, start);
    let mut tasks = Vec::new();
    for i in 0..callers {
        let ch = channels[i % channels.len()].clone();
        let (calls, next) = (calls.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Counts::new();
            loop {
                let sent = Instant::now();
                if sent >= end {
                    return c;
                }
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let r = call(&ch, request(&calls, n)).await;
                if sent >= start {
                    count(&mut c, r, sent.elapsed());
                }
            }
        }));
    }
    let mut all = Counts::new();
    for t in tasks {
        let c = t.await.context("a caller panicked")?;
        all.ok.add(&c.ok).context("merging histograms")?;
        all.shed.add(&c.shed).context("merging histograms")?;
        all.sent += c.sent;
        for (k, v) in c.other {
            *all.other.entry(k).or_default() += v;
        }
    }
    let log = log_window_end(calls, window).await?;
    Ok(summarize(
        "capacity",
        all,
        calls.batch,
        None,
        len.as_secs_f64(),
        log,
    ))
}

/// Calls started on a fixed schedule of `rate` per second, each in its own
/// task (at most `max_in_flight` outstanding; past that a slot is counted
/// unsent), for a 1 s warm-up and then `len`.
async fn open_loop(
    channels: &[Channel],
    calls: &Calls,
    next: &Arc<std::sync::atomic::AtomicU64>,
    rate: f64,
    max_in_flight: usize,
    len: Duration,
    phase: &'static str,
) -> anyhow::Result<Phase> {
    let counts = Arc::new(Mutex::new(Counts::new()));
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let begin = Instant::now();
    let start = begin + Duration::from_secs(1);
    let end = start + len;
    let window = log_window_start(calls, start);
    // `rate` counts entries; calls carry `batch` each.
    let interval = Duration::from_secs_f64(calls.batch as f64 / rate.max(1e-3));
    let mut k: u64 = 0;
    loop {
        let due = begin + interval.mul_f64(k as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        k += 1;
        let measured = due >= start;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            if measured {
                counts.lock().await.unsent += 1;
            }
            continue;
        };
        let ch = channels[(k as usize) % channels.len()].clone();
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let req = request(calls, n);
        let counts = counts.clone();
        tokio::spawn(async move {
            let sent = Instant::now();
            let r = call(&ch, req).await;
            let took = sent.elapsed();
            if measured {
                count(&mut *counts.lock().await, r, took);
            }
            drop(permit);
        });
    }
    // Wait for the calls still out.
    let _all = slots
        .acquire_many(u32::try_from(max_in_flight).unwrap_or(u32::MAX))
        .await
        .context("the in-flight semaphore closed")?;
    let c = std::mem::replace(&mut *counts.lock().await, Counts::new());
    let log = log_window_end(calls, window).await?;
    Ok(summarize(
        phase,
        c,
        calls.batch,
        Some(rate),
        len.as_secs_f64(),
        log,
    ))
}
