//! A seeded, deterministic synthetic workload with anomalies of every kind
//! injected at known times, and its scoring (`vellum-bench anomalies` and
//! this crate's tests; feature `testonly`). Simulated time only: no clock.
//!
//! **Normal traffic.** `actors` actors with diverse base rates (log-normal
//! weights, sigma 1.5: the busiest is a few hundred times the median),
//! whose recorded events form one Poisson process of mean `rate` per
//! second modulated by a daily rhythm (+-30%); each event's actor is drawn
//! by weight, so each actor's arrivals are Poisson too. Each actor submits
//! through one of `max(1, rate / 20)` submitters. Outcomes: 0.3% denied,
//! 1% failed. Twenty admins do privileged actions (30% of their events),
//! all seeded beforehand; every 50th actor is staff and works only
//! 08:00-18:00 UTC, Monday to Friday. Background: unauthenticated calls
//! (0.25% of the rate) and refused tokens (0.05%) from a pool of 4096
//! addresses; checkpoint-age reports every 10 s (age under 5 s); a witness
//! behind the log every 5 minutes; small clock steps back (under 500 ms)
//! every 7 minutes. The run starts on a Monday so that its last quarter
//! falls after 18:00 UTC.
//!
//! **Injected anomalies** ([`inject`]): per detector, up to `injections`,
//! spread over the run from 15 minutes after its start (every rate
//! baseline warm) to 5 minutes before its end, with the subject, start and
//! end of each recorded in [`Injected`]. A subject is never injected again
//! within its detector's cooldown: the detector would rightly fold the
//! second into the first incident.
//!
//! **Scoring** ([`score`]): an alert is true if an injection of its kind
//! and subject was under way (from its start to two minutes after its
//! end); precision is true alerts over alerts, recall detected injections
//! over injections, the delay is from an injection's start to its first
//! alert.

mod inject;
mod rng;
pub mod score;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::{Detectors, GuardConfig, Observation, Observed, Outcome, Refusal};

pub use inject::Injected;
pub use score::{KindScore, score};

use inject::Plan;
use rng::Rng;

/// 2026-12-07T18:00:00Z, a Monday: the end of the staff's hours.
const MONDAY_18H_MS: u64 = 1_796_666_400_000;
const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// Admins, `admin-0` to `admin-19`.
const ADMINS: usize = 20;
/// Every 50th actor is staff.
const STAFF_EVERY: usize = 50;
/// The privileged actions of the workload (all matched by its
/// configuration's patterns).
pub const PRIVILEGED: [&str; 3] = ["permission.grant", "permission.revoke", "role.assign"];
/// Addresses of the background refusals.
const ADDRESS_POOL: u32 = 4096;
/// The daily rhythm's amplitude.
const RHYTHM: f64 = 0.3;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The seed of every random choice.
    pub seed: u64,
    /// Actors (at least 200).
    pub actors: usize,
    /// Simulated length (at least 25 minutes).
    pub duration_ms: u64,
    /// Mean recorded events per second.
    pub rate: f64,
    /// Injections per detector, at most (fewer where the run is too short
    /// to space them by the cooldown).
    pub injections: usize,
    /// `false`: the clean run, the same normal traffic with nothing
    /// injected.
    pub inject: bool,
}

impl Spec {
    /// The detectors' configuration the workload is made for: the defaults,
    /// with the patterns only an operator knows: protected `secret/*`,
    /// privileged `permission.grant`, `permission.revoke` and `role.*`,
    /// staff (`staff-*`) allowed 09:00-19:00 at +01:00, Monday to Friday.
    pub fn config() -> GuardConfig {
        let mut c = GuardConfig::default();
        c.protected_resource.resources = vec!["secret/*".into()];
        c.new_privileged_actor.actions = vec![
            "permission.grant".into(),
            "permission.revoke".into(),
            "role.*".into(),
        ];
        c.off_hours.actors = vec!["staff-*".into()];
        c.off_hours.hours = "09:00-19:00".into();
        c.off_hours.utc_offset = "+01:00".into();
        c
    }
}

/// One actor of the simulation.
#[derive(Debug)]
struct Actor {
    name: String,
    submitter: usize,
    /// Events per minute at a rhythm of 1.
    per_min: f64,
    staff: bool,
    admin: bool,
}

