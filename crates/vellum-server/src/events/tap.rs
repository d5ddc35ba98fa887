//! What the recorder tells the guard's detectors about each event it
//! recorded. Sent after the event is durable and indexed and its caller
//! answered (no detector work delays an answer), never waiting:
//! when the detectors are behind, the event is not shown to them (and the
//! miss is counted), but it is recorded all the same.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use vellum_event::{OutcomeResult, Recorded};

/// One recorded event, as the detectors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced {
    /// The attested submitter.
    pub submitter: String,
    /// The actor's id.
    pub actor: String,
    /// The action.
    pub action: String,
    /// The resource's kind and id.
    pub resource: (String, String),
    /// The outcome.
    pub outcome: OutcomeResult,
    /// The log's clock when it was recorded, Unix milliseconds.
    pub received_at_ms: u64,
}

impl Sequenced {
    fn of(r: &Recorded) -> Sequenced {
        let e = r.event();
        let t = r.attested().received_at.to_offset_date_time();
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        Sequenced {
            submitter: r.attested().submitter.clone(),
            actor: e.actor().id.clone(),
            action: e.action().to_owned(),
            resource: (e.resource().kind.clone(), e.resource().id.clone()),
            outcome: e.result(),
            received_at_ms: u64::try_from(ms).unwrap_or(0),
        }
    }
}

/// Sends each of `records` to `tap`, if set, counting what did not fit.
pub(super) fn send<'a>(
    tap: Option<&mpsc::Sender<Sequenced>>,
    stats: &super::EventStats,
    records: impl Iterator<Item = &'a Recorded>,
) {
    let Some(tap) = tap else { return };
    for r in records {
        if tap.try_send(Sequenced::of(r)).is_err() {
            stats.tap_missed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
