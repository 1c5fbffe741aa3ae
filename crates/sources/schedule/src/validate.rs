//! Checks a CreateSchedule / UpdateSchedule request and turns it into a
//! stored [`Schedule`] and the [`Plan`] that says when it fires. Every
//! rejection is a ValidationException with AWS's style of message.

use lamina_core::FunctionRef;
use serde_json::Value;

use crate::error::ScheduleError;
use crate::expr::{self, Expression, Plan};
use crate::model::{secs, FlexibleTimeWindow, Schedule, ScheduleInput, Target};

pub const DEFAULT_GROUP: &str = "default";
const NAME_PATTERN: &str = "[0-9a-zA-Z-_.]+";

fn not_null(member: &str) -> ScheduleError {
    ScheduleError::Validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// Schedule and group names: 1–64 of `[0-9a-zA-Z-_.]`.
pub fn name(value: &str, member: &str) -> Result<(), ScheduleError> {
    let ok_chars = value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if value.is_empty() || value.len() > 64 || !ok_chars {
        let constraint = if value.is_empty() || value.len() > 64 {
            "Member must have length between 1 and 64".to_string()
        } else {
            format!("Member must satisfy regular expression pattern: {NAME_PATTERN}")
        };
        return Err(ScheduleError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        )));
    }
    Ok(())
}

/// A timestamp member: epoch seconds (what the SDKs send) or ISO 8601.
fn timestamp_ms(v: &Value, member: &str) -> Result<i64, ScheduleError> {
    let bad = || ScheduleError::Validation(format!("Invalid timestamp for {member}: {v}"));
    match v {
        Value::Number(n) => n.as_f64().map(crate::model::millis).ok_or_else(bad),
        Value::String(s) => {
            if let Ok(f) = s.parse::<f64>() {
                return Ok(crate::model::millis(f));
            }
            s.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// What a valid request becomes.
pub struct Checked {
    pub schedule: Schedule,
    pub plan: Plan,
}

/// Validates `input` for schedule `name` in `group`. `created_ms` is the
/// creation date to keep (the update case) and `now_ms` the request time.
pub fn schedule(
    schedule_name: &str,
    group: &str,
    arn: String,
    input: ScheduleInput,
    created_ms: Option<i64>,
    now_ms: i64,
) -> Result<Checked, ScheduleError> {
    name(schedule_name, "name")?;
    let expression_text = input.schedule_expression.ok_or_else(|| not_null("scheduleExpression"))?;
    let target = input.target.ok_or_else(|| not_null("target"))?;
    let window = input.flexible_time_window.ok_or_else(|| not_null("flexibleTimeWindow"))?;
    if expression_text.is_empty() || expression_text.len() > 256 {
        return Err(ScheduleError::Validation(format!(
            "1 validation error detected: Value '{expression_text}' at 'scheduleExpression' failed to satisfy constraint: \
             Member must have length between 1 and 256"
        )));
    }
    let expression = Expression::parse(&expression_text)
        .map_err(|why| ScheduleError::Validation(format!("Invalid Schedule Expression {expression_text}: {why}.")))?;
    let tz_name = input.schedule_expression_timezone.clone();
    let tz = match tz_name.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(n) => expr::time_zone(n).map_err(|_| {
            ScheduleError::Validation(format!("Invalid ScheduleExpressionTimezone: {n} is not a valid time zone."))
        })?,
    };
    let start_ms = input.start_date.as_ref().map(|v| timestamp_ms(v, "StartDate")).transpose()?;
    let end_ms = input.end_date.as_ref().map(|v| timestamp_ms(v, "EndDate")).transpose()?;
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if e <= s {
            return Err(ScheduleError::Validation("The StartDate must come before the EndDate.".into()));
        }
    }
    if let Some(e) = end_ms {
        if e < now_ms && !expression.is_one_time() {
            return Err(ScheduleError::Validation(
                "The EndDate you specify cannot be earlier than the current time.".into(),
            ));
        }
    }
    let state = input.state.unwrap_or_else(|| "ENABLED".into());
    if state != "ENABLED" && state != "DISABLED" {
        return Err(enum_error(&state, "state", "[ENABLED, DISABLED]"));
    }
    let action = input.action_after_completion.unwrap_or_else(|| "NONE".into());
    if action != "NONE" && action != "DELETE" {
        return Err(enum_error(&action, "actionAfterCompletion", "[NONE, DELETE]"));
    }
    if let Some(d) = &input.description {
        if d.len() > 512 {
            return Err(ScheduleError::Validation(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: \
                 Member must have length less than or equal to 512"
                    .into(),
            ));
        }
    }
    let target = check_target(target)?;
    let window = check_window(window)?;
    let group_name = group.to_string();
    let created = created_ms.unwrap_or(now_ms);
    let schedule = Schedule {
        arn,
        group_name,
        name: schedule_name.to_string(),
        schedule_expression: expression_text,
        schedule_expression_timezone: tz_name,
        start_date: start_ms.map(secs),
        end_date: end_ms.map(secs),
        description: input.description,
        state,
        creation_date: secs(created),
        last_modification_date: secs(now_ms),
        kms_key_arn: input.kms_key_arn,
        target,
        flexible_time_window: window,
        action_after_completion: action,
    };
    let plan = Plan { expression, tz, start_ms, end_ms, anchor_ms: now_ms };
    Ok(Checked { schedule, plan })
}

fn enum_error(value: &str, member: &str, set: &str) -> ScheduleError {
    ScheduleError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
         Member must satisfy enum value set: {set}"
    ))
}

