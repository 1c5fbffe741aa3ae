//! The Lambda Runtime API (`/2018-06-01/runtime/...`) as each sandbox sees
//! it, and the runtime interface clients Lamina ships.
//!
//! Every sandbox gets its own [`RuntimeApi`]: a loopback listener whose
//! address becomes the sandbox's `AWS_LAMBDA_RUNTIME_API`. The scheduler
//! holds the other end, a [`Link`], and hands it one [`Invocation`] at a
//! time; the runtime fetches it with `GET .../invocation/next` and answers
//! with `.../response` or `.../error`, which resolves the scheduler's
//! [`Outcome`]. A runtime that streams its response (see [`streaming`])
//! resolves it at once with a [`ResponseStream`] that carries the chunks as
//! they arrive. Because a listener belongs to one sandbox, and accepts only
//! connections whose socket is owned by that sandbox's user (see
//! [`peer`]), a sandbox can fetch and answer only its own invocations.
//!
//! [`clients`] installs the Python and Node runtime interface clients into
//! a directory that sandboxes mount read-only at `/var/runtime`.

pub mod clients;
mod handlers;
pub mod peer;
pub mod streaming;

use bytes::Bytes;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use streaming::{ResponseStream, StreamEvent, MAX_STREAMED_RESPONSE_BYTES};

/// The largest response a function may return: Lambda's "6 MB", whose
/// error message quotes exactly this many bytes.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// One event handed to a runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// Epoch milliseconds at which the invocation times out.
    pub deadline_ms: i64,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// What the runtime answered for one invocation.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Response(Bytes),
    /// The runtime is streaming its response; the stream ends the invocation.
    Streamed(ResponseStream),
    /// `/error`: the error type header (if any) and the body as posted.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

/// What the runtime reported while initialising.
#[derive(Debug, Clone, PartialEq)]
pub enum InitOutcome {
    /// The runtime asked for its first event.
    Ready,
    /// `/init/error`.
    Failed { error_type: Option<String>, body: Bytes },
}

type Pending = (Invocation, oneshot::Sender<Outcome>);

/// Shared between the HTTP handlers and the scheduler's [`Link`].
struct Shared {
    next_rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    init: Mutex<Option<oneshot::Sender<InitOutcome>>>,
}

/// The scheduler's end of one sandbox's Runtime API.
pub struct Link {
    next_tx: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

impl Link {
    /// Hands an invocation to the runtime. The receiver resolves when the
    /// runtime answers; it is dropped (closed) if the sandbox goes away.
    pub fn dispatch(&self, invocation: Invocation) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        // A full channel means the previous invocation was never fetched;
        // the scheduler never dispatches twice to one sandbox, so dropping
        // the sender here (closing `rx`) reports the breach instead of hanging.
        let _ = self.next_tx.try_send((invocation, tx));
        rx
    }

    /// Forgets the invocation in flight (after a timeout).
    pub fn abandon(&self) {
        self.shared.current.lock().take();
    }
}

/// One sandbox's Runtime API server.
pub struct RuntimeApi {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Binds a loopback listener for a sandbox whose processes run as
    /// `owner_uid` (`None` accepts any local peer, for plain-process tests).
    /// Returns the server, the scheduler's [`Link`] and a receiver that
    /// resolves when the runtime is ready or failed to initialise.
    pub async fn start(owner_uid: Option<u32>) -> std::io::Result<(Self, Link, oneshot::Receiver<InitOutcome>)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (next_tx, next_rx) = mpsc::channel(1);
        let (init_tx, init_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            next_rx: tokio::sync::Mutex::new(next_rx),
            current: Mutex::new(None),
            init: Mutex::new(Some(init_tx)),
        });
        let task = tokio::spawn(handlers::serve(listener, shared.clone(), owner_uid));
        Ok((Self { addr, task }, Link { next_tx, shared }, init_rx))
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}
