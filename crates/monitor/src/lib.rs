//! The CloudWatch metrics API, so dashboards and scripts written for AWS
//! read Lamina's `AWS/Lambda` metrics, plus custom metrics and alarms.
//!
//! - [`router`] serves CloudWatch in its three wire protocols ([`wire`]:
//!   smithy-rpc-v2-cbor, json — what boto3 and the AWS CLI send — and
//!   query) through [`api::dispatch`].
//! - [`metrics::Metrics`] answers ListMetrics / GetMetricStatistics /
//!   GetMetricData from the scheduler's per-minute series
//!   (`lamina_scheduler::series`) and `<data_dir>/metrics.sqlite`
//!   ([`store`]); [`stats`] turns minutes into periods and statistics.
//! - [`alarms::Alarms`] keeps metric alarms and evaluates them on a timer;
//!   [`actions`] runs a change of state's actions (Lambda functions through
//!   the scheduler's durable queue, SNS topics through `lamina-topic`).
//!
//! One [`Service`] per scheduler, opened on first use. Its background task
//! stores each minute of the series once the minute closes (and every
//! minute on shutdown, through [`shutdown`]), drops data past 15 days, and
//! evaluates alarms every `LAMINA_ALARM_EVAL_SECS` seconds (default 60).

pub mod actions;
pub mod alarms;
pub mod api;
pub mod cbor;
pub mod error;
pub mod input;
pub mod metrics;
pub mod query;
pub mod stats;
pub mod store;
pub mod wire;

use alarms::Alarms;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::Router;
use error::CwError;
use http::HeaderMap;
use lamina_scheduler::services::PerScheduler;
use lamina_scheduler::Scheduler;
use metrics::Metrics;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often alarms are evaluated unless `LAMINA_ALARM_EVAL_SECS` says otherwise.
const DEFAULT_ALARM_EVAL_SECS: u64 = 60;
/// How often the flusher looks for a closed minute.
const FLUSH_CHECK: Duration = Duration::from_secs(5);

/// The metrics service of one server.
pub struct Service {
    pub metrics: Metrics,
    pub alarms: Alarms,
    scheduler: Weak<Scheduler>,
}

/// Open services, one per scheduler.
static SERVICES: PerScheduler<Service> = PerScheduler::new();

impl Service {
    /// Opens `<data_dir>/metrics.sqlite` and starts the background task.
    pub fn open(scheduler: &Arc<Scheduler>) -> Result<Arc<Self>, CwError> {
        let config = scheduler.config();
        std::fs::create_dir_all(&config.data_dir).map_err(|e| CwError::Internal(e.to_string()))?;
        let path = config.data_dir.join("metrics.sqlite");
        let metrics = Metrics::new(store::Store::open(&path)?);
        let alarms = Alarms::open(store::Store::open(&path)?, &config.region, &config.account_id)?;
        tracing::info!(alarms = alarms.len(), "metrics service ready");
        let svc = Arc::new(Self { metrics, alarms, scheduler: Arc::downgrade(scheduler) });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(background(Arc::downgrade(&svc), alarm_interval()));
        }
        Ok(svc)
    }

    /// The service for this scheduler, opening it on first use.
    pub fn for_scheduler(scheduler: &Arc<Scheduler>) -> Result<Arc<Self>, CwError> {
        SERVICES.get_or_open(scheduler, || Self::open(scheduler))
    }

    /// Stores the series' closed minutes (all of them when `include_open`).
    pub fn flush(&self, include_open: bool) {
        let Some(scheduler) = self.scheduler.upgrade() else { return };
        if let Err(e) = self.metrics.flush(&scheduler.series, include_open) {
            tracing::error!(error = %e, "cannot store metrics");
        }
    }

    /// One round of alarm evaluation, actions included.
    pub fn evaluate_alarms(&self) {
        let Some(scheduler) = self.scheduler.upgrade() else { return };
        for t in self.alarms.evaluate(&self.metrics, &scheduler.series) {
            tracing::info!(
                alarm = t.alarm.alarm_name,
                from = t.previous_value,
                to = t.alarm.state_value,
                "alarm state changed"
            );
            actions::run_actions(&scheduler, &t);
        }
    }
}

