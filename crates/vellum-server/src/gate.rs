//! A check made on every gRPC call before any service sees it: access
//! control ([`crate::access::AccessGate`]) and load shedding
//! ([`crate::grpc::ShedGate`]) are each a [`Gate`] behind a [`GateLayer`].
//! A refusal is a gRPC status sent from the call's headers; the body is
//! never read.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

/// What a [`GateLayer`] asks of each call.
pub trait Gate: Clone + Send + 'static {
    /// `Ok` lets the call through (the gate may add to its extensions);
    /// `Err` answers it with that status.
    ///
    /// # Errors
    ///
    /// The status the call is refused with.
    fn check<B>(&self, req: &mut Request<B>) -> Result<(), tonic::Status>;
}

/// A tower layer that puts `G` in front of a service.
#[derive(Clone, Debug)]
pub struct GateLayer<G> {
    gate: G,
}

impl<G> GateLayer<G> {
    /// Checks every call with `gate`.
    pub fn new(gate: G) -> GateLayer<G> {
        GateLayer { gate }
    }
}

impl<S, G: Clone> tower::Layer<S> for GateLayer<G> {
    type Service = Gated<S, G>;

    fn layer(&self, inner: S) -> Gated<S, G> {
        Gated {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service of [`GateLayer`].
#[derive(Clone, Debug)]
pub struct Gated<S, G> {
    inner: S,
    gate: G,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, G, B, RB> tower::Service<Request<B>> for Gated<S, G>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    G: Gate,
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
        if let Err(status) = self.gate.check(&mut req) {
            return Box::pin(async move { Ok(status.into_http()) });
        }
        // The clone is ready only if polled; take the ready one and leave
        // the clone behind (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(req))
    }
}
