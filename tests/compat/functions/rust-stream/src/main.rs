//! Fixture for the compat suite: a provided.al2023 function that streams its
//! response with the official `lambda_runtime` crate's `streaming` module.
//! Writes `first\n`, waits `gap_ms` (default 500), writes `second\n`.

use lambda_runtime::streaming::{channel, Body, Response};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::time::Duration;

async fn handler(event: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
    let gap = event.payload.get("gap_ms").and_then(Value::as_u64).unwrap_or(500);
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        let _ = tx.send_data("first\n".into()).await;
        // An async sleep: a blocking one would hold the worker that must send
        // the first chunk (a sandbox of one vCPU gets one tokio worker).
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let _ = tx.send_data("second\n".into()).await;
    });
    Ok(Response::from(rx))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
