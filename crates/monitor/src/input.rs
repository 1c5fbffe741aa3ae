//! Reading operation inputs. The json and CBOR protocols carry numbers,
//! booleans and epoch-second timestamps; the query protocol carries every
//! leaf as a string (timestamps in ISO 8601). These readers accept both,
//! and name the member when it is missing or malformed.

use crate::error::CwError;
use crate::store::Dims;
use serde_json::Value;

pub fn str_opt<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

pub fn str_req<'a>(input: &'a Value, name: &str) -> Result<&'a str, CwError> {
    str_opt(input, name).ok_or_else(|| missing(name))
}

pub fn missing(name: &str) -> CwError {
    CwError::MissingParameter(format!("The parameter {name} is required."))
}

fn invalid(name: &str, value: &Value) -> CwError {
    CwError::InvalidParameterValue(format!("The value {value} for parameter {name} is invalid."))
}

pub fn f64_opt(input: &Value, name: &str) -> Result<Option<f64>, CwError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid(name, v)),
        Some(v) => Err(invalid(name, v)),
    }
}

pub fn i64_opt(input: &Value, name: &str) -> Result<Option<i64>, CwError> {
    match f64_opt(input, name)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(Some(f as i64)),
        Some(_) => Err(invalid(name, &input[name])),
    }
}

pub fn i64_req(input: &Value, name: &str) -> Result<i64, CwError> {
    i64_opt(input, name)?.ok_or_else(|| missing(name))
}

pub fn bool_opt(input: &Value, name: &str) -> Result<Option<bool>, CwError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(v) => Err(invalid(name, v)),
    }
}

/// Latest timestamp accepted (year 5138): keeps minute arithmetic far
/// from overflow.
const MAX_EPOCH_SECS: f64 = 1e11;

/// Epoch seconds from a number or an ISO 8601 string, from 1970 on.
pub fn timestamp_opt(input: &Value, name: &str) -> Result<Option<f64>, CwError> {
    let secs = timestamp_any(input, name)?;
    match secs {
        Some(s) if !(0.0..=MAX_EPOCH_SECS).contains(&s) => Err(invalid(name, &input[name])),
        other => Ok(other),
    }
}

fn timestamp_any(input: &Value, name: &str) -> Result<Option<f64>, CwError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(v @ Value::String(s)) => {
            if let Ok(secs) = s.parse::<f64>() {
                return Ok(Some(secs));
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis() as f64 / 1000.0)
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                        .map(|t| t.and_utc().timestamp_millis() as f64 / 1000.0)
                })
                .map(Some)
                .map_err(|_| invalid(name, v))
        }
        Some(v) => Err(invalid(name, v)),
    }
}

pub fn timestamp_req(input: &Value, name: &str) -> Result<f64, CwError> {
    timestamp_opt(input, name)?.ok_or_else(|| missing(name))
}

/// A list member; absent is empty, and so is the query protocol's
/// `Name=` (how botocore sends an empty list).
pub fn list<'a>(input: &'a Value, name: &str) -> Result<&'a [Value], CwError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::String(s)) if s.is_empty() => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(v) => Err(invalid(name, v)),
    }
}

pub fn strings(input: &Value, name: &str) -> Result<Vec<String>, CwError> {
    list(input, name)?.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| invalid(name, v))).collect()
}

/// `Dimensions`: name/value pairs, sorted by name, names unique.
pub fn dimensions(input: &Value) -> Result<Dims, CwError> {
    let mut dims = Dims::new();
    for d in list(input, "Dimensions")? {
        let name = str_opt(d, "Name").ok_or_else(|| missing("Dimensions.member.N.Name"))?;
        let value = str_opt(d, "Value").ok_or_else(|| missing("Dimensions.member.N.Value"))?;
        if name.is_empty() || value.is_empty() {
            return Err(CwError::InvalidParameterValue("Dimension names and values must not be empty.".into()));
        }
        dims.push((name.to_string(), value.to_string()));
    }
    dims.sort();
    if dims.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(CwError::InvalidParameterValue("A dimension name may appear only once.".into()));
    }
    Ok(dims)
}

/// Dimensions as CloudWatch's `[{"Name", "Value"}]`.
pub fn dimensions_json(dims: &Dims) -> Value {
    Value::Array(dims.iter().map(|(n, v)| serde_json::json!({"Name": n, "Value": v})).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn strings_from_the_query_protocol_read_like_native_values() {
        let q = json!({"Period": "60", "T": "2024-01-01T00:01:00Z", "On": "true", "X": "1.5"});
        let j = json!({"Period": 60, "T": 1704067260, "On": true, "X": 1.5});
        for input in [&q, &j] {
            assert_eq!(i64_req(input, "Period").unwrap(), 60);
            assert_eq!(timestamp_req(input, "T").unwrap(), 1_704_067_260.0);
            assert_eq!(bool_opt(input, "On").unwrap(), Some(true));
            assert_eq!(f64_opt(input, "X").unwrap(), Some(1.5));
        }
        assert!(matches!(i64_req(&json!({}), "Period"), Err(CwError::MissingParameter(_))));
        assert!(matches!(i64_req(&json!({"Period": "x"}), "Period"), Err(CwError::InvalidParameterValue(_))));
        assert!(timestamp_req(&json!({"T": "yesterday"}), "T").is_err());
        assert!(timestamp_req(&json!({"T": -1e300}), "T").is_err());
        assert!(timestamp_req(&json!({"T": 1e300}), "T").is_err());
        assert!(list(&json!({"Dimensions": ""}), "Dimensions").unwrap().is_empty());
        assert!(list(&json!({"Dimensions": "x"}), "Dimensions").is_err());
    }

    #[test]
    fn dimensions_are_sorted_and_unique() {
        let input = json!({"Dimensions": [{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}]});
        assert_eq!(dimensions(&input).unwrap(), vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        let twice = json!({"Dimensions": [{"Name": "a", "Value": "2"}, {"Name": "a", "Value": "1"}]});
        assert!(dimensions(&twice).is_err());
    }
}
