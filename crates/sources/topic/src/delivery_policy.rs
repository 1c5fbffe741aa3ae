//! HTTP/S delivery policies (SNS's `DeliveryPolicy` attribute): how often
//! and how far apart a failing http/https delivery is retried, how many
//! deliveries a second a subscription takes, and the POST's content type.
//!
//! A topic's policy sits under `"http"` with `default…` names
//! (`defaultHealthyRetryPolicy`, `defaultThrottlePolicy`,
//! `defaultRequestPolicy`, `disableSubscriptionOverrides`); a
//! subscription's uses the plain names. The effective policy of a
//! subscription takes each field from the subscription (unless the topic
//! disables overrides), else from the topic, else SNS's default: 3 retries
//! 20 seconds apart, no throttling, `text/plain; charset=UTF-8`.
//!
//! Retries run in SNS's four phases: `numNoDelayRetries` at once,
//! `numMinDelayRetries` at `minDelayTarget`, then the backoff phase from
//! `minDelayTarget` to `maxDelayTarget`, then `numMaxDelayRetries` at
//! `maxDelayTarget`. SNS draws its backoff curves without formulas;
//! Lamina's are: linear (even steps), arithmetic (steps growing evenly,
//! a quadratic curve), geometric (a constant ratio) and exponential
//! (doubling from the minimum, capped at the maximum). SNS also adds
//! jitter; Lamina does not.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// SNS's default healthy retry policy for http/https.
const DEFAULT_DELAY_SECS: u32 = 20;
const DEFAULT_RETRIES: u32 = 3;
const MAX_RETRIES: u32 = 100;
const MAX_DELAY_SECS: u32 = 3600;
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// Content types a request policy may name (SNS's list).
const CONTENT_TYPES: &[&str] = &[
    "application/atom+xml",
    "application/json",
    "application/octet-stream",
    "application/soap+xml",
    "application/x-www-form-urlencoded",
    "application/xhtml+xml",
    "application/xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/plain",
    "text/xml",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl Backoff {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "linear" => Some(Self::Linear),
            "arithmetic" => Some(Self::Arithmetic),
            "geometric" => Some(Self::Geometric),
            "exponential" => Some(Self::Exponential),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Arithmetic => "arithmetic",
            Self::Geometric => "geometric",
            Self::Exponential => "exponential",
        }
    }
}

/// A retry policy as written: absent fields are inherited.
#[derive(Debug, Clone, Default, PartialEq)]
struct RetryFields {
    min_delay_secs: Option<u32>,
    max_delay_secs: Option<u32>,
    num_retries: Option<u32>,
    num_no_delay: Option<u32>,
    num_min_delay: Option<u32>,
    num_max_delay: Option<u32>,
    backoff: Option<Backoff>,
}

impl RetryFields {
    /// Fields set here win over `base`'s.
    fn over(&self, base: &RetryFields) -> RetryFields {
        RetryFields {
            min_delay_secs: self.min_delay_secs.or(base.min_delay_secs),
            max_delay_secs: self.max_delay_secs.or(base.max_delay_secs),
            num_retries: self.num_retries.or(base.num_retries),
            num_no_delay: self.num_no_delay.or(base.num_no_delay),
            num_min_delay: self.num_min_delay.or(base.num_min_delay),
            num_max_delay: self.num_max_delay.or(base.num_max_delay),
            backoff: self.backoff.or(base.backoff),
        }
    }

