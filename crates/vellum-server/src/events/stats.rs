//! What an events log's recorder counted, for metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use vellum_event::OutcomeResult;

/// Events by what became of them.
#[derive(Debug, Default)]
pub struct EventStats {
    /// Recorded (newly appended), by the event's outcome, in the order of
    /// [`EventStats::OUTCOMES`].
    recorded: [AtomicU64; 3],
    /// Retries answered with the event's first index.
    pub duplicates: AtomicU64,
    /// Refused before recording: the event did not validate.
    pub invalid: AtomicU64,
    /// Not recorded for a failure of the log (stopped, overloaded, timed
    /// out): the caller was told to retry.
    pub failed: AtomicU64,
    /// Recorded events the detectors did not see (they were behind).
    pub tap_missed: AtomicU64,
}

impl EventStats {
    /// The outcomes, in the order [`EventStats::recorded`] reports them.
    pub const OUTCOMES: [OutcomeResult; 3] = [
        OutcomeResult::Success,
        OutcomeResult::Failure,
        OutcomeResult::Denied,
    ];

    /// Counts one newly recorded event of outcome `o`.
    pub(crate) fn count_recorded(&self, o: OutcomeResult) {
        let i = Self::OUTCOMES.iter().position(|x| *x == o).unwrap_or(0);
        self.recorded[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Recorded events by outcome.
    pub fn recorded(&self) -> [(OutcomeResult, u64); 3] {
        let mut out = [(OutcomeResult::Success, 0); 3];
        for (i, o) in Self::OUTCOMES.iter().enumerate() {
            out[i] = (*o, self.recorded[i].load(Ordering::Relaxed));
        }
        out
    }
}
