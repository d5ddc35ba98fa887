//! Load shedding before decoding: when the log's queue has no room, an
//! `Append` call is answered `RESOURCE_EXHAUSTED` from its headers alone.
//!
//! Under a flood the cost of a refusal is what keeps the server alive:
//! decoding a large append only to refuse it spends the CPU that the
//! sequencer needs to drain the queue. Refusing here drops the request body
//! unread (the HTTP/2 stream is reset, so the client stops sending it).
//! Calls that pass are checked exactly by `Log::append`, which may still
//! refuse them.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use vellum_log::Log;

/// The unary append method's path; streams are admitted per request inside.
const APPEND_PATH: &str = "/vellum.v1.Log/Append";

/// A tower layer that refuses appends while the log has no room.
#[derive(Clone, Debug)]
pub struct ShedLayer {
    log: Log,
}

impl ShedLayer {
    /// Sheds appends to `log`.
    pub fn new(log: Log) -> ShedLayer {
        ShedLayer { log }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            log: self.log.clone(),
        }
    }
}

/// The service of [`ShedLayer`].
#[derive(Clone, Debug)]
pub struct Shed<S> {
    inner: S,
    log: Log,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<Request<B>> for Shed<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.uri().path() == APPEND_PATH && self.log.refuse_early() {
            let status = tonic::Status::resource_exhausted(
                "the log's queue is full (refused before reading the call); nothing was \
                 queued, retry later",
            );
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(req))
    }
}
