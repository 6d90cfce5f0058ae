//! `DATE`, `DATETIME`/`TIMESTAMP` and `TIME` values in MariaDB's text form.
//!
//! Parsing is as loose as MariaDB's own output: zero dates (`0000-00-00`) and zero parts
//! (`2024-00-00`) are kept as they are, and order is field by field, as MariaDB's packed
//! representation orders them. `TIME` is signed and may exceed 24 hours (`-838:59:59.999999`).

use std::cmp::Ordering;
use std::fmt;

/// A `DATE`: `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, 0..=9999.
    pub year: u16,
    /// Month, 0..=12 (0 in zero dates).
    pub month: u8,
    /// Day, 0..=31 (0 in zero dates).
    pub day: u8,
}

/// A `DATETIME` or `TIMESTAMP`: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The date part.
    pub date: Date,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Microseconds, 0..=999_999.
    pub micros: u32,
    /// Fractional digits printed (the column's `decimals`, 0..=6).
    pub decimals: u8,
}

/// A `TIME`: `[-]HH:MM:SS[.ffffff]`, hours possibly above 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// `true` below zero.
    pub negative: bool,
    /// Hours (MariaDB allows up to 838).
    pub hours: u32,
    /// Minutes, 0..=59.
    pub minutes: u8,
    /// Seconds, 0..=59.
    pub seconds: u8,
    /// Microseconds, 0..=999_999.
    pub micros: u32,
    /// Fractional digits printed (the column's `decimals`, 0..=6).
    pub decimals: u8,
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |v, &b| v * 10 + u32::from(b - b'0')))
}

/// Parses `.ffffff` (1 to 6 digits) into (microseconds, digits).
fn fraction(s: &[u8]) -> Option<(u32, u8)> {
    if s.is_empty() {
        return Some((0, 0));
    }
    let f = s.strip_prefix(b".")?;
    if f.is_empty() || f.len() > 6 {
        return None;
    }
    let v = digits(f)?;
    Some((v * 10u32.pow(6 - f.len() as u32), f.len() as u8))
}

