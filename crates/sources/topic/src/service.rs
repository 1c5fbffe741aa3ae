//! The topic service: topics and subscriptions in memory, written through
//! to [`crate::store`], and Publish, which turns one message into one
//! outbox row per matching subscriber in a single transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lamina_scheduler::Scheduler;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::delivery::{Delivery, Kind};
use crate::delivery_policy::HttpPolicy;
use crate::envelope::{self, Message, Urls};
use crate::error::{TopicError, TopicResult};
use crate::filter::Policy;
use crate::model::{self, MessageAttribute, Protocol, Subscription, Topic};
use crate::store::{Dedup, Store};

/// One Publish (or one PublishBatch entry).
#[derive(Debug, Clone, Default)]
pub struct PublishInput {
    pub topic_arn: String,
    pub message: String,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// A page of a list: items and the token for the next page.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

pub const PAGE_SIZE: usize = 100;
/// How long a FIFO topic remembers a deduplication id (SNS's five minutes).
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

pub(crate) struct Inner {
    pub(crate) store: Store,
    topics: BTreeMap<String, Topic>,
    subscriptions: BTreeMap<String, Subscription>,
    /// (topic, dedup id) → (message id, sequence number, expiry ms).
    dedup: HashMap<(String, String), (Published, i64)>,
    /// The last FIFO sequence number given.
    sequence: u64,
}

/// The topic service of one server.
pub struct Service {
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) public_url: String,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) inner: Mutex<Inner>,
    /// Woken when the outbox has something new.
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

fn not_found() -> TopicError {
    TopicError::NotFound("Topic does not exist".into())
}

