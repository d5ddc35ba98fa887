//! The request timeout, applied once, to every gRPC call: a call that has
//! not produced its response (for a stream: its response headers) within
//! [`Limits::request_timeout`](crate::limits::Limits::request_timeout) is
//! answered `DEADLINE_EXCEEDED` ([`crate::status::took_too_long`]), the
//! code clients retry. A client's shorter `grpc-timeout` is still honoured
//! by tonic itself.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};

/// A tower layer that bounds every call by `limit`.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    /// Calls must answer within `limit`.
    pub fn new(limit: Duration) -> DeadlineLayer {
        DeadlineLayer { limit }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<Request<B>> for Deadline<S>
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
        // The ready service is taken and a clone left behind (as in
        // `crate::gate`).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        let answer = inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(limit, answer).await {
                Ok(r) => r,
                Err(_) => Ok(crate::status::took_too_long(limit).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    type Answer = Result<Response<String>, std::convert::Infallible>;

    async fn call(svc_delay: Duration, limit: Duration) -> Response<String> {
        let svc = tower::service_fn(move |_: Request<()>| async move {
            tokio::time::sleep(svc_delay).await;
            Answer::Ok(Response::new("answered".to_owned()))
        });
        let mut svc = DeadlineLayer::new(limit).layer(svc);
        svc.ready().await.unwrap();
        svc.call(Request::new(())).await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_the_limit_is_deadline_exceeded() {
        let r = call(Duration::from_secs(60), Duration::from_secs(30)).await;
        let s = tonic::Status::from_header_map(r.headers()).unwrap();
        assert_eq!(s.code(), tonic::Code::DeadlineExceeded, "{s:?}");
        assert_eq!(s.message(), "the call took longer than 30s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_within_the_limit_is_untouched() {
        let r = call(Duration::from_secs(1), Duration::from_secs(30)).await;
        assert!(
            tonic::Status::from_header_map(r.headers()).is_none(),
            "{r:?}"
        );
        assert_eq!(r.body(), "answered");
    }
}
