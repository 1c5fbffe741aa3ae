//! Subscription filter policies: which messages a subscriber gets.
//!
//! A policy is a JSON object. Each key names a message attribute
//! (`FilterPolicyScope` `MessageAttributes`, the default) or a key of the
//! JSON message body (`MessageBody`, where objects nest); every key must
//! match (AND), and a key matches when any condition in its array does
//! (OR). `"$or": [{...}, {...}]` matches when any of its policies does.
//! Conditions: exact strings and numbers, `null` (body only),
//! `{"prefix"}`, `{"suffix"}`, `{"equals-ignore-case"}`,
//! `{"anything-but": value | [values] | {"prefix"} | {"suffix"}}`,
//! `{"numeric": [">", 0, "<=", 100]}`, `{"exists": bool}` and
//! `{"cidr": "10.0.0.0/24"}`. A value that is an array (a `String.Array`
//! attribute, a JSON array in the body) matches when any element does. A
//! missing key matches only `{"exists": false}`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::model::MessageAttribute;

/// A parsed filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    root: Object,
}

#[derive(Debug, Clone, PartialEq)]
struct Object {
    fields: Vec<(String, Field)>,
    /// Each `$or` in this object: one of its alternatives must match.
    ors: Vec<Vec<Object>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Conditions(Vec<Condition>),
    Nested(Object),
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Literal(Scalar),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Scalar>),
    AnythingButPrefix(String),
    AnythingButSuffix(String),
    Numeric(Vec<(Op, f64)>),
    Exists(bool),
    Cidr(IpAddr, u8),
}

/// A value in a message or a policy.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Keys and conditions a policy may hold before SNS calls it too complex.
const MAX_KEYS: usize = 150;

impl Policy {
    /// Parses and checks a policy; the error says what is wrong.
    pub fn parse(json: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("failed to parse JSON. {e}"))?;
        let Value::Object(map) = value else {
            return Err("Filter policy must be a JSON object".into());
        };
        let root = parse_object(&map, 0)?;
        if root.fields.is_empty() && root.ors.is_empty() {
            return Err("Filter policy can not be empty".into());
        }
        if count_keys(&root) > MAX_KEYS {
            return Err("Filter policy is too complex".into());
        }
        Ok(Self { root })
    }

    /// Whether keys nest (only the MessageBody scope allows that).
    pub fn is_nested(&self) -> bool {
        fn nested(o: &Object) -> bool {
            o.fields.iter().any(|(_, f)| matches!(f, Field::Nested(_))) || o.ors.iter().flatten().any(nested)
        }
        nested(&self.root)
    }

    /// Matches against message attributes (scope `MessageAttributes`).
    pub fn matches_attributes(&self, attrs: &BTreeMap<String, MessageAttribute>) -> bool {
        let lookup = |key: &str| -> Option<Vec<Scalar>> { attrs.get(key).map(attribute_values) };
        object_matches_flat(&self.root, &lookup)
    }

    /// Matches against a message body (scope `MessageBody`); a body that
    /// is not a JSON object matches nothing.
    pub fn matches_body(&self, message: &str) -> bool {
        match serde_json::from_str::<Value>(message) {
            Ok(Value::Object(body)) => object_matches_body(&self.root, &body),
            _ => false,
        }
    }
}

fn count_keys(o: &Object) -> usize {
    o.fields
        .iter()
        .map(|(_, f)| match f {
            Field::Conditions(c) => c.len().max(1),
            Field::Nested(n) => count_keys(n),
        })
        .sum::<usize>()
        + o.ors.iter().flatten().map(count_keys).sum::<usize>()
}