/// The observations of a run, in time order (an iterator).
#[derive(Debug)]
pub struct Workload {
    start_ms: u64,
    end_ms: u64,
    actors: Vec<Actor>,
    /// Cumulative weights, for drawing an actor.
    cumulative: Vec<f64>,
    submitters: Vec<String>,
    /// Each submitter's events per minute at a rhythm of 1.
    submitter_per_min: Vec<f64>,
    /// When each actor was first seen (`u64::MAX`: not yet).
    first_seen: Vec<u64>,
    /// The normal events' stream, its rate at the rhythm's peak (per ms)
    /// and its next arrival.
    normal: Rng,
    peak_per_ms: f64,
    next_event: f64,
    /// Background refusals (and their rate per ms), integrity reports.
    background: Rng,
    refusal_per_ms: f64,
    next_refusal: f64,
    next_stale: u64,
    next_witness: u64,
    next_clock: u64,
    log_size: u64,
    /// Injections: plans not yet under way, in time order, and their
    /// observations waiting for their time.
    injector: Rng,
    plans: Vec<Plan>,
    next_plan: usize,
    pending: BinaryHeap<Reverse<Pending>>,
    sequence: u64,
    /// Checkpoint stalls injected (stale checkpoint), start and end.
    stalls: Vec<(u64, u64)>,
    injected: Vec<Injected>,
    used_actors: Vec<bool>,
}

/// An injected observation waiting for its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at_ms: u64,
    sequence: u64,
    what: PendingWhat,
}

/// `Observed` has no order; the heap orders by time and sequence only.
#[derive(Debug)]
struct PendingWhat(Observed);

