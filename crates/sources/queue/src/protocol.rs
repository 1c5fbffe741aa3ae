//! SQS's two wire protocols, reduced to one: every request becomes an
//! action name plus its parameters as the json protocol spells them, and
//! every answer is built as json and rendered in the caller's protocol.
//!
//! - json (`X-Amz-Target: AmazonSQS.Action`, `application/x-amz-json-1.0`):
//!   the body is already the parameters.
//! - query (`Action=...` form bodies, as older SDKs and CLIs send): the
//!   flattened names (`Attribute.1.Name`, `MessageAttribute.2.Value.DataType`,
//!   `SendMessageBatchRequestEntry.3.Id`, `AttributeName.1`) are folded into
//!   the json shapes, and answers become `<ActionResponse><ActionResult>`
//!   documents with SQS's flattened element names.

use crate::error::SqsError;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
pub use lamina_api::xml::escape;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query,
}

/// One decoded request.
pub struct Call {
    pub protocol: Protocol,
    pub action: String,
    pub params: Value,
    pub request_id: String,
}

/// Decodes a request in either protocol.
pub fn decode(path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Call, (Protocol, SqsError)> {
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let action = target.strip_prefix("AmazonSQS.").unwrap_or(target).to_string();
        let params = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| (Protocol::Json, SqsError::MalformedRequest(e.to_string())))?
        };
        if !params.is_object() {
            return Err((Protocol::Json, SqsError::MalformedRequest("expected a JSON object".into())));
        }
        return Ok(Call { protocol: Protocol::Json, action, params, request_id });
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    pairs.extend(form_urlencoded::parse(body).into_owned());
    let mut action = None;
    let mut tree = Node::Branch(BTreeMap::new());
    for (k, v) in pairs {
        match k.as_str() {
            "Action" => action = Some(v),
            "Version" | "AWSAccessKeyId" | "Signature" | "SignatureMethod" | "SignatureVersion" | "Timestamp"
            | "Expires" => {}
            _ => tree.put(k.split('.').collect::<Vec<_>>().as_slice(), v),
        }
    }
    let action = action.ok_or((Protocol::Query, SqsError::MissingParameter("Action".into())))?;
    let mut params = match tree {
        Node::Branch(b) => fold(b),
        Node::Leaf(_) => Map::new(),
    };
    // A query request may name its queue by path instead: /{account}/{queue}.
    if !params.contains_key("QueueUrl") {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if let [_, name] = segments.as_slice() {
            params.insert("QueueUrl".into(), Value::String((*name).to_string()));
        }
    }
    Ok(Call { protocol: Protocol::Query, action, params: Value::Object(params), request_id })
}

/// Query parameters as a tree keyed by the dotted segments.
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

impl Node {
    fn put(&mut self, path: &[&str], value: String) {
        let Node::Branch(map) = self else { return };
        match path {
            [] => {}
            [last] => {
                map.insert((*last).to_string(), Node::Leaf(value));
            }
            [first, rest @ ..] => {
                let child = map.entry((*first).to_string()).or_insert_with(|| Node::Branch(BTreeMap::new()));
                if let Node::Leaf(_) = child {
                    *child = Node::Branch(BTreeMap::new());
                }
                child.put(rest, value);
            }
        }
    }
}

/// Children of an indexed node in index order (`.1`, `.2`, ..., `.10`).
fn indexed(b: BTreeMap<String, Node>) -> Vec<Node> {
    let mut items: Vec<(u32, Node)> = b.into_iter().filter_map(|(k, v)| k.parse().ok().map(|i| (i, v))).collect();
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, v)| v).collect()
}

fn leaf(n: Option<Node>) -> Option<String> {
    match n {
        Some(Node::Leaf(s)) => Some(s),
        _ => None,
    }
}

fn node_value(n: Node) -> Value {
    match n {
        Node::Leaf(s) => Value::String(s),
        Node::Branch(b) => Value::Object(fold(b)),
    }
}

