//! The signer over gRPC: the `vellum.v1.Signer` service, run by `vellum
//! signer` in its own process, and the client the log uses to reach it.
//!
//! The service adds nothing to the signer's checks: it decodes, calls the
//! signer (which verifies the consistency proof against its own journal),
//! and encodes. A stale old size travels as `FAILED_PRECONDITION` with the
//! signer's size in the `x-vellum-signed-size` metadata, so the log can
//! re-prove from there without parsing a message. The statuses are made in
//! [`crate::status`]; this module only reads them back (the client side).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Request, Response, Status};
use vellum_log::{BoxFuture, SignError, Signer};
use vellum_merkle::{Hash, TreeSize};
use vellum_note::VerifierKey;
use vellum_proto::v1 as pb;

use crate::local_signer::LocalSigner;
use crate::status::{SIGNED_SIZE, invalid, sign_error, signer_state_unavailable};

/// The gRPC face of a signer.
#[derive(Debug)]
pub struct SignerService {
    signer: LocalSigner,
    vkey: VerifierKey,
}

impl SignerService {
    /// Serves `signer`, whose public key is `vkey`.
    pub fn new(signer: LocalSigner, vkey: VerifierKey) -> SignerService {
        SignerService { signer, vkey }
    }
}

#[tonic::async_trait]
impl pb::signer_server::Signer for SignerService {
    async fn sign_checkpoint(
        &self,
        request: Request<pb::SignCheckpointRequest>,
    ) -> Result<Response<pb::SignCheckpointResponse>, Status> {
        let req = request.into_inner();
        let text = std::str::from_utf8(&req.checkpoint_text)
            .map_err(|_| invalid("checkpoint_text is not UTF-8"))?;
        let old = TreeSize::new(req.old_size).map_err(|e| invalid(e.to_string()))?;
        let proof = req
            .consistency_proof
            .iter()
            .map(|h| Hash::from_slice(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("consistency_proof: {e}")))?;
        let note = self
            .signer
            .sign(text, old, &proof)
            .await
            .map_err(sign_error)?;
        Ok(Response::new(pb::SignCheckpointResponse {
            signed_checkpoint: note,
        }))
    }

    async fn get_signer_state(
        &self,
        _request: Request<pb::GetSignerStateRequest>,
    ) -> Result<Response<pb::SignerState>, Status> {
        let last = self
            .signer
            .last_signed()
            .await
            .map_err(signer_state_unavailable)?;
        Ok(Response::new(pb::SignerState {
            vkey: self.vkey.to_string(),
            last_signed: last.unwrap_or_default(),
        }))
    }
}

/// Where a signer listens: `unix:/path/to/socket` or `http://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerAddr {
    /// A Unix domain socket (the default for a signer on the same machine:
    /// file permissions decide who may ask for signatures).
    Unix(PathBuf),
    /// A TCP address, as an `http://` URL.
    Tcp(String),
}

impl std::str::FromStr for SignerAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<SignerAddr, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            if p.is_empty() {
                return Err("unix: needs a socket path".into());
            }
            Ok(SignerAddr::Unix(PathBuf::from(p)))
        } else if s.starts_with("http://") || s.starts_with("https://") {
            Ok(SignerAddr::Tcp(s.to_owned()))
        } else {
            Err(format!(
                "signer address {s:?} must be unix:/path/to/socket or http://host:port"
            ))
        }
    }
}

impl std::fmt::Display for SignerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            SignerAddr::Tcp(u) => f.write_str(u),
        }
    }
}

/// The log's client of a signer in another process.
#[derive(Debug, Clone)]
pub struct RemoteSigner {
    client: pb::signer_client::SignerClient<Channel>,
    addr: SignerAddr,
}

impl RemoteSigner {
    /// A client for the signer at `addr`. Connects lazily, and reconnects
    /// after failures, so that a signer restart only delays checkpoints.
    ///
    /// # Errors
    ///
    /// A message when the address cannot be used.
    pub fn new(addr: SignerAddr) -> Result<RemoteSigner, String> {
        let channel = match &addr {
            SignerAddr::Tcp(url) => Endpoint::from_shared(url.clone())
                .map_err(|e| format!("signer address {url}: {e}"))?
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .connect_lazy(),
            SignerAddr::Unix(path) => {
                let path = path.clone();
                // The URI is required by the API but unused: the connector
                // below always dials the socket.
                Endpoint::from_static("http://signer.invalid")
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(30))
                    .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
            }
        };
        Ok(RemoteSigner {
            client: pb::signer_client::SignerClient::new(channel),
            addr,
        })
    }

    /// The signer's verifier key, as it reports it.
    ///
    /// # Errors
    ///
    /// When the signer cannot be reached or reports a bad key.
    pub async fn vkey(&self) -> Result<VerifierKey, String> {
        let state = self
            .client
            .clone()
            .get_signer_state(pb::GetSignerStateRequest {})
            .await
            .map_err(|s| format!("signer at {}: {}", self.addr, s.message()))?
            .into_inner();
        VerifierKey::parse(&state.vkey)
            .map_err(|e| format!("signer at {} reports a bad key: {e}", self.addr))
    }

    fn error(&self, s: Status) -> SignError {
        match s.code() {
            Code::FailedPrecondition => match s
                .metadata()
                .get(SIGNED_SIZE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
            {
                Some(signed_size) => SignError::StaleOldSize { signed_size },
                None => SignError::Unavailable(format!("signer at {}: {}", self.addr, s.message())),
            },
            Code::InvalidArgument => SignError::Refused(s.message().to_owned()),
            _ => SignError::Unavailable(format!("signer at {}: {}", self.addr, s.message())),
        }
    }
}

impl Signer for RemoteSigner {
    fn sign<'a>(
        &'a self,
        text: &'a str,
        old_size: TreeSize,
        proof: &'a [Hash],
    ) -> BoxFuture<'a, Result<Bytes, SignError>> {
        Box::pin(async move {
            let req = pb::SignCheckpointRequest {
                checkpoint_text: Bytes::copy_from_slice(text.as_bytes()),
                old_size: old_size.get(),
                consistency_proof: proof.iter().map(|h| Bytes::copy_from_slice(&h.0)).collect(),
            };
            self.client
                .clone()
                .sign_checkpoint(req)
                .await
                .map(|r| r.into_inner().signed_checkpoint)
                .map_err(|s| self.error(s))
        })
    }

    fn last_signed(&self) -> BoxFuture<'_, Result<Option<Bytes>, SignError>> {
        Box::pin(async move {
            let state = self
                .client
                .clone()
                .get_signer_state(pb::GetSignerStateRequest {})
                .await
                .map_err(|s| self.error(s))?
                .into_inner();
            Ok((!state.last_signed.is_empty()).then_some(state.last_signed))
        })
    }
}
