//! CreateFunction, GetFunction(Configuration), ListFunctions,
//! UpdateFunctionCode/Configuration, DeleteFunction, PublishVersion and
//! ListVersionsByFunction.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use lamina_api::lambda::{
    CreateFunctionRequest, FunctionCodeLocation, GetFunctionResponse, ListFunctionsResponse,
    ListVersionsByFunctionResponse, PublishVersionRequest, UpdateFunctionCodeRequest,
    UpdateFunctionConfigurationRequest,
};
use lamina_api::AwsError;
use lamina_core::function::{self as f, State as FnState, UpdateStatus};
use lamina_core::runtime::RuntimeKind;
use lamina_core::{FunctionRef, FunctionVersion, Invalid, LATEST};
use lamina_store::StoreError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{store_failure, ApiError, ApiResult, AwsJson};
use crate::App;

#[derive(Debug, Default, Deserialize)]
pub struct QualifierQuery {
    #[serde(rename = "Qualifier")]
    pub qualifier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
    #[serde(rename = "FunctionVersion")]
    function_version: Option<String>,
}

/// The function name and qualifier of a request: from the path (any name
/// form) and the `Qualifier` query parameter, which must agree.
pub fn target(raw: &str, query_qualifier: Option<&str>) -> ApiResult<FunctionRef> {
    let mut r = FunctionRef::parse(raw)?;
    match (r.qualifier.as_deref(), query_qualifier) {
        (Some(a), Some(b)) if a != b => {
            return Err(AwsError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
            .into())
        }
        (None, Some(q)) => {
            lamina_core::names::validate_qualifier(q)?;
            r.qualifier = Some(q.to_string());
        }
        _ => {}
    }
    Ok(r)
}

pub fn not_found(app: &App, name: &str, qualifier: Option<&str>) -> ApiError {
    let p = app.config.partition();
    let arn = match qualifier {
        Some(q) => p.qualified_arn(name, q),
        None => p.function_arn(name),
    };
    AwsError::not_found(format!("Function not found: {arn}")).into()
}

/// Reads one version; an alias qualifier reads the version it points at.
pub fn load(app: &App, name: &str, qualifier: Option<&str>) -> ApiResult<FunctionVersion> {
    let version = match qualifier {
        None => LATEST.to_string(),
        Some(q) if q == LATEST || q.bytes().all(|b| b.is_ascii_digit()) => q.to_string(),
        Some(alias) => match app.store.get_alias(name, alias) {
            Ok(a) => a.version,
            Err(StoreError::NotFound) => return Err(not_found(app, name, qualifier)),
            Err(e) => return Err(store_failure(e)),
        },
    };
    match app.store.get_version(name, &version) {
        Ok(v) => Ok(v),
        Err(StoreError::NotFound) => Err(not_found(app, name, qualifier)),
        Err(e) => Err(store_failure(e)),
    }
}

fn decode_zip(b64: &str) -> ApiResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| {
        AwsError::invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
            .into()
    })
}

/// Stores a zip (off the async runtime: hashing and unpacking take time).
async fn store_code(app: &Arc<App>, zip: Vec<u8>) -> ApiResult<(String, u64)> {
    let size = zip.len() as u64;
    let blobs = app.blobs.clone();
    let sha = tokio::task::spawn_blocking(move || blobs.put_zip(&zip))
        .await
        .map_err(|_| ApiError(AwsError::service("code upload interrupted")))??;
    Ok((sha, size))
}

fn require_zip_code(zip: Option<&str>, s3: bool, image: bool) -> ApiResult<&str> {
    if image {
        return Err(
            AwsError::invalid_parameter("Lamina runs Zip packages; container images are not supported yet.").into()
        );
    }
    if s3 {
        return Err(AwsError::invalid_parameter("Lamina does not fetch code from S3 yet; pass Code.ZipFile.").into());
    }
    zip.ok_or_else(|| AwsError::invalid_parameter("Please provide a source for function code.").into())
}

fn new_revision() -> String {
    lamina_scheduler::new_request_id()
}

