//! Random valid events: their canonical bytes are JSON that `serde_json`
//! reads back to the same values, equal the second implementation's,
//! canonicalise to themselves, and parse back to the same event.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value};
use time::{OffsetDateTime, UtcOffset};
use vellum_event::{
    Actor, Attested, Limits, Outcome, OutcomeResult, Prev, Recorded, Resource, Submitted,
    Timestamp, jcs,
};

const IDENT: &str = "[a-zA-Z0-9 @._/:\u{e9}\u{4e2d}\u{1f600}\"\\\\-]{1,24}";

fn rfc3339(t: OffsetDateTime) -> String {
    let o = t.offset();
    let (h, m, _) = o.as_hms();
    let sign = if o.is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}{sign}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// A time of the years 0001 to 9998, with nanoseconds, at some offset.
fn time_text() -> impl Strategy<Value = String> {
    (
        -62_135_596_800i64..253_370_764_800,
        0u32..1_000_000_000,
        -18 * 60..=18 * 60i32,
    )
        .prop_map(|(s, n, off)| {
            let utc = OffsetDateTime::from_unix_timestamp(s)
                .expect("in range")
                .replace_nanosecond(n)
                .expect("nanos");
            let offset = UtcOffset::from_whole_seconds(off * 60).expect("offset");
            rfc3339(utc.to_offset(offset))
        })
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("within 2^53", |f| f.is_finite()
                && f.abs() <= (1u64 << 53) as f64)
            .prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\u{0}-\u{1f}\u{e000}\u{1f600}]{0,3}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn payload() -> impl Strategy<Value = Option<Map<String, Value>>> {
    prop::option::of(
        prop::collection::btree_map("\\PC{0,6}", json(), 0..5)
            .prop_map(|m| m.into_iter().collect()),
    )
}

prop_compose! {
    fn submitted()(
        actor_id in IDENT, actor_kind in "[a-z0-9_-]{1,12}", on_behalf_of in prop::option::of(IDENT),
        action in "[a-z0-9_]{1,6}(\\.[a-z0-9_-]{1,6}){1,3}",
        resource_kind in "[a-z0-9_-]{1,12}", resource_id in IDENT,
        result in prop_oneof![Just(OutcomeResult::Success), Just(OutcomeResult::Failure), Just(OutcomeResult::Denied)],
        reason in prop::option::of("(?s).{1,40}"),
        event_time in time_text(),
        attributes in prop::collection::btree_map(IDENT, "(?s).{0,20}", 0..6),
        payload in payload(),
        event_id in prop::option::of(IDENT),
    ) -> (Submitted, Option<Map<String, Value>>) {
        let text = payload.as_ref().map(|p| serde_json::to_vec(p).expect("json"));
        (Submitted {
            actor: Actor { id: actor_id, kind: actor_kind, on_behalf_of },
            action,
            resource: Resource { kind: resource_kind, id: resource_id },
            outcome: Outcome { result: Some(result), reason },
            event_time,
            attributes: attributes.into_iter().collect::<BTreeMap<_, _>>(),
            payload: text,
            event_id,
        }, payload)
    }
}

prop_compose! {
    fn attested()(
        submitter in IDENT,
        received_at in time_text(),
        prev in prop::option::of((0u64..=1 << 53, any::<[u8; 32]>())),
    ) -> Attested {
        Attested {
            submitter,
            received_at: Timestamp::parse(&received_at).expect("time"),
            prev: prev.map(|(index, leaf_hash)| Prev { index, leaf_hash }),
        }
    }
}

/// Equal as JSON values, numbers compared as the doubles they denote.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn canonical_bytes_are_json_idempotent_and_parse_back((s, payload) in submitted(), a in attested()) {
        let event = s.validate(&Limits::default()).expect("a valid event");
        let r = Recorded::new(event, a.clone()).expect("recorded");
        let bytes = r.canonical_bytes();

        // Plain JSON, with the values the client and the log gave.
        let v: Value = serde_json::from_slice(bytes).expect("canonical bytes are JSON");
        prop_assert_eq!(&v["actor"]["id"], &Value::String(s.actor.id.clone()));
        prop_assert_eq!(&v["action"], &Value::String(s.action.clone()));
        prop_assert_eq!(&v["resource"]["id"], &Value::String(s.resource.id.clone()));
        prop_assert_eq!(&v["submitter"], &Value::String(a.submitter.clone()));
        let time = Timestamp::parse(&s.event_time).expect("time");
        prop_assert_eq!(&v["event_time"], &Value::String(time.to_string()));
        prop_assert_eq!(Timestamp::parse(v["event_time"].as_str().expect("a string")), Ok(time));
        for (k, val) in &s.attributes {
            prop_assert_eq!(&v["attributes"][k], &Value::String(val.clone()));
        }
        match payload {
            Some(p) => prop_assert!(same(&v["payload"], &Value::Object(p))),
            None => prop_assert!(v.get("payload").is_none()),
        }

        // Idempotent, and what a second implementation writes.
        prop_assert_eq!(jcs::canonicalize(&v), bytes.to_vec());
        prop_assert_eq!(serde_json_canonicalizer::to_vec(&v).expect("jcs"), bytes.to_vec());

        // An auditor's parse gives the same event back.
        prop_assert_eq!(Recorded::parse(bytes).expect("parses"), r);
    }
}
