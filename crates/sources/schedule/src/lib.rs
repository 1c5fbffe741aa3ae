//! Schedules compatible with EventBridge Scheduler. (Being built.)

use axum::Router;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

/// The EventBridge Scheduler API (`/schedules...`, `/schedule-groups...`),
/// merged into the main router by path; starts the ticker.
pub fn router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}
