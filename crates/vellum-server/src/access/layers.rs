//! The access check in front of each listener: a gate for gRPC (a denial
//! is a gRPC status, the call never reaches a service) and an axum
//! middleware for the tlog-tiles API (`401` / `403`).

use http::Request;

use super::{Access, Denial, HTTP_NEED, Need, grpc_need};
use crate::gate::Gate;
use crate::grpc::request_log::Submitter;
use crate::net::ConnInfo;

/// The access check of every gRPC call, for a [`GateLayer`](crate::gate::GateLayer).
/// Without a policy it lets everything through (loopback demo).
#[derive(Clone, Debug)]
pub struct AccessGate {
    access: Option<Access>,
}

impl AccessGate {
    /// Checks calls with `access`; `None` checks nothing.
    pub fn new(access: Option<Access>) -> AccessGate {
        AccessGate { access }
    }
}

impl Gate for AccessGate {
    fn check<B>(&self, req: &mut Request<B>) -> Result<(), tonic::Status> {
        let Some(access) = &self.access else {
            return Ok(());
        };
        let path = req.uri().path();
        let peer = req.extensions().get::<ConnInfo>();
        let log = crate::grpc::route::log_of(req.headers())?;
        let who = req.extensions().get::<Submitter>();
        match access.check_noting(path, log, grpc_need(path), req.headers(), peer, who) {
            Ok(Some(identity)) => {
                req.extensions_mut().insert(identity);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(d) => Err(crate::status::denied(d)),
        }
    }
}

/// The axum middleware for the tlog-tiles API: every path needs
/// [`HTTP_NEED`], on the log the path names (`/logs/<name>/...`; any other
/// path is the default log's).
pub async fn http_middleware(
    axum::extract::State(access): axum::extract::State<Access>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = req.extensions().get::<ConnInfo>();
    let what = format!("GET {}", req.uri().path());
    let log = crate::http::log_of_path(req.uri().path());
    let who = req.extensions().get::<Submitter>();
    match access.check_noting(&what, log, Need::Role(HTTP_NEED), req.headers(), peer, who) {
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
