//! One incident, one alert: after an alert of a kind about a subject, the
//! same kind about the same subject is withheld for that kind's cooldown,
//! and counted; the next alert says how many were withheld
//! (`suppressed_before`). The table is bounded like the detectors'
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

/// The cooldown table.
#[derive(Debug)]
pub(crate) struct Cooldown {
    last: Lru<(AlertKind, String), Last>,
    cooldown_ms: [u64; 12],
}

impl Cooldown {
    pub(crate) fn new(cfg: &GuardConfig) -> Cooldown {
        Cooldown {
            last: Lru::new(cfg.max_alerted_subjects),
            cooldown_ms: cfg.cooldowns_ms(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.last.len()
    }

    /// The alert `c` becomes, or `None` if its subject is cooling down.
    pub(crate) fn admit(&mut self, c: Candidate) -> Option<Alert> {
        let cooldown_ms = self.cooldown_ms[c.kind.index()];
        let key = (c.kind, c.subject);
        let suppressed_before = match self.last.get_mut(&key) {
            Some(last) if c.at_ms < last.at_ms.saturating_add(cooldown_ms) => {
                last.suppressed += 1;
                return None;
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
                self.last.insert(
                    key.clone(),
                    Last {
                        at_ms: c.at_ms,
                        suppressed: 0,
                    },
                );
                0
            }
        };
        let (kind, subject) = key;
        let mut evidence = c.evidence;
        evidence.insert("observations".into(), Value::from(c.observations));
        evidence.insert("cooldown_ms".into(), Value::from(cooldown_ms));
        evidence.insert("suppressed_before".into(), Value::from(suppressed_before));
        Some(Alert {
            kind,
            subject,
            at_ms: c.at_ms,
            evidence,
        })
    }
}
