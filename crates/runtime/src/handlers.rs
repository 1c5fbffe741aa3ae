//! The HTTP side of one sandbox's Runtime API: a hand-routed hyper service
//! (four routes; no router needed on this hot path).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::streaming::{self, Forwarded};
use crate::{peer, InitOutcome, Outcome, Shared, MAX_RESPONSE_BYTES};

const PREFIX: &str = "/2018-06-01/runtime/";

/// Accepts the sandbox's connections until the task is aborted; dropping
/// the `JoinSet` then ends every connection with it.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, owner_uid: Option<u32>) {
    let mut connections = JoinSet::new();
    let local = listener.local_addr().ok();
    loop {
        let Ok((stream, peer_addr)) = listener.accept().await else { continue };
        if let (Some(uid), Some(local)) = (owner_uid, local) {
            if peer::socket_uid(peer_addr, local) != Some(uid) {
                tracing::warn!(%peer_addr, "runtime API connection from outside the sandbox refused");
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
        while connections.try_join_next().is_some() {}
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Reply, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else { return Ok(not_found()) };
    let reply = match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(&shared).await,
        (&Method::POST, "init/error") => {
            let (error_type, body) = match read_error(req).await {
                Ok(v) => v,
                Err(r) => return Ok(r),
            };
            if let Some(tx) = shared.init.lock().take() {
                let _ = tx.send(InitOutcome::Failed { error_type, body });
            }
            accepted()
        }
        (&Method::POST, rest) => match rest.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/')) {
            Some((id, "response")) if streaming::is_streaming(req.headers()) => stream_response(&shared, id, req).await,
            Some((id, "response")) => {
                let body = match read_body(req).await {
                    Ok(b) => Outcome::Response(b),
                    Err(_) => Outcome::Error {
                        error_type: Some("Function.ResponseSizeTooLarge".into()),
                        body: Bytes::from(format!(
                            "{{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}}"
                        )),
                    },
                };
                complete(&shared, id, body)
            }
            Some((id, "error")) => match read_error(req).await {
                Ok((error_type, body)) => complete(&shared, id, Outcome::Error { error_type, body }),
                Err(r) => r,
            },
            _ => not_found(),
        },
        _ => not_found(),
    };
    Ok(reply)
}

async fn next(shared: &Shared) -> Reply {
    if let Some(tx) = shared.init.lock().take() {
        let _ = tx.send(InitOutcome::Ready);
    }
    let mut rx = shared.next_rx.lock().await;
    let Some((inv, reply_tx)) = rx.recv().await else {
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"errorMessage":"sandbox is shutting down","errorType":"Runtime.ShuttingDown"}"#,
        );
    };
    drop(rx);
    *shared.current.lock() = Some((inv.request_id.clone(), reply_tx));
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &inv.request_id)
        .header("lambda-runtime-deadline-ms", inv.deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &inv.invoked_function_arn)
        .header("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = inv.client_context.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        builder = builder.header("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = inv.cognito_identity.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        builder = builder.header("lambda-runtime-cognito-identity", ci);
    }
    builder.body(Full::new(inv.payload)).unwrap_or_else(|_| not_found())
}

fn complete(shared: &Shared, id: &str, outcome: Outcome) -> Reply {
    match claim(shared, id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            accepted()
        }
        None => invalid_request_id(),
    }
}

/// The waiting caller of invocation `id`, if that is the one in flight.
fn claim(shared: &Shared, id: &str) -> Option<tokio::sync::oneshot::Sender<Outcome>> {
    let mut current = shared.current.lock();
    match current.take() {
        Some((current_id, tx)) if current_id == id => Some(tx),
        other => {
            *current = other;
            None
        }
    }
}

/// A streamed `/response`: the caller gets the stream before the first
/// chunk, and the runtime its answer once the whole body is through.
async fn stream_response(shared: &Shared, id: &str, req: Request<Incoming>) -> Reply {
    let Some(waiting) = claim(shared, id) else { return invalid_request_id() };
    let (stream, tx) = streaming::open(&req);
    let _ = waiting.send(Outcome::Streamed(stream));
    match streaming::forward(req.into_body(), tx).await {
        Forwarded::Complete => accepted(),
        Forwarded::TooLarge => json(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size.","errorType":"Function.ResponseSizeTooLarge"}"#,
        ),
        Forwarded::Broken => json(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Malformed streamed response","errorType":"InvalidStreamedResponse"}"#,
        ),
    }
}

fn invalid_request_id() -> Reply {
    json(StatusCode::BAD_REQUEST, r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Reply> {
    Limited::new(req.into_body(), MAX_RESPONSE_BYTES).collect().await.map(|c| c.to_bytes()).map_err(|_| {
        json(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"errorMessage":"Payload too large","errorType":"RequestEntityTooLarge"}"#,
        )
    })
}

async fn read_error(req: Request<Incoming>) -> Result<(Option<String>, Bytes), Reply> {
    let error_type =
        req.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok((error_type, read_body(req).await?))
}

fn accepted() -> Reply {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn not_found() -> Reply {
    json(StatusCode::NOT_FOUND, r#"{"errorMessage":"Unknown Runtime API path","errorType":"NotFound"}"#)
}

fn json(status: StatusCode, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    r
}
