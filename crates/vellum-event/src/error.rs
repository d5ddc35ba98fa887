//! Errors: each names the field (as its path in the stored event, e.g.
//! `actor.id` or `attributes["k"]`) and, where one applies, the limit.

use crate::TimestampError;

/// Why a submitted event is refused. Every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required field is absent or empty, or an optional one is present
    /// but empty (leave it absent instead).
    #[error("{field}: required, and must not be empty")]
    Missing {
        /// The field.
        field: String,
    },
    /// Longer than its limit, in bytes of UTF-8.
    #[error("{field}: {len} bytes, over the limit of {limit}")]
    TooLong {
        /// The field.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Does not match the field's grammar.
    #[error("{field}: {value:?} is not {rule}")]
    Grammar {
        /// The field.
        field: String,
        /// The value given (at most its first 64 characters).
        value: String,
        /// What the field must be.
        rule: &'static str,
    },
    /// Holds a control character (identifiers may not).
    #[error("{field}: holds the control character U+{code:04X}")]
    ControlCharacter {
        /// The field.
        field: String,
        /// The character's code point.
        code: u32,
    },
    /// More attributes than allowed.
    #[error("attributes: {count} entries, over the limit of {limit}")]
    TooManyAttributes {
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// `event_time` is not an RFC 3339 date-time this log can store.
    #[error("event_time: {text:?} is {reason}")]
    EventTime {
        /// The text given (at most its first 64 characters).
        text: String,
        /// Why it was refused.
        reason: TimestampError,
    },
    /// The payload is refused.
    #[error("payload: {0}")]
    Payload(#[from] PayloadError),
    /// The whole event would not fit one entry with the log's fields.
    #[error(
        "event: {size} bytes as canonical JSON, over the limit of {limit} (one entry, less room for the log's fields)"
    )]
    TooLarge {
        /// Its canonical size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl ValidationError {
    /// The path of the field refused, e.g. `actor.id`, `attributes["k"]`, `payload`.
    pub fn field(&self) -> &str {
        match self {
            ValidationError::Missing { field }
            | ValidationError::TooLong { field, .. }
            | ValidationError::Grammar { field, .. }
            | ValidationError::ControlCharacter { field, .. } => field,
            ValidationError::TooManyAttributes { .. } => "attributes",
            ValidationError::EventTime { .. } => "event_time",
            ValidationError::Payload(_) => "payload",
            ValidationError::TooLarge { .. } => "event",
        }
    }
}

/// Why a payload is refused. Paths inside it are JSON Pointers (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Larger than the limit, before parsing.
    #[error("{len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Not valid UTF-8.
    #[error("not valid UTF-8 (the first bad byte is at offset {valid_up_to})")]
    NotUtf8 {
        /// The length of the valid prefix.
        valid_up_to: usize,
    },
    /// Not JSON.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// JSON, but not an object.
    #[error("must be a JSON object, not {found}")]
    NotAnObject {
        /// What it is (`an array`, `a string`, ...).
        found: &'static str,
    },
    /// Nested deeper than the limit.
    #[error("nested deeper than {limit} at {at:?}")]
    TooDeep {
        /// Where the limit was passed.
        at: String,
        /// The limit.
        limit: usize,
    },
    /// An object names a member twice (RFC 8785 and I-JSON forbid it).
    #[error("the member {name:?} appears twice in the object at {at:?}")]
    DuplicateKey {
        /// The object.
        at: String,
        /// The name.
        name: String,
    },
    /// An integer beyond ±2^53, which a JSON number cannot carry exactly.
    #[error(
        "the number {number} at {at:?} is an integer beyond ±2^53; JSON numbers (IEEE doubles) cannot hold it exactly: send it as a string"
    )]
    InexactInteger {
        /// Where.
        at: String,
        /// The number as given.
        number: String,
    },
}

/// Why an event cannot be recorded with the attested fields given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The submitter is not a valid identity (the same rules as an id).
    #[error("submitter: {0}")]
    Submitter(ValidationError),
    /// The event does not fit one entry.
    #[error("recorded event: {size} bytes, over the entry limit of {limit}")]
    TooLarge {
        /// Its canonical size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `prev.index` beyond 2^53, which a JSON number (a double) cannot
    /// carry exactly.
    #[error("prev.index: {0} is beyond 2^53")]
    PrevIndex(u64),
}

/// Why bytes are not a recorded event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// A field of the stored schema is missing, of the wrong type, or unknown.
    #[error("{field}: {problem}")]
    Schema {
        /// The field's path.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The schema version is not one this code reads.
    #[error("v: version {0} is not 1")]
    Version(String),
    /// The event breaks a validation rule.
    #[error("invalid event: {0}")]
    Invalid(#[from] ValidationError),
    /// The attested fields are invalid.
    #[error("invalid attested field: {0}")]
    Attested(#[from] RecordError),
    /// Well formed, but not the canonical bytes of the event they describe.
    #[error("not canonical: the bytes differ from the event's canonical form at offset {offset}")]
    NotCanonical {
        /// The first byte that differs.
        offset: usize,
    },
}
