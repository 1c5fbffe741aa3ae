//! Topics and subscriptions as SNS describes them: names, ARNs, which
//! attributes may be set, and the attribute maps the Get* actions answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery_policy::HttpPolicy;
use crate::error::{TopicError, TopicResult};

/// A message attribute as Publish takes it (`DataType` is `String`,
/// `String.Array`, `Number` or `Binary`, optionally with a `.custom` suffix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttribute {
    pub fn string(value: &str) -> Self {
        Self { data_type: "String".into(), string_value: Some(value.into()), binary_value: None }
    }

    /// The base type: `Number.float` → `Number`.
    pub fn base_type(&self) -> &str {
        let t = self.data_type.as_str();
        ["String.Array", "String", "Number", "Binary"]
            .into_iter()
            .find(|b| t == *b || t.starts_with(&format!("{b}.")))
            .unwrap_or(t)
    }

    /// The value as SNS shows it in notifications (binary as base64).
    pub fn display_value(&self) -> String {
        match (&self.string_value, &self.binary_value) {
            (Some(s), _) => s.clone(),
            (None, Some(b)) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
            (None, None) => String::new(),
        }
    }

    /// Bytes counted toward the message size limit: name, type and value.
    pub fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

/// Checks Publish's message attributes the way SNS does.
pub fn validate_message_attributes(attrs: &BTreeMap<String, MessageAttribute>) -> TopicResult<()> {
    if attrs.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(TopicError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attrs.len()
        )));
    }
    for (name, a) in attrs {
        let base = a.base_type();
        if !matches!(base, "String" | "String.Array" | "Number" | "Binary") {
            return Err(TopicError::InvalidParameterValue(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let missing = match base {
            "Binary" => a.binary_value.is_none(),
            _ => a.string_value.as_deref().is_none_or(str::is_empty),
        };
        if missing {
            return Err(TopicError::InvalidParameterValue(format!(
                "The message attribute '{name}' with type '{base}' must contain non-empty message attribute value for message attribute type '{base}'."
            )));
        }
        let value = a.string_value.as_deref().unwrap_or("");
        if base == "Number" && value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) {
            return Err(TopicError::InvalidParameterValue(format!(
                "Could not cast message attribute '{name}' value to number."
            )));
        }
        if base == "String.Array" && !serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| v.is_array()) {
            return Err(TopicError::InvalidParameterValue(format!(
                "The message attribute '{name}' with type 'String.Array' has an invalid value: it must be a JSON array."
            )));
        }
    }
    Ok(())
}

pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// The default (and Lamina's largest accepted) MaximumMessageSize: 256 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;

/// Topic attributes a caller may set (CreateTopic and SetTopicAttributes).
const SETTABLE_TOPIC_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "FifoThroughputScope",
    "ArchivePolicy",
    "MaximumMessageSize",
    "DataProtectionPolicy",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "LambdaFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "SQSFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "FirehoseFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ApplicationFailureFeedbackRoleArn",
];

/// Subscription attributes a caller may set (Subscribe and SetSubscriptionAttributes).
const SETTABLE_SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub arn: String,
    pub name: String,
    /// Attributes as set (FifoTopic included for FIFO topics).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Topic {
    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn content_based_dedup(&self) -> bool {
        self.attributes.get("ContentBasedDeduplication").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn max_message_bytes(&self) -> usize {
        self.attributes.get("MaximumMessageSize").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

/// Checks a topic name and its FIFO-ness against each other.
pub fn validate_topic_name(name: &str, fifo: bool) -> TopicResult<()> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let chars_ok = !stem.is_empty()
        && name.len() <= 256
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if fifo && (!chars_ok || !name.ends_with(".fifo")) {
        return Err(TopicError::InvalidParameter(
            "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.".into(),
        ));
    }
    if !fifo && (!chars_ok || name.ends_with(".fifo")) {
        return Err(TopicError::InvalidParameter("Invalid parameter: Topic Name".into()));
    }
    Ok(())
}

/// Checks one topic attribute being set; `creating` allows `FifoTopic`.
pub fn validate_topic_attribute(name: &str, value: &str, creating: bool, fifo: bool) -> TopicResult<()> {
    let invalid = |why: &str| TopicError::InvalidParameter(format!("Invalid parameter: {why}"));
    match name {
        "FifoTopic" if creating => {
            if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                Err(invalid("Attributes Reason: FifoTopic must be true or false"))
            }
        }
        "FifoTopic" => Err(invalid("AttributeName")),
        "ContentBasedDeduplication" => {
            if !fifo {
                return Err(invalid("Attributes Reason: Content based deduplication can only be set for FIFO topics"));
            }
            if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                Err(invalid("Attributes Reason: ContentBasedDeduplication must be true or false"))
            }
        }
        "MaximumMessageSize" => match value.parse::<usize>() {
            Ok(n) if (1024..=DEFAULT_MAX_MESSAGE_BYTES).contains(&n) => Ok(()),
            _ => Err(invalid("Attributes Reason: MaximumMessageSize must be between 1024 and 262144 in Lamina")),
        },
        "DeliveryPolicy" if !value.is_empty() => {
            crate::delivery_policy::parse_topic(value).map(|_| ()).map_err(|e| invalid(&format!("DeliveryPolicy: {e}")))
        }
        "Policy" | "DataProtectionPolicy" | "ArchivePolicy" if !value.is_empty() => {
            serde_json::from_str::<serde_json::Value>(value)
                .map(|_| ())
                .map_err(|_| invalid(&format!("Attributes Reason: {name}: failed to parse JSON")))
        }
        n if SETTABLE_TOPIC_ATTRIBUTES.contains(&n) => Ok(()),
        _ if creating => Err(invalid("Attributes Reason: Unknown attribute")),
        _ => Err(invalid("AttributeName")),
    }
}

