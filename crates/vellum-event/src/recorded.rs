//! The recorded event: the stored schema, its canonical bytes (the leaf) and
//! the strict reader an auditor uses (docs/EVENTS.md).
//!
//! The stored event is one JSON object, written as RFC 8785 canonical JSON
//! ([`crate::jcs`]), so its members appear sorted by name:
//!
//! ```text
//! {
//!   "action": "permission.grant",                 client
//!   "actor": {"id": .., "kind": .., "on_behalf_of": ..?},
//!   "attributes": {"k": "v", ..}?,               omitted when empty
//!   "event_id": ..?,
//!   "event_time": "2026-12-05T18:30:00.25Z",      client, normalised to UTC
//!   "outcome": {"reason": ..?, "result": "success" | "failure" | "denied"},
//!   "payload": {..}?,
//!   "prev": {"index": N, "leaf_hash": "<64 lowercase hex>"}?,   log
//!   "received_at": "2026-12-05T18:30:01Z",        log
//!   "resource": {"id": .., "kind": ..},
//!   "submitter": "..",                            log
//!   "v": 1
//! }
//! ```
//!
//! `?` marks a member omitted when absent (never `null`). The client's
//! fields live at fixed names, and everything a client may name freely sits
//! inside `attributes` or `payload`: a client cannot set `submitter`,
//! `received_at` or `prev`.

use serde_json::{Map, Value};
use vellum_merkle::Hash;

use crate::event::{Event, Outcome, Submitted};
use crate::jcs::{self, MAX_EXACT_INTEGER};
use crate::limits::MAX_ENTRY_BYTES;
use crate::payload::parse_strict;
use crate::validate::identifier;
use crate::{Actor, Limits, OutcomeResult, ParseError, RecordError, Resource, Timestamp};

/// The version of the stored schema, its member `v`.
pub const SCHEMA_VERSION: u64 = 1;

/// The longest submitter identity, in bytes.
const MAX_SUBMITTER_BYTES: usize = 256;

/// What only the log can say about an event; a client never sets these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The authenticated identity of the caller (token name, mTLS subject,
    /// or `anonymous` where authentication is off).
    pub submitter: String,
    /// The log's clock when the event was sequenced.
    pub received_at: Timestamp,
    /// The previous event on the same resource; `None` for the first.
    pub prev: Option<Prev>,
}

/// A link of a resource's chain: the previous event on the same resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prev {
    /// Its index in the log (at most 2^53, as every JCS integer).
    pub index: u64,
    /// Its leaf hash (RFC 6962), stored as lowercase hex.
    pub leaf_hash: [u8; 32],
}

/// An event with the fields the log attests, and its canonical bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    event: Event,
    attested: Attested,
    bytes: Vec<u8>,
}

