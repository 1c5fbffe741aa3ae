//! The queue service proper: every SQS operation as a method, independent
//! of the wire protocol. Handlers ([`crate::api`]) and the event source
//! pollers ([`crate::poller`]) both call it.
//!
//! Reads are served from memory; writes change memory under the queue's
//! lock, submit their [`Op`]s to the [`Writer`] in the same critical
//! section (so the log order is the memory order), and answer after the
//! commit. Sends are the exception to "memory first": a message becomes
//! receivable only after it is durable, so nobody can receive a message the
//! sender was never told was accepted.

use crate::error::{SqsError, SqsResult};
use crate::model::{self, Attributes, MessageData, QueueConfig};
use crate::queue::{Message, QueueState};
use crate::store::{Loaded, Op, Writer};
use base64::Engine as _;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub struct Queue {
    pub id: i64,
    pub name: String,
    pub arn: String,
    pub state: Mutex<QueueState>,
    /// Woken when messages may have become receivable.
    pub notify: Notify,
    pub deleted: AtomicBool,
}

/// One message to send.
#[derive(Debug, Default, Clone)]
pub struct SendInput {
    pub body: String,
    pub delay_secs: Option<i64>,
    pub attributes: Attributes,
    pub trace_header: Option<String>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SendOutput {
    pub message_id: String,
    pub md5_body: String,
    pub md5_attributes: Option<String>,
    pub sequence_number: Option<String>,
}

pub struct Engine {
    pub region: String,
    pub account_id: String,
    pub public_url: String,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
    next_seq: AtomicU64,
    next_queue_id: AtomicI64,
    pub writer: Writer,
    shutdown: watch::Sender<bool>,
}

/// Largest SendMessageBatch payload.
pub const MAX_BATCH_BYTES: usize = model::MAX_MESSAGE_BYTES as usize;

impl Engine {
    pub fn new(
        region: String,
        account_id: String,
        public_url: String,
        writer: Writer,
        loaded: &mut Loaded,
    ) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        let me = Self {
            region,
            account_id,
            public_url: public_url.trim_end_matches('/').to_string(),
            queues: RwLock::new(HashMap::new()),
            next_seq: AtomicU64::new(1),
            next_queue_id: AtomicI64::new(1),
            writer,
            shutdown,
        };
        let mut by_id = HashMap::new();
        for q in loaded.queues.drain(..) {
            let queue = me.make_queue(q.id, &q.name, QueueState::new(q.config, q.tags, q.created));
            queue.state.lock().modified = q.modified;
            me.next_queue_id.fetch_max(q.id + 1, Ordering::Relaxed);
            by_id.insert(q.id, queue.clone());
            me.queues.write().insert(q.name, queue);
        }
        let mut orphans = Vec::new();
        for m in loaded.messages.drain(..) {
            me.next_seq.fetch_max(m.seq + 1, Ordering::Relaxed);
            match by_id.get(&m.queue_id) {
                Some(q) => q.state.lock().insert(Message {
                    seq: m.seq,
                    data: Arc::new(m.data),
                    visible_at: m.visible_at,
                    receive_count: m.receive_count,
                    first_receive: m.first_receive,
                    nonce: m.nonce,
                }),
                None => orphans.push(Op::DeleteMessage { seq: m.seq }),
            }
        }
        for (qid, dedup_id, message_id, sequence_number, expires) in loaded.dedup.drain(..) {
            if let Some(q) = by_id.get(&qid) {
                q.state.lock().dedup.insert(dedup_id, crate::queue::Dedup { message_id, sequence_number, expires });
            }
        }
        me.writer.submit_detached(orphans);
        Arc::new(me)
    }

