//! Audit events on arbitrary input: `Recorded::parse` on the bytes as a
//! stored event, and `Submitted::validate` with the bytes as a payload.
//!
//! Properties:
//! * no panic (and no overflow or hang: payload depth is bounded);
//! * parse accepts only canonical bytes: an accepted event's canonical
//!   bytes are exactly the input, RFC 8785 of the input's JSON value is
//!   the input again, and parsing them again gives the same event;
//! * a payload that validates is recorded, and the recorded event parses
//!   back to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_event::{
    Actor, Attested, Limits, Outcome, OutcomeResult, Prev, Recorded, Resource, Submitted,
    Timestamp, jcs,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(recorded) = Recorded::parse(data) {
        assert_eq!(
            recorded.canonical_bytes(),
            data,
            "parse accepts canonical bytes only"
        );
        let value: serde_json::Value =
            serde_json::from_slice(data).expect("accepted bytes are JSON");
        assert_eq!(jcs::canonicalize(&value).as_slice(), data);
        assert_eq!(Recorded::parse(recorded.canonical_bytes()), Ok(recorded));
    }

    let submitted = Submitted {
        actor: Actor {
            id: "fuzz".into(),
            kind: "service".into(),
            on_behalf_of: None,
        },
        action: "fuzz.run".into(),
        resource: Resource {
            kind: "input".into(),
            id: "1".into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-05T18:30:00Z".into(),
        attributes: Default::default(),
        payload: Some(data.to_vec()),
        event_id: None,
    };
    if let Ok(event) = submitted.validate(&Limits::default()) {
        let attested = Attested {
            submitter: "fuzz".into(),
            received_at: Timestamp::parse("2026-12-05T18:30:01Z").expect("a time"),
            prev: Some(Prev {
                index: 1,
                leaf_hash: [7; 32],
            }),
        };
        let recorded = Recorded::new(event, attested).expect("a valid event fits one entry");
        assert_eq!(Recorded::parse(recorded.canonical_bytes()), Ok(recorded));
    }
});