impl PartialEq for PendingWhat {
    fn eq(&self, _: &PendingWhat) -> bool {
        true
    }
}
impl Eq for PendingWhat {}
impl PartialOrd for PendingWhat {
    fn partial_cmp(&self, other: &PendingWhat) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PendingWhat {
    fn cmp(&self, _: &PendingWhat) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Workload {
    /// The workload `spec` describes.
    ///
    /// # Errors
    ///
    /// Too few actors, too short a run, or a rate that is not positive.
    pub fn new(spec: &Spec) -> Result<Workload, String> {
        if spec.actors < 200 {
            return Err(format!(
                "{} actors: the workload needs at least 200",
                spec.actors
            ));
        }
        if spec.duration_ms < 25 * MINUTE_MS {
            return Err("the workload needs at least 25 minutes of simulated time".into());
        }
        if !(spec.rate.is_finite() && spec.rate > 0.0) {
            return Err(format!("rate {}: must be a positive number", spec.rate));
        }
        let start_ms = MONDAY_18H_MS - spec.duration_ms * 3 / 4;
        let end_ms = start_ms + spec.duration_ms;
        let mut setup = Rng::new(spec.seed, 1);
        let submitters: Vec<String> = (0..((spec.rate / 20.0).floor() as usize).max(1))
            .map(|j| format!("svc-{j}"))
            .collect();
        let weights: Vec<f64> = (0..spec.actors)
            .map(|_| (1.5 * setup.normal()).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let per_min_total = spec.rate * 60.0;
        let mut submitter_per_min = vec![0.0; submitters.len()];
        let mut cumulative = Vec::with_capacity(spec.actors);
        let mut acc = 0.0;
        let actors: Vec<Actor> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                acc += w;
                cumulative.push(acc);
                let admin = i < ADMINS;
                let staff = !admin && i % STAFF_EVERY == 0;
                let name = match (admin, staff) {
                    (true, _) => format!("admin-{i}"),
                    (_, true) => format!("staff-{i}"),
                    _ => format!("user-{i}"),
                };
                let submitter = i % submitters.len();
                let per_min = per_min_total * w / total;
                submitter_per_min[submitter] += per_min;
                Actor {
                    name,
                    submitter,
                    per_min,
                    staff,
                    admin,
                }
            })
            .collect();
        let mut w = Workload {
            start_ms,
            end_ms,
            cumulative,
            submitter_per_min,
            first_seen: vec![u64::MAX; actors.len()],
            used_actors: vec![false; actors.len()],
            actors,
            submitters,
            normal: Rng::new(spec.seed, 2),
            peak_per_ms: spec.rate * (1.0 + RHYTHM) / 1000.0,
            next_event: start_ms as f64,
            background: Rng::new(spec.seed, 3),
            refusal_per_ms: spec.rate * 0.003 / 1000.0,
            next_refusal: start_ms as f64,
            next_stale: start_ms + 10_000,
            next_witness: start_ms + 5 * MINUTE_MS,
            next_clock: start_ms + 7 * MINUTE_MS,
            log_size: 1_000_000,
            injector: Rng::new(spec.seed, 4),
            plans: Vec::new(),
            next_plan: 0,
            pending: BinaryHeap::new(),
            sequence: 0,
            stalls: Vec::new(),
            injected: Vec::new(),
        };
        w.next_event += w.normal.exp(w.peak_per_ms);
        w.next_refusal += w.background.exp(w.refusal_per_ms);
        if spec.inject {
            w.plans = inject::plan(&mut w, spec);
        }
        Ok(w)
    }

    /// The first simulated millisecond.
    pub fn start_ms(&self) -> u64 {
        self.start_ms
    }

    /// The simulated end (excluded).
    pub fn end_ms(&self) -> u64 {
        self.end_ms
    }

    /// The (actor, action) pairs the server would seed from its index: what
    /// the admins do normally.
    pub fn seeds(&self) -> Vec<(String, String)> {
        let mut seeds = Vec::new();
        for a in self.actors.iter().filter(|a| a.admin) {
            for p in PRIVILEGED {
                seeds.push((a.name.clone(), p.to_owned()));
            }
        }
        seeds
    }

    /// The injections so far (all of them once the iterator is done).
    pub fn injected(&self) -> &[Injected] {
        &self.injected
    }

    /// The daily rhythm at `t_ms`: 1 +- 30%, highest at 14:00 UTC.
    fn rhythm(t_ms: u64) -> f64 {
        let hour = (t_ms % DAY_MS) as f64 / HOUR_MS as f64;
        1.0 + RHYTHM * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin()
    }

    /// Whether staff work at `t_ms`: 08:00-18:00 UTC, Monday to Friday.
    fn staff_hours(t_ms: u64) -> bool {
        let day = t_ms / DAY_MS;
        // 1970-01-01 was a Thursday (3, counting from Monday).
        let weekday = (day + 3) % 7;
        let hour = (t_ms % DAY_MS) / HOUR_MS;
        weekday < 5 && (8..18).contains(&hour)
    }

    /// An address of the background pool.
    fn pool_address(&mut self) -> std::net::IpAddr {
        let n = self.background.below(u64::from(ADDRESS_POOL)) as u32;
        std::net::IpAddr::from([10, 20, (n >> 8) as u8, n as u8])
    }

    /// A normal event of actor `i`, drawn from the normal stream or (for
    /// an injection) the injector's.
    fn event(&mut self, i: usize, rng_is_injector: bool) -> Observed {
        let rng = if rng_is_injector {
            &mut self.injector
        } else {
            &mut self.normal
        };
        let a = &self.actors[i];
        let (action, resource_kind, resource_id) = if a.admin && rng.chance(0.3) {
            let p = PRIVILEGED[rng.below(3) as usize];
            let kind = if p == "role.assign" {
                "role"
            } else {
                "permission"
            };
            (
                p.to_owned(),
                kind.to_owned(),
                format!("grant-{}", rng.below(1000)),
            )
        } else {
            let r = rng.f64();
            let action = match r {
                _ if r < 0.60 => "document.read",
                _ if r < 0.85 => "document.update",
                _ if r < 0.95 => "document.create",
                _ => "document.delete",
            };
            (
                action.to_owned(),
                "document".to_owned(),
                format!("doc-{}", rng.below(100_000)),
            )
        };
        let r = rng.f64();
        let outcome = match r {
            _ if r < 0.003 => Outcome::Denied,
            _ if r < 0.013 => Outcome::Failure,
            _ => Outcome::Success,
        };
        Observed::Recorded {
            submitter: self.submitters[a.submitter].clone(),
            actor: a.name.clone(),
            action,
            resource_kind,
            resource_id,
            outcome,
        }
    }

    /// Takes the normal stream's next arrival: the event, or `None` if
    /// thinning dropped it (the caller looks at every stream again, so
    /// that the order holds).
    fn step_normal(&mut self) -> Option<Observation> {
        let at = self.next_event as u64;
        self.next_event += self.normal.exp(self.peak_per_ms);
        // Thinning: the rhythm's rate out of the peak rate.
        if !self.normal.chance(Self::rhythm(at) / (1.0 + RHYTHM)) {
            return None;
        }
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = self.normal.f64() * total;
        let i = self
            .cumulative
            .partition_point(|c| *c <= x)
            .min(self.actors.len() - 1);
        if self.actors[i].staff && !Self::staff_hours(at) {
            return None;
        }
        if self.first_seen[i] == u64::MAX {
            self.first_seen[i] = at;
        }
        let what = self.event(i, false);
        Some(Observation { at_ms: at, what })
    }

    /// When the next background observation (a refusal or an integrity
    /// report) is due.
    fn next_background_at(&self) -> u64 {
        (self.next_refusal as u64)
            .min(self.next_stale)
            .min(self.next_witness)
            .min(self.next_clock)
    }

    /// The next background observation.
    fn take_background(&mut self) -> Observation {
        let at = self.next_background_at();
        let what = if at == self.next_stale {
            self.next_stale += 10_000;
            let age = match self.stalls.iter().find(|(s, e)| (*s..*e).contains(&at)) {
                Some((s, _)) => at - s,
                None => self.background.below(5_000),
            };
            Observed::Stale {
                checkpoint_age_ms: age,
                waiting_entries: 1 + self.background.below(200),
            }
        } else if at == self.next_witness {
            self.next_witness += 5 * MINUTE_MS;
            self.log_size += 10_000;
            let w = self.background.below(3) + 1;
            Observed::WitnessConflict {
                witness: format!("witness-{w}"),
                log_size: self.log_size,
                witness_size: self.log_size - 1 - self.background.below(5_000),
            }
        } else if at == self.next_clock {
            self.next_clock += 7 * MINUTE_MS;
            Observed::ClockBackwards {
                last_ms: at,
                now_ms: at - 1 - self.background.below(500),
            }
        } else {
            self.next_refusal += self.background.exp(self.refusal_per_ms);
            let address = Some(self.pool_address());
            if self.background.chance(1.0 / 6.0) {
                let s = self.background.below(self.submitters.len() as u64) as usize;
                Observed::Refused {
                    identity: Some(self.submitters[s].clone()),
                    address,
                    reason: Refusal::PermissionDenied,
                }
            } else {
                Observed::Refused {
                    identity: None,
                    address,
                    reason: Refusal::Unauthenticated,
                }
            }
        };
        Observation { at_ms: at, what }
    }

    /// Queues an injected observation.
    fn push(&mut self, at_ms: u64, what: Observed) {
        self.sequence += 1;
        self.pending.push(Reverse(Pending {
            at_ms,
            sequence: self.sequence,
            what: PendingWhat(what),
        }));
    }
}

/// The source of the next observation.
enum Next {
    Normal,
    Background,
    Plan,
    Pending,
}

impl Iterator for Workload {
    type Item = Observation;

