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
//!   (section 3.2.2.3), through `ryu-js`; `-0` is `0`. An integer that
//!   `serde_json` holds exactly but a double cannot (magnitude above 2^53)
//!   is refused ([`JcsError::InexactInteger`]) rather than rounded.
//! * Literals: `true`, `false`, `null`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// The largest magnitude of an integer that every double, hence every JCS
/// implementation and every JavaScript reader, holds exactly: 2^53.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// An integer beyond ±2^53: as a JCS number (a double) it would change.
    #[error(
        "the integer {0} is beyond ±2^53 and cannot be represented exactly by a JSON number in RFC 8785"
    )]
    InexactInteger(String),
}

/// The canonical bytes of `value`.
///
/// # Errors
///
/// [`JcsError::InexactInteger`] for an integer beyond ±2^53 anywhere in
/// `value`.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

/// Appends the canonical form of `value` to `out`.
///
/// # Errors
///
/// As [`canonicalize`]; `out` may then hold a partial value.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
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
                write_value(out, member)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Orders two strings as RFC 8785 orders member names: by UTF-16 code units.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Whether `n` is a number JCS represents exactly: any double `serde_json`
/// parsed, or an integer of magnitude at most 2^53.
pub fn is_exact(n: &Number) -> bool {
    if let Some(u) = n.as_u64() {
        u <= MAX_EXACT_INTEGER
    } else if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_EXACT_INTEGER
    } else {
        true
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), JcsError> {
    if !is_exact(n) {
        return Err(JcsError::InexactInteger(n.to_string()));
    }
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        if f == 0.0 {
            // Both zeros: ECMAScript writes -0 as "0".
            out.push(b'0');
        } else {
            let mut buf = ryu_js::Buffer::new();
            // serde_json holds only finite doubles (JSON has no NaN or
            // infinity), and `format` writes those as Number::toString.
            out.extend_from_slice(buf.format(f).as_bytes());
        }
    }
    Ok(())
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
        String::from_utf8(canonicalize(v).expect("canonical")).expect("utf-8")
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
    fn integers_beyond_2_pow_53_are_refused() {
        for v in [
            json!(9007199254740993_u64),
            json!(-9007199254740993_i64),
            json!(u64::MAX),
        ] {
            assert!(
                matches!(canonicalize(&v), Err(JcsError::InexactInteger(_))),
                "{v}"
            );
        }
    }
}
