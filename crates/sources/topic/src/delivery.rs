//! The outbox worker: delivers what Publish (and Subscribe, for HTTP
//! confirmations) queued in `topics.sqlite`, and deletes each row only
//! once its delivery is done or given up.
//!
//! - lambda: an `Event` invocation through the scheduler's durable async
//!   queue ([`Scheduler::enqueue`]); the function's async retries and
//!   destinations apply from there.
//! - sqs: a send into the Lamina queue named by the ARN (the engine commits
//!   it before returning); raw deliveries carry the message attributes as
//!   SQS message attributes, and FIFO queues get the group and dedup ids.
//! - http/https: a POST with SNS's headers; any 2xx is delivered.
//!
//! Retry policy: an http/https delivery that fails (connection or TLS
//! error, timeout after 15 s, non-2xx) is retried as its subscription's
//! effective `DeliveryPolicy` says ([`crate::delivery_policy`]; SNS's
//! default is 3 retries 20 seconds apart), and sent no faster than its
//! `maxReceivesPerSecond`. Lambda and SQS deliveries fail only when the
//! platform cannot take them (no such queue, the store refused the event);
//! they are retried with a doubling delay capped at 60 seconds, up to 12
//! attempts. A retry's time is written to the outbox row, so retries owed
//! survive a restart. A given-up notification whose subscription has a
//! `RedrivePolicy` goes to that dead-letter queue as an SQS delivery would
//! (envelope or raw body): its row is replaced by the redrive row in one
//! transaction, so the handoff survives a crash. Failed attempts are logged
//! at info, dropped deliveries at warn (with the error chain: a refused
//! certificate says so). At least once: a crash between delivering and deleting the row
//! delivers again on restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use lamina_core::FunctionRef;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::delivery_policy::HttpPolicy;
use crate::error::{TopicError, TopicResult};
use crate::model::MessageAttribute;
use crate::service::Service;
use crate::store::OutboxRow;
use crate::tls;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lambda,
    Sqs,
    Http,
}

/// One delivery owed to one subscriber, complete (rendered at publish time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub kind: Kind,
    pub subscription_arn: String,
    pub topic_arn: String,
    /// Function ARN, queue ARN or URL.
    pub target: String,
    /// `Notification` or `SubscriptionConfirmation` (the HTTP header).
    pub message_type: String,
    pub message_id: String,
    pub body: String,
    pub raw: bool,
    /// SQS message attributes for raw deliveries.
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// A given-up delivery on its way to its subscription's dead-letter
    /// queue (given up in turn, it is dropped).
    #[serde(default)]
    pub redriven: bool,
}

impl Delivery {
    pub fn encode(&self) -> TopicResult<String> {
        serde_json::to_string(self).map_err(|e| TopicError::Internal(format!("encoding a delivery: {e}")))
    }
}

const PLATFORM_ATTEMPTS: u32 = 12;
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(500);
const BATCH: usize = 64;
const MAX_IN_FLIGHT: usize = 32;

/// Delay before a Lambda or SQS delivery's attempt `attempts + 1`, after
/// `attempts` failures (http/https follow their delivery policy instead).
pub fn platform_backoff(attempts: u32) -> Option<Duration> {
    if attempts >= PLATFORM_ATTEMPTS {
        return None;
    }
    let secs = 1u64 << attempts.saturating_sub(1).min(16);
    Some(Duration::from_secs(secs.min(60)))
}

/// Deliveries under way: outbox row ids, the FIFO subscriptions that have
/// one (a FIFO subscription gets one delivery at a time, in order), and
/// the outcomes not yet written back. A row stays claimed until its
/// outcome is written, so it is never picked up twice.
#[derive(Default)]
struct Running {
    rows: HashSet<i64>,
    fifo_subscriptions: HashSet<String>,
    /// FIFO rows under way → their subscription.
    fifo_rows: HashMap<i64, String>,
    settled: Vec<Settled>,
    /// Throttled subscriptions → when they may be sent to next.
    next_send: HashMap<String, Instant>,
}

/// What a finished attempt leaves in the outbox.
pub enum Settled {
    /// Delivered or given up: the row goes.
    Done { id: i64 },
    /// Failed: tried again at `not_before_ms`.
    Retry { id: i64, attempts: u32, not_before_ms: i64 },
    /// Given up: the row goes, and `delivery` (an encoded [`Delivery`] to
    /// the dead-letter queue) takes its place in the same transaction.
    Redrive { id: i64, delivery: String },
}

impl Settled {
    pub fn id(&self) -> i64 {
        match self {
            Self::Done { id } | Self::Retry { id, .. } | Self::Redrive { id, .. } => *id,
        }
    }
}