impl Recorded {
    /// Joins a validated event and the log's fields, and writes the
    /// canonical bytes.
    ///
    /// # Errors
    ///
    /// [`RecordError::Submitter`] for an empty submitter, one over 256
    /// bytes or holding a control character; [`RecordError::TooLarge`] when
    /// the bytes would not fit one entry; [`RecordError::PrevIndex`] for a
    /// `prev.index` beyond 2^53.
    pub fn new(event: Event, attested: Attested) -> Result<Recorded, RecordError> {
        identifier("submitter", &attested.submitter, MAX_SUBMITTER_BYTES)
            .map_err(RecordError::Submitter)?;
        let mut value = event_value(&event);
        value.insert(
            "submitter".into(),
            Value::String(attested.submitter.clone()),
        );
        value.insert(
            "received_at".into(),
            Value::String(attested.received_at.to_string()),
        );
        if let Some(prev) = attested.prev {
            if prev.index > MAX_EXACT_INTEGER {
                return Err(RecordError::PrevIndex(prev.index));
            }
            let mut link = Map::new();
            link.insert("index".into(), Value::from(prev.index));
            link.insert("leaf_hash".into(), Value::String(to_hex(&prev.leaf_hash)));
            value.insert("prev".into(), Value::Object(link));
        }
        let bytes = jcs::canonicalize(&Value::Object(value));
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENTRY_BYTES,
            });
        }
        Ok(Recorded {
            event,
            attested,
            bytes,
        })
    }

    /// The event as the client stated it (validated).
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The fields the log attests.
    pub fn attested(&self) -> &Attested {
        &self.attested
    }

    /// The RFC 8785 canonical JSON of the event: the entry the log stores.
    pub fn canonical_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The RFC 6962 leaf hash of [`canonical_bytes`](Self::canonical_bytes):
    /// what inclusion proofs prove and what the next event on the same
    /// resource names as its `prev`.
    pub fn leaf_hash(&self) -> Hash {
        vellum_merkle::leaf_hash(&self.bytes)
    }

    /// This event as the `prev` of the next event on its resource.
    pub fn as_prev(&self, index: u64) -> Prev {
        Prev {
            index,
            leaf_hash: self.leaf_hash().0,
        }
    }

    /// Reads a stored event, as an auditor reading tiles does, and refuses
    /// any byte that is not exactly the canonical form: the bytes are parsed,
    /// checked against the schema and the rules (with [`Limits::MAX`], the
    /// format's own bounds), written again, and must be equal.
    ///
    /// # Errors
    ///
    /// [`ParseError`]: not JSON, a member missing, unknown or of the wrong
    /// type, a broken rule, or [`ParseError::NotCanonical`].
    pub fn parse(bytes: &[u8]) -> Result<Recorded, ParseError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENTRY_BYTES,
            }
            .into());
        }
        let value = parse_strict(bytes, Limits::MAX.max_payload_depth + 1)
            .map_err(|e| ParseError::Json(e.to_string()))?;
        let mut top = Fields::new("", value)?;
        match top.take("v")? {
            Value::Number(n) if n.as_u64() == Some(SCHEMA_VERSION) => {}
            other => return Err(ParseError::Version(other.to_string())),
        }
        let mut actor = Fields::new("actor", top.take("actor")?)?;
        let mut resource = Fields::new("resource", top.take("resource")?)?;
        let mut outcome = Fields::new("outcome", top.take("outcome")?)?;
        let result_name = outcome.string("result")?;
        let result = OutcomeResult::from_name(&result_name).ok_or(ParseError::Schema {
            field: "outcome.result".into(),
            problem: "not success, failure or denied",
        })?;
        let attributes = match top.optional("attributes") {
            None => Default::default(),
            Some(v) => {
                let mut fields = Fields::new("attributes", v)?;
                let names: Vec<String> = fields.map.keys().cloned().collect();
                let mut out = std::collections::BTreeMap::new();
                for name in names {
                    let value = fields.string(&name)?;
                    out.insert(name, value);
                }
                out
            }
        };
        let payload = match top.optional("payload") {
            None => None,
            Some(Value::Object(map)) => Some(jcs::canonicalize(&Value::Object(map))),
            Some(_) => {
                return Err(ParseError::Schema {
                    field: "payload".into(),
                    problem: "not an object",
                });
            }
        };
        let submitted = Submitted {
            actor: Actor {
                id: actor.string("id")?,
                kind: actor.string("kind")?,
                on_behalf_of: actor.optional_string("on_behalf_of")?,
            },
            action: top.string("action")?,
            resource: Resource {
                kind: resource.string("kind")?,
                id: resource.string("id")?,
            },
            outcome: Outcome {
                result: Some(result),
                reason: outcome.optional_string("reason")?,
            },
            event_time: top.string("event_time")?,
            attributes,
            payload,
            event_id: top.optional_string("event_id")?,
        };
        let submitter = top.string("submitter")?;
        let received_at = crate::validate::time("received_at", &top.string("received_at")?)?;
        let prev = match top.optional("prev") {
            None => None,
            Some(v) => {
                let mut link = Fields::new("prev", v)?;
                let index = match link.take("index")? {
                    Value::Number(n) => n.as_u64(),
                    _ => None,
                }
                .ok_or(ParseError::Schema {
                    field: "prev.index".into(),
                    problem: "not an integer from 0 to 2^53",
                })?;
                let leaf_hash = from_hex(&link.string("leaf_hash")?).ok_or(ParseError::Schema {
                    field: "prev.leaf_hash".into(),
                    problem: "not 64 lowercase hex digits",
                })?;
                link.done()?;
                Some(Prev { index, leaf_hash })
            }
        };
        for fields in [actor, resource, outcome, top] {
            fields.done()?;
        }
        let event = submitted.validate(&Limits::MAX)?;
        let recorded = Recorded::new(
            event,
            Attested {
                submitter,
                received_at,
                prev,
            },
        )?;
        if recorded.bytes != bytes {
            let offset = recorded
                .bytes
                .iter()
                .zip(bytes)
                .take_while(|(a, b)| a == b)
                .count();
            return Err(ParseError::NotCanonical { offset });
        }
        Ok(recorded)
    }
}