    /// Missing fields take SNS's defaults; a lone maximum below the
    /// default minimum pulls the minimum down with it (and the reverse).
    fn resolve(&self) -> RetryPolicy {
        let min =
            self.min_delay_secs.unwrap_or_else(|| DEFAULT_DELAY_SECS.min(self.max_delay_secs.unwrap_or(u32::MAX)));
        let max = self.max_delay_secs.unwrap_or(DEFAULT_DELAY_SECS).max(min);
        let num_retries = self.num_retries.unwrap_or(DEFAULT_RETRIES);
        let num_no_delay = self.num_no_delay.unwrap_or(0).min(num_retries);
        let num_min_delay = self.num_min_delay.unwrap_or(0).min(num_retries - num_no_delay);
        let num_max_delay = self.num_max_delay.unwrap_or(0).min(num_retries - num_no_delay - num_min_delay);
        RetryPolicy {
            min_delay_secs: min,
            max_delay_secs: max,
            num_retries,
            num_no_delay,
            num_min_delay,
            num_max_delay,
            backoff: self.backoff.unwrap_or(Backoff::Linear),
        }
    }
}

/// A complete retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub min_delay_secs: u32,
    pub max_delay_secs: u32,
    pub num_retries: u32,
    pub num_no_delay: u32,
    pub num_min_delay: u32,
    pub num_max_delay: u32,
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry); None
    /// once the policy is spent.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        if retry == 0 || retry > self.num_retries {
            return None;
        }
        let (min, max) = (f64::from(self.min_delay_secs), f64::from(self.max_delay_secs));
        let backoff_retries = self.num_retries - self.num_no_delay - self.num_min_delay - self.num_max_delay;
        let secs = if retry <= self.num_no_delay {
            0.0
        } else if retry <= self.num_no_delay + self.num_min_delay {
            min
        } else if retry <= self.num_no_delay + self.num_min_delay + backoff_retries {
            self.backoff_delay(retry - self.num_no_delay - self.num_min_delay, backoff_retries)
        } else {
            max
        };
        Some(Duration::from_millis((secs * 1000.0).round() as u64))
    }

    /// Step `step` (1-based) of a backoff phase of `steps` retries: from
    /// the minimum delay at the first to the maximum at the last.
    fn backoff_delay(&self, step: u32, steps: u32) -> f64 {
        let (min, max) = (f64::from(self.min_delay_secs), f64::from(self.max_delay_secs));
        if steps <= 1 {
            return min;
        }
        let t = f64::from(step - 1) / f64::from(steps - 1);
        match self.backoff {
            Backoff::Linear => min + (max - min) * t,
            Backoff::Arithmetic => min + (max - min) * t * t,
            Backoff::Geometric => min * (max / min).powf(t),
            Backoff::Exponential if step == steps => max,
            Backoff::Exponential => (min * 2f64.powi(step as i32 - 1)).min(max),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "minDelayTarget": self.min_delay_secs,
            "maxDelayTarget": self.max_delay_secs,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay,
            "numNoDelayRetries": self.num_no_delay,
            "numMinDelayRetries": self.num_min_delay,
            "backoffFunction": self.backoff.as_str(),
        })
    }
}

/// One level's policy (a topic's `http` section or a subscription's), parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Level {
    retry: RetryFields,
    max_receives_per_second: Option<u32>,
    content_type: Option<String>,
    /// Topic level only: subscriptions' own policies are ignored.
    disable_subscription_overrides: bool,
}

/// What one http/https subscription gets.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPolicy {
    pub retry: RetryPolicy,
    pub max_receives_per_second: Option<u32>,
    pub content_type: String,
}

impl HttpPolicy {
    /// The effective policy from the topic's and the subscription's
    /// `DeliveryPolicy` texts (either may be absent). Stored texts were
    /// checked when set; one that no longer parses counts as absent.
    pub fn resolve(topic: Option<&str>, subscription: Option<&str>) -> Self {
        let topic = topic.and_then(|t| parse_topic(t).ok()).unwrap_or_default();
        let sub = match subscription {
            Some(s) if !topic.disable_subscription_overrides => parse_subscription(s).ok().unwrap_or_default(),
            _ => Level::default(),
        };
        Self {
            retry: sub.retry.over(&topic.retry).resolve(),
            max_receives_per_second: sub.max_receives_per_second.or(topic.max_receives_per_second),
            content_type: sub.content_type.or(topic.content_type).unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
        }
    }

