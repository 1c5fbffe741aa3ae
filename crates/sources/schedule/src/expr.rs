//! Schedule expressions and when they fire: `rate(...)`, `cron(...)` and
//! `at(...)`, evaluated in a time zone between a start and an end date.
//!
//! Daylight saving time follows EventBridge Scheduler's documented rules:
//! a cron time that falls in the spring-forward gap does not exist and is
//! skipped; a cron time in the fall-back fold runs once (at its first
//! occurrence). A rate is a fixed duration (`rate(1 day)` is 24 hours)
//! counted from the start date, or from the moment the schedule was
//! created or last changed, when it first fires.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use crate::cron::{Civil, Cron};

#[derive(Debug, Clone)]
pub enum Expression {
    Rate { every_ms: i64 },
    Cron(Box<Cron>),
    At(Civil, u32),
}

impl Expression {
    /// Parses an expression; the error is the reason, for the caller to
    /// wrap in its message.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let inner = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
        if let Some(body) = inner("rate(") {
            let (value, unit) = body.trim().split_once(' ').ok_or("a rate is 'rate(value unit)'")?;
            let value: i64 =
                value.parse().ok().filter(|v| *v > 0).ok_or("the rate value must be a positive integer")?;
            let unit_ms = match unit.trim() {
                "minute" | "minutes" => 60_000,
                "hour" | "hours" => 3_600_000,
                "day" | "days" => 86_400_000,
                other => return Err(format!("'{other}' is not a rate unit (minutes, hours or days)")),
            };
            let every_ms = value.checked_mul(unit_ms).ok_or("the rate is too long")?;
            return Ok(Expression::Rate { every_ms });
        }
        if let Some(body) = inner("cron(") {
            return Ok(Expression::Cron(Box::new(Cron::parse(body)?)));
        }
        if let Some(body) = inner("at(") {
            return parse_at(body);
        }
        Err("an expression is rate(...), cron(...) or at(...)".into())
    }

    pub fn is_one_time(&self) -> bool {
        matches!(self, Expression::At(..))
    }
}

/// `yyyy-mm-ddThh:mm:ss`.
fn parse_at(body: &str) -> Result<Expression, String> {
    let bad = || format!("'{body}' is not yyyy-mm-ddThh:mm:ss");
    let b = body.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| body.get(r).and_then(|s| s.parse::<u32>().ok()).ok_or_else(bad);
    let (year, month, day) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > crate::cron::days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    Ok(Expression::At(Civil::new(year, month, day, hour, minute), second))
}

/// Looks up an IANA time zone name (from the system's tz database).
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("'{name}' is not a known time zone"))
}

/// Everything that decides when a schedule fires.
#[derive(Debug, Clone)]
pub struct Plan {
    pub expression: Expression,
    pub tz: TimeZone,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Where a rate counts from when there is no start date.
    pub anchor_ms: i64,
}

impl Plan {
    /// The first fire time strictly after `after_ms`, if the schedule has one.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let next = match &self.expression {
            Expression::At(civil, second) => {
                // One-time schedules ignore the start and end dates.
                let t = to_instant(&self.tz, *civil, true)? + i64::from(*second) * 1000;
                return (t > after_ms).then_some(t);
            }
            Expression::Rate { every_ms } => {
                let anchor = self.start_ms.unwrap_or(self.anchor_ms);
                if after_ms < anchor {
                    anchor
                } else {
                    let k = (after_ms - anchor) / every_ms + 1;
                    anchor.checked_add(k.checked_mul(*every_ms)?)?
                }
            }
            Expression::Cron(cron) => {
                let after = match self.start_ms {
                    Some(s) => after_ms.max(s - 1),
                    None => after_ms,
                };
                self.next_cron(cron, after)?
            }
        };
        match self.end_ms {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    fn next_cron(&self, cron: &Cron, after_ms: i64) -> Option<i64> {
        let after = Timestamp::from_millisecond(after_ms).ok()?;
        let dt = self.tz.to_datetime(after);
        // Cron times are whole minutes: start at the minute after `after`.
        let mut from = civil_of(dt).plus_minute();
        loop {
            let found = cron.next_civil(from)?;
            // None: the time is in a DST gap and does not exist that day.
            if let Some(t) = to_instant(&self.tz, found, false) {
                // In a fold the first occurrence is taken; the second comes
                // back here as a time not after `after`, and is skipped.
                if t > after_ms {
                    return Some(t);
                }
            }
            from = found.plus_minute();
        }
    }
}