fn check_target(mut t: Target) -> Result<Target, ScheduleError> {
    if t.arn.is_empty() {
        return Err(not_null("target.arn"));
    }
    if t.role_arn.is_empty() {
        return Err(not_null("target.roleArn"));
    }
    if !(t.role_arn.starts_with("arn:") && t.role_arn.contains(":iam::") && t.role_arn.contains(":role/")) {
        return Err(ScheduleError::Validation(format!(
            "1 validation error detected: Value '{}' at 'target.roleArn' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: arn:aws[a-z-]*:iam::\\d{{12}}:role\\/[\\w+=,.@\\/-]+",
            t.role_arn
        )));
    }
    // AWS does not check that the function exists (it may be created
    // later); Lamina can only deliver to functions, so the ARN must be one.
    if !t.arn.starts_with("arn:") || !t.arn.contains(":lambda:") || FunctionRef::parse(&t.arn).is_err() {
        return Err(ScheduleError::Validation(format!(
            "Invalid target ARN {}: Lamina delivers schedules to Lambda functions only \
             (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]).",
            t.arn
        )));
    }
    if matches!(&t.input, Some(i) if i.is_empty()) {
        return Err(ScheduleError::Validation(
            "1 validation error detected: Value '' at 'target.input' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
                .into(),
        ));
    }
    let mut retry = t.retry_policy.unwrap_or_default();
    if let Some(age) = retry.maximum_event_age_in_seconds {
        if !(60..=86_400).contains(&age) {
            return Err(range_error(age, "target.retryPolicy.maximumEventAgeInSeconds", 60, 86_400));
        }
    }
    if let Some(n) = retry.maximum_retry_attempts {
        if !(0..=185).contains(&n) {
            return Err(range_error(n, "target.retryPolicy.maximumRetryAttempts", 0, 185));
        }
    }
    // GetSchedule shows the defaults, as AWS does.
    retry.maximum_event_age_in_seconds.get_or_insert(crate::model::DEFAULT_MAX_EVENT_AGE_SECS);
    retry.maximum_retry_attempts.get_or_insert(crate::model::DEFAULT_MAX_RETRY_ATTEMPTS);
    t.retry_policy = Some(retry);
    Ok(t)
}

fn range_error(value: i64, member: &str, min: i64, max: i64) -> ScheduleError {
    let constraint = if value < min {
        format!("Member must have value greater than or equal to {min}")
    } else {
        format!("Member must have value less than or equal to {max}")
    };
    ScheduleError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

fn check_window(w: FlexibleTimeWindow) -> Result<FlexibleTimeWindow, ScheduleError> {
    match (w.mode.as_str(), w.maximum_window_in_minutes) {
        ("", _) => Err(not_null("flexibleTimeWindow.mode")),
        ("OFF", None) => Ok(w),
        ("OFF", Some(_)) => Err(ScheduleError::Validation(
            "MaximumWindowInMinutes must not be set when the FlexibleTimeWindow Mode is OFF.".into(),
        )),
        ("FLEXIBLE", None) => Err(ScheduleError::Validation(
            "MaximumWindowInMinutes is required when the FlexibleTimeWindow Mode is FLEXIBLE.".into(),
        )),
        ("FLEXIBLE", Some(m)) if (1..=1440).contains(&m) => Ok(w),
        ("FLEXIBLE", Some(m)) => Err(range_error(m, "flexibleTimeWindow.maximumWindowInMinutes", 1, 1440)),
        (other, _) => Err(enum_error(other, "flexibleTimeWindow.mode", "[OFF, FLEXIBLE]")),
    }
}
