//! The C2SP tlog-tiles read API over HTTP:
//!
//! ```text
//! GET /checkpoint                    the latest published checkpoint, with its cosignatures
//! GET /tile/<L>/<N>[.p/<W>]          Merkle tree tiles (height 8)
//! GET /tile/entries/<N>[.p/<W>]      entry bundles (uint16 big-endian length + bytes)
//! GET /events?resource=KIND/ID ...   an events log's history as JSON (see [`events`])
//! GET /explorer/                     the web explorer (see [`explorer`])
//! GET /metrics                       Prometheus metrics (vellum serve; see crate::metrics)
//! GET /logs/<name>/checkpoint        the same for each log of a server holding several
//! GET /logs/<name>/tile/...          (see [`logs_router`]); the default log is also at the root
//! ```
//!
//! With access control on, every path needs the `audit` role on its log,
//! except the explorer's own files (the same static page for every
//! server, holding no data): the page asks for a token and sends it with
//! each request it makes.
//!
//! Everything is read from the store as stored (nodes with
//! `read_node_range`, entries with `read_entries`) by
//! [`vellum_log::reader::read_tile`]; nothing is re-hashed.
//! The same bytes are what [`crate::export`] writes to a folder, so a
//! static web server in front of an export answers exactly like this one.
//!
//! # What is served, and the rules behind it
//!
//! * **Paths are parsed before anything else.** `Tile::parse` accepts only
//!   the canonical spelling of a tile (the raw, percent-encoded request path
//!   is parsed, so `%30%30%30` is not `000`). A malformed path is `400`; a
//!   well-formed path beyond the largest possible tree is `404`; neither
//!   reaches the store (`tests/tiles_http.rs` counts store calls).
//! * **Which tiles exist.** A tile is served when every node (or entry) in
//!   it is in the tree of the latest *published* checkpoint: the HTTP view is
//!   exactly what that checkpoint commits to, and what an export of it
//!   holds. Entries sequenced but not yet signed are not served.
//!   Anything else is `404`.
//! * **Partial widths.** tlog-tiles requires partial tiles for the sizes of
//!   produced checkpoints, allows deleting them once the full tile exists,
//!   and forbids clients from asking for widths no checkpoint they verified
//!   requires. Stored nodes are write-once, so the bytes of
//!   `tile/<L>/<N>.p/<W>` are the first `W` hashes of that tile for the life
//!   of the log. This server therefore serves *every* width `W` whose nodes
//!   are in the published tree, including widths the tree has passed and
//!   widths of sizes that had no checkpoint: each is the one correct answer
//!   for that path, and serving it costs nothing.
//! * **Caching.** `/checkpoint` changes with every published checkpoint
//!   (every few milliseconds under load), so it is `Cache-Control:
//!   no-cache`: a cache may keep it but must revalidate every time, which
//!   here means asking us, and we answer from memory. (A CDN in front may
//!   choose `max-age=1`; tlog-tiles asks for no more than a few seconds.)
//!   Every tile and bundle, full or partial, is `public, max-age=31536000,
//!   immutable`, by the write-once argument above. Errors are `no-store`:
//!   a `404` for a tile becomes a `200` once the tree grows.
//! * **Compression.** Entry bundles are gzip-encoded (`Content-Encoding:
//!   gzip`, `Vary: Accept-Encoding`) when [`HttpConfig::gzip_bundles`] is on
//!   and the client accepts gzip; hash tiles never are (SHA-256 output does
//!   not compress).
//!
//! Served bodies are kept in a bounded in-memory cache ([`HttpConfig`]).

mod cache;
pub mod events;
pub mod explorer;
mod handlers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;
use vellum_log::{Log, Published};
use vellum_store::LogStore;

use crate::access::Access;
use crate::events::Recorder;
use crate::limits::Limits;
use crate::net::{self, ConnStats};

use cache::TileCache;

/// Settings of the HTTP read API.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Bytes of tile and bundle bodies kept in memory (0: no cache).
    /// Default 64 MiB: 8,192 full hash tiles.
    pub cache_bytes: usize,
    /// Gzip entry bundles for clients that send `Accept-Encoding: gzip`.
    /// Default off: see the module docs of `vellum-audit`'s benchmark for
    /// the measurement (on loopback, compressing costs more time than the
    /// bytes it saves; over a slow link it is the other way round).
    pub gzip_bundles: bool,
    /// Read the store on tokio's blocking pool (`spawn_blocking`) instead
    /// of on the request's task. Default on: a cache miss that goes to disk
    /// must not stall the other requests of that worker thread.
    pub blocking_reads: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cache_bytes: 64 << 20,
            gzip_bundles: false,
            blocking_reads: true,
        }
    }
}

/// What the API serves: a store, and the checkpoints published for it.
#[derive(Clone)]
pub struct TileSource {
    store: Arc<dyn LogStore>,
    published: watch::Receiver<Option<Published>>,
    /// An events log's recorder: its index answers `GET /events`.
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for TileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileSource")
            .field(
                "published",
                &self.published.borrow().as_ref().map(|p| p.size),
            )
            .finish_non_exhaustive()
    }
}

impl TileSource {
    /// Serves `store` at the sizes `published` announces. The store must
    /// hold at least every node and entry of each published checkpoint.
    pub fn new(store: Arc<dyn LogStore>, published: watch::Receiver<Option<Published>>) -> Self {
        TileSource {
            store,
            published,
            recorder: None,
        }
    }

