//! The apigatewayv2 control API (`/v2/apis...`): HTTP APIs, their routes,
//! AWS_PROXY integrations to Lamina functions, and stages.
//!
//! Stages deploy automatically: every stage serves the API's current routes
//! (Lamina has no deployments), whatever `autoDeploy` says.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{decode, ApigwError, GatewayError};
use crate::gateway::{ApiState, Gateway};
use crate::model::{iso_now, new_id, Api, Cors, Integration, Route, Stage};
use crate::store::Kind;
use crate::table::{RouteKey, Table};

type Result<T> = std::result::Result<T, ApigwError>;

fn bad(msg: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(msg.into())
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, GatewayError> {
    decode(bytes).map_err(GatewayError::BadRequest)
}

fn created<T: serde::Serialize>(v: &T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn api_not_found(gw: &Gateway, api_id: &str) -> GatewayError {
    GatewayError::not_found(
        "Api",
        format!("Invalid API identifier specified {}:{api_id}", gw.scheduler.config().account_id),
    )
}

/// `(function, qualifier)` named by an integration URI: a function ARN (any
/// qualifier), a bare name, or API Gateway's
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
pub fn function_of_uri(uri: &str) -> std::result::Result<(String, Option<String>), String> {
    let inner = match uri.split_once(":lambda:path/2015-03-31/functions/") {
        Some((prefix, rest)) if prefix.starts_with("arn:") => rest.strip_suffix("/invocations").unwrap_or(rest),
        _ => uri,
    };
    let f = lamina_core::FunctionRef::parse(inner).map_err(|_| format!("Invalid integration URI specified: {uri}"))?;
    Ok((f.name, f.qualifier))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    max_results: Option<String>,
    next_token: Option<String>,
}

/// API Gateway's `{items, nextToken}` page over a sorted list.
fn page<T: serde::Serialize>(items: Vec<T>, q: &PageQuery) -> std::result::Result<serde_json::Value, GatewayError> {
    let start: usize = match &q.next_token {
        Some(t) => t.parse().map_err(|_| bad("Invalid nextToken"))?,
        None => 0,
    };
    let max: usize = match &q.max_results {
        Some(m) => m.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad("maxResults must be a positive number"))?,
        None => 500,
    };
    let total = items.len();
    let slice: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let mut out = serde_json::json!({ "items": slice });
    if start + max < total {
        out["nextToken"] = (start + max).to_string().into();
    }
    Ok(out)
}

// ---- APIs ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiInput {
    name: Option<String>,
    protocol_type: Option<String>,
    cors_configuration: Option<Cors>,
    description: Option<String>,
    version: Option<String>,
    disable_execute_api_endpoint: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// Quick create: a function to integrate with a `$default` route and stage.
    target: Option<String>,
    route_key: Option<String>,
}

fn check_name(name: Option<&str>) -> std::result::Result<String, GatewayError> {
    match name {
        Some(n) if !n.is_empty() && n.len() <= 128 => Ok(n.to_string()),
        Some(_) => Err(bad("Invalid API name specified. The name must be between 1 and 128 characters long.")),
        None => Err(bad("Invalid request input: name is required")),
    }
}

pub async fn create_api(State(gw): State<Arc<Gateway>>, raw: Bytes) -> Result<Response> {
    let input: CreateApiInput = body(&raw)?;
    let name = check_name(input.name.as_deref())?;
    match input.protocol_type.as_deref() {
        Some("HTTP") => {}
        Some("WEBSOCKET") => return Err(bad("Lamina serves HTTP APIs only: WEBSOCKET is not supported").into()),
        Some(other) => return Err(bad(format!("Invalid protocol type specified: {other}")).into()),
        None => return Err(bad("Invalid request input: protocolType is required").into()),
    }
    let api_id = new_id(10);
    let api = Api {
        api_id: api_id.clone(),
        api_endpoint: format!("http://{api_id}.execute-api.localhost{}", gw.port_suffix),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        cors_configuration: input.cors_configuration,
        created_date: iso_now(),
        description: input.description,
        disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
        name,
        protocol_type: "HTTP".into(),
        route_selection_expression: "$request.method $request.path".into(),
        tags: input.tags,
        version: input.version,
    };
    let mut state =
        ApiState { api: api.clone(), routes: BTreeMap::new(), integrations: BTreeMap::new(), stages: BTreeMap::new() };
    if let Some(target) = &input.target {
        function_of_uri(target).map_err(bad)?;
        let integration = new_integration(target.clone(), "2.0".into(), None, None);
        let route_key = input.route_key.clone().unwrap_or_else(|| "$default".into());
        RouteKey::parse(&route_key).map_err(bad)?;
        let route = Route {
            route_id: new_id(7),
            route_key,
            api_key_required: false,
            authorization_type: "NONE".into(),
            operation_name: None,
            target: Some(format!("integrations/{}", integration.integration_id)),
        };
        state.integrations.insert(integration.integration_id.clone(), integration);
        state.routes.insert(route.route_id.clone(), route);
        let stage = new_stage("$default".into(), true, None, BTreeMap::new(), BTreeMap::new());
        state.stages.insert(stage.stage_name.clone(), stage);
    }
    gw.change_api(&api_id, |ctl| {
        ctl.store.put(Kind::Api, "", &api_id, &state.api)?;
        for r in state.routes.values() {
            ctl.store.put(Kind::Route, &api_id, &r.route_id, r)?;
        }
        for i in state.integrations.values() {
            ctl.store.put(Kind::Integration, &api_id, &i.integration_id, i)?;
        }
        for s in state.stages.values() {
            ctl.store.put(Kind::Stage, &api_id, &s.stage_name, s)?;
        }
        ctl.apis.insert(api_id.clone(), state);
        Ok(())
    })?;
    Ok(created(&api))
}