pub async fn create(State(app): State<Arc<App>>, AwsJson(req): AwsJson<CreateFunctionRequest>) -> ApiResult<Response> {
    let name = req.function_name.as_deref().ok_or_else(|| Invalid("FunctionName is required".into()))?;
    let fref = FunctionRef::parse(name)?;
    if fref.qualifier.is_some() {
        return Err(AwsError::invalid_parameter(format!(
            "Invalid function name: {name}; a qualifier is not allowed here"
        ))
        .into());
    }
    if req.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(
            AwsError::invalid_parameter("Lamina runs Zip packages; container images are not supported yet.").into()
        );
    }
    let role = req.role.clone().ok_or_else(|| Invalid("Role is required".into()))?;
    let runtime = req.runtime.clone().ok_or_else(|| {
        Invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.".into())
    })?;
    let kind = RuntimeKind::parse(&runtime)?;
    let handler = req.handler.clone().unwrap_or_default();
    if kind.needs_handler() && handler.is_empty() {
        return Err(Invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
        )
        .into());
    }
    let memory_mib = f::validate_memory(req.memory_size.unwrap_or(i64::from(f::DEFAULT_MEMORY_MIB)))?;
    let timeout_secs = f::validate_timeout(req.timeout.unwrap_or(i64::from(f::DEFAULT_TIMEOUT_SECS)))?;
    let ephemeral_mib = f::validate_ephemeral(req.ephemeral_storage.map_or(f::DEFAULT_EPHEMERAL_MIB, |e| e.size))?;
    let env = req.environment.clone().map(|e| e.variables).unwrap_or_default();
    f::validate_env(&env)?;
    let architectures = f::validate_architectures(req.architectures.as_deref().unwrap_or(&[]))?;
    let tags = req.tags.clone().unwrap_or_default();
    let code = req.code.clone().unwrap_or_default();
    let zip =
        decode_zip(require_zip_code(code.zip_file.as_deref(), code.s3_bucket.is_some(), code.image_uri.is_some())?)?;
    let (code_sha256, code_size) = store_code(&app, zip).await?;
    let version = FunctionVersion {
        name: fref.name.clone(),
        version: LATEST.into(),
        runtime,
        handler,
        role,
        description: req.description.clone().unwrap_or_default(),
        memory_mib,
        timeout_secs,
        ephemeral_mib,
        env,
        architectures,
        tracing_mode: req.tracing_config.as_ref().and_then(|t| t.mode.clone()).unwrap_or_else(|| "PassThrough".into()),
        dead_letter_arn: req.dead_letter_config.as_ref().and_then(|d| d.target_arn.clone()),
        code_sha256,
        code_size,
        last_modified_ms: lamina_core::now_ms(),
        revision_id: new_revision(),
        state: FnState::Pending,
        last_update: UpdateStatus::Successful,
    };
    let mut published_config = None;
    {
        let _w = app.writes.lock().await;
        match app.store.create_function(&version, &tags) {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(AwsError::conflict(format!("Function already exist: {}", fref.name)).into())
            }
            Err(e) => return Err(store_failure(e)),
        }
        if req.publish == Some(true) {
            let mut published = app.store.publish_version(&fref.name, None).map_err(store_failure)?;
            published.state = FnState::Pending;
            published_config = Some(published);
        }
    }
    app.scheduler.forget(&fref.name);
    tracing::info!(function = %fref.name, runtime = %version.runtime, "function created");
    // The code is stored and unpacked already; the function becomes Active
    // as soon as the answer is out, as Lambda's does moments later.
    activate_soon(app.clone(), fref.name.clone(), version.revision_id.clone());
    let answer = published_config.unwrap_or(version);
    Ok((StatusCode::CREATED, Json(answer.configuration(&app.config.partition()))).into_response())
}

