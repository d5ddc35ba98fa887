//! Our RFC 8785 serializer against a second, independent implementation
//! (the `serde_json_canonicalizer` crate) over a corpus and random values,
//! and against the examples published in RFC 8785 itself.

use proptest::prelude::*;
use serde_json::Value;
use vellum_event::jcs;

fn ours(v: &Value) -> String {
    String::from_utf8(jcs::canonicalize(v)).expect("utf-8")
}

fn theirs(v: &Value) -> String {
    serde_json_canonicalizer::to_string(v).expect("canonical")
}

/// JSON texts: unicode (astral plane, BMP above the surrogates), escapes,
/// control characters, numbers, key order, nesting.
const CORPUS: &[&str] = &[
    r#"{}"#,
    r#"[]"#,
    r#""""#,
    r#"[[],{},[{}],{"":[]}]"#,
    r#"[null,true,false]"#,
    r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
    r#"{"\ue000":1,"\ud800\udc00":2,"\uffff":3,"\ud7ff":4,"\udbff\udfff":5,"a":6,"":7,"aa":8,"b":9,"A":10,"\u0000":11,"~":12,"\u007f":13}"#,
    r#"{"\ufb01":1,"\ud834\udd1e":2,"\uff21":3,"\ud83c\udf89":4,"\u3042":5,"\ud840\udc00":6}"#,
    r#"{"ab":1,"a":2,"a\u0000":3,"a\u0001b":4,"b":5,"ba":6,"aB":7}"#,
    r#"["\u0000\u0001\u0002\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u001f\u0020\u007f\u0080\u009f\u00a0"]"#,
    r#"["\"","\\","\/","/","\b\f\n\r\t","\u2028\u2029","\ud834\udd1e","\ud83d\ude00","\ufeff","\uffff"]"#,
    r#""\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/""#,
    r#"[0,-0,0.0,-0.0,1,-1,1.0,1e0,1E2,100,1e21,1e20,1e22,1e-7,1e-6,0.000001,0.0000001,123e-20]"#,
    r#"[0.1,0.2,0.30000000000000004,0.3,1.5,-1.5,4.50,2e-3,333333333.33333329,1E30,0.000000000000000000000000001]"#,
    r#"[9007199254740992,-9007199254740992,9007199254740991,4503599627370496.5,1e308,1.7976931348623157e308,-1.7976931348623157e308]"#,
    r#"[5e-324,-5e-324,2.2250738585072014e-308,1e-300,1.5e300,123456789012345680000,999999999999999900000,1e23]"#,
    r#"{"b":[{"z":1,"y":[{"d":null,"c":true}]}],"a":{"c":{"b":{"a":false}}},"c":[[[[[[]]]]]]}"#,
    r#"{"before":{"role":"viewer","since":"2025-01-01T00:00:00Z"},"after":{"role":"admin","by":"\u00e9lodie"},"ticket":null}"#,
];

#[test]
fn corpus_matches_a_second_implementation() {
    for text in CORPUS {
        let v: Value = serde_json::from_str(text).expect("corpus is JSON");
        assert_eq!(ours(&v), theirs(&v), "{text}");
    }
}

/// RFC 8785 section 3.2.2: the sample input and its canonical form.
#[test]
fn rfc_8785_section_3_2_2_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    let v: Value = serde_json::from_str(input).expect("json");
    assert_eq!(
        ours(&v),
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
}

/// RFC 8785 section 3.2.3: the sorting example, names in UTF-16 order.
#[test]
fn rfc_8785_section_3_2_3_sorting() {
    let v: Value = serde_json::from_str(CORPUS[5]).expect("json");
    let names: Vec<String> = {
        let sorted: Value = serde_json::from_str(&ours(&v)).expect("json");
        // serde_json's map is sorted by UTF-8 bytes: read the order from the text.
        let text = ours(&sorted);
        let mut names = Vec::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\":\"") {
            let start = rest[..i].rfind(['{', ',']).expect("member start") + 2;
            names.push(rest[start..i].to_owned());
            rest = &rest[i + 3..];
            rest = &rest[rest.find('"').expect("value end") + 1..];
        }
        names
    };
    assert_eq!(
        names,
        [
            "\\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}"
        ]
    );
}

/// RFC 8785 appendix B: doubles (as IEEE 754 bit patterns) and their text.
#[test]
fn rfc_8785_appendix_b_numbers() {
    let table: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for &(bits, want) in table {
        let v = Value::from(f64::from_bits(bits));
        assert_eq!(ours(&v), want, "{bits:016x}");
    }
}

/// Beyond 2^53 an integer is, as RFC 8785 reads every number, its nearest
/// double; both implementations agree.
#[test]
fn integers_beyond_2_pow_53_are_written_as_their_double() {
    let v: Value =
        serde_json::from_str("[9007199254740993,9223372036854775807,-9223372036854775808]")
            .expect("json");
    assert_eq!(
        ours(&v),
        "[9007199254740992,9223372036854776000,-9223372036854776000]"
    );
    assert_eq!(ours(&v), theirs(&v));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[\u{0}-\u{3f}\u{7f}-\u{a0}\u{d7ff}\u{e000}\u{fffd}\u{ffff}\u{10000}-\u{10ffff}]{0,6}"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                "[a-zA-Z0-9\u{0}-\u{1f}\u{e000}-\u{e002}\u{fb33}\u{ffff}\u{10000}\u{1f600}]{0,4}",
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    // Rare shapes (a double that prints as a long integer) need many cases.
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn random_values_match_a_second_implementation(v in json_value()) {
        let canonical = ours(&v);
        prop_assert_eq!(&canonical, &theirs(&v));
        // Valid JSON, and canonicalising it again changes nothing.
        let back: Value = serde_json::from_str(&canonical).expect("canonical text is JSON");
        prop_assert_eq!(ours(&back), canonical);
    }
}
