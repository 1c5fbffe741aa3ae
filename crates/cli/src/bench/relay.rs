//! The Runtime API floor: the least any platform can do with Lambda's
//! contract on this machine, measured like Lamina.
//!
//! An invocation through the Runtime API is three HTTP exchanges between
//! three processes: the client's Invoke, the runtime's `GET .../next` that
//! receives the event, and its `POST .../response` that returns the answer.
//! `lamina bench --serve-relay` is a process that does exactly that and
//! nothing else: an Invoke waits in a queue, the next `GET .../next` takes
//! it, the matching `POST .../response` answers it. No sandbox, no limits,
//! no logs, no metrics, no store. The same `provided` bootstrap Lamina runs
//! is started as plain processes against it, one per client. Lamina's
//! numbers over this floor are what the platform itself costs; this floor
//! over the echo floor is what the contract costs.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

use super::floor::{start_helper, KillOnDrop};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const FUNCTION_NAME: &str = "bench-relay";

/// An Invoke waiting for a runtime: its payload and where its answer goes.
type Pending = (Bytes, oneshot::Sender<Bytes>);

struct Relay {
    queue: mpsc::Sender<Pending>,
    next: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    /// Events handed to a runtime, by request id, until it answers.
    running: Mutex<HashMap<u64, oneshot::Sender<Bytes>>>,
    ids: AtomicU64,
}

/// `lamina bench --serve-relay`: serves the relay on 127.0.0.1:0, prints
/// its address on the first line of stdout, then serves until killed.
pub async fn serve_relay_process() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the relay")?;
    println!("{}", listener.local_addr()?);
    serve(listener).await
}

async fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let (queue, next) = mpsc::channel(1024);
    let relay = Arc::new(Relay {
        queue,
        next: tokio::sync::Mutex::new(next),
        running: Mutex::new(HashMap::new()),
        ids: AtomicU64::new(1),
    });
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let relay = relay.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(relay.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

async fn handle(relay: Arc<Relay>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    if path == NEXT {
        let Some((payload, answer)) = relay.next.lock().await.recv().await else {
            return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
        };
        let id = relay.ids.fetch_add(1, Ordering::Relaxed);
        relay.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id, answer);
        let deadline =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
                + 900_000;
        let mut resp = Response::new(Full::new(payload));
        let headers = resp.headers_mut();
        headers.insert("lambda-runtime-aws-request-id", id.into());
        headers.insert("lambda-runtime-deadline-ms", (deadline as u64).into());
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            hyper::header::HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:bench-relay"),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            hyper::header::HeaderValue::from_static("Root=1-00000000-000000000000000000000000;Sampled=0"),
        );
        return Ok(resp);
    }
    let body = req.into_body().collect().await?.to_bytes();
    if let Some(rest) = path.strip_prefix(INVOCATION) {
        // `{id}/response` or `{id}/error`: either answers the Invoke.
        let id = rest.split('/').next().and_then(|id| id.parse::<u64>().ok());
        if let Some(answer) = id.and_then(|id| relay.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)) {
            let _ = answer.send(body);
        }
        return Ok(status(StatusCode::ACCEPTED));
    }
    let (answer, answered) = oneshot::channel();
    if relay.queue.send((body, answer)).await.is_err() {
        return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
    }
    Ok(match answered.await {
        Ok(payload) => Response::new(Full::new(payload)),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    })
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = code;
    resp
}

/// The relay process and its runtimes; all are killed when this drops.
pub(super) struct RelayFloor {
    pub(super) addr: SocketAddr,
    // Runtimes first: they would otherwise retry against a dead relay.
    _runtimes: Vec<KillOnDrop>,
    relay: KillOnDrop,
}

impl RelayFloor {
    /// The relay process (not its runtimes).
    pub(super) fn pid(&self) -> u32 {
        self.relay.pid()
    }
}

/// Starts `lamina bench --serve-relay` and `runtimes` copies of `bootstrap`
/// against it, as plain processes with the environment a Lambda runtime
/// expects (their output is discarded).
pub(super) fn start_relay_floor(bootstrap: &Path, runtimes: usize) -> anyhow::Result<RelayFloor> {
    let (addr, relay) = start_helper("--serve-relay", "the relay")?;
    let runtimes = (0..runtimes)
        .map(|_| {
            Command::new(bootstrap)
                .env_clear()
                .envs([
                    ("AWS_LAMBDA_RUNTIME_API", addr.to_string().as_str()),
                    ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
                    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"),
                    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench-relay"),
                    ("AWS_LAMBDA_LOG_STREAM_NAME", "relay"),
                    ("AWS_REGION", "us-east-1"),
                    ("PATH", "/usr/bin:/bin"),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map(KillOnDrop)
                .with_context(|| format!("starting {} against the relay", bootstrap.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(RelayFloor { addr, _runtimes: runtimes, relay })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hyper::Method;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    async fn call(
        client: &super::super::load::HttpClient,
        method: Method,
        url: String,
        body: &'static [u8],
    ) -> (hyper::http::response::Parts, Bytes) {
        let req = Request::builder().method(method).uri(url).body(Full::new(Bytes::from_static(body))).unwrap();
        let (parts, body) = client.request(req).await.expect("request").into_parts();
        (parts, body.collect().await.expect("body").to_bytes())
    }

    #[tokio::test]
    async fn an_invoke_reaches_a_runtime_and_its_answer_comes_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener));
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

        let invoker = {
            let (client, url) = (client.clone(), format!("{base}/2015-03-31/functions/f/invocations"));
            tokio::spawn(async move { call(&client, Method::POST, url, b"{\"n\":1}").await })
        };
        let (next, event) = call(&client, Method::GET, format!("{base}{NEXT}"), b"").await;
        assert_eq!(event, Bytes::from_static(b"{\"n\":1}"), "the runtime receives the invoke's payload");
        let id = next.headers["lambda-runtime-aws-request-id"].to_str().unwrap().to_owned();
        assert!(next.headers.contains_key("lambda-runtime-deadline-ms"));
        let (done, _) = call(&client, Method::POST, format!("{base}{INVOCATION}{id}/response"), b"answer").await;
        assert_eq!(done.status, StatusCode::ACCEPTED);

        let (invoked, answer) = invoker.await.unwrap();
        assert_eq!(invoked.status, StatusCode::OK);
        assert_eq!(answer, Bytes::from_static(b"answer"), "the client gets the runtime's response");
    }
}
