//! Delivery of `Event` invocations from the durable queue in the store.
//!
//! An event is in the store before its 202 is sent, and leaves it only
//! after its last attempt, so a crash between the two delivers it again
//! on restart (at least once; a retried event keeps its request id).
//! Function errors are retried up to `MaximumRetryAttempts` times (default
//! two) with a growing delay; throttles and platform errors are retried
//! until the event is older than `MaximumEventAgeInSeconds`. The outcome
//! goes to the OnSuccess / OnFailure destination as Lambda's invocation
//! record.

use bytes::Bytes;
use lamina_core::{FunctionRef, LATEST};
use lamina_store::{QueuedEvent, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::event_config::{self, EventInvokeConfig};
use crate::{InvokeError, InvokeRequest, InvokeResult, Scheduler};

const POLL: Duration = Duration::from_millis(200);
const BATCH: usize = 64;
/// Delay before retrying an event that was throttled or not run.
const NOT_RUN_RETRY: Duration = Duration::from_secs(1);

impl Scheduler {
    /// Durably queues an asynchronous invocation; returns once it is stored.
    pub fn enqueue(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request_id: &str,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        self.enqueue_traced(function, qualifier, request_id, payload, None)
    }

    /// [`Scheduler::enqueue`] for a caller that sent a trace header (an
    /// `X-Amzn-Trace-Id` value, see [`crate::trace_header`]): the event's
    /// invocation continues that trace.
    pub fn enqueue_traced(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request_id: &str,
        payload: &[u8],
        trace_header: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = lamina_core::now_ms();
        self.store.enqueue_event(&QueuedEvent {
            id: 0,
            request_id: request_id.to_string(),
            function: function.to_string(),
            qualifier: qualifier.map(str::to_string),
            payload: payload.to_vec(),
            attempts: 0,
            enqueued_ms: now,
            not_before_ms: now,
            trace_header: trace_header.map(str::to_string),
        })?;
        self.queue_wake.notify_one();
        Ok(())
    }

    /// The async settings for `function:qualifier` (defaults when unset).
    pub fn event_invoke_config(&self, function: &str, qualifier: Option<&str>) -> EventInvokeConfig {
        let key = event_config::setting_key(qualifier.unwrap_or(LATEST));
        self.store
            .get_setting(function, &key)
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default()
    }
}

/// Runs the delivery loop until the scheduler is dropped.
pub fn start(s: Arc<Scheduler>, retry_delay: Duration) {
    tokio::spawn(async move {
        let in_flight = Arc::new(parking_lot::Mutex::new(HashSet::<i64>::new()));
        loop {
            let store = s.store.clone();
            let due = tokio::task::spawn_blocking(move || store.due_events(lamina_core::now_ms(), BATCH)).await;
            match due {
                Ok(Ok(events)) => {
                    for event in events {
                        if in_flight.lock().insert(event.id) {
                            let (s, in_flight) = (s.clone(), in_flight.clone());
                            tokio::spawn(async move {
                                let id = event.id;
                                deliver(&s, event, retry_delay).await;
                                in_flight.lock().remove(&id);
                            });
                        }
                    }
                }
                _ => tracing::error!("could not read the async queue"),
            }
            let _ = tokio::time::timeout(POLL, s.queue_wake.notified()).await;
        }
    });
}

/// How one delivery attempt ended.
enum Attempt {
    Succeeded(InvokeResult),
    Failed(InvokeResult),
    NotRun(String),
    Gone,
}

async fn attempt(s: &Scheduler, event: &QueuedEvent) -> Attempt {
    let resolved = match s.resolve(&event.function, event.qualifier.as_deref()) {
        Ok(r) => r,
        Err(InvokeError::NotFound(_)) => return Attempt::Gone,
        Err(e) => return Attempt::NotRun(e.to_string()),
    };
    let req = InvokeRequest {
        version: resolved.version,
        invoked_arn: resolved.invoked_arn,
        request_id: event.request_id.clone(),
        payload: Bytes::from(event.payload.clone()),
        client_context: None,
        trace_id: event.trace_header.clone(),
        tail_log: false,
    };
    let origin = crate::Origin {
        trigger: crate::Trigger::Other,
        queued_since: Some(std::time::UNIX_EPOCH + Duration::from_millis(event.enqueued_ms.max(0) as u64)),
    };
    match s.invoke_from(req, origin).await {
        Ok(r) if r.function_error.is_none() => Attempt::Succeeded(r),
        Ok(r) => Attempt::Failed(r),
        // Reserved concurrency of zero: the event can never run.
        Err(InvokeError::Throttled { .. }) if s.concurrency.reserved(&event.function) == Some(0) => {
            Attempt::NotRun("reserved concurrency is 0".into())
        }
        Err(e) => Attempt::NotRun(e.to_string()),
    }
}

async fn deliver(s: &Scheduler, event: QueuedEvent, retry_delay: Duration) {
    let config = s.event_invoke_config(&event.function, event.qualifier.as_deref());
    let now = lamina_core::now_ms();
    let store = &s.store;
    let done = |e: &QueuedEvent| {
        if let Err(err) = store.delete_event(e.id) {
            tracing::error!(error = %err, "could not remove a delivered event from the async queue");
        }
    };
    let reschedule = |e: &QueuedEvent, attempts: u32, after: Duration| {
        if let Err(err) = store.reschedule_event(e.id, attempts, lamina_core::now_ms() + after.as_millis() as i64) {
            tracing::error!(error = %err, "could not reschedule an async event");
        }
    };
    if now - event.enqueued_ms > config.max_age_ms() {
        tracing::warn!(request_id = %event.request_id, function = %event.function, "async event too old; discarded");
        send_record(s, &event, &config, "EventAgeExceeded", None);
        send_to_dead_letter(s, &event, "EventAgeExceeded").await;
        return done(&event);
    }
    let age = Duration::from_millis((now - event.enqueued_ms).max(0) as u64);
    s.metrics.async_event_age.with_label_values(&[event.function.as_str()]).observe(age.as_secs_f64());
    s.series.async_event_age(&event.function, age);
    let zero_reserved = s.concurrency.reserved(&event.function) == Some(0);
    match attempt(s, &event).await {
        Attempt::Gone => {
            tracing::warn!(request_id = %event.request_id, function = %event.function, "dropping event of a deleted function");
            done(&event);
        }
        Attempt::Succeeded(r) => {
            send_record(s, &event, &config, "Success", Some(&r));
            done(&event);
        }
        Attempt::Failed(r) if event.attempts < config.max_retries() => {
            tracing::info!(request_id = %event.request_id, attempt = event.attempts + 1, "async invocation failed; will retry");
            reschedule(&event, event.attempts + 1, retry_delay * (event.attempts + 1));
            drop(r);
        }
        Attempt::Failed(r) => {
            tracing::warn!(request_id = %event.request_id, function = %event.function, "async invocation failed after all retries");
            send_record(s, &event, &config, "RetriesExhausted", Some(&r));
            send_to_dead_letter(s, &event, "Unhandled").await;
            done(&event);
        }
        Attempt::NotRun(why) if zero_reserved => {
            tracing::warn!(request_id = %event.request_id, reason = %why, "async event cannot run");
            send_record(s, &event, &config, "RetriesExhausted", None);
            send_to_dead_letter(s, &event, "Throttled").await;
            done(&event);
        }
        Attempt::NotRun(why) => {
            tracing::info!(request_id = %event.request_id, reason = %why, "async invocation not run; will retry");
            reschedule(&event, event.attempts, NOT_RUN_RETRY);
        }
    }
}

/// Hands a finally failed event to the function's dead-letter queue
/// (DeadLetterConfig.TargetArn), through the sink the server installed.
async fn send_to_dead_letter(s: &Scheduler, event: &QueuedEvent, error: &str) {
    let Ok(resolved) = s.resolve(&event.function, event.qualifier.as_deref()) else { return };
    let Some(arn) = resolved.version.dead_letter_arn.clone() else { return };
    match s.dead_letter_sink.get() {
        Some(sink) => {
            if let Err(e) = sink.send(&arn, &event.request_id, error, &event.payload).await {
                tracing::error!(dead_letter = %arn, error = %e, "could not send the event to its dead-letter queue");
                s.series.dead_letter_error(&event.function);
            }
        }
        None => {
            tracing::warn!(dead_letter = %arn, "no dead-letter delivery for this kind of target");
            s.series.dead_letter_error(&event.function);
        }
    }
}

/// Sends Lambda's invocation record to the OnSuccess / OnFailure destination.
fn send_record(
    s: &Scheduler,
    event: &QueuedEvent,
    config: &EventInvokeConfig,
    condition: &str,
    result: Option<&InvokeResult>,
) {
    let destination = if condition == "Success" { &config.on_success } else { &config.on_failure };
    let Some(arn) = destination else { return };
    let Ok(target) = FunctionRef::parse(arn) else {
        tracing::warn!(destination = %arn, "cannot deliver to this destination");
        return;
    };
    let partition = s.config.partition();
    let function_arn = partition.qualified_arn(&event.function, event.qualifier.as_deref().unwrap_or(LATEST));
    let request_payload: serde_json::Value = serde_json::from_slice(&event.payload)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&event.payload).into()));
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": event.attempts + u32::from(result.is_some()),
        },
        "requestPayload": request_payload,
    });
    if let Some(r) = result {
        let mut response_context = serde_json::json!({"statusCode": 200, "executedVersion": r.executed_version});
        if let Some(fe) = r.function_error {
            response_context["functionError"] = fe.into();
        }
        record["responseContext"] = response_context;
        record["responsePayload"] = serde_json::from_slice(&r.payload).unwrap_or(serde_json::Value::Null);
    }
    let id = crate::new_request_id();
    if let Err(e) = s.enqueue(&target.name, target.qualifier.as_deref(), &id, record.to_string().as_bytes()) {
        tracing::error!(error = %e, destination = %arn, "could not queue the destination record");
    }
}
