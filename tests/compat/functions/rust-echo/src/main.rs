//! Fixture for the compat suite: a provided.al2023 function built with the
//! official `lambda_runtime` crate. Echoes the event back as {"echo": event};
//! fails with an error when the event is {"fail": true}.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("rust-echo was asked to fail".into());
    }
    println!("rust-echo request {}", context.request_id);
    Ok(json!({ "echo": payload, "request_id": context.request_id }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
