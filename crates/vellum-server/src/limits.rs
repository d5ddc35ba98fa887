//! Network limits, all explicit. The log's own limits (entry size, entries
//! per call, queue length) are in `vellum_log::LogConfig`.

use std::time::Duration;

/// Limits of the gRPC listener; the connection limits and timeouts apply to
/// the HTTP listener too, each listener counting its own connections (see
/// [`crate::net`]).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest gRPC message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// HTTP/2 streams (concurrent calls) per connection.
    pub max_concurrent_streams: u32,
    /// Open connections at most, per listener; more are closed at once.
    pub max_connections: usize,
    /// A connection on which no byte moved, either way, for this long is
    /// closed (a stalled client cannot hold a connection slot).
    pub idle_timeout: Duration,
    /// A TLS handshake that takes longer is abandoned.
    pub tls_handshake_timeout: Duration,
    /// HTTP/1 request headers must arrive within this time.
    pub http_header_timeout: Duration,
    /// A unary call that takes longer ends with `DEADLINE_EXCEEDED`.
    pub request_timeout: Duration,
    /// An `AppendStream` with no request for this long is closed.
    pub stream_idle_timeout: Duration,
    /// Requests of one `AppendStream` being processed at once; past it the
    /// server stops reading the stream (HTTP/2 flow control pushes back).
    pub stream_max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // 4,096 entries of 1 KiB plus framing; larger calls can be split.
            max_message_bytes: 8 << 20,
            max_concurrent_streams: 256,
            max_connections: 1024,
            // Longer than the gRPC keepalive interval (30 s), so that a
            // healthy idle channel, which answers pings, stays open.
            idle_timeout: Duration::from_secs(120),
            tls_handshake_timeout: Duration::from_secs(10),
            http_header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            stream_idle_timeout: Duration::from_secs(120),
            stream_max_in_flight: 64,
        }
    }
}
