//! When callers send: closed loop (as soon as the previous answer is in) or
//! open loop (a fixed schedule, independent of answers).
//!
//! In open loop a pacer thread emits each call's scheduled time; callers
//! take them from one queue. When every caller is busy the queue grows and
//! the waiting shows up in the latency, which is measured from the
//! scheduled time: a slow server cannot hide its cost by delaying the
//! requests that would have measured it (coordinated omission). The pacer
//! is an OS thread because tokio's timer has millisecond granularity, too
//! coarse for 10,000 calls per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};

use crate::stats::Recorder;

/// A call's place in the schedule.
#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// Closed loop: send now; latency counts from the actual send.
    Now,
    /// Open loop: the call was due at this time; latency counts from it.
    Due(Instant),
}

/// The schedule shared by a run's callers.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// Send until `end`.
    Closed {
        /// No call starts after this.
        end: Instant,
    },
    /// Send at the pacer's times.
    Open {
        /// Scheduled times, in order.
        due: Arc<Mutex<mpsc::UnboundedReceiver<Instant>>>,
        /// Calls still queued after this are dropped and counted unsent.
        drain_until: Instant,
    },
}

impl Schedule {
    /// Closed loop until `end`.
    pub fn closed(end: Instant) -> Schedule {
        Schedule::Closed { end }
    }

    /// Open loop: `per_sec` calls a second from `start` until `end`; calls
    /// still unsent at `end + drain` are dropped.
    ///
    /// # Errors
    ///
    /// When the pacer thread cannot start or the rate is not positive.
    pub fn open(
        start: Instant,
        end: Instant,
        per_sec: f64,
        drain: Duration,
    ) -> anyhow::Result<Schedule> {
        anyhow::ensure!(
            per_sec > 0.0 && per_sec.is_finite(),
            "the rate must be positive"
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let interval = Duration::from_secs_f64(1.0 / per_sec);
        std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || {
                for k in 0u32.. {
                    let Some(due) = interval.checked_mul(k).and_then(|d| start.checked_add(d))
                    else {
                        return;
                    };
                    if due >= end {
                        return;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    if tx.send(due).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Schedule::Open {
            due: Arc::new(Mutex::new(rx)),
            drain_until: end + drain,
        })
    }

    /// The next call's slot, or `None` when the run is over.
    pub async fn next(&self, rec: &mut Recorder) -> Option<Slot> {
        match self {
            Schedule::Closed { end } => (Instant::now() < *end).then_some(Slot::Now),
            Schedule::Open { due, drain_until } => loop {
                let t = due.lock().await.recv().await?;
                if Instant::now() > *drain_until {
                    rec.unsent += 1;
                    continue;
                }
                return Some(Slot::Due(t));
            },
        }
    }

    /// Whether this is a fixed schedule.
    pub fn is_open(&self) -> bool {
        matches!(self, Schedule::Open { .. })
    }
}

impl Slot {
    /// The latency origin of a call sent now for this slot.
    pub fn origin(self) -> Instant {
        match self {
            Slot::Now => Instant::now(),
            Slot::Due(t) => t,
        }
    }
}
