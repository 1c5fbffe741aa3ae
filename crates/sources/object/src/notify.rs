//! Bucket notification configurations and the event records S3 sends.
//!
//! [`NotificationConfig`] is parsed from PutBucketNotificationConfiguration's
//! XML (Topic/Queue/CloudFunction configurations with their events and
//! prefix/suffix key filters), stored as JSON with the bucket, and written
//! back as XML by GetBucketNotificationConfiguration. [`record`] builds one
//! event record in S3's "Event message structure" (eventVersion 2.1).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{S3Error, S3Result};
use crate::xml::{child_text, children, parse, XmlWriter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Topic,
    Queue,
    Lambda,
}

impl Kind {
    /// (configuration element, ARN element) in S3's XML.
    fn elements(self) -> (&'static str, &'static str) {
        match self {
            Self::Topic => ("TopicConfiguration", "Topic"),
            Self::Queue => ("QueueConfiguration", "Queue"),
            Self::Lambda => ("CloudFunctionConfiguration", "CloudFunction"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub kind: Kind,
    pub arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    pub targets: Vec<Target>,
    #[serde(default)]
    pub event_bridge: bool,
}

/// The event types S3 accepts in a notification configuration.
const EVENTS: &[&str] = &[
    "s3:TestEvent",
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

impl NotificationConfig {
    pub fn from_xml(body: &str) -> S3Result<Self> {
        let doc = parse(body, "NotificationConfiguration")?;
        let root = doc.root_element();
        let mut config =
            Self { event_bridge: children(root, "EventBridgeConfiguration").next().is_some(), ..Self::default() };
        for kind in [Kind::Topic, Kind::Queue, Kind::Lambda] {
            let (element, arn_element) = kind.elements();
            for node in children(root, element) {
                config.targets.push(target(node, kind, arn_element)?);
            }
        }
        let mut ids: Vec<&str> = config.targets.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(S3Error::invalid_argument("Configuration ID must be unique", "Id", ids[0]));
        }
        Ok(config)
    }

    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root("NotificationConfiguration");
        for kind in [Kind::Topic, Kind::Queue, Kind::Lambda] {
            let (element, arn_element) = kind.elements();
            for t in self.targets.iter().filter(|t| t.kind == kind) {
                w.open(element);
                w.elem("Id", &t.id);
                w.elem(arn_element, &t.arn);
                for e in &t.events {
                    w.elem("Event", e);
                }
                if t.prefix.is_some() || t.suffix.is_some() {
                    w.open("Filter");
                    w.open("S3Key");
                    for (name, value) in [("prefix", &t.prefix), ("suffix", &t.suffix)] {
                        if let Some(v) = value {
                            w.open("FilterRule");
                            w.elem("Name", name);
                            w.elem("Value", v);
                            w.close("FilterRule");
                        }
                    }
                    w.close("S3Key");
                    w.close("Filter");
                }
                w.close(element);
            }
        }
        if self.event_bridge {
            w.open("EventBridgeConfiguration");
            w.close("EventBridgeConfiguration");
        }
        w.close("NotificationConfiguration");
        w.finish()
    }

    /// The targets an event (`ObjectCreated:Put`) on `key` goes to.
    pub fn matching<'a>(&'a self, event: &'a str, key: &'a str) -> impl Iterator<Item = &'a Target> + 'a {
        self.targets.iter().filter(move |t| t.wants(event) && t.filters(key))
    }
}

impl Target {
    fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            match e.strip_suffix('*') {
                Some(family) => event.starts_with(family),
                None => e == event,
            }
        })
    }

    fn filters(&self, key: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

fn target(node: roxmltree::Node<'_, '_>, kind: Kind, arn_element: &str) -> S3Result<Target> {
    let arn = child_text(node, arn_element).map(str::trim).filter(|a| !a.is_empty()).ok_or(S3Error::MalformedXml)?;
    let events: Vec<String> = children(node, "Event").map(|e| e.text().unwrap_or("").trim().to_string()).collect();
    if events.is_empty() {
        return Err(S3Error::MalformedXml);
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(S3Error::invalid_argument("The event is not supported for notifications", "Event", bad));
    }
    let (mut prefix, mut suffix) = (None, None);
    for filter in children(node, "Filter") {
        for key in children(filter, "S3Key") {
            for rule in children(key, "FilterRule") {
                let name = child_text(rule, "Name").unwrap_or("").trim().to_ascii_lowercase();
                let value = child_text(rule, "Value").unwrap_or("").to_string();
                let slot = match name.as_str() {
                    "prefix" => &mut prefix,
                    "suffix" => &mut suffix,
                    other => {
                        return Err(S3Error::invalid_argument(
                            "filter rule name must be either prefix or suffix",
                            "FilterRule.Name",
                            other,
                        ))
                    }
                };
                if slot.replace(value).is_some() {
                    return Err(S3Error::invalid_argument(
                        format!("Cannot specify more than one {name} rule in a filter."),
                        "FilterRule.Name",
                        &name,
                    ));
                }
            }
        }
    }
    let id = child_text(node, "Id")
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ok(Target { id, kind, arn: arn.to_string(), events, prefix, suffix })
}

/// What happened to an object, for its event record.
pub struct Happened<'a> {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub event: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Size and ETag for created objects.
    pub created: Option<(u64, &'a str)>,
    pub time_ms: i64,
    pub source_ip: &'a str,
    pub request_id: &'a str,
}

/// One record of `{"Records": [...]}`, for the configuration `configuration_id`.
pub fn record(h: &Happened<'_>, configuration_id: &str, sequencer: &str) -> Value {
    let mut object = json!({ "key": encode_key(h.key), "sequencer": sequencer });
    if let Some((size, etag)) = h.created {
        object["size"] = json!(size);
        object["eTag"] = json!(etag);
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": h.region,
        "eventTime": crate::iso8601(h.time_ms),
        "eventName": h.event,
        "userIdentity": { "principalId": format!("AWS:{}", h.account) },
        "requestParameters": { "sourceIPAddress": h.source_ip },
        "responseElements": { "x-amz-request-id": h.request_id, "x-amz-id-2": "lamina" },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": h.bucket,
                "ownerIdentity": { "principalId": h.account },
                "arn": format!("arn:aws:s3:::{}", h.bucket),
            },
            "object": object,
        },
    })
}

