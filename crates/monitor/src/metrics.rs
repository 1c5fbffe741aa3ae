//! Where datapoints come from and go to: the scheduler's per-minute series
//! for `AWS/Lambda`, PutMetricData for custom namespaces, and
//! `metrics.sqlite` for both.
//!
//! A flusher (see [`crate::Service`]) moves each closed minute of the
//! series into the store once it closes, and everything on shutdown. A
//! watermark says which series minutes are already stored: a query reads
//! the store plus the series' minutes from the watermark on, under one
//! lock with the flush, so nothing is counted twice or missed.
//!
//! `AWS/Lambda` metrics are stored per function (`FunctionName`); the
//! account-wide metric (no dimensions) sums the functions, and
//! `FunctionName`+`Resource` with the unqualified function name as
//! `Resource` is the function's own series (versions and aliases are not
//! broken out).

use crate::error::CwError;
use crate::stats::Aggregate;
use crate::store::{Dims, MetricId, Row, Store};
use lamina_scheduler::series::{self, MinuteStats, Series};
use parking_lot::Mutex;
use std::collections::BTreeMap;

pub const LAMBDA_NAMESPACE: &str = "AWS/Lambda";
/// Minutes of datapoints kept (CloudWatch keeps one-minute data 15 days).
pub const RETENTION_MINUTES: i64 = 15 * 24 * 60;

pub struct Metrics {
    inner: Mutex<Inner>,
}

struct Inner {
    store: Store,
    /// Series minutes at or after this one are not yet in the store.
    watermark: i64,
}

/// A query's answer: minutes oldest first, and the unit they were stored with.
pub struct Minutes {
    pub minutes: Vec<(i64, Aggregate)>,
    pub unit: Option<String>,
}

impl Metrics {
    pub fn new(store: Store) -> Self {
        Self { inner: Mutex::new(Inner { store, watermark: i64::MIN }) }
    }

    /// Stores the series' closed minutes (and the open one too when
    /// `include_open`, at shutdown).
    pub fn flush(&self, series: &Series, include_open: bool) -> Result<usize, CwError> {
        let now = series::now_minute();
        let last = if include_open { now } else { now - 1 };
        let mut inner = self.inner.lock();
        if last < inner.watermark {
            return Ok(0);
        }
        let rows: Vec<Row> =
            series.minutes(inner.watermark, last).iter().flat_map(|(f, m)| lambda_rows(f, m)).collect();
        inner.store.add(&rows)?;
        inner.watermark = last + 1;
        Ok(rows.len())
    }

    /// Drops datapoints past retention.
    pub fn purge(&self) -> Result<usize, CwError> {
        self.inner.lock().store.purge(series::now_minute() - RETENTION_MINUTES)
    }

    /// PutMetricData's rows, stored before returning.
    pub fn put(&self, rows: &[Row]) -> Result<(), CwError> {
        self.inner.lock().store.add(rows)
    }

    /// One metric's minutes in `from..=to`, merged across the functions an
    /// account-wide `AWS/Lambda` query covers.
    pub fn query(
        &self,
        series: &Series,
        namespace: &str,
        metric: &str,
        dims: &Dims,
        from: i64,
        to: i64,
    ) -> Result<Minutes, CwError> {
        let Some(selection) = select(namespace, dims) else { return Ok(Minutes { minutes: vec![], unit: None }) };
        let inner = self.inner.lock();
        let mut rows = inner.store.query(namespace, metric, selection.as_ref(), from, to)?;
        if namespace == LAMBDA_NAMESPACE {
            let live_from = inner.watermark.max(from);
            if live_from <= to {
                rows.extend(
                    series
                        .minutes(live_from, to)
                        .iter()
                        .flat_map(|(f, m)| lambda_rows(f, m))
                        .filter(|r| r.metric == metric && selection.as_ref().is_none_or(|d| *d == r.dims)),
                );
            }
        }
        drop(inner);
        let unit = rows.first().map(|r| r.unit.clone());
        let mut merged: BTreeMap<i64, Aggregate> = BTreeMap::new();
        for row in rows {
            match merged.get_mut(&row.minute) {
                Some(agg) => agg.merge(&row.agg),
                None => {
                    merged.insert(row.minute, row.agg);
                }
            }
        }
        Ok(Minutes { minutes: merged.into_iter().collect(), unit })
    }

