//! Per-minute time series of each function's invocations, errors,
//! throttles, duration percentiles, peak concurrency and asynchronous
//! delivery (event age, dead-letter failures), kept in memory for the last
//! day. The console's charts read them.
//!
//! Durations go into a log-scale histogram per minute (64 bins from 0.1 ms,
//! each 30% wider than the last), so a point costs the same whatever the
//! traffic and percentiles are exact to within a bin.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Minutes of history kept per function.
const KEEP_MINUTES: usize = 24 * 60;
/// Bins of the per-minute duration histogram.
pub const BINS: usize = 64;
const FIRST_BIN_MS: f64 = 0.1;
const BIN_GROWTH: f64 = 1.3;

#[derive(Debug, Clone)]
struct Bucket {
    minute: i64,
    invocations: u64,
    errors: u64,
    throttles: u64,
    concurrency_max: u32,
    duration_sum_ms: f64,
    duration_min_ms: f64,
    duration_max_ms: f64,
    histogram: [u32; BINS],
    async_event_age: Spread,
    dead_letter_errors: u64,
}

/// Count, sum and range of a per-minute quantity (AsyncEventAge).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub count: u64,
    pub sum: f64,
    /// `f64::INFINITY` while `count` is 0.
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub const EMPTY: Spread = Spread { count: 0, sum: 0.0, min: f64::INFINITY, max: 0.0 };

    fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

impl Bucket {
    fn new(minute: i64) -> Self {
        Self {
            minute,
            invocations: 0,
            errors: 0,
            throttles: 0,
            concurrency_max: 0,
            duration_sum_ms: 0.0,
            duration_min_ms: f64::INFINITY,
            duration_max_ms: 0.0,
            histogram: [0; BINS],
            async_event_age: Spread::EMPTY,
            dead_letter_errors: 0,
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let total: u64 = self.histogram.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return 0.0;
        }
        let rank = (total as f64 * p).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, &n) in self.histogram.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return upper_edge_ms(i);
            }
        }
        upper_edge_ms(BINS - 1)
    }
}

/// The histogram bin a duration (or any positive value) falls in.
pub fn bin_of(ms: f64) -> usize {
    if ms <= FIRST_BIN_MS {
        return 0;
    }
    ((ms / FIRST_BIN_MS).ln() / BIN_GROWTH.ln()).ceil().clamp(0.0, (BINS - 1) as f64) as usize
}

/// The largest value a histogram bin holds.
pub fn upper_edge_ms(bin: usize) -> f64 {
    FIRST_BIN_MS * BIN_GROWTH.powi(bin as i32)
}

/// One point of a series, as the console draws it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    /// Start of the minute, epoch seconds.
    pub t: i64,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub duration_p50_ms: f64,
    pub duration_p99_ms: f64,
    pub concurrency_max: u32,
}

#[derive(Default)]
pub struct Series {
    functions: Mutex<HashMap<String, VecDeque<Bucket>>>,
}

/// One function's closed (or current) minute, whole, for the CloudWatch
/// metrics API (`lamina-monitor`), which persists and aggregates them.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteStats {
    /// Minutes since the epoch.
    pub minute: i64,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub concurrency_max: u32,
    pub duration_sum_ms: f64,
    /// `f64::INFINITY` when no invocation finished in the minute.
    pub duration_min_ms: f64,
    pub duration_max_ms: f64,
    pub histogram: [u32; BINS],
    /// Milliseconds from accepting an asynchronous event to its delivery attempts.
    pub async_event_age_ms: Spread,
    /// Events that could not be handed to the function's dead-letter queue.
    pub dead_letter_errors: u64,
}

/// Minutes since the epoch, now.
pub fn now_minute() -> i64 {
    lamina_core::now_ms() / 60_000
}

impl Series {
    fn with_bucket(&self, function: &str, f: impl FnOnce(&mut Bucket)) {
        let minute = now_minute();
        let mut all = self.functions.lock();
        let buckets = match all.get_mut(function) {
            Some(b) => b,
            None => all.entry(function.to_string()).or_default(),
        };
        if buckets.back().is_none_or(|b| b.minute != minute) {
            buckets.push_back(Bucket::new(minute));
            while buckets.front().is_some_and(|b| b.minute <= minute - KEEP_MINUTES as i64) {
                buckets.pop_front();
            }
        }
        if let Some(b) = buckets.back_mut() {
            f(b);
        }
    }

    pub fn invocation(&self, function: &str, duration: Duration, failed: bool) {
        let ms = duration.as_secs_f64() * 1000.0;
        let bin = bin_of(ms);
        self.with_bucket(function, |b| {
            b.invocations += 1;
            b.errors += u64::from(failed);
            b.duration_sum_ms += ms;
            b.duration_min_ms = b.duration_min_ms.min(ms);
            b.duration_max_ms = b.duration_max_ms.max(ms);
            b.histogram[bin] = b.histogram[bin].saturating_add(1);
        });
    }

