//! Lambda's event source mappings (`/2015-03-31/event-source-mappings`),
//! from an SQS queue to a function: the control operations, their
//! validation with Lambda's messages, persistence in `queues.sqlite`, and
//! the set of running pollers ([`crate::poller`]) each enabled mapping owns.

use crate::engine::Engine;
use crate::store::Op;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use lamina_api::AwsError;
use lamina_core::event_pattern::EventPattern;
use lamina_core::names::FunctionRef;
use lamina_scheduler::{InvokeError, Scheduler};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// Pollers per mapping without a ScalingConfig (Lambda starts with five).
pub const DEFAULT_POLLERS: u32 = 5;

/// One mapping as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: String,
    pub event_source_arn: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub function_arn: String,
    pub batch_size: u32,
    pub max_batching_window_secs: u32,
    pub enabled: bool,
    pub report_batch_item_failures: bool,
    pub max_concurrency: Option<u32>,
    #[serde(default)]
    pub filter_criteria: Option<Value>,
    /// Epoch seconds (Lambda's `LastModified` is a number).
    pub last_modified: f64,
}

impl Mapping {
    pub fn pollers(&self) -> u32 {
        self.max_concurrency.unwrap_or(DEFAULT_POLLERS)
    }

    fn to_json(&self, state: &str, region: &str, account: &str) -> Value {
        let mut v = json!({
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.max_batching_window_secs,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": if self.report_batch_item_failures { vec!["ReportBatchItemFailures"] } else { vec![] },
            "EventSourceMappingArn": format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{}", self.uuid),
        });
        if let Some(n) = self.max_concurrency {
            v["ScalingConfig"] = json!({ "MaximumConcurrency": n });
        }
        if let Some(f) = &self.filter_criteria {
            v["FilterCriteria"] = f.clone();
        }
        v
    }
}

struct Entry {
    mapping: Mapping,
    /// Set to true to stop this mapping's pollers.
    stop: Option<watch::Sender<bool>>,
}

/// Every mapping and its pollers.
pub struct Mappings {
    pub engine: Arc<Engine>,
    pub scheduler: Arc<Scheduler>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Serialises control writes (read-validate-write of one mapping).
    writes: tokio::sync::Mutex<()>,
}

impl Mappings {
    /// Loads stored mappings and starts the enabled ones' pollers.
    pub fn start(engine: Arc<Engine>, scheduler: Arc<Scheduler>, stored: &[String]) -> Arc<Self> {
        let me = Arc::new(Self {
            engine,
            scheduler,
            entries: Mutex::new(BTreeMap::new()),
            writes: tokio::sync::Mutex::new(()),
        });
        for raw in stored {
            match serde_json::from_str::<Mapping>(raw) {
                Ok(m) => me.install(m),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable event source mapping"),
            }
        }
        me
    }

    /// Records a mapping and (re)starts its pollers as it asks.
    fn install(&self, m: Mapping) {
        let stop = if m.enabled && tokio::runtime::Handle::try_current().is_ok() {
            let (tx, rx) = watch::channel(false);
            for worker in 0..m.pollers() {
                tokio::spawn(crate::poller::run(
                    self.engine.clone(),
                    self.scheduler.clone(),
                    m.clone(),
                    worker,
                    rx.clone(),
                ));
            }
            Some(tx)
        } else {
            None
        };
        let old = self.entries.lock().insert(m.uuid.clone(), Entry { mapping: m, stop });
        if let Some(Entry { stop: Some(s), .. }) = old {
            s.send_replace(true);
        }
    }

