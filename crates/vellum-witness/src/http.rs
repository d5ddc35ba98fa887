//! The witness over HTTP: `POST /add-checkpoint` (tlog-witness), and
//! `GET /` and `GET /health` answering with the witness's name and vkey.
//!
//! Responses are `text/plain; charset=utf-8`, except a 409 which is
//! `text/x.tlog.size` with the latest cosigned size and a newline.
//!
//! Limits: the body is read up to [`MAX_BODY_SIZE`] (413 beyond) within
//! [`HttpOptions::body_timeout`] (408 beyond); at most
//! [`HttpOptions::max_concurrent_requests`] requests are served at once,
//! and the next one is answered 503 at once rather than queued. A request
//! whose client goes away is still carried to its end: the check and the
//! persist run on a blocking thread that is never cancelled halfway.
//!
//! With [`HttpOptions::tokens`], `POST /add-checkpoint` needs a bearer
//! token (see [`crate::auth`]); the rest of the API is unchanged.
//!
//! [`InFlight`] counts the requests holding one of those slots (for
//! metrics, and for tests that must know a slot is taken).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::auth::{Denied, WitnessTokens};
use crate::request::MAX_BODY_SIZE;
use crate::witness::Witness;

/// The `Content-Type` of a 409 response (tlog-witness).
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// The `Content-Type` of every other response.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The server's limits, and who may ask for cosignatures.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Most requests served at once; the next is answered 503.
    pub max_concurrent_requests: usize,
    /// How long the request body may take to arrive.
    pub body_timeout: Duration,
    /// The tokens `POST /add-checkpoint` needs (see [`crate::auth`]);
    /// `None`: anyone may ask (loopback only, or `--insecure-remote`).
    pub tokens: Option<Arc<WitnessTokens>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_concurrent_requests: 256,
            body_timeout: Duration::from_secs(30),
            tokens: None,
        }
    }
}

#[derive(Clone)]
struct App {
    witness: Arc<Witness>,
    body_timeout: Duration,
}

/// The witness's routes with the default [`HttpOptions`].
pub fn router(witness: Arc<Witness>) -> Router {
    router_with(witness, &HttpOptions::default())
}

/// The number of requests being served: those holding one of the
/// [`HttpOptions::max_concurrent_requests`] slots, from the moment the slot
/// is taken (before the body is read) until the response is ready. Requests
/// answered 503 for want of a slot are not counted. Clones share the count.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// A count at zero, for [`router_with_gauge`].
    pub fn new() -> InFlight {
        InFlight::default()
    }

    /// The requests being served now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Takes one off the count when the request it was taken for ends (its
/// response is ready, or its future is dropped).
struct Slot(InFlight);

impl Drop for Slot {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn count_in_flight(State(count): State<InFlight>, request: Request, next: Next) -> Response {
    count.0.fetch_add(1, Ordering::SeqCst);
    let _slot = Slot(count);
    next.run(request).await
}

/// The witness's routes with `options`.
pub fn router_with(witness: Arc<Witness>, options: &HttpOptions) -> Router {
    router_with_gauge(witness, options, InFlight::new())
}

/// The witness's routes with `options`, counting the requests in flight
/// into `in_flight`.
pub fn router_with_gauge(
    witness: Arc<Witness>,
    options: &HttpOptions,
    in_flight: InFlight,
) -> Router {
    let app = App {
        witness,
        body_timeout: options.body_timeout,
    };
    let mut add = Router::new().route("/add-checkpoint", post(add_checkpoint));
    if let Some(tokens) = &options.tokens {
        add = add.route_layer(middleware::from_fn_with_state(tokens.clone(), authenticate));
    }
    Router::new()
        .merge(add)
        .route("/", get(info))
        .route("/health", get(info))
        .with_state(app)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the witness is serving as many requests as it allows; retry shortly\n"
                            .to_owned(),
                    )
                }))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::new(
                    options.max_concurrent_requests.max(1),
                ))
                // Inside the limit: counts only requests that hold a slot.
                .layer(middleware::from_fn_with_state(in_flight, count_in_flight)),
        )
}

/// Serves the witness on `listener` until `shutdown` completes, then
/// finishes the requests in flight.
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve<F>(listener: TcpListener, witness: Arc<Witness>, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Lets through a request with a listed bearer token; answers any other
/// `401` before its body is read (see [`crate::auth`]).
async fn authenticate(
    State(tokens): State<Arc<WitnessTokens>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match tokens.check(header) {
        Ok(name) => {
            tracing::debug!(client = name, "authenticated");
            next.run(request).await
        }
        Err(denied) => {
            let why = match denied {
                Denied::Missing => "no bearer token",
                Denied::Unknown => "an unknown bearer token",
            };
            tracing::warn!("add-checkpoint refused: {why}");
            let mut r = plain(
                StatusCode::UNAUTHORIZED,
                format!("this witness needs a bearer token it knows; the request had {why}\n"),
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

async fn info(State(app): State<App>) -> Response {
    plain(
        StatusCode::OK,
        format!("{}\n{}\n", app.witness.name(), app.witness.vkey()),
    )
}

async fn add_checkpoint(State(app): State<App>, body: Body) -> Response {
    let bytes = match read_body(body, app.body_timeout).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let witness = Arc::clone(&app.witness);
    // Blocking: the witness fsyncs under the origin's lock. The task runs to
    // its end even if this future is dropped, so a client that hangs up
    // cannot interrupt a persist.
    let outcome = tokio::task::spawn_blocking(move || witness.add_checkpoint(&bytes)).await;
    match outcome {
        Ok(Ok(lines)) => plain(StatusCode::OK, lines),
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(size) = e.conflict_size() {
                let mut r = (status, format!("{size}\n")).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(TLOG_SIZE_CONTENT_TYPE),
                );
                r
            } else if e.is_internal() {
                // Details (paths, I/O errors) go to the operator's log, which
                // the witness already wrote; the client learns only the kind.
                plain(status, format!("internal witness error ({status})\n"))
            } else {
                plain(status, format!("{e}\n"))
            }
        }
        Err(join) => {
            tracing::error!(error = %join, "add-checkpoint task failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal witness error\n".to_owned(),
            )
        }
    }
}

/// Reads the whole body within the size and time limits.
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, Response> {
    let limited = Limited::new(body, MAX_BODY_SIZE);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(plain(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} seconds\n",
                timeout.as_secs()
            ),
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the {MAX_BODY_SIZE}-byte limit\n"),
        )),
        Ok(Err(e)) => Err(plain(
            StatusCode::BAD_REQUEST,
            format!("could not read the request body: {e}\n"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn plain(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_CONTENT_TYPE),
    );
    r
}