    pub fn throttle(&self, function: &str) {
        self.with_bucket(function, |b| b.throttles += 1);
    }

    pub fn concurrency(&self, function: &str, running: u32) {
        self.with_bucket(function, |b| b.concurrency_max = b.concurrency_max.max(running));
    }

    /// An asynchronous event is about to be delivered, `age` after it was accepted.
    pub fn async_event_age(&self, function: &str, age: Duration) {
        self.with_bucket(function, |b| b.async_event_age.add(age.as_secs_f64() * 1000.0));
    }

    /// An event could not be sent to the function's dead-letter queue.
    pub fn dead_letter_error(&self, function: &str) {
        self.with_bucket(function, |b| b.dead_letter_errors += 1);
    }

    /// The last `minutes` minutes, oldest first, one point per minute
    /// (zeros where nothing happened); `None` sums every function.
    pub fn points(&self, function: Option<&str>, minutes: usize) -> Vec<Point> {
        let minutes = minutes.clamp(1, KEEP_MINUTES) as i64;
        let end = now_minute();
        let start = end - minutes + 1;
        let mut merged: Vec<Bucket> = (start..=end).map(Bucket::new).collect();
        let all = self.functions.lock();
        let chosen: Vec<&VecDeque<Bucket>> = match function {
            Some(f) => all.get(f).into_iter().collect(),
            None => all.values().collect(),
        };
        for buckets in chosen {
            for b in buckets.iter().filter(|b| b.minute >= start) {
                let m = &mut merged[(b.minute - start) as usize];
                m.invocations += b.invocations;
                m.errors += b.errors;
                m.throttles += b.throttles;
                m.concurrency_max = m.concurrency_max.max(b.concurrency_max);
                for (i, n) in b.histogram.iter().enumerate() {
                    m.histogram[i] += n;
                }
            }
        }
        merged
            .iter()
            .map(|b| Point {
                t: b.minute * 60,
                invocations: b.invocations,
                errors: b.errors,
                throttles: b.throttles,
                duration_p50_ms: b.percentile_ms(0.5),
                duration_p99_ms: b.percentile_ms(0.99),
                concurrency_max: b.concurrency_max,
            })
            .collect()
    }

    /// Every function's minutes in `from..=to` (minutes since the epoch)
    /// that saw any activity.
    pub fn minutes(&self, from: i64, to: i64) -> Vec<(String, MinuteStats)> {
        let all = self.functions.lock();
        let mut out = Vec::new();
        for (function, buckets) in all.iter() {
            for b in buckets.iter().filter(|b| b.minute >= from && b.minute <= to) {
                out.push((
                    function.clone(),
                    MinuteStats {
                        minute: b.minute,
                        invocations: b.invocations,
                        errors: b.errors,
                        throttles: b.throttles,
                        concurrency_max: b.concurrency_max,
                        duration_sum_ms: b.duration_sum_ms,
                        duration_min_ms: b.duration_min_ms,
                        duration_max_ms: b.duration_max_ms,
                        histogram: b.histogram,
                        async_event_age_ms: b.async_event_age,
                        dead_letter_errors: b.dead_letter_errors,
                    },
                ));
            }
        }
        out
    }

    pub fn forget(&self, function: &str) {
        self.functions.lock().remove(function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles_land_in_the_current_minute() {
        let s = Series::default();
        for ms in 1..=100u64 {
            s.invocation("f", Duration::from_millis(ms), ms > 95);
        }
        s.throttle("f");
        s.concurrency("f", 7);
        s.concurrency("f", 3);
        let points = s.points(Some("f"), 5);
        assert_eq!(points.len(), 5);
        let p = points.last().unwrap();
        assert_eq!((p.invocations, p.errors, p.throttles, p.concurrency_max), (100, 5, 1, 7));
        // Within one bin (30%) of the true values 50 ms and 99 ms.
        assert!((50.0..=65.0).contains(&p.duration_p50_ms), "{}", p.duration_p50_ms);
        assert!((99.0..=129.0).contains(&p.duration_p99_ms), "{}", p.duration_p99_ms);
        assert!(points[..4].iter().all(|p| p.invocations == 0));
        assert_eq!(s.points(None, 1)[0].invocations, 100);
        assert_eq!(s.points(Some("other"), 1)[0].invocations, 0);
        let minute = now_minute();
        let whole = s.minutes(minute - 1, minute);
        let (name, m) = &whole[whole.len() - 1];
        assert_eq!((name.as_str(), m.invocations, m.errors), ("f", 100, 5));
        assert!((m.duration_sum_ms - 5050.0).abs() < 50.0, "{}", m.duration_sum_ms);
        assert!(m.duration_min_ms >= 1.0 && m.duration_max_ms >= 100.0);
    }

    #[test]
    fn bins_grow_geometrically() {
        assert_eq!(bin_of(0.05), 0);
        assert!(bin_of(1.0) < bin_of(10.0));
        assert_eq!(bin_of(1e12), BINS - 1);
    }
}
