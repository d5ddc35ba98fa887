//! The injected anomalies: when each starts (planned before the run) and
//! what it is (decided when it starts, from what the run has seen so far:
//! a rate spike is given to an actor whose baseline is warm, since a key
//! still in its warm-up is, by design, not judged).
//!
//! | kind | what is injected | length |
//! |---|---|---|
//! | rate_spike_actor | an actor seen for 13+ minutes (not staff or admin, at most 20 events/min) sends 5x its rate more, at least 60/min and at most what its submitter's threshold absorbs | 4 min |
//! | rate_spike_submitter | a submitter sends its rate again, through 40 new actors (still in warm-up) | 4 min |
//! | protected_resource | one to three `secret.read` on `secret/vault-N` | 30 s |
//! | new_privileged_actor | an unseeded actor does one privileged action | one event |
//! | denied_burst_identity | 40 denials in 60 s: recorded events of a new actor, or refusals of a token from 20 addresses | 60 s |
//! | denied_burst_address | 60 refusals in 60 s from one address: unauthenticated, or a token spray over 30 identities | 60 s |
//! | off_hours | one to three events of a staff member after 18:00 UTC (19:00 at +01:00) | 30 s |
//! | witness_conflict | three reports of a witness cosigning a larger tree | 60 s |
//! | signer_refused | five refusals | 60 s |
//! | self_audit_failed | three findings | 30 s |
//! | stale_checkpoint | no checkpoint for 4 minutes while entries wait; the anomaly starts when the age passes `max_age` | 4 min |
//! | clock_backwards | one step back of 2 to 60 s | one report |

use std::net::IpAddr;

use serde::Serialize;

use super::{MINUTE_MS, MONDAY_18H_MS, Spec, Workload};
use crate::config::ms;
use crate::{AlertKind, Observed, Outcome, Refusal};

/// One injected anomaly: the truth alerts are scored against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Injected {
    /// The detector that should see it.
    pub kind: AlertKind,
    /// The subject its alert should name.
    pub subject: String,
    /// When it became an anomaly (Unix ms, simulated).
    pub start_ms: u64,
    /// When its last observation was (Unix ms, simulated).
    pub end_ms: u64,
}

/// An injection planned at a time.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub at_ms: u64,
    pub kind: AlertKind,
    /// Its number among its kind.
    pub n: usize,
    /// Set when planned (submitters, witnesses and the fixed subjects).
    pub subject: Option<String>,
}

/// How long an injection of `kind` lasts.
fn length_ms(kind: AlertKind) -> u64 {
    match kind {
        AlertKind::RateSpikeActor | AlertKind::RateSpikeSubmitter | AlertKind::StaleCheckpoint => {
            4 * MINUTE_MS
        }
        AlertKind::DeniedBurstIdentity
        | AlertKind::DeniedBurstAddress
        | AlertKind::WitnessConflict
        | AlertKind::SignerRefused => MINUTE_MS,
        AlertKind::ProtectedResource | AlertKind::OffHours | AlertKind::SelfAuditFailed => 30_000,
        AlertKind::NewPrivilegedActor | AlertKind::ClockBackwards => 0,
    }
}

/// The subjects chosen when planning, reused no sooner than the cooldown
/// allows; `None`: a fresh subject each time, chosen when it starts.
fn pool(w: &Workload, kind: AlertKind) -> Option<Vec<String>> {
    Some(match kind {
        AlertKind::RateSpikeSubmitter => w.submitters.clone(),
        AlertKind::WitnessConflict => (1..=3).map(|i| format!("witness-{i}")).collect(),
        AlertKind::SignerRefused => vec!["signer".into()],
        AlertKind::SelfAuditFailed => vec!["self_audit".into()],
        AlertKind::StaleCheckpoint => vec!["checkpoint".into()],
        AlertKind::ClockBackwards => vec!["clock".into()],
        _ => return None,
    })
}

