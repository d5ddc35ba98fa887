//! The recorded event: its pinned schema, the round trip through
//! `Recorded::parse`, refusal of every non-canonical variant, the fields
//! only the log sets, and the leaf hash and `prev` chain.

use std::collections::BTreeMap;

use serde_json::Value;
use vellum_event::{
    Actor, Attested, Limits, Outcome, OutcomeResult, ParseError, Prev, RecordError, Recorded,
    Resource, Submitted, Timestamp,
};

fn submitted() -> Submitted {
    Submitted {
        actor: Actor {
            id: "agent-7".into(),
            kind: "agent".into(),
            on_behalf_of: Some("alice".into()),
        },
        action: "permission.grant".into(),
        resource: Resource {
            kind: "permission".into(),
            id: "doc-7/editors".into(),
        },
        outcome: Outcome {
            result: Some(OutcomeResult::Denied),
            reason: Some("no \"admin\" role".into()),
        },
        event_time: "2026-12-05T19:30:00.250+01:00".into(),
        attributes: BTreeMap::from([
            ("ip".into(), "192.0.2.1".into()),
            ("z\u{e9}".into(), String::new()),
        ]),
        payload: Some(
            br#"{"before": {"role": "viewer"}, "after": {"role": "editor", "n": 1.0, "x": 0.5}}"#
                .to_vec(),
        ),
        event_id: Some("req-1".into()),
    }
}

fn attested(prev: Option<Prev>) -> Attested {
    Attested {
        submitter: "token:ingest".into(),
        received_at: Timestamp::parse("2026-12-05T18:30:01.000001Z").expect("time"),
        prev,
    }
}

fn recorded(prev: Option<Prev>) -> Recorded {
    let event = submitted().validate(&Limits::default()).expect("valid");
    Recorded::new(event, attested(prev)).expect("recorded")
}

const PREV: Prev = Prev {
    index: 41,
    leaf_hash: [0xab; 32],
};

#[test]
fn the_stored_schema_byte_for_byte() {
    let r = recorded(Some(PREV));
    let want = concat!(
        r#"{"action":"permission.grant","actor":{"id":"agent-7","kind":"agent","on_behalf_of":"alice"},"#,
        r#""attributes":{"ip":"192.0.2.1","zé":""},"event_id":"req-1","event_time":"2026-12-05T18:30:00.25Z","#,
        r#""outcome":{"reason":"no \"admin\" role","result":"denied"},"#,
        r#""payload":{"after":{"n":1,"role":"editor","x":0.5},"before":{"role":"viewer"}},"#,
        r#""prev":{"index":41,"leaf_hash":"abababababababababababababababababababababababababababababababab"},"#,
        r#""received_at":"2026-12-05T18:30:01.000001Z","resource":{"id":"doc-7/editors","kind":"permission"},"#,
        r#""submitter":"token:ingest","v":1}"#
    );
    assert_eq!(
        std::str::from_utf8(r.canonical_bytes()).expect("utf-8"),
        want
    );
    // The same bytes from the second implementation.
    let v: Value = serde_json::from_slice(r.canonical_bytes()).expect("json");
    assert_eq!(
        serde_json_canonicalizer::to_vec(&v).expect("jcs"),
        r.canonical_bytes()
    );
}

#[test]
fn absent_optional_fields_are_omitted_not_null() {
    let mut s = submitted();
    s.actor.on_behalf_of = None;
    s.outcome.reason = None;
    s.attributes.clear();
    s.payload = None;
    s.event_id = None;
    let r = Recorded::new(
        s.validate(&Limits::default()).expect("valid"),
        attested(None),
    )
    .expect("recorded");
    let text = std::str::from_utf8(r.canonical_bytes()).expect("utf-8");
    assert!(!text.contains("null"), "{text}");
    for absent in [
        "on_behalf_of",
        "reason",
        "attributes",
        "payload",
        "event_id",
        "prev",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    assert_eq!(Recorded::parse(r.canonical_bytes()), Ok(r));
}

#[test]
fn canonical_bytes_parse_back_to_the_same_event() {
    for prev in [None, Some(PREV)] {
        let r = recorded(prev);
        let back = Recorded::parse(r.canonical_bytes()).expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.attested().prev, prev);
        assert_eq!(
            back.event().event_time().to_string(),
            "2026-12-05T18:30:00.25Z"
        );
    }
}

