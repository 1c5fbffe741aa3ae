//! Event patterns: the JSON matching language Lambda's event filtering
//! (`FilterCriteria`) shares with EventBridge rules and SNS filter
//! policies.
//!
//! A pattern is a JSON object. Every key in it must match (AND); a key maps
//! either to a nested pattern or to an array of matchers, any of which may
//! match (OR). `"$or": [pattern, ...]` matches when one of its patterns
//! does. A matcher is a literal (string, number, boolean, null: equality)
//! or an operator object: `prefix`, `suffix`, `equals-ignore-case`,
//! `wildcard`, `anything-but` (a value, a list, or another operator),
//! `numeric` and `exists`. When the event's value is an array, the
//! matchers apply to each element and one match is enough, as in
//! EventBridge. Numbers compare by value (`5` matches `5.0`), never with
//! strings (`5` does not match `"5"`).
//!
//! Services read the language slightly differently, so a pattern is parsed
//! in a [`Dialect`]: SNS filter policies add `cidr`, and refuse empty
//! policies, empty arrays, numeric ranges that do not run low to high, and
//! policies too deep or too large. SNS message attributes become a JSON
//! object before matching (the topic crate does that: a `Number` attribute
//! a number, a `String.Array` an array).
//!
//! Patterns are parsed once ([`EventPattern::parse`]) so that bad input is
//! refused when the filter is stored, not when an event arrives.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// A parsed pattern, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern(Node);

/// Which service's reading of the language a pattern follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Lambda event filtering (and EventBridge's core language).
    #[default]
    EventFilter,
    /// SNS subscription filter policies.
    SnsFilterPolicy,
}

/// Values (matchers, counted per key) an SNS filter policy may hold.
const SNS_MAX_VALUES: usize = 150;
/// Levels of nesting an SNS filter policy may have.
const SNS_MAX_DEPTH: usize = 5;

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
    /// An IP address within a network (SNS only): address, prefix length.
    Cidr(IpAddr, u8),
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
    /// Parses a Lambda / EventBridge pattern from its JSON text; the error
    /// says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("pattern is not valid JSON: {e}"))?;
        let Value::Object(obj) = v else { return Err("pattern must be a JSON object".into()) };
        Self::from_object(&obj, Dialect::EventFilter)
    }

    /// Parses a pattern already read as JSON, in `dialect`.
    pub fn from_object(obj: &Map<String, Value>, dialect: Dialect) -> Result<Self, String> {
        let root = Parser { dialect }.node(obj, 0)?;
        if dialect == Dialect::SnsFilterPolicy {
            let Node::Fields { fields, any_of } = &root;
            if fields.is_empty() && any_of.is_empty() {
                return Err("Filter policy can not be empty".into());
            }
            if count_values(&root) > SNS_MAX_VALUES {
                return Err("Filter policy is too complex".into());
            }
        }
        Ok(Self(root))
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        node_matches(&self.0, event)
    }

    /// Whether some key holds a nested pattern rather than matchers.
    pub fn is_nested(&self) -> bool {
        fn nested(Node::Fields { fields, any_of }: &Node) -> bool {
            fields.iter().any(|(_, f)| matches!(f, Field::Nested(_))) || any_of.iter().flatten().any(nested)
        }
        nested(&self.0)
    }
}

/// Matchers per key (at least one), summed over the whole pattern.
fn count_values(Node::Fields { fields, any_of }: &Node) -> usize {
    fields
        .iter()
        .map(|(_, f)| match f {
            Field::Matchers(m) => m.len().max(1),
            Field::Nested(n) => count_values(n),
        })
        .sum::<usize>()
        + any_of.iter().flatten().map(count_values).sum::<usize>()
}

struct Parser {
    dialect: Dialect,
}

impl Parser {
    fn sns(&self) -> bool {
        self.dialect == Dialect::SnsFilterPolicy
    }

