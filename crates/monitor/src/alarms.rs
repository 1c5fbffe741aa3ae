//! Metric alarms: the operations (PutMetricAlarm, DescribeAlarms,
//! DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState,
//! Enable/DisableAlarmActions), the evaluation that moves an alarm between
//! OK, ALARM and INSUFFICIENT_DATA, and the actions a state change runs.
//!
//! Alarms live in memory and in `metrics.sqlite` (written before each 200).
//! The evaluator ([`Alarms::evaluate`], every `LAMINA_ALARM_EVAL_SECS`,
//! default 60) reads the last `EvaluationPeriods` periods of the alarm's
//! metric, periods aligned to the epoch, the newest being the period in
//! progress (so an alarm reacts within one evaluation, not one period
//! later), and applies `DatapointsToAlarm` and `TreatMissingData`
//! ([`decide`]). A change of state is returned as a [`Transition`], whose
//! actions [`crate::actions`] runs.

use crate::error::CwError;
use crate::input::{self, dimensions, f64_opt, i64_opt, str_opt, str_req, strings};
use crate::metrics::Metrics;
use crate::query::iso8601;
use crate::stats::{self, Stat};
use crate::store::{Dims, Store};
use lamina_scheduler::series::Series;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const STATES: [&str; 3] = ["OK", "ALARM", "INSUFFICIENT_DATA"];
const OPERATORS: [&str; 4] =
    ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"];
const TREATMENTS: [&str; 4] = ["breaching", "notBreaching", "ignore", "missing"];
const DESCRIBE_PAGE: usize = 50;
const MAX_DESCRIBE_PAGE: i64 = 100;