impl Service {
    pub(crate) fn new(scheduler: Arc<Scheduler>, store: Store) -> TopicResult<Self> {
        let (topics, subs) = store.load()?;
        let dedup = store
            .live_dedups(lamina_core::now_ms())?
            .into_iter()
            .map(|d| {
                let published = Published { message_id: d.message_id, sequence_number: d.sequence_number };
                ((d.topic, d.dedup_id), (published, d.expires_ms))
            })
            .collect();
        let config = scheduler.config();
        Ok(Self {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            public_url: config.public_url.trim_end_matches('/').to_string(),
            inner: Mutex::new(Inner {
                store,
                topics: topics.into_iter().map(|t| (t.arn.clone(), t)).collect(),
                subscriptions: subs.into_iter().map(|s| (s.arn.clone(), s)).collect(),
                dedup,
                sequence: 0,
            }),
            scheduler,
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub(crate) fn urls(&self) -> Urls<'_> {
        Urls { public_url: &self.public_url }
    }

    pub fn topic_count(&self) -> usize {
        self.inner.lock().topics.len()
    }

    // ---- topics ----

    /// CreateTopic: idempotent by name when the attributes agree.
    pub fn create_topic(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> TopicResult<String> {
        let fifo = attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        model::validate_topic_name(name, fifo)?;
        for (k, v) in &attributes {
            model::validate_topic_attribute(k, v, true, fifo)?;
        }
        let arn = model::topic_arn(&self.region, &self.account_id, name);
        let mut inner = self.inner.lock();
        if let Some(existing) = inner.topics.get(&arn) {
            let differs = attributes.iter().any(|(k, v)| {
                let stored = existing.attributes.get(k).map(String::as_str);
                stored != Some(v.as_str()) && !(k == "FifoTopic" && v.eq_ignore_ascii_case("false") && stored.is_none())
            });
            if differs {
                return Err(TopicError::InvalidParameter(
                    "Invalid parameter: Attributes Reason: Topic already exists with different attributes".into(),
                ));
            }
            if tags.iter().any(|(k, v)| existing.tags.get(k) != Some(v)) {
                return Err(TopicError::InvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags".into(),
                ));
            }
            return Ok(arn);
        }
        let mut attributes = attributes;
        if !fifo {
            attributes.remove("FifoTopic");
        }
        let topic = Topic { arn: arn.clone(), name: name.to_string(), attributes, tags };
        inner.store.put_topic(&topic)?;
        inner.topics.insert(arn.clone(), topic);
        tracing::info!(topic = arn, fifo, "topic created");
        Ok(arn)
    }

    /// DeleteTopic: the topic and its subscriptions (deleting a missing topic succeeds).
    pub fn delete_topic(&self, arn: &str) -> TopicResult<()> {
        model::check_topic_arn(arn, "TopicArn")?;
        let mut inner = self.inner.lock();
        if !inner.topics.contains_key(arn) {
            return Ok(());
        }
        let subs: Vec<String> =
            inner.subscriptions.values().filter(|s| s.topic_arn == arn).map(|s| s.arn.clone()).collect();
        inner.store.delete_topic(arn, &subs)?;
        inner.topics.remove(arn);
        for s in &subs {
            inner.subscriptions.remove(s);
        }
        tracing::info!(topic = arn, subscriptions = subs.len(), "topic deleted");
        Ok(())
    }

    pub fn list_topics(&self, next_token: Option<&str>) -> Page<String> {
        let inner = self.inner.lock();
        let arns = inner.topics.keys().filter(|a| next_token.is_none_or(|t| a.as_str() > t));
        page(arns.cloned().collect())
    }

    pub fn topic(&self, arn: &str) -> TopicResult<Topic> {
        model::check_topic_arn(arn, "TopicArn")?;
        self.inner.lock().topics.get(arn).cloned().ok_or_else(not_found)
    }

    pub fn topic_attributes(&self, arn: &str) -> TopicResult<BTreeMap<String, String>> {
        model::check_topic_arn(arn, "TopicArn")?;
        let inner = self.inner.lock();
        let topic = inner.topics.get(arn).ok_or_else(not_found)?;
        let subs = inner.subscriptions.values().filter(|s| s.topic_arn == arn);
        let (confirmed, pending) = subs.fold((0, 0), |(c, p), s| if s.confirmed { (c + 1, p) } else { (c, p + 1) });
        Ok(model::topic_attributes(topic, &self.account_id, (confirmed, pending)))
    }

    pub fn set_topic_attribute(&self, arn: &str, name: &str, value: &str) -> TopicResult<()> {
        model::check_topic_arn(arn, "TopicArn")?;
        let mut inner = self.inner.lock();
        let mut topic = inner.topics.get(arn).cloned().ok_or_else(not_found)?;
        model::validate_topic_attribute(name, value, false, topic.is_fifo())?;
        topic.attributes.insert(name.to_string(), value.to_string());
        inner.store.put_topic(&topic)?;
        inner.topics.insert(arn.to_string(), topic);
        Ok(())
    }

    // ---- tags ----

    pub fn tags(&self, arn: &str) -> TopicResult<BTreeMap<String, String>> {
        let inner = self.inner.lock();
        inner.topics.get(arn).map(|t| t.tags.clone()).ok_or_else(resource_not_found)
    }

    pub fn tag(&self, arn: &str, add: BTreeMap<String, String>, remove: &[String]) -> TopicResult<()> {
        let mut inner = self.inner.lock();
        let mut topic = inner.topics.get(arn).cloned().ok_or_else(resource_not_found)?;
        for (k, v) in add {
            if k.is_empty() || k.len() > 128 || v.len() > 256 {
                return Err(TopicError::InvalidParameter(
                    "Invalid parameter: Tags Reason: keys are 1 to 128 characters, values up to 256".into(),
                ));
            }
            topic.tags.insert(k, v);
        }
        for k in remove {
            topic.tags.remove(k);
        }
        if topic.tags.len() > 50 {
            return Err(TopicError::TagLimitExceeded(
                "Could not complete request: tag quota of per resource exceeded".into(),
            ));
        }
        inner.store.put_topic(&topic)?;
        inner.topics.insert(arn.to_string(), topic);
        Ok(())
    }

    // ---- subscriptions ----

    /// Subscribe: lambda and sqs are confirmed at once; http(s) get a
    /// SubscriptionConfirmation and stay pending until confirmed.
    /// Subscribing an endpoint again returns its existing subscription.
    pub fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: Option<&str>,
        attributes: BTreeMap<String, String>,
    ) -> TopicResult<Subscription> {
        model::check_topic_arn(topic_arn, "TopicArn")?;
        let protocol = Protocol::parse(protocol)?;
        let endpoint = endpoint.ok_or_else(|| TopicError::InvalidParameter("Invalid parameter: Endpoint".into()))?;
        protocol.validate_endpoint(endpoint)?;
        for (k, v) in &attributes {
            model::validate_subscription_attribute(k, v, protocol)?;
        }
        check_policy_scope(&attributes)?;
        let mut inner = self.inner.lock();
        let topic = inner.topics.get(topic_arn).ok_or_else(not_found)?;
        if topic.is_fifo() && protocol != Protocol::Sqs {
            return Err(TopicError::InvalidParameter(format!(
                "Invalid parameter: Invalid protocol type: {}",
                protocol.as_str()
            )));
        }
        if let Some(existing) = inner
            .subscriptions
            .values()
            .find(|s| s.topic_arn == topic_arn && s.protocol == protocol && s.endpoint == endpoint)
        {
            if attributes.iter().any(|(k, v)| existing.attributes.get(k) != Some(v)) {
                return Err(TopicError::InvalidParameter(
                    "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
                        .into(),
                ));
            }
            return Ok(existing.clone());
        }
        let sub = Subscription {
            arn: format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
            topic_arn: topic_arn.to_string(),
            protocol,
            endpoint: endpoint.to_string(),
            owner: self.account_id.clone(),
            attributes,
            confirmed: protocol.confirms_immediately(),
            token: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
        };
        inner.store.put_subscription(&sub)?;
        if !sub.confirmed {
            let now = lamina_core::now_ms();
            let message_id = uuid::Uuid::new_v4().to_string();
            let body = envelope::subscription_confirmation(
                &message_id,
                topic_arn,
                &sub.token,
                &envelope::timestamp(now),
                &self.urls(),
            );
            let d = Delivery {
                kind: Kind::Http,
                subscription_arn: sub.arn.clone(),
                topic_arn: topic_arn.to_string(),
                target: sub.endpoint.clone(),
                message_type: "SubscriptionConfirmation".into(),
                message_id,
                body,
                raw: false,
                attributes: BTreeMap::new(),
                group_id: None,
                dedup_id: None,
                redriven: false,
            };
            inner.store.push_outbox(&[d.encode()?], None, now)?;
            self.wake.notify_one();
        }
        inner.subscriptions.insert(sub.arn.clone(), sub.clone());
        tracing::info!(subscription = sub.arn, protocol = protocol.as_str(), endpoint, "subscribed");
        Ok(sub)
    }

    /// ConfirmSubscription with the token an HTTP endpoint was sent.
    pub fn confirm(&self, topic_arn: &str, token: &str) -> TopicResult<String> {
        model::check_topic_arn(topic_arn, "TopicArn")?;
        let mut inner = self.inner.lock();
        if !inner.topics.contains_key(topic_arn) {
            return Err(not_found());
        }
        let mut sub = inner
            .subscriptions
            .values()
            .find(|s| s.topic_arn == topic_arn && s.token == token)
            .cloned()
            .ok_or_else(|| TopicError::InvalidParameter("Invalid token".into()))?;
        if !sub.confirmed {
            sub.confirmed = true;
            inner.store.put_subscription(&sub)?;
            tracing::info!(subscription = sub.arn, "subscription confirmed");
            inner.subscriptions.insert(sub.arn.clone(), sub.clone());
        }
        Ok(sub.arn)
    }

    pub fn unsubscribe(&self, arn: &str) -> TopicResult<()> {
        let mut inner = self.inner.lock();
        if inner.subscriptions.remove(arn).is_none() {
            return Err(TopicError::NotFound("Subscription does not exist".into()));
        }
        inner.store.delete_subscription(arn)?;
        tracing::info!(subscription = arn, "unsubscribed");
        Ok(())
    }

    pub fn list_subscriptions(
        &self,
        topic_arn: Option<&str>,
        next_token: Option<&str>,
    ) -> TopicResult<Page<Subscription>> {
        let inner = self.inner.lock();
        if let Some(t) = topic_arn {
            model::check_topic_arn(t, "TopicArn")?;
            if !inner.topics.contains_key(t) {
                return Err(not_found());
            }
        }
        let subs = inner
            .subscriptions
            .values()
            .filter(|s| topic_arn.is_none_or(|t| s.topic_arn == t))
            .filter(|s| next_token.is_none_or(|t| s.arn.as_str() > t))
            .cloned()
            .collect();
        Ok(page(subs))
    }

    pub fn subscription(&self, arn: &str) -> TopicResult<Subscription> {
        self.inner
            .lock()
            .subscriptions
            .get(arn)
            .cloned()
            .ok_or_else(|| TopicError::NotFound("Subscription does not exist".into()))
    }

    /// GetSubscriptionAttributes: the subscription's attributes and its
    /// effective delivery policy (which depends on its topic's).
    pub fn subscription_attributes(&self, arn: &str) -> TopicResult<BTreeMap<String, String>> {
        let inner = self.inner.lock();
        let sub =
            inner.subscriptions.get(arn).ok_or_else(|| TopicError::NotFound("Subscription does not exist".into()))?;
        Ok(sub.attribute_map(topic_delivery_policy(&inner, &sub.topic_arn)))
    }

    /// The delivery policy an http/https delivery follows now: its
    /// subscription's over its topic's, or the topic's alone once the
    /// subscription is gone, or SNS's default once both are.
    pub fn http_policy(&self, subscription_arn: &str, topic_arn: &str) -> HttpPolicy {
        let inner = self.inner.lock();
        let topic_policy = topic_delivery_policy(&inner, topic_arn);
        match inner.subscriptions.get(subscription_arn) {
            Some(sub) => sub.http_policy(topic_policy),
            None => HttpPolicy::resolve(topic_policy, None),
        }
    }

    pub fn set_subscription_attribute(&self, arn: &str, name: &str, value: &str) -> TopicResult<()> {
        let mut inner = self.inner.lock();
        let mut sub = inner
            .subscriptions
            .get(arn)
            .cloned()
            .ok_or_else(|| TopicError::NotFound("Subscription does not exist".into()))?;
        model::validate_subscription_attribute(name, value, sub.protocol)?;
        if matches!(name, "FilterPolicy" | "DeliveryPolicy" | "RedrivePolicy") && value.is_empty() {
            sub.attributes.remove(name);
        } else {
            sub.attributes.insert(name.to_string(), value.to_string());
        }
        check_policy_scope(&sub.attributes)?;
        inner.store.put_subscription(&sub)?;
        inner.subscriptions.insert(arn.to_string(), sub);
        Ok(())
    }

    /// The dead-letter queue a subscription's `RedrivePolicy` names, if it
    /// still exists and has one.
    pub fn dead_letter_queue(&self, subscription_arn: &str) -> Option<String> {
        let inner = self.inner.lock();
        let policy = inner.subscriptions.get(subscription_arn)?.attributes.get("RedrivePolicy")?;
        model::dead_letter_target(policy).ok()
    }

    // ---- publish ----

    /// Publish: checks the message, then durably queues one delivery per
    /// confirmed subscriber whose filter policy matches. Returns once those
    /// deliveries are on disk; they run in the background.
    pub fn publish_message(&self, input: PublishInput) -> TopicResult<Published> {
        model::check_topic_arn(&input.topic_arn, "TopicArn")?;
        let now = lamina_core::now_ms();
        let mut inner = self.inner.lock();
        let topic = inner.topics.get(&input.topic_arn).cloned().ok_or_else(not_found)?;
        check_message(&topic, &input)?;
        let per_protocol = per_protocol_messages(&input)?;
        let dedup_id = fifo_dedup_id(&topic, &input)?;
        if let Some(id) = &dedup_id {
            inner.dedup.retain(|_, (_, expiry)| *expiry > now);
            if let Some((seen, _)) = inner.dedup.get(&(topic.arn.clone(), id.clone())) {
                return Ok(seen.clone());
            }
        }
        let sequence_number = if topic.is_fifo() {
            // Strictly increasing, and ahead of any number given before a restart.
            inner.sequence = (inner.sequence + 1).max((now as u64).saturating_mul(1000));
            Some(format!("{:020}", inner.sequence))
        } else {
            None
        };
        let published = Published { message_id: uuid::Uuid::new_v4().to_string(), sequence_number };
        let mut message = Message {
            message_id: published.message_id.clone(),
            topic_arn: topic.arn.clone(),
            subject: input.subject.clone(),
            message: String::new(),
            timestamp: envelope::timestamp(now),
            attributes: input.attributes.clone(),
            sequence_number: published.sequence_number.clone(),
        };
        let mut rows = Vec::new();
        for sub in inner.subscriptions.values().filter(|s| s.topic_arn == topic.arn && s.confirmed) {
            if !filter_matches(sub, &input) {
                continue;
            }
            message.message = per_protocol.for_protocol(sub.protocol).to_string();
            rows.push(self.delivery(sub, &message, &input, dedup_id.as_deref()).encode()?);
        }
        let dedup = dedup_id.map(|id| Dedup {
            topic: topic.arn.clone(),
            dedup_id: id,
            message_id: published.message_id.clone(),
            sequence_number: published.sequence_number.clone(),
            expires_ms: now + DEDUP_WINDOW_MS,
        });
        inner.store.push_outbox(&rows, dedup.as_ref(), now)?;
        if let Some(d) = dedup {
            inner.dedup.insert((d.topic, d.dedup_id), (published.clone(), d.expires_ms));
        }
        drop(inner);
        if !rows.is_empty() {
            self.wake.notify_one();
        }
        tracing::debug!(topic = topic.arn, message_id = published.message_id, deliveries = rows.len(), "published");
        Ok(published)
    }

    /// What one subscriber is owed for one message.
    fn delivery(&self, sub: &Subscription, m: &Message, input: &PublishInput, dedup_id: Option<&str>) -> Delivery {
        let urls = self.urls();
        let (kind, body) = match sub.protocol {
            Protocol::Lambda => (Kind::Lambda, envelope::lambda_event(m, &sub.arn, &urls)),
            Protocol::Sqs if sub.raw_delivery() => (Kind::Sqs, m.message.clone()),
            Protocol::Sqs => (Kind::Sqs, envelope::notification(m, &sub.arn, &urls)),
            Protocol::Http | Protocol::Https if sub.raw_delivery() => (Kind::Http, m.message.clone()),
            Protocol::Http | Protocol::Https => (Kind::Http, envelope::notification(m, &sub.arn, &urls)),
        };
        Delivery {
            kind,
            subscription_arn: sub.arn.clone(),
            topic_arn: m.topic_arn.clone(),
            target: sub.endpoint.clone(),
            message_type: "Notification".into(),
            message_id: m.message_id.clone(),
            body,
            raw: sub.raw_delivery(),
            attributes: if sub.raw_delivery() { m.attributes.clone() } else { BTreeMap::new() },
            group_id: input.group_id.clone(),
            dedup_id: dedup_id.map(str::to_string),
            redriven: false,
        }
    }
}

fn topic_delivery_policy<'a>(inner: &'a Inner, topic_arn: &str) -> Option<&'a str> {
    inner.topics.get(topic_arn).and_then(|t| t.attributes.get("DeliveryPolicy")).map(String::as_str)
}