    fn state_of(&self, m: &Mapping) -> &'static str {
        if m.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }

    fn render(&self, m: &Mapping, state: &str) -> Value {
        m.to_json(state, &self.engine.region, &self.engine.account_id)
    }

    async fn persist(&self, m: &Mapping) -> Result<(), AwsError> {
        let json = serde_json::to_string(m).map_err(|e| AwsError::service(e.to_string()))?;
        self.engine.writer.submit(vec![Op::PutMapping { uuid: m.uuid.clone(), json }]).durable().await.map_err(|e| {
            tracing::error!(error = %e, "cannot store an event source mapping");
            AwsError::service("An internal error occurred.")
        })
    }

    /// Function name, qualifier and ARN for a FunctionName parameter; the
    /// function must exist, and (as Lambda insists) the queue's visibility
    /// timeout must cover the function's timeout, or batches would become
    /// visible again while they are still being processed.
    fn function(&self, input: &str, queue_arn: &str) -> Result<(String, Option<String>, String), AwsError> {
        let r = FunctionRef::parse(input).map_err(|e| AwsError::invalid_parameter(e.0))?;
        match self.scheduler.resolve(&r.name, r.qualifier.as_deref()) {
            Ok(resolved) => {
                let visibility = self
                    .engine
                    .queue_by_arn(queue_arn)
                    .map(|q| q.state.lock().config.visibility_timeout_secs)
                    .unwrap_or(u32::MAX);
                let timeout = resolved.version.timeout_secs;
                if visibility < timeout {
                    return Err(AwsError::invalid_parameter(format!(
                        "Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds"
                    )));
                }
            }
            Err(InvokeError::NotFound(m)) => return Err(AwsError::not_found(m)),
            Err(InvokeError::Invalid(m)) => return Err(AwsError::invalid_parameter(m)),
            Err(e) => return Err(AwsError::service(e.to_string())),
        }
        let partition = self.scheduler.config().partition();
        let arn = match &r.qualifier {
            Some(q) => partition.qualified_arn(&r.name, q),
            None => partition.function_arn(&r.name),
        };
        Ok((r.name, r.qualifier, arn))
    }
}

/// Lambda's request fields for Create and Update.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingInput {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingInput>,
    filter_criteria: Option<Value>,
    starting_position: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScalingInput {
    maximum_concurrency: Option<i64>,
}

fn parse_input(body: &Bytes) -> Result<MappingInput, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(MappingInput::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AwsError::invalid_request_content(format!("Could not parse request body into json: {e}")))
}

/// Applies and validates the tunable fields onto `m`.
fn apply(m: &mut Mapping, input: &MappingInput, fifo: bool) -> Result<(), AwsError> {
    if let Some(b) = input.batch_size {
        if !(1..=10_000).contains(&b) {
            return Err(AwsError::invalid_parameter(format!(
                "1 validation error detected: Value '{b}' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"
            )));
        }
        m.batch_size = b as u32;
    }
    if let Some(w) = input.maximum_batching_window_in_seconds {
        if !(0..=300).contains(&w) {
            return Err(AwsError::invalid_parameter(format!(
                "1 validation error detected: Value '{w}' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"
            )));
        }
        m.max_batching_window_secs = w as u32;
    }
    if fifo && m.batch_size > 10 {
        return Err(AwsError::invalid_parameter("Batch size for SQS FIFO queues must be less than or equal to 10."));
    }
    if fifo && m.max_batching_window_secs > 0 {
        return Err(AwsError::invalid_parameter("Batching window is not supported for FIFO queues"));
    }
    if m.batch_size > 10 && m.max_batching_window_secs == 0 {
        return Err(AwsError::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    if let Some(types) = &input.function_response_types {
        if types.iter().any(|t| t != "ReportBatchItemFailures") {
            return Err(AwsError::invalid_parameter(
                "1 validation error detected: Value at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]",
            ));
        }
        m.report_batch_item_failures = !types.is_empty();
    }
    if let Some(s) = &input.scaling_config {
        match s.maximum_concurrency {
            None => m.max_concurrency = None,
            Some(n) if (2..=1000).contains(&n) => m.max_concurrency = Some(n as u32),
            Some(n) => {
                return Err(AwsError::invalid_parameter(format!(
                    "1 validation error detected: Value '{n}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value between 2 and 1000"
                )))
            }
        }
    }
    if let Some(f) = &input.filter_criteria {
        filter_patterns(f).map_err(|_| AwsError::invalid_parameter("Invalid filter pattern definition."))?;
        m.filter_criteria = Some(f.clone());
    }
    if let Some(e) = input.enabled {
        m.enabled = e;
    }
    Ok(())
}

/// The patterns of a `FilterCriteria` value (`{"Filters": [{"Pattern": "..."}]}`,
/// at most 5 as in Lambda); an empty list lets every message through.
pub fn filter_patterns(criteria: &Value) -> Result<Vec<EventPattern>, String> {
    let filters = match criteria.get("Filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(filters)) => filters,
        Some(_) => return Err("Filters must be a list".into()),
    };
    if filters.len() > 5 {
        return Err("at most 5 filters".into());
    }
    filters
        .iter()
        .map(|f| f.get("Pattern").and_then(Value::as_str).ok_or("a filter without Pattern").map_err(String::from))
        .map(|p| p.and_then(EventPattern::parse))
        .collect()
}

fn now_secs() -> f64 {
    (chrono::Utc::now().timestamp_millis() as f64) / 1000.0
}

/// Lambda's error response.
pub struct LambdaError(pub AwsError);

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.status >= 500 {
            tracing::error!(error_type = e.kind, message = %e.message, "event source mapping request failed");
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, serde_json::to_vec(&e.body()).unwrap_or_default()).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-errortype", HeaderValue::from_static(e.kind));
        resp
    }
}