fn parse_object(map: &Map<String, Value>, depth: usize) -> Result<Object, String> {
    if depth > 5 {
        return Err("Filter policy nesting is too deep".into());
    }
    let mut obj = Object { fields: Vec::new(), ors: Vec::new() };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("$or", Value::Array(alternatives)) => {
                if alternatives.len() < 2 {
                    return Err("$or must have at least two alternatives".into());
                }
                let mut alts = Vec::new();
                for a in alternatives {
                    let Value::Object(m) = a else { return Err("$or alternatives must be JSON objects".into()) };
                    alts.push(parse_object(m, depth + 1)?);
                }
                obj.ors.push(alts);
            }
            ("$or", _) => return Err("$or must be an array of JSON objects".into()),
            (_, Value::Array(conditions)) => {
                if conditions.is_empty() {
                    return Err(format!("Empty arrays are not allowed (key {key})"));
                }
                let parsed = conditions.iter().map(parse_condition).collect::<Result<Vec<_>, _>>()?;
                obj.fields.push((key.clone(), Field::Conditions(parsed)));
            }
            (_, Value::Object(m)) => obj.fields.push((key.clone(), Field::Nested(parse_object(m, depth + 1)?))),
            _ => return Err(format!("Match value for key {key} must be an array or an object")),
        }
    }
    Ok(obj)
}

fn scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Null => Some(Scalar::Null),
        _ => None,
    }
}

fn parse_condition(v: &Value) -> Result<Condition, String> {
    let Value::Object(m) = v else {
        return scalar(v)
            .map(Condition::Literal)
            .ok_or_else(|| "Match value must be a string, number, boolean, null or an object".to_string());
    };
    let mut entries = m.iter();
    let (Some((kind, arg)), None) = (entries.next(), entries.next()) else {
        return Err("A match condition object must have exactly one key".into());
    };
    let text = |what: &str| -> Result<String, String> {
        arg.as_str().map(str::to_string).ok_or_else(|| format!("{what} match pattern must be a string"))
    };
    match kind.as_str() {
        "prefix" => Ok(Condition::Prefix(text("prefix")?)),
        "suffix" => Ok(Condition::Suffix(text("suffix")?)),
        "equals-ignore-case" => Ok(Condition::EqualsIgnoreCase(text("equals-ignore-case")?)),
        "exists" => arg
            .as_bool()
            .map(Condition::Exists)
            .ok_or_else(|| "exists match pattern must be either true or false.".into()),
        "numeric" => parse_numeric(arg),
        "cidr" => parse_cidr(&text("cidr")?),
        "anything-but" => match arg {
            Value::Array(items) => {
                let values = items.iter().map(scalar).collect::<Option<Vec<_>>>();
                match values {
                    Some(v) if !v.is_empty() => Ok(Condition::AnythingBut(v)),
                    _ => Err("anything-but list must hold strings or numbers".into()),
                }
            }
            Value::Object(inner) => match inner.iter().next() {
                Some((k, Value::String(p))) if inner.len() == 1 && k == "prefix" => {
                    Ok(Condition::AnythingButPrefix(p.clone()))
                }
                Some((k, Value::String(s))) if inner.len() == 1 && k == "suffix" => {
                    Ok(Condition::AnythingButSuffix(s.clone()))
                }
                _ => Err("Unsupported anything-but pattern".into()),
            },
            other => scalar(other)
                .map(|s| Condition::AnythingBut(vec![s]))
                .ok_or_else(|| "Unsupported anything-but pattern".into()),
        },
        other => Err(format!("Unrecognized match type {other}")),
    }
}

fn parse_numeric(arg: &Value) -> Result<Condition, String> {
    let Value::Array(items) = arg else { return Err("Value of numeric must be an array.".into()) };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err("Value of numeric must be an array of one or two operator and number pairs.".into());
    }
    let mut bounds = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => Op::Eq,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            _ => return Err(format!("Unrecognized numeric range operator: {}", pair[0])),
        };
        let n = pair[1].as_f64().ok_or("Value of numeric operator must be a number.")?;
        bounds.push((op, n));
    }
    match bounds.as_slice() {
        [_] => {}
        [(lo_op, lo), (hi_op, hi)] => {
            let lower = matches!(lo_op, Op::Gt | Op::Ge);
            let upper = matches!(hi_op, Op::Lt | Op::Le);
            if !lower || !upper {
                return Err("Too many elements in numeric expression: a range needs a lower bound (> or >=) then an upper bound (< or <=).".into());
            }
            if lo >= hi {
                return Err("Bottom must be less than top".into());
            }
        }
        _ => return Err("Value of numeric must be an array of one or two operator and number pairs.".into()),
    }
    Ok(Condition::Numeric(bounds))
}

fn parse_cidr(s: &str) -> Result<Condition, String> {
    let bad = || format!("Malformed CIDR, one '/' required: {s}");
    let (addr, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err(bad());
    }
    Ok(Condition::Cidr(ip, bits))
}