fn civil_of(dt: DateTime) -> Civil {
    Civil::new(i32::from(dt.year()), dt.month() as u32, dt.day() as u32, dt.hour() as u32, dt.minute() as u32)
}

/// The instant of a civil minute in `tz`: in a fold the earlier one; in a
/// gap `None`, or, for one-time schedules, the time pushed forward by the
/// gap's length (what `at()` means on that day).
fn to_instant(tz: &TimeZone, c: Civil, gap_forward: bool) -> Option<i64> {
    let dt = DateTime::new(c.year as i16, c.month as i8, c.day as i8, c.hour as i8, c.minute as i8, 0, 0).ok()?;
    let amb = tz.to_ambiguous_timestamp(dt);
    let ts = match amb.offset() {
        AmbiguousOffset::Gap { .. } if !gap_forward => return None,
        AmbiguousOffset::Gap { .. } => amb.compatible().ok()?,
        _ => amb.earlier().ok()?,
    };
    Some(ts.as_millisecond())
}

/// Milliseconds since the epoch as `yyyy-mm-ddThh:mm:ssZ`.
pub fn iso_utc(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan(expr: &str, tz: &str) -> Plan {
        Plan {
            expression: Expression::parse(expr).unwrap(),
            tz: time_zone(tz).unwrap(),
            start_ms: None,
            end_ms: None,
            anchor_ms: 0,
        }
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn fires(p: &Plan, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = ms(from);
        for _ in 0..n {
            match p.next_after(t) {
                Some(next) => {
                    out.push(iso_utc(next));
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn parses_rates() {
        assert!(matches!(Expression::parse("rate(1 minute)"), Ok(Expression::Rate { every_ms: 60_000 })));
        assert!(matches!(Expression::parse("rate(5 minutes)"), Ok(Expression::Rate { every_ms: 300_000 })));
        assert!(matches!(Expression::parse("rate(2 hours)"), Ok(Expression::Rate { every_ms: 7_200_000 })));
        assert!(matches!(Expression::parse("rate(1 day)"), Ok(Expression::Rate { every_ms: 86_400_000 })));
        for bad in
            ["rate(0 minutes)", "rate(-1 minutes)", "rate(1 second)", "rate(minutes)", "rate(1.5 hours)", "rate 5"]
        {
            assert!(Expression::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_at() {
        assert!(Expression::parse("at(2026-02-28T10:00:00)").is_ok());
        for bad in [
            "at(2026-02-29T10:00:00)",
            "at(2026-13-01T10:00:00)",
            "at(2026-01-01 10:00:00)",
            "at(2026-01-01T24:00:00)",
            "at()",
        ] {
            assert!(Expression::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_time_zone_is_an_error() {
        assert!(time_zone("America/New_York").is_ok());
        assert!(time_zone("UTC").is_ok());
        assert!(time_zone("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn rate_counts_from_the_anchor() {
        let mut p = plan("rate(5 minutes)", "UTC");
        p.anchor_ms = ms("2026-01-01T00:00:10Z");
        // Before the anchor: the first fire is the anchor itself (immediately).
        assert_eq!(p.next_after(ms("2026-01-01T00:00:09Z")), Some(ms("2026-01-01T00:00:10Z")));
        assert_eq!(p.next_after(ms("2026-01-01T00:00:10Z")), Some(ms("2026-01-01T00:05:10Z")));
        // After a long pause, the next is the next tick, not a backlog.
        assert_eq!(p.next_after(ms("2026-01-02T07:31:00Z")), Some(ms("2026-01-02T07:35:10Z")));
        p.start_ms = Some(ms("2026-06-01T00:00:00Z"));
        assert_eq!(p.next_after(ms("2026-01-02T00:00:00Z")), Some(ms("2026-06-01T00:00:00Z")));
        p.end_ms = Some(ms("2026-06-01T00:07:00Z"));
        assert_eq!(p.next_after(ms("2026-06-01T00:00:00Z")), Some(ms("2026-06-01T00:05:00Z")));
        assert_eq!(p.next_after(ms("2026-06-01T00:05:00Z")), None);
    }

    #[test]
    fn rate_in_days_is_24_hours_across_dst() {
        let mut p = plan("rate(1 day)", "America/New_York");
        p.anchor_ms = ms("2026-03-07T12:00:00Z");
        assert_eq!(fires(&p, "2026-03-07T12:00:00Z", 2), ["2026-03-08T12:00:00Z", "2026-03-09T12:00:00Z"]);
    }

    #[test]
    fn cron_in_a_time_zone() {
        let p = plan("cron(0 9 * * ? *)", "Europe/Paris");
        // 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            fires(&p, "2026-03-28T00:00:00Z", 3),
            ["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"]
        );
    }

    #[test]
    fn spring_forward_skips_the_missing_time() {
        // America/New_York jumps from 02:00 to 03:00 on 2026-03-08: 02:30
        // does not exist that day, so that day has no run.
        let p = plan("cron(30 2 * * ? *)", "America/New_York");
        assert_eq!(
            fires(&p, "2026-03-06T12:00:00Z", 3),
            ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
        );
        // Hourly: 01:00 EST, then 03:00 EDT; nothing at the missing 02:00.
        let p = plan("cron(0 * * * ? *)", "America/New_York");
        assert_eq!(fires(&p, "2026-03-08T05:30:00Z", 2), ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]);
        assert_eq!(iso_utc(ms("2026-03-08T07:00:00Z")), "2026-03-08T07:00:00Z");
        // 03:00 EDT
    }

    #[test]
    fn fall_back_runs_once() {
        // 2026-11-01: 01:00–01:59 happens twice in New York (EDT, then EST).
        let p = plan("cron(30 1 * * ? *)", "America/New_York");
        assert_eq!(
            fires(&p, "2026-10-31T12:00:00Z", 3),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"]
        );
        let p = plan("cron(0 * * * ? *)", "America/New_York");
        // 00:00 EDT, 01:00 EDT, (01:00 EST skipped), 02:00 EST.
        assert_eq!(
            fires(&p, "2026-11-01T03:30:00Z", 3),
            ["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"]
        );
        // A daily 02:30 runs every day around fall-back, once each.
        let p = plan("cron(30 2 * * ? *)", "America/New_York");
        assert_eq!(fires(&p, "2026-10-31T12:00:00Z", 2), ["2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]);
    }

    #[test]
    fn cron_respects_start_and_end() {
        let mut p = plan("cron(0 12 * * ? *)", "UTC");
        p.start_ms = Some(ms("2026-05-01T12:00:00Z"));
        assert_eq!(p.next_after(ms("2026-01-01T00:00:00Z")), Some(ms("2026-05-01T12:00:00Z")));
        p.end_ms = Some(ms("2026-05-02T11:00:00Z"));
        assert_eq!(p.next_after(ms("2026-05-01T12:00:00Z")), None);
    }

    #[test]
    fn at_fires_once_in_its_zone() {
        let p = plan("at(2026-07-01T09:30:15)", "Asia/Tokyo");
        assert_eq!(p.next_after(ms("2026-01-01T00:00:00Z")), Some(ms("2026-07-01T00:30:15Z")));
        assert_eq!(p.next_after(ms("2026-07-01T00:30:15Z")), None);
        // In a spring-forward gap, at() moves forward by the gap.
        let p = plan("at(2026-03-08T02:30:00)", "America/New_York");
        assert_eq!(p.next_after(0), Some(ms("2026-03-08T07:30:00Z")));
    }
}
