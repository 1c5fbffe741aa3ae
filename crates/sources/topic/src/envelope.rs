//! What subscribers receive, in SNS's shapes.
//!
//! - Lambda gets `{"Records":[{"EventSource":"aws:sns", ..., "Sns":{...}}]}`
//!   whose `Sns` object spells its URLs `SigningCertUrl` / `UnsubscribeUrl`,
//!   carries `Subject: null` when there is none and always has
//!   `MessageAttributes` (`{"name":{"Type","Value"}}`).
//! - SQS and HTTP endpoints get the JSON notification document, which spells
//!   them `SigningCertURL` / `UnsubscribeURL` and leaves out `Subject` and
//!   `MessageAttributes` when there are none; HTTP endpoints first get a
//!   `SubscriptionConfirmation` with `Token` and `SubscribeURL`.
//!
//! The URLs point back at Lamina (`{public_url}/_sns/...`), so a GET on a
//! SubscribeURL confirms and one on an UnsubscribeURL unsubscribes.
//! `Signature` is a SHA-256 digest of SNS's string to sign, base64: the
//! field is filled, but Lamina holds no certificate to verify it against.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::model::MessageAttribute;

/// One published message as subscribers see it.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    /// ISO 8601 with milliseconds, `2019-01-02T12:45:07.000Z`.
    pub timestamp: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub sequence_number: Option<String>,
}

/// The URLs a notification carries.
pub struct Urls<'a> {
    pub public_url: &'a str,
}

impl Urls<'_> {
    pub fn signing_cert(&self) -> String {
        format!("{}/_sns/SimpleNotificationService-lamina.pem", self.public_url)
    }

    pub fn unsubscribe(&self, subscription_arn: &str) -> String {
        format!("{}/_sns/?Action=Unsubscribe&SubscriptionArn={}", self.public_url, encode(subscription_arn))
    }

    pub fn subscribe(&self, topic_arn: &str, token: &str) -> String {
        format!(
            "{}/_sns/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            self.public_url,
            encode(topic_arn),
            encode(token)
        )
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `{"name":{"Type":"String","Value":"v"}}`.
fn attributes_json(attrs: &BTreeMap<String, MessageAttribute>) -> Value {
    let map: Map<String, Value> =
        attrs.iter().map(|(k, a)| (k.clone(), json!({"Type": a.data_type, "Value": a.display_value()}))).collect();
    Value::Object(map)
}

/// SNS's string to sign for a notification (its fields, in order).
fn signature(fields: &[(&str, Option<&str>)]) -> String {
    let mut text = String::new();
    for (name, value) in fields {
        if let Some(v) = value {
            text.push_str(name);
            text.push('\n');
            text.push_str(v);
            text.push('\n');
        }
    }
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

fn notification_signature(m: &Message) -> String {
    signature(&[
        ("Message", Some(&m.message)),
        ("MessageId", Some(&m.message_id)),
        ("Subject", m.subject.as_deref()),
        ("Timestamp", Some(&m.timestamp)),
        ("TopicArn", Some(&m.topic_arn)),
        ("Type", Some("Notification")),
    ])
}

/// The event a Lambda subscriber is invoked with.
pub fn lambda_event(m: &Message, subscription_arn: &str, urls: &Urls) -> String {
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": m.message_id,
                "TopicArn": m.topic_arn,
                "Subject": m.subject,
                "Message": m.message,
                "Timestamp": m.timestamp,
                "SignatureVersion": "1",
                "Signature": notification_signature(m),
                "SigningCertUrl": urls.signing_cert(),
                "UnsubscribeUrl": urls.unsubscribe(subscription_arn),
                "MessageAttributes": attributes_json(&m.attributes),
            }
        }]
    })
    .to_string()
}

/// The JSON notification document SQS and HTTP subscribers receive.
pub fn notification(m: &Message, subscription_arn: &str, urls: &Urls) -> String {
    let mut doc = Map::new();
    doc.insert("Type".into(), json!("Notification"));
    doc.insert("MessageId".into(), json!(m.message_id));
    if let Some(seq) = &m.sequence_number {
        doc.insert("SequenceNumber".into(), json!(seq));
    }
    doc.insert("TopicArn".into(), json!(m.topic_arn));
    if let Some(subject) = &m.subject {
        doc.insert("Subject".into(), json!(subject));
    }
    doc.insert("Message".into(), json!(m.message));
    doc.insert("Timestamp".into(), json!(m.timestamp));
    doc.insert("SignatureVersion".into(), json!("1"));
    doc.insert("Signature".into(), json!(notification_signature(m)));
    doc.insert("SigningCertURL".into(), json!(urls.signing_cert()));
    doc.insert("UnsubscribeURL".into(), json!(urls.unsubscribe(subscription_arn)));
    if !m.attributes.is_empty() {
        doc.insert("MessageAttributes".into(), attributes_json(&m.attributes));
    }
    Value::Object(doc).to_string()
}

