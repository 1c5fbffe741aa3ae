//! The metric operations: ListMetrics, GetMetricStatistics, GetMetricData
//! and PutMetricData, each from a decoded input to an output value (see
//! [`crate::wire`] for the protocols). Alarm operations are in
//! [`crate::alarms`]; [`dispatch`] routes to both.

use crate::alarms::Alarms;
use crate::error::CwError;
use crate::input::{self, dimensions, dimensions_json, i64_req, list, str_opt, str_req, strings, timestamp_req};
use crate::metrics::{Metrics, LAMBDA_NAMESPACE, RETENTION_MINUTES};
use crate::stats::{self, Aggregate, Stat};
use crate::store::{Dims, Row};
use lamina_scheduler::series::Series;
use serde_json::{json, Map, Value};

/// Largest number of datapoints one GetMetricStatistics may ask for.
const MAX_DATAPOINTS: i64 = 1440;
/// ListMetrics page size, as CloudWatch's.
const LIST_PAGE: usize = 500;
/// How far back and ahead PutMetricData accepts timestamps (seconds).
const PUT_MAX_AGE_SECS: f64 = 14.0 * 24.0 * 3600.0;
const PUT_MAX_AHEAD_SECS: f64 = 2.0 * 3600.0;
/// Items one PutMetricData may carry, as CloudWatch's limit.
const MAX_PUT_DATA: usize = 1000;

/// What the operations work on.
pub struct Context<'a> {
    pub metrics: &'a Metrics,
    pub alarms: &'a Alarms,
    pub series: &'a Series,
    /// Runs an alarm's actions after SetAlarmState changed its state.
    pub actions: &'a dyn Fn(&crate::alarms::Transition),
}

/// Runs one operation.
pub fn dispatch(cx: &Context<'_>, operation: &str, input: &Value) -> Result<Value, CwError> {
    match operation {
        "ListMetrics" => list_metrics(cx, input),
        "GetMetricStatistics" => get_metric_statistics(cx, input),
        "GetMetricData" => get_metric_data(cx, input),
        "PutMetricData" => put_metric_data(cx, input),
        "PutMetricAlarm" => cx.alarms.put(input),
        "DescribeAlarms" => cx.alarms.describe(input),
        "DescribeAlarmsForMetric" => cx.alarms.describe_for_metric(input),
        "DeleteAlarms" => cx.alarms.delete(input),
        "SetAlarmState" => {
            if let Some(t) = cx.alarms.set_state(input)? {
                (cx.actions)(&t);
            }
            Ok(json!({}))
        }
        "EnableAlarmActions" => cx.alarms.set_actions_enabled(input, true),
        "DisableAlarmActions" => cx.alarms.set_actions_enabled(input, false),
        other => Err(CwError::UnknownOperation(format!("Lamina does not implement the CloudWatch operation {other}."))),
    }
}