    fn make_queue(&self, id: i64, name: &str, state: QueueState) -> Arc<Queue> {
        Arc::new(Queue {
            id,
            name: name.to_string(),
            arn: format!("arn:aws:sqs:{}:{}:{}", self.region, self.account_id, name),
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
        })
    }

    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{}/{}", self.public_url, self.account_id, name)
    }

    /// Stops long polls and pollers (server shutdown).
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The queue a QueueUrl (or bare name) names.
    pub fn queue(&self, url_or_name: &str) -> SqsResult<Arc<Queue>> {
        let name = url_or_name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        self.queues.read().get(name).cloned().ok_or(SqsError::QueueDoesNotExist)
    }

    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let name = model::queue_name_from_arn(arn)?;
        self.queues.read().get(name).cloned().filter(|q| q.arn == arn)
    }

    pub async fn create_queue(
        &self,
        name: &str,
        attrs: &BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> SqsResult<String> {
        model::validate_queue_name(name)?;
        let fifo = name.ends_with(".fifo");
        let wants_fifo = attrs.get("FifoQueue").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if fifo != wants_fifo {
            return Err(SqsError::InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into(),
            ));
        }
        let mut config = QueueConfig::new(fifo);
        config.apply(attrs, true)?;
        let pending = {
            let mut queues = self.queues.write();
            if let Some(existing) = queues.get(name) {
                let st = existing.state.lock();
                if let Some(attribute) = st.config.differs(&config, attrs) {
                    return Err(SqsError::QueueNameExists { attribute });
                }
                return Ok(self.queue_url(name));
            }
            let id = self.next_queue_id.fetch_add(1, Ordering::Relaxed);
            let created = now_ms() / 1000;
            let op = Op::PutQueue {
                id,
                name: name.to_string(),
                config: config.clone(),
                tags: tags.clone(),
                created,
                modified: created,
            };
            queues.insert(name.to_string(), self.make_queue(id, name, QueueState::new(config, tags, created)));
            self.writer.submit(vec![op])
        };
        pending.durable().await.map_err(SqsError::Internal)?;
        Ok(self.queue_url(name))
    }

    pub async fn delete_queue(&self, q: &Arc<Queue>) -> SqsResult<()> {
        let pending = {
            let mut queues = self.queues.write();
            if !queues.get(&q.name).is_some_and(|x| Arc::ptr_eq(x, q)) {
                return Err(SqsError::QueueDoesNotExist);
            }
            queues.remove(&q.name);
            q.deleted.store(true, Ordering::SeqCst);
            self.writer.submit(vec![Op::DeleteQueue { id: q.id }])
        };
        q.notify.notify_waiters();
        pending.durable().await.map_err(SqsError::Internal)
    }

    pub fn list_queues(&self, prefix: Option<&str>) -> Vec<String> {
        let mut names: Vec<String> =
            self.queues.read().keys().filter(|n| prefix.is_none_or(|p| n.starts_with(p))).cloned().collect();
        names.sort();
        names
    }

    /// Queues whose redrive policy targets `dlq`.
    pub fn dead_letter_sources(&self, dlq: &Queue) -> Vec<String> {
        let mut names: Vec<String> = self
            .queues
            .read()
            .values()
            .filter(|q| q.state.lock().config.redrive.as_ref().is_some_and(|r| r.dead_letter_target_arn == dlq.arn))
            .map(|q| q.name.clone())
            .collect();
        names.sort();
        names
    }

    pub fn attributes(&self, q: &Queue) -> BTreeMap<String, String> {
        let st = q.state.lock();
        let mut out = st.config.attributes();
        let (visible, inflight, delayed) = st.counts(now_ms());
        out.insert("ApproximateNumberOfMessages".into(), visible.to_string());
        out.insert("ApproximateNumberOfMessagesNotVisible".into(), inflight.to_string());
        out.insert("ApproximateNumberOfMessagesDelayed".into(), delayed.to_string());
        out.insert("CreatedTimestamp".into(), st.created.to_string());
        out.insert("LastModifiedTimestamp".into(), st.modified.to_string());
        out.insert("QueueArn".into(), q.arn.clone());
        out
    }

    pub async fn set_attributes(&self, q: &Queue, attrs: &BTreeMap<String, String>) -> SqsResult<()> {
        let pending = {
            let mut st = q.state.lock();
            let mut config = st.config.clone();
            config.apply(attrs, false)?;
            st.config = config;
            st.modified = now_ms() / 1000;
            self.writer.submit(vec![self.put_queue_op(q, &st)])
        };
        q.notify.notify_waiters();
        pending.durable().await.map_err(SqsError::Internal)
    }

    fn put_queue_op(&self, q: &Queue, st: &QueueState) -> Op {
        Op::PutQueue {
            id: q.id,
            name: q.name.clone(),
            config: st.config.clone(),
            tags: st.tags.clone(),
            created: st.created,
            modified: st.modified,
        }
    }

    pub async fn set_tags(&self, q: &Queue, add: BTreeMap<String, String>, remove: &[String]) -> SqsResult<()> {
        let pending = {
            let mut st = q.state.lock();
            st.tags.extend(add);
            for k in remove {
                st.tags.remove(k);
            }
            self.writer.submit(vec![self.put_queue_op(q, &st)])
        };
        pending.durable().await.map_err(SqsError::Internal)
    }

    pub async fn purge(&self, q: &Queue) -> SqsResult<()> {
        let pending = {
            let mut st = q.state.lock();
            let now = now_ms();
            if st.last_purge_ms.is_some_and(|t| now - t < 60_000) {
                return Err(SqsError::PurgeQueueInProgress { name: q.arn.clone() });
            }
            st.last_purge_ms = Some(now);
            let below = self.next_seq.load(Ordering::SeqCst);
            st.purge(below);
            self.writer.submit(vec![Op::Purge { id: q.id, below_seq: below }])
        };
        pending.durable().await.map_err(SqsError::Internal)
    }

    /// Validates and sends messages; one result per input, all committed
    /// together.
    pub async fn send(&self, q: &Arc<Queue>, inputs: Vec<SendInput>) -> Vec<SqsResult<SendOutput>> {
        let now = now_ms();
        let mut results: Vec<SqsResult<SendOutput>> = Vec::with_capacity(inputs.len());
        let mut fresh: Vec<Message> = Vec::new();
        let pending = {
            let mut st = q.state.lock();
            let mut ops = Vec::new();
            for input in inputs {
                let r = self.prepare_send(q, &mut st, input, now).map(|(out, msg)| {
                    if let Some(m) = msg {
                        ops.push(Op::InsertMessage {
                            seq: m.seq,
                            queue_id: q.id,
                            data: Box::new((*m.data).clone()),
                            visible_at: m.visible_at,
                        });
                        if let (Some(d), Some(sn)) = (&m.data.dedup_id, &m.data.sequence_number) {
                            ops.push(Op::PutDedup {
                                queue_id: q.id,
                                dedup_id: d.clone(),
                                message_id: m.data.id.clone(),
                                sequence_number: sn.clone(),
                                expires: now + model::DEDUP_WINDOW_MS,
                            });
                        }
                        fresh.push(m);
                    }
                    out
                });
                results.push(r);
            }
            self.writer.submit(ops)
        };
        if let Err(e) = pending.durable().await {
            return results.into_iter().map(|r| r.and(Err(SqsError::Internal(e.clone())))).collect();
        }
        if !fresh.is_empty() && !q.deleted.load(Ordering::SeqCst) {
            let mut st = q.state.lock();
            for m in fresh {
                st.insert(m);
            }
            drop(st);
            q.notify.notify_waiters();
        }
        results
    }

    fn prepare_send(
        &self,
        q: &Queue,
        st: &mut QueueState,
        input: SendInput,
        now: i64,
    ) -> SqsResult<(SendOutput, Option<Message>)> {
        if input.body.is_empty() {
            return Err(SqsError::MissingParameter("MessageBody".into()));
        }
        if !model::valid_body(&input.body) {
            return Err(SqsError::InvalidMessageContents);
        }
        model::validate_attributes(&input.attributes)?;
        let size = input.body.len() + input.attributes.iter().map(|(k, v)| v.size(k)).sum::<usize>();
        let limit = st.config.max_message_bytes as usize;
        if size > limit {
            return Err(SqsError::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
            )));
        }
        let fifo = st.config.fifo;
        let delay = match input.delay_secs {
            Some(_) if fifo => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Value {} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
                    input.delay_secs.unwrap_or(0)
                )))
            }
            Some(d) if !(0..=i64::from(model::MAX_DELAY_SECS)).contains(&d) => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )))
            }
            Some(d) => d,
            None => i64::from(st.config.delay_secs),
        };
        let md5_body = model::md5_hex(input.body.as_bytes());
        let md5_attributes = model::md5_of_attributes(&input.attributes);
        let mut dedup_id = None;
        if fifo {
            if input.group_id.as_deref().is_none_or(str::is_empty) {
                return Err(SqsError::MissingParameter("MessageGroupId".into()));
            }
            let id = match (&input.dedup_id, st.config.content_based_dedup) {
                (Some(d), _) => d.clone(),
                (None, true) => hex::encode(sha256(input.body.as_bytes())),
                (None, false) => {
                    return Err(SqsError::InvalidParameterValue(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
                    ))
                }
            };
            if id.is_empty() || id.len() > 128 {
                return Err(SqsError::InvalidParameterValue(
                    "Value for parameter MessageDeduplicationId is invalid. Reason: must be 1 to 128 characters."
                        .into(),
                ));
            }
            if let Some(hit) = st.dedup_hit(&id, now) {
                let out = SendOutput {
                    message_id: hit.message_id.clone(),
                    md5_body,
                    md5_attributes,
                    sequence_number: Some(hit.sequence_number.clone()),
                };
                return Ok((out, None));
            }
            dedup_id = Some(id);
        } else if input.dedup_id.is_some() {
            return Err(SqsError::InvalidParameterValue(
                "The request include parameter MessageDeduplicationId that is not valid for this queue type".into(),
            ));
        }
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let message_id = uuid::Uuid::new_v4().to_string();
        let sequence_number = fifo.then(|| format!("{:020}", u128::from(seq) + 18_000_000_000_000_000_000));
        if let (Some(d), Some(sn)) = (&dedup_id, &sequence_number) {
            st.remember_dedup(d.clone(), message_id.clone(), sn.clone(), now);
        }
        let data = MessageData {
            id: message_id.clone(),
            body: input.body,
            attributes: input.attributes,
            md5_body: md5_body.clone(),
            md5_attributes: md5_attributes.clone(),
            sent_ms: now,
            sender_id: self.account_id.clone(),
            group_id: input.group_id,
            dedup_id,
            sequence_number: sequence_number.clone(),
            trace_header: input.trace_header,
            dead_letter_source_arn: None,
        };
        let msg = Message {
            seq,
            data: Arc::new(data),
            visible_at: now + delay * 1000,
            receive_count: 0,
            first_receive: None,
            nonce: 0,
        };
        let _ = q;
        Ok((SendOutput { message_id, md5_body, md5_attributes, sequence_number }, Some(msg)))
    }

    /// Receives up to `max` messages, waiting up to `wait` for the first.
    /// `durable`: answer only after the receive (count, visibility) is on
    /// disk; pollers skip that wait, since losing it only means an earlier
    /// redelivery, which at-least-once allows.
    pub async fn receive(
        &self,
        q: &Arc<Queue>,
        max: usize,
        visibility_secs: Option<u32>,
        wait: Duration,
        durable: bool,
    ) -> SqsResult<Vec<Message>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut shutdown = self.shutdown_signal();
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let dlq = {
                let redrive = q.state.lock().config.redrive.clone();
                redrive.and_then(|r| self.queue_by_arn(&r.dead_letter_target_arn).map(|d| (d, r.max_receive_count)))
            };
            if q.deleted.load(Ordering::SeqCst) {
                return Err(SqsError::QueueDoesNotExist);
            }
            let now = now_ms();
            let (taken, pending, next) = {
                let mut st = q.state.lock();
                let vt = i64::from(visibility_secs.unwrap_or(st.config.visibility_timeout_secs)) * 1000;
                let mut taken = st.take(now, max, vt, dlq.as_ref().map(|(_, n)| *n));
                if let Some((d, _)) = &dlq {
                    for m in &mut taken.dead {
                        let mut data = (*m.data).clone();
                        data.dead_letter_source_arn = Some(q.arn.clone());
                        m.data = Arc::new(data);
                        m.visible_at = now;
                        m.receive_count = 0;
                        m.first_receive = None;
                        taken.ops.push(Op::MoveMessage {
                            seq: m.seq,
                            queue_id: d.id,
                            data: Box::new((*m.data).clone()),
                            visible_at: now,
                        });
                    }
                }
                let ops = std::mem::take(&mut taken.ops);
                let pending = if durable {
                    Some(self.writer.submit(ops))
                } else {
                    self.writer.submit_detached(ops);
                    None
                };
                (taken, pending, st.next_visible())
            };
            if let Some((d, _)) = &dlq {
                if !taken.dead.is_empty() {
                    let mut st = d.state.lock();
                    for m in taken.dead {
                        st.insert(m);
                    }
                    drop(st);
                    d.notify.notify_waiters();
                }
            }
            if let Some(p) = pending {
                p.durable().await.map_err(SqsError::Internal)?;
            }
            let got = taken.messages;
            if !got.is_empty() || tokio::time::Instant::now() >= deadline || *shutdown.borrow() {
                return Ok(got);
            }
            let mut until = deadline;
            if let Some(at) = next.filter(|at| *at > now) {
                let soon = tokio::time::Instant::now() + Duration::from_millis((at - now) as u64);
                until = until.min(soon);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Decodes a receipt handle of this queue into (seq, nonce).
    fn handle(&self, q: &Queue, handle: &str) -> SqsResult<(u64, u64)> {
        let invalid = || SqsError::ReceiptHandleIsInvalid { handle: handle.to_string() };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(handle).map_err(|_| invalid())?;
        let text = String::from_utf8(raw).map_err(|_| invalid())?;
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            ["lamina", qid, seq, nonce] => {
                let qid: i64 = qid.parse().map_err(|_| invalid())?;
                let seq = seq.parse().map_err(|_| invalid())?;
                let nonce = u64::from_str_radix(nonce, 16).map_err(|_| invalid())?;
                if qid != q.id {
                    return Err(invalid());
                }
                Ok((seq, nonce))
            }
            _ => Err(invalid()),
        }
    }

    pub fn receipt_handle(q: &Queue, m: &Message) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("lamina:{}:{}:{:x}", q.id, m.seq, m.nonce))
    }

    /// Deletes by receipt handle; deleting a message already gone succeeds,
    /// as in SQS.
    pub async fn delete(&self, q: &Arc<Queue>, handles: &[String]) -> Vec<SqsResult<()>> {
        let mut results = Vec::with_capacity(handles.len());
        let mut ops = Vec::new();
        let pending = {
            let mut st = q.state.lock();
            for h in handles {
                results.push(self.handle(q, h).map(|(seq, _)| {
                    if st.remove(seq).is_some() {
                        ops.push(Op::DeleteMessage { seq });
                    }
                }));
            }
            self.writer.submit(ops)
        };
        if q.state.lock().config.fifo {
            q.notify.notify_waiters();
        }
        finish(results, pending).await
    }

    /// ChangeMessageVisibility for (handle, timeout) pairs.
    pub async fn change_visibility(&self, q: &Arc<Queue>, changes: &[(String, i64)]) -> Vec<SqsResult<()>> {
        let now = now_ms();
        let mut results = Vec::with_capacity(changes.len());
        let mut ops = Vec::new();
        let pending = {
            let mut st = q.state.lock();
            for (h, timeout) in changes {
                let r = self.handle(q, h).and_then(|(seq, nonce)| {
                    if !(0..=i64::from(model::MAX_VISIBILITY_TIMEOUT_SECS)).contains(timeout) {
                        return Err(SqsError::InvalidParameterValue(format!(
                            "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
                        )));
                    }
                    let m = st.get(seq).filter(|m| m.receive_count > 0 && m.visible_at > now);
                    let Some(m) = m else { return Err(SqsError::MessageNotInflight { handle: h.clone() }) };
                    if m.nonce != nonce {
                        return Err(SqsError::InvalidParameterValue(format!(
                            "Value {h} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
                        )));
                    }
                    st.set_visible_at(seq, now + timeout * 1000);
                    if let Some(m) = st.get(seq) {
                        ops.push(m.update_op());
                    }
                    Ok(())
                });
                results.push(r);
            }
            self.writer.submit(ops)
        };
        q.notify.notify_waiters();
        finish(results, pending).await
    }

    /// Retention and dedup-window expiry across all queues (called every second).
    pub fn sweep(&self, dedup: bool) {
        let now = now_ms();
        let queues: Vec<Arc<Queue>> = self.queues.read().values().cloned().collect();
        let mut ops = Vec::new();
        for q in queues {
            let mut st = q.state.lock();
            ops.extend(st.expire(now));
        }
        if dedup {
            ops.push(Op::ExpireDedup { before: now });
        }
        self.writer.submit_detached(ops);
    }
}

async fn finish(results: Vec<SqsResult<()>>, pending: crate::store::Pending) -> Vec<SqsResult<()>> {
    match pending.durable().await {
        Ok(()) => results,
        Err(e) => results.into_iter().map(|r| r.and(Err(SqsError::Internal(e.clone())))).collect(),
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
