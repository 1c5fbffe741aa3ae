//! One poller of an event source mapping: long-polls its queue in process
//! (no HTTP), gathers a batch (BatchSize, MaximumBatchingWindowInSeconds),
//! invokes the function synchronously with the SQS event exactly as Lambda
//! shapes it, and acknowledges by deleting what succeeded.
//!
//! The contract every event source keeps:
//! - ack after success only: a function error leaves the whole batch in
//!   flight; it becomes visible again after the queue's visibility timeout,
//!   and the queue's redrive policy moves it to the dead-letter queue once
//!   it has been received maxReceiveCount times;
//! - with ReportBatchItemFailures, only the listed `itemIdentifier`s stay;
//!   an unreadable response fails the whole batch, as in Lambda;
//! - a throttle backs off and leaves the messages for a later attempt;
//! - shutdown (server stop, mapping disabled or deleted) ends the poller at
//!   its next await, within milliseconds; messages it held are redelivered
//!   after their visibility timeout.

use crate::api::system_attributes;
use crate::engine::{Engine, Queue};
use crate::mappings::{filter_patterns, Mapping};
use crate::queue::Message;
use lamina_core::event_pattern::EventPattern;
use lamina_scheduler::{InvokeError, InvokeRequest, Scheduler};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest in-process long poll; the loop re-checks its mapping after it.
const LONG_POLL: Duration = Duration::from_secs(20);
/// Lambda's synchronous payload limit, less room for the envelope.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024 - 4096;
const THROTTLE_BACKOFF: Duration = Duration::from_millis(500);
const ERROR_BACKOFF: Duration = Duration::from_secs(2);

/// Runs until `stop` or the engine's shutdown.
pub async fn run(
    engine: Arc<Engine>,
    scheduler: Arc<Scheduler>,
    m: Mapping,
    worker: u32,
    mut stop: watch::Receiver<bool>,
) {
    let mut shutdown = engine.shutdown_signal();
    // Stored filters were validated when the mapping was written.
    let filters = m.filter_criteria.as_ref().and_then(|f| filter_patterns(f).ok()).unwrap_or_default();
    tracing::debug!(uuid = %m.uuid, worker, "event source poller started");
    loop {
        if *stop.borrow() || engine.is_shut_down() {
            break;
        }
        let Some(queue) = engine.queue_by_arn(&m.event_source_arn) else {
            tokio::select! {
                _ = tokio::time::sleep(ERROR_BACKOFF) => continue,
                _ = stop.changed() => break,
                _ = shutdown.changed() => break,
            }
        };
        let pause = tokio::select! {
            p = poll_once(&engine, &scheduler, &m, &filters, &queue) => p,
            _ = stop.changed() => break,
            _ = shutdown.changed() => break,
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
                _ = shutdown.changed() => break,
            }
        }
    }
    tracing::debug!(uuid = %m.uuid, worker, "event source poller stopped");
}

/// One receive → invoke → acknowledge round; returns a pause when the
/// next round should wait (throttles, errors).
async fn poll_once(
    engine: &Engine,
    scheduler: &Scheduler,
    m: &Mapping,
    filters: &[EventPattern],
    queue: &Arc<Queue>,
) -> Option<Duration> {
    let want = m.batch_size as usize;
    let mut batch = match engine.receive(queue, want, None, LONG_POLL, false).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(uuid = %m.uuid, error = %e, "event source poller cannot receive");
            return Some(ERROR_BACKOFF);
        }
    };
    if batch.is_empty() {
        return None;
    }
    if m.max_batching_window_secs > 0 && batch.len() < want {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(m.max_batching_window_secs));
        while batch.len() < want {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match engine.receive(queue, want - batch.len(), None, left, false).await {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
    }
    let batch = drop_unmatched(engine, m, filters, queue, batch).await;
    let mut pause = None;
    for chunk in chunks(queue, &engine.region, batch) {
        if let Some(p) = deliver(engine, scheduler, m, queue, chunk).await {
            pause = Some(p);
        }
    }
    pause
}

/// Keeps the messages that match one of the mapping's filters and deletes
/// the others from the queue, as Lambda does; no filters keep everything.
/// A JSON body is matched as JSON (`{"body": {"field": [...]}}`), any
/// other body as a string.
async fn drop_unmatched(
    engine: &Engine,
    m: &Mapping,
    filters: &[EventPattern],
    queue: &Arc<Queue>,
    batch: Vec<Message>,
) -> Vec<Message> {
    if filters.is_empty() {
        return batch;
    }
    let (keep, drop): (Vec<Message>, Vec<Message>) = batch.into_iter().partition(|msg| {
        let mut r = record(queue, &engine.region, msg);
        if let Ok(body @ Value::Object(_)) = serde_json::from_str::<Value>(&msg.data.body) {
            r["body"] = body;
        }
        filters.iter().any(|f| f.matches(&r))
    });
    if !drop.is_empty() {
        tracing::debug!(uuid = %m.uuid, dropped = drop.len(), "messages matching no filter are deleted");
        let handles: Vec<String> = drop.iter().map(|msg| Engine::receipt_handle(queue, msg)).collect();
        for r in engine.delete(queue, &handles).await {
            if let Err(e) = r {
                tracing::warn!(uuid = %m.uuid, error = %e, "cannot delete a filtered-out message");
            }
        }
    }
    keep
}

