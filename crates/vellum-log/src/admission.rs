//! Admission: what an append must pass before it is queued. The input
//! limits (entries per call, entry size), then room: the bounded queue
//! (entries and bytes) and the queue-delay limit, which refuses at once
//! with [`LogError::QueueFull`] rather than letting every accepted entry get
//! slower. [`Log::refuse_early`] is the cheap version the server asks
//! before it even decodes a call.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use crate::append::Wait;
use crate::error::{LogError, QueueLimit};
use crate::log::Log;

/// The queue room an admitted append holds until its round answers it.
pub(crate) type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

impl Log {
    /// Checks `entries` against the limits and takes their room in the
    /// queue. Nothing is queued on error.
    pub(crate) fn admit(&self, entries: &[Bytes], wait: Wait) -> Result<Permits, LogError> {
        let cfg = &self.inner.config;
        self.check_running()?;
        if entries.is_empty() {
            return Err(LogError::NoEntries);
        }
        if entries.len() > cfg.max_entries_per_call {
            return Err(LogError::TooManyEntries {
                count: entries.len(),
                limit: cfg.max_entries_per_call,
            });
        }
        if let Some((index, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > cfg.max_entry_size)
        {
            return Err(LogError::EntryTooLarge {
                index,
                len: e.len(),
                limit: cfg.max_entry_size,
            });
        }
        if wait == Wait::Witnessed && self.inner.witnessed.is_none() {
            return Err(LogError::NoWitnesses);
        }
        let bytes: usize = entries.iter().map(Bytes::len).sum();
        self.within_queue_delay(entries.len())
            .map_err(|limit| self.pushback(limit))?;
        // INVARIANT: the config validated entries per call <= queue length,
        // so a single call can always fit an empty queue.
        let entry_permit = self
            .inner
            .entry_slots
            .clone()
            .try_acquire_many_owned(entries.len() as u32)
            .map_err(|_| self.pushback(QueueLimit::Entries(cfg.queue_max_entries)))?;
        let byte_permit = self
            .inner
            .byte_slots
            .clone()
            .try_acquire_many_owned(bytes.max(1).min(u32::MAX as usize) as u32)
            .map_err(|_| self.pushback(QueueLimit::Bytes(cfg.queue_max_bytes)))?;
        Ok((entry_permit, byte_permit))
    }

    /// Counts a refusal for lack of room, and says so.
    fn pushback(&self, limit: QueueLimit) -> LogError {
        self.inner.stats.pushbacks.fetch_add(1, Ordering::Relaxed);
        LogError::QueueFull {
            limit,
            expected_wait: self.expected_wait(),
        }
    }

    /// How long the queued entries take to sequence at the measured
    /// backlog rate (`None` before the first measurement).
    fn expected_wait(&self) -> Option<Duration> {
        let rate = self.inner.stats.service_rate.load(Ordering::Relaxed);
        (rate > 0).then(|| Duration::from_secs_f64(self.queued_entries() as f64 / rate as f64))
    }

    /// How many queued entries are allowed by the queue-delay limit: what
    /// the log sequences in `max_queue_delay` at its measured backlog rate,
    /// and never less than one full call (so any valid call fits an empty
    /// queue). `None` while there is no measurement or the limit is off.
    pub fn admission_limit(&self) -> Option<usize> {
        let delay = self.inner.config.max_queue_delay;
        let rate = self.inner.stats.service_rate.load(Ordering::Relaxed);
        if delay.is_zero() || rate == 0 {
            return None;
        }
        let by_delay = (rate as f64 * delay.as_secs_f64()) as usize;
        Some(by_delay.max(self.inner.config.max_entries_per_call))
    }

    /// Whether an append of even one entry would be refused for lack of
    /// room right now. The server asks before it decodes an append, so that
    /// a flood is refused without the cost of reading it; a call that gets
    /// past this is still checked exactly by [`Log::append`]. Counts the
    /// refusal as a pushback when it says yes.
    pub fn refuse_early(&self) -> bool {
        let full =
            self.inner.entry_slots.available_permits() == 0 || self.within_queue_delay(1).is_err();
        if full {
            self.inner.stats.pushbacks.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// Whether `n` more entries fit the queue-delay limit; if not, the
    /// limit they would pass.
    fn within_queue_delay(&self, n: usize) -> Result<(), QueueLimit> {
        let Some(limit) = self.admission_limit() else {
            return Ok(());
        };
        let queued = self.queued_entries();
        if queued + n <= limit {
            return Ok(());
        }
        Err(QueueLimit::Delay {
            queued,
            rate: self.inner.stats.service_rate.load(Ordering::Relaxed).max(1),
            limit: self.inner.config.max_queue_delay,
        })
    }

    /// Entries accepted and not yet sequenced (the queue depth).
    pub fn queued_entries(&self) -> usize {
        self.inner.config.queue_max_entries - self.inner.entry_slots.available_permits()
    }
}