fn alarm_interval() -> Duration {
    let secs = std::env::var("LAMINA_ALARM_EVAL_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_ALARM_EVAL_SECS);
    Duration::from_secs(secs)
}

/// Flushes closed minutes, purges old data hourly, evaluates alarms.
async fn background(svc: Weak<Service>, alarm_every: Duration) {
    let mut last_minute = lamina_scheduler::series::now_minute();
    let mut last_purge = std::time::Instant::now();
    let mut next_alarms = tokio::time::Instant::now() + alarm_every;
    loop {
        let wake = next_alarms.min(tokio::time::Instant::now() + FLUSH_CHECK);
        tokio::time::sleep_until(wake).await;
        let Some(svc) = svc.upgrade() else { return };
        let minute = lamina_scheduler::series::now_minute();
        if minute != last_minute {
            last_minute = minute;
            let worker = svc.clone();
            let _ = tokio::task::spawn_blocking(move || worker.flush(false)).await;
        }
        if last_purge.elapsed() > Duration::from_secs(3600) {
            last_purge = std::time::Instant::now();
            let worker = svc.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || worker.metrics.purge()).await {
                tracing::warn!(error = %e, "cannot purge old metrics");
            }
        }
        if tokio::time::Instant::now() >= next_alarms {
            next_alarms = tokio::time::Instant::now() + alarm_every;
            let worker = svc.clone();
            let _ = tokio::task::spawn_blocking(move || worker.evaluate_alarms()).await;
        }
    }
}

/// Stores every minute still only in memory; the server calls it once it
/// has stopped serving.
pub fn shutdown(scheduler: &Arc<Scheduler>) {
    if let Some(svc) = SERVICES.get(scheduler) {
        svc.flush(true);
    }
}

/// This service's routes. The front door sends it the requests that are
/// for it (see `lamina-server`'s `front_door`).
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    match Service::for_scheduler(&scheduler) {
        Ok(svc) => Router::new().fallback(handle).with_state(svc),
        Err(e) => {
            tracing::error!(error = %e, "the metrics service cannot open its data; CloudWatch requests will fail");
            Router::new().fallback(move |OriginalUri(uri): OriginalUri, headers: HeaderMap| {
                let e = e.clone();
                async move { wire::error(wire::protocol_of(uri.path(), &headers), &e, &uuid::Uuid::new_v4().to_string()) }
            })
        }
    }
}

/// One CloudWatch request in any protocol.
async fn handle(
    State(svc): State<Arc<Service>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let call = match wire::decode(uri.path(), uri.query(), &headers, &body) {
        Ok(c) => c,
        Err((protocol, e)) => return wire::error(protocol, &e, &request_id),
    };
    let Some(scheduler) = svc.scheduler.upgrade() else {
        return wire::error(call.protocol, &CwError::Internal("The server is stopping.".into()), &request_id);
    };
    let worker = svc.clone();
    let (operation, input) = (call.operation.clone(), call.input);
    let outcome = tokio::task::spawn_blocking(move || {
        let run_actions = |t: &alarms::Transition| actions::run_actions(&scheduler, t);
        let cx = api::Context {
            metrics: &worker.metrics,
            alarms: &worker.alarms,
            series: &scheduler.series,
            actions: &run_actions,
        };
        api::dispatch(&cx, &operation, &input)
    })
    .await
    .unwrap_or_else(|e| Err(CwError::Internal(format!("the operation failed: {e}"))));
    match outcome {
        Ok(output) => wire::respond(call.protocol, &call.operation, &output, &request_id),
        Err(e) => wire::error(call.protocol, &e, &request_id),
    }
}
