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
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};
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

/// Where a signer listens: `unix:/path/to/socket`, `http://host:port`
/// (plain: loopback only, unless the signer runs `--insecure-remote`) or
/// `https://host:port` (TLS, and mutual TLS beyond loopback).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerAddr {
    /// A Unix domain socket (the default for a signer on the same machine:
    /// file permissions decide who may ask for signatures).
    Unix(PathBuf),
    /// A TCP address, as an `http://` or `https://` URL.
    Tcp(String),
}

impl SignerAddr {
    /// Whether this is an `https://` address (TLS).
    pub fn is_tls(&self) -> bool {
        matches!(self, SignerAddr::Tcp(u) if u.starts_with("https://"))
    }

    /// Whether only this machine can reach the address: a Unix socket, or
    /// a URL whose host is a loopback IP or `localhost`. Any other host
    /// name counts as beyond loopback (what it resolves to may change).
    pub fn is_local(&self) -> bool {
        match self {
            SignerAddr::Unix(_) => true,
            SignerAddr::Tcp(url) => url_host_is_loopback(url),
        }
    }
}

/// Whether the host of `url` (`scheme://host[:port][/...]`) is a loopback
/// IP address or `localhost`; `false` for anything else, or a URL that
/// cannot be read.
pub fn url_host_is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// How the log reaches an `https://` signer: the CA its certificate must
/// chain to, and the client certificate the log presents (mutual TLS). All
/// `None`: no TLS settings (a Unix socket or an `http://` address).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignerClientTls {
    /// PEM CA certificate(s) of the signer's certificate; `None`: the
    /// public web PKI roots.
    pub ca: Option<PathBuf>,
    /// PEM certificate the log presents to the signer.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (mode 0600).
    pub key: Option<PathBuf>,
}

impl SignerClientTls {
    /// Whether any setting is given.
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// Whether the log presents a client certificate.
    pub fn has_identity(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }

    /// The tonic client configuration these files describe, for the signer
    /// at `url`.
    fn client_config(&self, url: &str) -> Result<ClientTlsConfig, String> {
        let mut tls = match &self.ca {
            Some(ca) => {
                let pem = crate::tls::read_ca_pem(ca)
                    .map_err(|e| format!("signer CA (--signer-tls-ca): {e}"))?;
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
            }
            None => ClientTlsConfig::new().with_webpki_roots(),
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let cert = crate::tls::read_cert_pem(cert)
                    .map_err(|e| format!("signer client certificate (--signer-tls-cert): {e}"))?;
                let key = crate::tls::read_key_pem(key)
                    .map_err(|e| format!("signer client key (--signer-tls-key): {e}"))?;
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "signer at {url}: --signer-tls-cert and --signer-tls-key go together"
                ));
            }
        }
        Ok(tls)
    }
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
                "signer address {s:?} must be unix:/path/to/socket, http://host:port or \
                 https://host:port"
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
    /// A client for the signer at `addr`, reached with `tls` when it is an
    /// `https://` address. Connects lazily, and reconnects after failures,
    /// so that a signer restart only delays checkpoints.
    ///
    /// # Errors
    ///
    /// A message when the address cannot be used, when TLS settings are
    /// given for an address without TLS, or when a TLS file cannot be
    /// used.
    pub fn new(addr: SignerAddr, tls: &SignerClientTls) -> Result<RemoteSigner, String> {
        if tls.is_set() && !addr.is_tls() {
            return Err(format!(
                "signer at {addr}: the signer TLS settings (--signer-tls-ca, --signer-tls-cert, \
                 --signer-tls-key) need an https:// signer address"
            ));
        }
        let channel = match &addr {
            SignerAddr::Tcp(url) => {
                let mut endpoint = Endpoint::from_shared(url.clone())
                    .map_err(|e| format!("signer address {url}: {e}"))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(30))
                    // Pings keep an idle channel under the signer's idle
                    // timeout (`serve_signer_on`), so a checkpoint after a
                    // quiet spell does not meet a closed connection.
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true);
                if addr.is_tls() {
                    endpoint = endpoint
                        .tls_config(tls.client_config(url)?)
                        .map_err(|e| format!("signer at {url}: TLS: {e}"))?;
                }
                endpoint.connect_lazy()
            }
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
