//! History answers (`Log.ListEvents`), verified: one checkpoint the trust
//! accepts, every event's inclusion proof against it, every event what
//! was asked for, and for a resource an unbroken chain down to its first
//! version.

use bytes::Bytes;
use vellum_event::{Recorded, Timestamp};
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{Hash, LeafIndex, leaf_hash};
use vellum_proto::v1 as pb;

use super::Client;
use crate::error::{ClientError, ProofError};
use crate::trust::TrustedCheckpoint;
use crate::unverified::hashes;

/// What a history query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryOf {
    /// Every version of a resource: `(kind, id)`.
    Resource(String, String),
    /// Everything an actor did.
    Actor(String),
    /// Every event with an action.
    Action(String),
    /// Every event whose `event_time` is within the query's `since` and
    /// `until` (at least one of them).
    Time,
}

/// One event of a verified history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    /// Its index in the log.
    pub index: LeafIndex,
    /// The stored entry (canonical JSON).
    pub bytes: Bytes,
    /// The entry read back.
    pub recorded: Recorded,
}

/// A verified history, newest first, and the checkpoint it is proven
/// against.
#[derive(Clone, Debug)]
pub struct History {
    /// The checkpoint every event was proven against.
    pub checkpoint: TrustedCheckpoint,
    /// The events, newest first.
    pub events: Vec<HistoryEvent>,
}

impl Client {
    /// The history `of`, every page, verified (see the module docs). `since`
    /// and `until` bound the events' `event_time` (not for a resource; at
    /// least one of them for [`HistoryOf::Time`]).
    ///
    /// ```no_run
    /// # async fn f(client: &vellum_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use vellum_client::HistoryOf;
    ///
    /// // Every version of one permission, newest first, each proven
    /// // against one checkpoint and chained to the one before it.
    /// let of = HistoryOf::Resource("permission".into(), "doc-7/editors".into());
    /// let h = client.history(&of, None, None).await?;
    /// for e in &h.events {
    ///     let who = &e.recorded.attested().submitter;
    ///     println!("{} {} {}", e.index, who, e.recorded.event().action());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidArgument`] for a time range without a bound;
    /// [`ClientError::Status`]; [`ClientError::BadCheckpoint`];
    /// [`ClientError::BadProof`] or [`ClientError::BadResponse`] naming the
    /// first event that fails: a proof that does not verify, an event that
    /// was not asked for, out of order, or a broken or cut-short chain.
    pub async fn history(
        &self,
        of: &HistoryOf,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<History, ClientError> {
        if *of == HistoryOf::Time && since.is_none() && until.is_none() {
            return Err(ClientError::InvalidArgument(
                "a time range needs since, until or both".into(),
            ));
        }
        let mut cursor = String::new();
        let mut checkpoint: Option<(Bytes, TrustedCheckpoint)> = None;
        let mut events: Vec<HistoryEvent> = Vec::new();
        loop {
            let (kind, id, actor, action) = match of {
                HistoryOf::Resource(k, i) => (k.clone(), i.clone(), String::new(), String::new()),
                HistoryOf::Actor(a) => (String::new(), String::new(), a.clone(), String::new()),
                HistoryOf::Action(a) => (String::new(), String::new(), String::new(), a.clone()),
                HistoryOf::Time => Default::default(),
            };
            let page = self
                .raw
                .rpc()
                .list_events(pb::ListEventsRequest {
                    resource_kind: kind,
                    resource_id: id,
                    actor,
                    action,
                    since: since.map(|t| t.to_string()).unwrap_or_default(),
                    until: until.map(|t| t.to_string()).unwrap_or_default(),
                    page_size: 0,
                    cursor: cursor.clone(),
                })
                .await?
                .into_inner();
            let cp = match &checkpoint {
                None => {
                    let cp = self.verify_checkpoint(&page.checkpoint, "history answer")?;
                    checkpoint = Some((page.checkpoint.clone(), cp.clone()));
                    cp
                }
                Some((note, cp)) if *note == page.checkpoint => cp.clone(),
                Some(_) => {
                    return Err(ClientError::BadResponse(
                        "a later page of the history is against another checkpoint".into(),
                    ));
                }
            };
            for e in page.events {
                let event = check_event(&cp, of, since, until, e)?;
                if let Some(newer) = events.last() {
                    if event.index >= newer.index {
                        return Err(ClientError::BadResponse(format!(
                            "event {} is listed after event {}: not newest first",
                            event.index, newer.index
                        )));
                    }
                    if matches!(of, HistoryOf::Resource(..)) {
                        link(newer, &event)?;
                    }
                }
                events.push(event);
            }
            if page.next_cursor.is_empty() {
                break;
            }
            cursor = page.next_cursor;
        }
        if let (HistoryOf::Resource(..), Some(oldest)) = (of, events.last())
            && let Some(prev) = oldest.recorded.attested().prev
        {
            return Err(ClientError::BadResponse(format!(
                "the history ends at event {}, whose prev names event {}: versions were left out",
                oldest.index, prev.index
            )));
        }
        let Some((_, checkpoint)) = checkpoint else {
            return Err(ClientError::BadResponse("no page was answered".into()));
        };
        Ok(History { checkpoint, events })
    }
}

/// One listed event: proven against `cp`, and what was asked for.
fn check_event(
    cp: &TrustedCheckpoint,
    of: &HistoryOf,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    e: pb::ListedEvent,
) -> Result<HistoryEvent, ClientError> {
    let index = LeafIndex::new(e.index)
        .map_err(|err| ClientError::BadResponse(format!("history event index: {err}")))?;
    let context = format!("history, event {index}");
    let path = hashes(&e.inclusion_proof, "inclusion proof")?;
    verify_inclusion(&leaf_hash(&e.recorded), index, cp.size(), &path, &cp.root()).map_err(
        |err| ClientError::BadProof {
            context: context.clone(),
            source: ProofError::Inclusion(err.into()),
        },
    )?;
    let recorded = Recorded::parse(&e.recorded).map_err(|err| {
        ClientError::BadResponse(format!(
            "{context}: not a recorded event in canonical form: {err}"
        ))
    })?;
    let ev = recorded.event();
    let asked = match of {
        HistoryOf::Resource(k, i) => ev.resource().kind == *k && ev.resource().id == *i,
        HistoryOf::Actor(a) => ev.actor().id == *a,
        HistoryOf::Action(a) => ev.action() == a,
        HistoryOf::Time => true,
    };
    let t = ev.event_time();
    if !asked || since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
        return Err(ClientError::BadResponse(format!(
            "{context}: not an event the query asked for"
        )));
    }
    Ok(HistoryEvent {
        index,
        bytes: e.recorded,
        recorded,
    })
}

/// `newer`'s `prev` names `older`: no version between them was left out.
fn link(newer: &HistoryEvent, older: &HistoryEvent) -> Result<(), ClientError> {
    match newer.recorded.attested().prev {
        Some(p) if p.index == older.index.get() && Hash(p.leaf_hash) == leaf_hash(&older.bytes) => {
            Ok(())
        }
        Some(p) => Err(ClientError::BadResponse(format!(
            "the chain breaks at event {}: its prev names event {}, but event {} follows",
            newer.index, p.index, older.index
        ))),
        None => Err(ClientError::BadResponse(format!(
            "the chain breaks at event {}: it is the resource's first, but event {} follows",
            newer.index, older.index
        ))),
    }
}
