//! The figures of each log: its queue and rounds, its checkpoints, its
//! witnesses, its storage engine and, for an events log, its events.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::DescriptorEncoder;
use vellum_log::latency::LatencyHistogram;

use super::encode::{Histogram, Kind, Labels, family, histograms};
use super::{MetricsLog, load};

/// A log, and when its published checkpoint last changed.
#[derive(Debug)]
pub(super) struct Watched {
    pub(super) m: MetricsLog,
    /// The published checkpoint's size, and when it was published.
    published: Mutex<(u64, Instant)>,
}

impl Watched {
    /// Starts following the log's published checkpoint (its age: each new
    /// checkpoint resets it). The follower ends with the log or the route.
    pub(super) fn start(m: MetricsLog) -> Arc<Watched> {
        let size = m.log.published().map_or(0, |p| p.size.get());
        let mut published = m.log.subscribe_published();
        let w = Arc::new(Watched {
            m,
            published: Mutex::new((size, Instant::now())),
        });
        let watched = Arc::downgrade(&w);
        tokio::spawn(async move {
            while published.changed().await.is_ok() {
                let size = published.borrow().as_ref().map_or(0, |p| p.size.get());
                let Some(w) = watched.upgrade() else { return };
                *w.published.lock().unwrap_or_else(|e| e.into_inner()) = (size, Instant::now());
            }
        });
        w
    }

    pub(super) fn labels(&self) -> Labels {
        vec![("log", self.m.name.clone())]
    }

    pub(super) fn with(&self, k: &'static str, v: &str) -> Labels {
        vec![("log", self.m.name.clone()), (k, v.to_owned())]
    }
}

/// Bounds of the duration histograms: 2^k microseconds, from 64 µs to
/// about 17 s, by powers of four.
const DURATION_POWERS: [u32; 10] = [6, 8, 10, 12, 14, 16, 18, 20, 22, 24];

fn durations(h: &LatencyHistogram) -> Histogram {
    let snap = h.snapshot();
    Histogram {
        sum: h.sum().as_secs_f64(),
        count: snap.count(),
        buckets: snap
            .power_of_two_buckets(&DURATION_POWERS)
            .into_iter()
            .map(|(b, n)| (b.map(|us| us as f64 / 1e6), n))
            .collect(),
    }
}

/// Every log's figures, one family at a time.
pub(super) fn encode(e: &mut DescriptorEncoder<'_>, logs: &[Arc<Watched>]) -> std::fmt::Result {
    let each = |f: &dyn Fn(&Watched) -> u64| -> Vec<(Labels, u64)> {
        logs.iter().map(|w| (w.labels(), f(w))).collect()
    };
    let counter = |e: &mut DescriptorEncoder<'_>, name, help, f: &dyn Fn(&Watched) -> u64| {
        family(e, name, help, Kind::Counter, each(f))
    };
    let gauge = |e: &mut DescriptorEncoder<'_>, name, help, f: &dyn Fn(&Watched) -> u64| {
        family(e, name, help, Kind::Gauge, each(f))
    };
    counter(
        e,
        "vellum_append_calls",
        "Append calls accepted into the queue.",
        &|w| load(&w.m.log.stats().accepted),
    )?;
    counter(
        e,
        "vellum_append_refused_full",
        "Append calls shed at once (RESOURCE_EXHAUSTED) for lack of queue space or by expected wait.",
        &|w| load(&w.m.log.stats().pushbacks),
    )?;
    counter(
        e,
        "vellum_entries_answered",
        "Entries answered by sequencing rounds, duplicates included.",
        &|w| load(&w.m.log.stats().round_entries),
    )?;
    counter(
        e,
        "vellum_entries_duplicate",
        "Entries that were already in the log.",
        &|w| load(&w.m.log.stats().duplicates),
    )?;
    counter(e, "vellum_rounds", "Sequencing rounds committed.", &|w| {
        load(&w.m.log.stats().rounds)
    })?;
    histograms(
        e,
        "vellum_round_duration_seconds",
        "Duration of sequencing rounds, from taking the queued entries to answering them.",
        logs.iter()
            .map(|w| (w.labels(), durations(&w.m.log.stats().round_duration))),
    )?;
    histograms(
        e,
        "vellum_round_entries",
        "Entries per sequencing round, duplicates included.",
        logs.iter().map(|w| {
            let st = w.m.log.stats();
            let buckets = st.round_sizes.buckets();
            let h = Histogram {
                sum: load(&st.round_entries) as f64,
                count: buckets.iter().map(|(_, n)| n).sum(),
                buckets: buckets
                    .into_iter()
                    .map(|(b, n)| (b.map(|b| b as f64), n))
                    .collect(),
            };
            (w.labels(), h)
        }),
    )?;
    histograms(
        e,
        "vellum_append_sequencing_seconds",
        "Time from an append's acceptance into the queue to its answer: the queue delay plus its round.",
        logs.iter()
            .map(|w| (w.labels(), durations(&w.m.log.stats().sequencing_latency))),
    )?;
    gauge(
        e,
        "vellum_queue_entries",
        "Entries waiting in the append queue.",
        &|w| w.m.log.queued_entries() as u64,
    )?;
    gauge(
        e,
        "vellum_service_rate_entries_per_second",
        "Entries per second the sequencer gets through while it has a backlog (moving average).",
        &|w| load(&w.m.log.stats().service_rate),
    )?;
    gauge(
        e,
        "vellum_tree_size",
        "Entries committed to the tree.",
        &|w| w.m.log.committed().size.get(),
    )?;
    let published = |w: &Watched| *w.published.lock().unwrap_or_else(|p| p.into_inner());
    gauge(
        e,
        "vellum_checkpoint_size",
        "Tree size of the latest published checkpoint.",
        &|w| published(w).0,
    )?;
    family(
        e,
        "vellum_checkpoint_age_seconds",
        "Time since the published checkpoint last changed.",
        Kind::Gauge,
        logs.iter()
            .map(|w| (w.labels(), published(w).1.elapsed().as_secs_f64())),
    )?;
    gauge(
        e,
        "vellum_witnessed_size",
        "Tree size of the latest checkpoint that met the witness policy (0 without witnesses).",
        &|w| w.m.log.witnessed().map_or(0, |p| p.size.get()),
    )?;
    counter(
        e,
        "vellum_witness_rounds",
        "Witness rounds finished.",
        &|w| load(&w.m.log.stats().witness_rounds),
    )?;
    counter(
        e,
        "vellum_witness_rounds_below_policy",
        "Witness rounds whose checkpoint did not meet the policy.",
        &|w| load(&w.m.log.stats().witness_rounds_below_policy),
    )?;
    encode_self_audit(e, logs)?;
    encode_witnesses(e, logs)?;
    encode_engine(e, logs)?;
    encode_events(e, logs)
}

