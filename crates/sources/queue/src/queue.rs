//! One queue's messages in memory, and the rules for handing them out.
//!
//! `avail` orders receivable candidates by (visible-at, sequence): for a
//! standard queue every message is in it; for a FIFO queue only the head of
//! each message group is, so a group whose head is in flight is locked and
//! the rest of the group waits behind it. Receiving moves a message's key
//! forward by the visibility timeout, so "no second receiver inside the
//! visibility timeout" is the ordering of one `BTreeSet`, under the queue's
//! lock. Every change returns the [`Op`]s that make it durable.

use crate::model::{MessageData, QueueConfig, DEDUP_WINDOW_MS};
use crate::store::Op;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Message {
    pub seq: u64,
    pub data: Arc<MessageData>,
    /// Epoch milliseconds at which it may be received (again).
    pub visible_at: i64,
    pub receive_count: u32,
    pub first_receive: Option<i64>,
    /// Changes with every receive; part of the receipt handle.
    pub nonce: u64,
}

impl Message {
    pub fn update_op(&self) -> Op {
        Op::UpdateMessage {
            seq: self.seq,
            visible_at: self.visible_at,
            receive_count: self.receive_count,
            first_receive: self.first_receive,
            nonce: self.nonce,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dedup {
    pub message_id: String,
    pub sequence_number: String,
    pub expires: i64,
}

#[derive(Debug)]
pub struct QueueState {
    pub config: QueueConfig,
    pub tags: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created: i64,
    pub modified: i64,
    messages: BTreeMap<u64, Message>,
    avail: BTreeSet<(i64, u64)>,
    groups: HashMap<String, VecDeque<u64>>,
    pub dedup: HashMap<String, Dedup>,
    /// Messages sent before a purge that commit after it are dropped.
    purged_below: u64,
    pub last_purge_ms: Option<i64>,
}

/// What one receive attempt took.
#[derive(Default)]
pub struct Taken {
    pub messages: Vec<Message>,
    /// Messages past the redrive policy's maxReceiveCount, removed here and
    /// bound for the dead-letter queue.
    pub dead: Vec<Message>,
    pub ops: Vec<Op>,
}

impl QueueState {
    pub fn new(config: QueueConfig, tags: BTreeMap<String, String>, created: i64) -> Self {
        Self {
            config,
            tags,
            created,
            modified: created,
            messages: BTreeMap::new(),
            avail: BTreeSet::new(),
            groups: HashMap::new(),
            dedup: HashMap::new(),
            purged_below: 0,
            last_purge_ms: None,
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn get(&self, seq: u64) -> Option<&Message> {
        self.messages.get(&seq)
    }

    fn is_head(&self, m: &Message) -> bool {
        match &m.data.group_id {
            Some(g) if self.config.fifo => self.groups.get(g).and_then(|d| d.front()) == Some(&m.seq),
            _ => true,
        }
    }

    /// Adds a committed message.
    pub fn insert(&mut self, m: Message) {
        if m.seq < self.purged_below {
            return;
        }
        let key = (m.visible_at, m.seq);
        let seq = m.seq;
        let group = if self.config.fifo { m.data.group_id.clone() } else { None };
        self.messages.insert(seq, m);
        match group {
            None => {
                self.avail.insert(key);
            }
            Some(g) => {
                let d = self.groups.entry(g).or_default();
                // Concurrent sends may commit out of order: keep sequence order.
                let at = d.iter().rposition(|s| *s < seq).map_or(0, |i| i + 1);
                d.insert(at, seq);
                if at == 0 {
                    if let Some(old) = d.get(1).copied() {
                        if let Some(o) = self.messages.get(&old) {
                            self.avail.remove(&(o.visible_at, old));
                        }
                    }
                    self.avail.insert(key);
                }
            }
        }
    }

    /// Removes a message, promoting the next of its FIFO group.
    pub fn remove(&mut self, seq: u64) -> Option<Message> {
        let m = self.messages.remove(&seq)?;
        self.avail.remove(&(m.visible_at, seq));
        if let (true, Some(g)) = (self.config.fifo, &m.data.group_id) {
            if let Some(d) = self.groups.get_mut(g) {
                let was_head = d.front() == Some(&seq);
                d.retain(|s| *s != seq);
                match d.front().copied() {
                    None => {
                        self.groups.remove(g);
                    }
                    Some(next) if was_head => {
                        if let Some(n) = self.messages.get(&next) {
                            self.avail.insert((n.visible_at, next));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        Some(m)
    }

    /// Moves a message's visibility (receive, ChangeMessageVisibility).
    pub fn set_visible_at(&mut self, seq: u64, visible_at: i64) {
        let Some(m) = self.messages.get(&seq) else { return };
        let indexed = self.is_head(m);
        let old = m.visible_at;
        if indexed {
            self.avail.remove(&(old, seq));
            self.avail.insert((visible_at, seq));
        }
        if let Some(m) = self.messages.get_mut(&seq) {
            m.visible_at = visible_at;
        }
    }

    /// Takes up to `max` receivable messages, marking them in flight for
    /// `visibility_ms`. Expired messages are dropped on the way; those past
    /// `max_receives` are handed back in `dead` for the dead-letter queue.
    pub fn take(&mut self, now: i64, max: usize, visibility_ms: i64, max_receives: Option<u32>) -> Taken {
        let mut out = Taken::default();
        let retention_ms = i64::from(self.config.retention_secs) * 1000;
        let mut taken: HashSet<u64> = HashSet::new();
        let mut cursor: Option<(i64, u64)> = None;
        'scan: while out.messages.len() < max {
            let lower = match cursor {
                Some(c) => Bound::Excluded(c),
                None => Bound::Unbounded,
            };
            let batch: Vec<(i64, u64)> =
                self.avail.range((lower, Bound::Included((now, u64::MAX)))).take(16).copied().collect();
            if batch.is_empty() {
                break;
            }
            for key in batch {
                cursor = Some(key);
                let seq = key.1;
                if taken.contains(&seq) {
                    continue;
                }
                // A FIFO head brings the rest of its group along, in order.
                let mut chain = vec![seq];
                if self.config.fifo {
                    if let Some(g) = self.messages.get(&seq).and_then(|m| m.data.group_id.clone()) {
                        if let Some(d) = self.groups.get(&g) {
                            chain = d.iter().copied().collect();
                        }
                    }
                }
                for s in chain {
                    if out.messages.len() >= max {
                        break 'scan;
                    }
                    let Some(m) = self.messages.get(&s) else { continue };
                    if m.visible_at > now {
                        break;
                    }
                    if m.data.sent_ms + retention_ms <= now {
                        self.remove(s);
                        out.ops.push(Op::DeleteMessage { seq: s });
                        continue;
                    }
                    if max_receives.is_some_and(|limit| m.receive_count >= limit) {
                        if let Some(dead) = self.remove(s) {
                            out.dead.push(dead);
                        }
                        continue;
                    }
                    self.set_visible_at(s, now + visibility_ms);
                    if let Some(m) = self.messages.get_mut(&s) {
                        m.receive_count += 1;
                        m.first_receive.get_or_insert(now);
                        m.nonce = fastrand::u64(..);
                        out.ops.push(m.update_op());
                        out.messages.push(m.clone());
                    }
                    taken.insert(s);
                }
            }
        }
        out
    }

    /// When the next message becomes receivable, if any is waiting.
    pub fn next_visible(&self) -> Option<i64> {
        self.avail.first().map(|(at, _)| *at)
    }

    /// (visible, in flight, delayed) counts.
    pub fn counts(&self, now: i64) -> (usize, usize, usize) {
        let (mut visible, mut inflight, mut delayed) = (0, 0, 0);
        for m in self.messages.values() {
            if m.visible_at <= now {
                visible += 1;
            } else if m.receive_count > 0 {
                inflight += 1;
            } else {
                delayed += 1;
            }
        }
        (visible, inflight, delayed)
    }

    /// Drops messages older than the retention period and dedup entries
    /// older than the window.
    pub fn expire(&mut self, now: i64) -> Vec<Op> {
        let retention_ms = i64::from(self.config.retention_secs) * 1000;
        let old: Vec<u64> =
            self.messages.values().take_while(|m| m.data.sent_ms + retention_ms <= now).map(|m| m.seq).collect();
        self.dedup.retain(|_, d| d.expires > now);
        old.into_iter().filter_map(|s| self.remove(s)).map(|m| Op::DeleteMessage { seq: m.seq }).collect()
    }

    /// Empties the queue; sends still committing are dropped too.
    pub fn purge(&mut self, next_seq: u64) {
        self.messages.clear();
        self.avail.clear();
        self.groups.clear();
        self.purged_below = next_seq;
    }

    /// A FIFO deduplication hit inside the window.
    pub fn dedup_hit(&self, id: &str, now: i64) -> Option<&Dedup> {
        self.dedup.get(id).filter(|d| d.expires > now)
    }

    pub fn remember_dedup(&mut self, id: String, message_id: String, sequence_number: String, now: i64) -> Dedup {
        let d = Dedup { message_id, sequence_number, expires: now + DEDUP_WINDOW_MS };
        self.dedup.insert(id, d.clone());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, group: Option<&str>, now: i64) -> Message {
        Message {
            seq,
            data: Arc::new(MessageData {
                id: format!("m{seq}"),
                body: format!("body{seq}"),
                attributes: Default::default(),
                md5_body: String::new(),
                md5_attributes: None,
                sent_ms: now,
                sender_id: "x".into(),
                group_id: group.map(str::to_string),
                dedup_id: None,
                sequence_number: None,
                trace_header: None,
                dead_letter_source_arn: None,
            }),
            visible_at: now,
            receive_count: 0,
            first_receive: None,
            nonce: 0,
        }
    }

    #[test]
    fn received_messages_stay_invisible_until_the_timeout() {
        let mut q = QueueState::new(QueueConfig::new(false), Default::default(), 0);
        for s in 1..=3 {
            q.insert(msg(s, None, 1000));
        }
        let t = q.take(1000, 2, 30_000, None);
        assert_eq!(t.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
        let t = q.take(1000, 10, 30_000, None);
        assert_eq!(t.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);
        assert!(q.take(1000, 10, 30_000, None).messages.is_empty());
        let again = q.take(31_000, 10, 30_000, None);
        assert_eq!(again.messages.len(), 3);
        assert!(again.messages.iter().all(|m| m.receive_count == 2));
    }

    #[test]
    fn zero_visibility_timeout_takes_each_message_once_per_call() {
        let mut q = QueueState::new(QueueConfig::new(false), Default::default(), 0);
        q.insert(msg(1, None, 0));
        assert_eq!(q.take(0, 10, 0, None).messages.len(), 1);
        assert_eq!(q.take(0, 10, 0, None).messages.len(), 1);
    }

    #[test]
    fn fifo_groups_lock_while_in_flight() {
        let mut q = QueueState::new(QueueConfig::new(true), Default::default(), 0);
        q.insert(msg(1, Some("a"), 0));
        q.insert(msg(2, Some("a"), 0));
        q.insert(msg(3, Some("b"), 0));
        let t = q.take(0, 1, 30_000, None);
        assert_eq!(t.messages[0].seq, 1);
        let t = q.take(0, 10, 30_000, None);
        assert_eq!(t.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3], "group a is locked");
        q.remove(1);
        let t = q.take(0, 10, 30_000, None);
        assert_eq!(t.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn messages_past_max_receives_are_handed_to_the_dead_letter_queue() {
        let mut q = QueueState::new(QueueConfig::new(false), Default::default(), 0);
        q.insert(msg(1, None, 0));
        assert_eq!(q.take(0, 1, 0, Some(2)).messages.len(), 1);
        assert_eq!(q.take(0, 1, 0, Some(2)).messages.len(), 1);
        let t = q.take(0, 1, 0, Some(2));
        assert!(t.messages.is_empty());
        assert_eq!(t.dead.len(), 1);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn retention_expires_old_messages() {
        let mut config = QueueConfig::new(false);
        config.retention_secs = 60;
        let mut q = QueueState::new(config, Default::default(), 0);
        q.insert(msg(1, None, 0));
        q.insert(msg(2, None, 30_000));
        assert!(q.expire(59_999).is_empty());
        assert_eq!(q.expire(60_000).len(), 1);
        assert_eq!(q.len(), 1);
        assert!(q.take(90_000, 10, 0, None).messages.is_empty(), "expired on receive");
        assert!(q.is_empty());
    }
}
