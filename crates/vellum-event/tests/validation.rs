//! The validation table: for each rule, one accepted and one refused case;
//! the refusal names the field (and the limit, where there is one).

use std::collections::BTreeMap;

use vellum_event::{Actor, Limits, Outcome, OutcomeResult, Resource, Submitted, ValidationError};

fn base() -> Submitted {
    Submitted {
        actor: Actor {
            id: "alice@example.com".into(),
            kind: "user".into(),
            on_behalf_of: None,
        },
        action: "permission.grant".into(),
        resource: Resource {
            kind: "permission".into(),
            id: "doc-7/editors".into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Success),
            reason: None,
        },
        event_time: "2026-12-05T18:30:00Z".into(),
        attributes: BTreeMap::new(),
        payload: None,
        event_id: None,
    }
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

fn nested(depth: usize) -> Vec<u8> {
    format!(
        "{}{{}}{}",
        "{\"a\":".repeat(depth - 1),
        "}".repeat(depth - 1)
    )
    .into_bytes()
}

fn attributes(n: usize, value_len: usize) -> BTreeMap<String, String> {
    (0..n).map(|i| (format!("k{i}"), x(value_len))).collect()
}

/// The payload `{"a":"xx…"}` of exactly `len` bytes.
fn payload_of(len: usize) -> Vec<u8> {
    format!("{{\"a\":\"{}\"}}", x(len - 8)).into_bytes()
}

type Change = fn(&mut Submitted);