/// Runs the worker until the service is dropped.
pub(crate) fn start(service: &Arc<Service>) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let weak = Arc::downgrade(service);
    let wake = service.wake.clone();
    tokio::spawn(async move {
        let running: Arc<Mutex<Running>> = Arc::default();
        loop {
            let Some(svc) = weak.upgrade() else { return };
            write_back(&svc, &running);
            let rows = svc.inner.lock().store.due(lamina_core::now_ms(), BATCH);
            match rows {
                Ok(rows) => {
                    for row in rows {
                        if running.lock().rows.len() >= MAX_IN_FLIGHT {
                            break;
                        }
                        if let Some((d, policy)) = claim(&svc, &running, &row) {
                            let (weak, running, wake) = (Arc::downgrade(&svc), running.clone(), wake.clone());
                            tokio::spawn(async move {
                                let attempt = Attempt { row: &row, delivery: &d, policy };
                                if let Some(outcome) = run_one(weak, attempt).await {
                                    running.lock().settled.push(outcome);
                                }
                                wake.notify_one();
                            });
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the topic outbox"),
            }
            // Sleep until woken, the next retry falls due, or POLL at most.
            let now = lamina_core::now_ms();
            let next_ms = svc.inner.lock().store.next_due_after(now).ok().flatten();
            let sleep =
                next_ms.map_or(POLL, |at| POLL.min(Duration::from_millis(at.saturating_sub(now).max(1) as u64)));
            drop(svc);
            let _ = tokio::time::timeout(sleep, wake.notified()).await;
        }
    });
}

/// Writes finished attempts back in one transaction (one fsync for many
/// deliveries), then releases their rows.
fn write_back(svc: &Service, running: &Mutex<Running>) {
    let settled = std::mem::take(&mut running.lock().settled);
    if settled.is_empty() {
        return;
    }
    if let Err(e) = svc.inner.lock().store.settle(&settled) {
        // The rows stay: delivered ones go out again (at least once).
        tracing::error!(error = %e, "cannot update the topic outbox");
    }
    let mut r = running.lock();
    for s in &settled {
        r.rows.remove(&s.id());
        if let Some(subscription) = r.fifo_rows.remove(&s.id()) {
            r.fifo_subscriptions.remove(&subscription);
        }
    }
}

/// Marks a row as under way unless it (or, for FIFO, its subscription)
/// already is; drops unreadable rows. An http/https row comes with its
/// delivery policy, and is put off (not claimed) while its subscription is
/// at its `maxReceivesPerSecond`.
fn claim(svc: &Service, running: &Mutex<Running>, row: &OutboxRow) -> Option<(Delivery, Option<HttpPolicy>)> {
    if running.lock().rows.contains(&row.id) {
        return None;
    }
    let d: Delivery = match serde_json::from_str(&row.body) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(id = row.id, error = %e, "unreadable outbox row dropped");
            let _ = svc.inner.lock().store.settle(&[Settled::Done { id: row.id }]);
            return None;
        }
    };
    let policy = (d.kind == Kind::Http).then(|| svc.http_policy(&d.subscription_arn, &d.topic_arn));
    let mut r = running.lock();
    if let Some(per_second) = policy.as_ref().and_then(|p| p.max_receives_per_second) {
        let now = Instant::now();
        let slot = r.next_send.get(&d.subscription_arn).copied().unwrap_or(now);
        if slot > now {
            let wait_ms = i64::try_from(slot.duration_since(now).as_millis()).unwrap_or(i64::MAX);
            let not_before_ms = lamina_core::now_ms().saturating_add(wait_ms);
            r.settled.push(Settled::Retry { id: row.id, attempts: row.attempts, not_before_ms });
            return None;
        }
        r.next_send.insert(d.subscription_arn.clone(), now + Duration::from_secs(1) / per_second);
    }
    if d.group_id.is_some() {
        if !r.fifo_subscriptions.insert(d.subscription_arn.clone()) {
            return None;
        }
        r.fifo_rows.insert(row.id, d.subscription_arn.clone());
    }
    r.rows.insert(row.id);
    Some((d, policy))
}

/// One attempt at one outbox row.
struct Attempt<'a> {
    row: &'a OutboxRow,
    delivery: &'a Delivery,
    /// For http/https: the policy in force when the row was claimed.
    policy: Option<HttpPolicy>,
}

