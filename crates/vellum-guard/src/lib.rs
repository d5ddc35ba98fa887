//! Anomaly detectors for Vellum (docs/GUARD.md, "Detectors").
//!
//! Pure computation: no I/O, no clock, no async. The caller (the server)
//! feeds [`Observation`]s, each carrying its own time in the log's clock,
//! and gets [`Alert`]s back; what happens to an alert (appended to the log,
//! counted, streamed, sent to a webhook) is the caller's business. The same
//! observations in the same order always give the same alerts, so a
//! detector is tested, and benchmarked (`vellum-bench anomalies`), on
//! simulated time.
//!
//! * [`GuardConfig`]: one section per detector, each with `enabled`, its
//!   thresholds and its cooldown; [`Detectors::new`] refuses a bad one with
//!   a message naming the key.
//! * [`Detectors::observe`]: one observation in, the alerts it raises out.
//!   Every alert is raised by the observation that crosses its threshold,
//!   not when a window closes, so [`Detectors::tick`] has nothing to raise
//!   today; it is there for detectors that watch for silence.
//! * Bounded state: every table keyed by something a client chooses (actor,
//!   submitter, identity, address, alerted subject) holds at most a
//!   configured number of keys and forgets the least recently seen first.
//!   Forgetting costs a missed alert (a forgotten actor starts its warm-up
//!   again), never a false one, except for the new-privileged-actor
//!   detector's seen set and the cooldown table, whose forgotten keys can
//!   alert once more.
//!
//! ```
//! use vellum_guard::{AlertKind, Detectors, GuardConfig, Observation, Observed};
//!
//! let mut d = Detectors::new(&GuardConfig::default())?;
//! let alerts = d.observe(&Observation {
//!     at_ms: 1_765_000_000_000,
//!     what: Observed::WitnessConflict { witness: "w1".into(), log_size: 10, witness_size: 12 },
//! });
//! assert_eq!(alerts.len(), 1);
//! assert_eq!(alerts[0].kind, AlertKind::WitnessConflict);
//! assert_eq!(alerts[0].subject, "w1");
//! # Ok::<(), String>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod cooldown;
mod denied;
mod integrity;
mod lru;
mod pattern;
mod rate;
mod rules;
#[cfg(feature = "testonly")]
pub mod workload;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use config::{
    ClockBackwardsConfig, DeniedBurstConfig, GuardConfig, IntegrityConfig,
    NewPrivilegedActorConfig, OffHoursConfig, ProtectedResourceConfig, RateSpikeConfig,
    StaleCheckpointConfig,
};

use crate::cooldown::Cooldown;
use crate::denied::DeniedBurst;
use crate::integrity::Integrity;
use crate::rate::RateSpike;
use crate::rules::{NewPrivileged, OffHours, Protected};

/// Something the server saw, at a time of the log's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Unix milliseconds, the log's clock.
    pub at_ms: u64,
    /// What was seen.
    pub what: Observed,
}

/// What the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// An audit event the log recorded.
    Recorded {
        /// The authenticated submitter (the token's name).
        submitter: String,
        /// The event's actor id.
        actor: String,
        /// The event's action.
        action: String,
        /// The resource's kind.
        resource_kind: String,
        /// The resource's id.
        resource_id: String,
        /// The event's outcome.
        outcome: Outcome,
    },
    /// A call refused by access control (or an event recorded with outcome
    /// denied is ALSO fed as Recorded).
    Refused {
        /// The token's name; `None`: unauthenticated.
        identity: Option<String>,
        /// The client's address, when known.
        address: Option<IpAddr>,
        /// Why it was refused.
        reason: Refusal,
    },
    /// A witness answered with a tree size that conflicts with ours.
    WitnessConflict {
        /// The witness's name.
        witness: String,
        /// The log's size the checkpoint sent had.
        log_size: u64,
        /// The size the witness says it cosigned.
        witness_size: u64,
    },
    /// The signer refused to sign.
    SignerRefused {
        /// The signer's error.
        error: String,
    },
    /// The background self-audit found a mismatch.
    SelfAuditFailed {
        /// What differs.
        finding: String,
    },
    /// The state of checkpointing: how old the latest checkpoint is, and
    /// how many sequenced entries it does not cover yet.
    Stale {
        /// Age of the latest signed checkpoint.
        checkpoint_age_ms: u64,
        /// Entries sequenced but not covered by it.
        waiting_entries: u64,
    },
    /// The log's clock read earlier than it did before.
    ClockBackwards {
        /// The previous reading.
        last_ms: u64,
        /// The reading now.
        now_ms: u64,
    },
}

