//! Subscription filter policies: which messages a subscriber gets.
//!
//! The language is [`lamina_core::event_pattern`] in its SNS dialect
//! (`cidr`, and SNS's stricter checks); this module only decides what a
//! policy is matched against. Scope `MessageAttributes` (the default)
//! matches a JSON object made of the message attributes, each by its
//! type: `String` a string, `Number` a number (so `[5]` matches `"5.0"`
//! but not the string `"5"`), `String.Array` an array (any element may
//! match), `Binary` present but matching no value. Scope `MessageBody`
//! matches the message body, which must be a JSON object; its keys nest.

use std::collections::BTreeMap;

use lamina_core::event_pattern::{Dialect, EventPattern};
use serde_json::{Map, Value};

use crate::model::MessageAttribute;

/// A parsed filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy(EventPattern);

impl Policy {
    /// Parses and checks a policy; the error says what is wrong (SNS puts
    /// it after `Invalid parameter: FilterPolicy: `).
    pub fn parse(json: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("failed to parse JSON. {e}"))?;
        let Value::Object(map) = value else {
            return Err("Filter policy must be a JSON object".into());
        };
        EventPattern::from_object(&map, Dialect::SnsFilterPolicy).map(Self)
    }

    /// Whether keys nest (only the MessageBody scope allows that).
    pub fn is_nested(&self) -> bool {
        self.0.is_nested()
    }

    /// Matches against message attributes (scope `MessageAttributes`).
    pub fn matches_attributes(&self, attrs: &BTreeMap<String, MessageAttribute>) -> bool {
        let object: Map<String, Value> = attrs.iter().map(|(k, a)| (k.clone(), attribute_value(a))).collect();
        self.0.matches(&Value::Object(object))
    }

    /// Matches against a message body (scope `MessageBody`); a body that
    /// is not a JSON object matches nothing.
    pub fn matches_body(&self, message: &str) -> bool {
        match serde_json::from_str::<Value>(message) {
            Ok(body @ Value::Object(_)) => self.0.matches(&body),
            _ => false,
        }
    }
}