/// The topic's GetTopicAttributes map.
pub fn topic_attributes(t: &Topic, owner: &str, counts: (usize, usize)) -> BTreeMap<String, String> {
    let mut out = t.attributes.clone();
    out.insert("TopicArn".into(), t.arn.clone());
    out.insert("Owner".into(), owner.into());
    out.entry("DisplayName".into()).or_default();
    out.entry("Policy".into()).or_insert_with(|| default_policy(&t.arn, owner));
    out.insert("SubscriptionsConfirmed".into(), counts.0.to_string());
    out.insert("SubscriptionsPending".into(), counts.1.to_string());
    out.insert("SubscriptionsDeleted".into(), "0".into());
    let policy = t.attributes.get("DeliveryPolicy").map(String::as_str).filter(|p| !p.is_empty());
    out.insert("EffectiveDeliveryPolicy".into(), crate::delivery_policy::topic_effective_json(policy));
    if t.is_fifo() {
        out.entry("ContentBasedDeduplication".into()).or_insert_with(|| "false".into());
    }
    out
}

fn default_policy(arn: &str, owner: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": owner}}
        }]
    })
    .to_string()
}

/// Where a subscription delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Lambda,
    Sqs,
    Http,
    Https,
}

impl Protocol {
    pub fn parse(s: &str) -> TopicResult<Self> {
        match s {
            "lambda" => Ok(Self::Lambda),
            "sqs" => Ok(Self::Sqs),
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            "email" | "email-json" | "sms" | "application" | "firehose" => Err(TopicError::InvalidParameter(format!(
                "Invalid parameter: Protocol Reason: Lamina does not deliver to {s} endpoints"
            ))),
            _ => Err(TopicError::InvalidParameter("Invalid parameter: Protocol".into())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lambda => "lambda",
            Self::Sqs => "sqs",
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// Checks an endpoint for this protocol.
    pub fn validate_endpoint(self, endpoint: &str) -> TopicResult<()> {
        let parts: Vec<&str> = endpoint.split(':').collect();
        let ok = match self {
            Self::Lambda => {
                matches!(parts.as_slice(), ["arn", _, "lambda", _, _, "function", name, ..] if !name.is_empty() && parts.len() <= 8)
            }
            Self::Sqs => matches!(parts.as_slice(), ["arn", _, "sqs", _, _, name] if !name.is_empty()),
            Self::Http => endpoint.starts_with("http://") && is_url(endpoint),
            Self::Https => endpoint.starts_with("https://") && is_url(endpoint),
        };
        if ok {
            return Ok(());
        }
        Err(TopicError::InvalidParameter(match self {
            Self::Lambda => "Invalid parameter: Lambda endpoint ARN".into(),
            Self::Sqs => "Invalid parameter: SQS endpoint ARN".into(),
            Self::Http | Self::Https => "Invalid parameter: Endpoint must match the specified protocol".into(),
        }))
    }

    /// Confirmed as soon as subscribed (no confirmation message).
    pub fn confirms_immediately(self) -> bool {
        matches!(self, Self::Lambda | Self::Sqs)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub owner: String,
    pub attributes: BTreeMap<String, String>,
    pub confirmed: bool,
    /// The token sent in the SubscriptionConfirmation (http/https).
    pub token: String,
}

impl Subscription {
    pub fn raw_delivery(&self) -> bool {
        self.attributes.get("RawMessageDelivery").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The ARN callers see in lists: `PendingConfirmation` until confirmed.
    pub fn listed_arn(&self) -> &str {
        if self.confirmed {
            &self.arn
        } else {
            "PendingConfirmation"
        }
    }

    /// The http/https delivery policy in force, given the topic's `DeliveryPolicy`.
    pub fn http_policy(&self, topic_policy: Option<&str>) -> HttpPolicy {
        let own = self.attributes.get("DeliveryPolicy").map(String::as_str).filter(|p| !p.is_empty());
        HttpPolicy::resolve(topic_policy.filter(|p| !p.is_empty()), own)
    }

    /// GetSubscriptionAttributes' map, given the topic's `DeliveryPolicy`.
    pub fn attribute_map(&self, topic_policy: Option<&str>) -> BTreeMap<String, String> {
        let mut out = self.attributes.clone();
        out.insert("SubscriptionArn".into(), self.arn.clone());
        out.insert("TopicArn".into(), self.topic_arn.clone());
        out.insert("Owner".into(), self.owner.clone());
        out.insert("Protocol".into(), self.protocol.as_str().into());
        out.insert("Endpoint".into(), self.endpoint.clone());
        out.insert("PendingConfirmation".into(), (!self.confirmed).to_string());
        out.insert("ConfirmationWasAuthenticated".into(), self.protocol.confirms_immediately().to_string());
        out.entry("RawMessageDelivery".into()).or_insert_with(|| "false".into());
        if out.contains_key("FilterPolicy") {
            out.entry("FilterPolicyScope".into()).or_insert_with(|| "MessageAttributes".into());
        }
        if matches!(self.protocol, Protocol::Http | Protocol::Https) {
            out.insert("EffectiveDeliveryPolicy".into(), self.http_policy(topic_policy).subscription_json());
        }
        out
    }
}

fn is_url(endpoint: &str) -> bool {
    endpoint.parse::<http::Uri>().is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()))
}

/// Checks one subscription attribute being set.
pub fn validate_subscription_attribute(name: &str, value: &str, protocol: Protocol) -> TopicResult<()> {
    let invalid = |why: String| TopicError::InvalidParameter(format!("Invalid parameter: {why}"));
    match name {
        "RawMessageDelivery" => {
            if !(value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")) {
                return Err(invalid("Attributes Reason: RawMessageDelivery: Invalid value [".to_string() + value + "]. Must be true or false."));
            }
            if protocol == Protocol::Lambda && value.eq_ignore_ascii_case("true") {
                return Err(invalid("Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.".into()));
            }
            Ok(())
        }
        "FilterPolicyScope" => match value {
            "MessageAttributes" | "MessageBody" => Ok(()),
            _ => Err(invalid(format!(
                "Attributes Reason: FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
            ))),
        },
        "FilterPolicy" => {
            if value.is_empty() {
                return Ok(());
            }
            crate::filter::Policy::parse(value).map(|_| ()).map_err(|e| invalid(format!("FilterPolicy: {e}")))
        }
        "DeliveryPolicy" if value.is_empty() => Ok(()),
        "DeliveryPolicy" => crate::delivery_policy::parse_subscription(value)
            .map(|_| ())
            .map_err(|e| invalid(format!("DeliveryPolicy: {e}"))),
        "RedrivePolicy" if value.is_empty() => Ok(()),
        "RedrivePolicy" => dead_letter_target(value).map(|_| ()),
        "ReplayPolicy" => serde_json::from_str::<serde_json::Value>(value)
            .map(|_| ())
            .map_err(|_| invalid(format!("{name}: failed to parse JSON"))),
        n if SETTABLE_SUBSCRIPTION_ATTRIBUTES.contains(&n) => Ok(()),
        _ => Err(invalid("AttributeName".into())),
    }
}

/// The queue ARN a `RedrivePolicy` (`{"deadLetterTargetArn": "arn:aws:sqs:..."}`)
/// names, checked as SNS checks it.
pub fn dead_letter_target(policy: &str) -> TopicResult<String> {
    let invalid = |why: &str| TopicError::InvalidParameter(format!("Invalid parameter: RedrivePolicy: {why}"));
    let doc: serde_json::Value = serde_json::from_str(policy).map_err(|_| invalid("failed to parse JSON."))?;
    let arn = doc.get("deadLetterTargetArn").and_then(serde_json::Value::as_str).unwrap_or("");
    let parts: Vec<&str> = arn.split(':').collect();
    if matches!(parts.as_slice(), ["arn", _, "sqs", _, _, name] if !name.is_empty()) {
        Ok(arn.to_string())
    } else {
        Err(invalid("deadLetterTargetArn is an invalid arn"))
    }
}

/// `arn:aws:sns:{region}:{account}:{name}`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

/// Whether `arn` is shaped like a topic ARN (`InvalidParameter` otherwise).
pub fn check_topic_arn(arn: &str, param: &str) -> TopicResult<()> {
    let parts: Vec<&str> = arn.split(':').collect();
    if matches!(parts.as_slice(), ["arn", _, "sns", _, _, name] if !name.is_empty()) {
        Ok(())
    } else {
        Err(TopicError::InvalidParameter(format!("Invalid parameter: {param}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redrive_policies_name_an_sqs_queue() {
        let ok = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#;
        assert_eq!(dead_letter_target(ok).unwrap(), "arn:aws:sqs:us-east-1:000000000000:dlq");
        let message = |p: &str| match dead_letter_target(p) {
            Err(TopicError::InvalidParameter(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(message("{nope"), "Invalid parameter: RedrivePolicy: failed to parse JSON.");
        let sns = r#"{"deadLetterTargetArn":"arn:aws:sns:us-east-1:000000000000:t"}"#;
        assert_eq!(message(sns), "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn");
        assert_eq!(message("{}"), "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn");
    }

    #[test]
    fn topic_names_and_fifo_suffix_agree() {
        assert!(validate_topic_name("orders", false).is_ok());
        assert!(validate_topic_name("orders.fifo", true).is_ok());
        assert!(validate_topic_name("orders.fifo", false).is_err());
        assert!(validate_topic_name("orders", true).is_err());
        assert!(validate_topic_name("bad name", false).is_err());
        assert!(validate_topic_name(&"a".repeat(257), false).is_err());
    }

    #[test]
    fn endpoints_must_fit_their_protocol() {
        assert!(Protocol::Lambda.validate_endpoint("arn:aws:lambda:us-east-1:000000000000:function:f").is_ok());
        assert!(Protocol::Lambda.validate_endpoint("arn:aws:lambda:us-east-1:000000000000:function:f:live").is_ok());
        assert!(Protocol::Lambda.validate_endpoint("f").is_err());
        assert!(Protocol::Sqs.validate_endpoint("arn:aws:sqs:us-east-1:000000000000:q").is_ok());
        assert!(Protocol::Sqs.validate_endpoint("http://x/q").is_err());
        assert!(Protocol::Http.validate_endpoint("http://127.0.0.1:1/x").is_ok());
        assert!(Protocol::Https.validate_endpoint("http://127.0.0.1:1/x").is_err());
        assert!(Protocol::Http.validate_endpoint("http://").is_err());
        assert!(Protocol::Http.validate_endpoint("http://a b/").is_err());
        assert_eq!(Protocol::parse("email").unwrap_err().code(), "InvalidParameter");
    }

    #[test]
    fn message_attributes_are_checked() {
        let mut a = BTreeMap::new();
        a.insert(
            "n".to_string(),
            MessageAttribute { data_type: "Number".into(), string_value: Some("x".into()), binary_value: None },
        );
        assert_eq!(validate_message_attributes(&a).unwrap_err().code(), "ParameterValueInvalid");
        a.insert(
            "n".to_string(),
            MessageAttribute { data_type: "Number.int".into(), string_value: Some("12".into()), binary_value: None },
        );
        assert!(validate_message_attributes(&a).is_ok());
        assert_eq!(a["n"].base_type(), "Number");
        a.insert(
            "s".to_string(),
            MessageAttribute {
                data_type: "String.Array".into(),
                string_value: Some("[1,\"a\"]".into()),
                binary_value: None,
            },
        );
        assert!(validate_message_attributes(&a).is_ok());
        a.insert(
            "t".to_string(),
            MessageAttribute { data_type: "Bogus".into(), string_value: Some("v".into()), binary_value: None },
        );
        assert!(validate_message_attributes(&a).is_err());
    }
}
