//! Event patterns: the JSON matching language Lambda's event filtering
//! (`FilterCriteria`) shares with EventBridge rules and SNS filter
//! policies.
//!
//! A pattern is a JSON object. Every key in it must match (AND); a key maps
//! either to a nested pattern or to an array of matchers, any of which may
//! match (OR). `"$or": [pattern, ...]` matches when one of its patterns
//! does. A matcher is a literal (string, number, boolean, null: equality)
//! or an operator object: `prefix`, `suffix`, `equals-ignore-case`,
//! `wildcard`, `anything-but`, `numeric` and `exists`. When the event's
//! value is an array, the matchers apply to each element and one match is
//! enough, as in EventBridge.
//!
//! Patterns are parsed once ([`EventPattern::parse`]) so that bad input is
//! refused when the filter is stored, not when an event arrives.

use serde_json::{Map, Value};

/// A parsed pattern, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// All fields must match; `any_of` holds `$or` alternatives (each a
    /// whole pattern), of which one must match as well.
    Fields { fields: Vec<(String, Field)>, any_of: Vec<Vec<Node>> },
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Node),
    Matchers(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Equals(Value),
    Prefix(String, bool),
    Suffix(String, bool),
    EqualsIgnoreCase(String),
    Wildcard(String),
    AnythingBut(Vec<Matcher>),
    /// (operator, bound) pairs that must all hold.
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl EventPattern {
    /// Parses a pattern from its JSON text; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("pattern is not valid JSON: {e}"))?;
        let Value::Object(obj) = v else { return Err("pattern must be a JSON object".into()) };
        Ok(Self(node(&obj)?))
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        node_matches(&self.0, event)
    }
}

fn node(obj: &Map<String, Value>) -> Result<Node, String> {
    let mut fields = Vec::new();
    let mut any_of = Vec::new();
    for (key, v) in obj {
        if key == "$or" {
            let Value::Array(alternatives) = v else { return Err("\"$or\" must be an array of patterns".into()) };
            let parsed = alternatives
                .iter()
                .map(|a| a.as_object().ok_or_else(|| "\"$or\" must hold objects".to_string()).and_then(node))
                .collect::<Result<Vec<_>, _>>()?;
            if parsed.len() < 2 {
                return Err("\"$or\" needs at least two patterns".into());
            }
            any_of.push(parsed);
            continue;
        }
        let field = match v {
            Value::Object(inner) => Field::Nested(node(inner)?),
            Value::Array(items) => Field::Matchers(items.iter().map(matcher).collect::<Result<Vec<_>, _>>()?),
            _ => return Err(format!("the value of \"{key}\" must be an object or an array")),
        };
        fields.push((key.clone(), field));
    }
    Ok(Node::Fields { fields, any_of })
}

fn matcher(v: &Value) -> Result<Matcher, String> {
    let Value::Object(op) = v else { return Ok(Matcher::Equals(v.clone())) };
    let (name, arg) = match op.iter().next() {
        Some(pair) if op.len() == 1 => pair,
        _ => return Err("a matcher object must have exactly one operator".into()),
    };
    match (name.as_str(), arg) {
        ("prefix", _) => string_or_ignore_case(arg, "prefix").map(|(s, ic)| Matcher::Prefix(s, ic)),
        ("suffix", _) => string_or_ignore_case(arg, "suffix").map(|(s, ic)| Matcher::Suffix(s, ic)),
        ("equals-ignore-case", Value::String(s)) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase())),
        ("wildcard", Value::String(s)) => Ok(Matcher::Wildcard(s.clone())),
        ("exists", Value::Bool(b)) => Ok(Matcher::Exists(*b)),
        ("numeric", Value::Array(parts)) => numeric(parts).map(Matcher::Numeric),
        ("anything-but", Value::Array(values)) => Ok(Matcher::AnythingBut(
            values
                .iter()
                .map(|v| match v {
                    Value::String(_) | Value::Number(_) => Ok(Matcher::Equals(v.clone())),
                    _ => Err("anything-but lists hold strings or numbers".to_string()),
                })
                .collect::<Result<_, _>>()?,
        )),
        ("anything-but", Value::Object(_)) => Ok(Matcher::AnythingBut(vec![matcher(arg)?])),
        ("anything-but", Value::String(_) | Value::Number(_)) => {
            Ok(Matcher::AnythingBut(vec![Matcher::Equals(arg.clone())]))
        }
        (other, _) => Err(format!("unsupported or malformed operator \"{other}\"")),
    }
}