/// Plans up to `spec.injections` injections of every kind, in time order.
pub(super) fn plan(w: &mut Workload, spec: &Spec) -> Vec<Plan> {
    let cfg = Spec::config();
    let cooldowns = cfg.cooldowns_ms();
    let from = w.start_ms + 15 * MINUTE_MS;
    let to = w.end_ms - 5 * MINUTE_MS;
    let mut plans = Vec::new();
    for kind in AlertKind::ALL {
        // Off-hours activity needs the hours to be over.
        let from = if kind == AlertKind::OffHours {
            from.max(MONDAY_18H_MS + MINUTE_MS)
        } else {
            from
        };
        let len = length_ms(kind);
        let n = spec.injections;
        if n == 0 || to <= from + len {
            continue;
        }
        let slot = (to - len - from) / n as u64;
        let pool = pool(w, kind);
        // When each subject of the pool may be used again.
        let mut free_at = vec![0u64; pool.as_ref().map_or(0, Vec::len)];
        for i in 0..n {
            let at = from + i as u64 * slot + w.injector.below(slot.max(1));
            let subject = match &pool {
                None => None,
                Some(pool) => {
                    let pick = (0..pool.len())
                        .map(|k| (i + k) % pool.len())
                        .find(|&k| free_at[k] <= at);
                    let Some(k) = pick else { continue };
                    // The alert can come as late as the end; its cooldown
                    // runs from there.
                    free_at[k] = at + len + cooldowns[kind.index()] + MINUTE_MS;
                    Some(pool[k].clone())
                }
            };
            plans.push(Plan {
                at_ms: at,
                kind,
                n: i,
                subject,
            });
        }
    }
    plans.sort_by_key(|p| (p.at_ms, p.kind));
    plans
}