    /// Every metric with datapoints in the last `minutes` minutes (at most
    /// the retention window), each once, including the account-wide and
    /// `Resource` forms of Lambda's.
    pub fn list(&self, series: &Series, minutes: i64) -> Result<Vec<MetricId>, CwError> {
        let now = series::now_minute();
        let since = now - minutes.min(RETENTION_MINUTES);
        let inner = self.inner.lock();
        let mut ids = inner.store.metrics_since(since)?;
        let live_from = inner.watermark.max(since);
        drop(inner);
        for (function, minute) in series.minutes(live_from, now) {
            for row in lambda_rows(&function, &minute) {
                ids.push(MetricId { namespace: row.namespace, metric: row.metric, dims: row.dims });
            }
        }
        let mut derived = Vec::new();
        for id in ids.iter().filter(|id| id.namespace == LAMBDA_NAMESPACE) {
            derived.push(MetricId { dims: vec![], ..id.clone() });
            if let [(name, function)] = id.dims.as_slice() {
                let mut dims = vec![(name.clone(), function.clone()), ("Resource".to_string(), function.clone())];
                dims.sort();
                derived.push(MetricId { dims, ..id.clone() });
            }
        }
        ids.extend(derived);
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

/// Which stored dimension set a query reads: `Some(dims)` exactly, `None`
/// every function's (account-wide `AWS/Lambda`). `None` overall: no data.
fn select(namespace: &str, dims: &Dims) -> Option<Option<Dims>> {
    if namespace != LAMBDA_NAMESPACE {
        return Some(Some(dims.clone()));
    }
    match dims.as_slice() {
        [] => Some(None),
        [(n, _)] if n == "FunctionName" => Some(Some(dims.clone())),
        [(n, f), (r, resource)] if n == "FunctionName" && r == "Resource" && f == resource => {
            Some(Some(vec![(n.clone(), f.clone())]))
        }
        _ => None,
    }
}

/// A function's minute as CloudWatch's Lambda metrics: Invocations, Errors
/// (one 0/1 sample per invocation, so Average is the error rate), Throttles,
/// Duration (ms) and ConcurrentExecutions (the minute's peak).
pub fn lambda_rows(function: &str, m: &MinuteStats) -> Vec<Row> {
    let row = |metric: &str, agg: Aggregate, unit: &str| Row {
        namespace: LAMBDA_NAMESPACE.into(),
        metric: metric.into(),
        dims: vec![("FunctionName".into(), function.into())],
        minute: m.minute,
        agg,
        unit: unit.into(),
    };
    let counts = |n: f64| Aggregate { count: n, sum: n, min: 1.0, max: 1.0, histogram: None };
    let mut rows = Vec::new();
    if m.invocations > 0 {
        let (n, errors) = (m.invocations as f64, m.errors as f64);
        rows.push(row("Invocations", counts(n), "Count"));
        let error_min = if m.errors == m.invocations { 1.0 } else { 0.0 };
        let error_max = if m.errors > 0 { 1.0 } else { 0.0 };
        rows.push(row(
            "Errors",
            Aggregate { count: n, sum: errors, min: error_min, max: error_max, histogram: None },
            "Count",
        ));
        let duration = Aggregate {
            count: n,
            sum: m.duration_sum_ms,
            min: m.duration_min_ms,
            max: m.duration_max_ms,
            histogram: Some(m.histogram.to_vec()),
        };
        rows.push(row("Duration", duration, "Milliseconds"));
    }
    if m.throttles > 0 {
        rows.push(row("Throttles", counts(m.throttles as f64), "Count"));
    }
    if m.concurrency_max > 0 {
        let peak = f64::from(m.concurrency_max);
        rows.push(row(
            "ConcurrentExecutions",
            Aggregate { count: 1.0, sum: peak, min: peak, max: peak, histogram: None },
            "Count",
        ));
    }
    let age = &m.async_event_age_ms;
    if age.count > 0 {
        let agg = Aggregate { count: age.count as f64, sum: age.sum, min: age.min, max: age.max, histogram: None };
        rows.push(row("AsyncEventAge", agg, "Milliseconds"));
    }
    if m.dead_letter_errors > 0 {
        rows.push(row("DeadLetterErrors", counts(m.dead_letter_errors as f64), "Count"));
    }
    rows
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::time::Duration;

    fn metrics() -> (tempfile::TempDir, Metrics) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("metrics.sqlite")).unwrap();
        (dir, Metrics::new(store))
    }

