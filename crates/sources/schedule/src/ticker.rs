//! The ticker: one tokio task that sleeps until the earliest fire time (or
//! until a schedule changes), then delivers every due schedule as an async
//! invocation.
//!
//! Delivery order, and why: the invocation is durably queued first
//! ([`lamina_scheduler::Scheduler::enqueue`]), then the schedule's next
//! fire time is durably recorded. A crash between the two fires that one
//! occurrence again on restart — at least once, as EventBridge Scheduler
//! promises — whereas recording first would lose it, and Lamina never
//! loses what it accepted. The window is one SQLite write wide.
//!
//! The task holds only a weak reference to the scheduler and ends when it
//! is gone; it never blocks shutdown (it is dropped with the runtime).

use lamina_core::FunctionRef;
use lamina_scheduler::Scheduler;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::expr::iso_utc;
use crate::service::{Firing, Schedules};

/// The longest sleep; bounds how far a wall-clock jump can delay a fire.
const MAX_SLEEP_MS: i64 = 30_000;

pub fn spawn(schedules: Arc<Schedules>, scheduler: Weak<Scheduler>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(run(schedules, scheduler));
        }
        Err(_) => tracing::error!("no tokio runtime: schedules will not fire"),
    }
}

async fn run(schedules: Arc<Schedules>, scheduler: Weak<Scheduler>) {
    loop {
        if scheduler.strong_count() == 0 {
            return;
        }
        let now = lamina_core::now_ms();
        let (due, earliest) = schedules.take_due(now);
        if !due.is_empty() {
            let (s, w) = (schedules.clone(), scheduler.clone());
            // Queueing is a synchronous, fsynced SQLite write per event.
            let done = tokio::task::spawn_blocking(move || deliver_all(&s, &w, due)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "schedule delivery task failed");
            }
            continue;
        }
        let wait = earliest.map_or(MAX_SLEEP_MS, |t| (t - now).clamp(0, MAX_SLEEP_MS));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = schedules.wake.notified() => {}
        }
    }
}

fn deliver_all(schedules: &Schedules, scheduler: &Weak<Scheduler>, due: Vec<Firing>) {
    let Some(scheduler) = scheduler.upgrade() else { return };
    for f in due {
        let now = lamina_core::now_ms();
        let delivered = deliver(&scheduler, &f, now);
        schedules.finish(&f, delivered, lamina_core::now_ms());
    }
}

/// Queues one firing; false when the platform could not accept it (the
/// caller retries). A firing older than its retry policy's maximum age is
/// dropped, as EventBridge Scheduler drops it (counted as delivered).
fn deliver(scheduler: &Scheduler, f: &Firing, now_ms: i64) -> bool {
    let late_ms = now_ms - f.due_ms;
    if late_ms > f.max_age_ms {
        tracing::warn!(schedule = f.arn, late_ms, "schedule fire is older than its MaximumEventAgeInSeconds; dropped");
        return true;
    }
    let target = match FunctionRef::parse(&f.target_arn) {
        Ok(t) => t,
        Err(e) => {
            // Checked at create time; only a hand-edited store gets here.
            tracing::error!(schedule = f.arn, target = f.target_arn, error = %e.0, "schedule target is not a function");
            return true;
        }
    };
    let request_id = lamina_scheduler::new_request_id();
    let payload = render(f.input.as_deref(), &f.arn, f.due_ms, &request_id, f.attempt);
    match scheduler.enqueue(&target.name, target.qualifier.as_deref(), &request_id, payload.as_bytes()) {
        Ok(()) => {
            tracing::info!(
                schedule = f.arn,
                function = target.name,
                request_id,
                scheduled_time = iso_utc(f.due_ms),
                late_ms,
                "schedule fired"
            );
            true
        }
        Err(e) => {
            tracing::warn!(schedule = f.arn, attempt = f.attempt, error = %e, "cannot queue a schedule's invocation");
            false
        }
    }
}

/// The event: the target's Input (default `{}`) with EventBridge
/// Scheduler's context attributes filled in.
pub fn render(input: Option<&str>, arn: &str, due_ms: i64, execution_id: &str, attempt: u32) -> String {
    let input = input.unwrap_or("{}");
    if !input.contains("<aws.scheduler.") {
        return input.to_string();
    }
    input
        .replace("<aws.scheduler.schedule-arn>", arn)
        .replace("<aws.scheduler.scheduled-time>", &iso_utc(due_ms))
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", &attempt.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_context_attributes() {
        assert_eq!(render(None, "a", 0, "x", 1), "{}");
        assert_eq!(render(Some("{\"k\":1}"), "a", 0, "x", 1), "{\"k\":1}");
        let out = render(
            Some("{\"arn\":\"<aws.scheduler.schedule-arn>\",\"t\":\"<aws.scheduler.scheduled-time>\",\"id\":\"<aws.scheduler.execution-id>\",\"n\":<aws.scheduler.attempt-number>}"),
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
            1_767_225_600_000,
            "id-1",
            2,
        );
        assert_eq!(
            out,
            "{\"arn\":\"arn:aws:scheduler:us-east-1:000000000000:schedule/default/s\",\"t\":\"2026-01-01T00:00:00Z\",\"id\":\"id-1\",\"n\":2}"
        );
    }
}