/// An audit event's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
    /// It was denied.
    Denied,
}

impl Outcome {
    /// `success`, `failure` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// Why access control refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No valid credentials.
    Unauthenticated,
    /// Valid credentials without the permission.
    PermissionDenied,
}

impl Refusal {
    /// `unauthenticated` or `permission_denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::PermissionDenied => "permission_denied",
        }
    }
}

/// What an alert is about; one per detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An actor's events per window far above its own baseline.
    RateSpikeActor,
    /// A submitter's events per window far above its own baseline.
    RateSpikeSubmitter,
    /// An event on a protected resource.
    ProtectedResource,
    /// A privileged action by an actor never seen doing it.
    NewPrivilegedActor,
    /// Many denied calls or events of one identity in a short window.
    DeniedBurstIdentity,
    /// Many refused calls from one client address in a short window.
    DeniedBurstAddress,
    /// A watched actor active outside its allowed hours.
    OffHours,
    /// A witness cosigned a larger tree than the log has: a possible fork.
    WitnessConflict,
    /// The signer refused to sign.
    SignerRefused,
    /// The self-audit found the stored tree differs from its entries.
    SelfAuditFailed,
    /// No new checkpoint for too long while entries wait.
    StaleCheckpoint,
    /// The log's clock went backwards by more than the tolerance.
    ClockBackwards,
}

impl AlertKind {
    /// Every kind, in declaration order.
    pub const ALL: [AlertKind; 12] = [
        AlertKind::RateSpikeActor,
        AlertKind::RateSpikeSubmitter,
        AlertKind::ProtectedResource,
        AlertKind::NewPrivilegedActor,
        AlertKind::DeniedBurstIdentity,
        AlertKind::DeniedBurstAddress,
        AlertKind::OffHours,
        AlertKind::WitnessConflict,
        AlertKind::SignerRefused,
        AlertKind::SelfAuditFailed,
        AlertKind::StaleCheckpoint,
        AlertKind::ClockBackwards,
    ];

    /// The snake_case name (`rate_spike_actor`, ...): the configuration
    /// section of the detector and the suffix of the alert's action.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::RateSpikeActor => "rate_spike_actor",
            AlertKind::RateSpikeSubmitter => "rate_spike_submitter",
            AlertKind::ProtectedResource => "protected_resource",
            AlertKind::NewPrivilegedActor => "new_privileged_actor",
            AlertKind::DeniedBurstIdentity => "denied_burst_identity",
            AlertKind::DeniedBurstAddress => "denied_burst_address",
            AlertKind::OffHours => "off_hours",
            AlertKind::WitnessConflict => "witness_conflict",
            AlertKind::SignerRefused => "signer_refused",
            AlertKind::SelfAuditFailed => "self_audit_failed",
            AlertKind::StaleCheckpoint => "stale_checkpoint",
            AlertKind::ClockBackwards => "clock_backwards",
        }
    }

    /// The position in [`AlertKind::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertKind {
    type Err = String;

    fn from_str(s: &str) -> Result<AlertKind, String> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("{s:?} is not an alert kind ({})", names.join(", "))
            })
    }
}

/// An anomaly: what, about whom, when, and the figures to judge it by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// The detector that raised it.
    pub kind: AlertKind,
    /// Who or what it is about: the actor, submitter, identity, address,
    /// resource (`kind/id`), witness; `signer`, `self_audit`, `checkpoint`
    /// or `clock` for the integrity signals that have no other subject.
    pub subject: String,
    /// The time of the observation that raised it (Unix ms, the log's clock).
    pub at_ms: u64,
    /// Counts, window, baseline, threshold: what an auditor needs to judge
    /// it. Every alert has `observations` (how many observations it
    /// covers), `cooldown_ms` (how long further alerts of this kind about
    /// this subject are withheld) and `suppressed_before` (how many were
    /// withheld since the previous one).
    pub evidence: Map<String, Value>,
}

