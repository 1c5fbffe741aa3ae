//! Delivery of `Event` invocations from the durable queue in the store.
//!
//! An event is in the store before its 202 is sent, and leaves it only
//! after its last attempt, so a crash between the two delivers it again
//! on restart (at least once; a retried event keeps its request id).
//! Function errors are retried up to two more times with a growing delay,
//! as Lambda does; throttles are retried shortly.

use bytes::Bytes;
use lamina_store::{QueuedEvent, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::{InvokeError, InvokeRequest, Scheduler};

/// Lambda retries a failed asynchronous invocation twice.
pub const MAX_RETRIES: u32 = 2;
const POLL: Duration = Duration::from_millis(200);
const BATCH: usize = 64;

impl Scheduler {
    /// Durably queues an asynchronous invocation; returns once it is stored.
    pub fn enqueue(&self, function: &str, qualifier: Option<&str>, request_id: &str, payload: &[u8]) -> Result<(), StoreError> {
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
        })?;
        self.queue_wake.notify_one();
        Ok(())
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

async fn deliver(s: &Scheduler, event: QueuedEvent, retry_delay: Duration) {
    let resolved = match s.resolve(&event.function, event.qualifier.as_deref()) {
        Ok(r) => r,
        Err(InvokeError::NotFound(_)) => {
            tracing::warn!(request_id = %event.request_id, function = %event.function, "dropping event of a deleted function");
            let _ = s.store.delete_event(event.id);
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "async event could not be resolved; retrying");
            let _ = s.store.reschedule_event(event.id, event.attempts, lamina_core::now_ms() + 1000);
            return;
        }
    };
    let req = InvokeRequest {
        version: resolved.version,
        invoked_arn: resolved.invoked_arn,
        request_id: event.request_id.clone(),
        payload: Bytes::from(event.payload.clone()),
        client_context: None,
        trace_id: None,
        tail_log: false,
    };
    let outcome = s.invoke(req).await;
    let store = &s.store;
    let result = match outcome {
        Ok(r) if r.function_error.is_none() => store.delete_event(event.id),
        Ok(_) if event.attempts < MAX_RETRIES => {
            let delay = retry_delay * (event.attempts + 1);
            tracing::info!(request_id = %event.request_id, attempt = event.attempts + 1, "async invocation failed; will retry");
            store.reschedule_event(event.id, event.attempts + 1, lamina_core::now_ms() + delay.as_millis() as i64)
        }
        Ok(_) => {
            tracing::warn!(request_id = %event.request_id, function = %event.function, "async invocation failed after all retries; discarded");
            store.delete_event(event.id)
        }
        Err(e) => {
            tracing::info!(request_id = %event.request_id, error = %e, "async invocation not run; will retry");
            store.reschedule_event(event.id, event.attempts, lamina_core::now_ms() + 1000)
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "could not update the async queue");
    }
}
