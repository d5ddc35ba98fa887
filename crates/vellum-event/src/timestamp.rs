//! Times in events: RFC 3339 in, one normal form out.

use std::fmt;
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, written in the one form an event stores:
/// UTC, `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, with the fraction's trailing zeros
/// removed (and no fraction when it is zero), years 0000 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Why a text is not a time an event can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not an RFC 3339 date-time with an offset.
    #[error("not an RFC 3339 date-time with an offset ({0})")]
    Syntax(String),
    /// Outside the years 0000 to 9999 once in UTC.
    #[error("outside the years 0000 to 9999 in UTC")]
    OutOfRange,
}

impl Timestamp {
    /// Reads an RFC 3339 date-time (e.g. `2026-12-05T19:30:00.25+01:00`),
    /// any offset, and converts it to UTC.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] when `text` is not RFC 3339 or its UTC year is
    /// outside 0000 to 9999.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let t = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| TimestampError::Syntax(e.to_string()))?;
        Timestamp::from_offset_date_time(t)
    }

    /// Converts `t` to UTC.
    ///
    /// # Errors
    ///
    /// [`TimestampError::OutOfRange`] when its UTC year is outside 0000 to 9999.
    pub fn from_offset_date_time(t: OffsetDateTime) -> Result<Timestamp, TimestampError> {
        let utc = t
            .checked_to_offset(UtcOffset::UTC)
            .ok_or(TimestampError::OutOfRange)?;
        if !(0..=9999).contains(&utc.year()) {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp(utc))
    }

    /// A system clock reading (the log's `received_at`).
    ///
    /// # Errors
    ///
    /// [`TimestampError::OutOfRange`] for a clock beyond the year 9999.
    pub fn from_system_time(t: SystemTime) -> Result<Timestamp, TimestampError> {
        Timestamp::from_offset_date_time(OffsetDateTime::from(t))
    }

    /// The time, in UTC.
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        let nanos = t.nanosecond();
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form() {
        for (given, want) in [
            ("2026-12-05T19:30:00+01:00", "2026-12-05T18:30:00Z"),
            ("2026-12-05T18:30:00.250Z", "2026-12-05T18:30:00.25Z"),
            (
                "2026-12-05t18:30:00.000000001z",
                "2026-12-05T18:30:00.000000001Z",
            ),
            ("2026-12-05T18:30:00.5-00:30", "2026-12-05T19:00:00.5Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                Timestamp::parse(given).map(|t| t.to_string()),
                Ok(want.to_string()),
                "{given}"
            );
        }
    }

    #[test]
    fn refusals() {
        for text in [
            "",
            "2026-12-05",
            "2026-12-05T18:30:00",
            "2026-13-05T18:30:00Z",
            "yesterday",
        ] {
            assert!(
                matches!(Timestamp::parse(text), Err(TimestampError::Syntax(_))),
                "{text}"
            );
        }
        assert_eq!(
            Timestamp::parse("0000-01-01T00:30:00+01:00"),
            Err(TimestampError::OutOfRange)
        );
    }
}
