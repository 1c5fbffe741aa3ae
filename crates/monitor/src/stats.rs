//! Statistics over per-minute aggregates, and the periods they are
//! grouped into.
//!
//! A metric is stored as one [`Aggregate`] per minute (sample count, sum,
//! minimum, maximum, and for durations a log-scale histogram from
//! `lamina_scheduler::series`), so any period that is a whole number of
//! minutes is exact for SampleCount/Sum/Average/Minimum/Maximum, and
//! percentiles (`p50`, `p99.9`) are exact to within one histogram bin
//! (30%), clamped to the period's minimum and maximum.

use crate::error::CwError;
use lamina_scheduler::series::{self, BINS};

/// Samples of one metric in one minute (or merged over a period).
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Histogram of the samples, when percentiles are known.
    pub histogram: Option<Vec<u32>>,
}

impl Aggregate {
    /// One sample.
    pub fn single(value: f64) -> Self {
        Self::of_values(&[(value, 1.0)])
    }

    /// Values, each seen `count` times (PutMetricData's Values/Counts).
    pub fn of_values(values: &[(f64, f64)]) -> Self {
        let mut histogram = vec![0u32; BINS];
        let mut a = Self { count: 0.0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, histogram: None };
        for &(v, n) in values {
            a.count += n;
            a.sum += v * n;
            a.min = a.min.min(v);
            a.max = a.max.max(v);
            let bin = series::bin_of(v);
            histogram[bin] = histogram[bin].saturating_add(n.round() as u32);
        }
        a.histogram = Some(histogram);
        a
    }

    pub fn merge(&mut self, other: &Aggregate) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.histogram = match (self.histogram.take(), &other.histogram) {
            (Some(mut mine), Some(theirs)) => {
                for (m, t) in mine.iter_mut().zip(theirs) {
                    *m = m.saturating_add(*t);
                }
                Some(mine)
            }
            _ => None,
        };
    }

    /// A statistic by name; `None` when it cannot be computed (a
    /// percentile without a histogram, an empty aggregate).
    pub fn statistic(&self, stat: &Stat) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        Some(match stat {
            Stat::SampleCount => self.count,
            Stat::Sum => self.sum,
            Stat::Average => self.sum / self.count,
            Stat::Minimum => self.min,
            Stat::Maximum => self.max,
            Stat::Percentile(p) => self.percentile(*p)?,
        })
    }

    fn percentile(&self, p: f64) -> Option<f64> {
        let histogram = self.histogram.as_ref()?;
        let total: u64 = histogram.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (bin, &n) in histogram.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some(series::upper_edge_ms(bin).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

/// A statistic a caller asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    SampleCount,
    Sum,
    Average,
    Minimum,
    Maximum,
    /// `pNN` / `pNN.N`: the percentile, 0–100.
    Percentile(f64),
}

impl Stat {
    /// Parses `Sum`, `p99`, `p99.9`, ...
    pub fn parse(name: &str) -> Result<Self, CwError> {
        Ok(match name {
            "SampleCount" => Self::SampleCount,
            "Sum" => Self::Sum,
            "Average" => Self::Average,
            "Minimum" => Self::Minimum,
            "Maximum" => Self::Maximum,
            _ => match name.strip_prefix('p').and_then(|p| p.parse::<f64>().ok()) {
                Some(p) if (0.0..=100.0).contains(&p) => Self::Percentile(p),
                _ => {
                    return Err(CwError::InvalidParameterValue(format!(
                        "The statistic {name} is not supported; use SampleCount, Average, Sum, Minimum, \
                         Maximum or a percentile such as p99."
                    )))
                }
            },
        })
    }
}

/// Checks a period (seconds): Lamina keeps one-minute resolution, so a
/// period is a positive multiple of 60.
pub fn check_period(period: i64) -> Result<(), CwError> {
    if period < 60 || period % 60 != 0 {
        return Err(CwError::InvalidParameterValue(format!(
            "The parameter Period must be a multiple of 60 (Lamina keeps one-minute resolution); got {period}."
        )));
    }
    Ok(())
}

/// Groups minute aggregates into periods of `period` seconds counted from
/// `start` (epoch seconds, a whole minute), oldest first; empty periods are
/// left out, as CloudWatch does.
pub fn by_period(minutes: &[(i64, Aggregate)], start: i64, period: i64) -> Vec<(i64, Aggregate)> {
    let mut out: Vec<(i64, Aggregate)> = Vec::new();
    let mut sorted: Vec<&(i64, Aggregate)> = minutes.iter().collect();
    sorted.sort_by_key(|(m, _)| *m);
    for (minute, agg) in sorted {
        let t = minute * 60;
        let bucket = start + (t - start).div_euclid(period) * period;
        match out.last_mut() {
            Some((b, merged)) if *b == bucket => merged.merge(agg),
            _ => out.push((bucket, agg.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn statistics_of_values_and_merges() {
        let mut a = Aggregate::of_values(&[(10.0, 1.0), (20.0, 3.0)]);
        a.merge(&Aggregate::single(2.0));
        assert_eq!(a.statistic(&Stat::SampleCount), Some(5.0));
        assert_eq!(a.statistic(&Stat::Sum), Some(72.0));
        assert_eq!(a.statistic(&Stat::Average), Some(14.4));
        assert_eq!(a.statistic(&Stat::Minimum), Some(2.0));
        assert_eq!(a.statistic(&Stat::Maximum), Some(20.0));
        // p50 is the third of five samples, 20, within a bin and clamped to the max.
        assert_eq!(a.statistic(&Stat::Percentile(50.0)), Some(20.0));
        let p10 = a.statistic(&Stat::Percentile(10.0)).unwrap();
        assert!((2.0..=2.6).contains(&p10), "{p10}");
        let no_histogram = Aggregate { histogram: None, ..a.clone() };
        assert_eq!(no_histogram.statistic(&Stat::Percentile(99.0)), None);
        let empty = Aggregate { count: 0.0, ..a };
        assert_eq!(empty.statistic(&Stat::Sum), None);
    }

    #[test]
    fn stat_names_parse_and_bad_ones_are_rejected() {
        assert_eq!(Stat::parse("p99.9").unwrap(), Stat::Percentile(99.9));
        assert_eq!(Stat::parse("Average").unwrap(), Stat::Average);
        for bad in ["tm99", "p101", "sum", ""] {
            assert!(matches!(Stat::parse(bad), Err(CwError::InvalidParameterValue(_))), "{bad}");
        }
        assert!(check_period(300).is_ok());
        assert!(check_period(30).is_err() && check_period(90).is_err() && check_period(0).is_err());
    }

    #[test]
    fn minutes_group_into_periods_counted_from_the_start() {
        let start = 6_000; // minute 100
        let minutes: Vec<(i64, Aggregate)> =
            [104, 100, 101, 107].iter().map(|&m| (m, Aggregate::single(m as f64))).collect();
        let periods = by_period(&minutes, start, 300);
        let summary: Vec<(i64, f64)> = periods.iter().map(|(t, a)| (*t, a.count)).collect();
        assert_eq!(summary, vec![(6_000, 3.0), (6_300, 1.0)]);
        assert_eq!(periods[0].1.sum, 305.0);
        // Periods left out when empty; alignment follows the start, not the epoch.
        let shifted = by_period(&minutes, 6_060, 120);
        let times: Vec<i64> = shifted.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![5_940, 6_060, 6_180, 6_420]);
    }
}
