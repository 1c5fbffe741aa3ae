//! Queues compatible with SQS, and the event source mappings that drain
//! them into functions.
//!
//! - [`router`] serves SQS in both wire protocols ([`protocol`]: json with
//!   `X-Amz-Target: AmazonSQS.*`, and the query protocol's `Action=` forms)
//!   through the actions in [`api`].
//! - [`engine::Engine`] is the queue service: queues in memory
//!   ([`queue::QueueState`] decides who receives what — visibility,
//!   FIFO groups, redrive, retention), long polling woken by sends, and
//!   durability through [`store`], a single writer thread that group-commits
//!   `<data_dir>/queues.sqlite` (WAL, synchronous=FULL) before any 200.
//! - [`event_source_mappings_router`] serves Lambda's event source mapping
//!   operations ([`mappings`]); each enabled mapping runs
//!   `MaximumConcurrency` [`poller`]s that invoke the function through the
//!   scheduler with Lambda's SQS event.
//!
//! Both routers share one [`Service`] per scheduler, opened on first use.
//! The service ends its long polls and pollers when the process receives
//! SIGTERM or SIGINT (the server's own shutdown signals), so neither holds
//! up a graceful stop.

pub mod api;
pub mod engine;
pub mod error;
pub mod mappings;
pub mod model;
pub mod poller;
pub mod protocol;
pub mod queue;
pub mod store;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::HeaderMap;
use lamina_scheduler::services::PerScheduler;
use lamina_scheduler::Scheduler;
use std::sync::{Arc, Weak};
use std::time::Duration;

use engine::Engine;
use error::SqsError;
use mappings::Mappings;

/// The queue service of one server: the engine and the mappings.
pub struct Service {
    pub engine: Arc<Engine>,
    pub mappings: Arc<Mappings>,
}

/// Open services, one per scheduler (both routers of a server share one).
static SERVICES: PerScheduler<Service> = PerScheduler::new();

impl Service {
    /// Opens `<data_dir>/queues.sqlite`, restores queues and mappings, and
    /// starts the background tasks (sweeper, shutdown watch, pollers).
    pub fn open(scheduler: Arc<Scheduler>) -> Result<Arc<Self>, SqsError> {
        let config = scheduler.config();
        std::fs::create_dir_all(&config.data_dir).map_err(|e| SqsError::Internal(e.to_string()))?;
        let (writer, mut loaded) = store::open(&config.data_dir.join("queues.sqlite"))?;
        let engine = Engine::new(
            config.region.clone(),
            config.account_id.clone(),
            config.public_url.clone(),
            writer,
            &mut loaded,
        );
        let mappings = Mappings::start(engine.clone(), scheduler.clone(), &loaded.mappings);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(sweeper(Arc::downgrade(&engine)));
            tokio::spawn(stop_on_signal(Arc::downgrade(&engine)));
        }
        tracing::info!(queues = engine.list_queues(None).len(), "queue service ready");
        Ok(Arc::new(Self { engine, mappings }))
    }

    /// The service for this scheduler, opening it on first use.
    pub fn for_scheduler(scheduler: &Arc<Scheduler>) -> Result<Arc<Self>, SqsError> {
        SERVICES.get_or_open(scheduler, || Self::open(scheduler.clone()))
    }
}

/// Retention expiry every second; dedup-window cleanup every minute.
async fn sweeper(engine: Weak<Engine>) {
    let mut ticks: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(e) = engine.upgrade() else { return };
        if e.is_shut_down() {
            return;
        }
        ticks += 1;
        e.sweep(ticks.is_multiple_of(60));
    }
}

async fn stop_on_signal(engine: Weak<Engine>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    if let Some(e) = engine.upgrade() {
        tracing::info!("queue service stopping: long polls answered, pollers stopped");
        e.shut_down();
    }
}

/// This service's routes, state applied. The front door sends it the
/// requests that are for it (see `lamina-server`'s `front_door`).
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    match Service::for_scheduler(&scheduler) {
        Ok(svc) => Router::new().fallback(handle).with_state(svc),
        Err(e) => {
            tracing::error!(error = %e, "the queue service cannot open its data; SQS requests will fail");
            Router::new().fallback(move || {
                let e = e.clone();
                async move { e.json_response() }
            })
        }
    }
}

/// One SQS request in either protocol.
async fn handle(
    State(svc): State<Arc<Service>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match protocol::decode(uri.path(), uri.query(), &headers, &body) {
        Ok(c) => c,
        Err((p, e)) => return protocol::error(p, &uuid::Uuid::new_v4().to_string(), &e),
    };
    let mut resp = match api::dispatch(&svc.engine, &call.action, &call.params).await {
        Ok(out) => protocol::respond(&call, out),
        Err(e) => protocol::error(call.protocol, &call.request_id, &e),
    };
    if let Ok(v) = http::HeaderValue::from_str(&call.request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp.into_response()
}

/// Lambda's event source mapping operations (`/2015-03-31/event-source-mappings/...`),
/// merged into the main router by path.
pub fn event_source_mappings_router(scheduler: Arc<Scheduler>) -> Router {
    let svc = match Service::for_scheduler(&scheduler) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the queue service cannot open its data; event source mappings are unavailable");
            return Router::new();
        }
    };
    Router::new()
        .route("/2015-03-31/event-source-mappings", get(mappings::list).post(mappings::create))
        .route("/2015-03-31/event-source-mappings/", get(mappings::list).post(mappings::create))
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(mappings::get).put(mappings::update).delete(mappings::delete),
        )
        .with_state(svc.mappings.clone())
}

/// Delivers failed asynchronous invocations to an SQS dead-letter queue
/// (a function's DeadLetterConfig.TargetArn), with Lambda's message
/// attributes RequestID and ErrorCode.
pub struct DeadLetters(pub Arc<Engine>);

impl lamina_scheduler::DeadLetterSink for DeadLetters {
    fn send<'a>(
        &'a self,
        target_arn: &'a str,
        request_id: &'a str,
        error: &'a str,
        payload: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let queue = self.0.queue_by_arn(target_arn).ok_or_else(|| format!("no queue {target_arn}"))?;
            let attr = |v: &str| model::AttrValue {
                data_type: "String".into(),
                string_value: Some(v.into()),
                binary_value: None,
            };
            let mut attributes = model::Attributes::new();
            attributes.insert("RequestID".into(), attr(request_id));
            attributes.insert("ErrorCode".into(), attr(error));
            let input = engine::SendInput {
                body: String::from_utf8_lossy(payload).into_owned(),
                delay_secs: None,
                attributes,
                trace_header: None,
                group_id: None,
                dedup_id: None,
            };
            match self.0.send(&queue, vec![input]).await.into_iter().next() {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("queue gave no answer".into()),
            }
        })
    }
}
