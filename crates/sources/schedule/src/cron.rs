//! AWS's six-field cron: `minutes hours day-of-month month day-of-week year`.
//!
//! Matching is on civil (wall-clock) minutes; the time zone is applied by
//! [`crate::expr`], which also decides what a DST gap or fold means. Each
//! field is a bit set, so finding the next match walks days, never minutes:
//! for a given day the first matching hour and minute are found with bit
//! operations.
//!
//! Supported, as AWS documents it: `*`, `?` (exactly one of day-of-month
//! and day-of-week), lists `a,b`, ranges `a-b` (wrapping for names such as
//! `FRI-MON`), steps `a/n`, `*/n`, `a-b/n`, month names `JAN`–`DEC`,
//! weekday names `SUN`–`SAT` (1 = Sunday … 7 = Saturday), `L` (last day of
//! the month; in day-of-week, Saturday or `nL` the last weekday n of the
//! month), `W` (`nW` nearest weekday to day n, `LW` last weekday of the
//! month) and `#` (`n#k`, the k-th weekday n of the month). Years run from
//! 1970 to 2199.

use std::fmt;

pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 2199;
const YEARS: usize = (MAX_YEAR - MIN_YEAR + 1) as usize;

const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A civil date and time to the minute, in no particular time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

impl Civil {
    pub fn new(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> Self {
        Self { year, month, day, hour, minute }
    }

    /// The next civil minute.
    pub fn plus_minute(self) -> Self {
        let mut c = self;
        c.minute += 1;
        if c.minute == 60 {
            c.minute = 0;
            c.hour += 1;
        }
        if c.hour == 24 {
            c.hour = 0;
            c.day += 1;
        }
        if c.day > days_in_month(c.year, c.month) {
            c.day = 1;
            c.month += 1;
        }
        if c.month == 13 {
            c.month = 1;
            c.year += 1;
        }
        c
    }
}

impl fmt::Display for Civil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}T{:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute)
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week in cron's numbering: 1 = Sunday … 7 = Saturday.
pub fn weekday(year: i32, month: u32, day: u32) -> u32 {
    // Days since 1970-01-01 (a Thursday), Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // 1970-01-01 was a Thursday (5 in cron numbering).
    ((days + 4).rem_euclid(7) + 1) as u32
}

/// What selects the day: exactly one of day-of-month and day-of-week is `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth { days: u32, last: bool, last_weekday: bool, nearest_weekday: Vec<u32> },
    OfWeek { days: u8, last_of: Vec<u32>, nth: Vec<(u32, u32)> },
}

/// A parsed cron expression (the part between `cron(` and `)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: Days,
    months: u16,
    years: Vec<bool>,
}

impl Cron {
    /// Parses the six fields. The error says which field is wrong.
    pub fn parse(fields: &str) -> Result<Self, String> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = parts.as_slice() else {
            return Err(format!("a cron expression has 6 fields, this one has {}", parts.len()));
        };
        let minutes = bits(&values(min, 0, 59, None, "minutes")?) as u64;
        let hours = bits(&values(hour, 0, 23, None, "hours")?) as u32;
        let months = bits(&values(month, 1, 12, Some(MONTHS), "month")?) as u16;
        let days = match (*dom == "?", *dow == "?") {
            (true, true) => return Err("day-of-month and day-of-week cannot both be '?'".into()),
            (false, false) => {
                return Err("one of day-of-month and day-of-week must be '?' when the other is set".into())
            }
            (false, true) => day_of_month(dom)?,
            (true, false) => day_of_week(dow)?,
        };
        let mut years = vec![false; YEARS];
        for y in values(year, MIN_YEAR as u32, MAX_YEAR as u32, None, "year")? {
            years[(y as i32 - MIN_YEAR) as usize] = true;
        }
        Ok(Self { minutes, hours, days, months, years })
    }

    fn year_ok(&self, year: i32) -> bool {
        (MIN_YEAR..=MAX_YEAR).contains(&year) && self.years[(year - MIN_YEAR) as usize]
    }

    fn month_ok(&self, month: u32) -> bool {
        self.months & (1 << month) != 0
    }

    fn day_ok(&self, year: i32, month: u32, day: u32) -> bool {
        let dim = days_in_month(year, month);
        match &self.days {
            Days::OfMonth { days, last, last_weekday, nearest_weekday } => {
                days & (1 << day) != 0
                    || (*last && day == dim)
                    || (*last_weekday && day == last_weekday_of(year, month))
                    || nearest_weekday.iter().any(|&n| nearest_weekday_to(year, month, n) == Some(day))
            }
            Days::OfWeek { days, last_of, nth } => {
                let wd = weekday(year, month, day);
                days & (1 << wd) != 0
                    || last_of.iter().any(|&w| w == wd && day + 7 > dim)
                    || nth.iter().any(|&(w, k)| w == wd && (day - 1) / 7 + 1 == k)
            }
        }
    }

    /// The first (hour, minute) at or after `hour:minute` that matches.
    fn time_from(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        for h in hour..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let from = if h == hour { minute } else { 0 };
            let rest = self.minutes >> from;
            if rest != 0 {
                return Some((h, from + rest.trailing_zeros()));
            }
        }
        None
    }

    /// The first civil minute at or after `from` that matches, if any
    /// before the end of year 2199.
    pub fn next_civil(&self, from: Civil) -> Option<Civil> {
        let (mut y, mut m, mut d) = (from.year, from.month, from.day);
        let mut first = true;
        if y < MIN_YEAR {
            (y, m, d, first) = (MIN_YEAR, 1, 1, false);
        }
        loop {
            if y > MAX_YEAR {
                return None;
            }
            if !self.year_ok(y) {
                (y, m, d, first) = (y + 1, 1, 1, false);
                continue;
            }
            if m > 12 {
                (y, m, d, first) = (y + 1, 1, 1, false);
                continue;
            }
            if !self.month_ok(m) || d > days_in_month(y, m) {
                (m, d, first) = (m + 1, 1, false);
                continue;
            }
            if self.day_ok(y, m, d) {
                let (h0, m0) = if first { (from.hour, from.minute) } else { (0, 0) };
                if let Some((hour, minute)) = self.time_from(h0, m0) {
                    return Some(Civil::new(y, m, d, hour, minute));
                }
            }
            d += 1;
            first = false;
        }
    }
}

