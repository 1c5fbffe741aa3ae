//! Sends event records to the targets of a bucket's notification
//! configuration.
//!
//! Configurations are held in memory (loaded at start, replaced by
//! PutBucketNotificationConfiguration), so an upload that matches nothing
//! costs a map lookup. A matching event is written to the outbox table
//! after the object's row is committed and before the request is answered,
//! then sent from a spawned task: functions get it as an asynchronous
//! invocation through the scheduler's durable queue (retries and DLQs
//! apply as for any `Event` invoke), queues as an SQS message, topics as an
//! SNS message with subject "Amazon S3 Notification". A notification leaves
//! the outbox only once its target holds it; failed sends are retried with
//! backoff, and whatever is still owed at start-up is sent again. So every
//! change answered with a 2xx is notified at least once, crash or not.

use lamina_core::FunctionRef;
use lamina_scheduler::Scheduler;
use parking_lot::RwLock;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::{S3Error, S3Result};
use crate::notify::{record, Happened, Kind, NotificationConfig, Target};
use crate::store::{Owed, Store};

/// First retry delay of a failed send; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
const MAX_ATTEMPTS: u32 = 10;

pub struct Notifier {
    scheduler: Weak<Scheduler>,
    store: Arc<Store>,
    configs: RwLock<HashMap<String, Arc<NotificationConfig>>>,
    sequence: AtomicU64,
}

impl Notifier {
    /// Loads the configurations and sends what the outbox still owes.
    pub fn load(scheduler: &Arc<Scheduler>, store: &Arc<Store>) -> S3Result<Self> {
        let mut configs = HashMap::new();
        for (bucket, json) in store.notifications()? {
            match serde_json::from_str::<NotificationConfig>(&json) {
                Ok(c) => {
                    configs.insert(bucket, Arc::new(c));
                }
                Err(e) => tracing::error!(bucket, error = %e, "unreadable notification configuration; ignored"),
            }
        }
        let owed = store.owed()?;
        if !owed.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
            tracing::info!(notifications = owed.len(), "sending bucket notifications owed from before the restart");
            for (id, owed) in owed {
                tokio::spawn(deliver_owed(scheduler.clone(), store.clone(), id, owed));
            }
        }
        Ok(Self {
            scheduler: Arc::downgrade(scheduler),
            store: store.clone(),
            configs: RwLock::new(configs),
            sequence: AtomicU64::new(0),
        })
    }

    pub fn config(&self, bucket: &str) -> NotificationConfig {
        self.configs.read().get(bucket).map(|c| (**c).clone()).unwrap_or_default()
    }

    pub fn forget(&self, bucket: &str) {
        self.configs.write().remove(bucket);
    }

    /// Installs a configuration and sends S3's `s3:TestEvent` to its queue
    /// and topic targets, as S3 does when a configuration is saved.
    pub fn set(&self, bucket: &str, config: NotificationConfig, request_id: &str) {
        let test = json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": crate::iso8601(lamina_core::now_ms()),
            "Bucket": bucket,
            "RequestId": request_id,
            "HostId": "lamina",
        })
        .to_string();
        if let Some(s) = self.scheduler.upgrade() {
            for t in config.targets.iter().filter(|t| t.kind != Kind::Lambda) {
                let owed = (kind_name(t.kind).to_string(), t.arn.clone(), test.clone());
                tokio::spawn(deliver_owed(s.clone(), self.store.clone(), 0, owed));
            }
        }
        self.configs.write().insert(bucket.to_string(), Arc::new(config));
    }

    /// `InvalidArgument` naming the first target that does not exist, as S3
    /// answers "Unable to validate the following destination configurations".
    pub fn validate(&self, config: &NotificationConfig) -> S3Result<()> {
        let Some(scheduler) = self.scheduler.upgrade() else {
            return Err(S3Error::Internal("the server is stopping".into()));
        };
        for t in &config.targets {
            let problem = match t.kind {
                Kind::Lambda => match FunctionRef::parse(&t.arn) {
                    Ok(f) if scheduler.resolve(&f.name, f.qualifier.as_deref()).is_ok() => None,
                    _ => Some(format!("Not authorized to invoke function [{}]", t.arn)),
                },
                Kind::Queue => match lamina_queue::Service::for_scheduler(&scheduler) {
                    Ok(q) if q.engine.queue_by_arn(&t.arn).is_some() => None,
                    _ => Some("Permissions on the destination queue do not allow S3 to publish notifications from this bucket".into()),
                },
                Kind::Topic => topic_problem(&scheduler, &t.arn),
            };
            if let Some(value) = problem {
                return Err(S3Error::invalid_argument(
                    "Unable to validate the following destination configurations",
                    &t.arn,
                    &value,
                ));
            }
        }
        Ok(())
    }

    /// Records `happened` as owed to every matching target of its bucket,
    /// then sends it. Call it after the change is committed and before
    /// answering.
    pub async fn emit(&self, happened: Happened<'_>) {
        let Some(config) = self.configs.read().get(happened.bucket).cloned() else { return };
        let targets: Vec<&Target> = config.matching(happened.event, happened.key).collect();
        if targets.is_empty() {
            return;
        }
        let Some(scheduler) = self.scheduler.upgrade() else { return };
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let sequencer = format!("{:016X}", ((happened.time_ms as u64) << 16) | (n & 0xFFFF));
        let owed: Vec<Owed> = targets
            .iter()
            .map(|t| {
                let message = json!({ "Records": [record(&happened, &t.id, &sequencer)] }).to_string();
                (kind_name(t.kind).to_string(), t.arn.clone(), message)
            })
            .collect();
        let store = self.store.clone();
        let rows = owed.clone();
        let ids = match tokio::task::spawn_blocking(move || store.add_owed(&rows)).await {
            Ok(Ok(ids)) => ids,
            outcome => {
                let error =
                    outcome.map_or_else(|e| e.to_string(), |r| r.err().map(|e| e.to_string()).unwrap_or_default());
                tracing::error!(
                    bucket = happened.bucket,
                    error,
                    "cannot record bucket notifications; sending them without a record"
                );
                vec![0; owed.len()]
            }
        };
        for (id, owed) in ids.into_iter().zip(owed) {
            tokio::spawn(deliver_owed(scheduler.clone(), self.store.clone(), id, owed));
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Lambda => "lambda",
        Kind::Queue => "queue",
        Kind::Topic => "topic",
    }
}

