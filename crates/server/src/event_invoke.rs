//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): retries, event
//! age and destinations for asynchronous invocation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use lamina_api::lambda::{
    Destination, DestinationConfig, FunctionEventInvokeConfig, ListFunctionEventInvokeConfigsResponse,
    PutFunctionEventInvokeConfigRequest,
};
use lamina_api::AwsError;
use lamina_core::{Invalid, LATEST};
use lamina_scheduler::event_config::{self, EventInvokeConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{store_failure, ApiResult, AwsJson};
use crate::functions::{load, target};
use crate::App;

fn wire(app: &App, name: &str, qualifier: &str, c: &EventInvokeConfig) -> FunctionEventInvokeConfig {
    let dest = |d: &Option<String>| d.clone().map(|arn| Destination { destination: Some(arn) });
    FunctionEventInvokeConfig {
        last_modified: c.last_modified_ms as f64 / 1000.0,
        function_arn: app.config.partition().qualified_arn(name, qualifier),
        maximum_retry_attempts: c.maximum_retry_attempts,
        maximum_event_age_in_seconds: c.maximum_event_age_secs,
        destination_config: DestinationConfig { on_success: dest(&c.on_success), on_failure: dest(&c.on_failure) },
    }
}

fn locate(app: &App, raw: &str, q: &BTreeMap<String, String>) -> ApiResult<(String, String)> {
    let r = target(raw, q.get("Qualifier").map(String::as_str))?;
    load(app, &r.name, r.qualifier.as_deref())?;
    Ok((r.name, r.qualifier.unwrap_or_else(|| LATEST.to_string())))
}

fn stored(app: &App, name: &str, qualifier: &str) -> ApiResult<Option<EventInvokeConfig>> {
    let value = app.store.get_setting(name, &event_config::setting_key(qualifier)).map_err(store_failure)?;
    Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
}

fn missing(app: &App, name: &str, qualifier: &str) -> crate::error::ApiError {
    AwsError::not_found(format!(
        "The function {} doesn't have an EventInvokeConfig",
        app.config.partition().qualified_arn(name, qualifier)
    ))
    .into()
}

/// Applies a request to a configuration (all members for Put, only the given ones for Update).
fn apply(c: &mut EventInvokeConfig, req: PutFunctionEventInvokeConfigRequest, replace: bool) -> ApiResult<()> {
    if replace {
        *c = EventInvokeConfig::default();
    }
    if let Some(n) = req.maximum_retry_attempts {
        if !(0..=2).contains(&n) {
            return Err(Invalid(format!("1 validation error detected: Value '{n}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2")).into());
        }
        c.maximum_retry_attempts = Some(n as u32);
    }
    if let Some(n) = req.maximum_event_age_in_seconds {
        if !(60..=21_600).contains(&n) {
            return Err(Invalid(format!("1 validation error detected: Value '{n}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600")).into());
        }
        c.maximum_event_age_secs = Some(n as u32);
    }
    if let Some(d) = req.destination_config {
        for (slot, dest) in [(&mut c.on_success, d.on_success), (&mut c.on_failure, d.on_failure)] {
            if let Some(arn) = dest.and_then(|d| d.destination) {
                event_config::check_destination(&arn).map_err(Invalid)?;
                *slot = Some(arn);
            }
        }
    }
    c.last_modified_ms = lamina_core::now_ms();
    Ok(())
}

async fn save(
    app: &Arc<App>,
    raw: &str,
    q: &BTreeMap<String, String>,
    req: PutFunctionEventInvokeConfigRequest,
    replace: bool,
) -> ApiResult<Json<FunctionEventInvokeConfig>> {
    let (name, qualifier) = locate(app, raw, q)?;
    let _w = app.writes.lock().await;
    let mut config = match stored(app, &name, &qualifier)? {
        Some(c) => c,
        None if replace => EventInvokeConfig::default(),
        None => return Err(missing(app, &name, &qualifier)),
    };
    apply(&mut config, req, replace)?;
    let value = serde_json::to_string(&config).map_err(|e| AwsError::service(e.to_string()))?;
    app.store.put_setting(&name, &event_config::setting_key(&qualifier), &value).map_err(store_failure)?;
    Ok(Json(wire(app, &name, &qualifier, &config)))
}

pub async fn put(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    AwsJson(req): AwsJson<PutFunctionEventInvokeConfigRequest>,
) -> ApiResult<Json<FunctionEventInvokeConfig>> {
    save(&app, &raw, &q, req, true).await
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    AwsJson(req): AwsJson<PutFunctionEventInvokeConfigRequest>,
) -> ApiResult<Json<FunctionEventInvokeConfig>> {
    save(&app, &raw, &q, req, false).await
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<FunctionEventInvokeConfig>> {
    let (name, qualifier) = locate(&app, &raw, &q)?;
    let config = stored(&app, &name, &qualifier)?.ok_or_else(|| missing(&app, &name, &qualifier))?;
    Ok(Json(wire(&app, &name, &qualifier, &config)))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<StatusCode> {
    let (name, qualifier) = locate(&app, &raw, &q)?;
    let _w = app.writes.lock().await;
    if !app.store.delete_setting(&name, &event_config::setting_key(&qualifier)).map_err(store_failure)? {
        return Err(missing(&app, &name, &qualifier));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<ListFunctionEventInvokeConfigsResponse>> {
    let (name, _) = locate(&app, &raw, &BTreeMap::new())?;
    let mut configs = Vec::new();
    for (function, key, value) in app.store.settings_with_prefix(event_config::SETTING_PREFIX).map_err(store_failure)? {
        if function != name {
            continue;
        }
        if let Ok(c) = serde_json::from_str::<EventInvokeConfig>(&value) {
            configs.push(wire(&app, &name, key.trim_start_matches(event_config::SETTING_PREFIX), &c));
        }
    }
    Ok(Json(ListFunctionEventInvokeConfigsResponse { function_event_invoke_configs: configs }))
}