impl From<AwsError> for LambdaError {
    fn from(e: AwsError) -> Self {
        Self(e)
    }
}

type Answer = Result<(StatusCode, axum::Json<Value>), LambdaError>;

fn not_found() -> AwsError {
    AwsError::not_found("The resource you requested does not exist.")
}

pub async fn create(State(me): State<Arc<Mappings>>, body: Bytes) -> Answer {
    let input = parse_input(&body)?;
    let function =
        input.function_name.as_deref().ok_or_else(|| AwsError::invalid_parameter("FunctionName is required"))?;
    let arn = input
        .event_source_arn
        .clone()
        .ok_or_else(|| AwsError::invalid_parameter("Unrecognized event source, must be an Amazon SQS queue ARN."))?;
    if !arn.starts_with("arn:aws:sqs:") {
        return Err(AwsError::invalid_parameter(format!(
            "Unsupported event source type for {arn}: Lamina maps Amazon SQS queues."
        ))
        .into());
    }
    if input.starting_position.is_some() {
        return Err(AwsError::invalid_parameter("StartingPosition is not valid for SQS event sources.").into());
    }
    let queue = me.engine.queue_by_arn(&arn).ok_or_else(|| {
        AwsError::invalid_parameter(
            "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.",
        )
    })?;
    let fifo = queue.state.lock().config.fifo;
    let (name, qualifier, function_arn) = me.function(function, &arn)?;
    let _guard = me.writes.lock().await;
    let duplicate = me.entries.lock().values().find_map(|e| {
        (e.mapping.event_source_arn == arn && e.mapping.function_arn == function_arn).then(|| e.mapping.uuid.clone())
    });
    if let Some(uuid) = duplicate {
        return Err(AwsError::conflict(format!(
            "An event source mapping with SQS arn (\" {arn} \") and function (\" {name} \") already exists. Please update or delete the existing mapping with UUID {uuid}"
        ))
        .into());
    }
    let mut m = Mapping {
        uuid: uuid::Uuid::new_v4().to_string(),
        event_source_arn: arn,
        function_name: name,
        qualifier,
        function_arn,
        batch_size: DEFAULT_BATCH_SIZE,
        max_batching_window_secs: 0,
        enabled: true,
        report_batch_item_failures: false,
        max_concurrency: None,
        filter_criteria: None,
        last_modified: now_secs(),
    };
    apply(&mut m, &input, fifo)?;
    me.persist(&m).await?;
    let out = me.render(&m, if m.enabled { "Creating" } else { "Disabled" });
    me.install(m);
    Ok((StatusCode::ACCEPTED, axum::Json(out)))
}