/// One attempt; None when the service is gone.
async fn run_one(service: Weak<Service>, attempt: Attempt<'_>) -> Option<Settled> {
    let Attempt { row, delivery, policy } = attempt;
    let svc = service.upgrade()?;
    let outcome = match delivery.kind {
        Kind::Lambda => to_lambda(&svc, delivery),
        Kind::Sqs => to_queue(&svc, delivery).await,
        Kind::Http => to_http(delivery, policy.as_ref()).await,
    };
    let attempts = row.attempts + 1;
    let retry_in = match &policy {
        Some(p) => p.retry.delay(attempts),
        None => platform_backoff(attempts),
    };
    Some(match outcome {
        Ok(()) => {
            tracing::debug!(subscription = delivery.subscription_arn, message_id = delivery.message_id, "delivered");
            Settled::Done { id: row.id }
        }
        Err(why) => match retry_in {
            Some(delay) => {
                tracing::info!(
                    subscription = delivery.subscription_arn,
                    message_id = delivery.message_id,
                    attempts,
                    retry_in_ms = delay.as_millis() as u64,
                    error = why,
                    "delivery failed; will retry"
                );
                Settled::Retry { id: row.id, attempts, not_before_ms: lamina_core::now_ms() + delay.as_millis() as i64 }
            }
            None => give_up(&svc, row.id, delivery, attempts, &why),
        },
    })
}

/// A delivery out of retries: to its subscription's dead-letter queue when
/// it has one (and this is not already that redrive), dropped otherwise.
fn give_up(svc: &Service, id: i64, d: &Delivery, attempts: u32, why: &str) -> Settled {
    let dlq = if d.redriven { None } else { svc.dead_letter_queue(&d.subscription_arn) };
    let redrive = dlq.and_then(|queue| dead_letter(d, &queue)).map(|r| r.encode());
    if let Some(Ok(delivery)) = redrive {
        tracing::info!(
            subscription = d.subscription_arn,
            message_id = d.message_id,
            attempts,
            error = why,
            "delivery given up; redriven to the dead-letter queue"
        );
        return Settled::Redrive { id, delivery };
    }
    tracing::warn!(
        subscription = d.subscription_arn,
        endpoint = d.target,
        message_id = d.message_id,
        attempts,
        error = why,
        redriven = d.redriven,
        "delivery given up"
    );
    Settled::Done { id }
}

/// What the dead-letter queue `queue_arn` receives for a given-up
/// notification: what an SQS subscription would have (the JSON envelope,
/// or the message itself for raw delivery). Confirmations are not redriven.
pub fn dead_letter(d: &Delivery, queue_arn: &str) -> Option<Delivery> {
    if d.message_type != "Notification" {
        return None;
    }
    let body = match d.kind {
        Kind::Sqs | Kind::Http => d.body.clone(),
        Kind::Lambda => envelope_of_lambda_event(&d.body)?,
    };
    Some(Delivery { kind: Kind::Sqs, target: queue_arn.to_string(), body, redriven: true, ..d.clone() })
}

/// The notification envelope inside a Lambda SNS event (`Records[0].Sns`),
/// with the URL keys spelled as in SQS and HTTP notifications.
fn envelope_of_lambda_event(event: &str) -> Option<String> {
    let mut event: serde_json::Value = serde_json::from_str(event).ok()?;
    let sns = event.pointer_mut("/Records/0/Sns")?.as_object_mut()?;
    for (lambda_key, key) in [("SigningCertUrl", "SigningCertURL"), ("UnsubscribeUrl", "UnsubscribeURL")] {
        if let Some(v) = sns.remove(lambda_key) {
            sns.insert(key.to_string(), v);
        }
    }
    if sns.get("Subject").is_some_and(serde_json::Value::is_null) {
        sns.remove("Subject");
    }
    if sns.get("MessageAttributes").and_then(serde_json::Value::as_object).is_some_and(|a| a.is_empty()) {
        sns.remove("MessageAttributes");
    }
    serde_json::to_string(sns).ok()
}

fn to_lambda(svc: &Service, d: &Delivery) -> Result<(), String> {
    let target = FunctionRef::parse(&d.target).map_err(|e| e.0)?;
    let request_id = lamina_scheduler::new_request_id();
    svc.scheduler
        .enqueue(&target.name, target.qualifier.as_deref(), &request_id, d.body.as_bytes())
        .map_err(|e| e.to_string())?;
    tracing::info!(subscription = d.subscription_arn, function = target.name, request_id, "topic invoked a function");
    Ok(())
}