pub async fn get_apis(State(gw): State<Arc<Gateway>>, Query(q): Query<PageQuery>) -> Result<Response> {
    let mut apis: Vec<Api> = gw.control(|ctl| ctl.apis.values().map(|a| a.api.clone()).collect());
    apis.sort_by(|a, b| a.created_date.cmp(&b.created_date).then(a.api_id.cmp(&b.api_id)));
    Ok(Json(page(apis, &q)?).into_response())
}

pub async fn get_api(State(gw): State<Arc<Gateway>>, Path(api_id): Path<String>) -> Result<Response> {
    let api = gw.control(|ctl| ctl.apis.get(&api_id).map(|a| a.api.clone()));
    Ok(Json(api.ok_or_else(|| api_not_found(&gw, &api_id))?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateApiInput {
    name: Option<String>,
    cors_configuration: Option<Cors>,
    description: Option<String>,
    version: Option<String>,
    disable_execute_api_endpoint: Option<bool>,
}

pub async fn update_api(State(gw): State<Arc<Gateway>>, Path(api_id): Path<String>, raw: Bytes) -> Result<Response> {
    let input: UpdateApiInput = body(&raw)?;
    if input.name.is_some() {
        check_name(input.name.as_deref())?;
    }
    let api = gw.change_api(&api_id, |ctl| {
        let mut api = ctl.apis.get(&api_id).map(|a| a.api.clone()).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if let Some(n) = input.name {
            api.name = n;
        }
        if let Some(c) = input.cors_configuration {
            api.cors_configuration = Some(c);
        }
        if let Some(d) = input.description {
            api.description = Some(d);
        }
        if let Some(v) = input.version {
            api.version = Some(v);
        }
        if let Some(d) = input.disable_execute_api_endpoint {
            api.disable_execute_api_endpoint = d;
        }
        ctl.store.put(Kind::Api, "", &api_id, &api)?;
        if let Some(a) = ctl.apis.get_mut(&api_id) {
            a.api = api.clone();
        }
        Ok(api)
    })?;
    Ok(Json(api).into_response())
}

pub async fn delete_api(State(gw): State<Arc<Gateway>>, Path(api_id): Path<String>) -> Result<Response> {
    gw.change_api(&api_id, |ctl| {
        if !ctl.apis.contains_key(&api_id) {
            return Err(api_not_found(&gw, &api_id));
        }
        ctl.store.delete_api(&api_id)?;
        ctl.apis.remove(&api_id);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- integrations ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationInput {
    integration_type: Option<String>,
    integration_uri: Option<String>,
    integration_method: Option<String>,
    payload_format_version: Option<String>,
    timeout_in_millis: Option<i64>,
    description: Option<String>,
    connection_type: Option<String>,
}

fn new_integration(uri: String, version: String, timeout: Option<u32>, description: Option<String>) -> Integration {
    Integration {
        integration_id: new_id(7),
        integration_type: "AWS_PROXY".into(),
        integration_method: Some("POST".into()),
        integration_uri: uri,
        connection_type: "INTERNET".into(),
        description,
        payload_format_version: version,
        timeout_in_millis: timeout.unwrap_or(30_000),
    }
}

fn check_integration(i: &IntegrationInput) -> std::result::Result<(), GatewayError> {
    match i.integration_type.as_deref() {
        None | Some("AWS_PROXY") => {}
        Some(t @ ("HTTP_PROXY" | "AWS" | "HTTP" | "MOCK")) => {
            return Err(bad(format!("Integration type {t} is not supported by Lamina; use AWS_PROXY to a function")))
        }
        Some(t) => return Err(bad(format!("Invalid integration type specified: {t}"))),
    }
    if let Some(v) = i.payload_format_version.as_deref() {
        if v != "1.0" && v != "2.0" {
            return Err(bad(format!("Invalid payload format version specified: {v}. Valid values are 1.0 and 2.0")));
        }
    }
    if let Some(t) = i.timeout_in_millis {
        if !(50..=30_000).contains(&t) {
            return Err(bad("Timeout must be between 50 milliseconds and 30 seconds."));
        }
    }
    if let Some(c) = i.connection_type.as_deref() {
        if c != "INTERNET" {
            return Err(bad(format!("Invalid connection type specified: {c}")));
        }
    }
    if let Some(uri) = &i.integration_uri {
        function_of_uri(uri).map_err(bad)?;
    }
    Ok(())
}

pub async fn create_integration(
    State(gw): State<Arc<Gateway>>,
    Path(api_id): Path<String>,
    raw: Bytes,
) -> Result<Response> {
    let input: IntegrationInput = body(&raw)?;
    if input.integration_type.is_none() {
        return Err(bad("Invalid request input: integrationType is required").into());
    }
    check_integration(&input)?;
    let uri = input.integration_uri.ok_or_else(|| bad("An integration URI is required for AWS_PROXY integrations"))?;
    let timeout = input.timeout_in_millis.map(|t| t as u32);
    let mut integration =
        new_integration(uri, input.payload_format_version.unwrap_or_else(|| "2.0".into()), timeout, input.description);
    if let Some(m) = input.integration_method {
        integration.integration_method = Some(m);
    }
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        ctl.store.put(Kind::Integration, &api_id, &integration.integration_id, &integration)?;
        state.integrations.insert(integration.integration_id.clone(), integration.clone());
        Ok(())
    })?;
    Ok(created(&integration))
}

fn integration_not_found(id: &str) -> GatewayError {
    GatewayError::not_found("Integration", format!("Invalid Integration identifier specified {id}"))
}

pub async fn get_integrations(
    State(gw): State<Arc<Gateway>>,
    Path(api_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let items = gw
        .control(|ctl| ctl.apis.get(&api_id).map(|a| a.integrations.values().cloned().collect::<Vec<_>>()))
        .ok_or_else(|| api_not_found(&gw, &api_id))?;
    Ok(Json(page(items, &q)?).into_response())
}

pub async fn get_integration(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, id)): Path<(String, String)>,
) -> Result<Response> {
    let found = gw.control(|ctl| ctl.apis.get(&api_id).map(|a| a.integrations.get(&id).cloned()));
    let i = found.ok_or_else(|| api_not_found(&gw, &api_id))?.ok_or_else(|| integration_not_found(&id))?;
    Ok(Json(i).into_response())
}

pub async fn update_integration(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: IntegrationInput = body(&raw)?;
    check_integration(&input)?;
    let out = gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        let mut i = state.integrations.get(&id).cloned().ok_or_else(|| integration_not_found(&id))?;
        if let Some(u) = input.integration_uri {
            i.integration_uri = u;
        }
        if let Some(v) = input.payload_format_version {
            i.payload_format_version = v;
        }
        if let Some(t) = input.timeout_in_millis {
            i.timeout_in_millis = t as u32;
        }
        if let Some(d) = input.description {
            i.description = Some(d);
        }
        if let Some(m) = input.integration_method {
            i.integration_method = Some(m);
        }
        ctl.store.put(Kind::Integration, &api_id, &id, &i)?;
        state.integrations.insert(id.clone(), i.clone());
        Ok(i)
    })?;
    Ok(Json(out).into_response())
}

pub async fn delete_integration(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, id)): Path<(String, String)>,
) -> Result<Response> {
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if !state.integrations.contains_key(&id) {
            return Err(integration_not_found(&id));
        }
        let target = format!("integrations/{id}");
        if let Some(r) = state.routes.values().find(|r| r.target.as_deref() == Some(target.as_str())) {
            return Err(GatewayError::Conflict(format!(
                "Cannot delete integration {id}: it is the target of route {} ({})",
                r.route_id, r.route_key
            )));
        }
        ctl.store.delete(Kind::Integration, &api_id, &id)?;
        state.integrations.remove(&id);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- routes ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteInput {
    route_key: Option<String>,
    target: Option<String>,
    authorization_type: Option<String>,
    api_key_required: Option<bool>,
    operation_name: Option<String>,
}

/// Checks a route's target names an integration of the API.
fn check_target(state: &ApiState, target: &str) -> std::result::Result<(), GatewayError> {
    let id = target.strip_prefix("integrations/").ok_or_else(|| {
        bad(format!("Invalid target specified: {target}. A target must be of the form integrations/{{integrationId}}"))
    })?;
    if !state.integrations.contains_key(id) {
        return Err(bad(format!("Invalid integration identifier specified in target: {target}")));
    }
    Ok(())
}

/// Refuses a route key that serves the same requests as another route.
fn check_unique(state: &ApiState, key: &RouteKey, except: Option<&str>) -> std::result::Result<(), GatewayError> {
    let mut table = Table::default();
    for r in state.routes.values().filter(|r| Some(r.route_id.as_str()) != except) {
        if let Ok(k) = RouteKey::parse(&r.route_key) {
            let _ = table.insert(&k, ());
        }
    }
    table
        .insert(key, ())
        .map_err(|_| GatewayError::Conflict("A route with an equivalent route key already exists for this API".into()))
}

fn check_authorization(t: Option<&str>) -> std::result::Result<(), GatewayError> {
    match t {
        None | Some("NONE") => Ok(()),
        Some(other) => Err(bad(format!("Authorization type {other} is not supported by Lamina yet; use NONE"))),
    }
}

pub async fn create_route(State(gw): State<Arc<Gateway>>, Path(api_id): Path<String>, raw: Bytes) -> Result<Response> {
    let input: RouteInput = body(&raw)?;
    let route_key = input.route_key.ok_or_else(|| bad("Invalid request input: routeKey is required"))?;
    let key = RouteKey::parse(&route_key).map_err(bad)?;
    check_authorization(input.authorization_type.as_deref())?;
    let route = Route {
        route_id: new_id(7),
        route_key,
        api_key_required: input.api_key_required.unwrap_or(false),
        authorization_type: "NONE".into(),
        operation_name: input.operation_name,
        target: input.target,
    };
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if let Some(t) = &route.target {
            check_target(state, t)?;
        }
        check_unique(state, &key, None)?;
        ctl.store.put(Kind::Route, &api_id, &route.route_id, &route)?;
        state.routes.insert(route.route_id.clone(), route.clone());
        Ok(())
    })?;
    Ok(created(&route))
}