/// `"text"` or `{"equals-ignore-case": "text"}`: (text, ignore case).
fn string_or_ignore_case(arg: &Value, op: &str) -> Result<(String, bool), String> {
    match arg {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(o) => match o.get("equals-ignore-case") {
            Some(Value::String(s)) if o.len() == 1 => Ok((s.to_lowercase(), true)),
            _ => Err(format!("\"{op}\" takes a string or {{\"equals-ignore-case\": string}}")),
        },
        _ => Err(format!("\"{op}\" takes a string")),
    }
}

fn numeric(parts: &[Value]) -> Result<Vec<(Cmp, f64)>, String> {
    if parts.is_empty() || !parts.len().is_multiple_of(2) || parts.len() > 4 {
        return Err("\"numeric\" takes one or two (operator, number) pairs".into());
    }
    parts
        .chunks(2)
        .map(|pair| {
            let cmp = match pair[0].as_str() {
                Some("<") => Cmp::Lt,
                Some("<=") => Cmp::Le,
                Some("=") => Cmp::Eq,
                Some(">=") => Cmp::Ge,
                Some(">") => Cmp::Gt,
                _ => return Err(format!("unknown numeric operator {}", pair[0])),
            };
            let bound = pair[1].as_f64().ok_or_else(|| format!("numeric bound {} is not a number", pair[1]))?;
            Ok((cmp, bound))
        })
        .collect()
}

fn node_matches(node: &Node, event: &Value) -> bool {
    let Node::Fields { fields, any_of } = node;
    let obj = event.as_object();
    fields.iter().all(|(key, field)| {
        let value = obj.and_then(|o| o.get(key));
        match field {
            Field::Nested(inner) => match value {
                Some(Value::Array(items)) => items.iter().any(|item| node_matches(inner, item)),
                Some(v) => node_matches(inner, v),
                // Only `exists: false` matchers can match inside an absent object.
                None => node_matches(inner, &Value::Null),
            },
            Field::Matchers(matchers) => matchers.iter().any(|m| field_matches(m, value)),
        }
    }) && any_of.iter().all(|alternatives| alternatives.iter().any(|alt| node_matches(alt, event)))
}

fn field_matches(m: &Matcher, value: Option<&Value>) -> bool {
    match (m, value) {
        (Matcher::Exists(wanted), v) => v.is_some() == *wanted,
        (Matcher::AnythingBut(_), None) => false,
        (_, None) => false,
        (_, Some(Value::Array(items))) => items.iter().any(|item| scalar_matches(m, item)),
        (_, Some(v)) => scalar_matches(m, v),
    }
}

fn scalar_matches(m: &Matcher, v: &Value) -> bool {
    match m {
        Matcher::Equals(want) => equal(want, v),
        Matcher::Prefix(p, false) => v.as_str().is_some_and(|s| s.starts_with(p.as_str())),
        Matcher::Prefix(p, true) => v.as_str().is_some_and(|s| s.to_lowercase().starts_with(p.as_str())),
        Matcher::Suffix(p, false) => v.as_str().is_some_and(|s| s.ends_with(p.as_str())),
        Matcher::Suffix(p, true) => v.as_str().is_some_and(|s| s.to_lowercase().ends_with(p.as_str())),
        Matcher::EqualsIgnoreCase(want) => v.as_str().is_some_and(|s| s.to_lowercase() == *want),
        Matcher::Wildcard(pattern) => v.as_str().is_some_and(|s| wildcard(pattern, s)),
        Matcher::AnythingBut(excluded) => !excluded.iter().any(|e| scalar_matches(e, v)),
        Matcher::Numeric(bounds) => v.as_f64().is_some_and(|n| {
            bounds.iter().all(|&(cmp, b)| match cmp {
                Cmp::Lt => n < b,
                Cmp::Le => n <= b,
                Cmp::Eq => n == b,
                Cmp::Ge => n >= b,
                Cmp::Gt => n > b,
            })
        }),
        Matcher::Exists(_) => true,
    }
}

/// Literal equality; numbers compare by value (`5` equals `5.0`).
fn equal(want: &Value, v: &Value) -> bool {
    match (want, v) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => want == v,
    }
}

