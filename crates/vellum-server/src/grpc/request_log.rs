//! One log line per call, on the gRPC and the HTTP listener: an event
//! `request` of target `vellum::request` at info (gRPC health checks at
//! debug), written when the call is over, with
//!
//! | field | what |
//! |---|---|
//! | `request_id` | the caller's `x-request-id` if it is a valid one (1 to 128 of `A-Z a-z 0-9 - _ . : / + = @`), else one made here; returned in the response's `x-request-id` header (gRPC: response metadata) |
//! | `log` | the log the call names (`vellum-log` header, or `/logs/<name>/` path); `default` without |
//! | `submitter` | the token's (or client certificate's) name in the token file; `-` without access control or credentials |
//! | `method` | the gRPC path (`/vellum.v1.Log/Append`), or `GET /checkpoint` |
//! | `status` | the gRPC code's name (`OK`, `UNAUTHENTICATED`, ...; `CANCELLED` when the client left first), or the HTTP status |
//! | `duration_ms` | from the call's arrival to its last byte (a stream's end) |
//! | `remote` | the peer's address |
//!
//! Everything logged while the call runs (a denial, an error) is inside a
//! span `request` that carries the same `request_id`. No header value but
//! the request id is logged: a bearer token never is.
//!
//! The gRPC status of a call that answers is in its trailers, after the
//! body; the line is written when they pass (or when the response is
//! dropped, whichever comes first), so each call has exactly one.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tracing::Instrument;

use crate::net::ConnInfo;

/// The header that carries a call's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 128;

/// Who made a call, once its credentials are known: the access check
/// fills it (see [`crate::access::Access::check_noting`]), the request
/// line reads it.
#[derive(Clone, Debug, Default)]
pub struct Submitter(Arc<OnceLock<String>>);

impl Submitter {
    /// Names the caller (the first name given stays).
    pub fn set(&self, name: &str) {
        let _ = self.0.set(name.to_owned());
    }

    /// The caller's name, if known.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// A call's id, in its request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Which listener a [`RequestLogLayer`] is in front of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
}

/// A tower layer writing one line per call (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct RequestLogLayer {
    protocol: Protocol,
}

impl RequestLogLayer {
    /// For the gRPC listener: the status is the gRPC code.
    pub fn grpc() -> RequestLogLayer {
        RequestLogLayer {
            protocol: Protocol::Grpc,
        }
    }

    /// For the HTTP listener: the status is the HTTP status.
    pub fn http() -> RequestLogLayer {
        RequestLogLayer {
            protocol: Protocol::Http,
        }
    }
}

impl<S> tower::Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog {
            inner,
            protocol: self.protocol,
        }
    }
}

/// The service of [`RequestLogLayer`].
#[derive(Clone, Debug)]
pub struct RequestLog<S> {
    inner: S,
    protocol: Protocol,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<Request<B>> for RequestLog<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    RB: Body + Send + 'static,
{
    type Response = Response<LoggedBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = request_id(req.headers());
        let submitter = Submitter::default();
        req.extensions_mut().insert(submitter.clone());
        req.extensions_mut().insert(RequestId(id.clone()));
        let path = req.uri().path();
        let quiet = self.protocol == Protocol::Grpc && path.starts_with("/grpc.health.v1.Health/");
        let enabled = if quiet {
            tracing::enabled!(target: "vellum::request", tracing::Level::DEBUG)
        } else {
            tracing::enabled!(target: "vellum::request", tracing::Level::INFO)
        };
        // Nothing is gathered for a line nobody reads (a server without a
        // subscriber: tests, benchmarks).
        let line = enabled.then(|| {
            let (log, method) = match self.protocol {
                Protocol::Grpc => (
                    crate::grpc::route::log_of(req.headers())
                        .unwrap_or("?")
                        .to_owned(),
                    path.to_owned(),
                ),
                Protocol::Http => (
                    crate::http::log_of_path(path).to_owned(),
                    format!("{} {path}", req.method()),
                ),
            };
            let remote = req
                .extensions()
                .get::<ConnInfo>()
                .map(|c| c.remote.to_string())
                .unwrap_or_default();
            Line {
                request_id: id.clone(),
                log,
                method,
                remote,
                submitter,
                start: Instant::now(),
                quiet,
                status: None,
            }
        });
        let span = tracing::info_span!(target: "vellum::request", "request", request_id = %id);
        // The clone is ready only if polled; take the ready one (as in
        // `gate.rs`).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let protocol = self.protocol;
        let call = {
            let _entered = span.enter();
            inner.call(req)
        };
        Box::pin(async move {
            let mut line = line;
            let mut res = match call.instrument(span).await {
                Ok(res) => res,
                Err(e) => {
                    if let Some(mut line) = line {
                        line.status = Some("ERROR".into());
                    }
                    return Err(e);
                }
            };
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(REQUEST_ID, v);
            }
            if let Some(l) = &mut line {
                match protocol {
                    Protocol::Http => l.status = Some(res.status().as_u16().to_string()),
                    // A trailers-only answer (an error, or a refusal by a
                    // gate) has its status in the headers: the call is
                    // over: its line is written now, as it is dropped.
                    Protocol::Grpc => {
                        if let Some(status) = grpc_status(res.headers()) {
                            l.status = Some(status);
                            line = None;
                        }
                    }
                }
            }
            Ok(res.map(|inner| LoggedBody {
                inner,
                pending: line,
            }))
        })
    }
}

