//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lamina_api::lambda::{CreateAliasRequest, ListAliasesResponse, UpdateAliasRequest};
use lamina_api::AwsError;
use lamina_core::function::validate_weights;
use lamina_core::names::validate_alias_name;
use lamina_core::{Alias, FunctionRef, Invalid, LATEST};
use lamina_store::StoreError;
use std::sync::Arc;

use crate::error::{store_failure, ApiResult, AwsJson};
use crate::functions::not_found;
use crate::App;

fn function_name(raw: &str) -> ApiResult<String> {
    Ok(FunctionRef::parse(raw)?.name)
}

/// A version an alias may point at must exist.
fn check_version(app: &App, name: &str, version: &str) -> ApiResult<()> {
    if version != LATEST && !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid(format!("Invalid function version {version}")).into());
    }
    match app.store.get_version(name, version) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(not_found(app, name, Some(version))),
        Err(e) => Err(store_failure(e)),
    }
}

fn alias_not_found(app: &App, name: &str, alias: &str) -> AwsError {
    AwsError::not_found(format!("Alias not found: {}", app.config.partition().qualified_arn(name, alias)))
}

pub async fn create(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    AwsJson(req): AwsJson<CreateAliasRequest>,
) -> ApiResult<Response> {
    let name = function_name(&name)?;
    let alias_name = req.name.ok_or_else(|| Invalid("Name is required".into()))?;
    validate_alias_name(&alias_name)?;
    let version = req.function_version.ok_or_else(|| Invalid("FunctionVersion is required".into()))?;
    let weights = req.routing_config.map(|r| r.additional_version_weights).unwrap_or_default();
    let _w = app.writes.lock().await;
    check_version(&app, &name, &version)?;
    validate_weights(&weights, &version)?;
    for v in weights.keys() {
        check_version(&app, &name, v)?;
    }
    let alias = Alias {
        function: name.clone(),
        name: alias_name.clone(),
        version,
        description: req.description.unwrap_or_default(),
        weights,
        revision_id: lamina_scheduler::new_request_id(),
    };
    match app.store.put_alias(&alias, true) {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(AwsError::conflict(format!(
                "Alias already exists: {}",
                app.config.partition().qualified_arn(&name, &alias_name)
            ))
            .into())
        }
        Err(StoreError::NotFound) => return Err(not_found(&app, &name, None)),
        Err(e) => return Err(store_failure(e)),
    }
    app.scheduler.forget(&name);
    Ok((StatusCode::CREATED, Json(alias.configuration(&app.config.partition()))).into_response())
}

pub async fn get(State(app): State<Arc<App>>, Path((name, alias)): Path<(String, String)>) -> ApiResult<Response> {
    let name = function_name(&name)?;
    match app.store.get_alias(&name, &alias) {
        Ok(a) => Ok(Json(a.configuration(&app.config.partition())).into_response()),
        Err(StoreError::NotFound) => Err(alias_not_found(&app, &name, &alias).into()),
        Err(e) => Err(store_failure(e)),
    }
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path((name, alias_name)): Path<(String, String)>,
    AwsJson(req): AwsJson<UpdateAliasRequest>,
) -> ApiResult<Response> {
    let name = function_name(&name)?;
    let _w = app.writes.lock().await;
    let mut alias = match app.store.get_alias(&name, &alias_name) {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(alias_not_found(&app, &name, &alias_name).into()),
        Err(e) => return Err(store_failure(e)),
    };
    if req.revision_id.as_deref().is_some_and(|r| r != alias.revision_id) {
        return Err(AwsError::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .into());
    }
    if let Some(v) = req.function_version {
        check_version(&app, &name, &v)?;
        alias.version = v;
    }
    if let Some(d) = req.description {
        alias.description = d;
    }
    if let Some(r) = req.routing_config {
        alias.weights = r.additional_version_weights;
    }
    validate_weights(&alias.weights, &alias.version)?;
    for v in alias.weights.keys() {
        check_version(&app, &name, v)?;
    }
    alias.revision_id = lamina_scheduler::new_request_id();
    app.store.put_alias(&alias, false).map_err(store_failure)?;
    app.scheduler.forget(&name);
    Ok(Json(alias.configuration(&app.config.partition())).into_response())
}

pub async fn delete(State(app): State<Arc<App>>, Path((name, alias)): Path<(String, String)>) -> ApiResult<StatusCode> {
    let name = function_name(&name)?;
    let _w = app.writes.lock().await;
    app.store.delete_alias(&name, &alias).map_err(store_failure)?;
    app.scheduler.forget(&name);
    crate::functions::remove_urls(&app, &name, Some(&alias));
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<std::collections::BTreeMap<String, String>>,
) -> ApiResult<Json<ListAliasesResponse>> {
    let name = function_name(&name)?;
    let aliases = match app.store.list_aliases(&name) {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(not_found(&app, &name, None)),
        Err(e) => return Err(store_failure(e)),
    };
    let partition = app.config.partition();
    let only = q.get("FunctionVersion");
    let aliases =
        aliases.iter().filter(|a| only.is_none_or(|v| &a.version == v)).map(|a| a.configuration(&partition)).collect();
    Ok(Json(ListAliasesResponse { aliases, next_marker: None }))
}
