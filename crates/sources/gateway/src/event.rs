//! HTTP request → Lambda event, and Lambda response → HTTP response, in
//! API Gateway's payload formats 2.0 (HTTP APIs and function URLs) and 1.0.
//!
//! The shapes follow the API Gateway developer guide ("Working with AWS
//! Lambda proxy integrations for HTTP APIs") and the Lambda developer guide
//! ("Invoking Lambda function URLs"): in 2.0 header names are lower case,
//! repeated headers and query parameters are joined with commas and cookies
//! move to `cookies`; absent optional members are left out. In 1.0 the
//! single-value maps hold the last value, `multiValue*` hold them all, and
//! absent members are `null`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What a request looked like, decoupled from axum's types.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded), stage prefix included.
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub protocol: &'static str,
    pub source_ip: String,
    pub body: Bytes,
}

/// Where the request arrived and what matched it.
pub struct Context<'a> {
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub domain_name: String,
    pub request_id: &'a str,
    pub route_key: &'a str,
    pub stage: &'a str,
    pub path_parameters: Vec<(&'a str, String)>,
    pub stage_variables: Option<&'a BTreeMap<String, String>>,
    /// A function URL (adds `authentication`/`authorizer: null`).
    pub function_url: bool,
    pub now_ms: i64,
}

/// Whether a body of this content type is passed as text (else base64).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "graphql", "csv"]
            .iter()
            .any(|t| ct.contains(t))
}

/// `(body, isBase64Encoded)`; `None` when the request has no body.
fn body_of(req: &HttpRequest<'_>) -> (Option<String>, bool) {
    if req.body.is_empty() {
        return (None, false);
    }
    let ct = req.headers.get("content-type").and_then(|v| v.to_str().ok());
    if is_text(ct) {
        if let Ok(s) = std::str::from_utf8(&req.body) {
            return (Some(s.to_string()), false);
        }
    }
    (Some(base64::engine::general_purpose::STANDARD.encode(&req.body)), true)
}

fn header_str(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn user_agent(req: &HttpRequest<'_>) -> String {
    req.headers.get("user-agent").map(header_str).unwrap_or_default()
}

fn time_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// The payload format 2.0 event.
pub fn v2(req: &HttpRequest<'_>, ctx: &Context<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in req.headers.keys() {
        let values = req.headers.get_all(name).iter().map(header_str);
        if name == "cookie" {
            for v in values {
                cookies.extend(v.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string));
            }
            continue;
        }
        headers.insert(name.as_str().to_string(), Value::String(values.collect::<Vec<_>>().join(",")));
    }
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req.raw_query) {
        match query.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let (body, b64) = body_of(req);
    let mut context = json!({
        "accountId": ctx.account_id,
        "apiId": ctx.api_id,
        "domainName": ctx.domain_name,
        "domainPrefix": ctx.api_id,
        "http": {
            "method": req.method,
            "path": req.raw_path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": user_agent(req),
        },
        "requestId": ctx.request_id,
        "routeKey": ctx.route_key,
        "stage": ctx.stage,
        "time": time_of(ctx.now_ms),
        "timeEpoch": ctx.now_ms,
    });
    if ctx.function_url {
        context["authentication"] = Value::Null;
        context["authorizer"] = Value::Null;
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": ctx.route_key,
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": b64,
    });
    if !cookies.is_empty() {
        event["cookies"] = cookies.into();
    }
    if !query.is_empty() {
        event["queryStringParameters"] = query.into();
    }
    if let Some(b) = body {
        event["body"] = b.into();
    }
    if !ctx.path_parameters.is_empty() {
        let p: Map<String, Value> =
            ctx.path_parameters.iter().map(|(k, v)| ((*k).to_string(), Value::String(v.clone()))).collect();
        event["pathParameters"] = p.into();
    }
    if let Some(vars) = ctx.stage_variables.filter(|v| !v.is_empty()) {
        event["stageVariables"] = json!(vars);
    }
    event
}

