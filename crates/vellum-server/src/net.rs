//! Accepted connections, bounded: the connection limit, the TLS handshake
//! and the idle timeout, the same for the gRPC and the HTTP listener.
//!
//! One accept task per listener:
//!
//! 1. accepts a TCP connection and sets `TCP_NODELAY` (tonic applies it only
//!    to listeners it binds itself; without it a response written in two
//!    pieces waits for the client's delayed ACK, about 40 ms on Linux);
//! 2. takes one of [`Limits::max_connections`] permits *without waiting*:
//!    when none is left the connection is closed at once and counted in
//!    [`ConnStats::refused`]. There is no backlog of accepted connections
//!    waiting for a slot: a client over the limit learns it immediately
//!    (connection closed) and can retry, instead of holding a socket that
//!    does nothing. The permit is held until the connection is dropped;
//! 3. with TLS, runs the handshake on its own task, bounded by
//!    [`Limits::tls_handshake_timeout`], so that a client that connects and
//!    sends nothing neither blocks other handshakes nor holds a permit for
//!    longer than that;
//! 4. hands the connection to the server. Each connection is closed when no
//!    byte has moved in either direction for [`Limits::idle_timeout`]: a
//!    stalled client (one that neither sends nor reads) cannot hold a
//!    permit for ever. HTTP/2 keepalive pings (every 30 s on gRPC) count as
//!    traffic, so a healthy idle channel stays open when the idle timeout is
//!    longer than that.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use crate::limits::Limits;

/// Connection counters of one listener.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections accepted within the limit.
    pub accepted: AtomicU64,
    /// Connections closed at once because the limit was reached.
    pub refused: AtomicU64,
    /// Connections open now (accepted, not yet dropped).
    pub open: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub handshake_failed: AtomicU64,
    /// Connections closed by the idle timeout.
    pub idle_closed: AtomicU64,
}

impl ConnStats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the server knows about a connection's peer.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// SHA-256 of the client's certificate (DER), when it presented one
    /// that chains to the client CA.
    pub client_cert_sha256: Option<[u8; 32]>,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Held by a connection while it is open: its share of the limit.
struct Slot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<ConnStats>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accepted connection: within the limit, past its TLS handshake, and
/// closed when idle.
pub struct Conn {
    io: Io,
    info: ConnInfo,
    idle_timeout: Duration,
    last_activity: Instant,
    idle: Pin<Box<Sleep>>,
    slot: Slot,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("info", &self.info).finish()
    }
}

impl Conn {
    fn new(io: Io, info: ConnInfo, idle_timeout: Duration, slot: Slot) -> Conn {
        let now = Instant::now();
        Conn {
            io,
            info,
            idle_timeout,
            last_activity: now,
            idle: Box::pin(tokio::time::sleep_until(now + idle_timeout)),
            slot,
        }
    }

    /// The peer.
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Ready with an error once nothing has moved for the idle timeout.
    /// The timer is re-armed lazily (only when it fires early), so that
    /// traffic costs a clock read, not a timer update.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_activity + self.idle_timeout;
            if Instant::now() >= deadline {
                ConnStats::bump(&self.slot.stats.idle_closed);
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no traffic for {:?}; closing", self.idle_timeout),
                ));
            }
            self.idle.as_mut().reset(deadline);
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        match r {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        match r {
            Poll::Pending => this.poll_idle(cx).map(Err),
            r => r,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

/// Accepts connections on `listener` within `limits` (TLS when `tls` is
/// given) until the returned receiver is dropped.
pub fn accept(
    listener: TcpListener,
    limits: &Limits,
    tls: Option<Arc<ServerConfig>>,
    stats: Arc<ConnStats>,
) -> mpsc::Receiver<Conn> {
    // The server takes connections as fast as they come; this only smooths
    // bursts. Queued connections hold their permits.
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let idle_timeout = limits.idle_timeout;
    let handshake_timeout = limits.tls_handshake_timeout;
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => return,
                a = listener.accept() => a,
            };
            let (tcp, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                ConnStats::bump(&stats.refused);
                tracing::warn!(%remote, "connection limit reached; closing the new connection");
                drop(tcp);
                continue;
            };
            ConnStats::bump(&stats.accepted);
            stats.open.fetch_add(1, Ordering::Relaxed);
            let slot = Slot {
                _permit: permit,
                stats: stats.clone(),
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            match &acceptor {
                None => {
                    let info = ConnInfo {
                        remote,
                        tls: false,
                        client_cert_sha256: None,
                    };
                    if tx
                        .send(Conn::new(Io::Plain(tcp), info, idle_timeout, slot))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Some(acceptor) => {
                    let (acceptor, tx) = (acceptor.clone(), tx.clone());
                    tokio::spawn(async move {
                        // Held here so that a timed-out connection is
                        // closed after it is counted, not before.
                        let mut handshake = acceptor.accept(tcp);
                        let hs = tokio::time::timeout(handshake_timeout, &mut handshake).await;
                        match hs {
                            Ok(Ok(tls)) => {
                                let client_cert_sha256 = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .map(|c| Sha256::digest(c.as_ref()).into());
                                let info = ConnInfo {
                                    remote,
                                    tls: true,
                                    client_cert_sha256,
                                };
                                let conn =
                                    Conn::new(Io::Tls(Box::new(tls)), info, idle_timeout, slot);
                                let _ = tx.send(conn).await;
                            }
                            Ok(Err(e)) => {
                                ConnStats::bump(&slot.stats.handshake_failed);
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                ConnStats::bump(&slot.stats.handshake_failed);
                                tracing::debug!(%remote, "TLS handshake timed out");
                            }
                        }
                        drop(handshake);
                    });
                }
            }
        }
    });
    rx
}

/// How long a stopping listener waits for its open connections to finish
/// their calls. Idle clients that keep a connection open would otherwise
/// hold the shutdown: tonic's graceful shutdown waits for every connection
/// to close. Acknowledged entries are durable before their answer, so
/// closing a connection loses none.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits for a listener's task up to [`DRAIN_TIMEOUT`], then aborts it
/// (closing the connections still open).
pub(crate) async fn drain<T>(
    what: &str,
    task: &mut JoinHandle<T>,
) -> Result<T, tokio::task::JoinError> {
    match tokio::time::timeout(DRAIN_TIMEOUT, &mut *task).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(
                listener = what,
                "connections still open after {DRAIN_TIMEOUT:?}: closing them"
            );
            task.abort();
            task.await
        }
    }
}
