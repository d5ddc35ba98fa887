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
use vellum_log::Log;

use crate::gate::Gate;

/// The unary append method's path; streams are admitted per request inside.
const APPEND_PATH: &str = "/vellum.v1.Log/Append";

/// Refuses appends while the log has no room, for a
/// [`GateLayer`](crate::gate::GateLayer).
#[derive(Clone, Debug)]
pub struct ShedGate {
    log: Log,
}

impl ShedGate {
    /// Sheds appends to `log`.
    pub fn new(log: Log) -> ShedGate {
        ShedGate { log }
    }
}

impl Gate for ShedGate {
    fn check<B>(&self, req: &mut Request<B>) -> Result<(), tonic::Status> {
        if req.uri().path() == APPEND_PATH && self.log.refuse_early() {
            return Err(crate::status::shed());
        }
        Ok(())
    }
}