#[test]
fn non_canonical_variants_are_refused() {
    let good = String::from_utf8(recorded(Some(PREV)).canonical_bytes().to_vec()).expect("utf-8");
    let not_canonical = |variant: String| {
        assert_ne!(variant, good);
        match Recorded::parse(variant.as_bytes()) {
            Err(ParseError::NotCanonical { .. }) => {}
            other => panic!("{variant}: {other:?}"),
        }
    };
    // Whitespace.
    not_canonical(good.replacen("{", "{ ", 1));
    not_canonical(format!("{good}\n"));
    not_canonical(good.replace("\",\"", "\", \""));
    // Member order: `v` first, as a writer that does not sort would put it.
    not_canonical(format!("{{\"v\":1,{}", &good[1..good.len() - 7]) + "}");
    not_canonical(good.replace(r#"{"before":{"role":"viewer"}}"#, "").replace(
        r#""payload":{"after":{"n":1,"role":"editor","x":0.5},"before":{"role":"viewer"}}"#,
        r#""payload":{"before":{"role":"viewer"},"after":{"n":1,"role":"editor","x":0.5}}"#,
    ));
    // Numbers: 1.0 for 1, 1e0, 5e-1 for 0.5.
    not_canonical(good.replace("\"v\":1}", "\"v\":1.0}"));
    not_canonical(good.replace("\"n\":1,", "\"n\":1.0,"));
    not_canonical(good.replace("\"n\":1,", "\"n\":1e0,"));
    not_canonical(good.replace("\"x\":0.5", "\"x\":5e-1"));
    not_canonical(good.replace("\"index\":41", "\"index\":41.0"));
    // String escapes: \u0061 for a, \/ for /.
    not_canonical(good.replace("agent-7", "\\u0061gent-7"));
    not_canonical(good.replace("doc-7/editors", "doc-7\\/editors"));
    // A time not in the normal form.
    not_canonical(good.replace("18:30:00.25Z", "18:30:00.250Z"));
    not_canonical(good.replace("18:30:00.25Z", "19:30:00.25+01:00"));
    // Empty attributes written out.
    let bare = String::from_utf8(
        Recorded::new(
            Submitted {
                attributes: BTreeMap::new(),
                ..submitted()
            }
            .validate(&Limits::default())
            .expect("valid"),
            attested(None),
        )
        .expect("recorded")
        .canonical_bytes()
        .to_vec(),
    )
    .expect("utf-8");
    not_canonical(bare.replacen("\"event_id\"", "\"attributes\":{},\"event_id\"", 1));
}

#[test]
fn malformed_events_are_refused_naming_the_field() {
    let good = String::from_utf8(recorded(Some(PREV)).canonical_bytes().to_vec()).expect("utf-8");
    let schema = |variant: String, field: &str| match Recorded::parse(variant.as_bytes()) {
        Err(ParseError::Schema { field: f, .. }) => assert_eq!(f, field, "{variant}"),
        other => panic!("{variant}: {other:?}"),
    };
    schema(
        good.replace("\"event_id\":\"req-1\"", "\"event_id\":null"),
        "event_id",
    );
    schema(
        good.replace("\"submitter\":\"token:ingest\",", ""),
        "submitter",
    );
    schema(good.replace("\"v\":1}", "\"v\":1,\"w\":2}"), "w");
    schema(
        good.replace("\"kind\":\"agent\"", "\"kind\":\"agent\",\"role\":\"x\""),
        "actor.role",
    );
    schema(
        good.replace(
            "abababababababababababababababababababababababababababababababab",
            &"AB".repeat(32),
        ),
        "prev.leaf_hash",
    );
    schema(good.replace("\"index\":41", "\"index\":-1"), "prev.index");
    schema(
        good.replace("\"result\":\"denied\"", "\"result\":\"ok\""),
        "outcome.result",
    );
    assert!(matches!(
        Recorded::parse(good.replace("\"v\":1}", "\"v\":2}").as_bytes()),
        Err(ParseError::Version(v)) if v == "2"
    ));
    assert!(matches!(
        Recorded::parse(b"[1]"),
        Err(ParseError::Schema { .. })
    ));
    assert!(matches!(
        Recorded::parse(b"{\"v\":1"),
        Err(ParseError::Json(_))
    ));
    // A rule broken in stored bytes is the validation error.
    assert!(matches!(
        Recorded::parse(good.replace("permission.grant", "Grant").as_bytes()),
        Err(ParseError::Invalid(e)) if e.field() == "action"
    ));
    // A duplicated member, even one that would win as the log's.
    let forged = good.replacen("{", "{\"submitter\":\"mallory\",", 1);
    assert!(
        matches!(Recorded::parse(forged.as_bytes()), Err(ParseError::Json(m)) if m.contains("twice")),
        "{forged}"
    );
}