/// One metric alarm, stored as (and answered in) DescribeAlarms' shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    pub alarm_name: String,
    pub alarm_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    pub alarm_configuration_updated_timestamp: f64,
    pub actions_enabled: bool,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub state_value: String,
    pub state_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    pub state_updated_timestamp: f64,
    pub state_transitioned_timestamp: f64,
    pub metric_name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub period: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: String,
    pub treat_missing_data: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Alarm {
    fn dims(&self) -> Dims {
        let mut dims: Dims = self.dimensions.iter().map(|d| (d.name.clone(), d.value.clone())).collect();
        dims.sort();
        dims
    }

    pub(crate) fn stat_name(&self) -> &str {
        self.statistic.as_deref().or(self.extended_statistic.as_deref()).unwrap_or("Average")
    }

    pub(crate) fn actions_for(&self, state: &str) -> &[String] {
        match state {
            "OK" => &self.ok_actions,
            "ALARM" => &self.alarm_actions,
            _ => &self.insufficient_data_actions,
        }
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A state change to act on, with the state it left.
#[derive(Debug, Clone)]
pub struct Transition {
    pub alarm: Alarm,
    pub previous_value: String,
    pub previous_reason: String,
    pub previous_reason_data: Option<String>,
    pub previous_timestamp: f64,
}

pub struct Alarms {
    region: String,
    account_id: String,
    inner: Mutex<Inner>,
}

struct Inner {
    store: Store,
    alarms: BTreeMap<String, Alarm>,
}

fn now_secs() -> f64 {
    lamina_core::now_ms() as f64 / 1000.0
}

impl Alarms {
    /// Loads the stored alarms.
    pub fn open(store: Store, region: &str, account_id: &str) -> Result<Self, CwError> {
        let mut alarms = BTreeMap::new();
        for body in store.alarms()? {
            match serde_json::from_str::<Alarm>(&body) {
                Ok(a) => {
                    alarms.insert(a.alarm_name.clone(), a);
                }
                Err(e) => tracing::error!(error = %e, "a stored alarm cannot be read; skipped"),
            }
        }
        Ok(Self {
            region: region.to_string(),
            account_id: account_id.to_string(),
            inner: Mutex::new(Inner { store, alarms }),
        })
    }

    pub fn len(&self) -> usize {
        self.inner.lock().alarms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores alarms, then makes them visible.
    fn save(inner: &mut Inner, changed: Vec<Alarm>) -> Result<(), CwError> {
        let rows: Vec<(String, String)> =
            changed.iter().map(|a| (a.alarm_name.clone(), serde_json::to_string(a).unwrap_or_default())).collect();
        inner.store.put_alarms(&rows)?;
        for a in changed {
            inner.alarms.insert(a.alarm_name.clone(), a);
        }
        Ok(())
    }

    pub fn put(&self, input: &Value) -> Result<Value, CwError> {
        let name = str_req(input, "AlarmName")?;
        if input.get("Metrics").is_some_and(|m| m.as_array().is_some_and(|a| !a.is_empty())) {
            return Err(CwError::Validation(
                "Lamina evaluates alarms on one metric; metric math alarms (Metrics) are not supported.".into(),
            ));
        }
        let required = |field: &str| CwError::Validation(format!("{field} is required for a metric alarm."));
        let metric_name = str_opt(input, "MetricName").ok_or_else(|| required("MetricName"))?;
        let namespace = str_opt(input, "Namespace").ok_or_else(|| required("Namespace"))?;
        let statistic = str_opt(input, "Statistic").map(str::to_string);
        let extended_statistic = str_opt(input, "ExtendedStatistic").map(str::to_string);
        match (&statistic, &extended_statistic) {
            (Some(s), None) if !matches!(Stat::parse(s), Ok(Stat::Percentile(_)) | Err(_)) => {}
            (None, Some(e)) if matches!(Stat::parse(e), Ok(Stat::Percentile(_))) => {}
            _ => {
                return Err(CwError::Validation(
                    "Specify exactly one of Statistic (SampleCount, Average, Sum, Minimum, Maximum) or \
                     ExtendedStatistic (a percentile such as p99)."
                        .into(),
                ))
            }
        }
        let period = i64_opt(input, "Period")?.ok_or_else(|| required("Period"))?;
        stats::check_period(period)?;
        let evaluation_periods = i64_opt(input, "EvaluationPeriods")?.ok_or_else(|| required("EvaluationPeriods"))?;
        let datapoints_to_alarm = i64_opt(input, "DatapointsToAlarm")?;
        if evaluation_periods < 1 || datapoints_to_alarm.is_some_and(|m| m < 1 || m > evaluation_periods) {
            return Err(CwError::Validation(
                "EvaluationPeriods must be at least 1, and DatapointsToAlarm between 1 and EvaluationPeriods.".into(),
            ));
        }
        if evaluation_periods.saturating_mul(period) > 7 * 24 * 3600 {
            return Err(CwError::Validation("EvaluationPeriods times Period must not exceed one week.".into()));
        }
        let threshold = f64_opt(input, "Threshold")?.ok_or_else(|| required("Threshold"))?;
        let comparison_operator = str_opt(input, "ComparisonOperator").ok_or_else(|| required("ComparisonOperator"))?;
        if !OPERATORS.contains(&comparison_operator) {
            return Err(CwError::Validation(format!(
                "ComparisonOperator {comparison_operator} is not supported; use one of {}.",
                OPERATORS.join(", ")
            )));
        }
        let treat_missing_data = str_opt(input, "TreatMissingData").unwrap_or("missing");
        if !TREATMENTS.contains(&treat_missing_data) {
            return Err(CwError::Validation(format!(
                "TreatMissingData must be one of {}; got {treat_missing_data}.",
                TREATMENTS.join(", ")
            )));
        }
        let (ok_actions, alarm_actions, insufficient_data_actions) =
            (strings(input, "OKActions")?, strings(input, "AlarmActions")?, strings(input, "InsufficientDataActions")?);
        for arn in ok_actions.iter().chain(&alarm_actions).chain(&insufficient_data_actions) {
            check_action(arn)?;
        }
        let now = now_secs();
        let mut inner = self.inner.lock();
        let previous = inner.alarms.get(name).cloned();
        let alarm = Alarm {
            alarm_name: name.to_string(),
            alarm_arn: format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.region, self.account_id),
            alarm_description: str_opt(input, "AlarmDescription").map(str::to_string),
            alarm_configuration_updated_timestamp: now,
            actions_enabled: input::bool_opt(input, "ActionsEnabled")?.unwrap_or(true),
            ok_actions,
            alarm_actions,
            insufficient_data_actions,
            // An update keeps the alarm's state, as CloudWatch's does.
            state_value: previous.as_ref().map_or("INSUFFICIENT_DATA".into(), |p| p.state_value.clone()),
            state_reason: previous
                .as_ref()
                .map_or("Unchecked: Initial alarm creation".into(), |p| p.state_reason.clone()),
            state_reason_data: previous.as_ref().and_then(|p| p.state_reason_data.clone()),
            state_updated_timestamp: previous.as_ref().map_or(now, |p| p.state_updated_timestamp),
            state_transitioned_timestamp: previous.as_ref().map_or(now, |p| p.state_transitioned_timestamp),
            metric_name: metric_name.to_string(),
            namespace: namespace.to_string(),
            statistic,
            extended_statistic,
            dimensions: dimensions(input)?.into_iter().map(|(name, value)| Dimension { name, value }).collect(),
            period,
            unit: str_opt(input, "Unit").map(str::to_string),
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison_operator: comparison_operator.to_string(),
            treat_missing_data: treat_missing_data.to_string(),
        };
        Self::save(&mut inner, vec![alarm])?;
        Ok(json!({}))
    }

    pub fn describe(&self, input: &Value) -> Result<Value, CwError> {
        let names = strings(input, "AlarmNames")?;
        let prefix = str_opt(input, "AlarmNamePrefix");
        if !names.is_empty() && prefix.is_some() {
            return Err(CwError::InvalidParameterCombination(
                "AlarmNames and AlarmNamePrefix cannot be used together.".into(),
            ));
        }
        let state = str_opt(input, "StateValue");
        if let Some(s) = state.filter(|s| !STATES.contains(s)) {
            return Err(CwError::InvalidParameterValue(format!("The value {s} for parameter StateValue is invalid.")));
        }
        let action_prefix = str_opt(input, "ActionPrefix");
        let types = strings(input, "AlarmTypes")?;
        let page = i64_opt(input, "MaxRecords")?.map_or(DESCRIBE_PAGE, |n| n.clamp(1, MAX_DESCRIBE_PAGE) as usize);
        let offset = match str_opt(input, "NextToken") {
            Some(t) => {
                t.parse::<usize>().map_err(|_| CwError::InvalidNextToken(format!("The token {t} is not valid.")))?
            }
            None => 0,
        };
        let inner = self.inner.lock();
        let matching: Vec<&Alarm> = inner
            .alarms
            .values()
            .filter(|_| types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
            .filter(|a| names.is_empty() || names.contains(&a.alarm_name))
            .filter(|a| prefix.is_none_or(|p| a.alarm_name.starts_with(p)))
            .filter(|a| state.is_none_or(|s| a.state_value == s))
            .filter(|a| {
                action_prefix.is_none_or(|p| {
                    a.ok_actions
                        .iter()
                        .chain(&a.alarm_actions)
                        .chain(&a.insufficient_data_actions)
                        .any(|x| x.starts_with(p))
                })
            })
            .collect();
        let alarms: Vec<Value> = matching.iter().skip(offset).take(page).map(|a| a.to_json()).collect();
        let mut out = json!({"MetricAlarms": alarms, "CompositeAlarms": []});
        if offset + page < matching.len() {
            out["NextToken"] = json!((offset + page).to_string());
        }
        Ok(out)
    }

    pub fn describe_for_metric(&self, input: &Value) -> Result<Value, CwError> {
        let metric = str_req(input, "MetricName")?;
        let namespace = str_req(input, "Namespace")?;
        let dims = dimensions(input)?;
        let statistic = str_opt(input, "Statistic");
        let extended = str_opt(input, "ExtendedStatistic");
        let period = i64_opt(input, "Period")?;
        let unit = str_opt(input, "Unit");
        let inner = self.inner.lock();
        let alarms: Vec<Value> = inner
            .alarms
            .values()
            .filter(|a| a.metric_name == metric && a.namespace == namespace)
            .filter(|a| input.get("Dimensions").is_none() || a.dims() == dims)
            .filter(|a| statistic.is_none_or(|s| a.statistic.as_deref() == Some(s)))
            .filter(|a| extended.is_none_or(|s| a.extended_statistic.as_deref() == Some(s)))
            .filter(|a| period.is_none_or(|p| a.period == p))
            .filter(|a| unit.is_none_or(|u| a.unit.as_deref() == Some(u)))
            .map(Alarm::to_json)
            .collect();
        Ok(json!({ "MetricAlarms": alarms }))
    }

    pub fn delete(&self, input: &Value) -> Result<Value, CwError> {
        let names = strings(input, "AlarmNames")?;
        if names.is_empty() {
            return Err(input::missing("AlarmNames"));
        }
        let mut inner = self.inner.lock();
        let unknown: Vec<&String> = names.iter().filter(|n| !inner.alarms.contains_key(*n)).collect();
        if !unknown.is_empty() {
            let list: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
            return Err(CwError::ResourceNotFound(format!(
                "{} out of the {} alarms were not found: {}",
                unknown.len(),
                names.len(),
                list.join(", ")
            )));
        }
        inner.store.delete_alarms(&names)?;
        for n in &names {
            inner.alarms.remove(n);
        }
        Ok(json!({}))
    }

    /// SetAlarmState: the state until the next evaluation. Returns the
    /// change of state, whose actions the caller runs as for a real one.
    pub fn set_state(&self, input: &Value) -> Result<Option<Transition>, CwError> {
        let name = str_req(input, "AlarmName")?;
        let state = str_req(input, "StateValue")?;
        if !STATES.contains(&state) {
            return Err(CwError::InvalidParameterValue(format!(
                "The value {state} for parameter StateValue is invalid."
            )));
        }
        let reason = str_req(input, "StateReason")?;
        let reason_data = str_opt(input, "StateReasonData");
        if let Some(data) = reason_data {
            if serde_json::from_str::<Value>(data).is_err() {
                return Err(CwError::InvalidFormat("StateReasonData must be valid JSON.".into()));
            }
        }
        let mut inner = self.inner.lock();
        let alarm = inner
            .alarms
            .get(name)
            .cloned()
            .ok_or_else(|| CwError::ResourceNotFound(format!("Alarm {name} not found")))?;
        let transition = apply(alarm, state, reason, reason_data.map(str::to_string), now_secs());
        Self::save(&mut inner, vec![transition.alarm.clone()])?;
        Ok((transition.previous_value != state).then_some(transition))
    }

    pub fn set_actions_enabled(&self, input: &Value, enabled: bool) -> Result<Value, CwError> {
        let names = strings(input, "AlarmNames")?;
        let mut inner = self.inner.lock();
        let changed: Vec<Alarm> = names
            .iter()
            .filter_map(|n| inner.alarms.get(n).cloned())
            .map(|mut a| {
                a.actions_enabled = enabled;
                a
            })
            .collect();
        Self::save(&mut inner, changed)?;
        Ok(json!({}))
    }

    /// Evaluates every alarm against its metric; returns the changes of
    /// state (already stored).
    pub fn evaluate(&self, metrics: &Metrics, series: &Series) -> Vec<Transition> {
        let now = now_secs();
        let alarms: Vec<Alarm> = self.inner.lock().alarms.values().cloned().collect();
        let mut transitions = Vec::new();
        let mut changed = Vec::new();
        for alarm in alarms {
            let values = match window_values(&alarm, metrics, series, now) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(alarm = alarm.alarm_name, error = %e, "cannot evaluate an alarm");
                    continue;
                }
            };
            let Some(decision) = decide(&alarm, &values) else { continue };
            if decision.state == alarm.state_value {
                continue;
            }
            let reason_data = reason_data(&alarm, &values, now);
            let t = apply(alarm, &decision.state, &decision.reason, Some(reason_data), now);
            changed.push(t.alarm.clone());
            transitions.push(t);
        }
        if !changed.is_empty() {
            let mut inner = self.inner.lock();
            // An alarm deleted or replaced while evaluating keeps the newer version.
            changed.retain(|a| {
                inner.alarms.get(&a.alarm_name).is_some_and(|cur| {
                    cur.alarm_configuration_updated_timestamp == a.alarm_configuration_updated_timestamp
                })
            });
            transitions.retain(|t| changed.iter().any(|a| a.alarm_name == t.alarm.alarm_name));
            if let Err(e) = Self::save(&mut inner, changed) {
                tracing::error!(error = %e, "cannot store alarm states");
                return Vec::new();
            }
        }
        transitions
    }
}

/// The alarm moved to `state`, remembering what it left.
pub(crate) fn apply(mut alarm: Alarm, state: &str, reason: &str, reason_data: Option<String>, now: f64) -> Transition {
    let previous_value = std::mem::replace(&mut alarm.state_value, state.to_string());
    let previous_reason = std::mem::replace(&mut alarm.state_reason, reason.to_string());
    let previous_reason_data = std::mem::replace(&mut alarm.state_reason_data, reason_data);
    let previous_timestamp = std::mem::replace(&mut alarm.state_updated_timestamp, now);
    if previous_value != state {
        alarm.state_transitioned_timestamp = now;
    }
    Transition { alarm, previous_value, previous_reason, previous_reason_data, previous_timestamp }
}

fn check_action(arn: &str) -> Result<(), CwError> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", ..] if lamina_core::names::FunctionRef::parse(arn).is_ok() => Ok(()),
        ["arn", _, "sns", _, _, topic] if !topic.is_empty() => Ok(()),
        _ => Err(CwError::Validation(format!(
            "Invalid action {arn}: Lamina alarms take Lambda function ARNs (and SNS topic ARNs)."
        ))),
    }
}