/// Sends one owed notification until its target holds it, then removes it
/// from the outbox (id 0: not recorded). A target that keeps refusing (it
/// was deleted, say) gets [`MAX_ATTEMPTS`] tries, about five minutes, before
/// the notification is dropped with an error in the log.
async fn deliver_owed(scheduler: Arc<Scheduler>, store: Arc<Store>, id: i64, (kind, arn, message): Owed) {
    let mut delay = FIRST_RETRY_DELAY;
    for attempt in 1..=MAX_ATTEMPTS {
        let result = match kind.as_str() {
            "lambda" => to_function(scheduler.clone(), &arn, message.clone()).await,
            "queue" => to_queue(&scheduler, &arn, message.clone()).await,
            "topic" => to_topic(&scheduler, &arn, message.clone()).await,
            other => Err(format!("unknown target kind {other}")),
        };
        match result {
            Ok(()) => {
                tracing::debug!(target = arn, "bucket notification sent");
                break;
            }
            Err(e) if attempt == MAX_ATTEMPTS => {
                tracing::error!(target = arn, error = e, attempts = attempt, "bucket notification dropped");
            }
            Err(e) => {
                tracing::warn!(target = arn, error = e, retry_in = ?delay, "bucket notification not delivered; will retry");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
    }
    if id > 0 {
        let removed = tokio::task::spawn_blocking(move || store.delivered(id)).await;
        if !matches!(removed, Ok(Ok(()))) {
            tracing::warn!("a delivered bucket notification stays in the outbox; it may be sent again at start-up");
        }
    }
}

async fn to_function(scheduler: Arc<Scheduler>, arn: &str, message: String) -> Result<(), String> {
    let f = FunctionRef::parse(arn).map_err(|e| e.0)?;
    let request_id = lamina_scheduler::new_request_id();
    tokio::task::spawn_blocking(move || {
        scheduler.enqueue(&f.name, f.qualifier.as_deref(), &request_id, message.as_bytes()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn to_queue(scheduler: &Arc<Scheduler>, arn: &str, message: String) -> Result<(), String> {
    let svc = lamina_queue::Service::for_scheduler(scheduler).map_err(|e| e.to_string())?;
    let queue = svc.engine.queue_by_arn(arn).ok_or_else(|| format!("no queue {arn}"))?;
    let input = lamina_queue::engine::SendInput {
        body: message,
        delay_secs: None,
        attributes: Default::default(),
        trace_header: None,
        group_id: None,
        dedup_id: None,
    };
    match svc.engine.send(&queue, vec![input]).await.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("queue gave no answer".into()),
    }
}

fn topic_problem(scheduler: &Arc<Scheduler>, arn: &str) -> Option<String> {
    match lamina_topic::Service::for_scheduler(scheduler) {
        Ok(t) if t.topic(arn).is_ok() => None,
        _ => Some(
            "Permissions on the destination topic do not allow S3 to publish notifications from this bucket".into(),
        ),
    }
}

async fn to_topic(scheduler: &Arc<Scheduler>, arn: &str, message: String) -> Result<(), String> {
    let svc = lamina_topic::Service::for_scheduler(scheduler).map_err(|e| e.to_string())?;
    let arn = arn.to_string();
    tokio::task::spawn_blocking(move || {
        svc.publish(&arn, Some("Amazon S3 Notification"), &message, &Default::default()).map(|_| ())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}
