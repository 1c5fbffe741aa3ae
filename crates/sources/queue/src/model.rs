//! What a queue and a message are: queue attributes with SQS's limits, the
//! message record, and the MD5 digests SQS returns (body and attributes).

use crate::error::{SqsError, SqsResult};
use base64::Engine as _;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_VISIBILITY_TIMEOUT_SECS: u32 = 30;
pub const MAX_VISIBILITY_TIMEOUT_SECS: u32 = 43_200;
pub const DEFAULT_RETENTION_SECS: u32 = 345_600;
pub const MAX_MESSAGE_BYTES: u32 = 262_144;
pub const MAX_DELAY_SECS: u32 = 900;
pub const MAX_WAIT_SECS: u32 = 20;
/// FIFO deduplication window.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A queue's configuration: the settable attributes, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub visibility_timeout_secs: u32,
    pub retention_secs: u32,
    pub delay_secs: u32,
    pub max_message_bytes: u32,
    pub receive_wait_secs: u32,
    pub redrive: Option<Redrive>,
    pub fifo: bool,
    pub content_based_dedup: bool,
    /// Attributes kept and echoed but without behaviour here (Policy,
    /// RedriveAllowPolicy, KmsMasterKeyId, DeduplicationScope, ...).
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl Redrive {
    pub fn to_json(&self) -> String {
        serde_json::json!({"deadLetterTargetArn": self.dead_letter_target_arn, "maxReceiveCount": self.max_receive_count})
            .to_string()
    }
}