/// The canonical size of the client's part of `event`, without the log's
/// fields (for the size check of validation).
pub(crate) fn event_size(event: &Event) -> usize {
    jcs::canonicalize(&Value::Object(event_value(event))).len()
}

/// The client's members of the stored object.
fn event_value(event: &Event) -> Map<String, Value> {
    let mut top = Map::new();
    top.insert("v".into(), Value::from(SCHEMA_VERSION));
    let mut actor = Map::new();
    actor.insert("id".into(), event.actor.id.clone().into());
    actor.insert("kind".into(), event.actor.kind.clone().into());
    if let Some(on_behalf_of) = &event.actor.on_behalf_of {
        actor.insert("on_behalf_of".into(), on_behalf_of.clone().into());
    }
    top.insert("actor".into(), Value::Object(actor));
    top.insert("action".into(), event.action.clone().into());
    let mut resource = Map::new();
    resource.insert("kind".into(), event.resource.kind.clone().into());
    resource.insert("id".into(), event.resource.id.clone().into());
    top.insert("resource".into(), Value::Object(resource));
    let mut outcome = Map::new();
    outcome.insert("result".into(), event.result.as_str().into());
    if let Some(reason) = &event.reason {
        outcome.insert("reason".into(), reason.clone().into());
    }
    top.insert("outcome".into(), Value::Object(outcome));
    top.insert("event_time".into(), event.event_time.to_string().into());
    if !event.attributes.is_empty() {
        let attributes = event
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())));
        top.insert("attributes".into(), Value::Object(attributes.collect()));
    }
    if let Some(payload) = &event.payload {
        top.insert("payload".into(), Value::Object(payload.clone()));
    }
    if let Some(event_id) = &event.event_id {
        top.insert("event_id".into(), event_id.clone().into());
    }
    top
}

/// The members of one object of the stored schema, taken one by one; what
/// is left at the end is an unknown member.
struct Fields {
    path: &'static str,
    map: Map<String, Value>,
}

impl Fields {
    fn new(path: &'static str, value: Value) -> Result<Fields, ParseError> {
        match value {
            Value::Object(map) => Ok(Fields { path, map }),
            _ => Err(ParseError::Schema {
                field: if path.is_empty() {
                    "(event)".into()
                } else {
                    path.into()
                },
                problem: "not an object",
            }),
        }
    }

    fn name(&self, member: &str) -> String {
        if self.path.is_empty() {
            member.to_owned()
        } else {
            format!("{}.{member}", self.path)
        }
    }

    fn optional(&mut self, member: &str) -> Option<Value> {
        self.map.remove(member)
    }

    fn take(&mut self, member: &str) -> Result<Value, ParseError> {
        self.map.remove(member).ok_or_else(|| ParseError::Schema {
            field: self.name(member),
            problem: "missing",
        })
    }

    fn string(&mut self, member: &str) -> Result<String, ParseError> {
        let v = self.take(member)?;
        self.expect_string(member, v)
    }

    fn optional_string(&mut self, member: &str) -> Result<Option<String>, ParseError> {
        match self.optional(member) {
            None => Ok(None),
            Some(v) => self.expect_string(member, v).map(Some),
        }
    }

    fn expect_string(&self, member: &str, v: Value) -> Result<String, ParseError> {
        match v {
            Value::String(s) => Ok(s),
            _ => Err(ParseError::Schema {
                field: self.name(member),
                problem: "not a string",
            }),
        }
    }

    fn done(self) -> Result<(), ParseError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(extra) => Err(ParseError::Schema {
                field: self.name(extra),
                problem: "unknown member",
            }),
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_refusals() {
        let h: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex(&to_hex(&h).to_uppercase()), None);
        assert_eq!(from_hex("00"), None);
    }
}
