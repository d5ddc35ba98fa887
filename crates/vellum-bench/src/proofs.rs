//! `proofs`: inclusion proofs served per second, by random index at the
//! latest checkpoint, on a log filled first.
//!
//! A sample of the answers is kept and verified after the run (outside the
//! timed part): the entry is read back with `GetEntries`, and its proof
//! must lead to the root of the checkpoint that came with the answer,
//! whose signature must verify.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Serialize;
use tonic::transport::Channel;
use vellum_proto::v1 as pb;
use vellum_proto::v1::get_inclusion_proof_request::Leaf;

use crate::append::{baseline_row, cpu_line};
use crate::baseline;
use crate::cli::ProofsArgs;
use crate::entries::{EntryGen, random_u64};
use crate::fill::{fill, sink_for, wait_checkpoint};
use crate::machine::{CpuSample, Machine};
use crate::report::{Output, Row, thousands};
use crate::schedule::Schedule;
use crate::stats::{Latency, Recorder, Window};
use crate::target::{Target, connect, log_client, runtime};
use crate::verify::Verifier;

/// Answers kept for verification, at most.
const MAX_SAMPLES: usize = 2000;

/// An answer kept for verification.
struct Sample {
    index: u64,
    resp: pb::GetInclusionProofResponse,
}

async fn caller(
    ch: Channel,
    size: u64,
    schedule: Schedule,
    window: Window,
    keep_every: u64,
    seed: u64,
) -> (Recorder, Vec<Sample>) {
    let mut client = log_client(&ch);
    let mut rec = Recorder::new(window);
    let mut samples = Vec::new();
    let mut x = seed | 1;
    let mut n = 0u64;
    while let Some(slot) = schedule.next(&mut rec).await {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % size;
        let origin = slot.origin();
        let r = client
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf: Some(Leaf::Index(index)),
                tree_size: 0,
            })
            .await;
        let done = Instant::now();
        match r {
            Ok(resp) => {
                rec.ok(origin, done, 1);
                if keep_every > 0
                    && n.is_multiple_of(keep_every)
                    && samples.len() < MAX_SAMPLES / 16
                {
                    samples.push(Sample {
                        index,
                        resp: resp.into_inner(),
                    });
                }
            }
            Err(s) => rec.error(origin, s.code()),
        }
        n += 1;
    }
    (rec, samples)
}

