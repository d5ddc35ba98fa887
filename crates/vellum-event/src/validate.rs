//! The rules of a submitted event (docs/EVENTS.md, "Limits").

use crate::event::{Event, Submitted};
use crate::limits::{ATTESTED_RESERVE, MAX_ENTRY_BYTES};
use crate::payload::parse_payload;
use crate::{Limits, Timestamp, ValidationError};

/// The grammar of `action`, as stated in errors.
pub(crate) const ACTION_RULE: &str =
    "a dotted verb: [a-z0-9_]+ then one or more .[a-z0-9_-]+ (e.g. permission.grant)";
/// The grammar of `actor.kind` and `resource.kind`, as stated in errors.
pub(crate) const KIND_RULE: &str = "a kind: [a-z0-9_-]+ (e.g. user, permission)";

/// The longest `event_time` text read (RFC 3339 with nanoseconds and an
/// offset is 35 bytes).
const MAX_TIME_BYTES: usize = 64;

impl Submitted {
    /// Checks every rule and returns the validated event.
    ///
    /// Required: `actor.id`, `actor.kind`, `action`, `resource.kind`,
    /// `resource.id`, `outcome.result`, `event_time`. Identifiers (ids,
    /// `event_id`, attribute keys) hold no control character. `action` and
    /// the kinds follow their grammars. Lengths are bounded by `limits`. The
    /// payload is UTF-8 JSON text of one object, its numbers within ±2^53,
    /// no member named twice in an object. The whole event, as canonical
    /// JSON, leaves room in one entry for the fields the log adds.
    ///
    /// # Errors
    ///
    /// The first rule broken, as a [`ValidationError`] naming the field.
    pub fn validate(&self, limits: &Limits) -> Result<Event, ValidationError> {
        let event = self.validate_fields(limits)?;
        let size = crate::recorded::event_size(&event);
        let limit = MAX_ENTRY_BYTES - ATTESTED_RESERVE;
        if size > limit {
            return Err(ValidationError::TooLarge { size, limit });
        }
        Ok(event)
    }

    fn validate_fields(&self, limits: &Limits) -> Result<Event, ValidationError> {
        identifier("actor.id", &self.actor.id, limits.max_id_bytes)?;
        grammar(
            "actor.kind",
            &self.actor.kind,
            limits.max_kind_bytes,
            KIND_RULE,
            is_kind,
        )?;
        if let Some(on_behalf_of) = &self.actor.on_behalf_of {
            identifier("actor.on_behalf_of", on_behalf_of, limits.max_id_bytes)?;
        }
        grammar(
            "action",
            &self.action,
            limits.max_action_bytes,
            ACTION_RULE,
            is_action,
        )?;
        grammar(
            "resource.kind",
            &self.resource.kind,
            limits.max_kind_bytes,
            KIND_RULE,
            is_kind,
        )?;
        identifier("resource.id", &self.resource.id, limits.max_id_bytes)?;
        let result = self
            .outcome
            .result
            .ok_or_else(|| ValidationError::Missing {
                field: "outcome.result".into(),
            })?;
        if let Some(reason) = &self.outcome.reason {
            required("outcome.reason", reason)?;
            length("outcome.reason", reason, limits.max_reason_bytes)?;
        }
        let event_time = time("event_time", &self.event_time)?;
        if self.attributes.len() > limits.max_attributes {
            return Err(ValidationError::TooManyAttributes {
                count: self.attributes.len(),
                limit: limits.max_attributes,
            });
        }
        for (key, value) in &self.attributes {
            let field = format!("attributes[{key:?}]");
            identifier(&field, key, limits.max_attribute_key_bytes)?;
            length(&field, value, limits.max_attribute_value_bytes)?;
        }
        let payload = match &self.payload {
            None => None,
            Some(bytes) => Some(parse_payload(
                bytes,
                limits.max_payload_bytes,
                limits.max_payload_depth,
            )?),
        };
        if let Some(event_id) = &self.event_id {
            identifier("event_id", event_id, limits.max_event_id_bytes)?;
        }
        Ok(Event {
            actor: self.actor.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            result,
            reason: self.outcome.reason.clone(),
            event_time,
            attributes: self.attributes.clone(),
            payload,
            event_id: self.event_id.clone(),
        })
    }
}

/// Reads a time field (`event_time`, `received_at`).
pub(crate) fn time(field: &str, text: &str) -> Result<Timestamp, ValidationError> {
    required(field, text)?;
    length(field, text, MAX_TIME_BYTES)?;
    Timestamp::parse(text).map_err(|reason| ValidationError::EventTime {
        text: shorten(text),
        reason,
    })
}

/// A non-empty id of at most `limit` bytes without control characters.
pub(crate) fn identifier(field: &str, value: &str, limit: usize) -> Result<(), ValidationError> {
    required(field, value)?;
    length(field, value, limit)?;
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(ValidationError::ControlCharacter {
            field: field.into(),
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

fn grammar(
    field: &str,
    value: &str,
    limit: usize,
    rule: &'static str,
    ok: fn(&str) -> bool,
) -> Result<(), ValidationError> {
    required(field, value)?;
    length(field, value, limit)?;
    if ok(value) {
        Ok(())
    } else {
        Err(ValidationError::Grammar {
            field: field.into(),
            value: shorten(value),
            rule,
        })
    }
}

fn required(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Missing {
            field: field.into(),
        });
    }
    Ok(())
}

fn length(field: &str, value: &str, limit: usize) -> Result<(), ValidationError> {
    if value.len() > limit {
        return Err(ValidationError::TooLong {
            field: field.into(),
            len: value.len(),
            limit,
        });
    }
    Ok(())
}

/// `[a-z0-9_]+(\.[a-z0-9_-]+)+`
pub(crate) fn is_action(s: &str) -> bool {
    let mut parts = s.split('.');
    let first_ok = parts.next().is_some_and(|p| {
        !p.is_empty()
            && p.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
    });
    let mut rest = 0;
    for part in parts {
        if !is_kind(part) {
            return false;
        }
        rest += 1;
    }
    first_ok && rest > 0
}

/// `[a-z0-9_-]+`
pub(crate) fn is_kind(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// At most the first 64 characters of `s`, for error messages.
fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_grammar() {
        for ok in [
            "permission.grant",
            "user.password.reset",
            "a.b",
            "a_1.b-2",
            "x.-",
        ] {
            assert!(is_action(ok), "{ok}");
        }
        for bad in [
            "",
            "grant",
            ".grant",
            "permission.",
            "Permission.grant",
            "a..b",
            "a-b.c",
            "a.b c",
            "a.é",
        ] {
            assert!(!is_action(bad), "{bad}");
        }
    }
}
