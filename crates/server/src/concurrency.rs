//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and provisioned
//! concurrency (Put/Get/Delete/ListProvisionedConcurrencyConfig(s)).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lamina_api::lambda::{
    Concurrency, ListProvisionedConcurrencyConfigsResponse, ProvisionedConcurrencyConfig,
    PutProvisionedConcurrencyConfigRequest,
};
use lamina_api::AwsError;
use lamina_core::{FunctionRef, Invalid};
use lamina_scheduler::provisioned::{self, ProvisionedConfig, ProvisionedStatus};
use lamina_scheduler::RESERVED_SETTING;
use lamina_store::StoreError;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{store_failure, ApiError, ApiResult, AwsJson};
use crate::functions::{load, not_found};
use crate::App;

fn function(app: &App, raw: &str) -> ApiResult<String> {
    let name = FunctionRef::parse(raw)?.name;
    load(app, &name, None)?;
    Ok(name)
}

pub async fn put_reserved(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    AwsJson(req): AwsJson<Concurrency>,
) -> ApiResult<Json<Concurrency>> {
    let name = function(&app, &raw)?;
    let n =
        req.reserved_concurrent_executions.ok_or_else(|| Invalid("ReservedConcurrentExecutions is required".into()))?;
    let limit = app.config.account_concurrency;
    if n < 0 || n > i64::from(limit) {
        return Err(Invalid(format!(
            "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value between 0 and {limit}"
        ))
        .into());
    }
    let _w = app.writes.lock().await;
    app.scheduler.concurrency.set_reserved(&name, Some(n as u32)).map_err(Invalid)?;
    if let Err(e) = app.store.put_setting(&name, RESERVED_SETTING, &n.to_string()) {
        let _ = app.scheduler.concurrency.set_reserved(&name, None);
        return Err(store_failure(e));
    }
    tracing::info!(function = %name, reserved = n, "reserved concurrency set");
    Ok(Json(Concurrency { reserved_concurrent_executions: Some(n) }))
}

pub async fn get_reserved(State(app): State<Arc<App>>, Path(raw): Path<String>) -> ApiResult<Json<Concurrency>> {
    let name = function(&app, &raw)?;
    Ok(Json(Concurrency { reserved_concurrent_executions: app.scheduler.concurrency.reserved(&name).map(i64::from) }))
}

pub async fn delete_reserved(State(app): State<Arc<App>>, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let name = function(&app, &raw)?;
    let _w = app.writes.lock().await;
    app.store.delete_setting(&name, RESERVED_SETTING).map_err(store_failure)?;
    let _ = app.scheduler.concurrency.set_reserved(&name, None);
    Ok(StatusCode::NO_CONTENT)
}

fn provisioned_qualifier(app: &App, raw: &str, q: &BTreeMap<String, String>) -> ApiResult<(String, String)> {
    let r = crate::functions::target(raw, q.get("Qualifier").map(String::as_str))?;
    let qualifier = r.qualifier.ok_or_else(|| Invalid("Qualifier is required".into()))?;
    provisioned::check_qualifier(&qualifier).map_err(Invalid)?;
    load(app, &r.name, Some(&qualifier))?;
    Ok((r.name, qualifier))
}

fn wire(status: ProvisionedStatus, function_arn: Option<String>) -> ProvisionedConcurrencyConfig {
    ProvisionedConcurrencyConfig {
        function_arn,
        requested_provisioned_concurrent_executions: status.requested,
        available_provisioned_concurrent_executions: status.allocated,
        allocated_provisioned_concurrent_executions: status.allocated,
        status: status.status,
        status_reason: status.reason,
        last_modified: lamina_core::lambda_timestamp(status.last_modified_ms),
    }
}

pub async fn put_provisioned(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    AwsJson(req): AwsJson<PutProvisionedConcurrencyConfigRequest>,
) -> ApiResult<Response> {
    let (name, qualifier) = provisioned_qualifier(&app, &raw, &q)?;
    let n = req
        .provisioned_concurrent_executions
        .ok_or_else(|| Invalid("ProvisionedConcurrentExecutions is required".into()))?;
    if n < 1 {
        return Err(Invalid(format!(
            "1 validation error detected: Value '{n}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))
        .into());
    }
    let cap = app.scheduler.concurrency.reserved(&name).unwrap_or_else(|| app.scheduler.concurrency.unreserved());
    if n > i64::from(cap) {
        return Err(Invalid(format!(
            "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function or the account's unreserved concurrency ({cap})"
        ))
        .into());
    }
    let config = ProvisionedConfig { requested: n as u32, last_modified_ms: lamina_core::now_ms() };
    {
        let _w = app.writes.lock().await;
        let value = serde_json::to_string(&config).map_err(|e| AwsError::service(e.to_string()))?;
        app.store
            .put_setting(&name, &format!("{}{qualifier}", provisioned::SETTING_PREFIX), &value)
            .map_err(store_failure)?;
    }
    app.scheduler.provision(&name, &qualifier, config.clone());
    let status = app.scheduler.provisioned_status(&name, &qualifier).unwrap_or(ProvisionedStatus {
        requested: config.requested,
        allocated: 0,
        status: "IN_PROGRESS",
        reason: None,
        last_modified_ms: config.last_modified_ms,
    });
    Ok((StatusCode::ACCEPTED, Json(wire(status, None))).into_response())
}

fn provisioned_not_found() -> ApiError {
    ApiError(AwsError::new(
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    ))
}

/// GET serves both GetProvisionedConcurrencyConfig and, with `List=ALL`,
/// ListProvisionedConcurrencyConfigs.
pub async fn get_provisioned(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    if q.get("List").map(String::as_str) == Some("ALL") {
        let name = function(&app, &raw)?;
        let partition = app.config.partition();
        let mut configs = Vec::new();
        for (function, key, _) in app.store.settings_with_prefix(provisioned::SETTING_PREFIX).map_err(store_failure)? {
            if function != name {
                continue;
            }
            let qualifier = key.trim_start_matches(provisioned::SETTING_PREFIX);
            if let Some(status) = app.scheduler.provisioned_status(&name, qualifier) {
                configs.push(wire(status, Some(partition.qualified_arn(&name, qualifier))));
            }
        }
        return Ok(Json(ListProvisionedConcurrencyConfigsResponse { provisioned_concurrency_configs: configs })
            .into_response());
    }
    let (name, qualifier) = provisioned_qualifier(&app, &raw, &q)?;
    let status = app.scheduler.provisioned_status(&name, &qualifier).ok_or_else(provisioned_not_found)?;
    Ok(Json(wire(status, None)).into_response())
}

pub async fn delete_provisioned(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<StatusCode> {
    let (name, qualifier) = provisioned_qualifier(&app, &raw, &q)?;
    let _w = app.writes.lock().await;
    match app.store.delete_setting(&name, &format!("{}{qualifier}", provisioned::SETTING_PREFIX)) {
        Ok(true) => {}
        Ok(false) => return Err(provisioned_not_found()),
        Err(StoreError::NotFound) => return Err(not_found(&app, &name, None)),
        Err(e) => return Err(store_failure(e)),
    }
    app.scheduler.unprovision(&name, &qualifier);
    Ok(StatusCode::NO_CONTENT)
}