fn resource_not_found() -> TopicError {
    TopicError::ResourceNotFound("Resource does not exist".into())
}

fn page<T>(mut items: Vec<T>) -> Page<T>
where
    T: PageKey,
{
    if items.len() > PAGE_SIZE {
        items.truncate(PAGE_SIZE);
        let next_token = items.last().map(PageKey::key);
        Page { items, next_token }
    } else {
        Page { items, next_token: None }
    }
}

/// Lists page by their items' ARNs (the token is the last ARN shown).
trait PageKey {
    fn key(&self) -> String;
}

impl PageKey for String {
    fn key(&self) -> String {
        self.clone()
    }
}

impl PageKey for Subscription {
    fn key(&self) -> String {
        self.arn.clone()
    }
}

/// A MessageAttributes-scoped policy cannot nest.
fn check_policy_scope(attributes: &BTreeMap<String, String>) -> TopicResult<()> {
    let Some(policy) = attributes.get("FilterPolicy").filter(|p| !p.is_empty()) else { return Ok(()) };
    let body_scope = attributes.get("FilterPolicyScope").is_some_and(|s| s == "MessageBody");
    let parsed = Policy::parse(policy)
        .map_err(|e| TopicError::InvalidParameter(format!("Invalid parameter: FilterPolicy: {e}")))?;
    if !body_scope && parsed.is_nested() {
        return Err(TopicError::InvalidParameter(
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy".into(),
        ));
    }
    Ok(())
}