/// What a detector proposes; the cooldown decides whether it becomes an
/// [`Alert`]. The subject is borrowed from the observation where it can
/// be, and the evidence is built only if the alert is admitted.
#[derive(Debug)]
pub(crate) struct Candidate<'a> {
    pub kind: AlertKind,
    pub subject: Cow<'a, str>,
    pub at_ms: u64,
    pub observations: u64,
    pub evidence: Evidence,
}

/// An alert's evidence, before it is admitted.
#[derive(Debug)]
pub(crate) enum Evidence {
    /// Built already (single events and integrity signals, which are
    /// few).
    Map(Map<String, Value>),
    /// A rate spike's figures.
    Rate(rate::Figures),
    /// A denied burst's figures.
    Denied(denied::Figures),
}

impl Evidence {
    fn into_map(self) -> Map<String, Value> {
        match self {
            Evidence::Map(m) => m,
            Evidence::Rate(f) => f.into_map(),
            Evidence::Denied(f) => f.into_map(),
        }
    }
}

/// How many keys each bounded table holds now (for metrics and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tracked {
    /// Actors with a rate baseline.
    pub rate_actors: usize,
    /// Submitters with a rate baseline.
    pub rate_submitters: usize,
    /// (actor, privileged action) pairs seen.
    pub privileged_pairs: usize,
    /// Identities with denials in their window.
    pub denied_identities: usize,
    /// Addresses with refusals in their window.
    pub denied_addresses: usize,
    /// (kind, subject) pairs in cooldown.
    pub alerted_subjects: usize,
}

/// Every detector, configured; feed it observations in time order.
#[derive(Debug)]
pub struct Detectors {
    enabled: bool,
    rate_actor: Option<RateSpike>,
    rate_submitter: Option<RateSpike>,
    protected: Option<Protected>,
    privileged: Option<NewPrivileged>,
    denied_identity: Option<DeniedBurst>,
    denied_address: Option<DeniedBurst>,
    off_hours: Option<OffHours>,
    integrity: Integrity,
    cooldown: Cooldown,
}

impl Detectors {
    /// The detectors `cfg` describes.
    ///
    /// # Errors
    ///
    /// A bad setting (a pattern that is not a glob, hours that are not
    /// `HH:MM-HH:MM`, an unknown day, a zero window or cap): a message that
    /// names the key (relative to the guard section) and what is wrong.
    pub fn new(cfg: &GuardConfig) -> Result<Detectors, String> {
        cfg.validate()?;
        let on = |enabled: bool| cfg.enabled && enabled;
        Ok(Detectors {
            enabled: cfg.enabled,
            rate_actor: on(cfg.rate_spike_actor.enabled)
                .then(|| RateSpike::new(AlertKind::RateSpikeActor, &cfg.rate_spike_actor)),
            rate_submitter: on(cfg.rate_spike_submitter.enabled)
                .then(|| RateSpike::new(AlertKind::RateSpikeSubmitter, &cfg.rate_spike_submitter)),
            protected: match on(cfg.protected_resource.enabled) {
                true => Some(Protected::new(&cfg.protected_resource)?),
                false => None,
            },
            privileged: match on(cfg.new_privileged_actor.enabled) {
                true => Some(NewPrivileged::new(&cfg.new_privileged_actor)?),
                false => None,
            },
            denied_identity: on(cfg.denied_burst_identity.enabled).then(|| {
                DeniedBurst::new(AlertKind::DeniedBurstIdentity, &cfg.denied_burst_identity)
            }),
            denied_address: on(cfg.denied_burst_address.enabled).then(|| {
                DeniedBurst::new(AlertKind::DeniedBurstAddress, &cfg.denied_burst_address)
            }),
            off_hours: match on(cfg.off_hours.enabled) {
                true => Some(OffHours::new(&cfg.off_hours)?),
                false => None,
            },
            integrity: Integrity::new(cfg),
            cooldown: Cooldown::new(cfg),
        })
    }