/// A message attribute's values as the matcher sees them.
fn attribute_values(a: &MessageAttribute) -> Vec<Scalar> {
    let s = a.string_value.clone().unwrap_or_default();
    match a.base_type() {
        "Number" => s.trim().parse().map(|n| vec![Scalar::Num(n)]).unwrap_or_default(),
        "String.Array" => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
            _ => Vec::new(),
        },
        "Binary" => Vec::new(),
        _ => vec![Scalar::Str(s)],
    }
}

fn object_matches_flat(o: &Object, lookup: &dyn Fn(&str) -> Option<Vec<Scalar>>) -> bool {
    o.fields.iter().all(|(key, field)| match field {
        Field::Conditions(conds) => key_matches(conds, lookup(key).as_deref()),
        Field::Nested(_) => false,
    }) && o.ors.iter().all(|alts| alts.iter().any(|a| object_matches_flat(a, lookup)))
}

fn object_matches_body(o: &Object, body: &Map<String, Value>) -> bool {
    o.fields.iter().all(|(key, field)| {
        let value = body.get(key);
        match field {
            Field::Nested(inner) => match value {
                Some(Value::Object(m)) => object_matches_body(inner, m),
                // An array of objects matches when any object does.
                Some(Value::Array(items)) => {
                    items.iter().any(|i| matches!(i, Value::Object(m) if object_matches_body(inner, m)))
                }
                _ => object_matches_body(inner, &Map::new()) && inner_all_absent_ok(inner),
            },
            Field::Conditions(conds) => {
                let values = match value {
                    None | Some(Value::Object(_)) => None,
                    Some(Value::Array(items)) => Some(items.iter().filter_map(scalar).collect::<Vec<_>>()),
                    Some(v) => scalar(v).map(|s| vec![s]),
                };
                key_matches(conds, values.as_deref())
            }
        }
    }) && o.ors.iter().all(|alts| alts.iter().any(|a| object_matches_body(a, body)))
}

/// A missing nested object matches only when all its keys ask for absence.
fn inner_all_absent_ok(o: &Object) -> bool {
    o.fields.iter().all(|(_, f)| match f {
        Field::Conditions(c) => c.contains(&Condition::Exists(false)),
        Field::Nested(n) => inner_all_absent_ok(n),
    })
}

/// A key matches when any condition matches; `values` is None when absent.
fn key_matches(conds: &[Condition], values: Option<&[Scalar]>) -> bool {
    conds.iter().any(|c| match (c, values) {
        (Condition::Exists(want), v) => *want == v.is_some(),
        (_, None) => false,
        (c, Some(vs)) => vs.iter().any(|v| condition_matches(c, v)),
    })
}

fn condition_matches(c: &Condition, v: &Scalar) -> bool {
    match (c, v) {
        (Condition::Literal(Scalar::Num(a)), Scalar::Num(b)) => a == b,
        (Condition::Literal(l), v) => l == v,
        (Condition::Prefix(p), Scalar::Str(s)) => s.starts_with(p.as_str()),
        (Condition::Suffix(p), Scalar::Str(s)) => s.ends_with(p.as_str()),
        (Condition::EqualsIgnoreCase(p), Scalar::Str(s)) => s.to_lowercase() == p.to_lowercase(),
        (Condition::AnythingBut(list), v) => !list.contains(v),
        (Condition::AnythingButPrefix(p), Scalar::Str(s)) => !s.starts_with(p.as_str()),
        (Condition::AnythingButSuffix(p), Scalar::Str(s)) => !s.ends_with(p.as_str()),
        (Condition::Numeric(bounds), Scalar::Num(n)) => bounds.iter().all(|(op, b)| match op {
            Op::Eq => n == b,
            Op::Lt => n < b,
            Op::Le => n <= b,
            Op::Gt => n > b,
            Op::Ge => n >= b,
        }),
        (Condition::Cidr(net, bits), Scalar::Str(s)) => s.parse::<IpAddr>().is_ok_and(|ip| in_cidr(ip, *net, *bits)),
        _ => false,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    if shift >= 128 {
        return true;
    }
    (a >> shift) == (b >> shift)
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
