//! The detectors' task: it feeds `vellum_guard::Detectors` with what the
//! server sequences (each recorder's tap), what it refuses (the access
//! layer's tap) and, once a second, the integrity signals it polls from
//! the logs' counters (a witness that has seen a larger tree, the signer
//! failing, the self-audit failing, a checkpoint that does not come while
//! entries wait, the clock behind the last recorded event), and raises
//! every alert they return.
//!
//! Nothing here is on the sequencing path: the taps never wait, and this
//! task only reads counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vellum_event::OutcomeResult;
use vellum_guard::{Alert, Detectors, Observation, Observed, Outcome, Refusal as Refused};
use vellum_log::Log;

use super::alerts::{Alerts, RaisedAlert, SUBMITTER, now_ms};
use crate::access::{AccessStats, Refusal};
use crate::events::{Recorder, Sequenced};

/// Events per privileged action read from the index at start.
const SEED_PER_ACTION: usize = 1000;

/// Tells the new-privileged-actor detector who did each privileged action
/// before this start: the newest [`SEED_PER_ACTION`] events of each
/// action named literally in its patterns (a pattern with `*` or `?`
/// cannot be looked up; its actors are learnt as they act, and the first
/// act of each after a restart may alert again).
pub(crate) async fn seed_privileged(
    d: &mut Detectors,
    cfg: &vellum_guard::GuardConfig,
    logs: &[(String, Log, Option<Recorder>)],
) {
    let c = &cfg.new_privileged_actor;
    if !c.enabled {
        return;
    }
    let literal = c.actions.iter().filter(|a| !a.contains(['*', '?']));
    for action in literal {
        for (name, log, recorder) in logs {
            let Some(r) = recorder else { continue };
            let below = log.committed().size.get();
            let select = crate::events::Select::Action(action.clone());
            let found = match r.lookup(&select, None, None, below, SEED_PER_ACTION).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(log = %name, %action, error = %e, "cannot seed the privileged actors");
                    continue;
                }
            };
            for i in found {
                let Ok(index) = vellum_merkle::LeafIndex::new(i) else {
                    continue;
                };
                let Ok(entries) = log.entries(index, 1).await else {
                    continue;
                };
                if let Some(r) = entries
                    .first()
                    .and_then(|b| vellum_event::Recorded::parse(b).ok())
                {
                    d.seed_privileged(&r.event().actor().id, action);
                }
            }
        }
    }
}

/// Events waiting for the detectors; beyond this the taps drop (counted).
const TAP_QUEUE: usize = 65_536;

/// What the task polls, per log.
struct Polled {
    name: String,
    log: Log,
    /// Per witness: the largest conflict size already reported.
    conflicts: Vec<u64>,
    signer_failures: u64,
    self_audit_reported: bool,
    /// The published size, and when it last changed (ms).
    published: (u64, u64),
}

/// Starts the detectors for `logs` (their recorders tapped) and the access
/// layer's refusals, raising into `alerts`.
pub(crate) fn start(
    mut detectors: Detectors,
    alerts: Alerts,
    logs: Vec<(String, Log, Option<Recorder>)>,
    access: &Arc<AccessStats>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::Sender<oneshot::Sender<()>>,
) {
    let (flush_tx, flush_rx) = mpsc::channel(1);
    let (seq_tx, seq_rx) = mpsc::channel(TAP_QUEUE);
    let (ref_tx, ref_rx) = mpsc::channel(TAP_QUEUE);
    for (_, _, r) in &logs {
        if let Some(r) = r {
            r.set_tap(seq_tx.clone());
        }
    }
    let _ = access.tap.set(ref_tx);
    let polled = logs
        .into_iter()
        .map(|(name, log, _)| {
            let st = log.stats();
            Polled {
                conflicts: st
                    .witnesses
                    .iter()
                    .map(|w| w.conflict_beyond.load(Ordering::Relaxed))
                    .collect(),
                signer_failures: st.signer_failures.load(Ordering::Relaxed),
                self_audit_reported: false,
                published: (log.published().map_or(0, |p| p.size.get()), now_ms()),
                name,
                log,
            }
        })
        .collect();
    let task = tokio::spawn(async move {
        let mut task = Task {
            alerts,
            polled,
            last_received_ms: 0,
        };
        task.run(&mut detectors, seq_rx, ref_rx, flush_rx).await;
    });
    (task, flush_tx)
}

