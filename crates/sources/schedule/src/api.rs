//! Thin handlers of the EventBridge Scheduler API: decode, call
//! [`Schedules`], encode.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::error::{decode, ScheduleError};
use crate::model::{ScheduleInput, TagsInput};
use crate::service::Schedules;

type Params = Query<Vec<(String, String)>>;
type Result<T> = std::result::Result<T, ScheduleError>;

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn max_results(q: &[(String, String)]) -> Result<usize> {
    match param(q, "MaxResults") {
        None => Ok(100),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ScheduleError::Validation(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: \
                 Member must have value between 1 and 100"
            ))),
        },
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

pub async fn create(State(s): State<Arc<Schedules>>, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let input: ScheduleInput = decode(&body)?;
    let arn = s.create(&name, input, lamina_core::now_ms())?;
    Ok(ok(json!({ "ScheduleArn": arn })))
}

pub async fn update(State(s): State<Arc<Schedules>>, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let input: ScheduleInput = decode(&body)?;
    let arn = s.update(&name, input, lamina_core::now_ms())?;
    Ok(ok(json!({ "ScheduleArn": arn })))
}

pub async fn get(State(s): State<Arc<Schedules>>, Path(name): Path<String>, Query(q): Params) -> Result<Response> {
    let schedule = s.get(param(&q, "groupName"), &name)?;
    Ok(ok(serde_json::to_value(schedule).unwrap_or_default()))
}

pub async fn delete(State(s): State<Arc<Schedules>>, Path(name): Path<String>, Query(q): Params) -> Result<Response> {
    s.delete(param(&q, "groupName"), &name)?;
    Ok(ok(json!({})))
}

pub async fn list(State(s): State<Arc<Schedules>>, Query(q): Params) -> Result<Response> {
    let state = param(&q, "State");
    if let Some(st) = state {
        if st != "ENABLED" && st != "DISABLED" {
            return Err(ScheduleError::Validation(format!(
                "1 validation error detected: Value '{st}' at 'state' failed to satisfy constraint: \
                 Member must satisfy enum value set: [ENABLED, DISABLED]"
            )));
        }
    }
    let (items, next) =
        s.list(param(&q, "ScheduleGroup"), param(&q, "NamePrefix"), state, param(&q, "NextToken"), max_results(&q)?)?;
    let mut out = json!({ "Schedules": items });
    if let Some(t) = next {
        out["NextToken"] = t.into();
    }
    Ok(ok(out))
}

pub async fn create_group(State(s): State<Arc<Schedules>>, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let input: TagsInput = decode(&body)?;
    let arn = s.create_group(&name, input.tags, lamina_core::now_ms())?;
    Ok(ok(json!({ "ScheduleGroupArn": arn })))
}

pub async fn get_group(State(s): State<Arc<Schedules>>, Path(name): Path<String>) -> Result<Response> {
    Ok(ok(s.get_group(&name)?.wire()))
}

pub async fn delete_group(State(s): State<Arc<Schedules>>, Path(name): Path<String>) -> Result<Response> {
    s.delete_group(&name)?;
    Ok(ok(json!({})))
}

pub async fn list_groups(State(s): State<Arc<Schedules>>, Query(q): Params) -> Result<Response> {
    let (items, next) = s.list_groups(param(&q, "NamePrefix"), param(&q, "NextToken"), max_results(&q)?);
    let mut out = json!({ "ScheduleGroups": items });
    if let Some(t) = next {
        out["NextToken"] = t.into();
    }
    Ok(ok(out))
}

pub async fn list_tags(State(s): State<Arc<Schedules>>, Path(arn): Path<String>) -> Result<Response> {
    Ok(ok(json!({ "Tags": s.tags(&arn)? })))
}

pub async fn tag(State(s): State<Arc<Schedules>>, Path(arn): Path<String>, body: Bytes) -> Result<Response> {
    let input: TagsInput = decode(&body)?;
    s.tag(&arn, input.tags)?;
    Ok(ok(json!({})))
}

pub async fn untag(State(s): State<Arc<Schedules>>, Path(arn): Path<String>, Query(q): Params) -> Result<Response> {
    let keys: Vec<String> = q.into_iter().filter(|(k, _)| k == "TagKeys").map(|(_, v)| v).collect();
    s.untag(&arn, &keys)?;
    Ok(ok(json!({})))
}
