//! Recording audit events on an events log, and checking what the log
//! says it recorded (docs/EVENTS.md).

use bytes::Bytes;
use vellum_event::{Limits, Recorded, Submitted};
use vellum_merkle::proof::verify_inclusion;
use vellum_merkle::{LeafIndex, leaf_hash};
use vellum_note::TlogProof;
use vellum_proto::v1 as pb;

use super::Client;
use crate::error::{ClientError, ProofError};
use crate::unverified::{UnverifiedClient, Wait, hashes, non_empty};

/// One recorded event, as checked by [`Client::record`].
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// Its index in the log.
    pub index: LeafIndex,
    /// True when the log had recorded an event with the same event id from
    /// the same submitter: this is that first recording.
    pub duplicate: bool,
    /// The stored entry: canonical JSON, what the proof proves.
    pub bytes: Bytes,
    /// The entry read back: the event and what the log attested
    /// (submitter, received_at, prev).
    pub recorded: Recorded,
    /// With [`Wait::Checkpoint`]: a tlog-proof of the entry, verified.
    pub proof: Option<TlogProof>,
}

impl Client {
    /// Records `event` on an events log and checks the answer: the entry is
    /// canonical JSON of a recorded event; unless the log says it is a
    /// retry's first recording, it holds exactly the event sent (the log may
    /// add only what it attests); with [`Wait::Checkpoint`], its inclusion
    /// proof verifies against a checkpoint the trust accepts.
    ///
    /// ```no_run
    /// # async fn f(client: &vellum_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use vellum_client::Wait;
    /// use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted};
    ///
    /// let event = Submitted {
    ///     actor: Actor { id: "alice".into(), kind: "user".into(), on_behalf_of: None },
    ///     action: "permission.grant".into(),
    ///     resource: Resource { kind: "permission".into(), id: "doc-7/editors".into() },
    ///     outcome: Outcome { result: Some(OutcomeResult::Success), reason: None },
    ///     event_time: "2026-12-05T18:30:00Z".into(),
    ///     attributes: Default::default(),
    ///     payload: Some(br#"{"after":{"role":"editor"}}"#.to_vec()),
    ///     event_id: Some("req-1".into()),
    /// };
    /// let r = client.record(&event, Wait::Checkpoint).await?;
    /// println!("{} {}", r.index, std::str::from_utf8(&r.bytes)?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidArgument`] for an event that does not validate
    /// (nothing is sent) or [`Wait::Witnessed`]; [`ClientError::Status`]
    /// (e.g. `FAILED_PRECONDITION` from a raw log); [`ClientError::BadResponse`]
    /// for an entry that is not the event sent; [`ClientError::BadCheckpoint`]
    /// and [`ClientError::BadProof`].
    pub async fn record(
        &self,
        event: &Submitted,
        wait: Wait,
    ) -> Result<RecordedEvent, ClientError> {
        let (resp, index, recorded) = self.raw.record_checked(event, wait).await?;
        let proof = match non_empty(resp.checkpoint) {
            None if wait == Wait::Durable => None,
            None => {
                return Err(ClientError::BadResponse(
                    "a checkpoint wait was answered without a checkpoint".into(),
                ));
            }
            Some(note) => {
                let context = format!("record answer, entry {index}");
                let cp = self.verify_checkpoint(&note, &context)?;
                let path = hashes(&resp.inclusion_proof, "inclusion proof")?;
                verify_inclusion(
                    &leaf_hash(&resp.recorded),
                    index,
                    cp.size(),
                    &path,
                    &cp.root(),
                )
                .map_err(|e| ClientError::BadProof {
                    context: context.clone(),
                    source: ProofError::Inclusion(e.into()),
                })?;
                Some(
                    TlogProof::new(None, index, path, note.to_vec()).map_err(|e| {
                        ClientError::BadProof {
                            context,
                            source: ProofError::Inclusion(e),
                        }
                    })?,
                )
            }
        };
        Ok(RecordedEvent {
            index,
            duplicate: resp.duplicate,
            bytes: resp.recorded,
            recorded,
            proof,
        })
    }
}

impl UnverifiedClient {
    /// Records `event` and checks what can be checked without a trust:
    /// the entry is a canonical recorded event and, unless the log says it
    /// is a retry's first recording, exactly the event sent. Nothing is
    /// proven: use [`Client::record`] for that.
    ///
    /// # Errors
    ///
    /// As [`Client::record`], without the checkpoint and proof errors.
    pub async fn record(
        &self,
        event: &Submitted,
        wait: Wait,
    ) -> Result<RecordedEvent, ClientError> {
        let (resp, index, recorded) = self.record_checked(event, wait).await?;
        Ok(RecordedEvent {
            index,
            duplicate: resp.duplicate,
            bytes: resp.recorded,
            recorded,
            proof: None,
        })
    }

    async fn record_checked(
        &self,
        event: &Submitted,
        wait: Wait,
    ) -> Result<(pb::RecordResponse, LeafIndex, Recorded), ClientError> {
        if wait == Wait::Witnessed {
            return Err(ClientError::InvalidArgument(
                "recording waits for durable or checkpoint".into(),
            ));
        }
        let sent = event
            .validate(&Limits::default())
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let resp = self
            .rpc()
            .record(pb::RecordRequest {
                event: Some(event.into()),
                wait: wait.to_proto() as i32,
            })
            .await?
            .into_inner();
        let index = LeafIndex::new(resp.index)
            .map_err(|e| ClientError::BadResponse(format!("record answer: {e}")))?;
        let recorded = Recorded::parse(&resp.recorded).map_err(|e| {
            ClientError::BadResponse(format!(
                "the entry at {index} is not a recorded event in canonical form: {e}"
            ))
        })?;
        if !resp.duplicate && recorded.event() != &sent {
            return Err(ClientError::BadResponse(format!(
                "the entry at {index} is not the event sent: the log changed it"
            )));
        }
        Ok((resp, index, recorded))
    }
}
