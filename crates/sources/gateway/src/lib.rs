//! HTTP triggers: API Gateway v2 HTTP APIs (control API and serving) and
//! Lambda function URLs. (Being built.)

use axum::Router;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

/// Routes with paths of their own (the apigatewayv2 control API under
/// `/v2/`, function URL configuration under `/2021-10-31/`, API serving
/// under `/_api/{apiId}/...`), merged into the main router by path.
pub fn router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}

/// Requests whose Host names an API or a function URL
/// (`{id}.execute-api.localhost`, `{id}.lambda-url.{region}.localhost`);
/// the front door sends them here whatever their path.
pub fn host_router(_scheduler: Arc<Scheduler>) -> Router {
    Router::new()
}