/// Attributes accepted without behaviour.
const PASSIVE_ATTRIBUTES: &[&str] = &[
    "Policy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

impl QueueConfig {
    pub fn new(fifo: bool) -> Self {
        Self {
            visibility_timeout_secs: DEFAULT_VISIBILITY_TIMEOUT_SECS,
            retention_secs: DEFAULT_RETENTION_SECS,
            delay_secs: 0,
            max_message_bytes: MAX_MESSAGE_BYTES,
            receive_wait_secs: 0,
            redrive: None,
            fifo,
            content_based_dedup: false,
            other: BTreeMap::new(),
        }
    }

    /// Applies attributes from CreateQueue (`creating`) or SetQueueAttributes.
    pub fn apply(&mut self, attrs: &BTreeMap<String, String>, creating: bool) -> SqsResult<()> {
        for (name, value) in attrs {
            let invalid = |reason: &str| SqsError::InvalidAttributeValue { name: name.clone(), reason: reason.into() };
            let int = |lo: u32, hi: u32| -> SqsResult<u32> {
                value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|v| (lo..=hi).contains(v))
                    .ok_or_else(|| invalid(&format!("Value must be between {lo} and {hi}.")))
            };
            match name.as_str() {
                "VisibilityTimeout" => self.visibility_timeout_secs = int(0, MAX_VISIBILITY_TIMEOUT_SECS)?,
                "MessageRetentionPeriod" => self.retention_secs = int(60, 1_209_600)?,
                "DelaySeconds" => self.delay_secs = int(0, MAX_DELAY_SECS)?,
                "MaximumMessageSize" => self.max_message_bytes = int(1024, MAX_MESSAGE_BYTES)?,
                "ReceiveMessageWaitTimeSeconds" => self.receive_wait_secs = int(0, MAX_WAIT_SECS)?,
                "RedrivePolicy" => self.redrive = parse_redrive(value).map_err(|r| invalid(&r))?,
                "FifoQueue" => {
                    let want = parse_bool(value).ok_or_else(|| invalid("Value must be true or false."))?;
                    if !creating || want != self.fifo {
                        return Err(invalid("Reason: Modifying queue type is not supported."));
                    }
                }
                "ContentBasedDeduplication" => {
                    if !self.fifo {
                        return Err(SqsError::InvalidAttributeName { name: name.clone() });
                    }
                    self.content_based_dedup =
                        parse_bool(value).ok_or_else(|| invalid("Value must be true or false."))?;
                }
                "DeduplicationScope" | "FifoThroughputLimit" if !self.fifo => {
                    return Err(SqsError::InvalidAttributeName { name: name.clone() });
                }
                n if PASSIVE_ATTRIBUTES.contains(&n) => {
                    self.other.insert(name.clone(), value.clone());
                }
                _ => return Err(SqsError::InvalidAttributeName { name: name.clone() }),
            }
        }
        Ok(())
    }

    /// The settable attributes as SQS reports them.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        out.insert("VisibilityTimeout".into(), self.visibility_timeout_secs.to_string());
        out.insert("MessageRetentionPeriod".into(), self.retention_secs.to_string());
        out.insert("DelaySeconds".into(), self.delay_secs.to_string());
        out.insert("MaximumMessageSize".into(), self.max_message_bytes.to_string());
        out.insert("ReceiveMessageWaitTimeSeconds".into(), self.receive_wait_secs.to_string());
        out.insert("SqsManagedSseEnabled".into(), "false".into());
        if let Some(r) = &self.redrive {
            out.insert("RedrivePolicy".into(), r.to_json());
        }
        if self.fifo {
            out.insert("FifoQueue".into(), "true".into());
            out.insert("ContentBasedDeduplication".into(), self.content_based_dedup.to_string());
            out.insert("DeduplicationScope".into(), "queue".into());
            out.insert("FifoThroughputLimit".into(), "perQueue".into());
        }
        for (k, v) in &self.other {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// For CreateQueue's idempotence: the first given attribute whose value
    /// differs from this queue's.
    pub fn differs(&self, requested: &QueueConfig, given: &BTreeMap<String, String>) -> Option<String> {
        let mine = self.attributes();
        let theirs = requested.attributes();
        given.keys().find(|k| mine.get(*k) != theirs.get(*k)).cloned()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_redrive(value: &str) -> Result<Option<Redrive>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_str(value).map_err(|_| "Reason: Invalid JSON for RedrivePolicy.".to_string())?;
    let arn = v
        .get("deadLetterTargetArn")
        .and_then(|a| a.as_str())
        .ok_or("Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")?;
    let count = match v.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => return Err("Reason: Redrive policy does not contain mandatory attribute: maxReceiveCount.".into()),
    };
    let count = count
        .filter(|c| (1..=1000).contains(c))
        .ok_or("Reason: Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")?;
    if queue_name_from_arn(arn).is_none() {
        return Err("Reason: Invalid value for deadLetterTargetArn.".into());
    }
    Ok(Some(Redrive { dead_letter_target_arn: arn.to_string(), max_receive_count: count as u32 }))
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → NAME.
pub fn queue_name_from_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// SQS queue names: 1–80 of `[A-Za-z0-9_-]`, FIFO ones ending in `.fifo`.
pub fn validate_queue_name(name: &str) -> SqsResult<()> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !stem.is_empty()
        && name.len() <= 80
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SqsError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length".into(),
        ))
    }
}

/// One message attribute value (`String`, `Number`, `Binary`, with an
/// optional custom suffix such as `Number.float`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Base64 in storage and on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

impl AttrValue {
    /// Bytes counted against the message size limit.
    pub fn size(&self, name: &str) -> usize {
        let value = match (&self.string_value, &self.binary_value) {
            (Some(s), _) => s.len(),
            (None, Some(b)) => b.len() / 4 * 3,
            _ => 0,
        };
        name.len() + self.data_type.len() + value
    }

    fn is_binary(&self) -> bool {
        self.data_type.starts_with("Binary")
    }
}

pub type Attributes = BTreeMap<String, AttrValue>;