fn filter_matches(sub: &Subscription, input: &PublishInput) -> bool {
    let Some(policy) = sub.attributes.get("FilterPolicy").filter(|p| !p.is_empty()) else { return true };
    let Ok(policy) = Policy::parse(policy) else { return false };
    if sub.attributes.get("FilterPolicyScope").is_some_and(|s| s == "MessageBody") {
        policy.matches_body(&input.message)
    } else {
        policy.matches_attributes(&input.attributes)
    }
}

fn check_message(topic: &Topic, input: &PublishInput) -> TopicResult<()> {
    if input.message.is_empty() {
        return Err(TopicError::InvalidParameter("Invalid parameter: Empty message".into()));
    }
    if let Some(subject) = &input.subject {
        if subject.is_empty() || subject.len() > 100 || subject.chars().any(|c| c.is_control()) {
            return Err(TopicError::InvalidParameter("Invalid parameter: Subject".into()));
        }
    }
    model::validate_message_attributes(&input.attributes)?;
    let size = input.message.len() + input.attributes.iter().map(|(k, a)| a.size(k)).sum::<usize>();
    if size > topic.max_message_bytes() {
        return Err(TopicError::InvalidParameter("Invalid parameter: Message too long".into()));
    }
    Ok(())
}

/// Message text per protocol (MessageStructure=json), or one for all.
struct PerProtocol {
    default: String,
    by_protocol: BTreeMap<String, String>,
}