/// A message attribute as the matcher sees it. A value that cannot be
/// read as its type (Publish refuses those) and a binary one become an
/// empty array: present for `exists`, equal to nothing.
fn attribute_value(a: &MessageAttribute) -> Value {
    let text = a.string_value.as_deref().unwrap_or_default();
    match a.base_type() {
        "Number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Array(Vec::new()), Value::Number),
        "String.Array" => match serde_json::from_str::<Value>(text) {
            Ok(items @ Value::Array(_)) => items,
            _ => Value::Array(Vec::new()),
        },
        "Binary" => Value::Array(Vec::new()),
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn attrs(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, MessageAttribute> {
        pairs
            .iter()
            .map(|(k, t, v)| {
                (
                    k.to_string(),
                    MessageAttribute {
                        data_type: t.to_string(),
                        string_value: Some(v.to_string()),
                        binary_value: None,
                    },
                )
            })
            .collect()
    }

    fn m(policy: &str, a: &[(&str, &str, &str)]) -> bool {
        Policy::parse(policy).unwrap().matches_attributes(&attrs(a))
    }

    fn b(policy: &str, body: &str) -> bool {
        Policy::parse(policy).unwrap().matches_body(body)
    }

    #[test]
    fn exact_strings_or_within_a_key_and_across_keys() {
        let p = r#"{"color":["red","blue"],"size":["L"]}"#;
        assert!(m(p, &[("color", "String", "red"), ("size", "String", "L")]));
        assert!(m(p, &[("color", "String", "blue"), ("size", "String", "L")]));
        assert!(!m(p, &[("color", "String", "green"), ("size", "String", "L")]));
        assert!(!m(p, &[("color", "String", "red")]));
        assert!(!m(p, &[]));
    }

    #[test]
    fn numbers_match_numerically_and_by_range() {
        assert!(m(r#"{"n":[5]}"#, &[("n", "Number", "5.0")]));
        assert!(!m(r#"{"n":[5]}"#, &[("n", "String", "5")]));
        let range = r#"{"price":[{"numeric":[">",0,"<=",100]}]}"#;
        assert!(m(range, &[("price", "Number", "100")]));
        assert!(m(range, &[("price", "Number", "0.5")]));
        assert!(!m(range, &[("price", "Number", "0")]));
        assert!(!m(range, &[("price", "Number", "100.01")]));
        assert!(!m(range, &[("price", "String", "50")]));
        assert!(m(r#"{"n":[{"numeric":["=",3]}]}"#, &[("n", "Number", "3")]));
        assert!(m(r#"{"n":[{"numeric":[">=",3]}]}"#, &[("n", "Number", "3")]));
        assert!(!m(r#"{"n":[{"numeric":["<",3]}]}"#, &[("n", "Number", "3")]));
    }

    #[test]
    fn prefix_suffix_and_case() {
        assert!(m(r#"{"k":[{"prefix":"ord"}]}"#, &[("k", "String", "order-1")]));
        assert!(!m(r#"{"k":[{"prefix":"ord"}]}"#, &[("k", "String", "x-order")]));
        assert!(m(r#"{"k":[{"suffix":".png"}]}"#, &[("k", "String", "a.png")]));
        assert!(!m(r#"{"k":[{"suffix":".png"}]}"#, &[("k", "String", "a.jpg")]));
        assert!(m(r#"{"k":[{"equals-ignore-case":"ReD"}]}"#, &[("k", "String", "rEd")]));
        assert!(!m(r#"{"k":[{"equals-ignore-case":"red"}]}"#, &[("k", "String", "reds")]));
    }

    #[test]
    fn anything_but_in_all_forms() {
        assert!(m(r#"{"k":[{"anything-but":"a"}]}"#, &[("k", "String", "b")]));
        assert!(!m(r#"{"k":[{"anything-but":"a"}]}"#, &[("k", "String", "a")]));
        assert!(!m(r#"{"k":[{"anything-but":["a","b"]}]}"#, &[("k", "String", "b")]));
        assert!(m(r#"{"k":[{"anything-but":[1,2]}]}"#, &[("k", "Number", "3")]));
        assert!(!m(r#"{"k":[{"anything-but":[1,2]}]}"#, &[("k", "Number", "2")]));
        assert!(m(r#"{"k":[{"anything-but":{"prefix":"x"}}]}"#, &[("k", "String", "yes")]));
        assert!(!m(r#"{"k":[{"anything-but":{"prefix":"x"}}]}"#, &[("k", "String", "xyz")]));
        assert!(!m(r#"{"k":[{"anything-but":{"suffix":"z"}}]}"#, &[("k", "String", "xyz")]));
        // A missing attribute matches no anything-but.
        assert!(!m(r#"{"k":[{"anything-but":"a"}]}"#, &[]));
    }

    #[test]
    fn exists_checks_presence() {
        assert!(m(r#"{"k":[{"exists":true}]}"#, &[("k", "String", "v")]));
        assert!(!m(r#"{"k":[{"exists":true}]}"#, &[]));
        assert!(m(r#"{"k":[{"exists":false}]}"#, &[("other", "String", "v")]));
        assert!(!m(r#"{"k":[{"exists":false}]}"#, &[("k", "String", "v")]));
    }

    #[test]
    fn string_arrays_match_any_element() {
        let p = r#"{"tags":["urgent"]}"#;
        assert!(m(p, &[("tags", "String.Array", r#"["low","urgent"]"#)]));
        assert!(!m(p, &[("tags", "String.Array", r#"["low"]"#)]));
        assert!(m(r#"{"n":[{"numeric":[">",10]}]}"#, &[("n", "String.Array", "[1, 20]")]));
    }

    #[test]
    fn or_between_keys() {
        let p = r#"{"source":["aws.cloudwatch"],"$or":[{"metric":["CPU"]},{"namespace":["AWS/EC2"]}]}"#;
        assert!(m(p, &[("source", "String", "aws.cloudwatch"), ("metric", "String", "CPU")]));
        assert!(m(p, &[("source", "String", "aws.cloudwatch"), ("namespace", "String", "AWS/EC2")]));
        assert!(!m(p, &[("source", "String", "aws.cloudwatch"), ("metric", "String", "Disk")]));
        assert!(!m(p, &[("metric", "String", "CPU")]));
    }

    #[test]
    fn cidr_matches_addresses() {
        let p = r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#;
        assert!(m(p, &[("ip", "String", "10.0.0.255")]));
        assert!(!m(p, &[("ip", "String", "10.0.1.1")]));
        assert!(!m(p, &[("ip", "String", "not-an-ip")]));
        assert!(m(r#"{"ip":[{"cidr":"0.0.0.0/0"}]}"#, &[("ip", "String", "1.2.3.4")]));
    }

    #[test]
    fn binary_attributes_never_match_values() {
        let mut a = BTreeMap::new();
        a.insert(
            "k".to_string(),
            MessageAttribute { data_type: "Binary".into(), string_value: None, binary_value: Some(vec![1]) },
        );
        assert!(!Policy::parse(r#"{"k":["AQ=="]}"#).unwrap().matches_attributes(&a));
        assert!(Policy::parse(r#"{"k":[{"exists":true}]}"#).unwrap().matches_attributes(&a));
    }

    #[test]
    fn message_body_scope_nests() {
        let p = r#"{"order":{"status":["paid"],"total":[{"numeric":[">=",10]}]},"kind":["a"]}"#;
        assert!(b(p, r#"{"kind":"a","order":{"status":"paid","total":12}}"#));
        assert!(!b(p, r#"{"kind":"a","order":{"status":"paid","total":2}}"#));
        assert!(!b(p, r#"{"kind":"a"}"#));
        assert!(!b(p, "not json"));
        assert!(b(r#"{"items":{"sku":["x"]}}"#, r#"{"items":[{"sku":"y"},{"sku":"x"}]}"#));
        assert!(b(r#"{"tags":["t2"]}"#, r#"{"tags":["t1","t2"]}"#));
        assert!(b(r#"{"v":[null]}"#, r#"{"v":null}"#));
        assert!(b(r#"{"v":[true]}"#, r#"{"v":true}"#));
        assert!(b(r#"{"a":{"b":[{"exists":false}]}}"#, r#"{"c":1}"#));
        assert!(b(r#"{"$or":[{"a":[1]},{"b":[2]}]}"#, r#"{"b":2}"#));
        assert!(Policy::parse(p).unwrap().is_nested());
        assert!(!Policy::parse(r#"{"a":["x"]}"#).unwrap().is_nested());
    }

    #[test]
    fn bad_policies_are_refused_with_a_reason() {
        for bad in [
            "not json",
            "[]",
            "{}",
            r#"{"k":"v"}"#,
            r#"{"k":[]}"#,
            r#"{"k":[{"prefixx":"a"}]}"#,
            r#"{"k":[{"numeric":[">"]}]}"#,
            r#"{"k":[{"numeric":["<",5,">",1]}]}"#,
            r#"{"k":[{"numeric":[">",5,"<",1]}]}"#,
            r#"{"k":[{"numeric":["~",5]}]}"#,
            r#"{"k":[{"exists":"yes"}]}"#,
            r#"{"k":[{"cidr":"10.0.0.0"}]}"#,
            r#"{"k":[{"prefix":1}]}"#,
            r#"{"$or":[{"a":["x"]}]}"#,
            r#"{"k":[{"prefix":"a","suffix":"b"}]}"#,
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Policy::parse(r#"{"k":[{"prefixx":"a"}]}"#).unwrap_err().contains("Unrecognized match type prefixx"));
    }
}