/// The storage engine's figures (what it reports: see
/// [`vellum_store::EngineStats`]). Figures of the database as a whole
/// (stalls, compactions) repeat for each log it holds.
fn encode_engine(e: &mut DescriptorEncoder<'_>, logs: &[Arc<Watched>]) -> std::fmt::Result {
    let stats: Vec<(Labels, vellum_store::EngineStats)> = logs
        .iter()
        .filter_map(|w| Some((w.labels(), w.m.log.store().engine_stats()?)))
        .collect();
    let each = |f: fn(&vellum_store::EngineStats) -> Option<u64>| {
        stats
            .iter()
            .filter_map(move |(l, s)| Some((l.clone(), f(s)?)))
    };
    family(
        e,
        "vellum_storage_write_stopped",
        "1 while the storage engine stops writes (a write stall), else 0.",
        Kind::Gauge,
        each(|s| s.write_stopped.map(u64::from)),
    )?;
    family(
        e,
        "vellum_storage_delayed_write_rate_bytes_per_second",
        "The rate the storage engine slows writes to (0: not slowed).",
        Kind::Gauge,
        each(|s| s.delayed_write_rate),
    )?;
    family(
        e,
        "vellum_storage_pending_compaction_bytes",
        "Bytes the storage engine estimates compaction must still rewrite for the log.",
        Kind::Gauge,
        each(|s| s.pending_compaction_bytes),
    )?;
    family(
        e,
        "vellum_storage_running_compactions",
        "Compactions running now in the log's database.",
        Kind::Gauge,
        each(|s| s.running_compactions),
    )?;
    family(
        e,
        "vellum_storage_data_bytes",
        "Bytes of the log's data files on disk.",
        Kind::Gauge,
        each(|s| s.data_bytes),
    )?;
    family(
        e,
        "vellum_storage_memtable_bytes",
        "Bytes of the log held in memory, not yet in data files (durable in the write-ahead log).",
        Kind::Gauge,
        each(|s| s.memtable_bytes),
    )
}

