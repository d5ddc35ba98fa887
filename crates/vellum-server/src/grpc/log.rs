//! The `vellum.v1.Log` gRPC service: protobuf in, `vellum_log::Log` calls,
//! protobuf out. Input is validated here or in the log; errors become
//! statuses only through [`crate::status`]. The wire's conventions are
//! translated here and nowhere else: a size of 0 means the latest
//! checkpoint ([`At::Latest`]), and a number no tree can have is answered
//! as the log answers one beyond its tree. The request timeout is applied
//! once, to every call, by [`super::DeadlineLayer`].

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use vellum_log::{Appended, At, Log, LogError, Published, Wait};
use vellum_merkle::{Hash, LeafIndex, TreeSize};
use vellum_proto::v1 as pb;

use crate::access::Identity;
use crate::events::{Cursor, MAX_PAGE, Query, Recorder, Select};
use crate::guard::Alerts;
use crate::limits::Limits;
use crate::status::{invalid, status, stream_idle};

/// The gRPC face of a log.
#[derive(Clone, Debug)]
pub struct LogService {
    log: Log,
    limits: Arc<Limits>,
    /// Set for an events log: the one writer (`Record`); `Append` is
    /// refused.
    recorder: Option<Recorder>,
    /// The server's alerts (`WatchAlerts`), once started.
    alerts: Option<Alerts>,
}

impl LogService {
    /// Serves `log` within `limits`, as a raw log.
    pub fn new(log: Log, limits: Limits) -> LogService {
        LogService {
            log,
            limits: Arc::new(limits),
            recorder: None,
            alerts: None,
        }
    }

    /// Serves the log as an events log, written only by `recorder`.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Recorder) -> LogService {
        self.recorder = Some(recorder);
        self
    }

    /// Serves `WatchAlerts` from the server's `alerts`.
    #[must_use]
    pub fn with_alerts(mut self, alerts: Alerts) -> LogService {
        self.alerts = Some(alerts);
        self
    }

    /// The log served.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// An events log's recorder.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// Refuses a raw append on an events log.
    fn raw_appends_allowed(&self) -> Result<(), Status> {
        match self.recorder {
            Some(_) => Err(crate::status::events_log_refuses_append()),
            None => Ok(()),
        }
    }
}

/// The tree a request's `tree_size` names: 0 is the latest checkpoint. A
/// size above 2^63 is beyond any tree, and answered so.
fn at(log: &Log, size: u64) -> Result<At, LogError> {
    if size == 0 {
        return Ok(At::Latest);
    }
    TreeSize::new(size)
        .map(At::Size)
        .map_err(|_| LogError::SizeBeyondTree {
            size,
            committed: log.committed().size,
        })
}

/// A request's leaf index; one at or above 2^63 is not in the tree `at`
/// names (which is resolved first, so its own errors come first).
fn leaf(log: &Log, index: u64, at: At) -> Result<LeafIndex, LogError> {
    match LeafIndex::new(index) {
        Ok(i) => Ok(i),
        Err(_) => Err(LogError::IndexBeyondTree {
            index,
            size: log.resolve(at)?.0,
        }),
    }
}

/// A consistency request's `from_size`; one above 2^63 is larger than the
/// tree `to` names.
fn from_size(log: &Log, from: u64, to: At) -> Result<TreeSize, LogError> {
    match TreeSize::new(from) {
        Ok(s) => Ok(s),
        Err(_) => Err(LogError::FromAfterTo {
            from,
            to: log.resolve(to)?.0,
        }),
    }
}

/// An entries request's `start`; one at or above 2^63 is beyond the log.
fn start(log: &Log, start: u64) -> Result<LeafIndex, LogError> {
    LeafIndex::new(start).map_err(|_| LogError::EntryBeyondTree {
        index: start,
        committed: log.committed().size,
    })
}

/// The checkpoint a `GetCheckpoint` size names: 0 is the latest; a size
/// above 2^63 is not a size at all.
fn checkpoint_at(size: u64) -> Result<At, LogError> {
    if size == 0 {
        return Ok(At::Latest);
    }
    Ok(At::Size(TreeSize::new(size)?))
}

fn wait_from(v: i32) -> Result<Wait, Status> {
    match pb::WaitFor::try_from(v) {
        Ok(pb::WaitFor::Unspecified | pb::WaitFor::Durable) => Ok(Wait::Durable),
        Ok(pb::WaitFor::Checkpoint) => Ok(Wait::Checkpoint),
        Ok(pb::WaitFor::Witnessed) => Ok(Wait::Witnessed),
        Err(_) => Err(invalid(format!("unknown wait value {v}"))),
    }
}

fn hashes(v: &[Hash]) -> Vec<Bytes> {
    v.iter().map(|h| Bytes::copy_from_slice(&h.0)).collect()
}

fn note(p: Option<Published>) -> Bytes {
    p.map(|p| p.note).unwrap_or_default()
}

