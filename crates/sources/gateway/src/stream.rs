//! Function URLs in `RESPONSE_STREAM` mode: the function's response goes to
//! the HTTP client chunk by chunk, as the function writes it.
//!
//! A function that wants to set the status and headers writes an HTTP
//! prelude first (Node's `awslambda.HttpResponseStream.from` does): its
//! content type is `application/vnd.awslambda.http-integration-response`
//! and the stream starts with `{"statusCode","headers","cookies"}` JSON
//! followed by 8 NUL bytes, then the body. Without a prelude the response
//! is `200` with the function's content type. A function that does not
//! stream is mapped like a buffered URL response.

use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use axum::response::Response;
use lamina_scheduler::{InvokeError, InvokeStream, Part, StreamedInvoke};
use serde_json::Value;

use crate::event;
use crate::gateway::{Gateway, Target};

/// The content type of a stream that starts with an HTTP prelude.
pub const HTTP_INTEGRATION_CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";
/// What ends the prelude.
const PRELUDE_DELIMITER: [u8; 8] = [0; 8];
/// A prelude longer than this is malformed (headers are small).
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// Why a streamed URL request got no function response.
pub enum Failure {
    Throttled,
    /// A function error, a malformed prelude, or a rejected invocation: 502.
    Failed(String),
}

/// Invokes the URL's function and answers with its streamed response.
pub async fn respond(
    gw: &Gateway,
    target: &Target,
    request_id: String,
    trace_id: Option<String>,
    payload: Vec<u8>,
) -> Result<Response, Failure> {
    let rejected = |e: InvokeError| match e {
        InvokeError::Throttled { .. } => Failure::Throttled,
        other => Failure::Failed(other.to_string()),
    };
    let req = crate::serve::invoke_request(gw, target, request_id, trace_id, payload).map_err(rejected)?;
    match gw.scheduler.invoke_stream(req).await.map_err(rejected)? {
        StreamedInvoke::Whole(r) if r.function_error.is_some() => Err(Failure::Failed("function error".into())),
        StreamedInvoke::Whole(r) => event::response(&r.payload, false).map_err(|e| Failure::Failed(e.0.into())),
        StreamedInvoke::Streaming(stream) => streamed(stream).await,
    }
}

async fn streamed(mut stream: InvokeStream) -> Result<Response, Failure> {
    let http_integration =
        stream.content_type.as_deref().is_some_and(|ct| ct.eq_ignore_ascii_case(HTTP_INTEGRATION_CONTENT_TYPE));
    if !http_integration {
        let content_type = stream.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
        let mut resp = Response::new(body(Bytes::new(), stream));
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            resp.headers_mut().insert("content-type", v);
        }
        return Ok(resp);
    }
    // Gather chunks until the prelude is complete.
    let mut head = Vec::new();
    loop {
        match stream.next().await {
            Some(Part::Chunk(bytes)) => head.extend_from_slice(&bytes),
            Some(Part::Done(_)) | None => return Err(Failure::Failed("stream ended inside the HTTP prelude".into())),
        }
        if let Some((prelude, rest)) = split_prelude(&head) {
            let mut resp = prelude_response(prelude).map_err(|e| Failure::Failed(e.into()))?;
            let rest = Bytes::copy_from_slice(rest);
            *resp.body_mut() = body(rest, stream);
            return Ok(resp);
        }
        if head.len() > MAX_PRELUDE_BYTES {
            return Err(Failure::Failed("HTTP prelude too long".into()));
        }
    }
}

/// `(prelude JSON, what follows the delimiter)` once the delimiter is in.
pub fn split_prelude(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = buf.windows(PRELUDE_DELIMITER.len()).position(|w| w == PRELUDE_DELIMITER)?;
    Some((&buf[..at], &buf[at + PRELUDE_DELIMITER.len()..]))
}

/// The status and headers a prelude asks for (body empty). An empty
/// prelude, or one without `statusCode`, means 200.
pub fn prelude_response(prelude: &[u8]) -> Result<Response, &'static str> {
    let mut value: Value = if prelude.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(prelude).map_err(|_| "HTTP prelude is not JSON")?
    };
    let obj = value.as_object_mut().ok_or("HTTP prelude is not a JSON object")?;
    obj.entry("statusCode").or_insert(Value::from(200));
    obj.remove("body");
    obj.remove("isBase64Encoded");
    let json = serde_json::to_vec(&value).map_err(|_| "HTTP prelude is not JSON")?;
    event::response(&json, false).map_err(|e| e.0)
}

/// The response body: what came with the prelude, then every later chunk.
/// A function error after the first byte can no longer change the status,
/// so it aborts the body (the client sees a truncated chunked response).
fn body(first: Bytes, stream: InvokeStream) -> Body {
    let first = (!first.is_empty()).then_some(first);
    let chunks = futures_util::stream::unfold((first, Some(stream)), |(first, state)| async move {
        if let Some(bytes) = first {
            return Some((Ok(bytes), (None, state)));
        }
        let mut stream = state?;
        match stream.next().await {
            Some(Part::Chunk(bytes)) => Some((Ok(bytes), (None, Some(stream)))),
            Some(Part::Done(r)) if r.function_error.is_none() => None,
            Some(Part::Done(_)) => Some((Err(StreamAborted("function error mid-stream")), (None, None))),
            None => Some((Err(StreamAborted("invocation lost")), (None, None))),
        }
    });
    Body::from_stream(chunks)
}

/// Why a streamed body stopped short.
#[derive(Debug, thiserror::Error)]
#[error("response stream aborted: {0}")]
struct StreamAborted(&'static str);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn prelude_is_split_at_eight_nul_bytes() {
        let buf = b"{\"statusCode\":201}\0\0\0\0\0\0\0\0hello";
        let (prelude, rest) = split_prelude(buf).unwrap();
        assert_eq!(prelude, b"{\"statusCode\":201}");
        assert_eq!(rest, b"hello");
        assert!(split_prelude(b"{\"statusCode\":201}\0\0\0").is_none());
    }

    #[test]
    fn prelude_sets_status_headers_and_cookies() {
        let resp = prelude_response(
            br#"{"statusCode":418,"headers":{"Content-Type":"text/plain","X-Custom":"yes"},"cookies":["a=1","b=2"]}"#,
        )
        .unwrap();
        assert_eq!(resp.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert_eq!(resp.headers()["x-custom"], "yes");
        let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn empty_prelude_means_200_and_bad_json_is_refused() {
        assert_eq!(prelude_response(b"").unwrap().status(), StatusCode::OK);
        assert_eq!(prelude_response(br#"{"headers":{}}"#).unwrap().status(), StatusCode::OK);
        assert!(prelude_response(b"{not json").is_err());
        assert!(prelude_response(b"[1]").is_err());
    }
}