struct Rule {
    rule: &'static str,
    field: &'static str,
    accepted: Change,
    refused: Change,
}

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            rule: "actor.id required",
            field: "actor.id",
            accepted: |s| s.actor.id = "a".into(),
            refused: |s| s.actor.id = String::new(),
        },
        Rule {
            rule: "actor.id at most 256 bytes",
            field: "actor.id",
            accepted: |s| s.actor.id = x(256),
            refused: |s| s.actor.id = x(257),
        },
        Rule {
            rule: "actor.id at most 256 bytes, not characters",
            field: "actor.id",
            accepted: |s| s.actor.id = "é".repeat(128),
            refused: |s| s.actor.id = "é".repeat(129),
        },
        Rule {
            rule: "actor.id no control character",
            field: "actor.id",
            accepted: |s| s.actor.id = "alice smith".into(),
            refused: |s| s.actor.id = "alice\nsmith".into(),
        },
        Rule {
            rule: "actor.kind required",
            field: "actor.kind",
            accepted: |s| s.actor.kind = "service".into(),
            refused: |s| s.actor.kind = String::new(),
        },
        Rule {
            rule: "actor.kind grammar",
            field: "actor.kind",
            accepted: |s| s.actor.kind = "service-account_2".into(),
            refused: |s| s.actor.kind = "User".into(),
        },
        Rule {
            rule: "actor.kind at most 64 bytes",
            field: "actor.kind",
            accepted: |s| s.actor.kind = x(64),
            refused: |s| s.actor.kind = x(65),
        },
        Rule {
            rule: "actor.on_behalf_of not empty",
            field: "actor.on_behalf_of",
            accepted: |s| s.actor.on_behalf_of = Some("bob".into()),
            refused: |s| s.actor.on_behalf_of = Some(String::new()),
        },
        Rule {
            rule: "actor.on_behalf_of at most 256 bytes",
            field: "actor.on_behalf_of",
            accepted: |s| s.actor.on_behalf_of = Some(x(256)),
            refused: |s| s.actor.on_behalf_of = Some(x(257)),
        },
        Rule {
            rule: "action required",
            field: "action",
            accepted: |s| s.action = "a.b".into(),
            refused: |s| s.action = String::new(),
        },
        Rule {
            rule: "action is a dotted verb",
            field: "action",
            accepted: |s| s.action = "user.password.reset".into(),
            refused: |s| s.action = "grant".into(),
        },
        Rule {
            rule: "action is lowercase",
            field: "action",
            accepted: |s| s.action = "permission.grant-all".into(),
            refused: |s| s.action = "Permission.Grant".into(),
        },
        Rule {
            rule: "action at most 128 bytes",
            field: "action",
            accepted: |s| s.action = format!("a.{}", x(126)),
            refused: |s| s.action = format!("a.{}", x(127)),
        },
        Rule {
            rule: "resource.kind required",
            field: "resource.kind",
            accepted: |s| s.resource.kind = "doc".into(),
            refused: |s| s.resource.kind = String::new(),
        },
        Rule {
            rule: "resource.kind has no slash",
            field: "resource.kind",
            accepted: |s| s.resource.kind = "access-policy".into(),
            refused: |s| s.resource.kind = "doc/7".into(),
        },
        Rule {
            rule: "resource.kind at most 64 bytes",
            field: "resource.kind",
            accepted: |s| s.resource.kind = x(64),
            refused: |s| s.resource.kind = x(65),
        },
        Rule {
            rule: "resource.id required",
            field: "resource.id",
            accepted: |s| s.resource.id = "7".into(),
            refused: |s| s.resource.id = String::new(),
        },
        Rule {
            rule: "resource.id at most 256 bytes",
            field: "resource.id",
            accepted: |s| s.resource.id = x(256),
            refused: |s| s.resource.id = x(257),
        },
        Rule {
            rule: "resource.id no control character",
            field: "resource.id",
            accepted: |s| s.resource.id = "a/b c".into(),
            refused: |s| s.resource.id = "a\u{7f}".into(),
        },
        Rule {
            rule: "outcome.result required",
            field: "outcome.result",
            accepted: |s| s.outcome.result = Some(OutcomeResult::Denied),
            refused: |s| s.outcome.result = None,
        },
        Rule {
            rule: "outcome.reason not empty",
            field: "outcome.reason",
            accepted: |s| s.outcome.reason = Some("no role".into()),
            refused: |s| s.outcome.reason = Some(String::new()),
        },
        Rule {
            rule: "outcome.reason at most 1024 bytes",
            field: "outcome.reason",
            accepted: |s| s.outcome.reason = Some(x(1024)),
            refused: |s| s.outcome.reason = Some(x(1025)),
        },
        Rule {
            rule: "event_time required",
            field: "event_time",
            accepted: |s| s.event_time = "2026-12-05T18:30:00.5+05:30".into(),
            refused: |s| s.event_time = String::new(),
        },
        Rule {
            rule: "event_time has an offset",
            field: "event_time",
            accepted: |s| s.event_time = "2026-12-05T18:30:00-08:00".into(),
            refused: |s| s.event_time = "2026-12-05T18:30:00".into(),
        },
        Rule {
            rule: "event_time is a date-time",
            field: "event_time",
            accepted: |s| s.event_time = "2024-02-29T00:00:00Z".into(),
            refused: |s| s.event_time = "2026-02-29T00:00:00Z".into(),
        },
        Rule {
            rule: "at most 64 attributes",
            field: "attributes",
            accepted: |s| s.attributes = attributes(64, 1),
            refused: |s| s.attributes = attributes(65, 1),
        },
        Rule {
            rule: "attribute key not empty",
            field: "attributes[\"\"]",
            accepted: |s| s.attributes = [("k".into(), String::new())].into(),
            refused: |s| s.attributes = [(String::new(), "v".into())].into(),
        },
        Rule {
            rule: "attribute key at most 128 bytes",
            field: "attributes[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]",
            accepted: |s| s.attributes = [(x(128), "v".into())].into(),
            refused: |s| s.attributes = [(x(129), "v".into())].into(),
        },
        Rule {
            rule: "attribute value at most 1024 bytes",
            field: "attributes[\"ip\"]",
            accepted: |s| s.attributes = [("ip".into(), x(1024))].into(),
            refused: |s| s.attributes = [("ip".into(), x(1025))].into(),
        },
        Rule {
            rule: "payload is UTF-8",
            field: "payload",
            accepted: |s| s.payload = Some("{\"a\":\"é\"}".into()),
            refused: |s| s.payload = Some(b"{\"a\":\"\xff\"}".to_vec()),
        },
        Rule {
            rule: "payload is JSON",
            field: "payload",
            accepted: |s| s.payload = Some(b"{}".to_vec()),
            refused: |s| s.payload = Some(b"{\"a\":}".to_vec()),
        },
        Rule {
            rule: "payload is an object",
            field: "payload",
            accepted: |s| s.payload = Some(b"{\"list\":[1]}".to_vec()),
            refused: |s| s.payload = Some(b"[1]".to_vec()),
        },
        Rule {
            rule: "payload at most 60 KiB",
            field: "payload",
            accepted: |s| s.payload = Some(payload_of(61_440)),
            refused: |s| s.payload = Some(payload_of(61_441)),
        },
        Rule {
            rule: "payload nested at most 32 deep",
            field: "payload",
            accepted: |s| s.payload = Some(nested(32)),
            refused: |s| s.payload = Some(nested(33)),
        },
        Rule {
            rule: "payload integers within 2^53",
            field: "payload",
            accepted: |s| s.payload = Some(b"{\"n\":9007199254740992}".to_vec()),
            refused: |s| s.payload = Some(b"{\"n\":9007199254740993}".to_vec()),
        },
        Rule {
            rule: "payload numbers within 2^53",
            field: "payload",
            accepted: |s| s.payload = Some(b"{\"n\":-1.5e-300}".to_vec()),
            refused: |s| s.payload = Some(b"{\"n\":-1e300}".to_vec()),
        },
        Rule {
            rule: "payload names a member once",
            field: "payload",
            accepted: |s| s.payload = Some(b"{\"a\":{\"b\":1},\"b\":1}".to_vec()),
            refused: |s| s.payload = Some(b"{\"a\":{\"b\":1,\"b\":1}}".to_vec()),
        },
        Rule {
            rule: "event_id not empty",
            field: "event_id",
            accepted: |s| s.event_id = Some("retry-1".into()),
            refused: |s| s.event_id = Some(String::new()),
        },
        Rule {
            rule: "event_id at most 128 bytes",
            field: "event_id",
            accepted: |s| s.event_id = Some(x(128)),
            refused: |s| s.event_id = Some(x(129)),
        },
        Rule {
            rule: "the event fits one entry",
            field: "event",
            accepted: |s| s.attributes = attributes(60, 1024),
            refused: |s| s.attributes = attributes(64, 1024),
        },
    ]
}