fn last_weekday_of(year: i32, month: u32) -> u32 {
    let dim = days_in_month(year, month);
    match weekday(year, month, dim) {
        1 => dim - 2, // Sunday → Friday
        7 => dim - 1, // Saturday → Friday
        _ => dim,
    }
}

/// `nW`: the weekday nearest day n, without leaving the month.
fn nearest_weekday_to(year: i32, month: u32, n: u32) -> Option<u32> {
    let dim = days_in_month(year, month);
    if n > dim {
        return None;
    }
    Some(match weekday(year, month, n) {
        7 if n == 1 => 3,       // Saturday the 1st → Monday the 3rd
        7 => n - 1,             // Saturday → Friday
        1 if n == dim => n - 2, // Sunday the last → Friday
        1 => n + 1,             // Sunday → Monday
        _ => n,
    })
}

fn day_of_month(field: &str) -> Result<Days, String> {
    let (mut days, mut last, mut last_weekday, mut nearest_weekday) = (0u32, false, false, Vec::new());
    for item in field.split(',') {
        let up = item.to_ascii_uppercase();
        if up == "L" {
            last = true;
        } else if up == "LW" {
            last_weekday = true;
        } else if let Some(n) = up.strip_suffix('W') {
            let n = number(n, 1, 31, None, "day-of-month")?;
            nearest_weekday.push(n);
        } else {
            days |= bits(&values(item, 1, 31, None, "day-of-month")?) as u32;
        }
    }
    Ok(Days::OfMonth { days, last, last_weekday, nearest_weekday })
}

fn day_of_week(field: &str) -> Result<Days, String> {
    let (mut days, mut last_of, mut nth) = (0u8, Vec::new(), Vec::new());
    for item in field.split(',') {
        let up = item.to_ascii_uppercase();
        if up == "L" {
            days |= 1 << 7; // the last day of the week, Saturday
        } else if let Some((w, k)) = up.split_once('#') {
            let w = number(w, 1, 7, Some(WEEKDAYS), "day-of-week")?;
            let k = number(k, 1, 5, None, "day-of-week")?;
            nth.push((w, k));
        } else if let Some(w) = up.strip_suffix('L') {
            last_of.push(number(w, 1, 7, Some(WEEKDAYS), "day-of-week")?);
        } else {
            days |= bits(&values(item, 1, 7, Some(WEEKDAYS), "day-of-week")?) as u8;
        }
    }
    Ok(Days::OfWeek { days, last_of, nth })
}

fn bits(values: &[u32]) -> u128 {
    values.iter().fold(0u128, |acc, v| acc | (1u128 << v))
}

/// One number or name of a field.
fn number(s: &str, min: u32, max: u32, names: Option<&[&str]>, field: &str) -> Result<u32, String> {
    let up = s.to_ascii_uppercase();
    if let Some(names) = names {
        if let Some(i) = names.iter().position(|n| *n == up) {
            return Ok(min + i as u32);
        }
    }
    match s.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range for the {field} field ({min}-{max})")),
        Err(_) => Err(format!("'{s}' is not valid in the {field} field")),
    }
}

