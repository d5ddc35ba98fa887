//! The gRPC calls, with the shape of each answer checked (hash lengths,
//! indices and sizes as asked) but nothing verified against a key.
//!
//! [`Client`](crate::Client) is built on this and verifies everything. Use
//! [`UnverifiedClient`] directly only to *show* what a log serves (e.g.
//! `vellum checkpoint` without a key), never to decide anything.

use std::time::Duration;

use bytes::Bytes;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use vellum_merkle::{Hash, leaf_hash};
use vellum_proto::v1 as pb;
use vellum_proto::v1::log_client::LogClient;

use crate::error::ClientError;

/// How long an append waits before the log answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wait {
    /// Until the entries have indices and are synced to stable storage.
    #[default]
    Durable,
    /// Until a signed checkpoint covers them; the answer carries proofs.
    Checkpoint,
    /// As [`Wait::Checkpoint`], with the witness cosignatures the log's
    /// policy requires.
    Witnessed,
}

impl Wait {
    pub(crate) fn to_proto(self) -> pb::WaitFor {
        match self {
            Wait::Durable => pb::WaitFor::Durable,
            Wait::Checkpoint => pb::WaitFor::Checkpoint,
            Wait::Witnessed => pb::WaitFor::Witnessed,
        }
    }
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one call may take (the server has its own limit, 30 s by
    /// default).
    pub request_timeout: Duration,
    /// Largest answer accepted, in bytes.
    pub max_response_bytes: usize,
    /// PEM certificates of the CA(s) that `https://` servers must chain to;
    /// `None`: the public web PKI roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The bearer token sent with every call (see the server's access
    /// control). It is sent only over `https://` or to a loopback address.
    pub token: Option<BearerToken>,
    /// A client certificate and its key, PEM, for `https://` servers that
    /// authenticate clients by certificate (mTLS).
    pub client_identity: Option<ClientIdentity>,
    /// The log to talk to, on a server holding several (sent as the
    /// `vellum-log` header); `None`: the server's default log.
    pub log: Option<String>,
}

/// A client certificate and its private key, PEM; its `Debug` does not
/// show the key.
#[derive(Clone)]
pub struct ClientIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl ClientIdentity {
    /// A certificate (chain) and its key, both PEM.
    pub fn from_pem(cert_pem: Vec<u8>, key_pem: Vec<u8>) -> ClientIdentity {
        ClientIdentity { cert_pem, key_pem }
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity(..)")
    }
}

/// A bearer token; its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps `token` (surrounding whitespace removed, e.g. a file's final
    /// newline).
    ///
    /// # Errors
    ///
    /// A message when the token is empty or not visible ASCII (it must fit
    /// an HTTP header).
    pub fn new(token: &str) -> Result<BearerToken, String> {
        let t = token.trim();
        if t.is_empty() {
            return Err("the token is empty".into());
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a token must be visible ASCII without spaces".into());
        }
        Ok(BearerToken(t.to_owned()))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// Adds `authorization: Bearer <token>` and the log's name to every call.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    bearer: Option<AsciiMetadataValue>,
    log: Option<AsciiMetadataValue>,
}

impl Interceptor for Headers {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.bearer {
            req.metadata_mut().insert("authorization", v.clone());
        }
        if let Some(v) = &self.log {
            req.metadata_mut()
                .insert(vellum_proto::LOG_HEADER, v.clone());
        }
        Ok(req)
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            // A page of entries can be large; the server's own limit is 8 MiB.
            max_response_bytes: 64 << 20,
            ca_pem: None,
            token: None,
            client_identity: None,
            log: None,
        }
    }
}

/// A gRPC connection to a log that checks the shape of answers only.
#[derive(Clone, Debug)]
pub struct UnverifiedClient {
    url: String,
    rpc: LogClient<InterceptedService<Channel, Headers>>,
}

/// One entry's result in an [`RawAppend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResult {
    /// The entry's index.
    pub index: u64,
    /// Whether the entry was already in the log (at `index`).
    pub duplicate: bool,
    /// The inclusion proof (empty without a checkpoint wait).
    pub proof: Vec<Hash>,
}

/// An append's answer, unverified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAppend {
    /// One per entry, in order.
    pub results: Vec<RawResult>,
    /// With a checkpoint wait: the signed checkpoint the proofs are against.
    pub checkpoint: Option<Bytes>,
}

/// An inclusion proof as served, unverified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawInclusion {
    /// The entry (only from [`UnverifiedClient::entry_and_proof`]).
    pub entry: Option<Bytes>,
    /// The leaf index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The audit path, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The checkpoint, when the latest was asked for (tree size 0).
    pub checkpoint: Option<Bytes>,
}

/// A consistency proof as served, unverified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawConsistency {
    /// The old size.
    pub from: u64,
    /// The new size.
    pub to: u64,
    /// The proof hashes.
    pub proof: Vec<Hash>,
    /// The checkpoint, when the latest was asked for (to size 0).
    pub checkpoint: Option<Bytes>,
}

