//! Tags, account settings, and Lamina's own endpoints (health, code
//! downloads for GetFunction's Code.Location, logs for `lamina logs`).

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lamina_api::lambda::{
    AccountLimit, AccountUsage, GetAccountSettingsResponse, ListTagsResponse, TagResourceRequest,
};
use lamina_api::AwsError;
use lamina_core::FunctionRef;
use lamina_store::{BlobError, StoreError};
use serde::Deserialize;
use std::sync::Arc;

use crate::error::{store_failure, ApiError, ApiResult, AwsJson};
use crate::App;

pub async fn health() -> &'static str {
    "{\"status\":\"ok\"}"
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let scheduler = app.scheduler.clone();
    let text = tokio::task::spawn_blocking(move || scheduler.render_metrics()).await.unwrap_or_default();
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /_lamina/status`: what the scheduler holds right now.
pub async fn status(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let s = &app.scheduler;
    let (used, capacity) = s.memory_mib();
    Json(serde_json::json!({
        "concurrent_executions": s.concurrent_executions(),
        "idle_sandboxes": s.idle_sandboxes(),
        "idle_by_function": s.idle_by_function(),
        "memory_used_mib": used,
        "memory_capacity_mib": capacity,
        "unreserved_concurrency": s.concurrency.unreserved(),
        // Lets a local tool (`lamina bench`) read this process's CPU time.
        "pid": std::process::id(),
    }))
}

pub async fn unknown(uri: Uri) -> ApiError {
    tracing::debug!(%uri, "unknown operation");
    AwsError::unknown_operation().into()
}

pub async fn account_settings(State(app): State<Arc<App>>) -> ApiResult<Json<GetAccountSettingsResponse>> {
    let (function_count, total_code_size) = app.store.usage().map_err(store_failure)?;
    let limit = app.config.account_concurrency;
    Ok(Json(GetAccountSettingsResponse {
        account_limit: AccountLimit {
            total_code_size: 80_530_636_800,
            code_size_unzipped: 262_144_000,
            code_size_zipped: 52_428_800,
            concurrent_executions: limit,
            unreserved_concurrent_executions: app.scheduler.concurrency.unreserved(),
        },
        account_usage: AccountUsage { total_code_size, function_count },
    }))
}

/// The function a tagging ARN names (tags live on functions).
fn tagged_function(app: &App, arn: &str) -> ApiResult<String> {
    if !arn.starts_with("arn:") {
        return Err(AwsError::invalid_parameter(format!("Invalid ARN: {arn}")).into());
    }
    let r = FunctionRef::parse(arn)?;
    match app.store.tags(&r.name) {
        Ok(_) => Ok(r.name),
        Err(StoreError::NotFound) => Err(crate::functions::not_found(app, &r.name, None)),
        Err(e) => Err(store_failure(e)),
    }
}

pub async fn list_tags(State(app): State<Arc<App>>, Path(arn): Path<String>) -> ApiResult<Json<ListTagsResponse>> {
    let name = tagged_function(&app, &arn)?;
    Ok(Json(ListTagsResponse { tags: app.store.tags(&name).map_err(store_failure)? }))
}

pub async fn tag(
    State(app): State<Arc<App>>,
    Path(arn): Path<String>,
    AwsJson(req): AwsJson<TagResourceRequest>,
) -> ApiResult<StatusCode> {
    let _w = app.writes.lock().await;
    let name = tagged_function(&app, &arn)?;
    let mut tags = app.store.tags(&name).map_err(store_failure)?;
    tags.extend(req.tags.unwrap_or_default());
    app.store.set_tags(&name, &tags).map_err(store_failure)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn untag(State(app): State<Arc<App>>, Path(arn): Path<String>, uri: Uri) -> ApiResult<StatusCode> {
    let _w = app.writes.lock().await;
    let name = tagged_function(&app, &arn)?;
    // `tagKeys` repeats, which a map-shaped query cannot hold.
    let keys: Vec<String> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.into_owned())
        .collect();
    let mut tags = app.store.tags(&name).map_err(store_failure)?;
    for k in keys {
        tags.remove(&k);
    }
    app.store.set_tags(&name, &tags).map_err(store_failure)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn code(State(app): State<Arc<App>>, Path(sha): Path<String>) -> ApiResult<Response> {
    let sha = sha.trim_end_matches(".zip").to_string();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AwsError::not_found("No such code").into());
    }
    match app.blobs.read_zip(&sha) {
        Ok(bytes) => Ok(([("content-type", "application/zip")], bytes).into_response()),
        Err(BlobError::NotFound(_)) => Err(AwsError::not_found("No such code").into()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    /// First day (`YYYY-MM-DD`), default: 30 days ago.
    since: Option<String>,
    /// `function` (default) or `day`.
    by: Option<String>,
}

/// `GET /_lamina/usage?since=YYYY-MM-DD&by=function|day`: requests, GB-seconds
/// and a cost estimate at the configured prices.
pub async fn usage(State(app): State<Arc<App>>, Query(q): Query<UsageQuery>) -> ApiResult<Json<serde_json::Value>> {
    let since = match q.since {
        Some(d) if chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok() => d,
        Some(d) => return Err(AwsError::invalid_parameter(format!("since must be YYYY-MM-DD, got {d}")).into()),
        None => (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%d").to_string(),
    };
    let by_day = match q.by.as_deref() {
        None | Some("function") => false,
        Some("day") => true,
        Some(other) => {
            return Err(AwsError::invalid_parameter(format!("by must be function or day, got {other}")).into())
        }
    };
    let rows = app.store.usage_since(&since).map_err(store_failure)?;
    let prices = app.config.prices;
    let mut groups: std::collections::BTreeMap<String, (u64, u64, f64)> = std::collections::BTreeMap::new();
    for r in rows {
        let key = if by_day { r.day } else { r.function };
        let g = groups.entry(key).or_default();
        g.0 += r.requests;
        g.1 += r.billed_ms;
        g.2 += r.gb_seconds;
    }
    let cost =
        |requests: u64, gb_s: f64| gb_s * prices.per_gb_second + requests as f64 / 1e6 * prices.per_million_requests;
    let (mut total_requests, mut total_gb_s) = (0u64, 0f64);
    let items: Vec<_> = groups
        .into_iter()
        .map(|(key, (requests, billed_ms, gb_s))| {
            total_requests += requests;
            total_gb_s += gb_s;
            serde_json::json!({"key": key, "requests": requests, "billed_ms": billed_ms, "gb_seconds": gb_s, "cost_usd": cost(requests, gb_s)})
        })
        .collect();
    Ok(Json(serde_json::json!({
        "since": since,
        "by": if by_day { "day" } else { "function" },
        "prices": {"per_gb_second": prices.per_gb_second, "per_million_requests": prices.per_million_requests},
        "items": items,
        "total": {"requests": total_requests, "gb_seconds": total_gb_s, "cost_usd": cost(total_requests, total_gb_s)},
    })))
}

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    function: Option<String>,
    minutes: Option<usize>,
}

/// `GET /_lamina/series?function=NAME&minutes=60`: per-minute points for
/// the console's charts (all functions when `function` is absent).
pub async fn series(State(app): State<Arc<App>>, Query(q): Query<SeriesQuery>) -> Json<serde_json::Value> {
    let points = app.scheduler.series.points(q.function.as_deref(), q.minutes.unwrap_or(60));
    Json(serde_json::json!({ "period_secs": 60, "points": points }))
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

/// `GET /_lamina/logs/{function}?after=ID`: log lines after an id, oldest first.
pub async fn logs(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let r = FunctionRef::parse(&name)?;
    let group = lamina_core::function::log_group(&r.name);
    let events = app
        .store
        .read_logs(&group, q.after.unwrap_or(0), q.limit.unwrap_or(1000).min(10_000))
        .map_err(store_failure)?;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| serde_json::json!({"id": e.id, "timestamp": e.timestamp_ms, "stream": e.stream, "message": e.message}))
        .collect();
    Ok(Json(serde_json::json!({ "events": events })))
}