#[test]
fn each_rule_accepts_one_case_and_refuses_one_naming_the_field() {
    let limits = Limits::default();
    assert!(base().validate(&limits).is_ok());
    for Rule {
        rule,
        field,
        accepted,
        refused,
    } in rules()
    {
        let mut ok = base();
        accepted(&mut ok);
        if let Err(e) = ok.validate(&limits) {
            panic!("{rule}: the accepted case was refused: {e}");
        }
        let mut bad = base();
        refused(&mut bad);
        match bad.validate(&limits) {
            Ok(_) => panic!("{rule}: the refused case was accepted"),
            Err(e) => {
                assert_eq!(e.field(), field, "{rule}: {e}");
                assert!(
                    e.to_string().starts_with(field),
                    "{rule}: the message does not start with the field: {e}"
                );
            }
        }
    }
}

#[test]
fn refusals_state_the_limit_and_the_rule() {
    let mut s = base();
    s.actor.id = x(257);
    assert_eq!(
        s.validate(&Limits::default()).map(|_| ()),
        Err(ValidationError::TooLong {
            field: "actor.id".into(),
            len: 257,
            limit: 256
        })
    );
    assert_eq!(
        ValidationError::TooLong {
            field: "actor.id".into(),
            len: 257,
            limit: 256
        }
        .to_string(),
        "actor.id: 257 bytes, over the limit of 256"
    );
    s = base();
    s.action = "grant".into();
    let e = s
        .validate(&Limits::default())
        .map(|_| ())
        .expect_err("refused");
    assert!(e.to_string().contains("dotted verb"), "{e}");
    s = base();
    s.payload = Some(b"{\"a\":[1,{\"b\":9007199254740993}]}".to_vec());
    let e = s
        .validate(&Limits::default())
        .map(|_| ())
        .expect_err("refused");
    assert!(
        e.to_string().contains("\"/a/1/b\"") && e.to_string().contains("2^53"),
        "{e}"
    );
}

#[test]
fn limits_can_be_lowered() {
    let limits = Limits {
        max_payload_bytes: 16,
        ..Limits::default()
    };
    let mut s = base();
    s.payload = Some(br#"{"a":"0123456789"}"#.to_vec());
    assert_eq!(
        s.validate(&limits).map(|_| ()),
        Err(ValidationError::Payload(
            vellum_event::PayloadError::TooLarge { len: 18, limit: 16 }
        ))
    );
}

#[test]
fn event_time_is_normalised_to_utc() {
    let mut s = base();
    s.event_time = "2026-12-05T19:30:00.250000+01:00".into();
    let event = s.validate(&Limits::default()).expect("valid");
    assert_eq!(event.event_time().to_string(), "2026-12-05T18:30:00.25Z");
}
