//! The topics' own SQLite file, `<data_dir>/topics.sqlite`.
//!
//! Topics and subscriptions are rows of JSON, loaded whole at start and
//! written through on every change. The outbox holds every delivery a
//! Publish owes its subscribers, written in the same transaction that
//! accepts the message and deleted only once delivered (or given up), so a
//! Publish answered 200 loses none of its deliveries to a crash. WAL with
//! `synchronous=FULL`: a write that returned is on disk.

use rusqlite::{params, Connection};
use std::path::Path;

use crate::delivery::Settled;
use crate::error::{TopicError, TopicResult};
use crate::model::{Subscription, Topic};

pub struct Store {
    conn: Connection,
}

/// One delivery owed, as stored.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub body: String,
    pub attempts: u32,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS topics (arn TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS subscriptions (arn TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_due ON outbox (not_before_ms);
    CREATE TABLE IF NOT EXISTS fifo_dedup (
        topic TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence_number TEXT,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (topic, dedup_id)
    );";

/// A FIFO topic's memory of one deduplication id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    pub topic: String,
    pub dedup_id: String,
    pub message_id: String,
    pub sequence_number: Option<String>,
    pub expires_ms: i64,
}

fn encode<T: serde::Serialize>(v: &T) -> TopicResult<String> {
    serde_json::to_string(v).map_err(|e| TopicError::Internal(format!("encoding a row: {e}")))
}

impl Store {
    pub fn open(path: &Path) -> TopicResult<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    pub fn load(&self) -> TopicResult<(Vec<Topic>, Vec<Subscription>)> {
        let mut topics = Vec::new();
        let mut stmt = self.conn.prepare("SELECT arn, body FROM topics")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (arn, body) = row?;
            match serde_json::from_str(&body) {
                Ok(t) => topics.push(t),
                Err(e) => tracing::error!(topic = arn, error = %e, "unreadable topic row skipped"),
            }
        }
        let mut subs = Vec::new();
        let mut stmt = self.conn.prepare("SELECT arn, body FROM subscriptions")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (arn, body) = row?;
            match serde_json::from_str(&body) {
                Ok(s) => subs.push(s),
                Err(e) => tracing::error!(subscription = arn, error = %e, "unreadable subscription row skipped"),
            }
        }
        Ok((topics, subs))
    }

    pub fn put_topic(&self, t: &Topic) -> TopicResult<()> {
        self.conn.execute("INSERT OR REPLACE INTO topics (arn, body) VALUES (?1, ?2)", params![t.arn, encode(t)?])?;
        Ok(())
    }

    /// Deletes a topic and its subscriptions in one transaction.
    pub fn delete_topic(&mut self, arn: &str, subscriptions: &[String]) -> TopicResult<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM topics WHERE arn = ?1", params![arn])?;
        for s in subscriptions {
            tx.execute("DELETE FROM subscriptions WHERE arn = ?1", params![s])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn put_subscription(&self, s: &Subscription) -> TopicResult<()> {
        self.conn
            .execute("INSERT OR REPLACE INTO subscriptions (arn, body) VALUES (?1, ?2)", params![s.arn, encode(s)?])?;
        Ok(())
    }

    pub fn delete_subscription(&self, arn: &str) -> TopicResult<()> {
        self.conn.execute("DELETE FROM subscriptions WHERE arn = ?1", params![arn])?;
        Ok(())
    }

    /// Queues deliveries, and remembers a FIFO message's deduplication id,
    /// in one transaction: all or none.
    pub fn push_outbox(&mut self, bodies: &[String], dedup: Option<&Dedup>, now_ms: i64) -> TopicResult<()> {
        if bodies.is_empty() && dedup.is_none() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO outbox (body, not_before_ms) VALUES (?1, ?2)")?;
            for b in bodies {
                stmt.execute(params![b, now_ms])?;
            }
            if let Some(d) = dedup {
                tx.prepare_cached("DELETE FROM fifo_dedup WHERE expires_ms <= ?1")?.execute(params![now_ms])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO fifo_dedup (topic, dedup_id, message_id, sequence_number, expires_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    d.topic,
                    d.dedup_id,
                    d.message_id,
                    d.sequence_number,
                    d.expires_ms
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deduplication ids still within their window.
    pub fn live_dedups(&self, now_ms: i64) -> TopicResult<Vec<Dedup>> {
        let mut stmt = self.conn.prepare(
            "SELECT topic, dedup_id, message_id, sequence_number, expires_ms FROM fifo_dedup WHERE expires_ms > ?1",
        )?;
        let rows = stmt.query_map(params![now_ms], |r| {
            Ok(Dedup {
                topic: r.get(0)?,
                dedup_id: r.get(1)?,
                message_id: r.get(2)?,
                sequence_number: r.get(3)?,
                expires_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Deliveries due by `now_ms`, oldest first.
    pub fn due(&self, now_ms: i64, limit: usize) -> TopicResult<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, body, attempts FROM outbox WHERE not_before_ms <= ?1 ORDER BY not_before_ms, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok(OutboxRow { id: r.get(0)?, body: r.get(1)?, attempts: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// When the next delivery not yet due falls due, if one is waiting.
    pub fn next_due_after(&self, now_ms: i64) -> TopicResult<Option<i64>> {
        let mut stmt = self.conn.prepare_cached("SELECT MIN(not_before_ms) FROM outbox WHERE not_before_ms > ?1")?;
        Ok(stmt.query_row(params![now_ms], |r| r.get(0))?)
    }

    /// Writes attempts' outcomes back in one transaction.
    pub fn settle(&mut self, settled: &[Settled]) -> TopicResult<()> {
        let tx = self.conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            let mut retry = tx.prepare_cached("UPDATE outbox SET attempts = ?2, not_before_ms = ?3 WHERE id = ?1")?;
            let mut insert = tx.prepare_cached("INSERT INTO outbox (body, not_before_ms) VALUES (?1, ?2)")?;
            for s in settled {
                match s {
                    Settled::Done { id } => delete.execute(params![id])?,
                    Settled::Retry { id, attempts, not_before_ms } => {
                        retry.execute(params![id, attempts, not_before_ms])?
                    }
                    Settled::Redrive { id, delivery } => {
                        delete.execute(params![id])?;
                        let now = lamina_core::now_ms();
                        insert.execute(params![delivery, now])?
                    }
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn outbox_len(&self) -> TopicResult<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Protocol;
    use std::collections::BTreeMap;

    #[test]
    fn topics_subscriptions_and_owed_deliveries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topics.sqlite");
        {
            let mut store = Store::open(&path).unwrap();
            let topic = Topic {
                arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
                name: "t".into(),
                attributes: BTreeMap::from([("DisplayName".to_string(), "d".to_string())]),
                tags: BTreeMap::new(),
            };
            store.put_topic(&topic).unwrap();
            store
                .put_subscription(&Subscription {
                    arn: format!("{}:s", topic.arn),
                    topic_arn: topic.arn.clone(),
                    protocol: Protocol::Http,
                    endpoint: "http://127.0.0.1:1/".into(),
                    owner: "000000000000".into(),
                    attributes: BTreeMap::new(),
                    confirmed: false,
                    token: "tok".into(),
                })
                .unwrap();
            let dedup = Dedup {
                topic: topic.arn.clone(),
                dedup_id: "d".into(),
                message_id: "m".into(),
                sequence_number: Some("1".into()),
                expires_ms: 301_000,
            };
            store.push_outbox(&["a".into(), "b".into(), "c".into()], Some(&dedup), 1_000).unwrap();
            let due = store.due(1_000, 10).unwrap();
            assert_eq!(due.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
            store
                .settle(&[
                    Settled::Done { id: due[0].id },
                    Settled::Retry { id: due[1].id, attempts: 1, not_before_ms: 5_000 },
                ])
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let (topics, subs) = store.load().unwrap();
        assert_eq!(topics[0].attributes["DisplayName"], "d");
        assert_eq!(subs[0].token, "tok");
        assert!(!subs[0].confirmed);
        assert_eq!(store.outbox_len().unwrap(), 2);
        assert_eq!(store.live_dedups(2_000).unwrap()[0].message_id, "m");
        assert!(store.live_dedups(301_000).unwrap().is_empty());
        assert_eq!(store.due(1_000, 10).unwrap().iter().map(|r| r.body.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(store.next_due_after(1_000).unwrap(), Some(5_000));
        assert_eq!(store.next_due_after(5_000).unwrap(), None);
        let later = store.due(5_000, 10).unwrap();
        assert_eq!(later.iter().map(|r| (r.body.as_str(), r.attempts)).collect::<Vec<_>>(), [("c", 0), ("b", 1)]);
    }
}