async fn to_queue(svc: &Service, d: &Delivery) -> Result<(), String> {
    use lamina_queue::{engine::SendInput, model::AttrValue};
    let queues = lamina_queue::Service::for_scheduler(&svc.scheduler).map_err(|e| e.to_string())?;
    let queue = queues.engine.queue_by_arn(&d.target).ok_or_else(|| format!("no queue {}", d.target))?;
    let fifo = d.target.ends_with(".fifo");
    let attributes = d
        .attributes
        .iter()
        .map(|(k, a)| {
            let binary_value = a.binary_value.as_ref().map(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            });
            (
                k.clone(),
                AttrValue { data_type: a.data_type.clone(), string_value: a.string_value.clone(), binary_value },
            )
        })
        .collect();
    let input = SendInput {
        body: d.body.clone(),
        delay_secs: None,
        attributes,
        trace_header: None,
        group_id: if fifo { Some(d.group_id.clone().unwrap_or_else(|| "sns".into())) } else { None },
        dedup_id: if fifo { Some(d.dedup_id.clone().unwrap_or_else(|| d.message_id.clone())) } else { None },
    };
    match queues.engine.send(&queue, vec![input]).await.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the queue gave no answer".into()),
    }
}

async fn to_http(d: &Delivery, policy: Option<&HttpPolicy>) -> Result<(), String> {
    let client = tls::shared().ok_or("TLS could not be set up (see the log), so nothing goes to http endpoints")?;
    let content_type = policy.map_or(crate::delivery_policy::DEFAULT_CONTENT_TYPE, |p| p.content_type.as_str());
    let mut req = http::Request::post(&d.target)
        .header("content-type", content_type)
        .header("user-agent", "Amazon Simple Notification Service Agent")
        .header("x-amz-sns-message-type", &d.message_type)
        .header("x-amz-sns-message-id", &d.message_id)
        .header("x-amz-sns-topic-arn", &d.topic_arn);
    if d.message_type == "Notification" {
        req = req.header("x-amz-sns-subscription-arn", &d.subscription_arn);
    }
    if d.raw {
        req = req.header("x-amz-sns-rawdelivery", "true");
    }
    let req = req.body(Full::new(Bytes::from(d.body.clone()))).map_err(|e| e.to_string())?;
    match tokio::time::timeout(HTTP_TIMEOUT, client.request(req)).await {
        Err(_) => Err("timed out".into()),
        Ok(Err(e)) => Err(error_chain(&e)),
        Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
        Ok(Ok(resp)) => Err(format!("endpoint answered {}", resp.status())),
    }
}

/// An error and its causes, `: `-separated: hyper's own message is only
/// "client error (Connect)"; the cause says which certificate was refused.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn platform_backoff_doubles_to_a_minute_then_gives_up() {
        let delays: Vec<_> = (1..=6).map(|a| platform_backoff(a).map(|d| d.as_secs())).collect();
        assert_eq!(delays, vec![Some(1), Some(2), Some(4), Some(8), Some(16), Some(32)]);
        assert_eq!(platform_backoff(8), Some(Duration::from_secs(60)));
        assert_eq!(platform_backoff(12), None);
    }

    fn notification(kind: Kind, body: &str) -> Delivery {
        Delivery {
            kind,
            subscription_arn: "arn:aws:sns:us-east-1:000000000000:t:sub".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            target: "http://127.0.0.1:1/".into(),
            message_type: "Notification".into(),
            message_id: "m-1".into(),
            body: body.into(),
            raw: false,
            attributes: BTreeMap::new(),
            group_id: None,
            dedup_id: None,
            redriven: false,
        }
    }

    #[test]
    fn dead_letters_carry_the_sqs_body_to_the_queue() {
        let dlq = "arn:aws:sqs:us-east-1:000000000000:dlq";
        let d = dead_letter(&notification(Kind::Http, r#"{"Type":"Notification"}"#), dlq).unwrap();
        assert_eq!(
            (d.kind, d.target.as_str(), d.body.as_str(), d.redriven),
            (Kind::Sqs, dlq, r#"{"Type":"Notification"}"#, true)
        );

        let event = r#"{"Records":[{"Sns":{"Type":"Notification","MessageId":"m-1","Subject":null,"SigningCertUrl":"c","UnsubscribeUrl":"u","MessageAttributes":{}}}]}"#;
        let d = dead_letter(&notification(Kind::Lambda, event), dlq).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"Type":"Notification","MessageId":"m-1","SigningCertURL":"c","UnsubscribeURL":"u"})
        );

        let confirmation =
            Delivery { message_type: "SubscriptionConfirmation".into(), ..notification(Kind::Http, "{}") };
        assert!(dead_letter(&confirmation, dlq).is_none());
    }

    #[test]
    fn error_chains_name_their_causes() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, inner);
        assert!(error_chain(&outer).contains("UnknownIssuer"));
    }
}