fn list_metrics(cx: &Context<'_>, input: &Value) -> Result<Value, CwError> {
    let namespace = str_opt(input, "Namespace");
    let metric = str_opt(input, "MetricName");
    let mut filters: Vec<(String, Option<String>)> = Vec::new();
    for f in list(input, "Dimensions")? {
        let name = str_opt(f, "Name").ok_or_else(|| input::missing("Dimensions.member.N.Name"))?;
        filters.push((name.to_string(), str_opt(f, "Value").map(str::to_string)));
    }
    let offset = match str_opt(input, "NextToken") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| CwError::InvalidParameterValue(format!("The NextToken {t} is not valid.")))?,
        None => 0,
    };
    let minutes = match str_opt(input, "RecentlyActive") {
        None => RETENTION_MINUTES,
        Some("PT3H") => 3 * 60,
        Some(other) => {
            return Err(CwError::InvalidParameterValue(format!(
                "The value {other} for parameter RecentlyActive is invalid; use PT3H."
            )))
        }
    };
    let matching: Vec<_> = cx
        .metrics
        .list(cx.series, minutes)?
        .into_iter()
        .filter(|id| namespace.is_none_or(|n| n == id.namespace))
        .filter(|id| metric.is_none_or(|m| m == id.metric))
        .filter(|id| {
            filters.iter().all(|(name, value)| {
                id.dims.iter().any(|(n, v)| n == name && value.as_ref().is_none_or(|value| value == v))
            })
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(LIST_PAGE)
        .map(|id| json!({"Namespace": id.namespace, "MetricName": id.metric, "Dimensions": dimensions_json(&id.dims)}))
        .collect();
    let mut out = json!({ "Metrics": page });
    if offset + LIST_PAGE < matching.len() {
        out["NextToken"] = json!((offset + LIST_PAGE).to_string());
    }
    Ok(out)
}

/// The window a query covers: its start rounded down to a minute (periods
/// count from it) and the minutes that begin before its end.
struct Window {
    start: i64,
    first_minute: i64,
    last_minute: i64,
}

fn window(input: &Value) -> Result<Window, CwError> {
    let start = timestamp_req(input, "StartTime")?;
    let end = timestamp_req(input, "EndTime")?;
    if start >= end {
        return Err(CwError::InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    let start = (start as i64).div_euclid(60) * 60;
    Ok(Window { start, first_minute: start / 60, last_minute: (end.ceil() as i64 - 1).div_euclid(60) })
}

/// Period start (epoch seconds) and what the period holds, oldest first.
type Periods = Vec<(i64, Aggregate)>;

/// A metric's periods in a window, or none when the unit asked for is not
/// the metric's.
fn periods(
    cx: &Context<'_>,
    namespace: &str,
    metric: &str,
    dims: &Dims,
    w: &Window,
    period: i64,
    unit: Option<&str>,
) -> Result<(Periods, Option<String>), CwError> {
    let found = cx.metrics.query(cx.series, namespace, metric, dims, w.first_minute, w.last_minute)?;
    if unit.is_some_and(|u| found.unit.as_deref().is_some_and(|stored| stored != u)) {
        return Ok((vec![], None));
    }
    Ok((stats::by_period(&found.minutes, w.start, period), found.unit))
}

fn get_metric_statistics(cx: &Context<'_>, input: &Value) -> Result<Value, CwError> {
    let namespace = str_req(input, "Namespace")?;
    let metric = str_req(input, "MetricName")?;
    let dims = dimensions(input)?;
    let w = window(input)?;
    let period = i64_req(input, "Period")?;
    stats::check_period(period)?;
    let statistics = strings(input, "Statistics")?;
    let extended = strings(input, "ExtendedStatistics")?;
    if statistics.is_empty() && extended.is_empty() {
        return Err(CwError::InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics.".into(),
        ));
    }
    let mut wanted = Vec::new();
    for name in &statistics {
        match Stat::parse(name)? {
            Stat::Percentile(_) => {
                return Err(CwError::InvalidParameterValue(format!(
                    "{name} is not a Statistic; use ExtendedStatistics."
                )))
            }
            s => wanted.push((name.clone(), s)),
        }
    }
    let mut percentiles = Vec::new();
    for name in &extended {
        match Stat::parse(name)? {
            s @ Stat::Percentile(_) => percentiles.push((name.clone(), s)),
            _ => {
                return Err(CwError::InvalidParameterValue(format!("{name} is not an extended statistic such as p99.")))
            }
        }
    }
    let requested = ((w.last_minute + 1) * 60 - w.start + period - 1) / period;
    if requested > MAX_DATAPOINTS {
        return Err(CwError::InvalidParameterCombination(format!(
            "You have requested up to {requested} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. \
             You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    let unit = str_opt(input, "Unit");
    let (found, stored_unit) = periods(cx, namespace, metric, &dims, &w, period, unit)?;
    let unit = stored_unit.unwrap_or_else(|| "None".into());
    let datapoints: Vec<Value> = found
        .iter()
        .map(|(t, agg)| {
            let mut point = Map::new();
            point.insert("Timestamp".into(), json!(t));
            for (name, stat) in &wanted {
                if let Some(v) = agg.statistic(stat) {
                    point.insert(name.clone(), json!(v));
                }
            }
            if !percentiles.is_empty() {
                let values: Map<String, Value> = percentiles
                    .iter()
                    .filter_map(|(name, stat)| agg.statistic(stat).map(|v| (name.clone(), json!(v))))
                    .collect();
                point.insert("ExtendedStatistics".into(), Value::Object(values));
            }
            point.insert("Unit".into(), json!(unit));
            Value::Object(point)
        })
        .collect();
    Ok(json!({"Label": metric, "Datapoints": datapoints}))
}

fn get_metric_data(cx: &Context<'_>, input: &Value) -> Result<Value, CwError> {
    let queries = list(input, "MetricDataQueries")?;
    if queries.is_empty() {
        return Err(input::missing("MetricDataQueries"));
    }
    let w = window(input)?;
    let descending = match str_opt(input, "ScanBy") {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => return Err(CwError::InvalidParameterValue(format!("The value {other} for ScanBy is invalid."))),
    };
    let mut results = Vec::new();
    for q in queries {
        let id = str_req(q, "Id")?;
        if q.get("Expression").is_some() {
            return Err(CwError::InvalidParameterValue(format!(
                "Lamina does not evaluate metric math expressions (query {id}); use MetricStat."
            )));
        }
        let stat_spec = q.get("MetricStat").ok_or_else(|| input::missing("MetricDataQueries.member.N.MetricStat"))?;
        let metric = stat_spec.get("Metric").ok_or_else(|| input::missing("MetricStat.Metric"))?;
        let namespace = str_req(metric, "Namespace")?;
        let name = str_req(metric, "MetricName")?;
        let dims = dimensions(metric)?;
        let period = i64_req(stat_spec, "Period")?;
        stats::check_period(period)?;
        let stat = Stat::parse(str_req(stat_spec, "Stat")?)?;
        if input::bool_opt(q, "ReturnData")? == Some(false) {
            continue;
        }
        let (found, _) = periods(cx, namespace, name, &dims, &w, period, str_opt(stat_spec, "Unit"))?;
        let mut points: Vec<(i64, f64)> =
            found.iter().filter_map(|(t, agg)| agg.statistic(&stat).map(|v| (*t, v))).collect();
        if descending {
            points.reverse();
        }
        results.push(json!({
            "Id": id,
            "Label": str_opt(q, "Label").unwrap_or(name),
            "Timestamps": points.iter().map(|(t, _)| json!(t)).collect::<Vec<_>>(),
            "Values": points.iter().map(|(_, v)| json!(v)).collect::<Vec<_>>(),
            "StatusCode": "Complete",
        }));
    }
    Ok(json!({"MetricDataResults": results, "Messages": []}))
}

fn put_metric_data(cx: &Context<'_>, input: &Value) -> Result<Value, CwError> {
    let namespace = str_req(input, "Namespace")?;
    if namespace.starts_with("AWS/") || namespace == LAMBDA_NAMESPACE {
        return Err(CwError::InvalidParameterValue(format!(
            "The value {namespace} for parameter Namespace is invalid: namespaces starting with AWS/ are reserved."
        )));
    }
    let now = lamina_core::now_ms() as f64 / 1000.0;
    let data = list(input, "MetricData")?;
    if data.len() > MAX_PUT_DATA {
        return Err(CwError::InvalidParameterValue(format!(
            "MetricData holds {} items; at most {MAX_PUT_DATA} are allowed.",
            data.len()
        )));
    }
    let mut rows = Vec::new();
    for datum in data {
        let metric = str_req(datum, "MetricName")?;
        let dims = dimensions(datum)?;
        let at = input::timestamp_opt(datum, "Timestamp")?.unwrap_or(now);
        if at < now - PUT_MAX_AGE_SECS || at > now + PUT_MAX_AHEAD_SECS {
            return Err(CwError::InvalidParameterValue(format!(
                "The timestamp of {metric} must be within the past two weeks and the next two hours."
            )));
        }
        rows.push(Row {
            namespace: namespace.to_string(),
            metric: metric.to_string(),
            dims,
            minute: (at as i64).div_euclid(60),
            agg: datum_aggregate(datum, metric)?,
            unit: str_opt(datum, "Unit").unwrap_or("None").to_string(),
        });
    }
    cx.metrics.put(&rows)?;
    Ok(json!({}))
}

/// A datum's samples: exactly one of Value, Values (+Counts), StatisticValues.
fn datum_aggregate(datum: &Value, metric: &str) -> Result<Aggregate, CwError> {
    let value = input::f64_opt(datum, "Value")?;
    let values = list(datum, "Values")?;
    let statistic_values = datum.get("StatisticValues");
    let given =
        usize::from(value.is_some()) + usize::from(!values.is_empty()) + usize::from(statistic_values.is_some());
    if given != 1 {
        return Err(CwError::InvalidParameterCombination(format!(
            "The metric {metric} must have exactly one of Value, Values or StatisticValues."
        )));
    }
    let finite = |v: f64| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(CwError::InvalidParameterValue(format!("The value {v} for metric {metric} is invalid.")))
        }
    };
    if let Some(v) = value {
        return Ok(Aggregate::single(finite(v)?));
    }
    if let Some(s) = statistic_values {
        let get = |name| input::f64_opt(s, name)?.ok_or_else(|| input::missing(&format!("StatisticValues.{name}")));
        let (count, sum, min, max) =
            (finite(get("SampleCount")?)?, finite(get("Sum")?)?, finite(get("Minimum")?)?, finite(get("Maximum")?)?);
        if count <= 0.0 || min > max {
            return Err(CwError::InvalidParameterValue(format!("The StatisticValues of {metric} are inconsistent.")));
        }
        return Ok(Aggregate { count, sum, min, max, histogram: None });
    }
    let number = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| CwError::InvalidParameterValue(format!("The Values of {metric} must be numbers.")))
    };
    let counts = list(datum, "Counts")?;
    if !counts.is_empty() && counts.len() != values.len() {
        return Err(CwError::InvalidParameterValue(format!("The Values and Counts of {metric} differ in length.")));
    }
    let mut pairs = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let n = match counts.get(i) {
            Some(c) => finite(number(c)?)?,
            None => 1.0,
        };
        if n < 0.0 {
            return Err(CwError::InvalidParameterValue(format!("The Counts of {metric} must not be negative.")));
        }
        pairs.push((finite(number(v)?)?, n));
    }
    Ok(Aggregate::of_values(&pairs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::Store;

    fn run(operation: &str, input: Value) -> Result<Value, CwError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.sqlite");
        let metrics = Metrics::new(Store::open(&path).unwrap());
        let alarms = Alarms::open(Store::open(&path).unwrap(), "us-east-1", "000000000000").unwrap();
        let series = Series::default();
        let cx = Context { metrics: &metrics, alarms: &alarms, series: &series, actions: &|_| {} };
        if operation == "PutThenGet" {
            dispatch(&cx, "PutMetricData", &input["put"])?;
            return dispatch(&cx, "GetMetricStatistics", &input["get"]);
        }
        dispatch(&cx, operation, &input)
    }

    #[test]
    fn values_as_the_query_protocol_sends_them_are_stored_and_read() {
        let now = lamina_core::now_ms() / 1000;
        let out = run(
            "PutThenGet",
            json!({
                "put": {"Namespace": "App", "MetricData": [
                    {"MetricName": "M", "Values": ["1", "3"], "Counts": ["2", "1"]}]},
                "get": {"Namespace": "App", "MetricName": "M", "StartTime": (now - 600).to_string(),
                        "EndTime": (now + 60).to_string(), "Period": "60", "Statistics": ["Sum", "SampleCount"]},
            }),
        )
        .unwrap();
        let points = out["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!((points[0]["Sum"].as_f64(), points[0]["SampleCount"].as_f64()), (Some(5.0), Some(3.0)));
        assert_eq!(points[0]["Unit"], "None");
    }

    #[test]
    fn bad_values_are_refused_not_stored() {
        let put = |datum: Value| run("PutMetricData", json!({"Namespace": "App", "MetricData": [datum]}));
        for bad in [
            json!({"MetricName": "M", "Value": "NaN"}),
            json!({"MetricName": "M", "Values": ["inf"]}),
            json!({"MetricName": "M", "Values": [1], "Counts": [-1]}),
            json!({"MetricName": "M", "Values": [1, 2], "Counts": [1]}),
            json!({"MetricName": "M", "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 2, "Maximum": 1}}),
            json!({"MetricName": "M", "Value": 1, "Timestamp": 0}),
        ] {
            assert!(matches!(put(bad.clone()), Err(CwError::InvalidParameterValue(_))), "{bad}");
        }
        let too_many: Vec<Value> = (0..1001).map(|_| json!({"MetricName": "M", "Value": 1})).collect();
        assert!(run("PutMetricData", json!({"Namespace": "App", "MetricData": too_many})).is_err());
    }

    #[test]
    fn extreme_windows_and_periods_answer_errors_not_panics() {
        let get = |start: Value, end: Value, period: Value| {
            run(
                "GetMetricStatistics",
                json!({"Namespace": "App", "MetricName": "M", "StartTime": start, "EndTime": end,
                       "Period": period, "Statistics": ["Sum"]}),
            )
        };
        assert!(get(json!(-1e300), json!(-1e299), json!(60)).is_err());
        assert!(get(json!(0), json!(1e11), json!(60)).is_err());
        assert!(get(json!(0), json!(1e11), json!(9e14)).unwrap()["Datapoints"].as_array().unwrap().is_empty());
        assert!(get(json!(0), json!(60), json!(0)).is_err());
        let query = |stat: &str| {
            run(
                "GetMetricData",
                json!({"StartTime": 0, "EndTime": 60, "MetricDataQueries": [{"Id": "a", "MetricStat": {
                    "Metric": {"Namespace": "App", "MetricName": "M"}, "Period": 60, "Stat": stat}}]}),
            )
        };
        assert!(query("p99").is_ok());
        assert!(matches!(query("tm99"), Err(CwError::InvalidParameterValue(_))));
        assert!(matches!(run("Frobnicate", json!({})), Err(CwError::UnknownOperation(_))));
    }
}
