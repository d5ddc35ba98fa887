//! gRPC: the log service, and the listener that carries it with health
//! checking and reflection.

mod deadline;
pub mod log;
pub mod request_log;
pub mod route;
mod shed;
pub mod signer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;
use vellum_log::{Log, LogState};
use vellum_proto::v1::log_server::LogServer;

use crate::access::{Access, AccessGate};
use crate::gate::GateLayer;
use crate::limits::Limits;
use crate::net::{self, ConnStats};
pub use deadline::DeadlineLayer;
pub use log::LogService;
pub use request_log::RequestLogLayer;
pub use route::LogRouter;
pub use shed::ShedGate;

/// Why the gRPC listener could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// Reflection could not load the API description (a build problem).
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The listener's address could not be read.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `log` on `listener` (with health and reflection) until `shutdown`
/// completes. Health reports NOT_SERVING as soon as the log stops.
///
/// # Errors
///
/// [`GrpcError`] when the server cannot start or its transport fails.
pub async fn serve(
    listener: TcpListener,
    log: Log,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcError> {
    let conns = net::accept(listener, &limits, None, Arc::new(ConnStats::default()));
    let service = LogService::new(log, limits.clone());
    serve_conns(conns, LogRouter::single(service), limits, None, shutdown).await
}

/// Serves `logs` on connections accepted by [`net::accept`] (which holds
/// the connection limit, TLS and the idle timeout), checking every call
/// with `access` when given. Health reports NOT_SERVING as soon as any log
/// stops (the process then exits for its supervisor to restart it).
///
/// # Errors
///
/// [`GrpcError`] when the server cannot start or its transport fails.
pub async fn serve_conns(
    conns: mpsc::Receiver<net::Conn>,
    service: LogRouter,
    limits: Limits,
    access: Option<Access>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcError> {
    // The states only: a task holding a `Log` would keep its store open
    // after the server stopped.
    let states: Vec<_> = service.logs().map(|(_, l)| l.state()).collect();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<LogServer<LogRouter>>().await;
    let watcher = tokio::spawn(async move {
        let stopped = states.into_iter().map(|mut state| {
            Box::pin(async move {
                let _ = state.wait_for(|s| *s != LogState::Running).await;
            })
        });
        let _ = futures::future::select_all(stopped).await;
        reporter.set_not_serving::<LogServer<LogRouter>>().await;
    });
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(vellum_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let shed = ShedGate::new(service.clone());
    let service = LogServer::new(service)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes);
    let incoming = ReceiverStream::new(conns).map(Ok::<_, std::io::Error>);
    let result = Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        // Outermost: one line per call, refusals by the gates below too.
        .layer(RequestLogLayer::grpc())
        // Every call, streams included, must produce its response headers
        // within the request timeout (a client's shorter grpc-timeout
        // wins): applied here, once.
        .layer(DeadlineLayer::new(limits.request_timeout))
        .layer(GateLayer::new(AccessGate::new(access)))
        .layer(GateLayer::new(shed))
        .add_service(health)
        .add_service(reflection)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    watcher.abort();
    result.map_err(GrpcError::from)
}

/// Binds `addr` for gRPC; port 0 picks a free port (see the returned
/// listener's `local_addr`).
///
/// # Errors
///
/// The bind error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr).await
}

/// Serves a signer at `addr` until `shutdown`; `listening` runs once the
/// address is bound (so a banner printed there means a log can connect). A
/// Unix socket is created with mode 0600 (only this user may ask for
/// signatures): it is bound under a temporary name, restricted, then renamed
/// into place, so there is no moment at which others could connect. A stale
/// socket file left by a crashed signer is replaced, a live one is an error.
///
/// A TCP address is served as [`serve_signer_on`] does, with `tls` for an
/// `https://` address (which needs it) and none for `http://`. Whether the
/// address may be served this way at all (loopback, mutual TLS) is the
/// caller's check: [`crate::SignerSettings::check_safety`].
///
/// # Errors
///
/// [`GrpcError`] when the address cannot be bound, TLS does not match the
/// address's scheme, or the transport fails.
pub async fn serve_signer(
    addr: &signer::SignerAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: signer::SignerService,
    listening: impl FnOnce(),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcError> {
    if tls.is_some() != addr.is_tls() {
        return Err(GrpcError::Io(std::io::Error::other(format!(
            "{addr}: TLS settings go with an https:// address, and only with one"
        ))));
    }
    let svc = vellum_proto::v1::signer_server::SignerServer::new(service);
    match addr {
        signer::SignerAddr::Unix(path) => {
            if path.exists() {
                if tokio::net::UnixStream::connect(path).await.is_ok() {
                    return Err(GrpcError::Io(std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        format!("another signer is listening on {}", path.display()),
                    )));
                }
                std::fs::remove_file(path)?;
            }
            use std::os::unix::fs::PermissionsExt;
            let mut staging = path.clone().into_os_string();
            staging.push(format!(".{}.tmp", std::process::id()));
            let staging = std::path::PathBuf::from(staging);
            let _ = std::fs::remove_file(&staging);
            let listener = tokio::net::UnixListener::bind(&staging)?;
            std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&staging, path)?;
            listening();
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            Server::builder()
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
            let _ = std::fs::remove_file(path);
        }
        signer::SignerAddr::Tcp(url) => {
            let uri: tonic::transport::Uri = url
                .parse()
                .map_err(|e| GrpcError::Io(std::io::Error::other(format!("{url}: {e}"))))?;
            let authority = uri.authority().ok_or_else(|| {
                GrpcError::Io(std::io::Error::other(format!("{url}: no host:port")))
            })?;
            let listener = TcpListener::bind(authority.as_str()).await?;
            listening();
            serve_signer_on(listener, tls, svc, shutdown).await?;
        }
    }
    Ok(())
}

/// Serves a signer on a bound TCP `listener` until `shutdown`, through
/// [`net::accept`] (connection limit, `TCP_NODELAY`, idle timeout, and the
/// TLS handshake when `tls` is given: with [`crate::tls::mtls_server_config`]
/// a peer without a client certificate of the right CA never reaches the
/// service).
///
/// # Errors
///
/// [`GrpcError`] when the transport fails.
pub async fn serve_signer_on(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    svc: vellum_proto::v1::signer_server::SignerServer<signer::SignerService>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcError> {
    let conns = net::accept(
        listener,
        &Limits::default(),
        tls,
        Arc::new(ConnStats::default()),
    );
    let incoming = ReceiverStream::new(conns).map(Ok::<_, std::io::Error>);
    Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
