//! Audit events for Vellum: what a client states, what the log attests, and
//! the bytes an events log stores as its leaf (docs/EVENTS.md).
//!
//! Pure computation: no I/O, no async, no protobuf (the conversion from the
//! wire message lives in `vellum-proto`, which may see both).
//!
//! * [`Submitted`]: the event as a client states it; [`Submitted::validate`]
//!   checks it against [`Limits`] and returns an [`Event`], or a
//!   [`ValidationError`] that names the field and the limit.
//! * [`Attested`]: what only the log can say: the authenticated
//!   `submitter`, `received_at`, and `prev`, the previous event on the same
//!   resource.
//! * [`Recorded`]: an [`Event`] with its [`Attested`] fields. Its
//!   [`canonical_bytes`](Recorded::canonical_bytes) are RFC 8785 canonical
//!   JSON ([`jcs`]): the leaf; [`Recorded::parse`] reads them back and
//!   refuses any byte that is not exactly canonical.
//!
//! ```
//! use vellum_event::{Actor, Attested, Limits, Outcome, OutcomeResult, Recorded, Resource, Submitted, Timestamp};
//!
//! let submitted = Submitted {
//!     actor: Actor { id: "alice".into(), kind: "user".into(), on_behalf_of: None },
//!     action: "permission.grant".into(),
//!     resource: Resource { kind: "permission".into(), id: "doc-7/editors".into() },
//!     outcome: Outcome { result: Some(OutcomeResult::Success), reason: None },
//!     event_time: "2026-12-05T19:30:00.250+01:00".into(),
//!     attributes: Default::default(),
//!     payload: Some(br#"{"after":{"role":"editor"}}"#.to_vec()),
//!     event_id: Some("req-1".into()),
//! };
//! let event = submitted.validate(&Limits::default())?;
//! let attested = Attested {
//!     submitter: "token:ingest".into(),
//!     received_at: Timestamp::parse("2026-12-05T18:30:01Z")?,
//!     prev: None,
//! };
//! let recorded = Recorded::new(event, attested)?;
//! assert_eq!(
//!     std::str::from_utf8(recorded.canonical_bytes())?,
//!     r#"{"action":"permission.grant","actor":{"id":"alice","kind":"user"},"event_id":"req-1","event_time":"2026-12-05T18:30:00.25Z","outcome":{"result":"success"},"payload":{"after":{"role":"editor"}},"received_at":"2026-12-05T18:30:01Z","resource":{"id":"doc-7/editors","kind":"permission"},"submitter":"token:ingest","v":1}"#
//! );
//! // An auditor reading the leaf gets the same event back.
//! assert_eq!(Recorded::parse(recorded.canonical_bytes())?, recorded);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod jcs;

mod error;
mod event;
mod limits;
mod payload;
mod recorded;
mod timestamp;
mod validate;

pub use error::{ParseError, PayloadError, RecordError, ValidationError};
pub use event::{Actor, Event, Outcome, OutcomeResult, Resource, Submitted};
pub use limits::{Limits, MAX_ENTRY_BYTES};
pub use recorded::{Attested, Prev, Recorded, SCHEMA_VERSION};
pub use timestamp::{Timestamp, TimestampError};
