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
