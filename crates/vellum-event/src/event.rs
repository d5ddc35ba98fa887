//! The event as a client states it ([`Submitted`]) and as validated ([`Event`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::Timestamp;

/// An audit event as a client states it, before validation: every field as
/// given. Optional fields are `None` when absent; [`Submitted::validate`]
/// refuses `Some("")`, so that absent has one form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Who did it.
    pub actor: Actor,
    /// What was done: a dotted verb such as `permission.grant`.
    pub action: String,
    /// What it was done to.
    pub resource: Resource,
    /// How it ended.
    pub outcome: Outcome,
    /// When it happened, by the client's clock: RFC 3339 with an offset.
    pub event_time: String,
    /// Free key/value context.
    pub attributes: BTreeMap<String, String>,
    /// A JSON object as UTF-8 JSON text, e.g. the before and after of a change.
    pub payload: Option<Vec<u8>>,
    /// The client's id for the event, for retries.
    pub event_id: Option<String>,
}

/// The one who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's id.
    pub id: String,
    /// What kind of actor (`user`, `service`, `agent`, ...).
    pub kind: String,
    /// The actor this one acted for.
    pub on_behalf_of: Option<String>,
}

/// What the action was done to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    /// The resource's kind (`permission`, `document`, ...).
    pub kind: String,
    /// The resource's id within its kind.
    pub id: String,
}

/// How the action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The result; required (`None` is refused).
    pub result: Option<OutcomeResult>,
    /// Why, in words.
    pub reason: Option<String>,
}

/// The result of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeResult {
    /// It was done.
    Success,
    /// It was tried and failed.
    Failure,
    /// It was refused (not authorised).
    Denied,
}

impl OutcomeResult {
    /// The name stored in `outcome.result`: `success`, `failure`, `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeResult::Success => "success",
            OutcomeResult::Failure => "failure",
            OutcomeResult::Denied => "denied",
        }
    }

    /// The result named `name` as stored, if any.
    pub fn from_name(name: &str) -> Option<OutcomeResult> {
        match name {
            "success" => Some(OutcomeResult::Success),
            "failure" => Some(OutcomeResult::Failure),
            "denied" => Some(OutcomeResult::Denied),
            _ => None,
        }
    }
}

/// A validated event: every rule of [`Submitted::validate`] holds, the
/// event time is in UTC and the payload is a parsed JSON object. Made only
/// by validation (or by [`Recorded::parse`](crate::Recorded::parse)).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) actor: Actor,
    pub(crate) action: String,
    pub(crate) resource: Resource,
    pub(crate) result: OutcomeResult,
    pub(crate) reason: Option<String>,
    pub(crate) event_time: Timestamp,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) payload: Option<Map<String, Value>>,
    pub(crate) event_id: Option<String>,
}

impl Event {
    /// Who did it.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// What was done.
    pub fn action(&self) -> &str {
        &self.action
    }
    /// What it was done to: the key of the resource's `prev` chain.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }
    /// How it ended.
    pub fn result(&self) -> OutcomeResult {
        self.result
    }
    /// Why, if the client said.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// When it happened by the client's clock, in UTC.
    pub fn event_time(&self) -> Timestamp {
        self.event_time
    }
    /// The attributes.
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }
    /// The payload object, if any.
    pub fn payload(&self) -> Option<&Map<String, Value>> {
        self.payload.as_ref()
    }
    /// The client's event id, if any.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }
}
