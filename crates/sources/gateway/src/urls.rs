//! Lambda's function URL operations (`/2021-10-31/functions/{name}/url`
//! and `/urls`): one URL per function or alias, served at
//! `http://{urlId}.lambda-url.{region}.localhost:{port}/` and, for clients
//! that cannot set Host, at `/_url/{urlId}/`.
//!
//! AuthType `AWS_IAM` is accepted and stored, but Lamina has no IAM yet, so
//! such URLs are served as if they were `NONE`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lamina_api::AwsError;
use serde::Deserialize;
use std::sync::Arc;

use crate::error::{decode, LambdaError};
use crate::gateway::Gateway;
use crate::model::{new_id, UrlConfig, UrlCors, UrlTarget};
use crate::store::Kind;

type Result<T> = std::result::Result<T, LambdaError>;

#[derive(Deserialize, Default)]
pub struct UrlQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UrlInput {
    auth_type: Option<String>,
    cors: Option<UrlCors>,
    invoke_mode: Option<String>,
}

fn validation(field: &str, value: &str, allowed: &str) -> AwsError {
    AwsError::new(
        400,
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"),
    )
}

fn check_input(input: &UrlInput) -> std::result::Result<(), AwsError> {
    if let Some(a) = input.auth_type.as_deref() {
        if a != "NONE" && a != "AWS_IAM" {
            return Err(validation("authType", a, "AWS_IAM, NONE"));
        }
    }
    if let Some(m) = input.invoke_mode.as_deref() {
        if m != "BUFFERED" && m != "RESPONSE_STREAM" {
            return Err(validation("invokeMode", m, "BUFFERED, RESPONSE_STREAM"));
        }
    }
    if let Some(c) = &input.cors {
        if c.allow_methods.as_ref().is_some_and(|m| m.len() > 6) {
            return Err(AwsError::new(400, "ValidationException", "1 validation error detected: Value at 'cors.allowMethods' failed to satisfy constraint: Member must have length less than or equal to 6"));
        }
        if let Some(age) = c.max_age {
            if !(0..=86_400).contains(&age) {
                return Err(AwsError::new(400, "ValidationException", format!("1 validation error detected: Value '{age}' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400")));
            }
        }
    }
    Ok(())
}

/// The function and qualifier a request names; the function must exist.
fn target(gw: &Gateway, name: &str, query_qualifier: Option<&str>) -> Result<(String, Option<String>, String)> {
    let f = lamina_core::FunctionRef::parse(name).map_err(|e| AwsError::invalid_parameter(e.0))?;
    let qualifier = match (f.qualifier.as_deref(), query_qualifier) {
        (Some(a), Some(b)) if a != b => {
            return Err(AwsError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
            .into())
        }
        (a, b) => a.or(b).map(str::to_string),
    };
    if let Some(q) = &qualifier {
        let ok = q == lamina_core::LATEST
            || (!q.bytes().all(|b| b.is_ascii_digit())
                && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !ok || q.len() > 128 {
            return Err(AwsError::invalid_parameter(format!(
                "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
            ))
            .into());
        }
    }
    gw.scheduler.resolve(&f.name, qualifier.as_deref())?;
    let partition = gw.scheduler.config().partition();
    let arn = match &qualifier {
        Some(q) => partition.qualified_arn(&f.name, q),
        None => partition.function_arn(&f.name),
    };
    Ok((f.name, qualifier, arn))
}

fn no_config() -> LambdaError {
    AwsError::not_found("The resource you requested does not exist.").into()
}

fn find<'a>(
    urls: &'a std::collections::BTreeMap<String, UrlConfig>,
    name: &str,
    q: &Option<String>,
) -> Option<&'a UrlConfig> {
    urls.values().find(|u| u.target.function == name && &u.target.qualifier == q)
}

pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(q): Query<UrlQuery>,
    raw: Bytes,
) -> Result<Response> {
    let input: UrlInput = decode(&raw).map_err(AwsError::invalid_request_content)?;
    let (function, qualifier, arn) = target(&gw, &name, q.qualifier.as_deref())?;
    let auth_type = input.auth_type.clone().ok_or_else(|| {
        AwsError::new(400, "ValidationException", "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null")
    })?;
    check_input(&input)?;
    let region = gw.scheduler.config().region.clone();
    let url_id = new_id(32);
    let now = lamina_core::lambda_timestamp(lamina_core::now_ms());
    let cfg = UrlConfig {
        function_url: format!("http://{url_id}.lambda-url.{region}.localhost{}/", gw.port_suffix),
        function_arn: arn.clone(),
        auth_type,
        cors: input.cors,
        creation_time: now.clone(),
        last_modified_time: now,
        invoke_mode: input.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
        target: UrlTarget { url_id: url_id.clone(), function, qualifier },
    };
    gw.change_url(&url_id, |ctl| -> Result<()> {
        if find(&ctl.urls, &cfg.target.function, &cfg.target.qualifier).is_some() {
            return Err(AwsError::conflict(format!(
                "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
            ))
            .into());
        }
        ctl.store.put(Kind::Url, "", &url_id, &cfg)?;
        ctl.urls.insert(url_id.clone(), cfg.clone());
        Ok(())
    })?;
    let mut out = cfg.wire();
    if let Some(o) = out.as_object_mut() {
        o.remove("LastModifiedTime");
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(q): Query<UrlQuery>,
) -> Result<Response> {
    let (function, qualifier, _) = target(&gw, &name, q.qualifier.as_deref())?;
    let cfg = gw.control(|ctl| find(&ctl.urls, &function, &qualifier).cloned()).ok_or_else(no_config)?;
    Ok(Json(cfg.wire()).into_response())
}

pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(q): Query<UrlQuery>,
    raw: Bytes,
) -> Result<Response> {
    let input: UrlInput = decode(&raw).map_err(AwsError::invalid_request_content)?;
    check_input(&input)?;
    let (function, qualifier, _) = target(&gw, &name, q.qualifier.as_deref())?;
    let url_id = gw
        .control(|ctl| find(&ctl.urls, &function, &qualifier).map(|u| u.target.url_id.clone()))
        .ok_or_else(no_config)?;
    let cfg = gw.change_url(&url_id, |ctl| -> Result<UrlConfig> {
        let mut cfg = ctl.urls.get(&url_id).cloned().ok_or_else(no_config)?;
        if let Some(a) = input.auth_type {
            cfg.auth_type = a;
        }
        if let Some(c) = input.cors {
            cfg.cors = Some(c);
        }
        if let Some(m) = input.invoke_mode {
            cfg.invoke_mode = m;
        }
        cfg.last_modified_time = lamina_core::lambda_timestamp(lamina_core::now_ms());
        ctl.store.put(Kind::Url, "", &url_id, &cfg)?;
        ctl.urls.insert(url_id.clone(), cfg.clone());
        Ok(cfg)
    })?;
    Ok(Json(cfg.wire()).into_response())
}

pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(q): Query<UrlQuery>,
) -> Result<Response> {
    let (function, qualifier, _) = target(&gw, &name, q.qualifier.as_deref())?;
    let url_id = gw
        .control(|ctl| find(&ctl.urls, &function, &qualifier).map(|u| u.target.url_id.clone()))
        .ok_or_else(no_config)?;
    gw.change_url(&url_id, |ctl| -> Result<()> {
        ctl.store.delete(Kind::Url, "", &url_id)?;
        ctl.urls.remove(&url_id);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes the URL configs of `function` (only `qualifier`'s when given).
pub(crate) fn remove_for_function(
    gw: &Gateway,
    function: &str,
    qualifier: Option<&str>,
) -> std::result::Result<usize, crate::store::StoreError> {
    let ids: Vec<String> = gw.control(|ctl| {
        ctl.urls
            .values()
            .filter(|u| {
                u.target.function == function && (qualifier.is_none() || u.target.qualifier.as_deref() == qualifier)
            })
            .map(|u| u.target.url_id.clone())
            .collect()
    });
    for id in &ids {
        gw.change_url(id, |ctl| {
            ctl.store.delete(Kind::Url, "", id)?;
            ctl.urls.remove(id);
            Ok::<_, crate::store::StoreError>(())
        })?;
    }
    Ok(ids.len())
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(q): Query<UrlQuery>,
) -> Result<Response> {
    let f = lamina_core::FunctionRef::parse(&name).map_err(|e| AwsError::invalid_parameter(e.0))?;
    gw.scheduler.resolve(&f.name, None)?;
    let mut items: Vec<UrlConfig> =
        gw.control(|ctl| ctl.urls.values().filter(|u| u.target.function == f.name).cloned().collect());
    items.sort_by(|a, b| a.creation_time.cmp(&b.creation_time).then(a.target.url_id.cmp(&b.target.url_id)));
    let start: usize = q.marker.as_deref().and_then(|m| m.parse().ok()).unwrap_or(0);
    let max: usize = q.max_items.as_deref().and_then(|m| m.parse().ok()).filter(|n| *n > 0).unwrap_or(50);
    let total = items.len();
    let page: Vec<serde_json::Value> = items.iter().skip(start).take(max).map(UrlConfig::wire).collect();
    let mut out = serde_json::json!({ "FunctionUrlConfigs": page });
    if start + max < total {
        out["NextMarker"] = (start + max).to_string().into();
    }
    Ok(Json(out).into_response())
}
