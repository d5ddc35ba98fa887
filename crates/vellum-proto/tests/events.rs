//! The wire's AuditEvent converts to vellum-event's Submitted and back;
//! what is missing on the wire is named by validation.

use prost::Message;
use vellum_event::{Limits, OutcomeResult, Submitted, ValidationError};
use vellum_proto::v1;

fn wire() -> v1::AuditEvent {
    v1::AuditEvent {
        actor: Some(v1::Actor {
            id: "alice".into(),
            kind: "user".into(),
            on_behalf_of: String::new(),
        }),
        action: "permission.grant".into(),
        resource: Some(v1::Resource {
            kind: "permission".into(),
            id: "doc-7".into(),
        }),
        outcome: Some(v1::Outcome {
            result: v1::outcome::Result::Denied.into(),
            reason: "no role".into(),
        }),
        event_time: "2026-12-05T18:30:00Z".into(),
        attributes: [("ip".to_string(), "192.0.2.1".to_string())].into(),
        payload: br#"{"after":{"role":"editor"}}"#.to_vec().into(),
        event_id: String::new(),
    }
}

#[test]
fn a_decoded_event_converts_validates_and_converts_back() {
    let bytes = wire().encode_to_vec();
    let decoded = v1::AuditEvent::decode(bytes.as_slice()).expect("decodes");
    let submitted = Submitted::try_from(decoded.clone()).expect("converts");
    assert_eq!(submitted.outcome.result, Some(OutcomeResult::Denied));
    assert_eq!(submitted.outcome.reason.as_deref(), Some("no role"));
    // Empty strings on the wire are absent.
    assert_eq!(submitted.actor.on_behalf_of, None);
    assert_eq!(submitted.event_id, None);
    assert!(submitted.validate(&Limits::default()).is_ok());
    assert_eq!(v1::AuditEvent::from(&submitted), decoded);
}

#[test]
fn missing_messages_are_named_by_validation() {
    let mut pb = wire();
    pb.actor = None;
    let e = Submitted::try_from(pb)
        .expect("converts")
        .validate(&Limits::default())
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(e.field(), "actor.id");

    let mut pb = wire();
    pb.outcome = None;
    let e = Submitted::try_from(pb)
        .expect("converts")
        .validate(&Limits::default())
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(
        e,
        ValidationError::Missing {
            field: "outcome.result".into()
        }
    );

    let mut pb = wire();
    pb.payload = Default::default();
    assert_eq!(Submitted::try_from(pb).expect("converts").payload, None);
}

#[test]
fn an_unknown_outcome_number_is_refused_naming_the_field() {
    let mut pb = wire();
    pb.outcome = Some(v1::Outcome {
        result: 7,
        reason: String::new(),
    });
    let e = Submitted::try_from(pb).expect_err("refused");
    assert_eq!(e.field(), "outcome.result");
    assert!(e.to_string().contains('7'), "{e}");
}
