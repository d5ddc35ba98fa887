//! `events`: what the audit-event layer costs, as ratios measured in the
//! same run:
//!
//! * **recorded / raw**: `Record` calls (validation, canonical JSON, the
//!   resource chain, the indexes, the recorder's single writer) against raw
//!   `Append` calls carrying the same canonical bytes, one event or entry
//!   per call, the same number of concurrent callers, each on a fresh
//!   embedded server;
//! * **many logs / one log**: the same `Record` load spread over `--logs`
//!   events logs of one server (`[[logs]]`, each its own store and
//!   recorder), aggregate events/s against one log's;
//! * **detectors on / off**: `Record` with every anomaly detector on and
//!   watching (patterns that match the traffic: its privileged action,
//!   its actors' hours; see [`watching`]) against the same server with
//!   the guard off.
//!
//! Each measurement runs `--runs` times, alternating, so that a slow
//! moment of the shared machine falls on every kind; the report gives the
//! median and range of each, and of the ratios of the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Serialize;
use tonic::metadata::MetadataValue;
use vellum_event::{Actor, Attested, Outcome, OutcomeResult, Prev, Recorded, Resource, Submitted};
use vellum_proto::v1 as pb;
use vellum_server::{LogKind, NamedLog, ServeOptions};

use crate::cli::EventsArgs;
use crate::report::{Output, thousands};
use crate::target::{connect, log_client, runtime};

