//! One incident, one alert: after an alert of a kind about a subject, the
//! same kind about the same subject is withheld for that kind's cooldown,
//! and counted; the next alert says how many were withheld
//! (`suppressed_before`). A withheld candidate costs a lookup and nothing
//! more: its evidence is built only once it is admitted, so a flood of
//! refusals during a burst stays cheap.
//!
//! One table per kind, each bounded like the detectors'
//! (`max_alerted_subjects`); a subject forgotten early can alert again
//! before its cooldown ends, which costs a repeat, never a miss.

use serde_json::Value;

use crate::config::GuardConfig;
use crate::lru::Lru;
use crate::{Alert, AlertKind, Candidate};

#[derive(Debug)]
struct Last {
    at_ms: u64,
    suppressed: u64,
}

/// The cooldown tables.
#[derive(Debug)]
pub(crate) struct Cooldown {
    last: [Lru<String, Last>; 12],
    cooldown_ms: [u64; 12],
}

impl Cooldown {
    pub(crate) fn new(cfg: &GuardConfig) -> Cooldown {
        Cooldown {
            last: std::array::from_fn(|_| Lru::new(cfg.max_alerted_subjects)),
            cooldown_ms: cfg.cooldowns_ms(),
        }
    }

    /// Subjects remembered, all kinds together.
    pub(crate) fn len(&self) -> usize {
        self.last.iter().map(Lru::len).sum()
    }

    /// Pushes the alert `c` becomes onto `out`, unless its subject is
    /// cooling down.
    pub(crate) fn admit(&mut self, c: Candidate<'_>, out: &mut Vec<Alert>) {
        let kind: AlertKind = c.kind;
        let cooldown_ms = self.cooldown_ms[kind.index()];
        let table = &mut self.last[kind.index()];
        let suppressed_before = match table.get_mut(c.subject.as_ref()) {
            Some(last) if c.at_ms < last.at_ms.saturating_add(cooldown_ms) => {
                last.suppressed += 1;
                return;
            }
            Some(last) => {
                let n = last.suppressed;
                *last = Last {
                    at_ms: c.at_ms,
                    suppressed: 0,
                };
                n
            }
            None => {
                let last = Last {
                    at_ms: c.at_ms,
                    suppressed: 0,
                };
                table.insert(c.subject.clone().into_owned(), last);
                0
            }
        };
        let mut evidence = c.evidence.into_map();
        evidence.insert("observations".into(), Value::from(c.observations));
        evidence.insert("cooldown_ms".into(), Value::from(cooldown_ms));
        evidence.insert("suppressed_before".into(), Value::from(suppressed_before));
        out.push(Alert {
            kind,
            subject: c.subject.into_owned(),
            at_ms: c.at_ms,
            evidence,
        });
    }
}