/// Events logs' figures: what became of the events submitted.
fn encode_events(e: &mut DescriptorEncoder<'_>, logs: &[Arc<Watched>]) -> std::fmt::Result {
    let events: Vec<(&Watched, &crate::events::EventStats)> = logs
        .iter()
        .filter_map(|w| Some((&**w, w.m.events.as_deref()?)))
        .collect();
    family(
        e,
        "vellum_events_recorded",
        "Audit events recorded (appended), by their outcome.",
        Kind::Counter,
        events.iter().flat_map(|(w, s)| {
            s.recorded()
                .map(|(o, n)| (w.with("outcome", o.as_str()), n))
        }),
    )?;
    family(
        e,
        "vellum_events_duplicate",
        "Audit events retried and answered with their first index.",
        Kind::Counter,
        events
            .iter()
            .map(|(w, s)| (w.labels(), s.duplicates.load(Ordering::Relaxed))),
    )?;
    family(
        e,
        "vellum_events_missed_by_detectors",
        "Recorded events the anomaly detectors did not see because they were behind (the events are recorded all the same).",
        Kind::Counter,
        events
            .iter()
            .map(|(w, s)| (w.labels(), s.tap_missed.load(Ordering::Relaxed))),
    )?;
    family(
        e,
        "vellum_events_refused",
        "Audit events not recorded: invalid (INVALID_ARGUMENT), or failed (the log could not take them; the caller retries).",
        Kind::Counter,
        events.iter().flat_map(|(w, s)| {
            [
                (
                    w.with("reason", "invalid"),
                    s.invalid.load(Ordering::Relaxed),
                ),
                (w.with("reason", "failed"), s.failed.load(Ordering::Relaxed)),
            ]
        }),
    )
}

/// Each witness as its log saw it.
fn encode_witnesses(e: &mut DescriptorEncoder<'_>, logs: &[Arc<Watched>]) -> std::fmt::Result {
    let each = |f: fn(&vellum_log::WitnessStats) -> u64| {
        logs.iter().flat_map(move |w| {
            w.m.log
                .stats()
                .witnesses
                .iter()
                .map(move |s| (w.with("witness", &s.name), f(s)))
        })
    };
    family(
        e,
        "vellum_witness_up",
        "1 if the witness's latest request ended in a cosignature, else 0.",
        Kind::Gauge,
        each(|s| load(&s.up)),
    )?;
    family(
        e,
        "vellum_witness_cosigned_size",
        "The largest tree size the witness cosigned for the log since the server started.",
        Kind::Gauge,
        each(|s| load(&s.cosigned_size)),
    )?;
    family(
        e,
        "vellum_witness_last_cosigned_timestamp_seconds",
        "When the witness last cosigned, in seconds since the Unix epoch (0: not since the server started).",
        Kind::Gauge,
        each(|s| load(&s.last_cosigned_unix)),
    )?;
    family(
        e,
        "vellum_witness_requests",
        "Requests to the witness, by result: cosigned, conflict (it holds another size), failed, timeout.",
        Kind::Counter,
        logs.iter().flat_map(|w| {
            w.m.log.stats().witnesses.iter().flat_map(move |s| {
                [
                    ("cosigned", &s.cosigned),
                    ("conflict", &s.conflicts),
                    ("failed", &s.failed),
                    ("timeout", &s.timed_out),
                ]
                .map(|(r, c)| {
                    let mut l = w.with("witness", &s.name);
                    l.push(("result", r.to_owned()));
                    (l, load(c))
                })
            })
        }),
    )
}

/// The self-audit's progress, for the logs that run it.
fn encode_self_audit(e: &mut DescriptorEncoder<'_>, logs: &[Arc<Watched>]) -> std::fmt::Result {
    let audits: Vec<(Labels, vellum_log::SelfAuditStatus)> = logs
        .iter()
        .map(|w| (w.labels(), w.m.log.self_audit()))
        .filter(|(_, s)| s.enabled)
        .collect();
    let each = |f: fn(&vellum_log::SelfAuditStatus) -> u64| {
        audits.iter().map(move |(l, s)| (l.clone(), f(s)))
    };
    family(
        e,
        "vellum_self_audit_pass",
        "The self-audit's pass under way (from 1): each pass re-verifies every stored leaf, node and checkpoint.",
        Kind::Gauge,
        each(|s| s.pass),
    )?;
    family(
        e,
        "vellum_self_audit_verified_entries",
        "Entries (and the nodes they complete) verified in the pass under way.",
        Kind::Gauge,
        each(|s| s.verified_up_to),
    )?;
    family(
        e,
        "vellum_self_audit_checkpoints_verified",
        "Stored checkpoints verified in the pass under way.",
        Kind::Gauge,
        each(|s| s.checkpoints_verified),
    )?;
    family(
        e,
        "vellum_self_audit_last_pass_completed_timestamp_seconds",
        "When a self-audit pass last completed (Unix seconds; 0: none yet).",
        Kind::Gauge,
        each(|s| s.last_pass_completed_unix.unwrap_or(0)),
    )?;
    family(
        e,
        "vellum_self_audit_failed",
        "1 once the self-audit found stored data that does not verify (the log stops signing).",
        Kind::Gauge,
        each(|s| u64::from(s.failed.is_some())),
    )
}
