//! CORS as API Gateway and function URLs apply it when configured: the
//! gateway answers preflight `OPTIONS` requests itself (the function never
//! sees them) and adds `Access-Control-*` headers to actual responses from
//! an allowed origin, overriding any the function set.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::model::Cors;

fn allowed_origin(cors: &Cors, origin: &HeaderValue) -> Option<HeaderValue> {
    let origins = cors.allow_origins.as_deref()?;
    let o = origin.to_str().ok()?;
    if origins.iter().any(|a| a.eq_ignore_ascii_case(o)) {
        return Some(origin.clone());
    }
    if origins.iter().any(|a| a == "*") {
        // Credentials cannot go with a wildcard: echo the origin instead.
        return Some(if cors.allow_credentials == Some(true) { origin.clone() } else { HeaderValue::from_static("*") });
    }
    None
}

fn list(values: &Option<Vec<String>>) -> Option<HeaderValue> {
    values.as_ref().filter(|v| !v.is_empty()).and_then(|v| HeaderValue::from_str(&v.join(",")).ok())
}

/// The answer to a preflight request, or `None` when this is not one.
pub fn preflight(cors: &Cors, method: &Method, headers: &HeaderMap, status: StatusCode) -> Option<Response> {
    if method != Method::OPTIONS || !headers.contains_key("access-control-request-method") {
        return None;
    }
    let origin = headers.get("origin")?;
    let mut resp = status.into_response();
    let Some(allow) = allowed_origin(cors, origin) else { return Some(resp) };
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", allow);
    if let Some(m) = list(&cors.allow_methods) {
        h.insert("access-control-allow-methods", m);
    }
    if let Some(v) = list(&cors.allow_headers) {
        h.insert("access-control-allow-headers", v);
    }
    if let Some(age) = cors.max_age.filter(|a| *a >= 0) {
        h.insert("access-control-max-age", HeaderValue::from(age));
    }
    if cors.allow_credentials == Some(true) {
        h.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    h.insert("vary", HeaderValue::from_static("Origin"));
    Some(resp)
}

/// Adds the CORS headers of an actual (non-preflight) response.
pub fn decorate(cors: &Cors, origin: Option<&HeaderValue>, h: &mut HeaderMap) {
    let Some(allow) = origin.and_then(|o| allowed_origin(cors, o)) else { return };
    h.insert("access-control-allow-origin", allow);
    if let Some(v) = list(&cors.expose_headers) {
        h.insert("access-control-expose-headers", v);
    }
    if cors.allow_credentials == Some(true) {
        h.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    h.append("vary", HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_origins: Some(vec!["https://example.com".into()]),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["x-custom".into()]),
            max_age: Some(300),
            expose_headers: Some(vec!["x-out".into()]),
            allow_credentials: Some(true),
        }
    }

    #[test]
    fn preflight_from_allowed_and_other_origins() {
        let mut h = HeaderMap::new();
        h.insert("origin", "https://example.com".parse().unwrap());
        h.insert("access-control-request-method", "POST".parse().unwrap());
        let r = preflight(&cors(), &Method::OPTIONS, &h, StatusCode::OK).unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "https://example.com");
        assert_eq!(r.headers()["access-control-allow-methods"], "GET,POST");
        assert_eq!(r.headers()["access-control-max-age"], "300");
        h.insert("origin", "https://evil.example".parse().unwrap());
        let r = preflight(&cors(), &Method::OPTIONS, &h, StatusCode::OK).unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(preflight(&cors(), &Method::GET, &h, StatusCode::OK).is_none());
    }
}
