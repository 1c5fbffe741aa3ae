//! A minimal HTTP client for the Lamina API, with AWS errors turned into
//! readable messages.

use anyhow::{anyhow, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends one request; non-2xx answers become errors naming AWS's error type.
pub async fn call(
    endpoint: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> anyhow::Result<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = format!("{}{}", endpoint.trim_end_matches('/'), path);
    let mut req = Request::builder().method(method).uri(&url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).with_context(|| format!("bad URL {url}"))?;
    let resp = client
        .request(req)
        .await
        .with_context(|| format!("cannot reach Lamina at {endpoint} (is `lamina server` running?)"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.context("reading the answer")?.to_bytes();
    if !parts.status.is_success() {
        let kind = parts.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("Error").to_string();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("Message").or_else(|| v.get("message")).and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(anyhow!("{kind} ({}): {message}", parts.status.as_u16()));
    }
    Ok(Reply { status: parts.status, headers: parts.headers, body })
}