/// An actor for an injection: not staff, not admin, not used before, and
/// passing `ok`; `None` if there is none.
fn pick_actor(w: &mut Workload, ok: impl Fn(&Workload, usize) -> bool) -> Option<usize> {
    let candidates: Vec<usize> = (0..w.actors.len())
        .filter(|&i| {
            let a = &w.actors[i];
            !a.admin && !a.staff && !w.used_actors[i] && ok(w, i)
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let i = candidates[w.injector.below(candidates.len() as u64) as usize];
    w.used_actors[i] = true;
    Some(i)
}

/// A recorded event of the injector's own.
fn recorded(
    submitter: &str,
    actor: &str,
    action: &str,
    resource: (&str, &str),
    outcome: Outcome,
) -> Observed {
    Observed::Recorded {
        submitter: submitter.to_owned(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        resource_kind: resource.0.to_owned(),
        resource_id: resource.1.to_owned(),
        outcome,
    }
}

/// `count` times spread uniformly over `[at, at + len)`.
fn times(w: &mut Workload, at: u64, len: u64, count: usize) -> Vec<u64> {
    (0..count)
        .map(|_| at + w.injector.below(len.max(1)))
        .collect()
}

/// The earliest of `times` (`or` if none): when an anomaly of single
/// events begins.
fn first(times: &[u64], or: u64) -> u64 {
    times.iter().copied().min().unwrap_or(or)
}

/// Starts `plan`: queues its observations and records what was injected.
pub(super) fn start(w: &mut Workload, plan: &Plan) {
    let at = plan.at_ms;
    let n = plan.n;
    let len = length_ms(plan.kind);
    let fixed = plan.subject.clone().unwrap_or_default();
    let (subject, start_ms) = match plan.kind {
        AlertKind::RateSpikeActor => {
            let warm_before = at.saturating_sub(13 * MINUTE_MS);
            let Some(i) = pick_actor(w, |w, i| {
                w.first_seen[i] <= warm_before && w.actors[i].per_min <= 20.0
            }) else {
                return;
            };
            let (per_min, submitter) = (w.actors[i].per_min, w.actors[i].submitter);
            // Most the submitter's threshold absorbs: 0.4 of its margin of
            // six standard deviations.
            let cap = (2.4 * w.submitter_per_min[submitter].sqrt()).max(60.0);
            let extra_per_min = (5.0 * per_min).clamp(60.0, cap);
            let mut t = at as f64;
            loop {
                t += w.injector.exp(extra_per_min / MINUTE_MS as f64);
                if t >= (at + len) as f64 {
                    break;
                }
                let what = w.event(i, true);
                w.push(t as u64, what);
            }
            (w.actors[i].name.clone(), at)
        }
        AlertKind::RateSpikeSubmitter => {
            let j = w.submitters.iter().position(|s| *s == fixed).unwrap_or(0);
            let per_min = w.submitter_per_min[j] * Workload::rhythm(at);
            let mut t = at as f64;
            loop {
                t += w.injector.exp(per_min / MINUTE_MS as f64);
                if t >= (at + len) as f64 {
                    break;
                }
                let actor = format!("batch-{n}-{}", w.injector.below(40));
                let doc = format!("doc-{}", w.injector.below(100_000));
                let what = recorded(
                    &fixed,
                    &actor,
                    "document.update",
                    ("document", &doc),
                    Outcome::Success,
                );
                w.push(t as u64, what);
            }
            (fixed, at)
        }
        AlertKind::ProtectedResource => {
            let Some(i) = pick_actor(w, |_, _| true) else {
                return;
            };
            let (actor, submitter) = (
                w.actors[i].name.clone(),
                w.submitters[w.actors[i].submitter].clone(),
            );
            let id = format!("vault-{n}");
            let count = 1 + w.injector.below(3) as usize;
            let times = times(w, at, len, count);
            for &t in &times {
                let what = recorded(
                    &submitter,
                    &actor,
                    "secret.read",
                    ("secret", &id),
                    Outcome::Success,
                );
                w.push(t, what);
            }
            (format!("secret/{id}"), first(&times, at))
        }
        AlertKind::NewPrivilegedActor => {
            let Some(i) = pick_actor(w, |_, _| true) else {
                return;
            };
            let (actor, submitter) = (
                w.actors[i].name.clone(),
                w.submitters[w.actors[i].submitter].clone(),
            );
            let action = super::PRIVILEGED[n % 3];
            let what = recorded(
                &submitter,
                &actor,
                action,
                ("role", "admin"),
                Outcome::Success,
            );
            w.push(at, what);
            (actor, at)
        }
        AlertKind::DeniedBurstIdentity => {
            if n.is_multiple_of(2) {
                let actor = format!("intruder-{n}");
                let s = w.injector.below(w.submitters.len() as u64) as usize;
                let submitter = w.submitters[s].clone();
                for t in times(w, at, len, 40) {
                    let doc = format!("doc-{}", w.injector.below(100_000));
                    w.push(
                        t,
                        recorded(
                            &submitter,
                            &actor,
                            "document.read",
                            ("document", &doc),
                            Outcome::Denied,
                        ),
                    );
                }
                (actor, at)
            } else {
                let token = format!("stolen-{n}");
                for t in times(w, at, len, 40) {
                    let k = w.injector.below(20) as u8;
                    w.push(
                        t,
                        Observed::Refused {
                            identity: Some(token.clone()),
                            address: Some(IpAddr::from([100, 64, n as u8, k])),
                            reason: Refusal::PermissionDenied,
                        },
                    );
                }
                (token, at)
            }
        }
        AlertKind::DeniedBurstAddress => {
            let address = IpAddr::from([198, 51, (n / 256) as u8 + 100, n as u8]);
            for (k, t) in times(w, at, len, 60).into_iter().enumerate() {
                let (identity, reason) = if n.is_multiple_of(2) {
                    (None, Refusal::Unauthenticated)
                } else {
                    (
                        Some(format!("spray-{n}-{}", k % 30)),
                        Refusal::PermissionDenied,
                    )
                };
                w.push(
                    t,
                    Observed::Refused {
                        identity,
                        address: Some(address),
                        reason,
                    },
                );
            }
            (address.to_string(), at)
        }
        AlertKind::OffHours => {
            let staff: Vec<usize> = (0..w.actors.len())
                .filter(|&i| w.actors[i].staff && !w.used_actors[i])
                .collect();
            if staff.is_empty() {
                return;
            }
            let i = staff[w.injector.below(staff.len() as u64) as usize];
            w.used_actors[i] = true;
            let count = 1 + w.injector.below(3) as usize;
            let times = times(w, at, len, count);
            for &t in &times {
                let what = w.event(i, true);
                w.push(t, what);
            }
            (w.actors[i].name.clone(), first(&times, at))
        }
        AlertKind::WitnessConflict => {
            let log_size = w.log_size;
            for k in 0..3u64 {
                let witness_size = log_size + 1 + w.injector.below(1000);
                w.push(
                    at + k * 20_000,
                    Observed::WitnessConflict {
                        witness: fixed.clone(),
                        log_size,
                        witness_size,
                    },
                );
            }
            (fixed, at)
        }
        AlertKind::SignerRefused => {
            for k in 0..5u64 {
                let error = format!(
                    "the checkpoint of size {} does not extend the last one signed",
                    w.log_size
                );
                w.push(at + k * 12_000, Observed::SignerRefused { error });
            }
            (fixed, at)
        }
        AlertKind::SelfAuditFailed => {
            for k in 0..3u64 {
                let finding = format!(
                    "node 0/{}: the stored hash differs from the entry's",
                    1000 + k
                );
                w.push(at + k * 10_000, Observed::SelfAuditFailed { finding });
            }
            (fixed, at)
        }
        AlertKind::StaleCheckpoint => {
            w.stalls.push((at, at + len));
            let max_age = ms(super::Spec::config().stale_checkpoint.max_age);
            (fixed, at + max_age + 1)
        }
        AlertKind::ClockBackwards => {
            let back = 2_000 + w.injector.below(58_000);
            w.push(
                at,
                Observed::ClockBackwards {
                    last_ms: at,
                    now_ms: at - back,
                },
            );
            (fixed, at)
        }
    };
    w.injected.push(Injected {
        kind: plan.kind,
        subject,
        start_ms,
        end_ms: at + len,
    });
}
