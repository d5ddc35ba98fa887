//! Load shedding before decoding: when the log's queue has no room, an
//! `Append` call is answered `RESOURCE_EXHAUSTED` from its headers alone.
//!
//! Under a flood the cost of a refusal is what keeps the server alive:
//! decoding a large append only to refuse it spends the CPU that the
//! sequencer needs to drain the queue. Refusing here drops the request body
//! unread (the HTTP/2 stream is reset, so the client stops sending it).
//! Calls that pass are checked exactly by `Log::append`, which may still
//! refuse them.

use http::Request;

use super::LogRouter;
use crate::gate::Gate;

/// The unary append method's path; streams are admitted per request inside.
const APPEND_PATH: &str = "/vellum.v1.Log/Append";

/// Refuses appends while the log they are for has no room, for a
/// [`GateLayer`](crate::gate::GateLayer).
#[derive(Clone, Debug)]
pub struct ShedGate {
    logs: LogRouter,
}

impl ShedGate {
    /// Sheds appends to each of `logs` while that log is full.
    pub fn new(logs: LogRouter) -> ShedGate {
        ShedGate { logs }
    }
}

impl Gate for ShedGate {
    fn check<B>(&self, req: &mut Request<B>) -> Result<(), tonic::Status> {
        if req.uri().path() != APPEND_PATH {
            return Ok(());
        }
        // A call naming no log of this server is answered by the router.
        if let Ok(service) = self.logs.pick(req.headers())
            && service.log().refuse_early()
        {
            return Err(crate::status::shed());
        }
        Ok(())
    }
}
