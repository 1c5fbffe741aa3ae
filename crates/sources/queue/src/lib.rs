//! Queues compatible with SQS (json and query protocols), durable in their
//! own SQLite file. (Being built.)

use axum::Router;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

/// This service's routes, state applied. The front door sends it the
/// requests that are for it (see `lamina-server`'s `front_door`).
pub fn router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}

/// Lambda's event source mapping operations (`/2015-03-31/event-source-mappings/...`),
/// merged into the main router by path.
pub fn event_source_mappings_router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}
