//! `fill`: grow a log fast, then (embedded) measure its restart time and
//! its bytes on disk with [`crate::reopen`].
//!
//! Filling calls the embedded log directly (`Log::append`, durable waits,
//! large batches, a few calls in flight): the network is not what is being
//! measured here, and 10M entries must take minutes. Against `--server` it
//! uses batched gRPC appends instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Serialize;
use tonic::transport::Channel;
use vellum_log::{Log, LogError, Wait};
use vellum_note::{SignedCheckpoint, VerifierKey};
use vellum_proto::v1 as pb;

use crate::cli::FillArgs;
use crate::entries::EntryGen;
use crate::machine::{CpuSample, CpuUse, Machine};
use crate::reopen::{restart_lines, restarts, size, size_lines};
use crate::report::{Output, thousands};
use crate::target::{RoundStats, Target, connect, log_client, runtime};

/// Where fill appends go.
#[derive(Clone, Debug)]
pub enum Sink {
    /// The embedded log, called directly.
    Log(Log),
    /// A server, over gRPC.
    Grpc(Vec<Channel>),
}

impl Sink {
    /// Appends durably; `Ok(false)` means "queue full, retry".
    async fn append(&self, caller: usize, entries: Vec<bytes::Bytes>) -> anyhow::Result<bool> {
        match self {
            Sink::Log(log) => match log.append(entries, Wait::Durable).await {
                Ok(_) => Ok(true),
                Err(LogError::QueueFull { .. }) => Ok(false),
                Err(e) => Err(e).context("fill append"),
            },
            Sink::Grpc(chs) => {
                let mut c = log_client(&chs[caller % chs.len()]);
                let r = c
                    .append(pb::AppendRequest {
                        entries,
                        wait: pb::WaitFor::Durable as i32,
                        request_id: 0,
                    })
                    .await;
                match r {
                    Ok(_) => Ok(true),
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => Ok(false),
                    Err(s) => Err(s).context("fill append"),
                }
            }
        }
    }
}

/// What a fill did.
#[derive(Clone, Debug, Serialize)]
pub struct Filled {
    /// Entries appended.
    pub entries: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Entries per second overall.
    pub entries_per_sec: f64,
    /// Entries per second of each progress segment, in order (does the
    /// rate hold as the log grows?).
    pub segment_rates: Vec<f64>,
}

/// Appends `n` entries (counters from 0) in calls of `batch`, `concurrency`
/// at once; prints progress to stderr every `progress_every` entries.
///
/// # Errors
///
/// When an append fails for another reason than a full queue.
pub async fn fill(
    sink: &Sink,
    entries: &EntryGen,
    n: u64,
    batch: usize,
    concurrency: usize,
    progress_every: u64,
) -> anyhow::Result<Filled> {
    ensure!(
        batch >= 1 && concurrency >= 1,
        "fill batch and concurrency must be at least 1"
    );
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..concurrency {
        let (sink, entries, next, done) =
            (sink.clone(), entries.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(batch as u64, Ordering::Relaxed);
                if first >= n {
                    return anyhow::Ok(());
                }
                let count = (n - first).min(batch as u64) as usize;
                let b = entries.batch(first, count);
                while !sink.append(caller, b.clone()).await? {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                done.fetch_add(count as u64, Ordering::Relaxed);
            }
        }));
    }
    let monitor = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut rates = Vec::new();
            if progress_every == 0 {
                return rates;
            }
            let (mut mark, mut mark_t) = (0u64, start);
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let d = done.load(Ordering::Relaxed);
                if d >= mark + progress_every || d >= n {
                    let now = Instant::now();
                    let rate = (d - mark) as f64 / (now - mark_t).as_secs_f64().max(1e-9);
                    rates.push(rate);
                    eprintln!(
                        "vellum-bench: fill {} / {} entries, {} entries/s since the last line, {:.1} s",
                        thousands(d as f64),
                        thousands(n as f64),
                        thousands(rate),
                        start.elapsed().as_secs_f64()
                    );
                    (mark, mark_t) = (d, now);
                }
                if d >= n {
                    return rates;
                }
            }
        })
    };
    for t in tasks {
        t.await.context("a fill task failed")??;
    }
    let secs = start.elapsed().as_secs_f64();
    let segment_rates = monitor.await.unwrap_or_default();
    Ok(Filled {
        entries: n,
        seconds: secs,
        entries_per_sec: n as f64 / secs.max(1e-9),
        segment_rates,
    })
}

/// The size of a signed checkpoint note, verified when `vkey` is known.
///
/// # Errors
///
/// When the note does not verify or parse.
pub fn note_size(note: &[u8], vkey: Option<&VerifierKey>) -> anyhow::Result<u64> {
    if let Some(k) = vkey {
        let cp = SignedCheckpoint::open(note, k, &[]).context("the checkpoint does not verify")?;
        return Ok(cp.checkpoint().size().get());
    }
    let text = std::str::from_utf8(note).context("checkpoint is not text")?;
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("no size on the checkpoint's second line")
}

