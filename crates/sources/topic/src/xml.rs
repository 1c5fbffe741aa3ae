//! SNS's query protocol: form-encoded requests in, XML documents out.
//!
//! Requests are `Action=...&Version=2010-03-31` forms whose structured
//! members are flattened the way botocore's query serializer writes them:
//! maps as `Attributes.entry.N.key` / `.value` (message attributes as
//! `MessageAttributes.entry.N.Name` / `.Value.DataType`), lists as
//! `Tags.member.N.Key` or `TagKeys.member.N`. [`Params`] reads them back.
//! Answers are `<ActionResponse><ActionResult>...</ActionResult>
//! <ResponseMetadata><RequestId>` documents written by [`Response`], with
//! maps as `<entry><key/><value/></entry>` and lists as `<member>`.

pub use lamina_api::xml::escape;
use std::collections::BTreeMap;

use crate::error::{TopicError, TopicResult};
use crate::model::MessageAttribute;

pub const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Actions whose model has no output shape: no `...Result` element.
const ACTIONS_WITHOUT_OUTPUT: &[&str] =
    &["DeleteTopic", "SetTopicAttributes", "Unsubscribe", "SetSubscriptionAttributes"];

/// One request's parameters, flat as they came.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses query string and form body together (the body wins).
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let mut map = BTreeMap::new();
        if let Some(q) = query {
            map.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        map.extend(form_urlencoded::parse(body).into_owned());
        Self(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &str) -> TopicResult<&str> {
        self.get(name).ok_or_else(|| TopicError::InvalidParameter(format!("Invalid parameter: {name}")))
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Indexed children of `prefix`: `prefix.1.*`, `prefix.2.*` in index
    /// order, each as its own [`Params`] with the prefix removed.
    fn indexed(&self, prefix: &str) -> Vec<Params> {
        let lead = format!("{prefix}.");
        let mut items: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in self.0.range(lead.clone()..) {
            let Some(rest) = k.strip_prefix(&lead) else { break };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(i) = index.parse::<u32>() {
                items.entry(i).or_default().insert(field.to_string(), v.clone());
            }
        }
        items.into_values().map(Params).collect()
    }

    /// A string map: `prefix.entry.N.key` / `prefix.entry.N.value`.
    pub fn map(&self, prefix: &str) -> BTreeMap<String, String> {
        self.indexed(&format!("{prefix}.entry"))
            .into_iter()
            .filter_map(|e| Some((e.get("key")?.to_string(), e.get("value").unwrap_or("").to_string())))
            .collect()
    }

    /// A plain list: `prefix.member.N`.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.indexed(&format!("{prefix}.member")).into_iter().filter_map(|e| e.get("").map(str::to_string)).collect()
    }

    /// A list of structures: `prefix.member.N.Field`.
    pub fn members(&self, prefix: &str) -> Vec<Params> {
        self.indexed(&format!("{prefix}.member"))
    }

    /// Tags: `prefix.member.N.Key` / `.Value`.
    pub fn tags(&self, prefix: &str) -> TopicResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for m in self.members(prefix) {
            let key = m.get("Key").ok_or_else(|| TopicError::InvalidParameter("Invalid parameter: Tags".into()))?;
            out.insert(key.to_string(), m.get("Value").unwrap_or("").to_string());
        }
        Ok(out)
    }

    /// Message attributes: `prefix.entry.N.Name`, `.Value.DataType`,
    /// `.Value.StringValue`, `.Value.BinaryValue` (base64).
    pub fn message_attributes(&self, prefix: &str) -> TopicResult<BTreeMap<String, MessageAttribute>> {
        let mut out = BTreeMap::new();
        for e in self.indexed(&format!("{prefix}.entry")) {
            let Some(name) = e.get("Name") else { continue };
            let data_type = e.get("Value.DataType").ok_or_else(|| {
                TopicError::InvalidParameterValue(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?;
            let binary_value = match e.get("Value.BinaryValue") {
                Some(b) => Some(base64_decode(b).ok_or_else(|| {
                    TopicError::InvalidParameterValue(format!(
                        "The message attribute '{name}' has an invalid binary value."
                    ))
                })?),
                None => None,
            };
            out.insert(
                name.to_string(),
                MessageAttribute {
                    data_type: data_type.to_string(),
                    string_value: e.get("Value.StringValue").map(str::to_string),
                    binary_value,
                },
            );
        }
        Ok(out)
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// A successful answer being written.
pub struct Response {
    action: String,
    body: String,
}

impl Response {
    pub fn new(action: &str) -> Self {
        Self { action: action.to_string(), body: String::new() }
    }

    /// `<name>text</name>`.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.body.push_str(&format!("<{name}>{}</{name}>", escape(text)));
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.body.push_str(&format!("<{name}>"));
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.body.push_str(&format!("</{name}>"));
        self
    }

    /// Appends already-written elements.
    pub fn raw(&mut self, elements: &str) -> &mut Self {
        self.body.push_str(elements);
        self
    }

    /// The elements written so far.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// `<name><entry><key/><value/></entry>...</name>`.
    pub fn map(&mut self, name: &str, map: &BTreeMap<String, String>) -> &mut Self {
        self.open(name);
        for (k, v) in map {
            self.open("entry").text("key", k).text("value", v).close("entry");
        }
        self.close(name)
    }

    /// `<name><member><Key/><Value/></member>...</name>`.
    pub fn tags(&mut self, name: &str, tags: &BTreeMap<String, String>) -> &mut Self {
        self.open(name);
        for (k, v) in tags {
            self.open("member").text("Key", k).text("Value", v).close("member");
        }
        self.close(name)
    }

    /// The whole document.
    pub fn finish(&self, request_id: &str) -> String {
        let a = &self.action;
        // Actions with an output shape always carry their `...Result`
        // element (botocore looks for it even when it is empty).
        let result = if ACTIONS_WITHOUT_OUTPUT.contains(&a.as_str()) {
            String::new()
        } else {
            format!("<{a}Result>{}</{a}Result>", self.body)
        };
        format!(
            "<?xml version=\"1.0\"?><{a}Response xmlns=\"{NAMESPACE}\">{result}\
             <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{a}Response>",
            escape(request_id)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_botocore_flattened_members() {
        let body = "Action=CreateTopic&Version=2010-03-31&Name=t\
            &Attributes.entry.1.key=FifoTopic&Attributes.entry.1.value=true\
            &Attributes.entry.2.key=DisplayName&Attributes.entry.2.value=a%26b\
            &Tags.member.1.Key=team&Tags.member.1.Value=core\
            &Tags.member.10.Key=z&Tags.member.10.Value=last&Tags.member.2.Key=y&Tags.member.2.Value=2\
            &TagKeys.member.2=b&TagKeys.member.1=a\
            &MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=Number\
            &MessageAttributes.entry.1.Value.StringValue=5\
            &MessageAttributes.entry.2.Name=bin&MessageAttributes.entry.2.Value.DataType=Binary\
            &MessageAttributes.entry.2.Value.BinaryValue=AAE%3D";
        let p = Params::parse(None, body.as_bytes());
        assert_eq!(p.get("Action"), Some("CreateTopic"));
        let attrs = p.map("Attributes");
        assert_eq!(attrs["FifoTopic"], "true");
        assert_eq!(attrs["DisplayName"], "a&b");
        let tags = p.tags("Tags").unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags["z"], "last");
        assert_eq!(p.list("TagKeys"), vec!["a", "b"]);
        let ma = p.message_attributes("MessageAttributes").unwrap();
        assert_eq!(ma["n"].data_type, "Number");
        assert_eq!(ma["n"].string_value.as_deref(), Some("5"));
        assert_eq!(ma["bin"].binary_value.as_deref(), Some(&[0u8, 1][..]));
    }

    #[test]
    fn batch_entries_keep_their_order_and_fields() {
        let body = "PublishBatchRequestEntries.member.2.Id=b&PublishBatchRequestEntries.member.2.Message=two\
            &PublishBatchRequestEntries.member.1.Id=a&PublishBatchRequestEntries.member.1.Message=one\
            &PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name=k\
            &PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.DataType=String\
            &PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue=v";
        let p = Params::parse(None, body.as_bytes());
        let entries = p.members("PublishBatchRequestEntries");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].get("Id"), Some("a"));
        assert_eq!(entries[1].get("Message"), Some("two"));
        let ma = entries[0].message_attributes("MessageAttributes").unwrap();
        assert_eq!(ma["k"].string_value.as_deref(), Some("v"));
    }

    #[test]
    fn attribute_without_a_type_is_invalid() {
        let p = Params::parse(None, b"MessageAttributes.entry.1.Name=k&MessageAttributes.entry.1.Value.StringValue=v");
        assert_eq!(p.message_attributes("MessageAttributes").unwrap_err().code(), "ParameterValueInvalid");
    }

    #[test]
    fn writes_results_maps_and_escapes() {
        let mut r = Response::new("GetTopicAttributes");
        let mut m = BTreeMap::new();
        m.insert("Policy".to_string(), "{\"a\":\"<b>&\"}".to_string());
        r.map("Attributes", &m);
        let doc = r.finish("rid-1");
        assert_eq!(
            doc,
            "<?xml version=\"1.0\"?><GetTopicAttributesResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
             <GetTopicAttributesResult><Attributes><entry><key>Policy</key>\
             <value>{&quot;a&quot;:&quot;&lt;b&gt;&amp;&quot;}</value></entry></Attributes></GetTopicAttributesResult>\
             <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></GetTopicAttributesResponse>"
        );
        let empty = Response::new("DeleteTopic").finish("r");
        assert!(empty.contains("<DeleteTopicResponse") && !empty.contains("DeleteTopicResult"));
        assert!(Response::new("TagResource").finish("r").contains("<TagResourceResult></TagResourceResult>"));
        assert_eq!(escape("a\r\nb'"), "a&#xD;\nb&apos;");
    }

    #[test]
    fn error_document_has_sns_shape() {
        let e = TopicError::NotFound("Topic does not exist".into());
        assert_eq!(e.status(), http::StatusCode::NOT_FOUND);
        assert_eq!(e.code(), "NotFound");
    }
}
