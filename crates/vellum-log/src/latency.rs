//! A lock-free latency histogram for the log's own counters: how long
//! accepted appends spend inside the log (queue wait plus their round),
//! apart from the network and the RPC layer in front of it.
//!
//! Buckets are log-linear, eight per power of two (so a reported value is
//! within 12.5% of the true one), from 1 µs to about 12 days. Recording is
//! one relaxed atomic add; readers take a snapshot and subtract an earlier
//! one to get the histogram of a window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two.
const SUB: u64 = 8;
/// Powers of two covered (2^40 µs is about 12.7 days).
const OCTAVES: u64 = 40;
const BUCKETS: usize = ((OCTAVES - 2) * SUB + SUB) as usize;

/// The bucket of a duration of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let octave = u64::from(63 - us.leading_zeros()); // >= 3
    let sub = (us >> (octave - 3)) & (SUB - 1);
    (((octave - 2) * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The smallest duration, in microseconds, that falls in bucket `i`.
fn lower_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let octave = i / SUB + 2;
    (SUB + i % SUB) << (octave - 3)
}

/// Counts of durations, by bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    /// Every recorded duration added up, in microseconds.
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Counts one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Every recorded duration added up.
    pub fn sum(&self) -> Duration {
        Duration::from_micros(self.sum_us.load(Ordering::Relaxed))
    }

    /// The counts now.
    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot(
            self.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        )
    }
}

/// Counts by bucket at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencySnapshot(Vec<u64>);

impl LatencySnapshot {
    /// What was recorded between `earlier` and this snapshot.
    pub fn since(&self, earlier: &LatencySnapshot) -> LatencySnapshot {
        LatencySnapshot(
            self.0
                .iter()
                .enumerate()
                .map(|(i, n)| n - earlier.0.get(i).copied().unwrap_or(0))
                .collect(),
        )
    }

    /// For an exposition with upper bounds `2^k` microseconds for each
    /// `k` in `powers`: `(bound in µs, durations in the bucket)`, not
    /// cumulative, then `(None, the rest)`. Durations are whole
    /// microseconds and the log-linear buckets start at powers of two, so
    /// the counts are exact, except that a duration of exactly `2^k` µs
    /// counts in the bucket above `2^k`.
    pub fn power_of_two_buckets(&self, powers: &[u32]) -> Vec<(Option<u64>, u64)> {
        let mut out = Vec::with_capacity(powers.len() + 1);
        let mut from = 0usize;
        for &p in powers {
            let bound = 1u64 << p;
            let to = bucket(bound);
            out.push((Some(bound), self.0[from.min(to)..to].iter().sum()));
            from = from.max(to);
        }
        out.push((None, self.0[from..].iter().sum()));
        out
    }

    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `q` quantile (0 < q <= 1) as the lower bound of its bucket
    /// (within 12.5% below the true value); `None` when nothing was
    /// counted.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(lower_bound(i)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_lands_in_a_bucket_whose_bound_is_within_an_eighth() {
        for us in (0..5_000u64)
            .chain((1..60).map(|s| 1u64 << s))
            .chain([u64::MAX])
        {
            let b = bucket(us);
            let low = lower_bound(b);
            if b == BUCKETS - 1 {
                assert!(us >= low, "{us} below the last bucket's bound {low}");
                continue;
            }
            assert!(low <= us, "{us} in bucket {b} starting at {low}");
            assert!(us < lower_bound(b + 1), "{us} beyond bucket {b}");
            assert!(
                (us - low) * 8 <= us,
                "{us}: bound {low} more than 12.5% off"
            );
        }
    }

    #[test]
    fn quantiles_of_a_window() {
        let h = LatencyHistogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let before = h.snapshot();
        for _ in 0..100 {
            h.record(Duration::from_secs(2));
        }
        let all = h.snapshot();
        let p50 = all.quantile(0.5).unwrap();
        assert!(p50 >= Duration::from_micros(87_500) && p50 <= Duration::from_millis(100));
        let window = all.since(&before);
        assert_eq!(window.count(), 100);
        let p99 = window.quantile(0.99).unwrap();
        assert!(p99 >= Duration::from_millis(1750) && p99 <= Duration::from_secs(2));
        assert_eq!(LatencySnapshot::default().quantile(0.5), None);
    }

    #[test]
    fn power_of_two_buckets_split_at_their_bounds() {
        let h = LatencyHistogram::default();
        for us in [0u64, 3, 4, 1023, 1024, 1025, 5000, 1 << 30] {
            h.record(Duration::from_micros(us));
        }
        let b = h.snapshot().power_of_two_buckets(&[2, 10, 12]);
        assert_eq!(
            b,
            vec![
                (Some(4), 2),    // 0, 3
                (Some(1024), 2), // 4, 1023
                (Some(4096), 2), // 1024, 1025
                (None, 2),       // 5000, 2^30
            ]
        );
        assert_eq!(
            h.sum(),
            Duration::from_micros(3 + 4 + 1023 + 1024 + 1025 + 5000 + (1 << 30))
        );
    }
}