/// Folds flattened query names into json-protocol members.
fn fold(b: BTreeMap<String, Node>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, node) in b {
        let Node::Branch(children) = node else {
            out.insert(
                k,
                Value::String(match node {
                    Node::Leaf(s) => s,
                    Node::Branch(_) => String::new(),
                }),
            );
            continue;
        };
        match k.as_str() {
            "Attribute" | "MessageAttribute" | "MessageSystemAttribute" | "Tag" => {
                let (key_name, member) = match k.as_str() {
                    "Attribute" => ("Name", "Attributes"),
                    "MessageAttribute" => ("Name", "MessageAttributes"),
                    "MessageSystemAttribute" => ("Name", "MessageSystemAttributes"),
                    _ => ("Key", "Tags"),
                };
                let mut map = Map::new();
                for item in indexed(children) {
                    if let Node::Branch(mut fields) = item {
                        if let (Some(name), Some(v)) = (leaf(fields.remove(key_name)), fields.remove("Value")) {
                            map.insert(name, node_value(v));
                        }
                    }
                }
                out.insert(member.into(), Value::Object(map));
            }
            "AttributeName"
            | "MessageAttributeName"
            | "MessageSystemAttributeName"
            | "TagKey"
            | "AWSAccountId"
            | "ActionName" => {
                let list = indexed(children).into_iter().map(node_value).collect();
                out.insert(format!("{k}s"), Value::Array(list));
            }
            name if name.ends_with("RequestEntry") => {
                let list = indexed(children).into_iter().map(node_value).collect();
                out.insert("Entries".into(), Value::Array(list));
            }
            _ => {
                out.insert(k, Value::Object(fold(children)));
            }
        }
    }
    out
}

/// Renders a successful answer.
pub fn respond(call: &Call, output: Value) -> Response {
    match call.protocol {
        Protocol::Json => {
            let mut resp = (StatusCode::OK, output.to_string()).into_response();
            resp.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
            resp
        }
        Protocol::Query => {
            let mut xml = String::with_capacity(512);
            xml.push_str("<?xml version=\"1.0\"?>");
            xml.push_str(&format!("<{}Response xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">", call.action));
            if let Value::Object(m) = &output {
                if !m.is_empty() {
                    xml.push_str(&format!("<{}Result>", call.action));
                    write_members(&mut xml, &call.action, m);
                    xml.push_str(&format!("</{}Result>", call.action));
                }
            }
            xml.push_str(&format!(
                "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>",
                call.request_id, call.action
            ));
            let mut resp = (StatusCode::OK, xml).into_response();
            resp.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
            resp
        }
    }
}

pub fn error(protocol: Protocol, request_id: &str, e: &SqsError) -> Response {
    match protocol {
        Protocol::Json => e.json_response(),
        Protocol::Query => e.xml_response(request_id),
    }
}

fn write_members(xml: &mut String, action: &str, m: &Map<String, Value>) {
    for (k, v) in m {
        match (k.as_str(), v) {
            ("Attributes", Value::Object(attrs)) => write_pairs(xml, "Attribute", "Name", attrs, action),
            ("MessageAttributes", Value::Object(attrs)) => write_pairs(xml, "MessageAttribute", "Name", attrs, action),
            ("Tags", Value::Object(tags)) => write_pairs(xml, "Tag", "Key", tags, action),
            (_, Value::Array(items)) => {
                let element = match k.as_str() {
                    "QueueUrls" | "queueUrls" => "QueueUrl".to_string(),
                    "Messages" => "Message".to_string(),
                    "Successful" => format!("{action}ResultEntry"),
                    "Failed" => "BatchResultErrorEntry".to_string(),
                    other => other.to_string(),
                };
                for item in items {
                    write_element(xml, &element, item, action);
                }
            }
            _ => write_element(xml, k, v, action),
        }
    }
}

fn write_pairs(xml: &mut String, element: &str, key: &str, map: &Map<String, Value>, action: &str) {
    for (name, value) in map {
        xml.push_str(&format!("<{element}><{key}>{}</{key}>", escape(name)));
        write_element(xml, "Value", value, action);
        xml.push_str(&format!("</{element}>"));
    }
}

fn write_element(xml: &mut String, name: &str, v: &Value, action: &str) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            xml.push_str(&format!("<{name}>"));
            write_members(xml, action, m);
            xml.push_str(&format!("</{name}>"));
        }
        Value::String(s) => xml.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        Value::Array(items) => {
            for item in items {
                write_element(xml, name, item, action);
            }
        }
        other => xml.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_fold_into_json_members() {
        let body = "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fx%2F000000000000%2Fq\
            &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hi\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
            &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=there";
        let call = decode("/", None, &HeaderMap::new(), body.as_bytes()).unwrap_or_else(|_| panic!("decodes"));
        assert_eq!(call.action, "SendMessageBatch");
        let entries = call.params["Entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["MessageAttributes"]["k"]["StringValue"], "v");
        assert_eq!(entries[1]["MessageBody"], "there");
    }

    #[test]
    fn queue_url_comes_from_the_path_when_absent() {
        let call = decode("/000000000000/jobs", None, &HeaderMap::new(), b"Action=PurgeQueue&AttributeName.1=All")
            .unwrap_or_else(|_| panic!("decodes"));
        assert_eq!(call.params["QueueUrl"], "jobs");
        assert_eq!(call.params["AttributeNames"][0], "All");
    }
}
