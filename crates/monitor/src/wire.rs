//! CloudWatch's three wire protocols, reduced to one: a request becomes an
//! operation name and its input as a JSON value, and an answer (or a
//! [`CwError`]) is rendered back in the caller's protocol.
//!
//! - smithy-rpc-v2-cbor: `POST /service/GraniteServiceVersion20100801/operation/{Op}`
//!   with `smithy-protocol: rpc-v2-cbor` and CBOR bodies ([`crate::cbor`]).
//! - json (awsJson1_0): `X-Amz-Target: GraniteServiceVersion20100801.{Op}`;
//!   what boto3 and the AWS CLI send today (the first of the model's
//!   protocols botocore supports).
//! - query: `Action={Op}` forms with XML answers ([`crate::query`]).
//!
//! CloudWatch is "query compatible": json and CBOR errors carry
//! `x-amzn-query-error: Code;Sender`, which botocore turns into the same
//! error codes query clients see.

use crate::error::CwError;
use crate::{cbor, query};
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
const CBOR_PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
    Query,
}

/// One decoded request.
#[derive(Debug)]
pub struct Call {
    pub protocol: Protocol,
    pub operation: String,
    pub input: Value,
}

/// Which protocol a request speaks, from its headers and path.
pub fn protocol_of(path: &str, headers: &HeaderMap) -> Protocol {
    if headers.contains_key("smithy-protocol") || path.starts_with(CBOR_PATH_PREFIX) {
        Protocol::Cbor
    } else if headers.contains_key("x-amz-target") {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

/// Decodes a request; a failure is answered in the protocol it arrived in.
pub fn decode(
    path: &str,
    query_string: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, (Protocol, CwError)> {
    let protocol = protocol_of(path, headers);
    let fail = |e: CwError| (protocol, e);
    match protocol {
        Protocol::Cbor => {
            let operation = path
                .strip_prefix(CBOR_PATH_PREFIX)
                .filter(|op| !op.is_empty() && !op.contains('/'))
                .ok_or_else(|| fail(CwError::UnknownOperation(format!("No CloudWatch operation at {path}"))))?;
            let input = cbor::decode(body).map_err(|e| fail(CwError::InvalidParameterValue(e)))?;
            require_object(protocol, operation.to_string(), input)
        }
        Protocol::Json => {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
            let operation = target.strip_prefix(TARGET_PREFIX).and_then(|t| t.strip_prefix('.')).unwrap_or(target);
            let input = if body.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                serde_json::from_slice(body)
                    .map_err(|e| fail(CwError::InvalidParameterValue(format!("The body is not valid JSON: {e}"))))?
            };
            require_object(protocol, operation.to_string(), input)
        }
        Protocol::Query => {
            let mut form: Vec<(String, String)> = Vec::new();
            if let Some(q) = query_string {
                form.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
            }
            form.extend(form_urlencoded::parse(body).into_owned());
            let (action, input) = query::decode(&form).map_err(|e| fail(CwError::InvalidParameterValue(e)))?;
            let operation = action.ok_or_else(|| fail(CwError::MissingParameter("Action is required.".into())))?;
            Ok(Call { protocol, operation, input })
        }
    }
}

fn require_object(protocol: Protocol, operation: String, input: Value) -> Result<Call, (Protocol, CwError)> {
    if input.is_object() {
        Ok(Call { protocol, operation, input })
    } else {
        Err((protocol, CwError::InvalidParameterValue("The input must be an object.".into())))
    }
}

/// An operation's output in the caller's protocol.
pub fn respond(protocol: Protocol, operation: &str, output: &Value, request_id: &str) -> Response {
    let (content_type, body) = match protocol {
        Protocol::Cbor => ("application/cbor", cbor::encode(output)),
        Protocol::Json => ("application/x-amz-json-1.0", output.to_string().into_bytes()),
        Protocol::Query => ("text/xml", query::response(operation, output, request_id).into_bytes()),
    };
    build(protocol, StatusCode::OK, content_type, body, request_id, None)
}

/// An error in the caller's protocol, with the model's status code.
pub fn error(protocol: Protocol, e: &CwError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let message = e.to_string();
    let query_error = format!("{};{}", e.code(), e.fault());
    let (content_type, body) = match protocol {
        Protocol::Cbor => ("application/cbor", cbor::encode(&json!({"__type": e.shape(), "message": message}))),
        Protocol::Json => {
            ("application/x-amz-json-1.0", json!({"__type": e.shape(), "message": message}).to_string().into_bytes())
        }
        Protocol::Query => ("text/xml", query::error(e.code(), e.fault(), &message, request_id).into_bytes()),
    };
    build(protocol, status, content_type, body, request_id, Some(&query_error))
}

fn build(
    protocol: Protocol,
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: &str,
    query_error: Option<&str>,
) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if protocol == Protocol::Cbor {
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(q) = query_error.filter(|_| protocol != Protocol::Query).and_then(|q| HeaderValue::from_str(q).ok()) {
        headers.insert("x-amzn-query-error", q);
    }
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn each_protocol_is_recognised_and_decoded() {
        let json = decode(
            "/",
            None,
            &headers(&[("x-amz-target", "GraniteServiceVersion20100801.ListMetrics")]),
            br#"{"Namespace":"AWS/Lambda"}"#,
        )
        .unwrap();
        assert_eq!((json.protocol, json.operation.as_str()), (Protocol::Json, "ListMetrics"));
        let body = cbor::encode(&json!({"Namespace": "AWS/Lambda"}));
        let c = decode(
            "/service/GraniteServiceVersion20100801/operation/ListMetrics",
            None,
            &headers(&[("smithy-protocol", "rpc-v2-cbor")]),
            &body,
        )
        .unwrap();
        assert_eq!((c.protocol, c.operation.as_str(), &c.input), (Protocol::Cbor, "ListMetrics", &json.input));
        let q = decode("/", None, &HeaderMap::new(), b"Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FLambda")
            .unwrap();
        assert_eq!((q.protocol, &q.input), (Protocol::Query, &json.input));
        let bad = decode("/", None, &headers(&[("x-amz-target", "GraniteServiceVersion20100801.X")]), b"[1]");
        assert!(matches!(bad, Err((Protocol::Json, CwError::InvalidParameterValue(_)))));
    }

    #[test]
    fn errors_carry_the_query_error_header_and_model_status() {
        let e = CwError::ResourceNotFound("gone".into());
        let r = error(Protocol::Cbor, &e, "rid");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-amzn-query-error"], "ResourceNotFound;Sender");
        assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
        let q = error(Protocol::Query, &CwError::InvalidParameterValue("x".into()), "rid");
        assert_eq!(q.status(), 400);
        assert!(!q.headers().contains_key("x-amzn-query-error"));
    }
}