struct Task {
    alerts: Alerts,
    polled: Vec<Polled>,
    /// The latest `received_at` seen: the clock must not go behind it.
    last_received_ms: u64,
}

impl Task {
    async fn run(
        &mut self,
        d: &mut Detectors,
        mut seq: mpsc::Receiver<Sequenced>,
        mut refused: mpsc::Receiver<Refusal>,
        mut flush: mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let found = tokio::select! {
                Some(s) = seq.recv() => self.sequenced(d, s),
                Some(r) = refused.recv() => {
                    let reason = match r.identity {
                        Some(_) => Refused::PermissionDenied,
                        None => Refused::Unauthenticated,
                    };
                    let what = Observed::Refused {
                        identity: r.identity,
                        address: r.address,
                        reason,
                    };
                    d.observe(&Observation { at_ms: now_ms(), what })
                }
                _ = tick.tick() => self.poll(d),
                // The server is stopping (perhaps because a log failed):
                // one last look, so that the cause is raised.
                Some(done) = flush.recv() => {
                    for a in self.poll(d) {
                        self.raise(a);
                    }
                    let _ = done.send(());
                    continue;
                }
            };
            for a in found {
                self.raise(a);
            }
        }
    }

    fn sequenced(&mut self, d: &mut Detectors, s: Sequenced) -> Vec<Alert> {
        // The log's own events (alerts) are not traffic.
        if s.submitter == SUBMITTER {
            return Vec::new();
        }
        self.last_received_ms = self.last_received_ms.max(s.received_at_ms);
        let outcome = match s.outcome {
            OutcomeResult::Success => Outcome::Success,
            OutcomeResult::Failure => Outcome::Failure,
            OutcomeResult::Denied => Outcome::Denied,
        };
        d.observe(&Observation {
            at_ms: s.received_at_ms,
            what: Observed::Recorded {
                submitter: s.submitter,
                actor: s.actor,
                action: s.action,
                resource_kind: s.resource.0,
                resource_id: s.resource.1,
                outcome,
            },
        })
    }

    /// The integrity signals, then the detectors' clock.
    fn poll(&mut self, d: &mut Detectors) -> Vec<Alert> {
        let now = now_ms();
        let mut found = Vec::new();
        let mut see = |what: Observed| found.extend(d.observe(&Observation { at_ms: now, what }));
        for p in &mut self.polled {
            let st = p.log.stats();
            let published = p.log.published().map_or(0, |c| c.size.get());
            for (i, w) in st.witnesses.iter().enumerate() {
                let beyond = w.conflict_beyond.load(Ordering::Relaxed);
                if beyond > p.conflicts[i] {
                    p.conflicts[i] = beyond;
                    see(Observed::WitnessConflict {
                        witness: format!("{}/{}", p.name, w.name),
                        log_size: published,
                        witness_size: beyond,
                    });
                }
            }
            let failures = st.signer_failures.load(Ordering::Relaxed);
            if failures > p.signer_failures {
                p.signer_failures = failures;
                let error = st
                    .last_signer_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_default();
                see(Observed::SignerRefused {
                    error: format!("log {}: {error}", p.name),
                });
            }
            if !p.self_audit_reported
                && let Some(finding) = self_audit_failure(&p.log)
            {
                p.self_audit_reported = true;
                see(Observed::SelfAuditFailed {
                    finding: format!("log {}: {finding}", p.name),
                });
            }
            if published != p.published.0 {
                p.published = (published, now);
            }
            let waiting = p.log.committed().size.get().saturating_sub(published);
            if waiting > 0 {
                see(Observed::Stale {
                    checkpoint_age_ms: now.saturating_sub(p.published.1),
                    waiting_entries: waiting,
                });
            }
        }
        if now < self.last_received_ms {
            see(Observed::ClockBackwards {
                last_ms: self.last_received_ms,
                now_ms: now,
            });
        }
        found.extend(d.tick(now));
        found
    }

    fn raise(&self, a: Alert) {
        self.alerts.raise(RaisedAlert {
            kind: a.kind.as_str().to_owned(),
            subject: a.subject,
            at_ms: a.at_ms,
            evidence: a.evidence,
        });
    }
}

/// The self-audit's finding, if it failed.
fn self_audit_failure(log: &Log) -> Option<String> {
    log.self_audit().failed
}