    fn node(&self, obj: &Map<String, Value>, depth: usize) -> Result<Node, String> {
        if self.sns() && depth > SNS_MAX_DEPTH {
            return Err("Filter policy nesting is too deep".into());
        }
        let mut fields = Vec::new();
        let mut any_of = Vec::new();
        for (key, v) in obj {
            if key == "$or" {
                let Value::Array(alternatives) = v else { return Err("\"$or\" must be an array of patterns".into()) };
                let parsed = alternatives
                    .iter()
                    .map(|a| {
                        a.as_object()
                            .ok_or_else(|| "\"$or\" must hold objects".to_string())
                            .and_then(|o| self.node(o, depth + 1))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if parsed.len() < 2 {
                    return Err("\"$or\" needs at least two patterns".into());
                }
                any_of.push(parsed);
                continue;
            }
            let field = match v {
                Value::Object(inner) => Field::Nested(self.node(inner, depth + 1)?),
                Value::Array(items) if items.is_empty() && self.sns() => {
                    return Err(format!("Empty arrays are not allowed (key {key})"))
                }
                Value::Array(items) => {
                    Field::Matchers(items.iter().map(|m| self.matcher(m)).collect::<Result<_, _>>()?)
                }
                _ => return Err(format!("the value of \"{key}\" must be an object or an array")),
            };
            fields.push((key.clone(), field));
        }
        Ok(Node::Fields { fields, any_of })
    }

    fn matcher(&self, v: &Value) -> Result<Matcher, String> {
        let Value::Object(op) = v else {
            return match v {
                Value::Array(_) if self.sns() => {
                    Err("Match value must be a string, number, boolean, null or an object".into())
                }
                _ => Ok(Matcher::Equals(v.clone())),
            };
        };
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
            ("exists", _) => Err("exists match pattern must be either true or false.".into()),
            ("numeric", Value::Array(parts)) => self.numeric(parts).map(Matcher::Numeric),
            ("cidr", Value::String(s)) if self.sns() => cidr(s),
            ("anything-but", Value::Array(values)) => Ok(Matcher::AnythingBut(
                values
                    .iter()
                    .map(|v| match v {
                        Value::String(_) | Value::Number(_) => Ok(Matcher::Equals(v.clone())),
                        _ => Err("anything-but lists hold strings or numbers".to_string()),
                    })
                    .collect::<Result<_, _>>()?,
            )),
            ("anything-but", Value::Object(_)) => Ok(Matcher::AnythingBut(vec![self.matcher(arg)?])),
            ("anything-but", Value::String(_) | Value::Number(_)) => {
                Ok(Matcher::AnythingBut(vec![Matcher::Equals(arg.clone())]))
            }
            (other, _) => Err(format!("Unrecognized match type {other}")),
        }
    }

    fn numeric(&self, parts: &[Value]) -> Result<Vec<(Cmp, f64)>, String> {
        if parts.is_empty() || !parts.len().is_multiple_of(2) || parts.len() > 4 {
            return Err("\"numeric\" takes one or two (operator, number) pairs".into());
        }
        let bounds = parts
            .chunks(2)
            .map(|pair| {
                let cmp = match pair[0].as_str() {
                    Some("<") => Cmp::Lt,
                    Some("<=") => Cmp::Le,
                    Some("=") => Cmp::Eq,
                    Some(">=") => Cmp::Ge,
                    Some(">") => Cmp::Gt,
                    _ => return Err(format!("Unrecognized numeric range operator: {}", pair[0])),
                };
                let bound = pair[1].as_f64().ok_or_else(|| format!("numeric bound {} is not a number", pair[1]))?;
                Ok((cmp, bound))
            })
            .collect::<Result<Vec<_>, String>>()?;
        if let [(low_cmp, low), (high_cmp, high)] = bounds.as_slice() {
            if self.sns() {
                if !matches!(low_cmp, Cmp::Gt | Cmp::Ge) || !matches!(high_cmp, Cmp::Lt | Cmp::Le) {
                    return Err("Too many elements in numeric expression: a range needs a lower bound (> or >=) then an upper bound (< or <=).".into());
                }
                if low >= high {
                    return Err("Bottom must be less than top".into());
                }
            }
        }
        Ok(bounds)
    }
}

/// `"10.0.0.0/24"` or an IPv6 network.
fn cidr(s: &str) -> Result<Matcher, String> {
    let bad = || format!("Malformed CIDR, one '/' required: {s}");
    let (addr, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if bits > if ip.is_ipv4() { 32 } else { 128 } {
        return Err(bad());
    }
    Ok(Matcher::Cidr(ip, bits))
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
        Matcher::Cidr(net, bits) => {
            v.as_str().and_then(|s| s.parse().ok()).is_some_and(|ip| in_network(ip, *net, *bits))
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return false,
    };
    match width - u32::from(bits) {
        128 => true,
        shift => (a >> shift) == (b >> shift),
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

    fn sns(pattern: &str) -> Result<EventPattern, String> {
        match serde_json::from_str::<Value>(pattern) {
            Ok(Value::Object(o)) => EventPattern::from_object(&o, Dialect::SnsFilterPolicy),
            _ => Err("not an object".into()),
        }
    }

    #[test]
    fn sns_dialect_adds_cidr_and_stricter_checks() {
        let p = sns(r#"{"ip": [{"cidr": "10.0.0.0/24"}], "v6": [{"cidr": "2001:db8::/32"}]}"#).expect("valid");
        assert!(p.matches(&json!({"ip": "10.0.0.255", "v6": "2001:db8::1"})));
        assert!(!p.matches(&json!({"ip": "10.0.1.1", "v6": "2001:db8::1"})));
        assert!(!p.matches(&json!({"ip": "not-an-ip", "v6": "2001:db8::1"})));
        assert!(sns(r#"{"ip": [{"cidr": "0.0.0.0/0"}]}"#).expect("valid").matches(&json!({"ip": "1.2.3.4"})));
        // Lambda's filters have no cidr, and take what SNS refuses.
        assert!(EventPattern::parse(r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#).is_err());
        for lenient in [r#"{"a": []}"#, r#"{"n": [{"numeric": ["<", 5, ">", 1]}]}"#, "{}"] {
            assert!(EventPattern::parse(lenient).is_ok(), "{lenient}");
            assert!(sns(lenient).is_err(), "{lenient}");
        }
        for bad in [
            r#"{"n": [{"numeric": [">", 5, "<", 1]}]}"#,
            r#"{"ip": [{"cidr": "10.0.0.0"}]}"#,
            r#"{"ip": [{"cidr": "10.0.0.0/33"}]}"#,
            r#"{"a": [["nested"]]}"#,
            r#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": ["x"]}}}}}}}"#,
        ] {
            assert!(sns(bad).is_err(), "{bad}");
        }
        let too_many = format!(r#"{{"k": [{}]}}"#, (0..151).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        assert_eq!(sns(&too_many).expect_err("too many"), "Filter policy is too complex");
        assert_eq!(sns(r#"{"k": [{"prefixx": "a"}]}"#).expect_err("unknown"), "Unrecognized match type prefixx");
        assert!(sns(r#"{"a": {"b": ["c"]}}"#).expect("valid").is_nested());
        assert!(!sns(r#"{"a": ["c"], "$or": [{"b": [1]}, {"c": [2]}]}"#).expect("valid").is_nested());
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