    /// Feeds one observation; returns the alerts it raises (most often
    /// none). Observations should come in time order; one a little out of
    /// order is counted as if it came at the latest time seen for its key.
    pub fn observe(&mut self, o: &Observation) -> Vec<Alert> {
        if !self.enabled {
            return Vec::new();
        }
        let mut out = Vec::new();
        let cd = &mut self.cooldown;
        let at = o.at_ms;
        match &o.what {
            Observed::Recorded {
                submitter,
                actor,
                action,
                resource_kind,
                resource_id,
                outcome,
            } => {
                let event = rules::Event {
                    submitter,
                    actor,
                    action,
                    resource_kind,
                    resource_id,
                    outcome: *outcome,
                };
                let found = [
                    self.rate_actor.as_mut().and_then(|d| d.observe(actor, at)),
                    self.rate_submitter
                        .as_mut()
                        .and_then(|d| d.observe(submitter, at)),
                    self.protected.as_mut().and_then(|d| d.observe(&event, at)),
                    self.privileged.as_mut().and_then(|d| d.observe(&event, at)),
                    self.off_hours.as_mut().and_then(|d| d.observe(&event, at)),
                    match (outcome, &mut self.denied_identity) {
                        (Outcome::Denied, Some(d)) => {
                            d.observe(actor, at, denied::Source::Recorded)
                        }
                        _ => None,
                    },
                ];
                for c in found.into_iter().flatten() {
                    cd.admit(c, &mut out);
                }
            }
            Observed::Refused {
                identity,
                address,
                reason,
            } => {
                let source = denied::Source::Refused(*reason);
                if let (Some(identity), Some(d)) = (identity, &mut self.denied_identity)
                    && let Some(c) = d.observe(identity, at, source)
                {
                    cd.admit(c, &mut out);
                }
                if let (Some(address), Some(d)) = (address, &mut self.denied_address) {
                    let address = address.to_string();
                    if let Some(c) = d.observe(&address, at, source) {
                        cd.admit(c, &mut out);
                    }
                }
            }
            other => {
                if let Some(c) = self.integrity.observe(other, at) {
                    cd.admit(c, &mut out);
                }
            }
        }
        out
    }

    /// Time passing with no observation, up to `now_ms`. Every detector
    /// today raises its alert on the observation that crosses its
    /// threshold (windows are closed lazily, per key, by the next
    /// observation of that key), so nothing is raised here yet; call it
    /// anyway (every few seconds) so that a detector of silence can be
    /// added without changing the caller.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Alert> {
        let _ = now_ms;
        Vec::new()
    }

    /// Tells the new-privileged-actor detector that `actor` did `action`
    /// before (the server seeds it from the log's index at start). Counts
    /// against the detector's `max_pairs`.
    pub fn seed_privileged(&mut self, actor: &str, action: &str) {
        if let Some(d) = &mut self.privileged {
            d.seed(actor, action);
        }
    }

    /// How many keys each bounded table holds.
    pub fn tracked(&self) -> Tracked {
        Tracked {
            rate_actors: self.rate_actor.as_ref().map_or(0, RateSpike::len),
            rate_submitters: self.rate_submitter.as_ref().map_or(0, RateSpike::len),
            privileged_pairs: self.privileged.as_ref().map_or(0, NewPrivileged::len),
            denied_identities: self.denied_identity.as_ref().map_or(0, DeniedBurst::len),
            denied_addresses: self.denied_address.as_ref().map_or(0, DeniedBurst::len),
            alerted_subjects: self.cooldown.len(),
        }
    }
}

/// A JSON number from an `f64`, rounded to three decimals (evidence is
/// read by people; NaN and infinities never occur, but would become 0).
pub(crate) fn num(v: f64) -> Value {
    let r = (v * 1000.0).round() / 1000.0;
    serde_json::Number::from_f64(r).map_or(Value::from(0), Value::Number)
}