/// All values a comma-separated field selects (no special characters).
fn values(field: &str, min: u32, max: u32, names: Option<&[&str]>, name: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    if field.is_empty() {
        return Err(format!("the {name} field is empty"));
    }
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s.parse::<u32>().ok().filter(|s| *s > 0);
                (r, Some(step.ok_or_else(|| format!("'{s}' is not a valid step in the {name} field"))?))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, min, max, names, name)?, number(b, min, max, names, name)?)
        } else {
            let a = number(range, min, max, names, name)?;
            // `a/n` runs from a to the end of the range.
            (a, if step.is_some() { max } else { a })
        };
        let step = step.unwrap_or(1);
        // A range that wraps (`FRI-MON`, `22-2`) runs through the end.
        let span = if lo <= hi { hi - lo } else { max - lo + 1 + hi - min };
        let mut i = 0;
        while i <= span {
            let v = lo + i;
            out.push(if v > max { v - max - 1 + min } else { v });
            i += step;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn next(expr: &str, from: Civil) -> Option<Civil> {
        Cron::parse(expr).unwrap().next_civil(from)
    }

    fn c(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Civil {
        Civil::new(y, mo, d, h, mi)
    }

    #[test]
    fn weekdays_are_sunday_one() {
        assert_eq!(weekday(1970, 1, 1), 5); // Thursday
        assert_eq!(weekday(2026, 3, 8), 1); // Sunday
        assert_eq!(weekday(2024, 2, 29), 5); // Thursday
        assert_eq!(weekday(2000, 1, 1), 7); // Saturday
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(next("* * * * ? *", c(2026, 1, 1, 0, 0)), Some(c(2026, 1, 1, 0, 0)));
        assert_eq!(next("0/15 * * * ? *", c(2026, 1, 1, 0, 1)), Some(c(2026, 1, 1, 0, 15)));
        assert_eq!(next("*/20 * * * ? *", c(2026, 1, 1, 0, 41)), Some(c(2026, 1, 1, 1, 0)));
        assert_eq!(next("5-10/2 * * * ? *", c(2026, 1, 1, 0, 8)), Some(c(2026, 1, 1, 0, 9)));
        assert_eq!(next("0 9-17 ? * MON-FRI *", c(2026, 1, 2, 17, 1)), Some(c(2026, 1, 5, 9, 0)));
        // Rolls over the end of the year.
        assert_eq!(next("0 0 * * ? *", c(2026, 12, 31, 0, 1)), Some(c(2027, 1, 1, 0, 0)));
    }

    #[test]
    fn last_day_of_month_including_leap_february() {
        assert_eq!(next("0 12 L * ? *", c(2026, 1, 5, 0, 0)), Some(c(2026, 1, 31, 12, 0)));
        assert_eq!(next("0 12 L * ? *", c(2026, 2, 1, 0, 0)), Some(c(2026, 2, 28, 12, 0)));
        assert_eq!(next("0 12 L * ? *", c(2024, 2, 1, 0, 0)), Some(c(2024, 2, 29, 12, 0)));
        assert_eq!(next("0 12 L 2 ? *", c(2100, 1, 1, 0, 0)), Some(c(2100, 2, 28, 12, 0))); // not a leap year
        assert_eq!(next("0 12 L 2 ? *", c(2000, 1, 1, 0, 0)), Some(c(2000, 2, 29, 12, 0))); // is one
        assert_eq!(next("0 12 L * ? *", c(2026, 4, 30, 12, 1)), Some(c(2026, 5, 31, 12, 0)));
        // Day 31 only in months that have it; Feb 29 only in leap years.
        assert_eq!(next("0 0 31 * ? *", c(2026, 4, 1, 0, 0)), Some(c(2026, 5, 31, 0, 0)));
        assert_eq!(next("0 0 29 2 ? *", c(2025, 3, 1, 0, 0)), Some(c(2028, 2, 29, 0, 0)));
    }

    #[test]
    fn weekday_nearest_and_last_weekday() {
        // 2026-02-01 is a Sunday: 1W is Monday the 2nd.
        assert_eq!(next("0 0 1W * ? *", c(2026, 2, 1, 0, 0)), Some(c(2026, 2, 2, 0, 0)));
        // 2026-08-01 is a Saturday: 1W does not go back into July, it is Monday the 3rd.
        assert_eq!(next("0 0 1W * ? *", c(2026, 8, 1, 0, 0)), Some(c(2026, 8, 3, 0, 0)));
        // 2026-03-15 is a Sunday → Monday 16th; 2026-03-14 Saturday → Friday 13th.
        assert_eq!(next("0 0 15W * ? *", c(2026, 3, 1, 0, 0)), Some(c(2026, 3, 16, 0, 0)));
        assert_eq!(next("0 0 14W * ? *", c(2026, 3, 1, 0, 0)), Some(c(2026, 3, 13, 0, 0)));
        // 2026-05-31 is a Sunday: LW is Friday the 29th.
        assert_eq!(next("0 0 LW * ? *", c(2026, 5, 1, 0, 0)), Some(c(2026, 5, 29, 0, 0)));
        // 2026-02-28 is a Saturday: LW is Friday the 27th.
        assert_eq!(next("0 0 LW * ? *", c(2026, 2, 1, 0, 0)), Some(c(2026, 2, 27, 0, 0)));
    }

    #[test]
    fn nth_and_last_weekday_of_month() {
        // Second Tuesday of March 2026 is the 10th.
        assert_eq!(next("0 10 ? * 3#2 *", c(2026, 3, 1, 0, 0)), Some(c(2026, 3, 10, 10, 0)));
        assert_eq!(next("0 10 ? * TUE#2 *", c(2026, 3, 1, 0, 0)), Some(c(2026, 3, 10, 10, 0)));
        // A fifth Friday skips months that lack one: Jan 2026 has Jan 30.
        assert_eq!(next("0 0 ? * 6#5 *", c(2026, 2, 1, 0, 0)), Some(c(2026, 5, 29, 0, 0)));
        // Last Friday of February 2026 is the 27th.
        assert_eq!(next("0 0 ? * 6L *", c(2026, 2, 1, 0, 0)), Some(c(2026, 2, 27, 0, 0)));
        assert_eq!(next("0 0 ? * FRIL *", c(2026, 2, 1, 0, 0)), Some(c(2026, 2, 27, 0, 0)));
        // `L` alone in day-of-week is Saturday.
        assert_eq!(next("0 0 ? * L *", c(2026, 3, 1, 0, 0)), Some(c(2026, 3, 7, 0, 0)));
    }

    #[test]
    fn names_lists_and_wrapping_ranges() {
        assert_eq!(next("0 8 ? * MON,WED,FRI *", c(2026, 3, 3, 9, 0)), Some(c(2026, 3, 4, 8, 0)));
        assert_eq!(next("0 8 ? * sat-sun *", c(2026, 3, 2, 0, 0)), Some(c(2026, 3, 7, 8, 0)));
        assert_eq!(next("0 8 ? * FRI-MON *", c(2026, 3, 3, 0, 0)), Some(c(2026, 3, 6, 8, 0)));
        assert_eq!(next("0 0 1 JAN,JUL ? *", c(2026, 2, 1, 0, 0)), Some(c(2026, 7, 1, 0, 0)));
        assert_eq!(next("0 0 1 NOV-FEB ? *", c(2026, 3, 1, 0, 0)), Some(c(2026, 11, 1, 0, 0)));
        assert_eq!(next("0 22-2 * * ? *", c(2026, 3, 1, 3, 0)), Some(c(2026, 3, 1, 22, 0)));
    }

    #[test]
    fn year_field() {
        assert_eq!(next("0 0 1 1 ? 2030", c(2026, 5, 1, 0, 0)), Some(c(2030, 1, 1, 0, 0)));
        assert_eq!(next("0 0 1 1 ? 2020-2025", c(2026, 5, 1, 0, 0)), None);
        assert_eq!(next("0 0 1 1 ? 2028/2", c(2029, 5, 1, 0, 0)), Some(c(2030, 1, 1, 0, 0)));
        assert_eq!(next("30 23 31 12 ? 2199", c(2199, 12, 31, 23, 30)), Some(c(2199, 12, 31, 23, 30)));
        assert_eq!(next("30 23 31 12 ? 2199", c(2199, 12, 31, 23, 31)), None);
        // A date that never exists finds nothing, quickly.
        assert_eq!(next("0 0 30 2 ? *", c(2026, 1, 1, 0, 0)), None);
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "* * * * *",
            "* * * * * *",
            "* * ? * ? *",
            "60 * * * ? *",
            "* 24 * * ? *",
            "* * 0 * ? *",
            "* * 32 * ? *",
            "* * * 13 ? *",
            "* * * FOO ? *",
            "* * ? * 8 *",
            "* * ? * MON#6 *",
            "* * * * ? 1969",
            "* * * * ? 2200",
            "*/0 * * * ? *",
            "a * * * ? *",
            "1-x * * * ? *",
            ", * * * ? *",
            "* * 32W * ? *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn plus_minute_rolls_over() {
        assert_eq!(c(2024, 2, 28, 23, 59).plus_minute(), c(2024, 2, 29, 0, 0));
        assert_eq!(c(2025, 2, 28, 23, 59).plus_minute(), c(2025, 3, 1, 0, 0));
        assert_eq!(c(2025, 12, 31, 23, 59).plus_minute(), c(2026, 1, 1, 0, 0));
    }
}
