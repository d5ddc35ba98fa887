//! Several logs behind one gRPC listener: a call names its log in the
//! `vellum-log` header ([`vellum_proto::LOG_HEADER`]); without it, it goes
//! to the default log. Each log has its own [`LogService`] (its own tree,
//! key, recorder and limits); this router only picks one, so nothing of one
//! log can appear in another's answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use tonic::{Request, Response, Status, Streaming};
use vellum_log::Log;
use vellum_proto::v1 as pb;
use vellum_proto::v1::log_server::Log as LogApi;
use vellum_proto::{DEFAULT_LOG, LOG_HEADER};

use super::LogService;

/// The log a call names: its `vellum-log` header, else the default log.
///
/// # Errors
///
/// `INVALID_ARGUMENT` for a header that is not a log name (given twice,
/// not ASCII, or outside the name's grammar).
pub fn log_of(headers: &HeaderMap) -> Result<&str, Status> {
    let mut values = headers.get_all(LOG_HEADER).iter();
    let Some(v) = values.next() else {
        return Ok(DEFAULT_LOG);
    };
    if values.next().is_some() {
        return Err(Status::invalid_argument(format!(
            "the {LOG_HEADER} header is given more than once"
        )));
    }
    let name = v.to_str().map_err(|_| {
        Status::invalid_argument(format!("the {LOG_HEADER} header is not a log name"))
    })?;
    vellum_proto::check_log_name(name)
        .map_err(|e| Status::invalid_argument(format!("{LOG_HEADER} header: {e}")))?;
    Ok(name)
}

/// The logs of one server, by name; the default log is one of them.
#[derive(Clone, Debug)]
pub struct LogRouter {
    logs: Arc<BTreeMap<String, LogService>>,
}

impl LogRouter {
    /// A router over `logs`, which must hold one named
    /// [`DEFAULT_LOG`].
    ///
    /// # Panics
    ///
    /// Never for a server's own logs: `start` always opens the default one.
    pub fn new(logs: BTreeMap<String, LogService>) -> LogRouter {
        assert!(
            logs.contains_key(DEFAULT_LOG),
            "a server always holds its default log"
        );
        LogRouter {
            logs: Arc::new(logs),
        }
    }

    /// A router over the default log alone.
    pub fn single(service: LogService) -> LogRouter {
        LogRouter::new(BTreeMap::from([(DEFAULT_LOG.to_owned(), service)]))
    }

    /// The default log's service.
    pub fn default_log(&self) -> &LogService {
        // `new` checked it is there.
        &self.logs[DEFAULT_LOG]
    }

    /// Every log, by name.
    pub fn logs(&self) -> impl Iterator<Item = (&str, &Log)> {
        self.logs.iter().map(|(n, s)| (n.as_str(), s.log()))
    }

    /// The service of the log named in `headers`.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` for a malformed name, `NOT_FOUND` for a log this
    /// server does not hold.
    pub fn pick(&self, headers: &HeaderMap) -> Result<&LogService, Status> {
        let name = log_of(headers)?;
        self.logs.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.logs.keys().map(String::as_str).collect();
            Status::not_found(format!(
                "this server holds no log named {name:?} (its logs: {})",
                names.join(", ")
            ))
        })
    }

    fn route<T>(&self, req: &Request<T>) -> Result<&LogService, Status> {
        self.pick(req.metadata().as_ref())
    }
}

#[tonic::async_trait]
impl LogApi for LogRouter {
    async fn append(
        &self,
        request: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        self.route(&request)?.append(request).await
    }

    type AppendStreamStream = <LogService as LogApi>::AppendStreamStream;

    async fn append_stream(
        &self,
        request: Request<Streaming<pb::AppendRequest>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        self.route(&request)?.append_stream(request).await
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        self.route(&request)?.get_checkpoint(request).await
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        self.route(&request)?.get_inclusion_proof(request).await
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        self.route(&request)?.get_consistency_proof(request).await
    }

    async fn get_entries(
        &self,
        request: Request<pb::GetEntriesRequest>,
    ) -> Result<Response<pb::GetEntriesResponse>, Status> {
        self.route(&request)?.get_entries(request).await
    }

    async fn get_entry_and_proof(
        &self,
        request: Request<pb::GetEntryAndProofRequest>,
    ) -> Result<Response<pb::GetEntryAndProofResponse>, Status> {
        self.route(&request)?.get_entry_and_proof(request).await
    }

    async fn record(
        &self,
        request: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::RecordResponse>, Status> {
        self.route(&request)?.record(request).await
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        self.route(&request)?.list_events(request).await
    }

    type WatchAlertsStream = <LogService as LogApi>::WatchAlertsStream;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        self.route(&request)?.watch_alerts(request).await
    }
}