/// The stat of each of the alarm's last `EvaluationPeriods` periods
/// (aligned to the epoch, the newest in progress), oldest first.
fn window_values(
    alarm: &Alarm,
    metrics: &Metrics,
    series: &Series,
    now: f64,
) -> Result<Vec<(i64, Option<f64>)>, CwError> {
    let p = alarm.period;
    let newest = (now as i64).div_euclid(p) * p;
    let oldest = newest - (alarm.evaluation_periods - 1) * p;
    let found =
        metrics.query(series, &alarm.namespace, &alarm.metric_name, &alarm.dims(), oldest / 60, (now as i64) / 60)?;
    if alarm.unit.is_some() && found.unit.is_some() && alarm.unit != found.unit {
        return Ok((0..alarm.evaluation_periods).map(|i| (oldest + i * p, None)).collect());
    }
    let stat = Stat::parse(alarm.stat_name())?;
    let by_period: BTreeMap<i64, f64> = stats::by_period(&found.minutes, oldest, p)
        .into_iter()
        .filter_map(|(t, agg)| agg.statistic(&stat).map(|v| (t, v)))
        .collect();
    Ok((0..alarm.evaluation_periods).map(|i| oldest + i * p).map(|t| (t, by_period.get(&t).copied())).collect())
}

/// What an evaluation concludes.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: String,
    pub reason: String,
}

