//! Invoke (`RequestResponse`, `Event`, `DryRun`) and the deprecated InvokeAsync.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamina_api::AwsError;
use lamina_scheduler::InvokeRequest;
use std::sync::Arc;

use crate::error::{store_failure, ApiResult};
use crate::functions::{target, QualifierQuery};
use crate::App;

/// Lambda's payload limits: 6 MB synchronous, 1 MB asynchronous.
pub(crate) const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn check_json(payload: &[u8]) -> ApiResult<()> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map(|_| ()).map_err(|e| {
        AwsError::invalid_request_content(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        ))
        .into()
    })
}

pub async fn invoke(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    headers: HeaderMap,
    payload: Bytes,
) -> ApiResult<Response> {
    let r = target(&name, q.qualifier.as_deref())?;
    let invocation_type = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let resolved = app.scheduler.resolve(&r.name, r.qualifier.as_deref())?;
    let request_id = lamina_scheduler::new_request_id();
    match invocation_type {
        "DryRun" => Ok(with_request_id(StatusCode::NO_CONTENT.into_response(), &request_id)),
        "Event" => {
            if payload.len() > MAX_ASYNC_PAYLOAD {
                return Err(too_large(payload.len(), MAX_ASYNC_PAYLOAD));
            }
            check_json(&payload)?;
            let trace = incoming_trace(&headers);
            enqueue(&app, &r.name, r.qualifier.as_deref(), &request_id, payload, trace).await?;
            Ok(with_request_id(StatusCode::ACCEPTED.into_response(), &request_id))
        }
        "RequestResponse" => {
            if payload.len() > MAX_SYNC_PAYLOAD {
                return Err(too_large(payload.len(), MAX_SYNC_PAYLOAD));
            }
            check_json(&payload)?;
            let client_context = client_context(&headers)?;
            let result = app
                .scheduler
                .invoke(InvokeRequest {
                    version: resolved.version,
                    invoked_arn: resolved.invoked_arn,
                    request_id: request_id.clone(),
                    payload: if payload.is_empty() { Bytes::from_static(b"{}") } else { payload },
                    client_context,
                    trace_id: incoming_trace(&headers),
                    tail_log: header(&headers, "x-amz-log-type") == Some("Tail"),
                })
                .await?;
            let mut resp = Response::new(Body::from(result.payload));
            let h = resp.headers_mut();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            if let Some(fe) = result.function_error {
                h.insert("x-amz-function-error", HeaderValue::from_static(fe));
            }
            if let Some(tail) = result.log_tail.and_then(|t| HeaderValue::from_str(&t).ok()) {
                h.insert("x-amz-log-result", tail);
            }
            Ok(with_request_id(resp, &request_id))
        }
        other => Err(AwsError::invalid_parameter(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ))
        .into()),
    }
}

/// The deprecated InvokeAsync: always an `Event` invocation, answered `{"Status":202}`.
pub async fn invoke_async(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    payload: Bytes,
) -> ApiResult<Response> {
    let r = target(&name, None)?;
    app.scheduler.resolve(&r.name, r.qualifier.as_deref())?;
    if payload.len() > MAX_ASYNC_PAYLOAD {
        return Err(too_large(payload.len(), MAX_ASYNC_PAYLOAD));
    }
    check_json(&payload)?;
    let request_id = lamina_scheduler::new_request_id();
    enqueue(&app, &r.name, r.qualifier.as_deref(), &request_id, payload, None).await?;
    Ok(with_request_id((StatusCode::ACCEPTED, r#"{"Status":202}"#).into_response(), &request_id))
}

/// The caller's trace (`X-Amzn-Trace-Id` or W3C `traceparent`), continued by the invocation.
pub(crate) fn incoming_trace(headers: &HeaderMap) -> Option<String> {
    lamina_scheduler::trace_header(header(headers, "x-amzn-trace-id"), header(headers, "traceparent"))
}

/// `X-Amz-Client-Context` arrives base64-encoded; runtimes get the JSON.
pub(crate) fn client_context(headers: &HeaderMap) -> ApiResult<Option<String>> {
    use base64::Engine;
    let Some(raw) = header(headers, "x-amz-client-context") else { return Ok(None) };
    if raw.len() > 3583 {
        return Err(AwsError::invalid_parameter("Client context must be 3583 bytes or fewer").into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|json| serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok())
        .map(Some)
        .ok_or_else(|| {
            AwsError::invalid_request_content("Client context must be a valid Base64-encoded JSON object.").into()
        })
}

async fn enqueue(
    app: &Arc<App>,
    name: &str,
    qualifier: Option<&str>,
    request_id: &str,
    payload: Bytes,
    trace: Option<String>,
) -> ApiResult<()> {
    let payload = if payload.is_empty() { Bytes::from_static(b"{}") } else { payload };
    let (app2, name, qualifier, request_id) =
        (app.clone(), name.to_string(), qualifier.map(str::to_string), request_id.to_string());
    tokio::task::spawn_blocking(move || {
        app2.scheduler.enqueue_traced(&name, qualifier.as_deref(), &request_id, &payload, trace.as_deref())
    })
    .await
    .map_err(|_| AwsError::service("enqueue interrupted"))?
    .map_err(store_failure)
}

pub(crate) fn too_large(size: usize, limit: usize) -> crate::error::ApiError {
    AwsError::too_large(format!(
        "{size} byte payload is too large for the {} invocation type (limit {limit} bytes)",
        if limit == MAX_SYNC_PAYLOAD { "RequestResponse" } else { "Event" }
    ))
    .into()
}

pub(crate) fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}