fn route_not_found(id: &str) -> GatewayError {
    GatewayError::not_found("Route", format!("Invalid Route identifier specified {id}"))
}

pub async fn get_routes(
    State(gw): State<Arc<Gateway>>,
    Path(api_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let items = gw
        .control(|ctl| ctl.apis.get(&api_id).map(|a| a.routes.values().cloned().collect::<Vec<_>>()))
        .ok_or_else(|| api_not_found(&gw, &api_id))?;
    Ok(Json(page(items, &q)?).into_response())
}

pub async fn get_route(State(gw): State<Arc<Gateway>>, Path((api_id, id)): Path<(String, String)>) -> Result<Response> {
    let found = gw.control(|ctl| ctl.apis.get(&api_id).map(|a| a.routes.get(&id).cloned()));
    let r = found.ok_or_else(|| api_not_found(&gw, &api_id))?.ok_or_else(|| route_not_found(&id))?;
    Ok(Json(r).into_response())
}

pub async fn update_route(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, id)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: RouteInput = body(&raw)?;
    let key = match &input.route_key {
        Some(k) => Some(RouteKey::parse(k).map_err(bad)?),
        None => None,
    };
    check_authorization(input.authorization_type.as_deref())?;
    let out = gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        let mut r = state.routes.get(&id).cloned().ok_or_else(|| route_not_found(&id))?;
        if let Some(t) = input.target {
            check_target(state, &t)?;
            r.target = Some(t);
        }
        if let (Some(k), Some(text)) = (key, input.route_key) {
            check_unique(state, &k, Some(&id))?;
            r.route_key = text;
        }
        if let Some(o) = input.operation_name {
            r.operation_name = Some(o);
        }
        if let Some(a) = input.api_key_required {
            r.api_key_required = a;
        }
        ctl.store.put(Kind::Route, &api_id, &id, &r)?;
        state.routes.insert(id.clone(), r.clone());
        Ok(r)
    })?;
    Ok(Json(out).into_response())
}

