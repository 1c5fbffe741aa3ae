//! Observability services. Today: the CloudWatch Logs API over the function
//! logs Lamina keeps, so that boto3's `logs` client and
//! `aws logs tail /aws/lambda/NAME --follow --endpoint-url ...` work.
//!
//! - [`router`] is what the front door hands every request whose
//!   `X-Amz-Target` is `Logs_20140328.*` (json protocol 1.1, `POST /`): it
//!   decodes the operation, runs it off the async threads, and encodes the
//!   answer or a [`LogsError`] in CloudWatch's error shape.
//! - [`ops::Logs`] implements the operations (DescribeLogGroups,
//!   DescribeLogStreams, GetLogEvents, FilterLogEvents, Put/DeleteRetentionPolicy,
//!   Create/DeleteLogGroup) on a [`db::LogDb`].
//! - [`db::LogDb`] is a second connection to `<data_dir>/lamina.sqlite-logs`,
//!   the file the store's log writer appends to: it adds read indexes, a
//!   catalog of groups and streams kept up to date incrementally, and
//!   retention policies, all in that same file. The store's `Store` trait is
//!   not involved: it only appends and tails.
//! - [`pattern::Pattern`] parses and matches filter patterns.
//! - [`sweeper`] deletes events older than their group's retention every
//!   `LAMINA_LOG_SWEEP_SECS` (default 60 s).
//!
//! Groups and streams are named as Lambda names them (the scheduler writes
//! them): `/aws/lambda/{function}` and `YYYY/MM/DD/[version]hex`, one event
//! per line, and a group exists from its first line.

pub mod db;
pub mod error;
pub mod ops;
pub mod pattern;
pub mod sweeper;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, HeaderMap, HeaderValue};
use lamina_scheduler::Scheduler;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

pub use error::LogsError;
use ops::Logs;

/// The json protocol's content type for CloudWatch Logs.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The log database's file name in the data directory (the store's `<metadata>-logs`).
pub const LOG_DB_FILE: &str = "lamina.sqlite-logs";

/// The Logs API as it is served: working, or the reason it cannot be.
type Service = Result<Arc<Logs>, String>;

/// This service's routes, state applied. The front door sends it the
/// requests that are for it (see `lamina-server`'s `front_door`), whatever
/// their path. Opens the log database and starts the retention sweeper;
/// if the database cannot be opened, every call answers
/// ServiceUnavailableException and the reason is logged.
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    let config = scheduler.config();
    let service = open(&config.data_dir.join(LOG_DB_FILE), &config.region, &config.account_id);
    router_with(service)
}

fn open(path: &Path, region: &str, account: &str) -> Service {
    match db::LogDb::open(path) {
        Ok(db) => {
            let db = Arc::new(db);
            sweeper::start(db.clone(), sweeper::period_from_env());
            Ok(Arc::new(Logs::new(db, region.to_string(), account.to_string())))
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot open the log database; the Logs API is unavailable");
            Err(e.to_string())
        }
    }
}

/// The router over a given log database file (for tests without a scheduler).
pub fn router_for_file(path: &Path, region: &str, account: &str) -> Router {
    router_with(open(path, region, account))
}

fn router_with(service: Service) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(service))
}

async fn handle(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let logs = match service.as_ref() {
        Ok(logs) => logs.clone(),
        Err(reason) => return LogsError::Unavailable(reason.clone()).into_response(),
    };
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let operation = target.split_once('.').map(|(_, op)| op).unwrap_or(target).to_string();
    let answer = tokio::task::spawn_blocking(move || dispatch(&logs, &operation, &body)).await;
    match answer {
        Ok(Ok(json)) => {
            let mut resp = json.into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            resp
        }
        Ok(Err(e)) => e.into_response(),
        Err(e) => LogsError::Task(e.to_string()).into_response(),
    }
}

fn dispatch(logs: &Logs, operation: &str, body: &[u8]) -> Result<String, LogsError> {
    match operation {
        "DescribeLogGroups" => call(body, |r| logs.describe_log_groups(r)),
        "DescribeLogStreams" => call(body, |r| logs.describe_log_streams(r)),
        "GetLogEvents" => call(body, |r| logs.get_log_events(r)),
        "FilterLogEvents" => call(body, |r| logs.filter_log_events(r)),
        "PutRetentionPolicy" => call(body, |r| logs.put_retention_policy(r)),
        "DeleteRetentionPolicy" => call(body, |r| logs.delete_retention_policy(r)),
        "CreateLogGroup" => call(body, |r| logs.create_log_group(r)),
        "DeleteLogGroup" => call(body, |r| logs.delete_log_group(r)),
        other => Err(LogsError::UnknownOperation(other.to_string())),
    }
}

/// Decodes the request (an empty body is `{}`), runs the operation, encodes the answer.
fn call<Req: DeserializeOwned, Resp: Serialize>(
    body: &[u8],
    operation: impl FnOnce(Req) -> Result<Resp, LogsError>,
) -> Result<String, LogsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { body };
    let request = serde_json::from_slice(body).map_err(|e| LogsError::Serialization(e.to_string()))?;
    let response = operation(request)?;
    serde_json::to_string(&response).map_err(|e| LogsError::Serialization(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    async fn post(app: &Router, op: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let req = Request::post("/")
            .header("x-amz-target", format!("Logs_20140328.{op}"))
            .header("content-type", CONTENT_TYPE)
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn operations_answer_in_the_json_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_DB_FILE);
        let app = router_for_file(&path, "us-east-1", "000000000000");
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, line) in
            ["START RequestId: r1", "{\"level\": \"ERROR\", \"n\": 1}", "END RequestId: r1"].iter().enumerate()
        {
            conn.execute(
                "INSERT INTO log_events (grp, stream, ts_ms, message) VALUES ('/aws/lambda/f', 's', ?1, ?2)",
                rusqlite::params![1000 + i as i64, line],
            )
            .unwrap();
        }

        let (status, groups) = post(&app, "DescribeLogGroups", serde_json::json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(groups["logGroups"][0]["logGroupName"], "/aws/lambda/f");

        let (_, events) = post(
            &app,
            "GetLogEvents",
            serde_json::json!({"logGroupName": "/aws/lambda/f", "logStreamName": "s", "startFromHead": true}),
        )
        .await;
        assert_eq!(events["events"].as_array().unwrap().len(), 3);

        let (_, found) = post(
            &app,
            "FilterLogEvents",
            serde_json::json!({"logGroupName": "/aws/lambda/f", "filterPattern": "{ $.level = \"ERROR\" }"}),
        )
        .await;
        assert_eq!(found["events"].as_array().unwrap().len(), 1);
        assert!(found.get("nextToken").is_none());

        let (status, missing) =
            post(&app, "GetLogEvents", serde_json::json!({"logGroupName": "/nope", "logStreamName": "s"})).await;
        assert_eq!(status, 400);
        assert_eq!(missing["__type"], "ResourceNotFoundException");

        let (status, bad) = post(
            &app,
            "PutRetentionPolicy",
            serde_json::json!({"logGroupName": "/aws/lambda/f", "retentionInDays": 2}),
        )
        .await;
        assert_eq!((status, bad["__type"].as_str()), (400, Some("InvalidParameterException")));

        let (status, unknown) = post(&app, "PutSomething", serde_json::json!({})).await;
        assert_eq!((status, unknown["__type"].as_str()), (400, Some("UnknownOperationException")));
    }
}