/// The `n`-th event of caller `caller`: resources repeat (chains grow),
/// actors and actions vary, and every event is distinct.
fn event(caller: usize, n: u64) -> Submitted {
    let resource = (caller as u64 * 7919 + n) % 1000;
    Submitted {
        actor: Actor {
            id: format!("user-{}", (caller as u64 + n) % 200),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: ["document.update", "permission.grant", "document.read"][(n % 3) as usize].into(),
        resource: Resource {
            kind: "document".into(),
            id: format!("doc-{resource}"),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-05T18:30:00.25Z".into(),
        attributes: [("ip".to_owned(), format!("10.0.{}.{}", caller % 256, n % 256))].into(),
        payload: Some(
            format!(r#"{{"before":{{"role":"viewer"}},"after":{{"role":"editor"}},"seq":{n},"caller":{caller}}}"#)
                .into_bytes(),
        ),
        event_id: Some(format!("c{caller}-{n}")),
    }
}

/// The bytes an events log would store for `e` (a `prev` included, as
/// most events have one): what the raw run appends.
fn canonical(e: &Submitted, n: u64) -> anyhow::Result<Bytes> {
    let event = e
        .validate(&vellum_event::Limits::default())
        .context("a generated event does not validate")?;
    let attested = Attested {
        submitter: "anonymous".into(),
        received_at: vellum_event::Timestamp::from_system_time(std::time::SystemTime::now())
            .context("the clock")?,
        prev: Some(Prev {
            index: n,
            leaf_hash: [0xab; 32],
        }),
    };
    let r = Recorded::new(event, attested).context("a generated event does not record")?;
    Ok(Bytes::copy_from_slice(r.canonical_bytes()))
}

/// What one timed window did.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Window {
    /// Events (or entries) acknowledged as durable per second.
    pub per_sec: f64,
    /// Calls that failed.
    pub errors: u64,
}

/// Which load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Load {
    Raw,
    Recorded,
}

/// Starts a server on `opts`, drives `callers` closed-loop callers for
/// `warmup + duration` (spread over `logs`, by the `vellum-log` header),
/// and counts the acknowledgements inside the window.
fn measure(
    opts: ServeOptions,
    load: Load,
    logs: &[String],
    callers: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Window> {
    let server_rt = runtime("bench-server", None)?;
    let running = server_rt
        .block_on(vellum_server::start(opts))
        .context("the embedded server did not start")?;
    let url = format!("http://{}", running.grpc_addr);
    let client_rt = runtime("bench-client", None)?;
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let result = client_rt.block_on(async {
        let channels = connect(&url, callers.min(16)).await?;
        let start = Instant::now();
        let (from, to) = (start + warmup, start + warmup + duration);
        let mut tasks = Vec::with_capacity(callers);
        for caller in 0..callers {
            let mut rpc = log_client(&channels[caller % channels.len()]);
            let log = logs
                .get(caller % logs.len().max(1))
                .map(|l| MetadataValue::try_from(l.as_str()))
                .transpose()
                .context("log name")?;
            let (ok, errors) = (ok.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                loop {
                    let now = Instant::now();
                    if now >= to {
                        return;
                    }
                    let e = event(caller, n);
                    let answer = match load {
                        Load::Recorded => {
                            let mut req = tonic::Request::new(pb::RecordRequest {
                                event: Some((&e).into()),
                                wait: pb::WaitFor::Durable as i32,
                            });
                            if let Some(l) = &log {
                                req.metadata_mut()
                                    .insert(vellum_proto::LOG_HEADER, l.clone());
                            }
                            rpc.record(req).await.map(|_| ())
                        }
                        Load::Raw => match canonical(&e, n) {
                            Err(_) => Err(tonic::Status::internal("bad event")),
                            Ok(bytes) => rpc
                                .append(pb::AppendRequest {
                                    entries: vec![bytes],
                                    wait: pb::WaitFor::Durable as i32,
                                    request_id: n,
                                })
                                .await
                                .map(|_| ()),
                        },
                    };
                    let done = Instant::now();
                    let counted = now >= from && done <= to;
                    match answer {
                        Ok(()) if counted => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(()) => {}
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
            }));
        }
        for t in tasks {
            t.await.context("a caller panicked")?;
        }
        anyhow::Ok(())
    });
    server_rt
        .block_on(running.stop())
        .context("stopping the embedded server")?;
    result?;
    Ok(Window {
        per_sec: ok.load(Ordering::Relaxed) as f64 / duration.as_secs_f64(),
        errors: errors.load(Ordering::Relaxed),
    })
}

/// One run: raw, recorded, many logs, recorded without the guard.
#[derive(Clone, Copy, Debug, Serialize)]
struct Run {
    raw: Window,
    recorded: Window,
    many: Window,
    unguarded: Window,
}

/// Every detector on, with patterns the generated traffic meets: the
/// privileged action it does (`permission.grant`, so each actor's first
/// one alerts), protected resources and watched actors by pattern, and
/// hours that put the watched actors outside them.
fn watching() -> vellum_guard::GuardConfig {
    let mut g = vellum_guard::GuardConfig::default();
    g.protected_resource.resources = vec!["document/doc-99*".into()];
    g.new_privileged_actor.actions = vec!["permission.*".into()];
    g.off_hours.actors = vec!["user-1*".into()];
    g.off_hours.days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map(String::from)
        .to_vec();
    let hour = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        / 3600
        + 2)
        % 24;
    g.off_hours.hours = format!("{hour:02}:00-{:02}:00", (hour + 1) % 24);
    g
}

/// The median and range of `v`.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// Runs `vellum-bench events`.
///
/// # Errors
///
/// A server that does not start or stop, or a run with failed calls.
pub fn run(args: EventsArgs, out: &mut Output) -> anyhow::Result<bool> {
    if args.runs == 0 || args.logs == 0 || args.callers == 0 {
        bail!("--runs, --logs and --callers must be at least 1");
    }
    let tmp = tempfile::Builder::new()
        .prefix("vellum-bench-events-")
        .tempdir()
        .context("cannot create a temp folder")?;
    let opts = |run: usize, what: &str, kind: LogKind, logs: usize| {
        let mut o = ServeOptions::embedded();
        o.guard.detectors = watching();
        o.data = tmp.path().join(format!("{what}-{run}"));
        o.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        o.kind = kind;
        o.tuning.checkpoint_interval = Some(args.checkpoint_interval);
        o.logs = (0..logs)
            .map(|i| {
                let mut l = NamedLog::new(&format!("log-{i:03}"), LogKind::Events);
                l.tuning.checkpoint_interval = Some(args.checkpoint_interval);
                l
            })
            .collect();
        o
    };
    let names: Vec<String> = (0..args.logs).map(|i| format!("log-{i:03}")).collect();
    let mut runs = Vec::new();
    for r in 0..args.runs {
        let (w, d) = (args.warmup, args.duration);
        let raw = measure(
            opts(r, "raw", LogKind::Raw, 0),
            Load::Raw,
            &[],
            args.callers,
            w,
            d,
        )?;
        let recorded = measure(
            opts(r, "recorded", LogKind::Events, 0),
            Load::Recorded,
            &[],
            args.callers,
            w,
            d,
        )?;
        let many = measure(
            opts(r, "many", LogKind::Raw, args.logs),
            Load::Recorded,
            &names,
            args.callers.max(args.logs),
            w,
            d,
        )?;
        let mut off = opts(r, "unguarded", LogKind::Events, 0);
        off.guard.enabled = false;
        let unguarded = measure(off, Load::Recorded, &[], args.callers, w, d)?;
        eprintln!(
            "run {}: raw {}/s, recorded {}/s, {} logs {}/s, recorded without detectors {}/s",
            r + 1,
            thousands(raw.per_sec),
            thousands(recorded.per_sec),
            args.logs,
            thousands(many.per_sec),
            thousands(unguarded.per_sec)
        );
        let run = Run {
            raw,
            recorded,
            many,
            unguarded,
        };
        out.result(&serde_json::json!({"kind": "events-run", "run": r + 1, "figures": run}));
        runs.push(run);
    }
    let line = |name: &str, v: Vec<f64>, ratio: bool| {
        let (m, lo, hi) = spread(v);
        if ratio {
            format!("{name}: median {m:.2} (range {lo:.2} to {hi:.2})")
        } else {
            format!(
                "{name}: median {}/s (range {} to {})",
                thousands(m),
                thousands(lo),
                thousands(hi)
            )
        }
    };
    let pick = |f: fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<_>>();
    let errors: u64 = runs
        .iter()
        .map(|r| r.raw.errors + r.recorded.errors + r.many.errors + r.unguarded.errors)
        .sum();
    out.section(
        &format!(
            "events: {} runs of {:?} (after {:?} warm-up), {} callers, one event per call, wait \
             durable, checkpoint interval {:?}",
            args.runs, args.duration, args.warmup, args.callers, args.checkpoint_interval
        ),
        vec![
            line(
                "raw appends of the same bytes",
                pick(|r| r.raw.per_sec),
                false,
            ),
            line("recorded events", pick(|r| r.recorded.per_sec), false),
            line(
                &format!("{} events logs in one process, aggregate", args.logs),
                pick(|r| r.many.per_sec),
                false,
            ),
            line(
                "recorded / raw (same run)",
                pick(|r| r.recorded.per_sec / r.raw.per_sec.max(1e-9)),
                true,
            ),
            line(
                &format!("{} logs / one log (same run)", args.logs),
                pick(|r| r.many.per_sec / r.recorded.per_sec.max(1e-9)),
                true,
            ),
            line(
                "recorded without detectors",
                pick(|r| r.unguarded.per_sec),
                false,
            ),
            line(
                "detectors on / off (same run)",
                pick(|r| r.recorded.per_sec / r.unguarded.per_sec.max(1e-9)),
                true,
            ),
            format!("failed calls: {errors}"),
        ],
    );
    Ok(errors == 0)
}