    fn function(name: &str) -> Dims {
        vec![("FunctionName".into(), name.into())]
    }

    #[test]
    fn live_and_flushed_minutes_are_counted_once() {
        let (_dir, m) = metrics();
        let series = Series::default();
        for i in 0..5 {
            series.invocation("f", Duration::from_millis(10), i == 0);
        }
        series.invocation("g", Duration::from_millis(30), false);
        let now = series::now_minute();
        let sum = |m: &Metrics, metric: &str, dims: &Dims| {
            m.query(&series, LAMBDA_NAMESPACE, metric, dims, now - 5, now)
                .unwrap()
                .minutes
                .iter()
                .map(|(_, a)| a.sum)
                .sum::<f64>()
        };
        assert_eq!(sum(&m, "Invocations", &function("f")), 5.0);
        assert_eq!(sum(&m, "Errors", &function("f")), 1.0);
        assert_eq!(sum(&m, "Invocations", &vec![]), 6.0);
        m.flush(&series, true).unwrap();
        assert_eq!(sum(&m, "Invocations", &function("f")), 5.0, "flushed minutes are not read twice");
        series.invocation("f", Duration::from_millis(10), false);
        assert_eq!(sum(&m, "Invocations", &function("f")), 5.0, "past the watermark until the next minute");
        let mut resource = function("f");
        resource.push(("Resource".into(), "f".into()));
        assert_eq!(sum(&m, "Invocations", &resource), 5.0);
        resource[1].1 = "f:live".into();
        assert_eq!(sum(&m, "Invocations", &resource), 0.0);
        let ids = m.list(&series, RETENTION_MINUTES).unwrap();
        let lambda_invocations = ids.iter().filter(|i| i.metric == "Invocations").count();
        // f, g, account-wide, and f and g with Resource.
        assert_eq!(lambda_invocations, 5);
    }

    #[test]
    fn lambda_rows_follow_cloudwatch_semantics() {
        let series = Series::default();
        series.invocation("f", Duration::from_millis(4), true);
        series.invocation("f", Duration::from_millis(8), false);
        series.concurrency("f", 2);
        let (name, minute) = series.minutes(0, i64::MAX).remove(0);
        let rows = lambda_rows(&name, &minute);
        let get = |metric: &str| rows.iter().find(|r| r.metric == metric).map(|r| r.agg.clone());
        let errors = get("Errors").unwrap();
        assert_eq!((errors.count, errors.sum, errors.min, errors.max), (2.0, 1.0, 0.0, 1.0));
        let duration = get("Duration").unwrap();
        assert!((duration.sum - 12.0).abs() < 1.0 && duration.min >= 4.0 && duration.max >= 8.0);
        assert_eq!(get("ConcurrentExecutions").unwrap().max, 2.0);
        assert!(get("Throttles").is_none());
        assert!(get("AsyncEventAge").is_none() && get("DeadLetterErrors").is_none(), "nothing asynchronous happened");
        series.async_event_age("f", Duration::from_millis(30));
        series.async_event_age("f", Duration::from_millis(10));
        series.dead_letter_error("f");
        let (name, minute) = series.minutes(0, i64::MAX).remove(0);
        let rows = lambda_rows(&name, &minute);
        let get = |metric: &str| rows.iter().find(|r| r.metric == metric).map(|r| (r.agg.clone(), r.unit.clone()));
        let (age, unit) = get("AsyncEventAge").unwrap();
        assert_eq!((age.count, age.sum, age.min, age.max, unit.as_str()), (2.0, 40.0, 10.0, 30.0, "Milliseconds"));
        assert_eq!(get("DeadLetterErrors").unwrap().0.sum, 1.0);
    }
}