    /// A subscription's `EffectiveDeliveryPolicy`, in SNS's shape.
    pub fn subscription_json(&self) -> String {
        let mut doc = json!({
            "healthyRetryPolicy": self.retry.to_json(),
            "sicklyRetryPolicy": null,
            "throttlePolicy": self.max_receives_per_second.map(|n| json!({"maxReceivesPerSecond": n})),
            "guaranteed": false,
        });
        if self.content_type != DEFAULT_CONTENT_TYPE {
            doc["requestPolicy"] = json!({"headerContentType": self.content_type});
        }
        doc.to_string()
    }
}

/// A topic's `EffectiveDeliveryPolicy`: its own `http` section over SNS's defaults.
pub fn topic_effective_json(topic: Option<&str>) -> String {
    let level = topic.and_then(|t| parse_topic(t).ok()).unwrap_or_default();
    let mut http = Map::new();
    http.insert("defaultHealthyRetryPolicy".into(), level.retry.resolve().to_json());
    http.insert("disableSubscriptionOverrides".into(), Value::Bool(level.disable_subscription_overrides));
    if let Some(n) = level.max_receives_per_second {
        http.insert("defaultThrottlePolicy".into(), json!({"maxReceivesPerSecond": n}));
    }
    let content_type = level.content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into());
    http.insert("defaultRequestPolicy".into(), json!({"headerContentType": content_type}));
    json!({ "http": http }).to_string()
}

/// Parses and checks a topic's `DeliveryPolicy`; the error is SNS's
/// message after `Invalid parameter: DeliveryPolicy: `.
pub fn parse_topic(text: &str) -> Result<Level, String> {
    let doc = object(text)?;
    let Some(http) = doc.get("http") else { return Ok(Level::default()) };
    let Value::Object(http) = http else { return Err("http must be a JSON object".into()) };
    let mut level = Level {
        retry: retry_fields(http.get("defaultHealthyRetryPolicy"), "http.defaultHealthyRetryPolicy")?,
        max_receives_per_second: throttle(http.get("defaultThrottlePolicy"), "http.defaultThrottlePolicy")?,
        content_type: content_type(http.get("defaultRequestPolicy"), "http.defaultRequestPolicy")?,
        disable_subscription_overrides: false,
    };
    match http.get("disableSubscriptionOverrides") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => level.disable_subscription_overrides = *b,
        Some(_) => return Err("http.disableSubscriptionOverrides must be a boolean".into()),
    }
    Ok(level)
}

/// Parses and checks a subscription's `DeliveryPolicy`.
pub fn parse_subscription(text: &str) -> Result<Level, String> {
    let doc = object(text)?;
    Ok(Level {
        retry: retry_fields(doc.get("healthyRetryPolicy"), "healthyRetryPolicy")?,
        max_receives_per_second: throttle(doc.get("throttlePolicy"), "throttlePolicy")?,
        content_type: content_type(doc.get("requestPolicy"), "requestPolicy")?,
        disable_subscription_overrides: false,
    })
}

fn object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("Delivery policy must be a JSON object".into()),
        Err(_) => Err("failed to parse JSON".into()),
    }
}

/// A section that must be an object when present (null counts as absent).
fn section<'a>(v: Option<&'a Value>, path: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("{path} must be a JSON object")),
    }
}

fn int_field(
    m: &Map<String, Value>,
    path: &str,
    name: &str,
    min: u32,
    max: Option<u32>,
) -> Result<Option<u32>, String> {
    let Some(v) = m.get(name).filter(|v| !v.is_null()) else { return Ok(None) };
    let n = v.as_i64().ok_or_else(|| format!("{path}.{name} must be an integer"))?;
    if n < i64::from(min) {
        return Err(format!("{path}.{name} must be greater than or equal to {min}"));
    }
    if let Some(max) = max.filter(|max| n > i64::from(*max)) {
        return Err(format!("{path}.{name} must be less than or equal to {max}"));
    }
    u32::try_from(n).map(Some).map_err(|_| format!("{path}.{name} is too large"))
}