/// Moves `$LATEST` from Pending / InProgress to Active / Successful.
fn activate_soon(app: Arc<App>, name: String, revision: String) {
    tokio::spawn(async move {
        let _w = app.writes.lock().await;
        if let Ok(mut v) = app.store.get_version(&name, LATEST) {
            if v.revision_id == revision {
                v.state = FnState::Active;
                v.last_update = UpdateStatus::Successful;
                if app.store.put_latest(&v).is_err() {
                    tracing::error!(function = %name, "could not activate function");
                }
            }
        }
    });
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> ApiResult<Json<GetFunctionResponse>> {
    let r = target(&name, q.qualifier.as_deref())?;
    let v = load(&app, &r.name, r.qualifier.as_deref())?;
    let tags = app.store.tags(&r.name).map_err(store_failure)?;
    Ok(Json(GetFunctionResponse {
        configuration: v.configuration(&app.config.partition()),
        code: FunctionCodeLocation {
            repository_type: "S3",
            location: format!("{}/_lamina/code/{}", app.config.public_url, v.code_sha256),
        },
        tags: Some(tags),
        concurrency: app
            .scheduler
            .concurrency
            .reserved(&r.name)
            .map(|n| lamina_api::lambda::Concurrency { reserved_concurrent_executions: Some(i64::from(n)) }),
    }))
}

pub async fn get_configuration(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> ApiResult<Response> {
    let r = target(&name, q.qualifier.as_deref())?;
    let v = load(&app, &r.name, r.qualifier.as_deref())?;
    Ok(Json(v.configuration(&app.config.partition())).into_response())
}

pub async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Json<ListFunctionsResponse>> {
    let max = match q.max_items.as_deref() {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n.min(50),
            _ => return Err(AwsError::invalid_parameter(format!("1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")).into()),
        },
    };
    let mut page = app.store.list_functions(q.marker.as_deref(), max + 1).map_err(store_failure)?;
    let next_marker = (page.len() > max).then(|| {
        page.truncate(max);
        page.last().map(|v| v.name.clone()).unwrap_or_default()
    });
    let partition = app.config.partition();
    let mut functions = Vec::new();
    for v in &page {
        if q.function_version.as_deref() == Some("ALL") {
            for version in app.store.list_versions(&v.name).map_err(store_failure)? {
                functions.push(version.configuration(&partition));
            }
        } else {
            functions.push(v.configuration(&partition));
        }
    }
    Ok(Json(ListFunctionsResponse { functions, next_marker }))
}

fn check_revision(v: &FunctionVersion, expected: Option<&str>) -> ApiResult<()> {
    match expected {
        Some(rev) if rev != v.revision_id => Err(AwsError::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .into()),
        _ => Ok(()),
    }
}

fn bare_name(raw: &str) -> ApiResult<String> {
    let r = FunctionRef::parse(raw)?;
    if r.qualifier.is_some() {
        return Err(AwsError::invalid_parameter("Qualifier is not allowed for this operation").into());
    }
    Ok(r.name)
}

pub async fn update_configuration(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    AwsJson(req): AwsJson<UpdateFunctionConfigurationRequest>,
) -> ApiResult<Response> {
    let name = bare_name(&name)?;
    let _w = app.writes.lock().await;
    let mut v = load(&app, &name, None)?;
    check_revision(&v, req.revision_id.as_deref())?;
    if let Some(runtime) = req.runtime {
        RuntimeKind::parse(&runtime)?;
        v.runtime = runtime;
    }
    if let Some(h) = req.handler {
        v.handler = h;
    }
    if let Some(r) = req.role {
        v.role = r;
    }
    if let Some(d) = req.description {
        v.description = d;
    }
    if let Some(m) = req.memory_size {
        v.memory_mib = f::validate_memory(m)?;
    }
    if let Some(t) = req.timeout {
        v.timeout_secs = f::validate_timeout(t)?;
    }
    if let Some(e) = req.ephemeral_storage {
        v.ephemeral_mib = f::validate_ephemeral(e.size)?;
    }
    if let Some(env) = req.environment {
        f::validate_env(&env.variables)?;
        v.env = env.variables;
    }
    if let Some(t) = req.tracing_config.and_then(|t| t.mode) {
        v.tracing_mode = t;
    }
    if let Some(d) = req.dead_letter_config {
        v.dead_letter_arn = d.target_arn.filter(|a| !a.is_empty());
    }
    commit_update(&app, v).await
}

pub async fn update_code(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    AwsJson(req): AwsJson<UpdateFunctionCodeRequest>,
) -> ApiResult<Response> {
    let name = bare_name(&name)?;
    let zip = decode_zip(require_zip_code(req.zip_file.as_deref(), req.s3_bucket.is_some(), req.image_uri.is_some())?)?;
    // Existence and revision checks before storing anything.
    check_revision(&load(&app, &name, None)?, req.revision_id.as_deref())?;
    let (sha, size) = store_code(&app, zip).await?;
    let _w = app.writes.lock().await;
    let mut v = load(&app, &name, None)?;
    check_revision(&v, req.revision_id.as_deref())?;
    if let Some(archs) = req.architectures {
        v.architectures = f::validate_architectures(&archs)?;
    }
    if req.dry_run == Some(true) {
        v.code_sha256 = sha;
        v.code_size = size;
        return Ok(Json(v.configuration(&app.config.partition())).into_response());
    }
    v.code_sha256 = sha;
    v.code_size = size;
    let publish = req.publish == Some(true);
    let resp = commit_update(&app, v).await?;
    if publish {
        let published = app.store.publish_version(&name, None).map_err(store_failure)?;
        return Ok(Json(published.configuration(&app.config.partition())).into_response());
    }
    Ok(resp)
}

/// Writes a changed `$LATEST` (one record: code and configuration switch
/// together) and answers with it, InProgress until activated.
async fn commit_update(app: &Arc<App>, mut v: FunctionVersion) -> ApiResult<Response> {
    v.revision_id = new_revision();
    v.last_modified_ms = lamina_core::now_ms();
    v.last_update = UpdateStatus::InProgress;
    app.store.put_latest(&v).map_err(|e| match e {
        StoreError::NotFound => not_found(app, &v.name, None),
        e => store_failure(e),
    })?;
    app.scheduler.forget(&v.name);
    activate_soon(app.clone(), v.name.clone(), v.revision_id.clone());
    Ok(Json(v.configuration(&app.config.partition())).into_response())
}

/// Function URLs die with what they point at; a URL left behind would
/// answer 502 for a function that no longer exists.
pub(crate) fn remove_urls(app: &App, function: &str, qualifier: Option<&str>) {
    if let Err(e) = lamina_gateway::delete_function_urls(app.scheduler.clone(), function, qualifier) {
        tracing::error!(function, ?qualifier, error = %e, "could not remove the function URLs of a deleted function");
    }
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<QualifierQuery>,
) -> ApiResult<StatusCode> {
    let r = target(&name, q.qualifier.as_deref())?;
    let _w = app.writes.lock().await;
    match r.qualifier.as_deref() {
        None => match app.store.delete_function(&r.name) {
            Ok(()) => {
                app.scheduler.forget_function(&r.name);
                remove_urls(&app, &r.name, None);
            }
            Err(StoreError::NotFound) => return Err(not_found(&app, &r.name, None)),
            Err(e) => return Err(store_failure(e)),
        },
        Some(LATEST) => {
            return Err(
                AwsError::invalid_parameter("$LATEST version cannot be deleted without deleting the function.").into()
            )
        }
        Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
            let aliases = match app.store.list_aliases(&r.name) {
                Ok(a) => a,
                Err(StoreError::NotFound) => return Err(not_found(&app, &r.name, None)),
                Err(e) => return Err(store_failure(e)),
            };
            let users: Vec<String> = aliases
                .iter()
                .filter(|a| a.version == q || a.weights.contains_key(q))
                .map(|a| app.config.partition().qualified_arn(&r.name, &a.name))
                .collect();
            if !users.is_empty() {
                return Err(AwsError::conflict(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    users.join(", ")
                ))
                .into());
            }
            match app.store.delete_version(&r.name, q) {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(store_failure(e)),
            }
            remove_urls(&app, &r.name, Some(q));
        }
        Some(_) => {
            return Err(AwsError::invalid_parameter(
                "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.",
            )
            .into())
        }
    }
    app.scheduler.forget(&r.name);
    tracing::info!(function = %r.name, qualifier = ?r.qualifier, "function deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn publish(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    AwsJson(req): AwsJson<PublishVersionRequest>,
) -> ApiResult<Response> {
    let name = bare_name(&name)?;
    let _w = app.writes.lock().await;
    let latest = load(&app, &name, None)?;
    check_revision(&latest, req.revision_id.as_deref())?;
    if let Some(sha) = req.code_sha256.as_deref() {
        if sha != f::code_sha256_base64(&latest.code_sha256) {
            return Err(AwsError::invalid_parameter(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                f::code_sha256_base64(&latest.code_sha256)
            ))
            .into());
        }
    }
    let mut v = app.store.publish_version(&name, req.description.as_deref()).map_err(store_failure)?;
    v.state = FnState::Active;
    v.last_update = UpdateStatus::Successful;
    Ok((StatusCode::CREATED, Json(v.configuration(&app.config.partition()))).into_response())
}

pub async fn list_versions(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<ListVersionsByFunctionResponse>> {
    let name = bare_name(&name)?;
    let versions = match app.store.list_versions(&name) {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Err(not_found(&app, &name, None)),
        Err(e) => return Err(store_failure(e)),
    };
    let max: usize = q.get("MaxItems").and_then(|m| m.parse().ok()).unwrap_or(50).clamp(1, 50);
    let start = match q.get("Marker") {
        Some(m) => versions.iter().position(|v| &v.version == m).map_or(versions.len(), |i| i + 1),
        None => 0,
    };
    let partition = app.config.partition();
    let page: Vec<_> = versions[start..]
        .iter()
        .take(max)
        .map(|v| {
            let mut c = v.configuration(&partition);
            // Listed among versions, $LATEST carries its qualifier.
            if v.is_latest() {
                c.function_arn = partition.qualified_arn(&v.name, LATEST);
            }
            c
        })
        .collect();
    let next_marker = (start + max < versions.len()).then(|| versions[start + max - 1].version.clone());
    Ok(Json(ListVersionsByFunctionResponse { versions: page, next_marker }))
}
