//! Streamed responses: `POST .../response` with
//! `Lambda-Runtime-Function-Response-Mode: streaming` and a chunked body.
//!
//! The scheduler gets the [`ResponseStream`] as soon as the runtime starts
//! posting, and every chunk as it arrives, so the caller sees the first
//! bytes while the function is still writing. A bounded channel carries the
//! chunks: a slow reader slows the function's writes, as TCP would, instead
//! of buffering the response in memory. A runtime reports a mid-stream error
//! in the trailers `Lambda-Runtime-Function-Error-Type` and
//! `Lambda-Runtime-Function-Error-Body` (base64).
//!
//! Limits (Lambda developer guide, "Response streaming"): a streamed
//! response may be at most 200 MB ([`MAX_STREAMED_RESPONSE_BYTES`]); beyond
//! that the stream ends with `Function.ResponseSizeTooLarge`. Lambda also
//! caps the bandwidth after the first 6 MB at 2 MBps; Lamina does not, since
//! that cap protects a shared fleet, not the function's contract.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

/// The largest streamed response: Lambda's 200 MB quota.
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;

/// Chunks in flight between the runtime and the caller.
const CHUNKS_IN_FLIGHT: usize = 16;

const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";
const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// One step of a streamed response. A stream ends with exactly one
/// [`StreamEvent::Finished`] or [`StreamEvent::Failed`]; a channel that
/// closes without either means the runtime went away mid-stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Data(Bytes),
    Finished,
    /// A mid-stream error (trailers, or a limit Lamina enforces). `body` is
    /// the decoded error document, usually `{"errorType","errorMessage"}`.
    Failed {
        error_type: Option<String>,
        body: Bytes,
    },
}

/// The receiving end of a response the runtime is streaming.
#[derive(Debug)]
pub struct ResponseStream {
    /// The runtime's `Content-Type` (for HTTP integrations,
    /// `application/vnd.awslambda.http-integration-response`).
    pub content_type: Option<String>,
    events: mpsc::Receiver<StreamEvent>,
}

impl ResponseStream {
    /// The next event; `None` once the runtime has stopped posting.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        self.events.recv().await
    }
}

/// Streams are never equal: each is a live connection.
impl PartialEq for ResponseStream {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

/// True when the runtime asked to stream this response.
pub(crate) fn is_streaming(headers: &HeaderMap) -> bool {
    headers.get(RESPONSE_MODE_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("streaming"))
}

/// A stream for a request and the sender its body is forwarded into.
pub(crate) fn open(req: &Request<Incoming>) -> (ResponseStream, mpsc::Sender<StreamEvent>) {
    let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (tx, events) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (ResponseStream { content_type, events }, tx)
}

/// How forwarding a body ended, for the runtime's answer.
pub(crate) enum Forwarded {
    Complete,
    TooLarge,
    Broken,
}

/// Forwards the request body to the stream, chunk by chunk. The sender is
/// dropped only when the runtime has stopped posting, so the scheduler can
/// wait for that before it reuses the sandbox. After a limit is hit, or
/// when the caller has gone, the rest of the body is read and dropped: the
/// runtime's connection stays usable for its next `/next`.
pub(crate) async fn forward(body: Incoming, tx: mpsc::Sender<StreamEvent>) -> Forwarded {
    let mut body = body;
    let mut tx = Some(tx);
    let mut sent = 0usize;
    let mut too_large = false;
    // After the final event nothing more reaches the caller, but the sender
    // lives on until the body is read.
    let mut ended = false;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "streamed response broken off by the runtime");
                return Forwarded::Broken;
            }
        };
        if ended {
            continue;
        }
        let event = match frame.into_data() {
            Ok(data) if data.is_empty() => continue,
            Ok(data) => {
                sent += data.len();
                if sent > MAX_STREAMED_RESPONSE_BYTES {
                    too_large = true;
                    size_exceeded()
                } else {
                    StreamEvent::Data(data)
                }
            }
            Err(frame) => match frame.into_trailers().ok().and_then(|t| trailer_error(&t)) {
                Some(failed) => failed,
                None => continue,
            },
        };
        ended = !matches!(event, StreamEvent::Data(_));
        deliver(&mut tx, event).await;
    }
    if too_large {
        return Forwarded::TooLarge;
    }
    if !ended {
        deliver(&mut tx, StreamEvent::Finished).await;
    }
    Forwarded::Complete
}

/// Sends one event; once the caller is gone, later events are dropped.
async fn deliver(tx: &mut Option<mpsc::Sender<StreamEvent>>, event: StreamEvent) {
    if let Some(sender) = tx {
        if sender.send(event).await.is_err() {
            *tx = None;
        }
    }
}

/// The error reported in trailers, if any.
fn trailer_error(trailers: &HeaderMap) -> Option<StreamEvent> {
    let error_type = trailers.get(ERROR_TYPE_TRAILER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let raw_body = trailers.get(ERROR_BODY_TRAILER).map(|v| v.as_bytes().trim_ascii());
    if error_type.is_none() && raw_body.is_none() {
        return None;
    }
    let body = match raw_body {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::copy_from_slice(b64)),
        None => Bytes::new(),
    };
    Some(StreamEvent::Failed { error_type, body })
}

fn size_exceeded() -> StreamEvent {
    StreamEvent::Failed {
        error_type: Some("Function.ResponseSizeTooLarge".into()),
        body: Bytes::from(format!(
            "{{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size ({MAX_STREAMED_RESPONSE_BYTES} bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn trailers_become_a_failure_with_the_decoded_body() {
        let mut t = HeaderMap::new();
        t.insert(ERROR_TYPE_TRAILER, "Runtime.StreamError".parse().unwrap());
        t.insert(ERROR_BODY_TRAILER, "eyJlcnJvck1lc3NhZ2UiOiJib29tIn0=".parse().unwrap());
        assert_eq!(
            trailer_error(&t),
            Some(StreamEvent::Failed {
                error_type: Some("Runtime.StreamError".into()),
                body: Bytes::from_static(b"{\"errorMessage\":\"boom\"}"),
            })
        );
        assert_eq!(trailer_error(&HeaderMap::new()), None);
    }
}
