//! Every limit of the log, explicit, with defaults.

use std::time::Duration;

use vellum_merkle::tiles::MAX_ENTRY_SIZE;

use crate::self_audit::SelfAuditConfig;

/// Configuration of one log.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// The checkpoint origin (and the log key's name).
    pub origin: String,
    /// A round starts when the pool holds this many entries...
    pub pool_max_entries: usize,
    /// ...or when its oldest entry has waited this long.
    pub pool_max_delay: Duration,
    /// Entries accepted but not yet sequenced, at most. Past it, appends are
    /// refused at once with `ResourceExhausted`.
    pub queue_max_entries: usize,
    /// Bytes of entries accepted but not yet sequenced, at most.
    pub queue_max_bytes: usize,
    /// The longest an accepted entry should wait in the queue. Once the log
    /// has measured how fast it sequences under backlog, an append that
    /// would queue more than this much work is refused at once with
    /// `ResourceExhausted`, so that entries it accepts keep their latency
    /// under overload instead of all of them getting slower. An accepted
    /// append then spends at most about this long in the queue, plus its
    /// own round. Zero turns this off (only the queue lengths above apply).
    ///
    /// The default, 50 ms, was chosen with `vellum-bench overload --batch
    /// 64` on a 2-core machine: at 5x its capacity, 100 ms let the log's
    /// p99 reach 197 ms, 50 ms kept it at 107 ms, with the same throughput.
    pub max_queue_delay: Duration,
    /// Entries in one append call, at most (a call is sequenced in one round).
    pub max_entries_per_call: usize,
    /// Bytes of one entry, at most (65,535: the tlog-tiles limit).
    pub max_entry_size: usize,
    /// Entries returned by one read, at most.
    pub max_page: usize,
    /// How long an append waits for a checkpoint before it answers
    /// `DeadlineExceeded` (its entries stay sequenced).
    pub checkpoint_wait_timeout: Duration,
    /// Delay between attempts when the signer is unreachable.
    pub signer_retry: Duration,
    /// The least time between the starts of two checkpoint signatures.
    /// Zero (the default): the next signature starts as soon as the last
    /// one is done and a round has committed, for the lowest latency of
    /// checkpoint waits. Each signature costs the signer a synced journal
    /// write and the store a synced checkpoint write, so a server holding
    /// many logs may give each a few hundred milliseconds: waits for a
    /// checkpoint take up to that long, appends and durable waits are not
    /// affected, and every committed round is still covered by the next
    /// checkpoint.
    pub checkpoint_interval: Duration,
    /// The background re-verification of the stored tree
    /// ([`crate::self_audit`]); off unless set.
    pub self_audit: SelfAuditConfig,
}

impl LogConfig {
    /// The defaults for `origin`.
    ///
    /// The pool defaults were chosen with `vellum bench` on a 2-core machine
    /// (see the README, "Performance"): a round costs one fsync, so
    /// the pool delay trades a little latency at low load for far fewer
    /// syncs; under load rounds fill up from the queue that builds while the
    /// previous round commits, and the delay is never waited for.
    pub fn new(origin: &str) -> LogConfig {
        LogConfig {
            origin: origin.to_owned(),
            pool_max_entries: 4096,
            pool_max_delay: Duration::from_millis(1),
            queue_max_entries: 64 * 1024,
            queue_max_bytes: 128 << 20,
            max_queue_delay: Duration::from_millis(50),
            max_entries_per_call: 4096,
            max_entry_size: MAX_ENTRY_SIZE,
            max_page: 1024,
            checkpoint_wait_timeout: Duration::from_secs(10),
            signer_retry: Duration::from_millis(200),
            checkpoint_interval: Duration::ZERO,
            self_audit: SelfAuditConfig::off(),
        }
    }

    /// Checks that the limits make sense together.
    ///
    /// # Errors
    ///
    /// A message naming the inconsistent settings.
    pub fn validate(&self) -> Result<(), String> {
        if self.origin.is_empty() {
            return Err("the origin must not be empty".into());
        }
        if self.max_entry_size > MAX_ENTRY_SIZE {
            return Err(format!(
                "max entry size {} is above the tlog-tiles limit of {MAX_ENTRY_SIZE} bytes",
                self.max_entry_size
            ));
        }
        if self.pool_max_entries == 0 || self.max_entries_per_call == 0 || self.max_page == 0 {
            return Err("pool size, entries per call and page size must be at least 1".into());
        }
        if self.max_entries_per_call > self.queue_max_entries {
            return Err(format!(
                "entries per call ({}) cannot exceed the queue length ({})",
                self.max_entries_per_call, self.queue_max_entries
            ));
        }
        if self.max_entry_size > self.queue_max_bytes {
            return Err("the queue must hold at least one entry of the maximum size".into());
        }
        Ok(())
    }
}