/// The payload format 1.0 event.
pub fn v1(req: &HttpRequest<'_>, ctx: &Context<'_>) -> Value {
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for name in req.headers.keys() {
        let values: Vec<String> = req.headers.get_all(name).iter().map(header_str).collect();
        if let Some(last) = values.last() {
            headers.insert(name.as_str().to_string(), Value::String(last.clone()));
        }
        multi_headers.insert(name.as_str().to_string(), json!(values));
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req.raw_query) {
        query.insert(k.clone(), Value::String(v.clone()));
        match multi_query.get_mut(&k) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            _ => {
                multi_query.insert(k, json!([v]));
            }
        }
    }
    let (body, b64) = body_of(req);
    let resource = ctx.route_key.split_once(' ').map_or(ctx.route_key, |(_, p)| p);
    let nullable = |m: Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    let path_parameters: Map<String, Value> =
        ctx.path_parameters.iter().map(|(k, v)| ((*k).to_string(), Value::String(v.clone()))).collect();
    let stage_variables = match ctx.stage_variables.filter(|v| !v.is_empty()) {
        Some(v) => json!(v),
        None => Value::Null,
    };
    json!({
        "version": "1.0",
        "resource": resource,
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": nullable(query),
        "multiValueQueryStringParameters": nullable(multi_query),
        "requestContext": {
            "accountId": ctx.account_id,
            "apiId": ctx.api_id,
            "authorizer": { "claims": null, "scopes": null },
            "domainName": ctx.domain_name,
            "domainPrefix": ctx.api_id,
            "extendedRequestId": ctx.request_id,
            "httpMethod": req.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": req.source_ip,
                "user": null,
                "userAgent": user_agent(req),
                "userArn": null,
            },
            "path": req.raw_path,
            "protocol": req.protocol,
            "requestId": ctx.request_id,
            "requestTime": time_of(ctx.now_ms),
            "requestTimeEpoch": ctx.now_ms,
            "resourceId": ctx.route_key,
            "resourcePath": resource,
            "stage": ctx.stage,
        },
        "pathParameters": nullable(path_parameters),
        "stageVariables": stage_variables,
        "body": body,
        "isBase64Encoded": b64,
    })
}

/// The function's answer could not be turned into an HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Headers a function may not set: the connection's framing is ours.
fn reserved(name: &HeaderName) -> bool {
    matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "upgrade")
}

fn header_value(v: &Value) -> Option<HeaderValue> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    HeaderValue::from_str(&s).ok()
}

