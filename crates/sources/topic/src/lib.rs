//! Pub/sub topics compatible with SNS (query protocol, `2010-03-31`),
//! fanning each message out to functions, queues and HTTP endpoints.
//!
//! - [`router`] serves SNS's actions ([`api`]) in its query protocol
//!   ([`xml`]: form-encoded `Action=` requests, XML answers and
//!   `<ErrorResponse>` errors from [`error`]); the front door sends it the
//!   requests whose SigV4 scope names `sns`.
//! - [`Service`] ([`service`]) keeps topics and subscriptions ([`model`])
//!   in memory, written through to `<data_dir>/topics.sqlite` ([`store`]).
//!   Publish matches each confirmed subscription's filter policy
//!   ([`filter`]), renders what that subscriber receives ([`envelope`]) and
//!   writes it to the outbox in the transaction that accepts the message;
//!   [`delivery`] drains the outbox to the scheduler's async queue, to SQS
//!   queues and to http/https endpoints ([`tls`]), with retries; http and
//!   https follow their `DeliveryPolicy` ([`delivery_policy`]).
//! - [`confirmation_router`] answers the SubscribeURL / UnsubscribeURL that
//!   notifications carry (`GET /_sns/?Action=ConfirmSubscription...`).
//!
//! Other crates publish through [`Service::for_scheduler`] and
//! [`Service::publish`] (S3 bucket notifications do).

pub mod api;
pub mod delivery;
pub mod delivery_policy;
pub mod envelope;
pub mod error;
pub mod filter;
pub mod model;
pub mod service;
pub mod store;
pub mod tls;
pub mod xml;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{HeaderValue, StatusCode};
use lamina_scheduler::services::PerScheduler;
use lamina_scheduler::Scheduler;

pub use error::TopicError;
pub use model::MessageAttribute;
pub use service::{PublishInput, Published, Service};

/// Open services, one per scheduler (the routers and other crates share it).
static SERVICES: PerScheduler<Service> = PerScheduler::new();

impl Service {
    /// Opens `<data_dir>/topics.sqlite`, restores topics and subscriptions,
    /// and starts the outbox worker (which first delivers what a previous
    /// run left owed).
    pub fn open(scheduler: Arc<Scheduler>) -> Result<Arc<Self>, TopicError> {
        let data_dir = scheduler.config().data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|e| TopicError::Internal(format!("{}: {e}", data_dir.display())))?;
        let store = store::Store::open(&data_dir.join("topics.sqlite"))?;
        let owed = store.outbox_len()?;
        let svc = Arc::new(Self::new(scheduler, store)?);
        delivery::start(&svc);
        tracing::info!(topics = svc.topic_count(), owed_deliveries = owed, "topic service ready");
        Ok(svc)
    }

    /// The service for this scheduler, opening it on first use.
    pub fn for_scheduler(scheduler: &Arc<Scheduler>) -> Result<Arc<Self>, TopicError> {
        SERVICES.get_or_open(scheduler, || Self::open(scheduler.clone()))
    }

    /// Publishes to a standard topic, as the Publish action does; returns
    /// the MessageId once every matching subscriber's delivery is durably
    /// queued. `NotFound` when the topic does not exist.
    pub fn publish(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
        attributes: &BTreeMap<String, MessageAttribute>,
    ) -> Result<String, TopicError> {
        let input = PublishInput {
            topic_arn: topic_arn.to_string(),
            message: message.to_string(),
            subject: subject.map(str::to_string),
            attributes: attributes.clone(),
            ..PublishInput::default()
        };
        Ok(self.publish_message(input)?.message_id)
    }
}

/// SNS's routes, state applied.
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    match Service::for_scheduler(&scheduler) {
        Ok(svc) => Router::new().fallback(handle).with_state(svc),
        Err(e) => {
            tracing::error!(error = %e, "the topic service cannot open its data; SNS requests will fail");
            Router::new().fallback(move || {
                let e = e.clone();
                async move { e.xml_response(&uuid::Uuid::new_v4().to_string()) }
            })
        }
    }
}

/// The SubscribeURL / UnsubscribeURL endpoint (`/_sns/`), merged by path.
pub fn confirmation_router(scheduler: Arc<Scheduler>) -> Router {
    match Service::for_scheduler(&scheduler) {
        Ok(svc) => Router::new().route("/_sns", get(confirm_link)).route("/_sns/", get(confirm_link)).with_state(svc),
        Err(_) => Router::new(),
    }
}

/// One SNS request.
async fn handle(State(svc): State<Arc<Service>>, OriginalUri(uri): OriginalUri, body: Bytes) -> Response {
    let params = xml::Params::parse(uri.query(), &body);
    let request_id = uuid::Uuid::new_v4().to_string();
    let Some(action) = params.get("Action") else {
        return TopicError::InvalidParameter("Invalid parameter: Action".into()).xml_response(&request_id);
    };
    let action = action.to_string();
    // Actions write SQLite with synchronous=FULL: off the async workers.
    let rid = request_id.clone();
    let result = tokio::task::spawn_blocking(move || api::dispatch(&svc, &action, &params, &rid))
        .await
        .unwrap_or_else(|e| Err(TopicError::Internal(format!("sns action panicked: {e}"))));
    respond(result, &request_id)
}

/// A GET on a link from a notification: only confirming and unsubscribing.
async fn confirm_link(State(svc): State<Arc<Service>>, OriginalUri(uri): OriginalUri) -> Response {
    let params = xml::Params::parse(uri.query(), b"");
    let request_id = uuid::Uuid::new_v4().to_string();
    match params.get("Action") {
        Some(action @ ("ConfirmSubscription" | "Unsubscribe")) => {
            respond(api::dispatch(&svc, action, &params, &request_id), &request_id)
        }
        other => TopicError::InvalidAction(other.unwrap_or("").to_string()).xml_response(&request_id),
    }
}

fn respond(result: Result<String, TopicError>, request_id: &str) -> Response {
    let mut resp = match result {
        Ok(doc) => {
            let mut r = (StatusCode::OK, doc).into_response();
            r.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
            r
        }
        Err(e) => e.xml_response(request_id),
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}
