//! The C2SP tlog-tiles read API over HTTP:
//!
//! ```text
//! GET /checkpoint                    the latest published checkpoint, with its cosignatures
//! GET /tile/<L>/<N>[.p/<W>]          Merkle tree tiles (height 8)
//! GET /tile/entries/<N>[.p/<W>]      entry bundles (uint16 big-endian length + bytes)
//! ```
//!
//! Everything is read from the store as stored (nodes with
//! `read_node_range`, entries with `read_entries`); nothing is re-hashed.
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
mod handlers;
pub mod read;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use vellum_log::{Log, Published};
use vellum_store::LogStore;

pub use read::read_tile;

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
        TileSource { store, published }
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
/// connections finish their requests.
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
    // Tile responses are small and latency-bound: no Nagle delay.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(source, config))
        .with_graceful_shutdown(shutdown)
        .await
}
