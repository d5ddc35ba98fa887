//! Strict lexical helpers shared by every parser in this crate: one base64
//! dialect, one decimal dialect, one definition of a forbidden control
//! character. Keeping them in one place is what makes the formats agree on
//! what "base64" and "decimal" mean.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Standard base64 (RFC 4648 section 4) with padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64, accepting only the canonical encoding: padding
/// present and correct, unused trailing bits zero, no whitespace. Every
/// accepted string is thus the unique encoding of its bytes, so a byte-level
/// comparison of two encodings is a comparison of the data.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

/// Why a decimal number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// No digits at all.
    #[error("it is empty")]
    Empty,
    /// Something other than an ASCII digit (a sign, a space, a letter...).
    #[error("it contains a character that is not an ASCII digit")]
    NotADigit,
    /// A leading zero on a number other than `0` itself.
    #[error("it has a leading zero")]
    LeadingZero,
    /// More than fits in 64 bits.
    #[error("it does not fit in 64 bits")]
    Overflow,
}

/// Parses an ASCII decimal with no sign, no spaces and no leading zero
/// (except `0` itself): the one form C2SP formats allow, so that each number
/// has exactly one spelling.
pub(crate) fn parse_decimal(s: &str) -> Result<u64, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::NotADigit);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(DecimalError::LeadingZero);
    }
    s.parse::<u64>().map_err(|_| DecimalError::Overflow)
}

/// The first ASCII control character other than newline, as
/// `(1-based line, byte)`. signed-note forbids them all, CR included: a note
/// that went through a CRLF conversion must fail loudly, not verify as
/// different text.
pub(crate) fn find_control_char(s: &str) -> Option<(usize, u8)> {
    let mut line = 1;
    for b in s.bytes() {
        if b == b'\n' {
            line += 1;
        } else if b < 0x20 {
            return Some((line, b));
        }
    }
    None
}

/// Whether `name` is a valid signed-note key name: non-empty, no Unicode
/// white space, no `+`. Control characters below U+0020 are refused too: a
/// key with such a name could never appear in a valid note. (DEL and the C1
/// controls are allowed, as the Go reference allows them.)
pub(crate) fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || u32::from(c) < 0x20)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal("0"), Ok(0));
        assert_eq!(parse_decimal("4097"), Ok(4097));
        assert_eq!(parse_decimal("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_decimal("18446744073709551616"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal(""), Err(DecimalError::Empty));
        assert_eq!(parse_decimal("01"), Err(DecimalError::LeadingZero));
        assert_eq!(parse_decimal("00"), Err(DecimalError::LeadingZero));
        assert_eq!(parse_decimal("+1"), Err(DecimalError::NotADigit));
        assert_eq!(parse_decimal("1 "), Err(DecimalError::NotADigit));
        assert_eq!(parse_decimal("１"), Err(DecimalError::NotADigit));
    }

    #[test]
    fn base64_is_canonical_only() {
        assert_eq!(b64_decode("AA=="), Some(vec![0]));
        assert_eq!(b64_decode("AB=="), None, "non-zero trailing bits");
        assert_eq!(b64_decode("AA"), None, "missing padding");
        assert_eq!(b64_decode("AA==\n"), None);
        assert_eq!(b64_decode("A-=="), None, "URL alphabet");
        assert_eq!(b64_decode(""), Some(vec![]));
    }

    #[test]
    fn names() {
        assert!(is_valid_key_name("example.com/log"));
        assert!(is_valid_key_name("ünïcødé"));
        assert!(is_valid_key_name("a\u{7f}b"));
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{0}b",
            "a\u{a0}b",
            "a\u{2003}b",
        ] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn control_chars() {
        assert_eq!(find_control_char("a\nb\n"), None);
        assert_eq!(find_control_char("a\nb\r\n"), Some((2, b'\r')));
        assert_eq!(find_control_char("\t"), Some((1, b'\t')));
        assert_eq!(find_control_char("\u{7f}"), None, "DEL is not below 0x20");
    }
}
