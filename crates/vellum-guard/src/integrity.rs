//! Integrity signals the server sees: each becomes an alert of its kind
//! when it means what it says (the cooldown folds the repeats of one
//! incident into one alert). No state beyond the settings.
//!
//! * witness conflict: only when the witness cosigned a *larger* tree than
//!   the log sent (a witness behind us is the normal case of a witness
//!   round); subject: the witness.
//! * signer refused, self-audit failed: always; subjects `signer`,
//!   `self_audit`.
//! * stale checkpoint: the latest checkpoint older than `max_age` while
//!   entries wait for one; subject `checkpoint`.
//! * clock backwards: a step back of more than `tolerance`; subject
//!   `clock`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::config::{GuardConfig, ms};
use crate::{AlertKind, Candidate, Evidence, Observed};

/// The integrity detectors' settings.
#[derive(Debug)]
pub(crate) struct Integrity {
    witness_conflict: bool,
    signer_refused: bool,
    self_audit_failed: bool,
    /// `None`: off.
    stale_max_age_ms: Option<u64>,
    /// `None`: off.
    clock_tolerance_ms: Option<u64>,
}

impl Integrity {
    pub(crate) fn new(cfg: &GuardConfig) -> Integrity {
        let on = |enabled: bool| cfg.enabled && enabled;
        Integrity {
            witness_conflict: on(cfg.witness_conflict.enabled),
            signer_refused: on(cfg.signer_refused.enabled),
            self_audit_failed: on(cfg.self_audit_failed.enabled),
            stale_max_age_ms: on(cfg.stale_checkpoint.enabled)
                .then(|| ms(cfg.stale_checkpoint.max_age)),
            clock_tolerance_ms: on(cfg.clock_backwards.enabled)
                .then(|| ms(cfg.clock_backwards.tolerance)),
        }
    }

    /// The alert `what` (an integrity signal) proposes, if any.
    pub(crate) fn observe<'a>(&self, what: &'a Observed, at_ms: u64) -> Option<Candidate<'a>> {
        let mut e = Map::new();
        let (kind, subject) = match what {
            Observed::WitnessConflict {
                witness,
                log_size,
                witness_size,
            } => {
                if !self.witness_conflict || witness_size <= log_size {
                    return None;
                }
                e.insert("log_size".into(), Value::from(*log_size));
                e.insert("witness_size".into(), Value::from(*witness_size));
                (AlertKind::WitnessConflict, Cow::Borrowed(witness.as_str()))
            }
            Observed::SignerRefused { error } => {
                if !self.signer_refused {
                    return None;
                }
                e.insert("error".into(), error.as_str().into());
                (AlertKind::SignerRefused, Cow::Borrowed("signer"))
            }
            Observed::SelfAuditFailed { finding } => {
                if !self.self_audit_failed {
                    return None;
                }
                e.insert("finding".into(), finding.as_str().into());
                (AlertKind::SelfAuditFailed, Cow::Borrowed("self_audit"))
            }
            Observed::Stale {
                checkpoint_age_ms,
                waiting_entries,
            } => {
                let max_age = self.stale_max_age_ms?;
                if *waiting_entries == 0 || *checkpoint_age_ms <= max_age {
                    return None;
                }
                e.insert("checkpoint_age_ms".into(), Value::from(*checkpoint_age_ms));
                e.insert("waiting_entries".into(), Value::from(*waiting_entries));
                e.insert("max_age_ms".into(), Value::from(max_age));
                (AlertKind::StaleCheckpoint, Cow::Borrowed("checkpoint"))
            }
            Observed::ClockBackwards { last_ms, now_ms } => {
                let tolerance = self.clock_tolerance_ms?;
                let back = last_ms.saturating_sub(*now_ms);
                if back <= tolerance {
                    return None;
                }
                e.insert("last_ms".into(), Value::from(*last_ms));
                e.insert("now_ms".into(), Value::from(*now_ms));
                e.insert("backwards_ms".into(), Value::from(back));
                e.insert("tolerance_ms".into(), Value::from(tolerance));
                (AlertKind::ClockBackwards, Cow::Borrowed("clock"))
            }
            Observed::Recorded { .. } | Observed::Refused { .. } => return None,
        };
        Some(Candidate {
            kind,
            subject,
            at_ms,
            observations: 1,
            evidence: Evidence::Map(e),
        })
    }
}
