//! What an alarm's change of state does: each ARN among the new state's
//! actions gets CloudWatch's notification for its kind of target.
//!
//! - A Lambda function (name, version or alias ARN) is invoked
//!   asynchronously, through the scheduler's durable queue, with the alarm
//!   event CloudWatch sends Lambda actions (`"source": "aws.cloudwatch"`,
//!   `alarmData` with state, previous state and configuration).
//! - An SNS topic gets the JSON message CloudWatch publishes
//!   (`AlarmName`, `NewStateValue`, `OldStateValue`, `Trigger`, ...) with
//!   the subject `ALARM: "name" in US East (N. Virginia)`, through
//!   `lamina-topic`.
//!
//! Actions run only when the alarm's actions are enabled; a target that
//! does not exist is logged and skipped, as CloudWatch skips it.

use crate::alarms::Transition;
use crate::query::iso8601;
use lamina_scheduler::Scheduler;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// CloudWatch's timestamps in notifications: `2023-08-04T12:36:15.490+0000`.
fn stamp(secs: f64) -> String {
    iso8601(secs).replace('Z', "+0000")
}

/// CloudWatch's event for a Lambda alarm action.
pub fn lambda_event(t: &Transition, region: &str, account_id: &str) -> Value {
    let a = &t.alarm;
    let dims: serde_json::Map<String, Value> =
        a.dimensions.iter().map(|d| (d.name.clone(), Value::String(d.value.clone()))).collect();
    let mut state =
        json!({"value": a.state_value, "reason": a.state_reason, "timestamp": stamp(a.state_updated_timestamp)});
    if let Some(data) = &a.state_reason_data {
        state["reasonData"] = json!(data);
    }
    let mut previous =
        json!({"value": t.previous_value, "reason": t.previous_reason, "timestamp": stamp(t.previous_timestamp)});
    if let Some(data) = &t.previous_reason_data {
        previous["reasonData"] = json!(data);
    }
    let mut metric_stat = json!({
        "metric": {"namespace": a.namespace, "name": a.metric_name, "dimensions": dims},
        "period": a.period,
        "stat": a.stat_name(),
    });
    if let Some(unit) = &a.unit {
        metric_stat["unit"] = json!(unit);
    }
    let mut configuration = json!({
        "metrics": [{"id": uuid::Uuid::new_v4().to_string(), "metricStat": metric_stat, "returnData": true}],
    });
    if let Some(d) = &a.alarm_description {
        configuration["description"] = json!(d);
    }
    json!({
        "source": "aws.cloudwatch",
        "alarmArn": a.alarm_arn,
        "accountId": account_id,
        "time": stamp(a.state_updated_timestamp),
        "region": region,
        "alarmData": {
            "alarmName": a.alarm_name,
            "state": state,
            "previousState": previous,
            "configuration": configuration,
        },
    })
}

/// The message CloudWatch publishes to an SNS topic action.
pub fn sns_message(t: &Transition, region: &str, account_id: &str) -> Value {
    let a = &t.alarm;
    let dims: Vec<Value> = a.dimensions.iter().map(|d| json!({"value": d.value, "name": d.name})).collect();
    let (statistic_type, statistic) = match (&a.statistic, &a.extended_statistic) {
        (_, Some(p)) => ("ExtendedStatistic", p.clone()),
        (s, None) => ("Statistic", s.as_deref().unwrap_or("Average").to_uppercase()),
    };
    json!({
        "AlarmName": a.alarm_name,
        "AlarmDescription": a.alarm_description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": stamp(a.alarm_configuration_updated_timestamp),
        "NewStateValue": a.state_value,
        "NewStateReason": a.state_reason,
        "StateChangeTime": stamp(a.state_updated_timestamp),
        "Region": region_name(region),
        "AlarmArn": a.alarm_arn,
        "OldStateValue": t.previous_value,
        "OKActions": a.ok_actions,
        "AlarmActions": a.alarm_actions,
        "InsufficientDataActions": a.insufficient_data_actions,
        "Trigger": {
            "MetricName": a.metric_name,
            "Namespace": a.namespace,
            "StatisticType": statistic_type,
            "Statistic": statistic,
            "Unit": a.unit,
            "Dimensions": dims,
            "Period": a.period,
            "EvaluationPeriods": a.evaluation_periods,
            "DatapointsToAlarm": a.datapoints_to_alarm.unwrap_or(a.evaluation_periods),
            "ComparisonOperator": a.comparison_operator,
            "Threshold": a.threshold,
            "TreatMissingData": a.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        },
    })
}

