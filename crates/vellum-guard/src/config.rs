//! [`GuardConfig`]: one section per detector, named as its [`AlertKind`]
//! (`rate_spike_actor`, ...), each with `enabled`, its thresholds and its
//! `cooldown`. Every default is written next to its field and in
//! docs/GUARD.md; the lists of patterns (protected resources, privileged
//! actions, watched actors) are empty by default, because only the operator
//! knows them: those detectors are on but watch nothing until told what.
//!
//! Durations are text with a unit, as in the rest of the configuration:
//! `500ms`, `10s`, `5m`, `1h`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::AlertKind;

/// The detectors' settings (the guard section of `vellum serve`'s
/// configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// All detectors at once; `false` turns every one off. Default `true`.
    pub enabled: bool,
    /// Subjects whose cooldown is remembered, at most, per kind; the
    /// least recently alerted is forgotten first (it can then alert again
    /// before its cooldown ends). Default 10,000.
    pub max_alerted_subjects: usize,
    /// Rate spike per actor.
    pub rate_spike_actor: RateSpikeConfig,
    /// Rate spike per submitter.
    pub rate_spike_submitter: RateSpikeConfig,
    /// Events on protected resources.
    pub protected_resource: ProtectedResourceConfig,
    /// Privileged actions by an actor never seen doing them.
    pub new_privileged_actor: NewPrivilegedActorConfig,
    /// Bursts of denials per identity.
    pub denied_burst_identity: DeniedBurstConfig,
    /// Bursts of refusals per client address.
    pub denied_burst_address: DeniedBurstConfig,
    /// Watched actors outside their hours.
    pub off_hours: OffHoursConfig,
    /// A witness that cosigned a larger tree.
    pub witness_conflict: IntegrityConfig,
    /// The signer refusing.
    pub signer_refused: IntegrityConfig,
    /// The self-audit failing.
    pub self_audit_failed: IntegrityConfig,
    /// No checkpoint while entries wait.
    pub stale_checkpoint: StaleCheckpointConfig,
    /// The clock going backwards.
    pub clock_backwards: ClockBackwardsConfig,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            enabled: true,
            max_alerted_subjects: 10_000,
            rate_spike_actor: RateSpikeConfig::default(),
            rate_spike_submitter: RateSpikeConfig::default(),
            protected_resource: ProtectedResourceConfig::default(),
            new_privileged_actor: NewPrivilegedActorConfig::default(),
            denied_burst_identity: DeniedBurstConfig::default(),
            denied_burst_address: DeniedBurstConfig::default(),
            off_hours: OffHoursConfig::default(),
            witness_conflict: IntegrityConfig::default(),
            signer_refused: IntegrityConfig::default(),
            self_audit_failed: IntegrityConfig::default(),
            stale_checkpoint: StaleCheckpointConfig::default(),
            clock_backwards: ClockBackwardsConfig::default(),
        }
    }
}

/// The default cooldown of every detector: one incident, one alert.
const COOLDOWN: Duration = Duration::from_secs(600);

/// A rate spike detector (per actor or per submitter): events per fixed
/// window against an exponentially weighted mean of the key's own past
/// windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSpikeConfig {
    /// Default `true`.
    pub enabled: bool,
    /// The counting window. Default `1m`.
    #[serde(with = "serde_duration")]
    pub window: Duration,
    /// Weight of the newest window in the mean (EWMA alpha, 0 < a <= 1).
    /// Default 0.1 (a half-life of about 6.6 windows).
    pub smoothing: f64,
    /// Complete windows of a key before it can alert (its first, partial
    /// window is never counted). Default 10.
    pub warmup_windows: u32,
    /// Alert when a window's count exceeds `baseline + sigmas *
    /// sqrt(max(baseline, 1))` (a Poisson tail)... Default 6.
    pub sigmas: f64,
    /// ...and is at least this. Default 30.
    pub min_count: u32,
    /// Keys tracked at most (least recently seen forgotten first; about
    /// 100 bytes each). Default 100,000.
    pub max_keys: usize,
    /// Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for RateSpikeConfig {
    fn default() -> RateSpikeConfig {
        RateSpikeConfig {
            enabled: true,
            window: Duration::from_secs(60),
            smoothing: 0.1,
            warmup_windows: 10,
            sigmas: 6.0,
            min_count: 30,
            max_keys: 100_000,
            cooldown: COOLDOWN,
        }
    }
}

