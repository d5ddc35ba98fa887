//! `WatchAlerts`: the alerts a server recorded about itself, as it streams
//! them. Each alert is an entry of the server's alerts log, so a verifying
//! client proves it like any entry ([`crate::Client::prove_entry`]).

use bytes::Bytes;
use vellum_proto::v1 as pb;

use crate::ClientError;
use crate::unverified::UnverifiedClient;

/// One recorded alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamedAlert {
    /// Its index in the alerts log.
    pub index: u64,
    /// Its kind (the action without `vellum.alert.`).
    pub kind: String,
    /// The recorded event, as stored (canonical JSON).
    pub recorded: Bytes,
    /// The alerts log's name on the server.
    pub log: String,
}

/// The alerts as they come: [`AlertStream::next`] until `None`.
#[derive(Debug)]
pub struct AlertStream {
    inner: tonic::Streaming<pb::RecordedAlert>,
}

impl AlertStream {
    /// The next alert; `None` when the stream ended (without `follow`, after
    /// the last recorded alert).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] when the stream broke (resume from the last
    /// index + 1), [`ClientError::BadResponse`] for an alert without its
    /// event.
    pub async fn next(&mut self) -> Result<Option<StreamedAlert>, ClientError> {
        let Some(a) = self.inner.message().await? else {
            return Ok(None);
        };
        if a.recorded.is_empty() {
            return Err(ClientError::BadResponse(format!(
                "alert {} without its recorded event",
                a.index
            )));
        }
        Ok(Some(StreamedAlert {
            index: a.index,
            kind: a.kind,
            recorded: a.recorded,
            log: a.log,
        }))
    }
}

impl UnverifiedClient {
    /// The recorded alerts from `from_index` on, oldest first; with
    /// `follow`, the stream stays open for new ones.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`FAILED_PRECONDITION` when the server
    /// records no alerts).
    pub async fn watch_alerts(
        &self,
        from_index: u64,
        follow: bool,
    ) -> Result<AlertStream, ClientError> {
        let inner = self
            .rpc()
            .watch_alerts(pb::WatchAlertsRequest { from_index, follow })
            .await?
            .into_inner();
        Ok(AlertStream { inner })
    }
}