/// The caller's request id if it is a valid one, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    let given = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v));
    match given {
        Some(v) => v.to_owned(),
        None => new_request_id(),
    }
}

/// 1 to 128 characters, each a letter, a digit or one of `-_.:/+=@`:
/// what ids of common tracing and proxy schemes use, and nothing a log
/// reader could mistake for structure.
fn valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_REQUEST_ID
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// 32 hex digits: a random prefix drawn once per process, then a counter.
/// Unique within the process and across restarts (with overwhelming
/// probability), and no system call per request.
fn new_request_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        // Without randomness, the clock still tells processes apart.
        if getrandom::fill(&mut b).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or_default();
            b = (t ^ u64::from(std::process::id())).to_be_bytes();
        }
        u64::from_be_bytes(b)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}{n:016x}")
}

/// The canonical name of the `grpc-status` in `headers`, if there is one.
fn grpc_status(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("grpc-status")?;
    let name = v
        .to_str()
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .and_then(|n| CODE_NAMES.get(n))
        .map_or_else(|| format!("{v:?}"), |n| (*n).to_owned());
    Some(name)
}

/// gRPC status codes by number, as the gRPC specification names them.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A call's line, written when dropped (so exactly once).
#[derive(Debug)]
struct Line {
    request_id: String,
    log: String,
    method: String,
    remote: String,
    submitter: Submitter,
    start: Instant,
    quiet: bool,
    /// `None` when the response went away before its status was known.
    status: Option<String>,
}

impl Drop for Line {
    fn drop(&mut self) {
        let duration_ms = self.start.elapsed().as_secs_f64() * 1e3;
        let status = self.status.as_deref().unwrap_or("CANCELLED");
        let submitter = self.submitter.get().unwrap_or("-");
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "vellum::request",
                    $level,
                    request_id = %self.request_id,
                    log = %self.log,
                    submitter = %submitter,
                    method = %self.method,
                    status = %status,
                    duration_ms,
                    remote = %self.remote,
                    "request"
                )
            };
        }
        if self.quiet {
            emit!(tracing::Level::DEBUG);
        } else {
            emit!(tracing::Level::INFO);
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that writes its call's line when its trailers pass,
    /// when it ends, or when it is dropped.
    #[derive(Debug)]
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        pending: Option<Line>,
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                // The trailers end the call: the line is written as it
                // drops here.
                if let Some(trailers) = f.trailers_ref()
                    && let Some(mut line) = this.pending.take()
                {
                    line.status = line.status.take().or_else(|| grpc_status(trailers));
                }
            }
            Some(Err(_)) => {
                if let Some(mut line) = this.pending.take() {
                    line.status.get_or_insert_with(|| "ERROR".into());
                }
            }
            // The end: an HTTP status is known; a gRPC body without
            // trailers is a broken answer.
            None => {
                if let Some(mut line) = this.pending.take() {
                    line.status.get_or_insert_with(|| "UNKNOWN".into());
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_when_valid_and_made_otherwise() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123:x/y+z=@."));
        assert_eq!(request_id(&h), "abc-123:x/y+z=@.");
        for bad in ["", "a b", "a\"b", "{}", &"x".repeat(129)] {
            let mut h = HeaderMap::new();
            h.insert(REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = request_id(&h);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "{id}");
        }
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert!(valid_request_id(&a));
    }

    #[test]
    fn grpc_codes_are_named() {
        let mut h = HeaderMap::new();
        assert_eq!(grpc_status(&h), None);
        h.insert("grpc-status", HeaderValue::from_static("16"));
        assert_eq!(grpc_status(&h).unwrap(), "UNAUTHENTICATED");
        h.insert("grpc-status", HeaderValue::from_static("0"));
        assert_eq!(grpc_status(&h).unwrap(), "OK");
        h.insert("grpc-status", HeaderValue::from_static("99"));
        assert_eq!(grpc_status(&h).unwrap(), "\"99\"");
    }
}