/// Maps a function's response payload to the HTTP response, as API
/// Gateway (and function URLs, for 2.0) do.
pub fn response(payload: &[u8], v1: bool) -> Result<Response, Malformed> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| Malformed("response is not JSON"))?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(obj) = structured else {
        if v1 {
            return Err(Malformed("payload 1.0 responses need a statusCode"));
        }
        // 2.0 infers: status 200, JSON, the payload itself as the body.
        let mut resp = Response::new(Body::from(Bytes::copy_from_slice(payload)));
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        return Ok(resp);
    };
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| s.as_u16() >= 100)
    .ok_or(Malformed("statusCode is not an HTTP status"))?;
    let b64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Malformed("isBase64Encoded is not a boolean")),
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if b64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(Bytes::from)
            .map_err(|_| Malformed("body is not valid base64"))?,
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err(Malformed("body is not a string")),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(Value::Object(multi)) = obj.get("multiValueHeaders") {
        for (k, vs) in multi {
            let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else { continue };
            if reserved(&name) {
                continue;
            }
            for v in vs.as_array().into_iter().flatten().filter_map(header_value) {
                h.append(name.clone(), v);
            }
        }
    }
    if let Some(Value::Object(single)) = obj.get("headers") {
        for (k, v) in single {
            let (Ok(name), Some(v)) = (HeaderName::from_bytes(k.as_bytes()), header_value(v)) else { continue };
            if !reserved(&name) {
                h.insert(name, v);
            }
        }
    }
    if !v1 {
        if let Some(Value::Array(cookies)) = obj.get("cookies") {
            for c in cookies.iter().filter_map(header_value) {
                h.append("set-cookie", c);
            }
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(headers: &HeaderMap, body: &'static [u8]) -> HttpRequest<'static> {
        // Leaked so the request can borrow it for 'static in these tests.
        let headers: &'static HeaderMap = Box::leak(Box::new(headers.clone()));
        HttpRequest {
            method: "POST",
            raw_path: "/my/path",
            raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
            headers,
            protocol: "HTTP/1.1",
            source_ip: "192.0.2.1".into(),
            body: Bytes::from_static(body),
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            account_id: "123456789012",
            api_id: "api-id",
            domain_name: "api-id.execute-api.localhost".into(),
            request_id: "id",
            route_key: "$default",
            stage: "$default",
            path_parameters: vec![("parameter1", "value1".into())],
            stage_variables: None,
            function_url: false,
            now_ms: 1_583_348_638_390,
        }
    }

    #[test]
    fn v2_matches_the_guide() {
        let mut h = HeaderMap::new();
        h.append("header2", "value1".parse().unwrap());
        h.append("header2", "value2".parse().unwrap());
        h.append("cookie", "cookie1; cookie2".parse().unwrap());
        let e = v2(&request(&h, b"Hello from Lambda"), &ctx());
        assert_eq!(e["headers"], json!({"header2": "value1,value2"}));
        assert_eq!(e["cookies"], json!(["cookie1", "cookie2"]));
        assert_eq!(e["queryStringParameters"], json!({"parameter1": "value1,value2", "parameter2": "value"}));
        assert_eq!(e["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(e["body"], "Hello from Lambda");
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(e["pathParameters"], json!({"parameter1": "value1"}));
        assert!(e.get("stageVariables").is_none());
    }

    #[test]
    fn v1_has_multi_values_and_nulls() {
        let mut h = HeaderMap::new();
        h.append("header2", "value1".parse().unwrap());
        h.append("header2", "value2".parse().unwrap());
        h.insert("content-type", "application/octet-stream".parse().unwrap());
        let mut c = ctx();
        c.path_parameters.clear();
        let e = v1(&request(&h, b"\x00\x01"), &c);
        assert_eq!(e["headers"]["header2"], "value2");
        assert_eq!(e["multiValueHeaders"]["header2"], json!(["value1", "value2"]));
        assert_eq!(e["multiValueQueryStringParameters"]["parameter1"], json!(["value1", "value2"]));
        assert_eq!(e["queryStringParameters"]["parameter1"], "value2");
        assert_eq!(e["pathParameters"], Value::Null);
        assert_eq!(e["body"], "AAE=");
        assert_eq!(e["isBase64Encoded"], true);
    }

    #[test]
    fn maps_responses() {
        let r = response(br#""Hello""#, false).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let r = response(br#"{"statusCode": 201, "headers": {"X-A": "b", "content-length": "9"}, "cookies": ["a=1", "b=2"], "body": "aGk=", "isBase64Encoded": true}"#, false).unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "b");
        assert!(r.headers().get("content-length").is_none());
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(response(b"not json", false).unwrap_err(), Malformed("response is not JSON"));
        assert!(response(br#"{"body": "x"}"#, true).is_err());
        assert!(response(br#"{"statusCode": "abc"}"#, false).is_err());
        assert!(response(br#"{"statusCode": 200, "body": {"a": 1}}"#, false).is_err());
        let r = response(br#"{"statusCode": 200, "multiValueHeaders": {"x-m": ["1", "2"]}}"#, true).unwrap();
        assert_eq!(r.headers().get_all("x-m").iter().count(), 2);
    }
}