fn retry_fields(v: Option<&Value>, path: &str) -> Result<RetryFields, String> {
    let Some(m) = section(v, path)? else { return Ok(RetryFields::default()) };
    let fields =
        RetryFields {
            min_delay_secs: int_field(m, path, "minDelayTarget", 1, Some(MAX_DELAY_SECS))?,
            max_delay_secs: int_field(m, path, "maxDelayTarget", 1, Some(MAX_DELAY_SECS))?,
            num_retries: int_field(m, path, "numRetries", 0, Some(MAX_RETRIES))?,
            num_no_delay: int_field(m, path, "numNoDelayRetries", 0, None)?,
            num_min_delay: int_field(m, path, "numMinDelayRetries", 0, None)?,
            num_max_delay: int_field(m, path, "numMaxDelayRetries", 0, None)?,
            backoff: match m.get("backoffFunction") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(Backoff::parse(s).ok_or_else(|| {
                    format!("{path}.backoffFunction: the value [{s}] is not a valid backoff function")
                })?),
                Some(other) => {
                    return Err(format!("{path}.backoffFunction: the value [{other}] is not a valid backoff function"))
                }
            },
        };
    if let (Some(min), Some(max)) = (fields.min_delay_secs, fields.max_delay_secs) {
        if max < min {
            return Err(format!("{path}.maxDelayTarget must be greater than or equal to minDelayTarget"));
        }
    }
    let phases = [fields.num_no_delay, fields.num_min_delay, fields.num_max_delay].iter().flatten().sum::<u32>();
    if fields.num_retries.is_some_and(|n| n < phases) {
        return Err(format!(
            "{path}.numRetries must be greater than or equal to total of numMinDelayRetries, numNoDelayRetries and numMaxDelayRetries"
        ));
    }
    Ok(fields)
}

fn throttle(v: Option<&Value>, path: &str) -> Result<Option<u32>, String> {
    let Some(m) = section(v, path)? else { return Ok(None) };
    match m.get("maxReceivesPerSecond").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(n) => match n.as_i64() {
            Some(n) if n >= 1 => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
            _ => Err(format!("{path}.maxReceivesPerSecond must be >= 1")),
        },
    }
}

