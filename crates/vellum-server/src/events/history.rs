//! History queries (`Log.ListEvents`): pages of events newest first, each
//! with its inclusion proof against one checkpoint, from the events index
//! (a backward scan of a resource's, an actor's or an action's keys, or a
//! scan of the time index for a time range).

use bytes::Bytes;
use vellum_event::{Recorded, Timestamp};
use vellum_log::LogError;
use vellum_merkle::LeafIndex;

use super::{RecordFailure, Recorder, Select};

/// The most events one page of a history answer may ask for.
pub const MAX_PAGE: usize = 1000;

/// A history query (`Log.ListEvents`).
#[derive(Clone, Debug)]
pub struct Query {
    /// Which events.
    pub select: Select,
    /// Only events whose `event_time` is at or after this.
    pub since: Option<Timestamp>,
    /// Only events whose `event_time` is before this.
    pub until: Option<Timestamp>,
    /// At most this many events.
    pub page_size: usize,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
}

/// Where a page stopped: the checkpoint's size every page of the query
/// uses, and the index below which the next page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The size of the checkpoint the query is answered against.
    pub size: u64,
    /// The next page holds only events below this index.
    pub before: u64,
}

impl Cursor {
    /// The cursor as the wire carries it: `v1.<size>.<before>`.
    pub fn encode(&self) -> String {
        format!("v1.{}.{}", self.size, self.before)
    }

    /// Reads [`Cursor::encode`]'s text.
    ///
    /// # Errors
    ///
    /// A message saying the cursor is not one this log wrote.
    pub fn decode(text: &str) -> Result<Cursor, String> {
        let bad = || format!("cursor {text:?} is not one this log gave");
        let mut parts = text.split('.');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let size = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let before = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if parts.next().is_some() || before > size {
            return Err(bad());
        }
        Ok(Cursor { size, before })
    }
}

/// One page of a history answer.
#[derive(Clone, Debug)]
pub struct Page {
    /// The signed checkpoint every proof is against.
    pub checkpoint: Bytes,
    /// (index, entry, inclusion proof), newest first.
    pub events: Vec<(u64, Bytes, Vec<vellum_merkle::Hash>)>,
    /// Set when there may be more.
    pub next: Option<Cursor>,
}

impl Recorder {
    /// Answers a history query against one checkpoint: the latest published
    /// one for a first page, the cursor's for the next ones.
    ///
    /// # Errors
    ///
    /// [`RecordFailure::Invalid`] for a time bound with a resource (a chain
    /// is listed whole), a time range without a bound, or a cursor beyond
    /// the log; the log's errors (e.g. no checkpoint yet).
    pub async fn history(&self, q: &Query) -> Result<Page, RecordFailure> {
        let bounded = q.since.is_some() || q.until.is_some();
        if matches!(q.select, Select::Resource { .. }) && bounded {
            return Err(RecordFailure::Invalid(
                "since and until do not apply to a resource: its chain is listed whole".into(),
            ));
        }
        if q.select == Select::Time && !bounded {
            return Err(RecordFailure::Invalid(
                "a time range needs since, until or both".into(),
            ));
        }
        let (size, checkpoint, before) = match q.cursor {
            Some(c) => {
                let size = vellum_merkle::TreeSize::new(c.size)
                    .map_err(|e| RecordFailure::Invalid(format!("cursor: {e}")))?;
                let note = self
                    .log()
                    .checkpoint(vellum_log::At::Size(size))
                    .map_err(|e| {
                        RecordFailure::Invalid(format!(
                            "cursor {:?} is not one this log gave: {e}",
                            c.encode()
                        ))
                    })?;
                (c.size, note, c.before)
            }
            None => {
                let p = self.log().published().ok_or(LogError::NotSignedYet)?;
                (p.size.get(), p.note, p.size.get())
            }
        };
        self.covering(size).await?;
        let page_size = q.page_size.max(1);
        // One more than a page: whether there is a next one.
        let indices = self
            .lookup(&q.select, q.since, q.until, before.min(size), page_size + 1)
            .await?;
        let at = vellum_log::At::Size(
            vellum_merkle::TreeSize::new(size)
                .map_err(|e| RecordFailure::Invalid(e.to_string()))?,
        );
        let mut events = Vec::new();
        let mut next = None;
        for (n, &i) in indices.iter().enumerate() {
            if n == page_size {
                next = Some(Cursor {
                    size,
                    before: i + 1,
                });
                break;
            }
            let index = LeafIndex::new(i).map_err(|e| RecordFailure::Invalid(e.to_string()))?;
            let entry = self
                .log()
                .entries(index, 1)
                .await?
                .pop()
                .ok_or_else(|| RecordFailure::Stopped(format!("entry {i} cannot be read")))?;
            let recorded = Recorded::parse(&entry).map_err(|e| {
                RecordFailure::Stopped(format!("entry {i} is not a recorded event: {e}"))
            })?;
            // The index is derived data: an answer is checked against the
            // entry it names before it goes out.
            if !q.select.names(&recorded) || !within(recorded.event().event_time(), q) {
                return Err(RecordFailure::Stopped(format!(
                    "the events index names entry {i}, which is not an event of this query \
                     (run `vellum fsck`; `vellum reindex` rebuilds the index)"
                )));
            }
            let proof = self.log().inclusion_proof(index, at)?;
            events.push((i, entry, proof.proof));
        }
        Ok(Page {
            checkpoint,
            events,
            next,
        })
    }
}

/// Whether `t` is within the query's time bounds.
fn within(t: Timestamp, q: &Query) -> bool {
    q.since.is_none_or(|s| t >= s) && q.until.is_none_or(|u| t < u)
}
