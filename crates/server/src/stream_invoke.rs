//! InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`).
//!
//! The answer is `200` with an `application/vnd.amazon.eventstream` body
//! ([`event_stream`]): one `PayloadChunk` event per chunk the function
//! wrote, sent as it arrives, then one `InvokeComplete` carrying the error
//! (`ErrorCode`, `ErrorDetails`) and the log tail (`LogResult`). A function
//! that does not stream answers the same way with its whole payload in one
//! chunk. Failures before the function runs (unknown function, throttling,
//! bad input) are ordinary Lambda errors with their own status codes.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamina_api::AwsError;
use lamina_scheduler::{InvokeRequest, InvokeResult, InvokeStream, Part, StreamedInvoke};
use std::sync::Arc;

use crate::error::ApiResult;
use crate::event_stream::{self, InvokeComplete};
use crate::functions::{target, QualifierQuery};
use crate::invoke::{check_json, client_context, header, too_large, with_request_id, MAX_SYNC_PAYLOAD};
use crate::App;

/// Events larger than this are split: botocore refuses payloads over 24 MiB.
const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

pub async fn invoke_with_response_stream(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
    headers: HeaderMap,
    payload: Bytes,
) -> ApiResult<Response> {
    let r = target(&name, q.qualifier.as_deref())?;
    let invocation_type = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    if invocation_type != "RequestResponse" && invocation_type != "DryRun" {
        return Err(AwsError::invalid_parameter(format!(
            "1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
        ))
        .into());
    }
    let resolved = app.scheduler.resolve(&r.name, r.qualifier.as_deref())?;
    let request_id = lamina_scheduler::new_request_id();
    if invocation_type == "DryRun" {
        return Ok(with_request_id(StatusCode::NO_CONTENT.into_response(), &request_id));
    }
    if payload.len() > MAX_SYNC_PAYLOAD {
        return Err(too_large(payload.len(), MAX_SYNC_PAYLOAD));
    }
    check_json(&payload)?;
    let client_context = client_context(&headers)?;
    let executed_version = resolved.version.version.clone();
    let streamed = app
        .scheduler
        .invoke_stream(InvokeRequest {
            version: resolved.version,
            invoked_arn: resolved.invoked_arn,
            request_id: request_id.clone(),
            payload: if payload.is_empty() { Bytes::from_static(b"{}") } else { payload },
            client_context,
            trace_id: crate::invoke::incoming_trace(&headers),
            tail_log: header(&headers, "x-amz-log-type") == Some("Tail"),
        })
        .await?;
    let body = match streamed {
        StreamedInvoke::Whole(result) => Body::from(whole(&result)),
        StreamedInvoke::Streaming(stream) => Body::from_stream(events(stream)),
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/vnd.amazon.eventstream"));
    if let Ok(v) = HeaderValue::from_str(&executed_version) {
        h.insert("x-amz-executed-version", v);
    }
    Ok(with_request_id(resp, &request_id))
}

/// The events of a function that answered in one piece.
fn whole(result: &InvokeResult) -> Vec<u8> {
    let mut out = Vec::new();
    if result.function_error.is_none() {
        for chunk in result.payload.chunks(MAX_EVENT_PAYLOAD) {
            out.extend_from_slice(&event_stream::payload_chunk(chunk));
        }
    }
    out.extend_from_slice(&event_stream::invoke_complete(&completion(result)));
    out
}

/// The events of a streaming function, produced as its chunks arrive.
fn events(stream: InvokeStream) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        let event = match stream.next().await {
            Some(Part::Chunk(bytes)) => {
                let mut out = Vec::with_capacity(bytes.len() + 128);
                for chunk in bytes.chunks(MAX_EVENT_PAYLOAD) {
                    out.extend_from_slice(&event_stream::payload_chunk(chunk));
                }
                return Some((Ok(Bytes::from(out)), Some(stream)));
            }
            Some(Part::Done(result)) => event_stream::invoke_complete(&completion(&result)),
            None => event_stream::invoke_complete(&InvokeComplete {
                error_code: Some("ServiceException".into()),
                error_details: Some("The platform lost the invocation.".into()),
                log_result: None,
            }),
        };
        Some((Ok(event), None))
    })
}

/// `InvokeComplete` for a finished invocation: on a function error, the
/// error's type and message (from the error document the runtime posted).
fn completion(result: &InvokeResult) -> InvokeComplete {
    let (error_code, error_details) = match result.function_error {
        None => (None, None),
        Some(kind) => {
            let doc: Option<serde_json::Value> = serde_json::from_slice(&result.payload).ok();
            let field = |name: &str| doc.as_ref().and_then(|d| d.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
            let code = field("errorType").unwrap_or_else(|| kind.to_string());
            let details =
                field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(&result.payload).into_owned());
            (Some(code), Some(details))
        }
    };
    InvokeComplete { error_code, error_details, log_result: result.log_tail.clone() }
}