/// Validates message attributes (names, types, values).
pub fn validate_attributes(attrs: &Attributes) -> SqsResult<()> {
    if attrs.len() > 10 {
        return Err(SqsError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    for (name, v) in attrs {
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.");
        if !name_ok {
            return Err(SqsError::InvalidParameterValue(format!("Message (user) attribute name '{name}' is invalid.")));
        }
        let base = v.data_type.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(SqsError::InvalidParameterValue(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let has_value = if base == "Binary" {
            v.binary_value.as_ref().is_some_and(|b| !b.is_empty())
        } else {
            v.string_value.as_ref().is_some_and(|s| !s.is_empty())
        };
        if !has_value {
            return Err(SqsError::InvalidParameterValue(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            )));
        }
        if base == "Number" && v.string_value.as_deref().is_some_and(|s| s.trim().parse::<f64>().is_err()) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Can't cast the value of message (user) attribute '{name}' to a number."
            )));
        }
        if let Some(b) = &v.binary_value {
            if base64::engine::general_purpose::STANDARD.decode(b).is_err() {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Message (user) attribute '{name}' has an invalid binary value."
                )));
            }
        }
    }
    Ok(())
}

/// SQS's allowed body characters.
pub fn valid_body(body: &str) -> bool {
    body.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// MD5OfMessageAttributes as SQS defines it: for each attribute in name
/// order, the length-prefixed (4 bytes, big-endian) name and data type, a
/// transport byte (1 string, 2 binary), then the length-prefixed value.
pub fn md5_of_attributes(attrs: &Attributes) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut buf = Vec::new();
    let put = |buf: &mut Vec<u8>, b: &[u8]| {
        buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
        buf.extend_from_slice(b);
    };
    for (name, v) in attrs {
        put(&mut buf, name.as_bytes());
        put(&mut buf, v.data_type.as_bytes());
        if v.is_binary() {
            let bytes = v
                .binary_value
                .as_ref()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .unwrap_or_default();
            buf.push(2);
            put(&mut buf, &bytes);
        } else {
            buf.push(1);
            put(&mut buf, v.string_value.as_deref().unwrap_or("").as_bytes());
        }
    }
    Some(md5_hex(&buf))
}

/// The parts of a message that never change after it is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageData {
    pub id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
    pub md5_body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_attributes: Option<String>,
    pub sent_ms: i64,
    pub sender_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
    /// Set when the message was moved here by a redrive policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_source_arn: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_md5_matches_sqs() {
        // Reference value computed by botocore's own SQS MD5 check algorithm.
        let mut a = Attributes::new();
        a.insert(
            "a".into(),
            AttrValue { data_type: "String".into(), string_value: Some("b".into()), binary_value: None },
        );
        let mut buf = Vec::new();
        for part in [&b"a"[..], b"String"] {
            buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
            buf.extend_from_slice(part);
        }
        buf.push(1);
        buf.extend_from_slice(&1u32.to_be_bytes());
        buf.push(b'b');
        assert_eq!(md5_of_attributes(&a), Some(md5_hex(&buf)));
        assert_eq!(md5_of_attributes(&Attributes::new()), None);
    }

    #[test]
    fn queue_names_and_attributes_are_validated() {
        assert!(validate_queue_name("ok-name_1").is_ok());
        assert!(validate_queue_name("jobs.fifo").is_ok());
        assert!(validate_queue_name("bad name").is_err());
        assert!(validate_queue_name(&"x".repeat(81)).is_err());
        let mut c = QueueConfig::new(false);
        let mut attrs = BTreeMap::new();
        attrs.insert("VisibilityTimeout".to_string(), "50000".to_string());
        assert!(matches!(c.apply(&attrs, true), Err(SqsError::InvalidAttributeValue { .. })));
        attrs.clear();
        attrs.insert(
            "RedrivePolicy".to_string(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#.to_string(),
        );
        c.apply(&attrs, true).unwrap();
        assert_eq!(c.redrive.as_ref().map(|r| r.max_receive_count), Some(3));
        attrs.clear();
        attrs.insert("Nope".to_string(), "1".to_string());
        assert!(matches!(c.apply(&attrs, true), Err(SqsError::InvalidAttributeName { .. })));
    }
}