/// Waits until the published checkpoint covers `size` entries; returns its
/// size.
///
/// # Errors
///
/// After `timeout`, or when the server cannot be asked.
pub async fn wait_checkpoint(
    ch: &Channel,
    vkey: Option<&VerifierKey>,
    size: u64,
    timeout: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + timeout;
    let mut client = log_client(ch);
    loop {
        match client
            .get_checkpoint(pb::GetCheckpointRequest::default())
            .await
        {
            Ok(r) => {
                let s = note_size(&r.get_ref().checkpoint, vkey)?;
                if s >= size {
                    return Ok(s);
                }
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {}
            Err(s) => return Err(s).context("GetCheckpoint"),
        }
        if Instant::now() > deadline {
            bail!("no checkpoint covering {size} entries within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The JSON result of a fill.
#[derive(Debug, Serialize)]
struct FillResult<'a> {
    kind: &'static str,
    entry_size: usize,
    payload: crate::entries::Payload,
    batch: usize,
    concurrency: usize,
    size_after: u64,
    #[serde(flatten)]
    filled: &'a Filled,
    rounds: Option<RoundStats>,
    cpu: CpuUse,
}

/// Runs `fill` (and, embedded, the restarts and the size).
///
/// # Errors
///
/// When the server cannot be started, filled or reopened.
pub fn run(args: FillArgs, out: &mut Output, _machine: &mut Machine) -> anyhow::Result<bool> {
    let entries = EntryGen::new(args.entry_size, args.payload)?;
    let mut target = Target::new(&args.server)?;
    let client_rt = runtime("bench-client", args.server.client_threads)?;
    let chs = client_rt.block_on(connect(&target.url, args.concurrency.min(4)))?;
    let before = client_rt
        .block_on(wait_checkpoint(
            &chs[0],
            target.vkey.as_ref(),
            0,
            Duration::from_secs(30),
        ))
        .unwrap_or(0);
    eprintln!(
        "vellum-bench: filling {} entries of {} B ({} per call, {} calls in flight) into {}",
        thousands(args.entries as f64),
        args.entry_size,
        args.batch,
        args.concurrency,
        target
            .data()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| target.url.clone())
    );
    let (s0, c0) = (target.stats(), CpuSample::now());
    let filled = match (target.log().cloned(), &target.embedded) {
        (Some(log), Some(e)) => e.rt.block_on(fill(
            &Sink::Log(log),
            &entries,
            args.entries,
            args.batch,
            args.concurrency,
            args.progress_every,
        ))?,
        _ => client_rt.block_on(fill(
            &Sink::Grpc(chs.clone()),
            &entries,
            args.entries,
            args.batch,
            args.concurrency,
            args.progress_every,
        ))?,
    };
    let (s1, c1) = (target.stats(), CpuSample::now());
    let size_after = client_rt.block_on(wait_checkpoint(
        &chs[0],
        target.vkey.as_ref(),
        before + args.entries,
        Duration::from_secs(120),
    ))?;
    drop(chs);
    let rounds = s0.zip(s1).map(|(a, b)| b.since(&a, filled.seconds));
    out.result(&FillResult {
        kind: "fill",
        entry_size: args.entry_size,
        payload: args.payload,
        batch: args.batch,
        concurrency: args.concurrency,
        size_after,
        filled: &filled,
        rounds: rounds.clone(),
        cpu: c1.since(&c0),
    });
    let mut lines = vec![format!(
        "{} entries in {:.1} s: {} entries/s; log size now {}",
        thousands(filled.entries as f64),
        filled.seconds,
        thousands(filled.entries_per_sec),
        thousands(size_after as f64)
    )];
    if !filled.segment_rates.is_empty() {
        let r: Vec<String> = filled.segment_rates.iter().map(|r| thousands(*r)).collect();
        lines.push(format!("entries/s per progress segment: {}", r.join(", ")));
    }
    if let Some(r) = &rounds {
        lines.push(format!(
            "rounds: {} ({:.1} entries/round, {:.2} ms/round, sequencer busy {:.0}%)",
            r.rounds,
            r.entries_per_round,
            r.round_ms,
            r.round_busy * 100.0
        ));
    }
    lines.push(crate::append::cpu_line(&c1.since(&c0)));
    out.section("fill", lines);

    let Some(opts) = target.embedded.as_ref().map(|e| e.opts.clone()) else {
        return Ok(true);
    };
    target.stop()?;
    if args.restarts == 0 {
        return Ok(true);
    }
    let mut reopen = opts.clone();
    reopen.store.create_if_missing = false;
    let rt = runtime("bench-server", args.server.server_threads)?;
    let r1 = restarts(&rt, &reopen, args.restarts, "after_fill")?;
    out.result(&r1);
    out.section(
        "restart after the fill (the first replays the WAL the fill left unflushed)",
        restart_lines(&r1),
    );
    eprintln!(
        "vellum-bench: flushing{} the store to measure its size",
        if args.no_compact {
            ""
        } else {
            " and compacting"
        }
    );
    let s = size(
        &reopen.data,
        &reopen.store,
        args.entry_size,
        !args.no_compact,
    )?;
    out.result(&s);
    out.section("size", size_lines(&s));
    let r2 = restarts(&rt, &reopen, args.restarts, "after_compaction")?;
    out.result(&r2);
    out.section("restart after the flush/compaction", restart_lines(&r2));
    Ok(true)
}

/// `Sink` for the proofs run's fill, chosen like `fill` does.
pub fn sink_for(target: &Target, chs: &[Channel]) -> Sink {
    match target.log() {
        Some(log) => Sink::Log(log.clone()),
        None => Sink::Grpc(chs.to_vec()),
    }
}
