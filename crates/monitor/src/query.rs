//! The query protocol (`Action=GetMetricStatistics&Version=2010-08-01`
//! forms, XML answers), reduced to the same JSON values the other protocols
//! carry.
//!
//! - In: `Dimensions.member.1.Name=FunctionName` becomes
//!   `{"Dimensions": [{"Name": "FunctionName"}]}`; every leaf stays a
//!   string, and the operations' readers accept strings for numbers,
//!   booleans and timestamps.
//! - Out: objects become elements, lists `<member>` elements (CloudWatch's
//!   lists are not flattened), the one map (`ExtendedStatistics`)
//!   `<entry><key/><value/></entry>`, timestamps ISO 8601.

use lamina_api::xml::escape;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Deepest parameter name CloudWatch has (`MetricDataQueries.member.1.
/// MetricStat.Metric.Dimensions.member.1.Name` is 9); deeper names are
/// refused rather than folded recursively.
const MAX_DEPTH: usize = 16;

/// The form's `Action` and its other parameters folded into a JSON object;
/// `Err` names a parameter nested too deeply.
pub fn decode(form: &[(String, String)]) -> Result<(Option<String>, Value), String> {
    let mut action = None;
    let mut root = Node::default();
    for (key, value) in form {
        match key.as_str() {
            "Action" => action = Some(value.clone()),
            "Version" => {}
            _ => {
                let path: Vec<&str> = key.split('.').collect();
                if path.len() > MAX_DEPTH {
                    return Err(format!("The parameter {key} is not a CloudWatch parameter."));
                }
                root.put(&path, value.clone());
            }
        }
    }
    Ok((action, root.into_json()))
}

#[derive(Default)]
struct Node {
    leaf: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn put(&mut self, path: &[&str], value: String) {
        match path.split_first() {
            None => self.leaf = Some(value),
            Some((head, rest)) => self.children.entry((*head).to_string()).or_default().put(rest, value),
        }
    }

    fn into_json(mut self) -> Value {
        if let Some(leaf) = self.leaf {
            return Value::String(leaf);
        }
        // `X.member.N...` is a list, its items in numeric order.
        if self.children.len() == 1 {
            if let Some(members) = self.children.remove("member") {
                let mut items: Vec<(u64, Node)> =
                    members.children.into_iter().filter_map(|(k, v)| k.parse().ok().map(|i| (i, v))).collect();
                items.sort_by_key(|(i, _)| *i);
                return Value::Array(items.into_iter().map(|(_, n)| n.into_json()).collect());
            }
        }
        Value::Object(self.children.into_iter().map(|(k, v)| (k, v.into_json())).collect())
    }
}

const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// `<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>...`.
pub fn response(action: &str, output: &Value, request_id: &str) -> String {
    let mut xml = format!("<{action}Response xmlns=\"{XMLNS}\">");
    if output.as_object().is_some_and(|o| !o.is_empty()) {
        let _ = write!(xml, "<{action}Result>");
        write_members(&mut xml, output);
        let _ = write!(xml, "</{action}Result>");
    }
    let _ = write!(xml, "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>");
    xml
}

/// `<ErrorResponse>` with the query error code.
pub fn error(code: &str, fault: &str, message: &str, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{code}</Code><Message>{}</Message></Error>\
         <RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(message)
    )
}

fn write_members(xml: &mut String, value: &Value) {
    if let Value::Object(map) = value {
        for (name, v) in map {
            write_element(xml, name, v, name);
        }
    }
}

fn write_element(xml: &mut String, tag: &str, value: &Value, member: &str) {
    let timestamp = member.ends_with("Timestamp") || member == "Timestamps";
    let _ = write!(xml, "<{tag}>");
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(xml, "member", item, member);
            }
        }
        Value::Object(map) if member == "ExtendedStatistics" => {
            for (k, v) in map {
                let _ = write!(xml, "<entry><key>{}</key><value>{}</value></entry>", escape(k), scalar(v, false));
            }
        }
        Value::Object(_) => write_members(xml, value),
        v => xml.push_str(&scalar(v, timestamp)),
    }
    let _ = write!(xml, "</{tag}>");
}

fn scalar(value: &Value, timestamp: bool) -> String {
    match value {
        Value::Number(n) if timestamp => n.as_f64().map(iso8601).unwrap_or_default(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => escape(s),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Epoch seconds as `2024-01-01T00:00:00.000Z`.
pub fn iso8601(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
    }

    #[test]
    fn dotted_members_fold_into_lists_in_numeric_order() {
        let (action, params) = decode(&pairs(
            "Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FLambda&Statistics.member.2=Sum\
             &Statistics.member.1=Average&Statistics.member.10=Maximum&Dimensions.member.1.Name=FunctionName\
             &Dimensions.member.1.Value=f&Period=60",
        ))
        .unwrap();
        assert_eq!(action.as_deref(), Some("GetMetricStatistics"));
        assert_eq!(
            params,
            json!({"Namespace": "AWS/Lambda", "Period": "60", "Statistics": ["Average", "Sum", "Maximum"],
                   "Dimensions": [{"Name": "FunctionName", "Value": "f"}]})
        );
    }

    #[test]
    fn absurdly_deep_names_are_refused() {
        let deep = format!("Action=ListMetrics&{}=1", vec!["a"; 10_000].join("."));
        assert!(decode(&pairs(&deep)).is_err());
    }

    #[test]
    fn answers_use_member_elements_entries_and_iso_timestamps() {
        let out = json!({"Label": "Duration", "Datapoints": [
            {"Timestamp": 0, "Sum": 2.5, "ExtendedStatistics": {"p99": 1.5}}]});
        let xml = response("GetMetricStatistics", &out, "rid");
        assert!(xml.contains("<Datapoints><member><ExtendedStatistics><entry><key>p99</key><value>1.5</value></entry>"));
        assert!(xml.contains("<Timestamp>1970-01-01T00:00:00.000Z</Timestamp>"), "{xml}");
        assert!(xml.contains("<GetMetricStatisticsResult>") && xml.contains("<RequestId>rid</RequestId>"));
        assert!(!response("DeleteAlarms", &json!({}), "r").contains("Result"));
        assert!(error("ResourceNotFound", "Sender", "a<b", "r").contains("<Message>a&lt;b</Message>"));
    }
}