fn content_type(v: Option<&Value>, path: &str) -> Result<Option<String>, String> {
    let Some(m) = section(v, path)? else { return Ok(None) };
    match m.get("headerContentType").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(Value::String(ct)) => {
            let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if CONTENT_TYPES.contains(&essence.as_str()) {
                Ok(Some(ct.clone()))
            } else {
                Err(format!("{path}.headerContentType: the value [{ct}] is not a supported content type"))
            }
        }
        Some(other) => Err(format!("{path}.headerContentType: the value [{other}] is not a supported content type")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn delays(p: &HttpPolicy) -> Vec<f64> {
        (1..=p.retry.num_retries + 1).map_while(|r| p.retry.delay(r)).map(|d| d.as_secs_f64()).collect()
    }

    #[test]
    fn default_is_three_retries_twenty_seconds_apart() {
        let p = HttpPolicy::resolve(None, None);
        assert_eq!(delays(&p), [20.0, 20.0, 20.0]);
        assert_eq!(p.retry.delay(4), None);
        assert_eq!(p.content_type, DEFAULT_CONTENT_TYPE);
        assert!(topic_effective_json(None).contains(r#""numRetries":3"#));
    }

    #[test]
    fn phases_run_in_order() {
        let sub = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":5,"numRetries":8,
            "numNoDelayRetries":2,"numMinDelayRetries":1,"numMaxDelayRetries":2,"backoffFunction":"linear"}}"#;
        let p = HttpPolicy::resolve(None, Some(sub));
        assert_eq!(delays(&p), [0.0, 0.0, 1.0, 1.0, 3.0, 5.0, 5.0, 5.0]);
        let exp = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":16,"numRetries":5,"backoffFunction":"exponential"}}"#;
        assert_eq!(delays(&HttpPolicy::resolve(None, Some(exp))), [1.0, 2.0, 4.0, 8.0, 16.0]);
        let geo = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":100,"numRetries":3,"backoffFunction":"geometric"}}"#;
        assert_eq!(delays(&HttpPolicy::resolve(None, Some(geo))), [1.0, 10.0, 100.0]);
        let none = r#"{"healthyRetryPolicy":{"numRetries":0}}"#;
        assert!(delays(&HttpPolicy::resolve(None, Some(none))).is_empty());
    }

    #[test]
    fn subscription_overrides_the_topic_field_by_field_unless_disabled() {
        let topic = r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":10,"minDelayTarget":3,"maxDelayTarget":3},
            "defaultRequestPolicy":{"headerContentType":"application/json"}}}"#;
        let sub = r#"{"healthyRetryPolicy":{"numRetries":1},"throttlePolicy":{"maxReceivesPerSecond":5}}"#;
        let p = HttpPolicy::resolve(Some(topic), Some(sub));
        assert_eq!(delays(&p), [3.0]);
        assert_eq!(p.content_type, "application/json");
        assert_eq!(p.max_receives_per_second, Some(5));
        let locked = topic.replace("\"http\":{", "\"http\":{\"disableSubscriptionOverrides\":true,");
        assert_eq!(HttpPolicy::resolve(Some(&locked), Some(sub)).retry.num_retries, 10);
        let effective: Value = serde_json::from_str(&p.subscription_json()).unwrap();
        assert_eq!(effective["healthyRetryPolicy"]["numRetries"], 1);
        assert_eq!(effective["throttlePolicy"]["maxReceivesPerSecond"], 5);
        let t: Value = serde_json::from_str(&topic_effective_json(Some(&locked))).unwrap();
        assert_eq!(t["http"]["disableSubscriptionOverrides"], true);
        assert_eq!(t["http"]["defaultHealthyRetryPolicy"]["backoffFunction"], "linear");
    }

    #[test]
    fn bad_policies_get_snss_messages() {
        let err = |s: &str| parse_subscription(s).unwrap_err();
        assert_eq!(err("nope"), "failed to parse JSON");
        assert_eq!(
            err(r#"{"healthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":2}}"#),
            "healthyRetryPolicy.maxDelayTarget must be greater than or equal to minDelayTarget"
        );
        assert_eq!(
            err(r#"{"healthyRetryPolicy":{"numRetries":101}}"#),
            "healthyRetryPolicy.numRetries must be less than or equal to 100"
        );
        assert_eq!(
            err(r#"{"healthyRetryPolicy":{"minDelayTarget":0}}"#),
            "healthyRetryPolicy.minDelayTarget must be greater than or equal to 1"
        );
        assert!(err(r#"{"healthyRetryPolicy":{"numRetries":2,"numNoDelayRetries":3}}"#).contains("total of"));
        assert!(err(r#"{"healthyRetryPolicy":{"backoffFunction":"cubic"}}"#).contains("[cubic] is not a valid backoff"));
        assert!(err(r#"{"throttlePolicy":{"maxReceivesPerSecond":0}}"#).contains("must be >= 1"));
        assert!(err(r#"{"requestPolicy":{"headerContentType":"image/png"}}"#).contains("not a supported content type"));
        assert!(parse_topic(r#"{"http":{"defaultHealthyRetryPolicy":{"maxDelayTarget":3601}}}"#)
            .unwrap_err()
            .starts_with("http.defaultHealthyRetryPolicy.maxDelayTarget"));
        // What SNS itself answers with is accepted back.
        assert!(parse_subscription(&HttpPolicy::resolve(None, None).subscription_json()).is_ok());
        assert!(parse_topic(&topic_effective_json(None)).is_ok());
    }
}