impl PerProtocol {
    fn for_protocol(&self, p: Protocol) -> &str {
        self.by_protocol.get(p.as_str()).unwrap_or(&self.default)
    }
}

fn per_protocol_messages(input: &PublishInput) -> TopicResult<PerProtocol> {
    match input.message_structure.as_deref() {
        None => Ok(PerProtocol { default: input.message.clone(), by_protocol: BTreeMap::new() }),
        Some("json") => {
            let invalid =
                |why: &str| TopicError::InvalidParameter(format!("Invalid parameter: Message Structure - {why}"));
            let value: serde_json::Value =
                serde_json::from_str(&input.message).map_err(|_| invalid("JSON message body failed to parse"))?;
            let obj = value.as_object().ok_or_else(|| invalid("JSON message body failed to parse"))?;
            let default = obj
                .get("default")
                .and_then(|d| d.as_str())
                .ok_or_else(|| invalid("No default entry in JSON message body"))?
                .to_string();
            let by_protocol = obj.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect();
            Ok(PerProtocol { default, by_protocol })
        }
        Some(_) => Err(TopicError::InvalidParameter("Invalid parameter: MessageStructure".into())),
    }
}

/// FIFO topics need a group and a dedup id (explicit or content-based);
/// standard topics take no dedup id.
fn fifo_dedup_id(topic: &Topic, input: &PublishInput) -> TopicResult<Option<String>> {
    if !topic.is_fifo() {
        if input.dedup_id.is_some() {
            return Err(TopicError::InvalidParameter(
                "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type".into(),
            ));
        }
        return Ok(None);
    }
    if input.group_id.as_deref().is_none_or(str::is_empty) {
        return Err(TopicError::InvalidParameter(
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics".into(),
        ));
    }
    match &input.dedup_id {
        Some(id) => Ok(Some(id.clone())),
        None if topic.content_based_dedup() => Ok(Some(hex::encode(Sha256::digest(input.message.as_bytes())))),
        None => Err(TopicError::InvalidParameter(
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
        )),
    }
}