/// The SubscriptionConfirmation an HTTP endpoint receives on Subscribe.
pub fn subscription_confirmation(
    message_id: &str,
    topic_arn: &str,
    token: &str,
    timestamp: &str,
    urls: &Urls,
) -> String {
    let message = format!(
        "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
    );
    let subscribe_url = urls.subscribe(topic_arn, token);
    let sig = signature(&[
        ("Message", Some(&message)),
        ("MessageId", Some(message_id)),
        ("SubscribeURL", Some(&subscribe_url)),
        ("Timestamp", Some(timestamp)),
        ("Token", Some(token)),
        ("TopicArn", Some(topic_arn)),
        ("Type", Some("SubscriptionConfirmation")),
    ]);
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": message,
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": sig,
        "SigningCertURL": urls.signing_cert(),
    })
    .to_string()
}

/// `2019-01-02T12:45:07.000Z`.
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message(subject: Option<&str>) -> Message {
        let mut attributes = BTreeMap::new();
        attributes.insert("color".to_string(), MessageAttribute::string("red"));
        attributes.insert(
            "blob".to_string(),
            MessageAttribute { data_type: "Binary".into(), string_value: None, binary_value: Some(vec![0, 1]) },
        );
        Message {
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            subject: subject.map(str::to_string),
            message: "hello".into(),
            timestamp: timestamp(1_546_433_107_000),
            attributes,
            sequence_number: None,
        }
    }

    #[test]
    fn lambda_event_has_lambdas_spelling() {
        let urls = Urls { public_url: "http://127.0.0.1:9000" };
        let sub = "arn:aws:sns:us-east-1:000000000000:t:abc";
        let e: Value = serde_json::from_str(&lambda_event(&message(None), sub, &urls)).unwrap();
        let r = &e["Records"][0];
        assert_eq!(r["EventSource"], "aws:sns");
        assert_eq!(r["EventVersion"], "1.0");
        assert_eq!(r["EventSubscriptionArn"], sub);
        let sns = &r["Sns"];
        assert_eq!(sns["Type"], "Notification");
        assert_eq!(sns["Timestamp"], "2019-01-02T12:45:07.000Z");
        assert!(sns["Subject"].is_null());
        assert_eq!(sns["MessageAttributes"]["color"], json!({"Type": "String", "Value": "red"}));
        assert_eq!(sns["MessageAttributes"]["blob"], json!({"Type": "Binary", "Value": "AAE="}));
        assert!(sns["SigningCertUrl"].as_str().unwrap().starts_with("http://127.0.0.1:9000/_sns/"));
        assert!(sns["UnsubscribeUrl"].as_str().unwrap().contains("SubscriptionArn=arn%3Aaws%3Asns"));
        assert!(sns.get("SigningCertURL").is_none());
    }

    #[test]
    fn notification_document_has_sqs_spelling_and_omits_empties() {
        let urls = Urls { public_url: "http://h" };
        let mut m = message(Some("hi"));
        let doc: Value = serde_json::from_str(&notification(&m, "s", &urls)).unwrap();
        assert_eq!(doc["Subject"], "hi");
        assert_eq!(doc["SignatureVersion"], "1");
        assert!(doc["SigningCertURL"].is_string() && doc["UnsubscribeURL"].is_string());
        assert_eq!(doc["MessageAttributes"]["color"]["Value"], "red");
        m.subject = None;
        m.attributes.clear();
        let doc: Value = serde_json::from_str(&notification(&m, "s", &urls)).unwrap();
        assert!(doc.get("Subject").is_none() && doc.get("MessageAttributes").is_none());
    }

    #[test]
    fn confirmation_points_back_at_lamina() {
        let urls = Urls { public_url: "http://h:1" };
        let doc: Value =
            serde_json::from_str(&subscription_confirmation("id", "arn:aws:sns:r:a:t", "tok", "ts", &urls)).unwrap();
        assert_eq!(doc["Type"], "SubscriptionConfirmation");
        assert_eq!(doc["Token"], "tok");
        assert_eq!(
            doc["SubscribeURL"],
            "http://h:1/_sns/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Ar%3Aa%3At&Token=tok"
        );
    }
}