impl UnverifiedClient {
    /// Connects to `url` (`http://host:port`) with default options.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] or [`ClientError::Transport`].
    pub async fn connect(url: &str) -> Result<UnverifiedClient, ClientError> {
        Self::connect_with(url, &ClientOptions::default()).await
    }

    /// Connects to `url` with `options`.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] or [`ClientError::Transport`].
    pub async fn connect_with(
        url: &str,
        options: &ClientOptions,
    ) -> Result<UnverifiedClient, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(invalid(format!(
                "expected http://HOST:PORT or https://HOST:PORT, e.g. http://{url}"
            )));
        }
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| invalid(describe(&e)))?
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .tcp_nodelay(true);
        if https {
            let mut tls = match &options.ca_pem {
                Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
                None => ClientTlsConfig::new().with_webpki_roots(),
            };
            if let Some(id) = &options.client_identity {
                tls = tls.identity(Identity::from_pem(&id.cert_pem, &id.key_pem));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| invalid(describe(&e)))?;
        } else if options.ca_pem.is_some() || options.client_identity.is_some() {
            return Err(invalid(
                "a CA or client certificate was given for a plain http:// URL; use https://".into(),
            ));
        }
        let mut headers = Headers::default();
        if let Some(name) = &options.log {
            vellum_proto::check_log_name(name).map_err(ClientError::InvalidLog)?;
            headers.log = Some(
                MetadataValue::try_from(name.as_str())
                    .map_err(|_| ClientError::InvalidLog(format!("log name {name:?}")))?,
            );
        }
        headers.bearer = match &options.token {
            None => None,
            Some(t) => {
                let host = endpoint.uri().host().unwrap_or_default();
                let loopback = host == "localhost"
                    || host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !https && !loopback {
                    return Err(invalid(format!(
                        "refusing to send a bearer token in clear text to {host}; use https://"
                    )));
                }
                let value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {}", t.0))
                    .map_err(|_| invalid("the token cannot be sent in a header".into()))?;
                Some(value)
            }
        };
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                reason: describe(&e),
            })?;
        let rpc = LogClient::with_interceptor(channel, headers)
            .max_decoding_message_size(options.max_response_bytes);
        Ok(UnverifiedClient {
            url: url.to_owned(),
            rpc,
        })
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Appends `entries` in one call.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`], or [`ClientError::BadResponse`] when the
    /// answer does not have one result per entry or a checkpoint wait
    /// brought no checkpoint.
    pub async fn append(&self, entries: Vec<Bytes>, wait: Wait) -> Result<RawAppend, ClientError> {
        let n = entries.len();
        let resp = self
            .rpc
            .clone()
            .append(pb::AppendRequest {
                entries,
                wait: wait.to_proto() as i32,
                request_id: 0,
            })
            .await?
            .into_inner();
        if resp.results.len() != n {
            return Err(ClientError::BadResponse(format!(
                "{} results for {n} entries",
                resp.results.len()
            )));
        }
        let checkpoint = non_empty(resp.checkpoint);
        if wait != Wait::Durable && checkpoint.is_none() {
            return Err(ClientError::BadResponse(
                "a checkpoint wait was answered without a checkpoint".into(),
            ));
        }
        let results = resp
            .results
            .into_iter()
            .map(|r| {
                Ok(RawResult {
                    index: r.index,
                    duplicate: r.duplicate,
                    proof: hashes(&r.inclusion_proof, "inclusion proof")?,
                })
            })
            .collect::<Result<_, ClientError>>()?;
        Ok(RawAppend {
            results,
            checkpoint,
        })
    }

    /// The latest checkpoint note.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`FAILED_PRECONDITION` before the first
    /// checkpoint), [`ClientError::BadResponse`] for an empty answer.
    pub async fn checkpoint(&self) -> Result<Bytes, ClientError> {
        let resp = self
            .rpc
            .clone()
            .get_checkpoint(pb::GetCheckpointRequest::default())
            .await?
            .into_inner();
        non_empty(resp.checkpoint)
            .ok_or_else(|| ClientError::BadResponse("an empty checkpoint".into()))
    }

    /// The entry at `index` with its inclusion proof at `tree_size` (0: the
    /// latest checkpoint, which the answer then carries).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` for an index not yet covered),
    /// [`ClientError::BadResponse`].
    pub async fn entry_and_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<RawInclusion, ClientError> {
        let resp = self
            .rpc
            .clone()
            .get_entry_and_proof(pb::GetEntryAndProofRequest { index, tree_size })
            .await?
            .into_inner();
        let raw = RawInclusion {
            entry: Some(resp.entry),
            index: resp.index,
            tree_size: resp.tree_size,
            proof: hashes(&resp.proof, "inclusion proof")?,
            checkpoint: non_empty(resp.checkpoint),
        };
        check_inclusion_shape(&raw, Some(index), tree_size)?;
        Ok(raw)
    }

    /// The inclusion proof of the entry `entry` (found by its leaf hash) at
    /// `tree_size` (0: the latest checkpoint, which the answer then carries).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` when the log does not hold the
    /// entry, or holds it beyond the checkpoint), [`ClientError::BadResponse`].
    pub async fn inclusion_of_entry(
        &self,
        entry: &[u8],
        tree_size: u64,
    ) -> Result<RawInclusion, ClientError> {
        let leaf = leaf_hash(entry);
        let resp = self
            .rpc
            .clone()
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf: Some(pb::get_inclusion_proof_request::Leaf::LeafHash(
                    Bytes::copy_from_slice(leaf.as_bytes()),
                )),
                tree_size,
            })
            .await?
            .into_inner();
        let raw = RawInclusion {
            entry: None,
            index: resp.index,
            tree_size: resp.tree_size,
            proof: hashes(&resp.proof, "inclusion proof")?,
            checkpoint: non_empty(resp.checkpoint),
        };
        check_inclusion_shape(&raw, None, tree_size)?;
        Ok(raw)
    }

    /// The consistency proof from `from` to `to` (0: the latest checkpoint,
    /// which the answer then carries).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`], [`ClientError::BadResponse`].
    pub async fn consistency(&self, from: u64, to: u64) -> Result<RawConsistency, ClientError> {
        let resp = self
            .rpc
            .clone()
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                from_size: from,
                to_size: to,
            })
            .await?
            .into_inner();
        let raw = RawConsistency {
            from: resp.from_size,
            to: resp.to_size,
            proof: hashes(&resp.proof, "consistency proof")?,
            checkpoint: non_empty(resp.checkpoint),
        };
        if raw.from != from || (to != 0 && raw.to != to) {
            return Err(ClientError::BadResponse(format!(
                "asked for a consistency proof from {from} to {to}, got one from {} to {}",
                raw.from, raw.to
            )));
        }
        if to == 0 && raw.checkpoint.is_none() {
            return Err(ClientError::BadResponse(
                "a proof to the latest checkpoint came without the checkpoint".into(),
            ));
        }
        Ok(raw)
    }

    /// Up to `count` entries from `start`, as the log serves them (a page
    /// may be shorter).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` past the end of the log),
    /// [`ClientError::BadResponse`].
    pub async fn entries(&self, start: u64, count: u32) -> Result<Vec<Bytes>, ClientError> {
        let resp = self
            .rpc
            .clone()
            .get_entries(pb::GetEntriesRequest { start, count })
            .await?
            .into_inner();
        if resp.start != start || resp.entries.len() > count as usize {
            return Err(ClientError::BadResponse(format!(
                "asked for {count} entries from {start}, got {} from {}",
                resp.entries.len(),
                resp.start
            )));
        }
        Ok(resp.entries)
    }
}