    /// Also answers `GET /events` from an events log's `recorder` (none:
    /// a raw log, `404`).
    #[must_use]
    pub fn with_recorder(mut self, recorder: Option<Recorder>) -> Self {
        self.recorder = recorder;
        self
    }

    /// The events log's recorder, if it is one.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// Serves a running log: its store and its published checkpoints.
    pub fn from_log(log: &Log) -> Self {
        TileSource::new(log.store().clone(), log.subscribe_published())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.store
    }

    /// The latest published checkpoint.
    pub fn published(&self) -> Option<Published> {
        self.published.borrow().clone()
    }

    /// A receiver of every newly published checkpoint.
    pub fn subscribe(&self) -> watch::Receiver<Option<Published>> {
        self.published.clone()
    }
}

/// Shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) source: TileSource,
    pub(crate) config: HttpConfig,
    pub(crate) cache: TileCache,
}

/// The tlog-tiles routes for `source`.
pub fn router(source: TileSource, config: HttpConfig) -> Router {
    let shared = Arc::new(Shared {
        source,
        cache: TileCache::new(config.cache_bytes),
        config,
    });
    Router::new()
        .route("/checkpoint", get(handlers::checkpoint))
        .route("/tile/{*rest}", get(handlers::tile))
        .route("/events", get(events::events))
        .merge(explorer::routes())
        .fallback(handlers::not_found)
        .with_state(shared)
}

/// Binds `addr` for the HTTP API; port 0 picks a free port.
///
/// # Errors
///
/// The bind error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the tlog-tiles API on `listener` until `shutdown` completes; open
/// connections finish their requests. Plain HTTP, no access check, default
/// [`Limits`].
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(
    listener: TcpListener,
    source: TileSource,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::default();
    let conns = net::accept(listener, &limits, None, Arc::new(ConnStats::default()));
    serve_conns(conns, router(source, config), &limits, shutdown).await
}

/// The log a request path is for: `/logs/<name>/...` names it; any other
/// path is the default log's.
pub fn log_of_path(path: &str) -> &str {
    path.strip_prefix("/logs/")
        .and_then(|rest| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or(vellum_proto::DEFAULT_LOG)
}

/// The tlog-tiles routes of several logs: each under `/logs/<name>/`
/// (`/logs/<name>/checkpoint`, `/logs/<name>/tile/...`), and the default
/// log's also at the root, as a single-log server has always served them.
/// The tile cache's budget ([`HttpConfig::cache_bytes`]) is shared out
/// evenly, so that a hundred logs do not hold a hundred caches.
///
/// `logs` must hold the default log ([`vellum_proto::DEFAULT_LOG`]);
/// without it nothing is served at the root.
pub fn logs_router(logs: Vec<(String, TileSource)>, config: &HttpConfig) -> Router {
    let share = HttpConfig {
        cache_bytes: config.cache_bytes / logs.len().max(1),
        ..config.clone()
    };
    let mut app = Router::new();
    for (name, source) in logs {
        let one = router(source, share.clone());
        if name == vellum_proto::DEFAULT_LOG {
            app = app.merge(one.clone());
        }
        app = app.nest(&format!("/logs/{name}"), one);
    }
    app.fallback(handlers::not_found)
}

/// `tiles` (e.g. [`logs_router`]) and the `extra` routes (e.g.
/// [`crate::metrics::router`]), each request checked by `access` when
/// given (see [`crate::access::http_middleware`]), except for the
/// explorer's static files ([`explorer::is_file_path`]).
pub fn router_with_access(tiles: Router, extra: Option<Router>, access: Option<Access>) -> Router {
    let r = match extra {
        Some(extra) => extra.merge(tiles),
        None => tiles,
    };
    match access {
        None => r,
        Some(a) => r.layer(axum::middleware::from_fn_with_state(a, checked)),
    }
}

/// The access check, for everything but the explorer's files.
async fn checked(
    state: axum::extract::State<Access>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if explorer::is_file_path(req.uri().path()) {
        return next.run(req).await;
    }
    crate::access::http_middleware(state, req, next).await
}

/// Serves `app` on connections accepted by [`net::accept`] (connection
/// limit, TLS, idle timeout) until `shutdown` completes; then open
/// connections get [`GRACE`] to finish their requests.
///
/// HTTP/1 request headers must arrive within
/// [`Limits::http_header_timeout`], so that a client trickling a header
/// byte by byte cannot hold a connection (the idle timeout alone would not
/// catch it).
///
/// # Errors
///
/// None today; the result is for symmetry with the gRPC listener.
pub async fn serve_conns(
    mut conns: mpsc::Receiver<net::Conn>,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.http_header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(std::time::Duration::from_secs(30))
        .keep_alive_timeout(std::time::Duration::from_secs(10));
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let conn = tokio::select! {
            _ = &mut shutdown => break,
            c = conns.recv() => match c {
                Some(c) => c,
                None => break,
            },
        };
        let info = conn.info().clone();
        let app = app.clone();
        let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            // The access check logs the peer's address.
            req.extensions_mut().insert(info.clone());
            app.clone().oneshot(req)
        });
        let served = builder
            .serve_connection_with_upgrades(TokioIo::new(conn), svc)
            .into_owned();
        let watched = graceful.watch(served);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(conns);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after {GRACE:?}; closing them");
    }
    Ok(())
}

/// How long open HTTP connections may finish their requests at shutdown.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(10);
