//! What one caller saw: a latency histogram (HDR, microseconds), the
//! answers counted in the measured window, and the errors by gRPC code.
//!
//! The window rules, the same for every measurement:
//! * latency and errors are counted for requests whose *origin* (scheduled
//!   send time in open loop, actual send time in closed loop) lies in the
//!   window, however late their answer comes;
//! * throughput counts answers that *arrive* in the window, divided by its
//!   length: the steady rate, whatever was in flight at its edges.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The measured interval.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Start of measuring (the end of the warm-up).
    pub start: Instant,
    /// End of measuring.
    pub end: Instant,
}

impl Window {
    /// A window that opens after `warmup` from now and lasts `duration`.
    pub fn after(warmup: Duration, duration: Duration) -> Window {
        let start = Instant::now() + warmup;
        Window {
            start,
            end: start + duration,
        }
    }

    /// Whether `t` lies in the window.
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }

    /// Its length.
    pub fn len(&self) -> Duration {
        self.end - self.start
    }
}

/// Highest latency the histogram tracks: one hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

/// An empty latency histogram: 1 µs to 1 h, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // INVARIANT: constant, valid bounds (low >= 1, high >= 2 * low, sigfig <= 5).
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// Records `d` in microseconds (at least 1; above an hour is clamped).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS);
    h.saturating_record(us);
}

/// The gRPC code's canonical name (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// One caller's counts; merged at the end.
#[derive(Debug)]
pub struct Recorder {
    window: Window,
    /// Latencies of successful calls originating in the window.
    pub hist: Histogram<u64>,
    /// Successful calls answered in the window.
    pub ok_calls: u64,
    /// Entries (proofs) of those calls.
    pub ok_items: u64,
    /// Failed calls originating in the window, by gRPC code.
    pub errors: BTreeMap<String, u64>,
    /// Answers fully verified (signature and proof).
    pub verified: u64,
    /// Answers that failed a check: never counted as successes.
    pub invalid: u64,
    /// The first few reasons for `invalid`.
    pub invalid_reasons: Vec<String>,
    /// Requests scheduled in the window but never sent (the drain ran out).
    pub unsent: u64,
}

impl Recorder {
    /// An empty recorder for `window`.
    pub fn new(window: Window) -> Recorder {
        Recorder {
            window,
            hist: histogram(),
            ok_calls: 0,
            ok_items: 0,
            errors: BTreeMap::new(),
            verified: 0,
            invalid: 0,
            invalid_reasons: Vec::new(),
            unsent: 0,
        }
    }

    /// A successful call of `items` entries, sent (or scheduled) at `origin`.
    pub fn ok(&mut self, origin: Instant, done: Instant, items: u64) {
        if self.window.contains(origin) {
            record(&mut self.hist, done.saturating_duration_since(origin));
        }
        if self.window.contains(done) {
            self.ok_calls += 1;
            self.ok_items += items;
        }
    }

    /// A failed call.
    pub fn error(&mut self, origin: Instant, code: tonic::Code) {
        if self.window.contains(origin) {
            *self.errors.entry(code_name(code)).or_default() += 1;
        }
    }

    /// An answer that did not check out.
    pub fn invalid(&mut self, why: String) {
        self.invalid += 1;
        if self.invalid_reasons.len() < 5 {
            self.invalid_reasons.push(why);
        }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: Recorder) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.ok_calls += other.ok_calls;
        self.ok_items += other.ok_items;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.verified += other.verified;
        self.invalid += other.invalid;
        for r in other.invalid_reasons {
            if self.invalid_reasons.len() < 5 {
                self.invalid_reasons.push(r);
            }
        }
        self.unsent += other.unsent;
    }

    /// Calls refused with RESOURCE_EXHAUSTED (load shed, not failure).
    pub fn shed(&self) -> u64 {
        self.errors.get("RESOURCE_EXHAUSTED").copied().unwrap_or(0)
    }

    /// Failed calls other than shed ones.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum::<u64>() - self.shed()
    }

    /// The latency summary.
    pub fn latency(&self) -> Latency {
        Latency::of(&self.hist)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Calls measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn code_names() {
        assert_eq!(
            code_name(tonic::Code::ResourceExhausted),
            "RESOURCE_EXHAUSTED"
        );
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(
            code_name(tonic::Code::DeadlineExceeded),
            "DEADLINE_EXCEEDED"
        );
    }

    #[test]
    fn window_rules() {
        let w = Window::after(Duration::from_secs(1), Duration::from_secs(1));
        let mut r = Recorder::new(w);
        // Sent in the warm-up, answered in the window: throughput, no latency.
        r.ok(
            w.start - Duration::from_millis(5),
            w.start + Duration::from_millis(1),
            3,
        );
        // Sent in the window, answered after it: latency, no throughput.
        r.ok(
            w.end - Duration::from_millis(1),
            w.end + Duration::from_millis(9),
            3,
        );
        assert_eq!((r.ok_calls, r.ok_items, r.hist.len()), (1, 3, 1));
        assert!((r.latency().max_ms - 10.0).abs() < 0.05);
        r.error(w.start, tonic::Code::ResourceExhausted);
        r.error(w.start, tonic::Code::Internal);
        assert_eq!((r.shed(), r.failed()), (1, 1));
    }
}
