//! Rate spikes, per actor or per submitter: each key's events are counted
//! in fixed windows (aligned on the epoch), and each complete window is
//! folded into the key's own baseline, an exponentially weighted mean.
//!
//! * Alert: a window's count passes `baseline + sigmas *
//!   sqrt(max(baseline, 1))` (the tail of a Poisson count of that mean)
//!   and `min_count`. It is raised by the observation that crosses, not
//!   when the window closes: the delay is the time the spike takes to
//!   reach the threshold.
//! * Warm-up per key: a key seen for the first time has no baseline. Its
//!   first window is partial (it began before the key was seen) and is
//!   never folded; it can alert only after `warmup_windows` complete
//!   windows, whose plain average starts the mean (the weight of the
//!   newest window is `max(smoothing, 1/n)`).
//! * A spike is not absorbed into its own baseline: a window is folded in
//!   clamped to the threshold, so a spike that began late in one window
//!   and alerts in the next has barely moved the baseline, and a lasting
//!   change of rate is learnt over several windows instead of at once.
//! * Windows with no event are folded lazily, as zeros, when the key is
//!   next seen (in closed form past the warm-up): no timer, O(1) per
//!   observation.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::config::{RateSpikeConfig, ms};
use crate::lru::Lru;
use crate::{AlertKind, Candidate, Evidence, num};

/// One key's counting state (about 100 bytes with its key in the table).
#[derive(Debug)]
struct Key {
    /// The window being counted.
    window: u64,
    /// Events in it so far.
    count: u32,
    /// The window the key was first seen in (partial: never folded).
    first_window: u64,
    /// Complete windows folded into `mean`.
    folded: u32,
    /// The baseline: events per window.
    mean: f64,
    /// Whether this window already alerted.
    alerted: bool,
}

/// The detector for one kind of key.
#[derive(Debug)]
pub(crate) struct RateSpike {
    params: Params,
    keys: Lru<String, Key>,
}

/// The detector's settings.
#[derive(Clone, Copy, Debug)]
struct Params {
    kind: AlertKind,
    window_ms: u64,
    smoothing: f64,
    warmup: u32,
    sigmas: f64,
    min_count: u32,
}

impl RateSpike {
    pub(crate) fn new(kind: AlertKind, cfg: &RateSpikeConfig) -> RateSpike {
        RateSpike {
            params: Params {
                kind,
                window_ms: ms(cfg.window).max(1),
                smoothing: cfg.smoothing,
                warmup: cfg.warmup_windows,
                sigmas: cfg.sigmas,
                min_count: cfg.min_count,
            },
            keys: Lru::new(cfg.max_keys),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Counts one event of `key` at `at_ms`.
    pub(crate) fn observe<'a>(&mut self, key: &'a str, at_ms: u64) -> Option<Candidate<'a>> {
        let params = self.params;
        let w = at_ms / params.window_ms;
        let k = self.keys.get_or_insert_with(key, || {
            let k = Key {
                window: w,
                count: 0,
                first_window: w,
                folded: 0,
                mean: 0.0,
                alerted: false,
            };
            (key.to_owned(), k)
        });
        // An observation from an earlier window than the key's latest is
        // counted in the latest (observations come nearly in order).
        if w > k.window {
            params.close(k, w);
        }
        k.count = k.count.saturating_add(1);
        if k.alerted || k.folded < params.warmup || k.count < params.min_count {
            return None;
        }
        let threshold = params.threshold(k.mean);
        if f64::from(k.count) <= threshold {
            return None;
        }
        k.alerted = true;
        let figures = Figures {
            count: k.count,
            window_ms: params.window_ms,
            window_start_ms: k.window.saturating_mul(params.window_ms),
            baseline: k.mean,
            threshold,
            sigmas: params.sigmas,
            min_count: params.min_count,
            windows_observed: k.folded,
        };
        Some(Candidate {
            kind: params.kind,
            subject: Cow::Borrowed(key),
            at_ms,
            observations: u64::from(k.count),
            evidence: Evidence::Rate(figures),
        })
    }
}

/// A spike's figures, turned into evidence only if the alert is admitted.
#[derive(Debug)]
pub(crate) struct Figures {
    count: u32,
    window_ms: u64,
    window_start_ms: u64,
    baseline: f64,
    threshold: f64,
    sigmas: f64,
    min_count: u32,
    windows_observed: u32,
}

impl Figures {
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut e = Map::new();
        e.insert("count".into(), Value::from(self.count));
        e.insert("window_ms".into(), Value::from(self.window_ms));
        e.insert("window_start_ms".into(), Value::from(self.window_start_ms));
        e.insert("baseline".into(), num(self.baseline));
        e.insert("threshold".into(), num(self.threshold));
        e.insert("sigmas".into(), num(self.sigmas));
        e.insert("min_count".into(), Value::from(self.min_count));
        e.insert(
            "windows_observed".into(),
            Value::from(self.windows_observed),
        );
        e
    }
}

impl Params {
    /// The statistical threshold over a baseline of `mean` per window.
    fn threshold(&self, mean: f64) -> f64 {
        mean + self.sigmas * mean.max(1.0).sqrt()
    }

    /// Folds the key's windows up to `w` (exclusive) and starts `w`.
    fn close(&self, k: &mut Key, w: u64) {
        if k.window != k.first_window {
            self.fold(k, f64::from(k.count));
        }
        // The windows between held no event of this key.
        let mut zeros = w - k.window - 1;
        while zeros > 0 && k.folded < self.warmup {
            self.fold(k, 0.0);
            zeros -= 1;
        }
        if zeros > 0 {
            // Past the warm-up the weight is constant: n zeros in closed
            // form.
            let n = i32::try_from(zeros).unwrap_or(i32::MAX);
            k.mean *= (1.0 - self.smoothing).powi(n);
            k.folded = k
                .folded
                .saturating_add(u32::try_from(zeros).unwrap_or(u32::MAX));
        }
        k.window = w;
        k.count = 0;
        k.alerted = false;
    }

    /// Folds one complete window of `count` events into the baseline.
    fn fold(&self, k: &mut Key, count: f64) {
        let value = if k.folded >= self.warmup {
            count.min(self.threshold(k.mean))
        } else {
            count
        };
        k.folded = k.folded.saturating_add(1);
        let weight = self.smoothing.max(1.0 / f64::from(k.folded));
        k.mean += weight * (value - k.mean);
    }
}
