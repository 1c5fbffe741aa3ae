//! CBOR ↔ JSON values for the smithy-rpc-v2-cbor protocol.
//!
//! Operations work on `serde_json::Value`s; this module is the only place
//! that knows CBOR. Timestamps arrive as tag 1 (epoch seconds) and become
//! plain numbers; on the way out, members named `*Timestamp` or
//! `Timestamps` (the only timestamp members CloudWatch's outputs have) are
//! tagged again, which is what botocore's CBOR parser requires.

use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Map, Number, Value};

/// Decodes a request body. An empty body is an empty input.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let cbor: Cbor = ciborium::de::from_reader(body).map_err(|e| format!("the body is not valid CBOR: {e}"))?;
    to_json(cbor)
}

fn to_json(cbor: Cbor) -> Result<Value, String> {
    Ok(match cbor {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            match i64::try_from(i) {
                Ok(n) => Value::Number(n.into()),
                Err(_) => Number::from_f64(i as f64).map(Value::Number).unwrap_or(Value::Null),
            }
        }
        Cbor::Float(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(_) => return Err("byte strings are not expected in CloudWatch inputs".into()),
        Cbor::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Cbor::Map(pairs) => {
            let mut map = Map::new();
            for (k, v) in pairs {
                let Cbor::Text(key) = k else { return Err("map keys must be text strings".into()) };
                // Smithy: a null member is an absent member.
                if !v.is_null() {
                    map.insert(key, to_json(v)?);
                }
            }
            Value::Object(map)
        }
        Cbor::Tag(1, inner) => to_json(*inner)?,
        Cbor::Tag(tag, _) => return Err(format!("CBOR tag {tag} is not supported")),
        _ => return Err("unsupported CBOR item".into()),
    })
}

/// Encodes an answer.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every value is representable.
    if let Err(e) = ciborium::ser::into_writer(&from_json(value, false), &mut out) {
        tracing::error!(error = %e, "cannot encode a CBOR answer");
    }
    out
}

fn is_timestamp_member(name: &str) -> bool {
    name.ends_with("Timestamp") || name == "Timestamps"
}

fn from_json(value: &Value, timestamp: bool) -> Cbor {
    let plain = match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Cbor::Integer(Integer::from(i)),
            (None, Some(f)) => Cbor::Float(f),
            (None, None) => Cbor::Null,
        },
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(|v| from_json(v, timestamp)).collect()),
        Value::Object(map) => {
            Cbor::Map(map.iter().map(|(k, v)| (Cbor::Text(k.clone()), from_json(v, is_timestamp_member(k)))).collect())
        }
    };
    if timestamp && matches!(plain, Cbor::Integer(_) | Cbor::Float(_)) {
        Cbor::Tag(1, Box::new(plain))
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_tagged_on_the_way_out_and_untagged_on_the_way_in() {
        let answer = json!({"Datapoints": [{"Timestamp": 1700000040, "Sum": 3.5}], "Timestamps": [60, 120]});
        let bytes = encode(&answer);
        let raw: Cbor = ciborium::de::from_reader(bytes.as_slice()).unwrap();
        let Cbor::Map(top) = &raw else { panic!("{raw:?}") };
        let (_, points) = top.iter().find(|(k, _)| k.as_text() == Some("Datapoints")).unwrap();
        let Cbor::Array(points) = points else { panic!() };
        let Cbor::Map(point) = &points[0] else { panic!() };
        assert!(point.iter().any(|(k, v)| k.as_text() == Some("Timestamp") && matches!(v, Cbor::Tag(1, _))));
        assert!(point.iter().any(|(k, v)| k.as_text() == Some("Sum") && matches!(v, Cbor::Float(_))));
        let (_, stamps) = top.iter().find(|(k, _)| k.as_text() == Some("Timestamps")).unwrap();
        assert!(matches!(stamps, Cbor::Array(a) if a.iter().all(|v| matches!(v, Cbor::Tag(1, _)))));
        assert_eq!(decode(&bytes).unwrap(), answer);
    }

    #[test]
    fn malformed_bodies_are_errors_and_empty_bodies_empty_inputs() {
        assert_eq!(decode(b"").unwrap(), json!({}));
        assert!(decode(&[0xff, 0x00]).is_err());
        let mut tagged = Vec::new();
        ciborium::ser::into_writer(&Cbor::Tag(32, Box::new(Cbor::Text("x".into()))), &mut tagged).unwrap();
        assert!(decode(&tagged).is_err());
    }
}