fn to_response(out: Appended, request_id: u64) -> pb::AppendResponse {
    let (checkpoint, proofs) = match out.proofs {
        Some((cp, proofs)) => (cp.note, Some(proofs)),
        None => (Bytes::new(), None),
    };
    let results = out
        .results
        .iter()
        .enumerate()
        .map(|(i, a)| pb::AppendResult {
            index: a.index.get(),
            duplicate: a.duplicate,
            inclusion_proof: proofs.as_ref().map(|p| hashes(&p[i])).unwrap_or_default(),
        })
        .collect();
    pb::AppendResponse {
        results,
        checkpoint,
        request_id,
        error: None,
    }
}

async fn append_one(log: &Log, req: pb::AppendRequest) -> Result<pb::AppendResponse, Status> {
    let wait = wait_from(req.wait)?;
    let out = log.append(req.entries, wait).await.map_err(status)?;
    Ok(to_response(out, req.request_id))
}

type AppendStream = Pin<Box<dyn Stream<Item = Result<pb::AppendResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::log_server::Log for LogService {
    async fn append(
        &self,
        request: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        self.raw_appends_allowed()?;
        // A checkpoint wait has its own deadline inside the log, shorter
        // than the call's; a durable append is bounded by the queue.
        append_one(&self.log, request.into_inner())
            .await
            .map(Response::new)
    }

    type AppendStreamStream = AppendStream;

    async fn append_stream(
        &self,
        request: Request<Streaming<pb::AppendRequest>>,
    ) -> Result<Response<AppendStream>, Status> {
        self.raw_appends_allowed()?;
        let mut incoming = request.into_inner();
        let limits = self.limits.clone();
        let log = self.log.clone();
        let (tx, rx) = mpsc::channel(limits.stream_max_in_flight);
        tokio::spawn(async move {
            let in_flight = Arc::new(Semaphore::new(limits.stream_max_in_flight));
            loop {
                // Holding a permit before reading the next request is the
                // per-stream bound: at the limit we stop reading, and HTTP/2
                // flow control makes the client wait.
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let next = tokio::time::timeout(limits.stream_idle_timeout, incoming.next()).await;
                let req = match next {
                    Err(_) => {
                        let _ = tx.send(Err(stream_idle(limits.stream_idle_timeout))).await;
                        return;
                    }
                    Ok(None) => return,
                    Ok(Some(Err(e))) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Ok(Some(Ok(req))) => req,
                };
                let (log, tx) = (log.clone(), tx.clone());
                tokio::spawn(async move {
                    let id = req.request_id;
                    let resp = match append_one(&log, req).await {
                        Ok(r) => r,
                        Err(s) => pb::AppendResponse {
                            request_id: id,
                            error: Some(pb::Error {
                                code: s.code() as i32,
                                message: s.message().to_owned(),
                            }),
                            ..Default::default()
                        },
                    };
                    let _ = tx.send(Ok(resp)).await;
                    drop(permit);
                });
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let size = request.into_inner().size;
        let checkpoint = checkpoint_at(size)
            .and_then(|at| self.log.checkpoint(at))
            .map_err(status)?;
        Ok(Response::new(pb::GetCheckpointResponse { checkpoint }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        let req = request.into_inner();
        let log = &self.log;
        let p = match req.leaf {
            None => return Err(invalid("give either index or leaf_hash")),
            Some(pb::get_inclusion_proof_request::Leaf::Index(i)) => {
                at(log, req.tree_size).and_then(|at| log.inclusion_proof(leaf(log, i, at)?, at))
            }
            Some(pb::get_inclusion_proof_request::Leaf::LeafHash(h)) => {
                let h = Hash::from_slice(&h).map_err(|e| invalid(format!("leaf_hash: {e}")))?;
                log.leaf_index(&h)
                    .and_then(|index| log.inclusion_proof(index, at(log, req.tree_size)?))
            }
        }
        .map_err(status)?;
        Ok(Response::new(pb::GetInclusionProofResponse {
            index: p.index.get(),
            tree_size: p.size.get(),
            proof: hashes(&p.proof),
            checkpoint: note(p.checkpoint),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        let req = request.into_inner();
        let log = &self.log;
        let p = at(log, req.to_size)
            .and_then(|to| log.consistency_proof(from_size(log, req.from_size, to)?, to))
            .map_err(status)?;
        Ok(Response::new(pb::GetConsistencyProofResponse {
            from_size: p.from.get(),
            to_size: p.to.get(),
            proof: hashes(&p.proof),
            checkpoint: note(p.checkpoint),
        }))
    }

    async fn get_entries(
        &self,
        request: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<pb::GetEntriesResponse>, Status> {
        let req = request.into_inner();
        let first = start(&self.log, req.start).map_err(status)?;
        let entries = self
            .log
            .entries(first, u64::from(req.count))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetEntriesResponse {
            start: req.start,
            entries,
        }))
    }

    async fn get_entry_and_proof(
        &self,
        request: Request<pb::GetEntryAndProofRequest>,
    ) -> Result<Response<pb::GetEntryAndProofResponse>, Status> {
        let req = request.into_inner();
        let log = &self.log;
        let (index, at) = at(log, req.tree_size)
            .and_then(|at| Ok((leaf(log, req.index, at)?, at)))
            .map_err(status)?;
        let e = log.entry_and_proof(index, at).await.map_err(status)?;
        Ok(Response::new(pb::GetEntryAndProofResponse {
            entry: e.entry,
            index: e.inclusion.index.get(),
            tree_size: e.inclusion.size.get(),
            proof: hashes(&e.inclusion.proof),
            checkpoint: note(e.inclusion.checkpoint),
        }))
    }

    async fn record(
        &self,
        request: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::RecordResponse>, Status> {
        let Some(recorder) = &self.recorder else {
            return Err(crate::status::raw_log_refuses_record());
        };
        // The authenticated caller; without access control (loopback
        // only, or an explicit override) nobody is authenticated.
        let submitter = request
            .extensions()
            .get::<Identity>()
            .map_or_else(|| "anonymous".to_owned(), |i| i.name.clone());
        let req = request.into_inner();
        let checked = wait_from(req.wait).and_then(|wait| {
            if wait == Wait::Witnessed {
                return Err(invalid(
                    "Record waits for durable or checkpoint; witnessed is not offered yet",
                ));
            }
            let event = req
                .event
                .ok_or_else(|| invalid("event: required"))
                .and_then(|e| {
                    vellum_event::Submitted::try_from(e).map_err(|e| invalid(e.to_string()))
                })?
                .validate(&vellum_event::Limits::default())
                .map_err(|e| invalid(e.to_string()))?;
            if event.action().starts_with("vellum.") {
                return Err(invalid(
                    "event.action: the prefix \"vellum.\" is reserved for the log's own events \
                     (alerts); choose another",
                ));
            }
            Ok((wait, event))
        });
        let (wait, event) = checked.inspect_err(|_| {
            recorder
                .stats()
                .invalid
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })?;
        let (at, proof) = recorder
            .record_and_wait(event, &submitter, wait)
            .await
            .map_err(crate::status::record_failure)?;
        let (checkpoint, inclusion_proof) = match proof {
            Some((note, path)) => (note, hashes(&path)),
            None => (Bytes::new(), Vec::new()),
        };
        Ok(Response::new(pb::RecordResponse {
            index: at.index.get(),
            duplicate: at.duplicate,
            recorded: at.bytes,
            checkpoint,
            inclusion_proof,
        }))
    }

    type WatchAlertsStream =
        Pin<Box<dyn Stream<Item = Result<pb::RecordedAlert, Status>> + Send + 'static>>;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let Some(alerts) = self.alerts.clone() else {
            return Err(Status::failed_precondition(
                "this server records no alerts (guardrails are off)",
            ));
        };
        let req = request.into_inner();
        let name = alerts.target().1.to_owned();
        let stream = crate::guard::watch(alerts, req.from_index, req.follow).map(move |r| {
            r.map(|a| pb::RecordedAlert {
                index: a.index,
                kind: a.kind,
                recorded: a.bytes,
                log: name.clone(),
            })
            .map_err(|e| Status::unavailable(format!("reading the alerts: {e}")))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let Some(recorder) = &self.recorder else {
            return Err(crate::status::raw_log_refuses_record());
        };
        let q = request.into_inner();
        let select = Select::from_fields(
            (q.resource_kind, q.resource_id),
            q.actor,
            q.action,
            !q.since.is_empty() || !q.until.is_empty(),
        )
        .map_err(invalid)?;
        let time = |name: &str, t: &str| {
            (!t.is_empty())
                .then(|| {
                    vellum_event::Timestamp::parse(t).map_err(|e| invalid(format!("{name}: {e}")))
                })
                .transpose()
        };
        let page_size = match q.page_size {
            0 => 100,
            n if n as usize > MAX_PAGE => {
                return Err(invalid(format!("page_size: at most {MAX_PAGE}")));
            }
            n => n as usize,
        };
        let query = Query {
            select,
            since: time("since", &q.since)?,
            until: time("until", &q.until)?,
            page_size,
            cursor: (!q.cursor.is_empty())
                .then(|| Cursor::decode(&q.cursor).map_err(invalid))
                .transpose()?,
        };
        let page = recorder
            .history(&query)
            .await
            .map_err(crate::status::record_failure)?;
        Ok(Response::new(pb::ListEventsResponse {
            checkpoint: page.checkpoint,
            events: page
                .events
                .into_iter()
                .map(|(index, recorded, proof)| pb::ListedEvent {
                    index,
                    recorded,
                    inclusion_proof: hashes(&proof),
                })
                .collect(),
            next_cursor: page.next.map(|c| c.encode()).unwrap_or_default(),
        }))
    }
}