#[test]
fn the_client_cannot_set_the_fields_the_log_attests() {
    let mut s = submitted();
    s.attributes = BTreeMap::from([
        ("submitter".into(), "mallory".into()),
        ("received_at".into(), "1970-01-01T00:00:00Z".into()),
        ("prev".into(), "none".into()),
    ]);
    s.payload = Some(
        br#"{"submitter":"mallory","received_at":"1970-01-01T00:00:00Z","prev":{"index":0,"leaf_hash":"00"},"v":2}"#
            .to_vec(),
    );
    let r = Recorded::new(
        s.validate(&Limits::default()).expect("valid"),
        attested(Some(PREV)),
    )
    .expect("recorded");
    let v: Value = serde_json::from_slice(r.canonical_bytes()).expect("json");
    // The top level holds the log's word only.
    assert_eq!(v["submitter"], "token:ingest");
    assert_eq!(v["received_at"], "2026-12-05T18:30:01.000001Z");
    assert_eq!(v["prev"]["index"], 41);
    assert_eq!(v["v"], 1);
    // The client's names stay inside attributes and payload.
    assert_eq!(v["attributes"]["submitter"], "mallory");
    assert_eq!(v["payload"]["submitter"], "mallory");
    assert_eq!(v["payload"]["v"], 2);
    let back = Recorded::parse(r.canonical_bytes()).expect("parses");
    assert_eq!(back.attested(), &attested(Some(PREV)));
    // And a Submitted has no field for them: they are only in Attested.
}

#[test]
fn leaf_hash_and_the_prev_chain() {
    let first = recorded(None);
    assert_eq!(
        first.leaf_hash(),
        vellum_merkle::leaf_hash(first.canonical_bytes())
    );
    let second = recorded(Some(first.as_prev(7)));
    let read = Recorded::parse(second.canonical_bytes()).expect("parses");
    let link = read.attested().prev.expect("a prev");
    assert_eq!(link.index, 7);
    assert_eq!(link.leaf_hash, first.leaf_hash().0);
    // The chain is in the bytes: the hex of the first leaf hash.
    let hex: String = first
        .leaf_hash()
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        std::str::from_utf8(second.canonical_bytes())
            .expect("utf-8")
            .contains(&hex)
    );
}

#[test]
fn attested_fields_are_checked() {
    let event = || submitted().validate(&Limits::default()).expect("valid");
    let mut a = attested(None);
    a.submitter = String::new();
    assert!(
        matches!(Recorded::new(event(), a), Err(RecordError::Submitter(e)) if e.field() == "submitter")
    );
    let mut a = attested(None);
    a.submitter = "x".repeat(257);
    assert!(matches!(
        Recorded::new(event(), a),
        Err(RecordError::Submitter(_))
    ));
    let a = attested(Some(Prev {
        index: (1 << 53) + 1,
        leaf_hash: [0; 32],
    }));
    assert!(matches!(
        Recorded::new(event(), a),
        Err(RecordError::PrevIndex(i)) if i == (1 << 53) + 1
    ));
}
