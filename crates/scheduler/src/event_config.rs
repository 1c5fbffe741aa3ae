//! Per-function (and per-qualifier) settings for asynchronous invocation:
//! how often to retry, how old an event may get, and where to send the
//! outcome (PutFunctionEventInvokeConfig). Kept in the store as the setting
//! `event-invoke:<qualifier>`.

use serde::{Deserialize, Serialize};

pub const SETTING_PREFIX: &str = "event-invoke:";
/// Lambda's defaults: two retries, events kept six hours.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
pub const DEFAULT_MAX_AGE_SECS: u32 = 21_600;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_secs: Option<u32>,
    /// Destination ARNs (Lamina delivers to Lambda functions).
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified_ms: i64,
}

impl EventInvokeConfig {
    pub fn max_retries(&self) -> u32 {
        self.maximum_retry_attempts.unwrap_or(DEFAULT_MAX_RETRIES)
    }

    pub fn max_age_ms(&self) -> i64 {
        i64::from(self.maximum_event_age_secs.unwrap_or(DEFAULT_MAX_AGE_SECS)) * 1000
    }
}

pub fn setting_key(qualifier: &str) -> String {
    format!("{SETTING_PREFIX}{qualifier}")
}

/// Checks a destination ARN: Lamina can deliver to Lambda functions; the
/// other destination kinds wait for their services.
pub fn check_destination(arn: &str) -> Result<(), String> {
    if arn.starts_with("arn:aws:lambda:") && arn.contains(":function:") {
        return Ok(());
    }
    if arn.starts_with("arn:aws:sqs:") || arn.starts_with("arn:aws:sns:") || arn.starts_with("arn:aws:events:") {
        return Err(format!("Lamina does not deliver to {arn} yet: only Lambda function destinations are supported."));
    }
    Err(format!("The destination ARN {arn} is invalid."))
}