async fn verify_samples(
    ch: &Channel,
    verifier: &Verifier,
    samples: &[Sample],
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let mut client = log_client(ch);
    for s in samples {
        let entry = client
            .get_entries(pb::GetEntriesRequest {
                start: s.index,
                count: 1,
            })
            .await
            .context("reading an entry back to verify its proof")?
            .into_inner()
            .entries
            .into_iter()
            .next();
        let Some(entry) = entry else {
            rec.invalid(format!("entry {} could not be read back", s.index));
            continue;
        };
        let check = verifier
            .checkpoint(&s.resp.checkpoint)
            .and_then(|(size, root)| {
                if size.get() != s.resp.tree_size {
                    return Err(format!(
                        "answer for size {} came with a checkpoint of size {size}",
                        s.resp.tree_size
                    ));
                }
                if s.resp.index != s.index {
                    return Err(format!(
                        "asked for index {}, answered {}",
                        s.index, s.resp.index
                    ));
                }
                verifier.inclusion(&entry, s.index, &s.resp.proof, size, &root)
            });
        match check {
            Ok(()) => rec.verified += 1,
            Err(why) => rec.invalid(why),
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ProofsResult<'a> {
    kind: &'static str,
    tree_size: u64,
    filled: u64,
    fill_entries_per_sec: Option<f64>,
    concurrency: usize,
    connections: usize,
    offered_per_sec: Option<u64>,
    duration_s: f64,
    proofs_per_sec: f64,
    latency: Latency,
    errors: &'a std::collections::BTreeMap<String, u64>,
    verified: u64,
    invalid: u64,
    invalid_reasons: &'a [String],
    cpu: crate::machine::CpuUse,
}

/// Runs `proofs`; `Ok(false)` when an answer failed its checks.
///
/// # Errors
///
/// When the server cannot be started, filled or reached.
pub fn run(args: ProofsArgs, out: &mut Output, _machine: &mut Machine) -> anyhow::Result<bool> {
    ensure!(
        args.run.concurrency >= 1,
        "--concurrency must be at least 1"
    );
    let client_rt = runtime("bench-client", args.server.client_threads)?;
    let target = Target::new(&args.server)?;
    if target.vkey.is_none() && args.run.verify_every > 0 {
        bail!("proofs against --server needs --vkey to verify answers (or --verify-every 0)");
    }
    let connections = args
        .run
        .connections
        .unwrap_or(args.run.concurrency.min(4))
        .max(1);
    let chs = client_rt.block_on(connect(&target.url, connections))?;
    let before = client_rt
        .block_on(wait_checkpoint(
            &chs[0],
            target.vkey.as_ref(),
            0,
            Duration::from_secs(30),
        ))
        .unwrap_or(0);
    let mut fill_rate = None;
    if args.fill > 0 {
        let entries = EntryGen::new(args.entry_size, args.payload)?;
        let sink = sink_for(&target, &chs);
        eprintln!(
            "vellum-bench: filling {} entries",
            thousands(args.fill as f64)
        );
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
        fill_rate = Some(f.entries_per_sec);
    }
    let size = client_rt.block_on(wait_checkpoint(
        &chs[0],
        target.vkey.as_ref(),
        before + args.fill,
        Duration::from_secs(120),
    ))?;
    ensure!(size > 0, "the log is empty: give --fill N");

    let grpc = if args.baselines {
        Some(client_rt.block_on(baseline::grpc_health(
            &chs,
            args.run.concurrency,
            args.run.warmup.min(Duration::from_secs(1)),
            args.run.duration,
        ))?)
    } else {
        None
    };

    eprintln!(
        "vellum-bench: inclusion proofs at size {}, {} callers",
        thousands(size as f64),
        args.run.concurrency
    );
    let (rec, samples, window, cpu) = client_rt.block_on(async {
        let window = Window::after(args.run.warmup, args.run.duration);
        let schedule = if args.run.rate == 0 {
            Schedule::closed(window.end)
        } else {
            Schedule::open(
                Instant::now(),
                window.end,
                args.run.rate as f64,
                args.run.drain,
            )?
        };
        let cpu = tokio::spawn(async move {
            tokio::time::sleep_until(window.start.into()).await;
            let c0 = CpuSample::now();
            tokio::time::sleep_until(window.end.into()).await;
            CpuSample::now().since(&c0)
        });
        let seed = random_u64();
        let tasks: Vec<_> = (0..args.run.concurrency)
            .map(|i| {
                tokio::spawn(caller(
                    chs[i % chs.len()].clone(),
                    size,
                    schedule.clone(),
                    window,
                    args.run.verify_every,
                    seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                ))
            })
            .collect();
        let mut all = Recorder::new(window);
        let mut samples = Vec::new();
        for t in tasks {
            let (r, s) = t.await.context("a caller failed")?;
            all.merge(r);
            samples.extend(s);
        }
        let cpu = cpu.await.context("the CPU watcher failed")?;
        anyhow::Ok((all, samples, window, cpu))
    })?;
    let mut rec = rec;
    if let Some(k) = &target.vkey {
        let verifier = Arc::new(Verifier::new(k.clone()));
        client_rt.block_on(verify_samples(&chs[0], &verifier, &samples, &mut rec))?;
    }
    let secs = window.len().as_secs_f64();
    out.result(&ProofsResult {
        kind: "proofs",
        tree_size: size,
        filled: args.fill,
        fill_entries_per_sec: fill_rate,
        concurrency: args.run.concurrency,
        connections,
        offered_per_sec: (args.run.rate > 0).then_some(args.run.rate),
        duration_s: secs,
        proofs_per_sec: rec.ok_items as f64 / secs,
        latency: rec.latency(),
        errors: &rec.errors,
        verified: rec.verified,
        invalid: rec.invalid,
        invalid_reasons: &rec.invalid_reasons,
        cpu: cpu.clone(),
    });
    out.row(Row::from_recorder(
        format!("inclusion proofs c={} size={}", args.run.concurrency, size),
        (args.run.rate > 0).then_some(args.run.rate as f64),
        &rec,
        secs,
    ));
    let mut lines = Vec::new();
    if let Some(g) = &grpc {
        out.result(g);
        out.row(baseline_row(
            &format!("bare gRPC health c={}", args.run.concurrency),
            g,
        ));
        lines.push(format!(
            "proofs / bare gRPC unary calls (calls/s): {:.2}",
            rec.ok_calls as f64 / secs / g.calls_per_sec.max(1e-9)
        ));
    }
    lines.push(format!("{} ({connections} connections)", target.url));
    lines.push(cpu_line(&cpu));
    lines.push(format!(
        "answers verified after the run (entry read back, signature, proof): {}; invalid: {}",
        rec.verified, rec.invalid
    ));
    for r in &rec.invalid_reasons {
        lines.push(format!("INVALID: {r}"));
    }
    out.section("proofs", lines);
    drop(chs);
    drop(target);
    Ok(rec.invalid == 0)
}