pub async fn delete_route(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, id)): Path<(String, String)>,
) -> Result<Response> {
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if state.routes.remove(&id).is_none() {
            return Err(route_not_found(&id));
        }
        ctl.store.delete(Kind::Route, &api_id, &id)?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- stages ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageInput {
    stage_name: Option<String>,
    auto_deploy: Option<bool>,
    description: Option<String>,
    stage_variables: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn new_stage(
    name: String,
    auto_deploy: bool,
    description: Option<String>,
    variables: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Stage {
    let now = iso_now();
    Stage {
        stage_name: name,
        auto_deploy,
        created_date: now.clone(),
        last_updated_date: now,
        description,
        default_route_settings: serde_json::json!({ "detailedMetricsEnabled": false }),
        route_settings: serde_json::json!({}),
        stage_variables: variables,
        tags,
    }
}

fn check_stage_name(name: &str) -> std::result::Result<(), GatewayError> {
    let ok = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!("Invalid stage name specified: {name}. Stage names may contain only alphanumerics, hyphens and underscores, or be $default")))
    }
}

pub async fn create_stage(State(gw): State<Arc<Gateway>>, Path(api_id): Path<String>, raw: Bytes) -> Result<Response> {
    let input: StageInput = body(&raw)?;
    let name = input.stage_name.ok_or_else(|| bad("Invalid request input: stageName is required"))?;
    check_stage_name(&name)?;
    let stage = new_stage(
        name,
        input.auto_deploy.unwrap_or(false),
        input.description,
        input.stage_variables.unwrap_or_default(),
        input.tags,
    );
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if state.stages.contains_key(&stage.stage_name) {
            return Err(GatewayError::Conflict(format!("Stage already exists: {}", stage.stage_name)));
        }
        ctl.store.put(Kind::Stage, &api_id, &stage.stage_name, &stage)?;
        state.stages.insert(stage.stage_name.clone(), stage.clone());
        Ok(())
    })?;
    Ok(created(&stage))
}

