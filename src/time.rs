//! Calendar dates and the clock, without a date crate: Pandu needs only whole days (UTC) and Unix seconds.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A calendar date (UTC), e.g. when a fact was verified or a registry snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, `DD/MM/YYYY` or `DD-MM-YYYY` (the forms found in Indonesian spreadsheets).
    pub fn parse(text: &str) -> Option<Date> {
        let text = text.trim();
        let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
        if parts.len() != 3 {
            return None;
        }
        let nums: Vec<i64> = parts
            .iter()
            .map(|p| p.trim().parse::<i64>().ok())
            .collect::<Option<_>>()?;
        let (y, m, d) = if parts[0].trim().len() == 4 {
            (nums[0], nums[1], nums[2])
        } else if parts[2].trim().len() == 4 {
            (nums[2], nums[1], nums[0])
        } else {
            return None;
        };
        let date = Date {
            year: i32::try_from(y).ok()?,
            month: u8::try_from(m).ok()?,
            day: u8::try_from(d).ok()?,
        };
        date.is_valid().then_some(date)
    }

    fn is_valid(&self) -> bool {
        if !(1900..=2200).contains(&self.year) || !(1..=12).contains(&self.month) || self.day == 0 {
            return false;
        }
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        let days = match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        self.day <= days
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date of a Unix time (UTC).
    pub fn from_unix(secs: u64) -> Date {
        let z = (secs / 86_400) as i64 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    pub fn today() -> Date {
        Date::from_unix(now_secs())
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a date; write it as YYYY-MM-DD"))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_the_forms_staff_type() {
        let want = Date {
            year: 2019,
            month: 3,
            day: 15,
        };
        for text in ["2019-03-15", "15/03/2019", "15-3-2019", " 2019/3/15 "] {
            assert_eq!(Date::parse(text), Some(want), "{text}");
        }
        for text in [
            "2019-02-30",
            "15/13/2019",
            "yesterday",
            "",
            "1/2/3",
            "2019-03",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
    }

    #[test]
    fn round_trips_through_unix_days() {
        for text in ["1970-01-01", "2000-02-29", "2024-12-31", "2026-11-29"] {
            let date = Date::parse(text).unwrap();
            let secs = date.days_since_epoch() as u64 * 86_400;
            assert_eq!(Date::from_unix(secs), date);
            assert_eq!(date.to_string(), text);
        }
    }
}
