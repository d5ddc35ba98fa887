//! The log's counters, for metrics and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Rounds committed.
    pub rounds: AtomicU64,
    /// Entries answered by rounds (duplicates included).
    pub round_entries: AtomicU64,
    /// Time spent in rounds.
    pub round_nanos: AtomicU64,
    /// Entries that were already in the log.
    pub duplicates: AtomicU64,
    /// Appends refused for lack of queue space.
    pub pushbacks: AtomicU64,
    /// Append calls handed to the sequencer.
    pub accepted: AtomicU64,
    /// Witness rounds finished: every witness answered or timed out and the
    /// cosigned checkpoint was checked against the policy (and stored).
    pub witness_rounds: AtomicU64,
    /// Of those, the rounds whose checkpoint did not meet the policy.
    pub witness_rounds_below_policy: AtomicU64,
    /// Entries per second the sequencer gets through while it has a
    /// backlog (a moving average over such rounds; 0 until the first).
    pub service_rate: AtomicU64,
    /// Time from an append call's acceptance into the queue to its answer
    /// by the round that sequenced it (queue wait plus the round): the
    /// log's share of an append's latency, without the network and RPC
    /// layers in front of it.
    pub sequencing_latency: crate::latency::LatencyHistogram,
    /// How long rounds took, from taking the pool to answering it.
    pub round_duration: crate::latency::LatencyHistogram,
    /// Entries per round (duplicates included), by power of two.
    pub round_sizes: RoundSizes,
    /// One per witness of the log's [`Witnessing`](crate::Witnessing), in
    /// its order; empty without witnesses.
    pub witnesses: Vec<WitnessStats>,
    /// Checkpoints the signer did not sign: unavailable (retried) or
    /// refused (the log stops).
    pub signer_failures: AtomicU64,
    /// The latest of those failures, in words.
    pub last_signer_failure: std::sync::Mutex<Option<String>>,
}

/// Rounds by their number of entries: bucket `k` counts rounds of
/// `2^(k-1) < n <= 2^k` entries (bucket 0: one entry), the last bucket
/// everything above `2^(ROUND_SIZE_BUCKETS - 2)`.
#[derive(Debug, Default)]
pub struct RoundSizes([AtomicU64; ROUND_SIZE_BUCKETS]);

/// Buckets of [`RoundSizes`]: up to 2^20 entries, then the rest.
pub const ROUND_SIZE_BUCKETS: usize = 22;

impl RoundSizes {
    /// Counts one round of `n` entries.
    pub fn record(&self, n: u64) {
        let k = if n <= 1 {
            0
        } else {
            (64 - (n - 1).leading_zeros()) as usize
        };
        self.0[k.min(ROUND_SIZE_BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// `(upper bound, rounds in the bucket)` per bucket, not cumulative;
    /// the last bound is `None` (no upper bound).
    pub fn buckets(&self) -> Vec<(Option<u64>, u64)> {
        self.0
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let bound = (k + 1 < ROUND_SIZE_BUCKETS).then(|| 1u64 << k);
                (bound, c.load(Ordering::Relaxed))
            })
            .collect()
    }
}

/// What the log saw of one witness.
#[derive(Debug, Default)]
pub struct WitnessStats {
    /// The witness's name.
    pub name: String,
    /// The largest tree size it cosigned for this log (this process).
    pub cosigned_size: AtomicU64,
    /// When it last cosigned, in seconds since the Unix epoch (0: never).
    pub last_cosigned_unix: AtomicU64,
    /// Whether its latest request ended in a cosignature (1) or not (0).
    pub up: AtomicU64,
    /// Requests that ended in a cosignature.
    pub cosigned: AtomicU64,
    /// Requests answered with a conflict (the witness holds another size).
    pub conflicts: AtomicU64,
    /// Requests refused, failed or unverifiable.
    pub failed: AtomicU64,
    /// Requests that got no answer within the round's time.
    pub timed_out: AtomicU64,
    /// The largest size a conflict named that was beyond the log's
    /// checkpoint: the witness has seen a larger tree of this log (a
    /// possible fork, or a rollback of this log). 0: never.
    pub conflict_beyond: AtomicU64,
}

impl Stats {
    /// Counts a checkpoint the signer did not sign, and why.
    pub(crate) fn signer_failed(&self, why: &str) {
        *self
            .last_signer_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
        self.signer_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counters for a log with the witnesses named `names`, in order.
    pub fn with_witnesses<'a>(names: impl IntoIterator<Item = &'a str>) -> Stats {
        Stats {
            witnesses: names
                .into_iter()
                .map(|n| WitnessStats {
                    name: n.to_owned(),
                    ..WitnessStats::default()
                })
                .collect(),
            ..Stats::default()
        }
    }
}

impl Stats {
    /// Folds the rate of one backlogged round into
    /// [`Stats::service_rate`]: a quarter of the new sample, so that one odd
    /// round (a compaction stall) moves the estimate but does not set it.
    pub(crate) fn record_service_rate(&self, per_sec: u64) {
        let old = self.service_rate.load(Ordering::Relaxed);
        let new = if old == 0 {
            per_sec
        } else {
            (old * 3 + per_sec) / 4
        };
        self.service_rate.store(new.max(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_sizes_land_in_their_power_of_two() {
        let r = RoundSizes::default();
        for n in [1u64, 2, 3, 4, 5, 1 << 20, (1 << 20) + 1, u64::MAX] {
            r.record(n);
        }
        let b = r.buckets();
        assert_eq!(b.len(), ROUND_SIZE_BUCKETS);
        assert_eq!(b[0], (Some(1), 1));
        assert_eq!(b[1], (Some(2), 1));
        assert_eq!(b[2], (Some(4), 2)); // 3, 4
        assert_eq!(b[3], (Some(8), 1)); // 5
        assert_eq!(b[20], (Some(1 << 20), 1));
        assert_eq!(b[21], (None, 2));
        assert_eq!(b.iter().map(|(_, c)| c).sum::<u64>(), 8);
    }
}