fn check_inclusion_shape(
    raw: &RawInclusion,
    index: Option<u64>,
    tree_size: u64,
) -> Result<(), ClientError> {
    if let Some(i) = index
        && raw.index != i
    {
        return Err(ClientError::BadResponse(format!(
            "asked for entry {i}, got entry {}",
            raw.index
        )));
    }
    if tree_size != 0 && raw.tree_size != tree_size {
        return Err(ClientError::BadResponse(format!(
            "asked for a proof at size {tree_size}, got one at size {}",
            raw.tree_size
        )));
    }
    if tree_size == 0 && raw.checkpoint.is_none() {
        return Err(ClientError::BadResponse(
            "a proof against the latest checkpoint came without the checkpoint".into(),
        ));
    }
    Ok(())
}

impl UnverifiedClient {
    /// The gRPC client, for the other modules of this crate.
    pub(crate) fn rpc(&self) -> LogClient<InterceptedService<Channel, Headers>> {
        self.rpc.clone()
    }
}

pub(crate) fn non_empty(b: Bytes) -> Option<Bytes> {
    (!b.is_empty()).then_some(b)
}

pub(crate) fn hashes(v: &[Bytes], what: &str) -> Result<Vec<Hash>, ClientError> {
    v.iter()
        .enumerate()
        .map(|(i, b)| {
            Hash::from_slice(b)
                .map_err(|e| ClientError::BadResponse(format!("{what} hash {i}: {e}")))
        })
        .collect()
}

/// The most useful text of a transport error: tonic's own message is
/// "transport error"; the cause an operator can act on ("Connection refused")
/// is at the bottom of the chain.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io_text(io);
        }
        let text = c.to_string();
        if !text.is_empty() {
            deepest = text;
        }
        cause = c.source();
    }
    deepest
}

fn io_text(io: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match io.kind() {
        ConnectionRefused => "connection refused".into(),
        TimedOut => "timed out".into(),
        ConnectionReset => "connection reset".into(),
        _ => io.to_string(),
    }
}