/// The subject of the SNS message (SNS allows at most 100 characters).
pub fn sns_subject(t: &Transition, region: &str) -> String {
    let subject = format!("{}: \"{}\" in {}", t.alarm.state_value, t.alarm.alarm_name, region_name(region));
    subject.chars().take(100).collect()
}

/// The console's name for a region, as CloudWatch's notifications use it.
fn region_name(region: &str) -> String {
    let name = match region {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "eu-west-1" => "EU (Ireland)",
        "eu-west-2" => "EU (London)",
        "eu-central-1" => "EU (Frankfurt)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        other => other,
    };
    name.to_string()
}

/// Runs a transition's actions, if the alarm's actions are enabled.
pub fn run_actions(scheduler: &Arc<Scheduler>, t: &Transition) {
    let a = &t.alarm;
    if !a.actions_enabled {
        return;
    }
    let config = scheduler.config();
    for arn in a.actions_for(&a.state_value) {
        let outcome = if arn.contains(":sns:") {
            publish(scheduler, arn, t, &config.region, &config.account_id)
        } else {
            invoke(scheduler, arn, t, &config.region, &config.account_id)
        };
        match outcome {
            Ok(()) => tracing::info!(alarm = a.alarm_name, action = arn, state = a.state_value, "alarm action ran"),
            Err(e) => tracing::warn!(alarm = a.alarm_name, action = arn, error = e, "alarm action failed"),
        }
    }
}

fn invoke(scheduler: &Scheduler, arn: &str, t: &Transition, region: &str, account_id: &str) -> Result<(), String> {
    let target = lamina_core::names::FunctionRef::parse(arn).map_err(|e| e.0)?;
    let event = lambda_event(t, region, account_id).to_string();
    let request_id = lamina_scheduler::new_request_id();
    scheduler
        .enqueue(&target.name, target.qualifier.as_deref(), &request_id, event.as_bytes())
        .map_err(|e| e.to_string())
}

fn publish(
    scheduler: &Arc<Scheduler>,
    topic_arn: &str,
    t: &Transition,
    region: &str,
    account_id: &str,
) -> Result<(), String> {
    let topics = lamina_topic::Service::for_scheduler(scheduler).map_err(|e| e.to_string())?;
    let message = sns_message(t, region, account_id).to_string();
    topics
        .publish(topic_arn, Some(&sns_subject(t, region)), &message, &BTreeMap::new())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::alarms::{apply, test_alarm, Dimension};

    #[test]
    fn transitions_remember_the_previous_state_and_build_the_lambda_event() {
        let mut a = test_alarm("GreaterThanThreshold", 0.0, 1, None, "missing");
        a.alarm_description = Some("errors".into());
        a.dimensions = vec![Dimension { name: "FunctionName".into(), value: "f".into() }];
        let t = apply(a, "ALARM", "Threshold Crossed", Some("{}".into()), 1_700_000_000.0);
        assert_eq!(
            (t.previous_value.as_str(), t.alarm.state_transitioned_timestamp),
            ("INSUFFICIENT_DATA", 1_700_000_000.0)
        );
        let e = lambda_event(&t, "us-east-1", "000000000000");
        assert_eq!(e["source"], "aws.cloudwatch");
        assert_eq!(e["alarmData"]["state"]["value"], "ALARM");
        assert_eq!(e["alarmData"]["previousState"]["value"], "INSUFFICIENT_DATA");
        assert_eq!(
            e["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["FunctionName"],
            "f"
        );
        assert_eq!(e["time"], "2023-11-14T22:13:20.000+0000");
    }

    #[test]
    fn the_sns_message_has_cloudwatch_fields_and_subject() {
        let mut a = test_alarm("GreaterThanOrEqualToThreshold", 1.0, 2, Some(1), "missing");
        a.dimensions = vec![Dimension { name: "FunctionName".into(), value: "f".into() }];
        let t = apply(a, "ALARM", "Threshold Crossed", None, 1_700_000_000.0);
        let m = sns_message(&t, "us-east-1", "000000000000");
        assert_eq!(
            (m["NewStateValue"].as_str(), m["OldStateValue"].as_str()),
            (Some("ALARM"), Some("INSUFFICIENT_DATA"))
        );
        assert_eq!(m["Region"], "US East (N. Virginia)");
        assert_eq!(m["Trigger"]["Statistic"], "SUM");
        assert_eq!(m["Trigger"]["Dimensions"][0], json!({"value": "f", "name": "FunctionName"}));
        assert_eq!(m["Trigger"]["DatapointsToAlarm"], 1);
        assert_eq!(m["StateChangeTime"], "2023-11-14T22:13:20.000+0000");
        assert_eq!(sns_subject(&t, "us-east-1"), "ALARM: \"a\" in US East (N. Virginia)");
    }
}