/// `*` matches any run of characters, everything else itself.
fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else { return pattern == s };
    if parts.len() == 1 {
        return pattern == s;
    }
    let Some(mut rest) = s.strip_prefix(first) else { return false };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: &str, event: Value) -> bool {
        EventPattern::parse(pattern).expect("valid pattern").matches(&event)
    }

    #[test]
    fn literals_nested_fields_and_arrays() {
        let ev = json!({"body": {"kind": "order", "qty": 5, "tags": ["a", "b"], "ok": true, "none": null}});
        assert!(m(r#"{"body": {"kind": ["order"]}}"#, ev.clone()));
        assert!(!m(r#"{"body": {"kind": ["refund"]}}"#, ev.clone()));
        assert!(m(r#"{"body": {"kind": ["refund", "order"]}}"#, ev.clone()));
        assert!(m(r#"{"body": {"qty": [5.0]}}"#, ev.clone()));
        assert!(m(r#"{"body": {"tags": ["b"]}}"#, ev.clone()), "array values match any element");
        assert!(m(r#"{"body": {"ok": [true], "none": [null]}}"#, ev.clone()));
        assert!(!m(r#"{"body": {"kind": ["order"], "qty": [6]}}"#, ev.clone()), "all fields must match");
        assert!(!m(r#"{"body": {"missing": ["x"]}}"#, ev));
    }

    #[test]
    fn operators() {
        let ev = json!({"s": "Order-123.json", "n": 42, "ip": "10.0.0.1"});
        assert!(m(r#"{"s": [{"prefix": "Order-"}]}"#, ev.clone()));
        assert!(!m(r#"{"s": [{"prefix": "order-"}]}"#, ev.clone()));
        assert!(m(r#"{"s": [{"prefix": {"equals-ignore-case": "order-"}}]}"#, ev.clone()));
        assert!(m(r#"{"s": [{"suffix": ".json"}]}"#, ev.clone()));
        assert!(m(r#"{"s": [{"equals-ignore-case": "ORDER-123.JSON"}]}"#, ev.clone()));
        assert!(m(r#"{"s": [{"wildcard": "Order-*.json"}]}"#, ev.clone()));
        assert!(!m(r#"{"s": [{"wildcard": "Order-*.xml"}]}"#, ev.clone()));
        assert!(m(r#"{"s": [{"anything-but": ["x", "y"]}]}"#, ev.clone()));
        assert!(!m(r#"{"s": [{"anything-but": {"prefix": "Order"}}]}"#, ev.clone()));
        assert!(m(r#"{"n": [{"numeric": [">", 0, "<=", 42]}]}"#, ev.clone()));
        assert!(!m(r#"{"n": [{"numeric": ["<", 42]}]}"#, ev.clone()));
        assert!(m(r#"{"n": [{"exists": true}], "gone": [{"exists": false}]}"#, ev.clone()));
        assert!(!m(r#"{"gone": [{"exists": true}]}"#, ev.clone()));
        assert!(!m(r#"{"gone": [{"anything-but": "x"}]}"#, ev));
    }

    #[test]
    fn or_alternatives() {
        let p = r#"{"a": ["1"], "$or": [{"b": ["x"]}, {"c": [{"numeric": [">", 10]}]}]}"#;
        assert!(m(p, json!({"a": "1", "b": "x"})));
        assert!(m(p, json!({"a": "1", "c": 11})));
        assert!(!m(p, json!({"a": "1", "c": 5})));
        assert!(!m(p, json!({"a": "2", "b": "x"})));
    }

    #[test]
    fn exists_false_on_a_missing_object() {
        assert!(m(r#"{"meta": {"trace": [{"exists": false}]}}"#, json!({"body": "x"})));
        assert!(!m(r#"{"meta": {"trace": ["t"]}}"#, json!({"body": "x"})));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "not json",
            "[1]",
            r#"{"a": "plain"}"#,
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"numeric": ["~", 1]}]}"#,
            r#"{"a": [{"prefix": 1}]}"#,
            r#"{"a": [{"nope": 1}]}"#,
            r#"{"$or": [{"a": ["x"]}]}"#,
        ] {
            assert!(EventPattern::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", ""));
        assert!(wildcard("a*", "abc"));
        assert!(wildcard("*c", "abc"));
        assert!(wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("a*b*c", "aXcYb"));
        assert!(!wildcard("ab*ba", "aba"));
        assert!(wildcard("abc", "abc"));
    }
}
