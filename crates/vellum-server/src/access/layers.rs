//! The access check in front of each listener: a tower layer for gRPC (a
//! denial is a gRPC status, the call never reaches a service) and an axum
//! middleware for the tlog-tiles API (`401` / `403`).

use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::{Access, Denial, HTTP_NEED, Need, grpc_need};
use crate::net::ConnInfo;

/// A tower layer that checks every gRPC call before it reaches a service.
/// Without a policy it lets everything through (loopback demo).
#[derive(Clone, Debug)]
pub struct GrpcAccessLayer {
    access: Option<Access>,
}

impl GrpcAccessLayer {
    /// Checks calls with `access`; `None` checks nothing.
    pub fn new(access: Option<Access>) -> GrpcAccessLayer {
        GrpcAccessLayer { access }
    }
}

impl<S> tower::Layer<S> for GrpcAccessLayer {
    type Service = GrpcAccess<S>;

    fn layer(&self, inner: S) -> GrpcAccess<S> {
        GrpcAccess {
            inner,
            access: self.access.clone(),
        }
    }
}

/// The service of [`GrpcAccessLayer`].
#[derive(Clone, Debug)]
pub struct GrpcAccess<S> {
    inner: S,
    access: Option<Access>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<Request<B>> for GrpcAccess<S>
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

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Some(access) = &self.access {
            let path = req.uri().path();
            let peer = req.extensions().get::<ConnInfo>();
            match access.check(path, grpc_need(path), req.headers(), peer) {
                Ok(Some(identity)) => {
                    req.extensions_mut().insert(identity);
                }
                Ok(None) => {}
                Err(d) => {
                    let status = match d {
                        Denial::Unauthenticated(m) => tonic::Status::unauthenticated(m),
                        Denial::PermissionDenied(m) => tonic::Status::permission_denied(m),
                    };
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        }
        // The clone is ready only if polled; take the ready one and leave
        // the clone behind (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(req))
    }
}

/// The axum middleware for the tlog-tiles API: every path needs
/// [`HTTP_NEED`].
pub async fn http_middleware(
    axum::extract::State(access): axum::extract::State<Access>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = req.extensions().get::<ConnInfo>();
    let what = format!("GET {}", req.uri().path());
    match access.check(&what, Need::Role(HTTP_NEED), req.headers(), peer) {
        Ok(_) => next.run(req).await,
        Err(Denial::Unauthenticated(m)) => (
            http::StatusCode::UNAUTHORIZED,
            [
                (http::header::WWW_AUTHENTICATE, "Bearer realm=\"vellum\""),
                (http::header::CACHE_CONTROL, "no-store"),
            ],
            m + "\n",
        )
            .into_response(),
        Err(Denial::PermissionDenied(m)) => (
            http::StatusCode::FORBIDDEN,
            [(http::header::CACHE_CONTROL, "no-store")],
            m + "\n",
        )
            .into_response(),
    }
}
