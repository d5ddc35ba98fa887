//! Conversions between the wire's `vellum.v1.AuditEvent` and
//! `vellum_event::Submitted`.
//!
//! They live here, not in `vellum-event`: that crate is pure and never sees
//! prost (`scripts/check-layering`), while this one is where prost types
//! meet the rest of the code. The conversion does not validate: a missing
//! message or an empty string becomes an empty or absent field, and
//! [`Submitted::validate`](vellum_event::Submitted::validate) then names
//! it. The one refusal here is an `outcome.result` number the enum does not
//! know.

use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted, ValidationError};

use crate::v1;
use crate::v1::outcome::Result as PbResult;

impl TryFrom<v1::AuditEvent> for Submitted {
    type Error = ValidationError;

    /// Reads a submitted event off the wire. An empty optional string (and
    /// an empty payload) is absent.
    ///
    /// # Errors
    ///
    /// [`ValidationError::Grammar`] for `outcome.result` when its number is
    /// not one of the enum's.
    fn try_from(pb: v1::AuditEvent) -> Result<Submitted, ValidationError> {
        let actor = pb.actor.unwrap_or_default();
        let resource = pb.resource.unwrap_or_default();
        let outcome = pb.outcome.unwrap_or_default();
        let result = match PbResult::try_from(outcome.result) {
            Ok(PbResult::Unspecified) => None,
            Ok(PbResult::Success) => Some(OutcomeResult::Success),
            Ok(PbResult::Failure) => Some(OutcomeResult::Failure),
            Ok(PbResult::Denied) => Some(OutcomeResult::Denied),
            Err(_) => {
                return Err(ValidationError::Grammar {
                    field: "outcome.result".into(),
                    value: outcome.result.to_string(),
                    rule: "one of RESULT_SUCCESS, RESULT_FAILURE, RESULT_DENIED",
                });
            }
        };
        Ok(Submitted {
            actor: Actor {
                id: actor.id,
                kind: actor.kind,
                on_behalf_of: non_empty(actor.on_behalf_of),
            },
            action: pb.action,
            resource: Resource {
                kind: resource.kind,
                id: resource.id,
            },
            outcome: Outcome {
                result,
                reason: non_empty(outcome.reason),
            },
            event_time: pb.event_time,
            attributes: pb.attributes.into_iter().collect(),
            payload: (!pb.payload.is_empty()).then(|| pb.payload.to_vec()),
            event_id: non_empty(pb.event_id),
        })
    }
}

impl From<&Submitted> for v1::AuditEvent {
    /// Writes a submitted event for the wire (a client's `Record`). Absent
    /// fields become empty.
    fn from(s: &Submitted) -> v1::AuditEvent {
        let result = match s.outcome.result {
            None => PbResult::Unspecified,
            Some(OutcomeResult::Success) => PbResult::Success,
            Some(OutcomeResult::Failure) => PbResult::Failure,
            Some(OutcomeResult::Denied) => PbResult::Denied,
        };
        v1::AuditEvent {
            actor: Some(v1::Actor {
                id: s.actor.id.clone(),
                kind: s.actor.kind.clone(),
                on_behalf_of: s.actor.on_behalf_of.clone().unwrap_or_default(),
            }),
            action: s.action.clone(),
            resource: Some(v1::Resource {
                kind: s.resource.kind.clone(),
                id: s.resource.id.clone(),
            }),
            outcome: Some(v1::Outcome {
                result: result.into(),
                reason: s.outcome.reason.clone().unwrap_or_default(),
            }),
            event_time: s.event_time.clone(),
            attributes: s
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            payload: s.payload.clone().unwrap_or_default().into(),
            event_id: s.event_id.clone().unwrap_or_default(),
        }
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
