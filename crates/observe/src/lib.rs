//! Observability services: the CloudWatch Logs API over the function logs
//! Lamina keeps. (Being built.)

use axum::Router;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

/// This service's routes, state applied. The front door sends it the
/// requests that are for it (see `lamina-server`'s `front_door`).
pub fn router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}