fn breaches(alarm: &Alarm, v: f64) -> bool {
    match alarm.comparison_operator.as_str() {
        "GreaterThanOrEqualToThreshold" => v >= alarm.threshold,
        "GreaterThanThreshold" => v > alarm.threshold,
        "LessThanThreshold" => v < alarm.threshold,
        _ => v <= alarm.threshold,
    }
}

fn operator_phrase(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        _ => "less than or equal to",
    }
}

/// The state the alarm's last periods call for (`values` oldest first,
/// `None` where a period has no data); `None` keeps the current state
/// (TreatMissingData `ignore` with nothing to go on).
pub fn decide(alarm: &Alarm, values: &[(i64, Option<f64>)]) -> Option<Decision> {
    let n = values.len();
    let m = alarm.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods).max(1) as usize;
    let verdicts: Vec<Option<bool>> = values
        .iter()
        .map(|(_, v)| match (v, alarm.treat_missing_data.as_str()) {
            (Some(v), _) => Some(breaches(alarm, *v)),
            (None, "breaching") => Some(true),
            (None, "notBreaching") => Some(false),
            (None, _) => None,
        })
        .collect();
    let known = verdicts.iter().flatten().count();
    if known == 0 {
        return match alarm.treat_missing_data.as_str() {
            "ignore" => None,
            _ => Some(Decision {
                state: "INSUFFICIENT_DATA".into(),
                reason: format!("Insufficient Data: {n} datapoint{} were unknown.", if n == 1 { "" } else { "s" }),
            }),
        };
    }
    let breaching = verdicts.iter().flatten().filter(|b| **b).count();
    let shown: Vec<String> =
        values.iter().rev().filter_map(|(t, v)| v.map(|v| format!("{} ({})", number(v), reason_time(*t)))).collect();
    let phrase = operator_phrase(&alarm.comparison_operator);
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    if breaching >= m {
        Some(Decision {
            state: "ALARM".into(),
            reason: format!(
                "Threshold Crossed: {breaching} out of the last {n} datapoint{} [{}] {} {phrase} the threshold ({}) \
                 (minimum {m} datapoint{} for OK -> ALARM transition).",
                plural(n),
                shown.join(", "),
                if breaching == 1 { "was" } else { "were" },
                number(alarm.threshold),
                plural(m),
            ),
        })
    } else {
        Some(Decision {
            state: "OK".into(),
            reason: format!(
                "Threshold Crossed: {} out of the last {n} datapoint{} [{}] {} not {phrase} the threshold ({}) \
                 (minimum 1 datapoint for ALARM -> OK transition).",
                known - breaching,
                plural(n),
                shown.join(", "),
                if known - breaching == 1 { "was" } else { "were" },
                number(alarm.threshold),
            ),
        })
    }
}