pub async fn get(State(me): State<Arc<Mappings>>, Path(uuid): Path<String>) -> Answer {
    let entries = me.entries.lock();
    let e = entries.get(&uuid).ok_or_else(not_found)?;
    Ok((StatusCode::OK, axum::Json(me.render(&e.mapping, me.state_of(&e.mapping)))))
}

pub async fn update(State(me): State<Arc<Mappings>>, Path(uuid): Path<String>, body: Bytes) -> Answer {
    let input = parse_input(&body)?;
    let _guard = me.writes.lock().await;
    let mut m = me.entries.lock().get(&uuid).map(|e| e.mapping.clone()).ok_or_else(not_found)?;
    let was_enabled = m.enabled;
    if let Some(f) = &input.function_name {
        let (name, qualifier, arn) = me.function(f, &m.event_source_arn)?;
        m.function_name = name;
        m.qualifier = qualifier;
        m.function_arn = arn;
    }
    let fifo = me.engine.queue_by_arn(&m.event_source_arn).is_some_and(|q| q.state.lock().config.fifo);
    apply(&mut m, &input, fifo)?;
    m.last_modified = now_secs();
    me.persist(&m).await?;
    let state = match (was_enabled, m.enabled) {
        (false, true) => "Enabling",
        (true, false) => "Disabling",
        _ => "Updating",
    };
    let out = me.render(&m, state);
    me.install(m);
    Ok((StatusCode::ACCEPTED, axum::Json(out)))
}

pub async fn delete(State(me): State<Arc<Mappings>>, Path(uuid): Path<String>) -> Answer {
    let _guard = me.writes.lock().await;
    let removed = me.entries.lock().remove(&uuid).ok_or_else(not_found)?;
    if let Some(stop) = &removed.stop {
        stop.send_replace(true);
    }
    me.engine
        .writer
        .submit(vec![Op::DeleteMapping { uuid: uuid.clone() }])
        .durable()
        .await
        .map_err(AwsError::service)?;
    Ok((StatusCode::ACCEPTED, axum::Json(me.render(&removed.mapping, "Deleting"))))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "EventSourceArn")]
    event_source_arn: Option<String>,
    #[serde(rename = "FunctionName")]
    function_name: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
}

pub async fn list(State(me): State<Arc<Mappings>>, Query(q): Query<ListQuery>) -> Answer {
    let function = match &q.function_name {
        Some(f) => Some(FunctionRef::parse(f).map_err(|e| AwsError::invalid_parameter(e.0))?),
        None => None,
    };
    let start: usize = match &q.marker {
        Some(m) => m.parse().map_err(|_| AwsError::invalid_parameter("Invalid Marker."))?,
        None => 0,
    };
    let max = q.max_items.unwrap_or(100).clamp(1, 10_000);
    let entries = me.entries.lock();
    let all: Vec<&Mapping> = entries
        .values()
        .map(|e| &e.mapping)
        .filter(|m| q.event_source_arn.as_ref().is_none_or(|a| &m.event_source_arn == a))
        .filter(|m| {
            function
                .as_ref()
                .is_none_or(|f| f.name == m.function_name && (f.qualifier.is_none() || f.qualifier == m.qualifier))
        })
        .collect();
    let page: Vec<Value> = all.iter().skip(start).take(max).map(|m| me.render(m, me.state_of(m))).collect();
    let mut out = json!({ "EventSourceMappings": page });
    if start + max < all.len() {
        out["NextMarker"] = json!((start + max).to_string());
    }
    Ok((StatusCode::OK, axum::Json(out)))
}