    fn next(&mut self) -> Option<Observation> {
        loop {
            let normal_at = (self.next_event as u64).min(self.end_ms);
            let background_at = self.next_background_at().min(self.end_ms);
            let plan_at = self.plans.get(self.next_plan).map_or(u64::MAX, |p| p.at_ms);
            let pending_at = self.pending.peek().map_or(u64::MAX, |p| p.0.at_ms);
            let (at, which) = [
                (plan_at, Next::Plan),
                (pending_at, Next::Pending),
                (background_at, Next::Background),
                (normal_at, Next::Normal),
            ]
            .into_iter()
            .min_by_key(|(at, _)| *at)?;
            if at >= self.end_ms {
                // Injections end before the end; whatever is left is
                // dropped with the rest.
                return None;
            }
            match which {
                Next::Plan => {
                    let plan = self.plans[self.next_plan].clone();
                    self.next_plan += 1;
                    inject::start(self, &plan);
                }
                Next::Pending => {
                    let p = self.pending.pop()?.0;
                    return Some(Observation {
                        at_ms: p.at_ms,
                        what: p.what.0,
                    });
                }
                Next::Background => return Some(self.take_background()),
                Next::Normal => {
                    if let Some(o) = self.step_normal() {
                        return Some(o);
                    }
                }
            }
        }
    }
}

/// What a run through the detectors gave.
#[derive(Debug)]
pub struct Run {
    /// Observations fed.
    pub observations: u64,
    /// Every alert raised, in order.
    pub alerts: Vec<crate::Alert>,
    /// Every injection.
    pub injected: Vec<Injected>,
    /// The largest number of keys any table held at the end.
    pub tracked: crate::Tracked,
}

/// Runs `spec`'s workload through detectors configured by `cfg`, seeded
/// as the server would be, with a tick every 10 simulated seconds.
///
/// # Errors
///
/// A bad spec or configuration.
pub fn run(spec: &Spec, cfg: &GuardConfig) -> Result<Run, String> {
    let mut w = Workload::new(spec)?;
    let mut d = Detectors::new(cfg)?;
    for (actor, action) in w.seeds() {
        d.seed_privileged(&actor, &action);
    }
    let mut alerts = Vec::new();
    let mut observations = 0u64;
    let mut next_tick = w.start_ms() + 10_000;
    for o in w.by_ref() {
        while o.at_ms >= next_tick {
            alerts.extend(d.tick(next_tick));
            next_tick += 10_000;
        }
        observations += 1;
        alerts.extend(d.observe(&o));
    }
    Ok(Run {
        observations,
        alerts,
        injected: w.injected().to_vec(),
        tracked: d.tracked(),
    })
}
