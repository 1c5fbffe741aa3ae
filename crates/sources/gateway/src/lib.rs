//! HTTP triggers: API Gateway v2 HTTP APIs (control API and serving) and
//! Lambda function URLs. (Being built.)

use axum::Router;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

/// This service's routes, state applied. The front door sends it the
/// requests that are for it (see `lamina-server`'s `front_door`).
pub fn router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}
