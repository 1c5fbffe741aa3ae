//! Serving requests: an HTTP API's routes (by path `/_api/{apiId}/...` or
//! host `{apiId}.execute-api.localhost`) and function URLs (`/_url/{urlId}/...`
//! or host `{urlId}.lambda-url.{region}.localhost`).
//!
//! One request: find the API or URL in the snapshot, answer a CORS
//! preflight if configured, match the route, build the event, invoke
//! through the scheduler (on its own task, so an integration timeout never
//! cancels an invocation half-way), and map the answer. Failures answer as
//! API Gateway does for HTTP APIs — `{"message":"Not Found"}` 404,
//! `{"message":"Internal Server Error"}` 500 for function errors, malformed
//! responses and rejected invocations, `{"message":"Service Unavailable"}`
//! 503 when the integration times out — and as function URLs do (502 for
//! a function error or malformed response, 429 when throttled).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

use crate::cors;
use crate::event::{self, Context, HttpRequest};
use crate::gateway::{Gateway, ServedUrl, Target};
use crate::stream;
use lamina_scheduler::{InvokeError, InvokeRequest};

/// The longest a runtime may initialise (Lambda's init phase limit).
const MAX_INIT: Duration = Duration::from_secs(10);
/// API Gateway's payload limit for HTTP APIs.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