/// Splits a batch into invocations that fit Lambda's payload limit.
fn chunks(queue: &Queue, region: &str, batch: Vec<Message>) -> Vec<Vec<(Message, Value)>> {
    let mut out: Vec<Vec<(Message, Value)>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for msg in batch {
        let record = record(queue, region, &msg);
        let n = record.to_string().len();
        if !current.is_empty() && size + n > MAX_PAYLOAD_BYTES {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += n;
        current.push((msg, record));
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

async fn deliver(
    engine: &Engine,
    scheduler: &Scheduler,
    m: &Mapping,
    queue: &Arc<Queue>,
    chunk: Vec<(Message, Value)>,
) -> Option<Duration> {
    let resolved = match scheduler.resolve(&m.function_name, m.qualifier.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(uuid = %m.uuid, function = %m.function_name, error = %e, "event source mapping cannot reach its function");
            return Some(ERROR_BACKOFF);
        }
    };
    let records: Vec<&Value> = chunk.iter().map(|(_, r)| r).collect();
    let payload = json!({ "Records": records }).to_string();
    let req = InvokeRequest {
        version: resolved.version,
        invoked_arn: resolved.invoked_arn,
        request_id: lamina_scheduler::new_request_id(),
        payload: payload.into(),
        client_context: None,
        trace_id: None,
        tail_log: false,
    };
    let origin = lamina_scheduler::Origin { trigger: lamina_scheduler::Trigger::PubSub, queued_since: None };
    let result = match scheduler.invoke_from(req, origin).await {
        Ok(r) => r,
        Err(InvokeError::Throttled { reason }) => {
            tracing::debug!(uuid = %m.uuid, reason, "event source invoke throttled; messages stay on the queue");
            return Some(THROTTLE_BACKOFF);
        }
        Err(e) => {
            tracing::warn!(uuid = %m.uuid, error = %e, "event source invoke failed; messages stay on the queue");
            return Some(ERROR_BACKOFF);
        }
    };
    if result.function_error.is_some() {
        tracing::debug!(uuid = %m.uuid, records = chunk.len(), "function failed; batch returns to the queue");
        return None;
    }
    let failed: HashSet<String> = if m.report_batch_item_failures {
        match batch_item_failures(&result.payload, &chunk) {
            Some(f) => f,
            None => {
                tracing::warn!(uuid = %m.uuid, "unreadable batchItemFailures response; the whole batch fails");
                return None;
            }
        }
    } else {
        HashSet::new()
    };
    let done: Vec<String> = chunk
        .iter()
        .filter(|(msg, _)| !failed.contains(&msg.data.id))
        .map(|(msg, _)| Engine::receipt_handle(queue, msg))
        .collect();
    for r in engine.delete(queue, &done).await {
        if let Err(e) = r {
            tracing::warn!(uuid = %m.uuid, error = %e, "cannot delete a processed message");
        }
    }
    None
}

/// The failed message ids from a ReportBatchItemFailures response; `None`
/// when Lambda would fail the whole batch (invalid JSON, missing or unknown
/// itemIdentifier).
fn batch_item_failures(payload: &[u8], chunk: &[(Message, Value)]) -> Option<HashSet<String>> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if text.is_empty() || text == "null" {
        return Some(HashSet::new());
    }
    let v: Value = serde_json::from_str(text).ok()?;
    let Some(obj) = v.as_object() else { return Some(HashSet::new()) };
    let list = match obj.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(HashSet::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return None,
    };
    let known: HashSet<&str> = chunk.iter().map(|(m, _)| m.data.id.as_str()).collect();
    let mut out = HashSet::new();
    for item in list {
        let id = item.get("itemIdentifier").and_then(Value::as_str)?;
        if id.is_empty() || !known.contains(id) {
            return None;
        }
        out.insert(id.to_string());
    }
    Some(out)
}

/// One SQS record as Lambda delivers it.
pub fn record(queue: &Queue, region: &str, m: &Message) -> Value {
    let attributes: Map<String, Value> =
        system_attributes(m).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
    let message_attributes: Map<String, Value> = m
        .data
        .attributes
        .iter()
        .map(|(k, v)| {
            let mut a = Map::new();
            if let Some(s) = &v.string_value {
                a.insert("stringValue".into(), json!(s));
            }
            if let Some(b) = &v.binary_value {
                a.insert("binaryValue".into(), json!(b));
            }
            a.insert("stringListValues".into(), json!([]));
            a.insert("binaryListValues".into(), json!([]));
            a.insert("dataType".into(), json!(v.data_type));
            (k.clone(), Value::Object(a))
        })
        .collect();
    let mut r = json!({
        "messageId": m.data.id,
        "receiptHandle": Engine::receipt_handle(queue, m),
        "body": m.data.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.data.md5_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": region,
    });
    if let Some(md5) = &m.data.md5_attributes {
        r["md5OfMessageAttributes"] = json!(md5);
    }
    r
}