/// Keys in event records are URL-encoded as form values (space → `+`),
/// with `/` left as is.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CONFIG: &str = "<NotificationConfiguration>\
        <QueueConfiguration><Id>q</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue>\
        <Event>s3:ObjectCreated:*</Event>\
        <Filter><S3Key><FilterRule><Name>Prefix</Name><Value>in/</Value></FilterRule>\
        <FilterRule><Name>Suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration>\
        <CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction>\
        <Event>s3:ObjectRemoved:Delete</Event></CloudFunctionConfiguration>\
        </NotificationConfiguration>";

    #[test]
    fn parses_matches_and_round_trips() {
        let c = NotificationConfig::from_xml(CONFIG).unwrap();
        assert_eq!(c.targets.len(), 2);
        let hits = |event, key| c.matching(event, key).map(|t| t.kind).collect::<Vec<_>>();
        assert_eq!(hits("ObjectCreated:Put", "in/a.jpg"), [Kind::Queue]);
        assert_eq!(hits("ObjectCreated:CompleteMultipartUpload", "in/a.jpg"), [Kind::Queue]);
        assert!(hits("ObjectCreated:Put", "in/a.png").is_empty());
        assert!(hits("ObjectCreated:Put", "out/a.jpg").is_empty());
        assert_eq!(hits("ObjectRemoved:Delete", "anything"), [Kind::Lambda]);
        assert!(hits("ObjectRemoved:DeleteMarkerCreated", "x").is_empty());
        let again = NotificationConfig::from_xml(&c.to_xml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn rejects_bad_configurations() {
        let bad_event = CONFIG.replace("s3:ObjectRemoved:Delete", "s3:Nope");
        assert!(matches!(NotificationConfig::from_xml(&bad_event), Err(S3Error::InvalidArgument { .. })));
        let bad_rule = CONFIG.replace("<Name>Prefix</Name>", "<Name>middle</Name>");
        assert!(matches!(NotificationConfig::from_xml(&bad_rule), Err(S3Error::InvalidArgument { .. })));
        assert!(matches!(NotificationConfig::from_xml("<NotificationConfiguration>"), Err(S3Error::MalformedXml)));
        assert_eq!(
            NotificationConfig::from_xml("<NotificationConfiguration/>").unwrap(),
            NotificationConfig::default()
        );
    }

    #[test]
    fn records_have_s3s_shape() {
        let h = Happened {
            event: "ObjectCreated:Put",
            region: "us-east-1",
            account: "000000000000",
            bucket: "b",
            key: "dir/my photo+1.jpg",
            created: Some((5, "abc")),
            time_ms: 0,
            source_ip: "127.0.0.1",
            request_id: "r",
        };
        let r = record(&h, "cfg", "00AB");
        assert_eq!(r["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["s3"]["object"]["key"], "dir/my+photo%2B1.jpg");
        assert_eq!(r["s3"]["object"]["size"], 5);
        assert_eq!(r["s3"]["bucket"]["arn"], "arn:aws:s3:::b");
        assert_eq!(r["s3"]["configurationId"], "cfg");
    }
}