fn stage_not_found(name: &str) -> GatewayError {
    GatewayError::not_found("Stage", format!("Invalid stage identifier specified {name}"))
}

pub async fn get_stages(
    State(gw): State<Arc<Gateway>>,
    Path(api_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let items = gw
        .control(|ctl| ctl.apis.get(&api_id).map(|a| a.stages.values().cloned().collect::<Vec<_>>()))
        .ok_or_else(|| api_not_found(&gw, &api_id))?;
    Ok(Json(page(items, &q)?).into_response())
}

pub async fn get_stage(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, name)): Path<(String, String)>,
) -> Result<Response> {
    let found = gw.control(|ctl| ctl.apis.get(&api_id).map(|a| a.stages.get(&name).cloned()));
    let s = found.ok_or_else(|| api_not_found(&gw, &api_id))?.ok_or_else(|| stage_not_found(&name))?;
    Ok(Json(s).into_response())
}

pub async fn update_stage(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, name)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response> {
    let input: StageInput = body(&raw)?;
    let out = gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        let mut s = state.stages.get(&name).cloned().ok_or_else(|| stage_not_found(&name))?;
        if let Some(a) = input.auto_deploy {
            s.auto_deploy = a;
        }
        if let Some(d) = input.description {
            s.description = Some(d);
        }
        if let Some(v) = input.stage_variables {
            s.stage_variables = v;
        }
        s.last_updated_date = iso_now();
        ctl.store.put(Kind::Stage, &api_id, &name, &s)?;
        state.stages.insert(name.clone(), s.clone());
        Ok(s)
    })?;
    Ok(Json(out).into_response())
}

pub async fn delete_stage(
    State(gw): State<Arc<Gateway>>,
    Path((api_id, name)): Path<(String, String)>,
) -> Result<Response> {
    gw.change_api(&api_id, |ctl| {
        let state = ctl.apis.get_mut(&api_id).ok_or_else(|| api_not_found(&gw, &api_id))?;
        if state.stages.remove(&name).is_none() {
            return Err(stage_not_found(&name));
        }
        ctl.store.delete(Kind::Stage, &api_id, &name)?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::function_of_uri;

    #[test]
    fn integration_uris() {
        assert_eq!(function_of_uri("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap(), ("f".into(), None));
        assert_eq!(
            function_of_uri("arn:aws:lambda:us-east-1:000000000000:function:f:live").unwrap(),
            ("f".into(), Some("live".into()))
        );
        let apigw = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:g:3/invocations";
        assert_eq!(function_of_uri(apigw).unwrap(), ("g".into(), Some("3".into())));
        assert!(function_of_uri("http://example.com").is_err());
        assert!(function_of_uri("").is_err());
    }
}