/// Events on protected resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectedResourceConfig {
    /// Default `true` (but watches nothing until `resources` is set).
    pub enabled: bool,
    /// Glob patterns on `kind/id` (`*` any run of characters, `?` one),
    /// e.g. `secret/*`. Default none.
    pub resources: Vec<String>,
    /// Only these actions (globs) alert; empty: any action. Default empty.
    pub actions: Vec<String>,
    /// Per resource. Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for ProtectedResourceConfig {
    fn default() -> ProtectedResourceConfig {
        ProtectedResourceConfig {
            enabled: true,
            resources: Vec::new(),
            actions: Vec::new(),
            cooldown: COOLDOWN,
        }
    }
}

/// Privileged actions by an actor never seen doing them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewPrivilegedActorConfig {
    /// Default `true` (but watches nothing until `actions` is set).
    pub enabled: bool,
    /// Glob patterns of privileged actions, e.g. `permission.grant`,
    /// `role.*`. Default none.
    pub actions: Vec<String>,
    /// (actor, action) pairs remembered at most, seeded ones included
    /// (least recently seen forgotten first; about 150 bytes each).
    /// Default 100,000.
    pub max_pairs: usize,
    /// Per actor. Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for NewPrivilegedActorConfig {
    fn default() -> NewPrivilegedActorConfig {
        NewPrivilegedActorConfig {
            enabled: true,
            actions: Vec::new(),
            max_pairs: 100_000,
            cooldown: COOLDOWN,
        }
    }
}

/// Bursts of denials (per identity or per client address) in a sliding
/// window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeniedBurstConfig {
    /// Default `true`.
    pub enabled: bool,
    /// The sliding window. Default `1m`.
    #[serde(with = "serde_duration")]
    pub window: Duration,
    /// Alert when this many denials fall in one window. Default 20.
    pub threshold: u32,
    /// Keys tracked at most (least recently seen forgotten first; about
    /// 100 bytes plus 8 per denial in the window, at most `threshold`).
    /// Default 100,000.
    pub max_keys: usize,
    /// Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for DeniedBurstConfig {
    fn default() -> DeniedBurstConfig {
        DeniedBurstConfig {
            enabled: true,
            window: Duration::from_secs(60),
            threshold: 20,
            max_keys: 100_000,
            cooldown: COOLDOWN,
        }
    }
}

/// Watched actors outside their allowed hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffHoursConfig {
    /// Default `true` (but watches nobody until `actors` is set).
    pub enabled: bool,
    /// Glob patterns of the watched actors, e.g. `staff-*`. Default none.
    pub actors: Vec<String>,
    /// Allowed local hours, `HH:MM-HH:MM`, end excluded; an end before the
    /// start wraps past midnight (`22:00-06:00`); `00:00-24:00` is all day.
    /// Default `08:00-18:00`.
    pub hours: String,
    /// Allowed local days (`mon` ... `sun`), the day the hours start on.
    /// Default Monday to Friday.
    pub days: Vec<String>,
    /// The local time's fixed offset from UTC, `+HH:MM` or `-HH:MM`.
    /// Default `+00:00`.
    pub utc_offset: String,
    /// Per actor. Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for OffHoursConfig {
    fn default() -> OffHoursConfig {
        OffHoursConfig {
            enabled: true,
            actors: Vec::new(),
            hours: "08:00-18:00".into(),
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            utc_offset: "+00:00".into(),
            cooldown: COOLDOWN,
        }
    }
}

/// An integrity signal with no threshold of its own (witness conflict,
/// signer refused, self-audit failed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrityConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Per subject (the witness; `signer`; `self_audit`). Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for IntegrityConfig {
    fn default() -> IntegrityConfig {
        IntegrityConfig {
            enabled: true,
            cooldown: COOLDOWN,
        }
    }
}

/// No new checkpoint while entries wait.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaleCheckpointConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Alert when the latest checkpoint is older than this while entries
    /// wait; set it above the checkpoint interval. Default `2m`.
    #[serde(with = "serde_duration")]
    pub max_age: Duration,
    /// Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for StaleCheckpointConfig {
    fn default() -> StaleCheckpointConfig {
        StaleCheckpointConfig {
            enabled: true,
            max_age: Duration::from_secs(120),
            cooldown: COOLDOWN,
        }
    }
}

