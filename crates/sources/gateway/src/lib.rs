//! HTTP triggers: API Gateway v2 HTTP APIs and Lambda function URLs.
//!
//! - Control: the apigatewayv2 API under `/v2/apis` ([`apigw`]: APIs,
//!   routes, AWS_PROXY integrations, stages) and Lambda's function URL
//!   operations under `/2021-10-31/functions/{name}/url[s]` ([`urls`]).
//!   Everything is kept in `<data_dir>/gateway.sqlite` ([`store`]) and in
//!   memory ([`gateway::Gateway`]).
//! - Serving ([`serve`]): an API at `/_api/{apiId}/{stage-or-path...}` or on
//!   the host `{apiId}.execute-api.localhost[:port]`; a function URL at
//!   `/_url/{urlId}/...` or on `{urlId}.lambda-url.{region}.localhost[:port]`.
//!   Routes are matched by a per-API trie ([`table`]) with API Gateway's
//!   precedence; events and responses follow payload formats 2.0 and 1.0
//!   ([`event`]); CORS is answered by the gateway when configured ([`cors`]).
//!   A URL in `RESPONSE_STREAM` mode streams the function's response to the
//!   client as it is written ([`stream`]).
//!
//! [`router`] and [`host_router`] are what the server mounts; both share one
//! [`gateway::Gateway`], opened once per scheduler.

mod apigw;
pub mod cors;
pub mod error;
pub mod event;
pub mod gateway;
pub mod model;
mod serve;
pub mod store;
pub mod stream;
pub mod table;
mod urls;

use axum::routing::{any, get, post};
use axum::Router;
use gateway::Gateway;
use lamina_scheduler::Scheduler;
use parking_lot::Mutex;
use std::sync::{Arc, Weak};

/// The one gateway of this process: `router` and `host_router` are built
/// separately by the server but must share state.
static SHARED: Mutex<Option<(Weak<Scheduler>, Weak<Gateway>)>> = Mutex::new(None);

fn shared(scheduler: Arc<Scheduler>) -> Arc<Gateway> {
    let mut slot = SHARED.lock();
    if let Some((s, g)) = slot.as_ref() {
        if let (Some(s), Some(g)) = (s.upgrade(), g.upgrade()) {
            if Arc::ptr_eq(&s, &scheduler) {
                return g;
            }
        }
    }
    let gw = match Gateway::open(scheduler.clone()) {
        Ok(gw) => gw,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the gateway store; APIs and function URLs will not persist");
            let store = store::Store::in_memory();
            match store.map_err(gateway::LoadError::from).and_then(|s| Gateway::with_store(scheduler.clone(), s)) {
                Ok(gw) => gw,
                Err(e) => {
                    // An in-memory SQLite database failing to open means the
                    // process cannot allocate; nothing sensible remains.
                    panic!("cannot create an in-memory gateway store: {e}");
                }
            }
        }
    };
    let gw = Arc::new(gw);
    *slot = Some((Arc::downgrade(&scheduler), Arc::downgrade(&gw)));
    gw
}

/// Routes with paths of their own (the apigatewayv2 control API under
/// `/v2/`, function URL configuration under `/2021-10-31/`, API serving
/// under `/_api/{apiId}/...`, function URLs under `/_url/{urlId}/...`),
/// merged into the main router by path.
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    let gw = shared(scheduler);
    Router::new()
        .route("/v2/apis", post(apigw::create_api).get(apigw::get_apis))
        .route("/v2/apis/{api_id}", get(apigw::get_api).patch(apigw::update_api).delete(apigw::delete_api))
        .route("/v2/apis/{api_id}/routes", post(apigw::create_route).get(apigw::get_routes))
        .route(
            "/v2/apis/{api_id}/routes/{id}",
            get(apigw::get_route).patch(apigw::update_route).delete(apigw::delete_route),
        )
        .route("/v2/apis/{api_id}/integrations", post(apigw::create_integration).get(apigw::get_integrations))
        .route(
            "/v2/apis/{api_id}/integrations/{id}",
            get(apigw::get_integration).patch(apigw::update_integration).delete(apigw::delete_integration),
        )
        .route("/v2/apis/{api_id}/stages", post(apigw::create_stage).get(apigw::get_stages))
        .route(
            "/v2/apis/{api_id}/stages/{id}",
            get(apigw::get_stage).patch(apigw::update_stage).delete(apigw::delete_stage),
        )
        .route(
            "/2021-10-31/functions/{name}/url",
            post(urls::create).get(urls::get).put(urls::update).delete(urls::delete),
        )
        .route("/2021-10-31/functions/{name}/urls", get(urls::list))
        .route("/_api/{api_id}", any(serve::api_by_path))
        .route("/_api/{api_id}/", any(serve::api_by_path))
        .route("/_api/{api_id}/{*rest}", any(serve::api_by_path))
        .route("/_url/{url_id}", any(serve::url_by_path))
        .route("/_url/{url_id}/", any(serve::url_by_path))
        .route("/_url/{url_id}/{*rest}", any(serve::url_by_path))
        .with_state(gw)
}

/// Removes the function URLs of a deleted function: all of them, or only
/// the one of `qualifier` (an alias) when only that was deleted.
pub fn delete_function_urls(
    scheduler: Arc<Scheduler>,
    function: &str,
    qualifier: Option<&str>,
) -> Result<usize, store::StoreError> {
    urls::remove_for_function(&shared(scheduler), function, qualifier)
}

/// Requests whose Host names an API or a function URL
/// (`{id}.execute-api.localhost`, `{id}.lambda-url.{region}.localhost`);
/// the front door sends them here whatever their path.
pub fn host_router(scheduler: Arc<Scheduler>) -> Router {
    Router::new().fallback(serve::by_host).with_state(shared(scheduler))
}