fn write_fraction(f: &mut fmt::Formatter<'_>, micros: u32, decimals: u8) -> fmt::Result {
    if decimals == 0 {
        return Ok(());
    }
    let d = u32::from(decimals.min(6));
    write!(
        f,
        ".{:0width$}",
        micros / 10u32.pow(6 - d),
        width = d as usize
    )
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &[u8]) -> Option<Date> {
        if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
            return None;
        }
        Some(Date {
            year: digits(&s[..4])? as u16,
            month: digits(&s[5..7])? as u8,
            day: digits(&s[8..10])? as u8,
        })
    }

    /// As a number, like MariaDB's `date + 0`: `YYYYMMDD`.
    pub fn to_number(self) -> i64 {
        i64::from(self.year) * 10_000 + i64::from(self.month) * 100 + i64::from(self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl DateTime {
    /// Parses `YYYY-MM-DD HH:MM:SS[.f{1,6}]`; `decimals` is the number of digits written.
    pub fn parse(s: &[u8]) -> Option<DateTime> {
        if s.len() < 19 || s[10] != b' ' || s[13] != b':' || s[16] != b':' {
            return None;
        }
        let (micros, decimals) = fraction(&s[19..])?;
        Some(DateTime {
            date: Date::parse(&s[..10])?,
            hour: digits(&s[11..13])? as u8,
            minute: digits(&s[14..16])? as u8,
            second: digits(&s[17..19])? as u8,
            micros,
            decimals,
        })
    }

    /// Midnight of `date`.
    pub fn from_date(date: Date) -> DateTime {
        DateTime {
            date,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
            decimals: 0,
        }
    }

    /// Chronological order (the printed `decimals` do not count).
    pub fn chrono_cmp(&self, other: &DateTime) -> Ordering {
        (self.date, self.hour, self.minute, self.second, self.micros).cmp(&(
            other.date,
            other.hour,
            other.minute,
            other.second,
            other.micros,
        ))
    }

    /// As a number, like MariaDB's `datetime + 0`: `YYYYMMDDhhmmss` and microseconds.
    pub fn to_number(self) -> (i64, u32) {
        let whole = self.date.to_number() * 1_000_000
            + i64::from(self.hour) * 10_000
            + i64::from(self.minute) * 100
            + i64::from(self.second);
        (whole, self.micros)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        write_fraction(f, self.micros, self.decimals)
    }
}

impl Time {
    /// Parses `[-]H{2,}:MM:SS[.f{1,6}]`; `decimals` is the number of digits written.
    pub fn parse(s: &[u8]) -> Option<Time> {
        let (negative, body) = match s.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let c1 = body.iter().position(|&b| b == b':')?;
        if c1 == 0 || body.len() < c1 + 6 || body[c1 + 3] != b':' {
            return None;
        }
        let (micros, decimals) = fraction(&body[c1 + 6..])?;
        let t = Time {
            negative,
            hours: digits(&body[..c1])?,
            minutes: digits(&body[c1 + 1..c1 + 3])? as u8,
            seconds: digits(&body[c1 + 4..c1 + 6])? as u8,
            micros,
            decimals,
        };
        Some(t)
    }

    /// Signed microseconds since `00:00:00`.
    pub fn total_micros(&self) -> i64 {
        let abs = ((i64::from(self.hours) * 60 + i64::from(self.minutes)) * 60
            + i64::from(self.seconds))
            * 1_000_000
            + i64::from(self.micros);
        if self.negative {
            -abs
        } else {
            abs
        }
    }

    /// As a number, like MariaDB's `time + 0`: signed `hhmmss` and microseconds.
    pub fn to_number(self) -> (i64, u32) {
        let whole = i64::from(self.hours) * 10_000
            + i64::from(self.minutes) * 100
            + i64::from(self.seconds);
        (if self.negative { -whole } else { whole }, self.micros)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative && self.total_micros() != 0 {
            f.write_str("-")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        )?;
        write_fraction(f, self.micros, self.decimals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_mariadb_text() {
        for s in ["2024-01-02", "0000-00-00", "9999-12-31", "2024-02-00"] {
            assert_eq!(Date::parse(s.as_bytes()).unwrap().to_string(), s);
        }
        for s in [
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05.123456",
            "1970-01-01 00:00:00.5",
            "0000-00-00 00:00:00",
        ] {
            assert_eq!(DateTime::parse(s.as_bytes()).unwrap().to_string(), s);
        }
        for s in [
            "00:00:00",
            "-838:59:59",
            "838:59:59.999999",
            "-00:00:01.500",
            "100:00:00",
            "-12:00:00.1",
        ] {
            assert_eq!(Time::parse(s.as_bytes()).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in [
            "",
            "2024-1-02",
            "2024-01-02x",
            "abcd-ef-gh",
            "2024-01-02 03:04",
            "2024-01-02 03:04:05.",
            "2024-01-02 03:04:05.1234567",
        ] {
            assert!(DateTime::parse(s.as_bytes()).is_none(), "{s}");
        }
        for s in [
            "",
            "-",
            ":00:00",
            "1:2:3",
            "10:00",
            "10:00:00.",
            "--1:00:00",
            "1:00:00x",
        ] {
            assert!(Time::parse(s.as_bytes()).is_none(), "{s}");
        }
        assert!(Date::parse(b"2024-1-02").is_none());
    }

    #[test]
    fn negative_times_order_before_positive_ones() {
        let t = |s: &str| Time::parse(s.as_bytes()).unwrap().total_micros();
        assert!(t("-838:59:59") < t("-00:00:01"));
        assert!(t("-00:00:00.5") < t("00:00:00"));
        assert!(t("23:59:59") < t("24:00:00"));
        assert!(t("100:00:00") > t("99:59:59.999999"));
    }
}
