//! Wire shapes of the EventBridge Scheduler API (rest-json, PascalCase
//! members, timestamps as epoch seconds). A [`Schedule`] is stored as the
//! JSON that GetSchedule returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of CreateSchedule and UpdateSchedule. Required members are
/// options so that a missing one gets a ValidationException that names it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    pub group_name: Option<String>,
    pub schedule_expression: Option<String>,
    pub schedule_expression_timezone: Option<String>,
    pub start_date: Option<Value>,
    pub end_date: Option<Value>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub kms_key_arn: Option<String>,
    pub target: Option<Target>,
    pub flexible_time_window: Option<FlexibleTimeWindow>,
    pub action_after_completion: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    #[serde(default)]
    pub arn: String,
    #[serde(default)]
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    /// Parameters of other target types, kept and returned as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// EventBridge Scheduler's defaults: 185 attempts within 24 hours.
pub const DEFAULT_MAX_RETRY_ATTEMPTS: i64 = 185;
pub const DEFAULT_MAX_EVENT_AGE_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    #[serde(default)]
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<i64>,
}

/// A schedule as GetSchedule returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    pub arn: String,
    pub group_name: String,
    pub name: String,
    pub schedule_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub state: String,
    pub creation_date: f64,
    pub last_modification_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub target: Target,
    pub flexible_time_window: FlexibleTimeWindow,
    pub action_after_completion: String,
}

impl Schedule {
    pub fn summary(&self) -> Value {
        serde_json::json!({
            "Arn": self.arn,
            "Name": self.name,
            "GroupName": self.group_name,
            "State": self.state,
            "CreationDate": self.creation_date,
            "LastModificationDate": self.last_modification_date,
            "Target": { "Arn": self.target.arn },
        })
    }

    pub fn enabled(&self) -> bool {
        self.state == "ENABLED"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A schedule group as GetScheduleGroup returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    pub arn: String,
    pub name: String,
    pub state: String,
    pub creation_date: f64,
    pub last_modification_date: f64,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Group {
    /// GetScheduleGroup's answer (tags have their own operation).
    pub fn wire(&self) -> Value {
        serde_json::json!({
            "Arn": self.arn,
            "Name": self.name,
            "State": self.state,
            "CreationDate": self.creation_date,
            "LastModificationDate": self.last_modification_date,
        })
    }
}

/// The body of CreateScheduleGroup and TagResource.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsInput {
    #[serde(default)]
    pub tags: Vec<Tag>,
}

pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub fn millis(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}
