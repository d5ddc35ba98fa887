//! Durations as an operator writes them, with a unit: `500us`, `2ms`,
//! `10s`, `5m`. One parser for the TOML file, the environment and the
//! command line's flags.

use std::time::Duration;

/// Parses a duration with its unit: `500us`, `2ms`, `10s`, `5m`.
///
/// # Errors
///
/// A message quoting the text: no unit, no number, an unknown unit, or too
/// long a duration.
pub fn parse(arg: &str) -> Result<Duration, String> {
    let split = arg
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{arg:?} has no unit: write e.g. 2ms, 10s or 5m"))?;
    let (digits, unit) = arg.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{arg:?} does not start with a number"))?;
    match unit {
        "us" => Ok(Duration::from_micros(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{arg:?} is too long")),
        _ => Err(format!("{arg:?}: the unit must be us, ms, s or m")),
    }
}

/// Writes `d` in the largest unit that holds it exactly, so that
/// [`parse`] reads it back (below a microsecond is rounded down).
pub fn format(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0s".to_owned()
    } else if us.is_multiple_of(60_000_000) {
        format!("{}m", us / 60_000_000)
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

/// `#[serde(with = "...")]` for a `Duration` field.
pub mod serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as text with a unit.
    ///
    /// # Errors
    ///
    /// The serializer's.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    /// Deserializes text with a unit.
    ///
    /// # Errors
    ///
    /// Not text, or not a duration (see [`super::parse`]).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "...")]` for an `Option<Duration>` field (absent: `None`).
pub mod serde_opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as text with a unit (`None` is skipped by the field's
    /// `skip_serializing_if`).
    ///
    /// # Errors
    ///
    /// The serializer's.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format(*d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes text with a unit.
    ///
    /// # Errors
    ///
    /// Not text, or not a duration (see [`super::parse`]).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(parse("2ms").unwrap(), Duration::from_millis(2));
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        for bad in ["", "10", "ms", "1h", "-1s", "1.5s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format_reads_back() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(1500), "1500us"),
            (Duration::from_millis(50), "50ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
        ] {
            assert_eq!(format(d), text);
            assert_eq!(parse(text).unwrap(), d);
        }
    }
}
