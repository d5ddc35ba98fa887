//! Bursts of denials, per identity or per client address, in a sliding
//! window: each key keeps the times of its last `threshold` denials, so
//! "`threshold` denials within `window`" is exact, and a key holds at most
//! `threshold` times (8 bytes each).
//!
//! What counts: for an identity, every call refused to that token
//! (unauthenticated or permission denied) and every recorded event with
//! outcome `denied` (the identity is then the event's actor); for an
//! address, every call refused from it (recorded events carry no address).
//! An unauthenticated call counts for its address only.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde_json::{Map, Value};

use crate::config::{DeniedBurstConfig, ms};
use crate::lru::Lru;
use crate::{AlertKind, Candidate, Evidence, Refusal};

/// Where a denial was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Access control refused a call.
    Refused(Refusal),
    /// The log recorded an event with outcome denied.
    Recorded,
}

impl Source {
    /// Packs the source in the low two bits of a time.
    fn tag(self) -> u64 {
        match self {
            Source::Refused(Refusal::Unauthenticated) => 0,
            Source::Refused(Refusal::PermissionDenied) => 1,
            Source::Recorded => 2,
        }
    }
}

/// The detector for one kind of key.
#[derive(Debug)]
pub(crate) struct DeniedBurst {
    kind: AlertKind,
    window_ms: u64,
    threshold: usize,
    /// Per key, its latest denials as `at_ms << 2 | source`, oldest first.
    keys: Lru<String, VecDeque<u64>>,
}

impl DeniedBurst {
    pub(crate) fn new(kind: AlertKind, cfg: &DeniedBurstConfig) -> DeniedBurst {
        DeniedBurst {
            kind,
            window_ms: ms(cfg.window).max(1),
            threshold: usize::try_from(cfg.threshold).unwrap_or(usize::MAX).max(1),
            keys: Lru::new(cfg.max_keys),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Counts one denial of `key` at `at_ms`.
    pub(crate) fn observe<'a>(
        &mut self,
        key: &'a str,
        at_ms: u64,
        source: Source,
    ) -> Option<Candidate<'a>> {
        let threshold = self.threshold;
        let times = self
            .keys
            .get_or_insert_with(key, || (key.to_owned(), VecDeque::new()));
        // Kept in order: a denial a little out of order counts at the
        // latest time seen for the key. Times fit in 62 bits until the
        // year 146 million.
        let at = times.back().map_or(at_ms, |last| at_ms.max(last >> 2));
        if times.len() == threshold {
            times.pop_front();
        }
        times.push_back((at << 2) | source.tag());
        let start = at.saturating_sub(self.window_ms);
        while times.front().is_some_and(|t| (t >> 2) <= start) {
            times.pop_front();
        }
        if times.len() < threshold {
            return None;
        }
        let mut by_source = [0u64; 3];
        for t in times.iter() {
            by_source[usize::try_from(t & 3).unwrap_or(0)] += 1;
        }
        let figures = Figures {
            count: times.len(),
            window_ms: self.window_ms,
            threshold,
            first_ms: times.front().map_or(at, |t| t >> 2),
            by_source,
        };
        Some(Candidate {
            kind: self.kind,
            subject: Cow::Borrowed(key),
            at_ms,
            observations: times.len() as u64,
            evidence: Evidence::Denied(figures),
        })
    }
}

/// A burst's figures, turned into evidence only if the alert is admitted.
#[derive(Debug)]
pub(crate) struct Figures {
    count: usize,
    window_ms: u64,
    threshold: usize,
    first_ms: u64,
    /// Unauthenticated, permission denied, recorded denied.
    by_source: [u64; 3],
}

impl Figures {
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut e = Map::new();
        e.insert("count".into(), Value::from(self.count));
        e.insert("window_ms".into(), Value::from(self.window_ms));
        e.insert("threshold".into(), Value::from(self.threshold));
        e.insert("first_ms".into(), Value::from(self.first_ms));
        e.insert("unauthenticated".into(), Value::from(self.by_source[0]));
        e.insert("permission_denied".into(), Value::from(self.by_source[1]));
        e.insert("recorded_denied".into(), Value::from(self.by_source[2]));
        e
    }
}