fn message(status: StatusCode, text: &'static str) -> Response {
    let mut resp = (status, format!("{{\"message\":\"{text}\"}}")).into_response();
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

fn internal() -> Response {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// `{prefix}{id}/{rest...}` → (`id`, `/rest...`).
fn split_prefixed(path: &str, prefix: &str) -> (String, String) {
    let rest = path.strip_prefix(prefix).unwrap_or("");
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (id.to_string(), format!("/{tail}"))
}

/// `/_api/{apiId}/{rest...}`.
pub async fn api_by_path(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let (api_id, tail) = split_prefixed(req.uri().path(), "/_api/");
    serve_api(&gw, &api_id, tail, req).await
}

/// `/_url/{urlId}/{rest...}`.
pub async fn url_by_path(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let (url_id, tail) = split_prefixed(req.uri().path(), "/_url/");
    serve_url(&gw, &url_id, tail, req).await
}

/// Requests whose Host names an API or a function URL.
pub async fn by_host(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("").to_string();
    let mut labels = host.split('.');
    let (id, kind) = (labels.next().unwrap_or("").to_string(), labels.next().unwrap_or(""));
    let path = req.uri().path().to_string();
    match kind {
        "execute-api" => serve_api(&gw, &id, path, req).await,
        "lambda-url" => serve_url(&gw, &id, path, req).await,
        _ => not_found(),
    }
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The caller's address: the socket peer when the server records it,
/// else the first `X-Forwarded-For` hop, else loopback.
fn source_ip(req: &Request) -> String {
    if let Some(axum::extract::ConnectInfo(addr)) =
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return addr.ip().to_string();
    }
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// The parts of a request the event needs, with its body read.
struct Incoming {
    method: Method,
    query: String,
    headers: HeaderMap,
    protocol: &'static str,
    source_ip: String,
    body: Bytes,
}

async fn read(req: Request) -> Result<Incoming, Response> {
    let source_ip = source_ip(&req);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"))?;
    Ok(Incoming {
        query: parts.uri.query().unwrap_or("").to_string(),
        method: parts.method,
        headers: parts.headers,
        protocol: protocol(parts.version),
        source_ip,
        body,
    })
}

enum Outcome {
    Answered(lamina_scheduler::InvokeResult),
    Rejected(InvokeError),
    TimedOut,
}

async fn invoke(
    gw: &Gateway,
    target: &Target,
    request_id: String,
    trace_id: Option<String>,
    payload: Vec<u8>,
) -> Outcome {
    let req = match invoke_request(gw, target, request_id, trace_id, payload) {
        Ok(r) => r,
        Err(e) => return Outcome::Rejected(e),
    };
    let scheduler = gw.scheduler.clone();
    let origin = lamina_scheduler::Origin { trigger: lamina_scheduler::Trigger::Http, queued_since: None };
    // When the function's own limits (init and timeout) end it before the
    // integration times out, await it here: a spawned task would cost a
    // hand-off to another worker on every request.
    let function_limit = Duration::from_secs(u64::from(req.version.timeout_secs)) + MAX_INIT;
    if function_limit < target.timeout {
        return match scheduler.invoke_from(req, origin).await {
            Ok(result) => Outcome::Answered(result),
            Err(e) => Outcome::Rejected(e),
        };
    }
    let task = tokio::spawn(async move { scheduler.invoke_from(req, origin).await });
    match tokio::time::timeout(target.timeout, task).await {
        Ok(Ok(Ok(result))) => Outcome::Answered(result),
        Ok(Ok(Err(e))) => Outcome::Rejected(e),
        Ok(Err(join)) => Outcome::Rejected(InvokeError::Platform(join.to_string())),
        Err(_) => Outcome::TimedOut,
    }
}

/// The invocation of the integration's function (at its qualifier) with
/// the event, or why the target does not resolve.
pub(crate) fn invoke_request(
    gw: &Gateway,
    target: &Target,
    request_id: String,
    trace_id: Option<String>,
    payload: Vec<u8>,
) -> Result<InvokeRequest, InvokeError> {
    let resolved = gw.scheduler.resolve(&target.function, target.qualifier.as_deref())?;
    Ok(InvokeRequest {
        version: resolved.version,
        invoked_arn: resolved.invoked_arn,
        request_id,
        payload: Bytes::from(payload),
        client_context: None,
        trace_id,
        tail_log: false,
    })
}

/// The caller's trace (`X-Amzn-Trace-Id` or W3C `traceparent`), continued by the invocation.
fn trace_id(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    lamina_scheduler::trace_header(header("x-amzn-trace-id"), header("traceparent"))
}

/// API Gateway's request id: 16 characters ending in `=`, like `JKJaXmPLvHcESHA=`.
fn apigw_request_id() -> String {
    use base64::Engine;
    let uuid = uuid::Uuid::new_v4();
    let mut id = base64::engine::general_purpose::STANDARD.encode(&uuid.as_bytes()[..10]);
    id.truncate(15);
    id.push('=');
    id
}

async fn serve_api(gw: &Gateway, api_id: &str, path: String, req: Request) -> Response {
    let Some(api) = gw.api(api_id) else { return not_found() };
    // A named stage is the first path segment; `$default` serves the rest.
    let first = path.strip_prefix('/').unwrap_or(&path).split('/').next().unwrap_or("");
    let (stage, route_path) = if !first.is_empty() && first != "$default" && api.stages.contains_key(first) {
        let rest = path.get(1 + first.len()..).unwrap_or("");
        (first.to_string(), if rest.is_empty() { "/".to_string() } else { rest.to_string() })
    } else if api.stages.contains_key("$default") {
        ("$default".to_string(), path.clone())
    } else {
        return not_found();
    };
    if let Some(c) = &api.cors {
        if let Some(resp) = cors::preflight(c, req.method(), req.headers(), StatusCode::NO_CONTENT) {
            return resp;
        }
    }
    let origin = req.headers().get("origin").cloned();
    let Some(matched) = api.table.find(req.method().as_str(), &route_path) else { return not_found() };
    let Some(target) = matched.value.target.clone() else { return not_found() };
    let incoming = match read(req).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let request_id = apigw_request_id();
    let http = HttpRequest {
        method: incoming.method.as_str(),
        raw_path: &path,
        raw_query: &incoming.query,
        headers: &incoming.headers,
        protocol: incoming.protocol,
        source_ip: incoming.source_ip.clone(),
        body: incoming.body.clone(),
    };
    let ctx = Context {
        account_id: &gw.scheduler.config().account_id,
        api_id,
        domain_name: format!("{api_id}.execute-api.localhost"),
        request_id: &request_id,
        route_key: &matched.value.route_key,
        stage: &stage,
        path_parameters: matched.params,
        stage_variables: api.stages.get(&stage),
        function_url: false,
        now_ms: lamina_core::now_ms(),
    };
    let event = if target.v1 { event::v1(&http, &ctx) } else { event::v2(&http, &ctx) };
    let payload = serde_json::to_vec(&event).unwrap_or_default();
    let mut resp = match invoke(gw, &target, lamina_scheduler::new_request_id(), trace_id(&incoming.headers), payload)
        .await
    {
        Outcome::Answered(r) if r.function_error.is_none() => match event::response(&r.payload, target.v1) {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(api_id, route = %matched.value.route_key, problem = e.0, "malformed function response");
                internal()
            }
        },
        Outcome::Answered(_) => internal(),
        Outcome::Rejected(e) => {
            tracing::warn!(api_id, function = %target.function, error = %e, "integration invoke rejected");
            internal()
        }
        Outcome::TimedOut => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    };
    if let Some(c) = &api.cors {
        cors::decorate(c, origin.as_ref(), resp.headers_mut());
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

async fn serve_url(gw: &Gateway, url_id: &str, path: String, req: Request) -> Response {
    let Some(url) = gw.url(url_id) else {
        let mut resp = (StatusCode::FORBIDDEN, "{\"Message\":\"Forbidden\"}").into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        return resp;
    };
    if let Some(c) = &url.cors {
        if let Some(resp) = cors::preflight(c, req.method(), req.headers(), StatusCode::OK) {
            return resp;
        }
    }
    let origin = req.headers().get("origin").cloned();
    let incoming = match read(req).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let request_id = lamina_scheduler::new_request_id();
    let region = &gw.scheduler.config().region;
    let http = HttpRequest {
        method: incoming.method.as_str(),
        raw_path: &path,
        raw_query: &incoming.query,
        headers: &incoming.headers,
        protocol: incoming.protocol,
        source_ip: incoming.source_ip.clone(),
        body: incoming.body.clone(),
    };
    let ctx = Context {
        account_id: &gw.scheduler.config().account_id,
        api_id: &url.url_id,
        domain_name: format!("{url_id}.lambda-url.{region}.localhost"),
        request_id: &request_id,
        route_key: "$default",
        stage: "$default",
        path_parameters: Vec::new(),
        stage_variables: None,
        function_url: true,
        now_ms: lamina_core::now_ms(),
    };
    let payload = serde_json::to_vec(&event::v2(&http, &ctx)).unwrap_or_default();
    let bad_gateway = || {
        let mut r = (StatusCode::BAD_GATEWAY, "Internal Server Error").into_response();
        r.headers_mut().insert("content-type", HeaderValue::from_static("text/plain"));
        r
    };
    let mut resp = if url.streaming {
        match stream::respond(gw, &url.target, request_id.clone(), trace_id(&incoming.headers), payload).await {
            Ok(resp) => resp,
            Err(stream::Failure::Failed(problem)) => {
                tracing::warn!(url_id, problem, "streamed function URL response failed");
                bad_gateway()
            }
            Err(stream::Failure::Throttled) => {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, "{\"Message\":\"Rate Exceeded.\"}").into_response();
                r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
                r
            }
        }
    } else {
        buffered_url_response(gw, &url, &request_id, trace_id(&incoming.headers), payload, bad_gateway).await
    };
    if let Some(c) = &url.cors {
        cors::decorate(c, origin.as_ref(), resp.headers_mut());
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// A `BUFFERED` function URL: the whole response, mapped from payload 2.0.
async fn buffered_url_response(
    gw: &Gateway,
    url: &ServedUrl,
    request_id: &str,
    trace_id: Option<String>,
    payload: Vec<u8>,
    bad_gateway: impl Fn() -> Response,
) -> Response {
    let url_id = &url.url_id;
    match invoke(gw, &url.target, request_id.to_string(), trace_id, payload).await {
        Outcome::Answered(r) if r.function_error.is_none() => match event::response(&r.payload, false) {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(url_id, problem = e.0, "malformed function response");
                bad_gateway()
            }
        },
        Outcome::Answered(_) => bad_gateway(),
        Outcome::Rejected(InvokeError::Throttled { .. }) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "{\"Message\":\"Rate Exceeded.\"}").into_response();
            r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        Outcome::Rejected(e) => {
            tracing::warn!(url_id, function = %url.target.function, error = %e, "function URL invoke rejected");
            bad_gateway()
        }
        Outcome::TimedOut => bad_gateway(),
    }
}
