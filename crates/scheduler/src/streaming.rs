//! Streamed invocations: [`Scheduler::invoke_stream`] runs an invocation on
//! its own task and hands the caller the response chunk by chunk while the
//! function is still writing (InvokeWithResponseStream, function URLs in
//! `RESPONSE_STREAM` mode).
//!
//! The invocation holds its sandbox and its concurrency slot until the
//! runtime has finished posting; only then does the sandbox go back to its
//! pool. A caller that goes away does not stop the function (Lambda keeps
//! running it too): the rest of the stream is read and dropped.
//!
//! A function that does not stream (or fails before its first byte) comes
//! back whole, as from [`Scheduler::invoke`]. A streaming function invoked
//! through plain [`Scheduler::invoke`] is collected into one payload, up to
//! the buffered limit.

use bytes::{Bytes, BytesMut};
use lamina_runtime::{ResponseStream, StreamEvent, MAX_RESPONSE_BYTES};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::{InvokeError, InvokeRequest, InvokeResult, Scheduler};

/// Chunks in flight between the invocation task and the caller.
const CHUNKS_IN_FLIGHT: usize = 16;

/// What a streaming invoke gives back.
pub enum StreamedInvoke {
    /// The function answered in one piece, or failed before streaming.
    Whole(InvokeResult),
    /// The function is streaming its response.
    Streaming(InvokeStream),
}

/// A response being streamed: [`Part::Chunk`]s, then one [`Part::Done`].
pub struct InvokeStream {
    /// The runtime's content type (`application/vnd.awslambda.http-integration-response`
    /// when the function wrote an HTTP prelude).
    pub content_type: Option<String>,
    pub executed_version: String,
    parts: mpsc::Receiver<Part>,
}

pub enum Part {
    Chunk(Bytes),
    /// The invocation's end. On success `payload` is empty (the body went
    /// out in chunks); on failure it is the error document.
    Done(InvokeResult),
}

impl InvokeStream {
    /// The next part; `None` only if the invocation task died, which the
    /// caller should report as a platform failure.
    pub async fn next(&mut self) -> Option<Part> {
        self.parts.recv().await
    }
}

/// Where a running invocation sends its stream, when its caller wants one.
pub(crate) struct Sink {
    head: Mutex<Option<oneshot::Sender<Option<String>>>>,
    parts: mpsc::Sender<Part>,
    /// False once the caller stopped reading.
    open: std::sync::atomic::AtomicBool,
}

impl Sink {
    fn started(&self) -> bool {
        self.head.lock().is_none()
    }

    async fn send(&self, part: Part, deadline: Instant) {
        use std::sync::atomic::Ordering;
        if !self.open.load(Ordering::Relaxed) {
            return;
        }
        // A caller that stops reading must not hold the sandbox past the
        // function's deadline.
        match tokio::time::timeout_at(deadline, self.parts.send(part)).await {
            Ok(Ok(())) => {}
            _ => self.open.store(false, Ordering::Relaxed),
        }
    }
}

impl Scheduler {
    /// Runs one invocation whose response may be streamed. Resolves as soon
    /// as the function starts streaming (or when it has answered whole).
    pub async fn invoke_stream(self: &Arc<Self>, req: InvokeRequest) -> Result<StreamedInvoke, InvokeError> {
        let (head_tx, head_rx) = oneshot::channel();
        let (parts_tx, parts) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let sink =
            Sink { head: Mutex::new(Some(head_tx)), parts: parts_tx, open: std::sync::atomic::AtomicBool::new(true) };
        let executed_version = req.version.version.clone();
        let me = self.clone();
        // Its own task: the invocation runs to its end whatever the caller does.
        let task = tokio::spawn(async move {
            let result = me.invoke_into(&req, Some(&sink)).await;
            if let (Ok(done), true) = (&result, sink.started()) {
                let far = Instant::now() + std::time::Duration::from_secs(60);
                sink.send(Part::Done(done.clone()), far).await;
            }
            result
        });
        match head_rx.await {
            Ok(content_type) => Ok(StreamedInvoke::Streaming(InvokeStream { content_type, executed_version, parts })),
            // The sink was dropped unused: the function answered whole.
            Err(_) => match task.await {
                Ok(result) => result.map(StreamedInvoke::Whole),
                Err(e) => Err(InvokeError::Platform(e.to_string())),
            },
        }
    }
}

/// How following a stream ended, before logs and results are made of it.
pub(crate) enum Followed {
    /// The runtime finished posting: the outcome, with the payload collected
    /// when nobody streams it.
    Answered(lamina_runtime::Outcome),
    /// The runtime's connection went away mid-stream.
    Broken,
    /// The deadline passed or the sandbox exited: the caller's select decides.
    Interrupted,
}

/// Reads a runtime's stream to its end, forwarding chunks to the sink (or
/// collecting them, up to the buffered limit, when there is none).
/// Returns `Interrupted` if `stop` resolves first (timeout, exit).
pub(crate) async fn follow(
    mut stream: ResponseStream,
    sink: Option<&Sink>,
    deadline: Instant,
    stop: impl std::future::Future<Output = ()>,
) -> Followed {
    if let Some(sink) = sink {
        if let Some(head) = sink.head.lock().take() {
            let _ = head.send(stream.content_type.clone());
        }
    }
    tokio::pin!(stop);
    let mut collected = BytesMut::new();
    let mut too_large = false;
    let mut outcome = None;
    loop {
        let event = tokio::select! {
            e = stream.next() => e,
            _ = &mut stop => return Followed::Interrupted,
        };
        match event {
            // The sender lives until the runtime stops posting: only now
            // may the sandbox serve another invocation.
            None => break,
            Some(_) if outcome.is_some() => {}
            Some(StreamEvent::Data(data)) => match sink {
                Some(sink) => sink.send(Part::Chunk(data), deadline).await,
                None if too_large => {}
                None if collected.len() + data.len() > MAX_RESPONSE_BYTES => too_large = true,
                None => collected.extend_from_slice(&data),
            },
            Some(StreamEvent::Finished) if too_large => outcome = Some(buffered_too_large()),
            Some(StreamEvent::Finished) => {
                outcome = Some(lamina_runtime::Outcome::Response(std::mem::take(&mut collected).freeze()))
            }
            Some(StreamEvent::Failed { error_type, body }) => {
                outcome = Some(lamina_runtime::Outcome::Error { error_type, body })
            }
        }
    }
    match outcome {
        Some(o) => Followed::Answered(o),
        None => Followed::Broken,
    }
}

fn buffered_too_large() -> lamina_runtime::Outcome {
    lamina_runtime::Outcome::Error {
        error_type: Some("Function.ResponseSizeTooLarge".into()),
        body: Bytes::from(format!(
            "{{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}}"
        )),
    }
}