/// The clock going backwards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockBackwardsConfig {
    /// Default `true`.
    pub enabled: bool,
    /// A step back of at most this is ignored (NTP slews). Default `1s`.
    #[serde(with = "serde_duration")]
    pub tolerance: Duration,
    /// Default `10m`.
    #[serde(with = "serde_duration")]
    pub cooldown: Duration,
}

impl Default for ClockBackwardsConfig {
    fn default() -> ClockBackwardsConfig {
        ClockBackwardsConfig {
            enabled: true,
            tolerance: Duration::from_secs(1),
            cooldown: COOLDOWN,
        }
    }
}

impl GuardConfig {
    /// The cooldown of each kind, in ms, indexed as [`AlertKind::ALL`].
    pub(crate) fn cooldowns_ms(&self) -> [u64; 12] {
        AlertKind::ALL.map(|k| {
            ms(match k {
                AlertKind::RateSpikeActor => self.rate_spike_actor.cooldown,
                AlertKind::RateSpikeSubmitter => self.rate_spike_submitter.cooldown,
                AlertKind::ProtectedResource => self.protected_resource.cooldown,
                AlertKind::NewPrivilegedActor => self.new_privileged_actor.cooldown,
                AlertKind::DeniedBurstIdentity => self.denied_burst_identity.cooldown,
                AlertKind::DeniedBurstAddress => self.denied_burst_address.cooldown,
                AlertKind::OffHours => self.off_hours.cooldown,
                AlertKind::WitnessConflict => self.witness_conflict.cooldown,
                AlertKind::SignerRefused => self.signer_refused.cooldown,
                AlertKind::SelfAuditFailed => self.self_audit_failed.cooldown,
                AlertKind::StaleCheckpoint => self.stale_checkpoint.cooldown,
                AlertKind::ClockBackwards => self.clock_backwards.cooldown,
            })
        })
    }

    /// The checks that need no compiled pattern (those are checked where
    /// they are compiled).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.max_alerted_subjects == 0 {
            return Err("max_alerted_subjects: must be at least 1".into());
        }
        for (name, r) in [
            ("rate_spike_actor", &self.rate_spike_actor),
            ("rate_spike_submitter", &self.rate_spike_submitter),
        ] {
            if r.window.as_millis() == 0 {
                return Err(format!("{name}.window: must be at least 1ms"));
            }
            if !(r.smoothing > 0.0 && r.smoothing <= 1.0) {
                return Err(format!(
                    "{name}.smoothing: {} is not in (0, 1]",
                    r.smoothing
                ));
            }
            if !(r.sigmas.is_finite() && r.sigmas >= 0.0) {
                return Err(format!("{name}.sigmas: {} is not a number >= 0", r.sigmas));
            }
            if r.min_count == 0 {
                return Err(format!("{name}.min_count: must be at least 1"));
            }
            if r.max_keys == 0 {
                return Err(format!("{name}.max_keys: must be at least 1"));
            }
        }
        for (name, d) in [
            ("denied_burst_identity", &self.denied_burst_identity),
            ("denied_burst_address", &self.denied_burst_address),
        ] {
            if d.window.as_millis() == 0 {
                return Err(format!("{name}.window: must be at least 1ms"));
            }
            if d.threshold == 0 {
                return Err(format!("{name}.threshold: must be at least 1"));
            }
            if d.max_keys == 0 {
                return Err(format!("{name}.max_keys: must be at least 1"));
            }
        }
        if self.new_privileged_actor.max_pairs == 0 {
            return Err("new_privileged_actor.max_pairs: must be at least 1".into());
        }
        Ok(())
    }
}

/// Whole milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses a duration with its unit: `500ms`, `10s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 500ms, 10s, 5m or 1h"))?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        _ => Err(format!("{text:?}: the unit must be ms, s, m or h")),
    }
}

/// Writes `d` in the largest unit that holds it exactly (below a
/// millisecond is rounded down).
fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

/// `#[serde(with = "...")]` for a `Duration` written with its unit.
mod serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_read_back() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "10", "ms", "1.5s", "-1s", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for text in ["0s", "1500ms", "90s", "2m", "1h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
