//! RFC 8785 JSON Canonicalization Scheme (JCS) over [`serde_json::Value`].
//!
//! This is the leaf format of an events log, so it is written here rather
//! than borrowed: every byte it produces is fixed by RFC 8785.
//!
//! * Objects: members sorted by their names as arrays of UTF-16 code units
//!   (RFC 8785 section 3.2.3), so `"\u{e000}"` sorts *after* an astral-plane
//!   name such as `"\u{1f600}"` (whose first unit is a surrogate, 0xD83D),
//!   although in UTF-8 byte order it comes first. No whitespace.
//! * Strings: as ECMAScript's `JSON.stringify` (section 3.2.2.2): `"` and
//!   `\` escaped; U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`;
//!   other code points below U+0020 as `\u00xx` (lowercase hex); everything
//!   else, including `/`, DEL and U+2028, written as is, in UTF-8.
//! * Numbers: IEEE 754 doubles written as ECMAScript's `Number::toString`
//!   (section 3.2.2.3), through `ryu-js`; `-0` is `0`. Integers up to
//!   ±2^53 are written with their digits (they are doubles). An integer
//!   beyond that, which `serde_json` may hold exactly, is what RFC 8785 and
//!   every JavaScript reader make of it: its nearest double (2^53 + 1 is
//!   written `9007199254740992`). The event layer never lets such a number
//!   reach this writer: payloads are refused beyond ±2^53
//!   (`Submitted::validate`), and so are stored events (`Recorded::parse`).
//! * Literals: `true`, `false`, `null`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// The largest magnitude up to which every integer is a double, hence read
/// exactly by every JCS implementation and JavaScript reader: 2^53.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// The canonical bytes of `value`.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

/// Appends the canonical form of `value` to `out`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| cmp_utf16(a.0, b.0));
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write_value(out, member);
            }
            out.push(b'}');
        }
    }
}

/// Orders two strings as RFC 8785 orders member names: by UTF-16 code units.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    let exact = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u <= MAX_EXACT_INTEGER,
        (None, Some(i)) => i.unsigned_abs() <= MAX_EXACT_INTEGER,
        (None, None) => false,
    };
    if exact {
        // An integer within ±2^53 is a double whose shortest digits are its own.
        out.extend_from_slice(n.to_string().as_bytes());
        return;
    }
    // Any other number as the double it denotes (an integer beyond 2^53
    // rounded to the nearest). serde_json holds only finite numbers.
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 {
        // Both zeros: ECMAScript writes -0 as "0".
        out.push(b'0');
    } else {
        out.extend_from_slice(ryu_js::Buffer::new().format(f).as_bytes());
    }
}

/// Appends `s` as a JSON string escaped as RFC 8785 prescribes.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(v: &Value) -> String {
        String::from_utf8(canonicalize(v)).expect("utf-8")
    }

    #[test]
    fn utf16_order_differs_from_utf8_order_above_the_surrogates() {
        // U+E000 (UTF-16: E000) sorts after U+1F600 (UTF-16: D83D DE00),
        // although its UTF-8 bytes (EE ...) come before (F0 ...).
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(c(&v), "{\"a\":3,\"\u{1f600}\":2,\"\u{e000}\":1}");
    }

    #[test]
    fn escapes_only_what_rfc_8785_escapes() {
        let v = json!("\"\\/\u{8}\u{9}\u{a}\u{c}\u{d}\u{0}\u{1f}\u{7f}\u{2028}é");
        assert_eq!(
            c(&v),
            "\"\\\"\\\\/\\b\\t\\n\\f\\r\\u0000\\u001f\u{7f}\u{2028}é\""
        );
    }

    #[test]
    fn numbers_as_ecmascript() {
        let cases = [
            (json!(0), "0"),
            (json!(-0.0), "0"),
            (json!(1.0), "1"),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e-7), "1e-7"),
            (json!(0.000001), "0.000001"),
            (json!(0.1 + 0.2), "0.30000000000000004"),
            (json!(9007199254740992_u64), "9007199254740992"),
            (json!(-9007199254740992_i64), "-9007199254740992"),
            (json!(f64::MAX), "1.7976931348623157e+308"),
            (json!(5e-324), "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(c(&v), want, "{v:?}");
        }
    }

    #[test]
    fn integers_beyond_2_pow_53_are_their_nearest_double() {
        let cases = [
            (json!(9007199254740993_u64), "9007199254740992"),
            (json!(-9007199254740993_i64), "-9007199254740992"),
            (json!(9007199254740994_u64), "9007199254740994"),
            (
                json!(10_000_000_000_000_000_000_u64),
                "10000000000000000000",
            ),
            (json!(1_u64 << 63), "9223372036854776000"),
            (json!(i64::MIN), "-9223372036854776000"),
            (json!(u64::MAX), "18446744073709552000"),
        ];
        for (v, want) in cases {
            assert_eq!(c(&v), want, "{v}");
        }
    }
}