/// A number as CloudWatch's reasons print it (Java's: `1.0`, `0.25`).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}

/// A period's start as CloudWatch's reasons print it: `08/03/23 00:45:00`.
fn reason_time(epoch_secs: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_secs, 0)
        .map(|t| t.format("%d/%m/%y %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// StateReasonData's JSON, as CloudWatch writes it.
fn reason_data(alarm: &Alarm, values: &[(i64, Option<f64>)], now: f64) -> String {
    let stamp = |t: f64| iso8601(t).replace('Z', "+0000");
    json!({
        "version": "1.0",
        "queryDate": stamp(now),
        "startDate": values.first().map(|(t, _)| stamp(*t as f64)),
        "statistic": alarm.stat_name(),
        "period": alarm.period,
        "recentDatapoints": values.iter().filter_map(|(_, v)| *v).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": values.iter().rev().map(|(t, v)| match v {
            Some(v) => json!({"timestamp": stamp(*t as f64), "value": v}),
            None => json!({"timestamp": stamp(*t as f64)}),
        }).collect::<Vec<_>>(),
    })
    .to_string()
}

/// An alarm for unit tests.
#[cfg(test)]
pub(crate) fn test_alarm(op: &str, threshold: f64, n: i64, m: Option<i64>, treat: &str) -> Alarm {
    Alarm {
        alarm_name: "a".into(),
        alarm_arn: "arn:aws:cloudwatch:us-east-1:000000000000:alarm:a".into(),
        alarm_description: None,
        alarm_configuration_updated_timestamp: 0.0,
        actions_enabled: true,
        ok_actions: vec![],
        alarm_actions: vec![],
        insufficient_data_actions: vec![],
        state_value: "INSUFFICIENT_DATA".into(),
        state_reason: String::new(),
        state_reason_data: None,
        state_updated_timestamp: 0.0,
        state_transitioned_timestamp: 0.0,
        metric_name: "Errors".into(),
        namespace: "AWS/Lambda".into(),
        statistic: Some("Sum".into()),
        extended_statistic: None,
        dimensions: vec![],
        period: 60,
        unit: None,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        threshold,
        comparison_operator: op.into(),
        treat_missing_data: treat.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn values(vs: &[Option<f64>]) -> Vec<(i64, Option<f64>)> {
        vs.iter().enumerate().map(|(i, v)| (i as i64 * 60, *v)).collect()
    }

    fn state(a: &Alarm, vs: &[Option<f64>]) -> Option<String> {
        decide(a, &values(vs)).map(|d| d.state)
    }

    #[test]
    fn thresholds_and_m_out_of_n() {
        let a = test_alarm("GreaterThanOrEqualToThreshold", 1.0, 3, Some(2), "missing");
        assert_eq!(state(&a, &[Some(1.0), Some(0.0), Some(2.0)]).as_deref(), Some("ALARM"));
        assert_eq!(state(&a, &[Some(0.0), Some(0.0), Some(5.0)]).as_deref(), Some("OK"));
        let strict = test_alarm("GreaterThanThreshold", 1.0, 1, None, "missing");
        assert_eq!(state(&strict, &[Some(1.0)]).as_deref(), Some("OK"));
        let low = test_alarm("LessThanThreshold", 1.0, 1, None, "missing");
        assert_eq!(state(&low, &[Some(0.5)]).as_deref(), Some("ALARM"));
        let d = decide(&a, &values(&[Some(1.0), Some(0.0), Some(2.0)])).unwrap();
        assert!(d.reason.starts_with("Threshold Crossed: 2 out of the last 3 datapoints ["), "{}", d.reason);
        assert!(
            d.reason.contains("[2.0 (01/01/70 00:02:00), 0.0 (01/01/70 00:01:00), 1.0 (01/01/70 00:00:00)]"),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("greater than or equal to the threshold (1.0)"), "{}", d.reason);
    }

    #[test]
    fn missing_data_is_treated_as_configured() {
        let missing = [None, None];
        assert_eq!(
            state(&test_alarm("GreaterThanThreshold", 0.0, 2, None, "missing"), &missing).as_deref(),
            Some("INSUFFICIENT_DATA")
        );
        assert_eq!(
            state(&test_alarm("GreaterThanThreshold", 0.0, 2, None, "breaching"), &missing).as_deref(),
            Some("ALARM")
        );
        assert_eq!(
            state(&test_alarm("GreaterThanThreshold", 0.0, 2, None, "notBreaching"), &missing).as_deref(),
            Some("OK")
        );
        assert_eq!(state(&test_alarm("GreaterThanThreshold", 0.0, 2, None, "ignore"), &missing), None);
        // With some data, missing periods neither breach nor clear.
        let a = test_alarm("GreaterThanThreshold", 0.0, 2, Some(1), "missing");
        assert_eq!(state(&a, &[None, Some(3.0)]).as_deref(), Some("ALARM"));
    }

    #[test]
    fn transitions_remember_the_previous_state() {
        let a = test_alarm("GreaterThanThreshold", 0.0, 1, None, "missing");
        let t = apply(a, "ALARM", "Threshold Crossed", Some("{}".into()), 1_700_000_000.0);
        assert_eq!(
            (t.previous_value.as_str(), t.alarm.state_transitioned_timestamp),
            ("INSUFFICIENT_DATA", 1_700_000_000.0)
        );
        assert_eq!((t.alarm.state_value.as_str(), t.alarm.state_reason.as_str()), ("ALARM", "Threshold Crossed"));
    }

    #[test]
    fn actions_must_be_functions_or_topics() {
        assert!(check_action("arn:aws:lambda:us-east-1:000000000000:function:f").is_ok());
        assert!(check_action("arn:aws:lambda:us-east-1:000000000000:function:f:live").is_ok());
        assert!(check_action("arn:aws:sns:us-east-1:000000000000:t").is_ok());
        assert!(check_action("arn:aws:automate:us-east-1:ec2:stop").is_err());
    }
}
