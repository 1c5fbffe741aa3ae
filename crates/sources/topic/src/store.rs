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
    CREATE INDEX IF NOT EXISTS outbox_due ON outbox (not_before_ms);";

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

    /// Queues deliveries (one transaction: all or none).
    pub fn push_outbox(&mut self, bodies: &[String], now_ms: i64) -> TopicResult<()> {
        if bodies.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO outbox (body, not_before_ms) VALUES (?1, ?2)")?;
            for b in bodies {
                stmt.execute(params![b, now_ms])?;
            }
        }
        tx.commit()?;
        Ok(())
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

    /// Writes attempts' outcomes back in one transaction.
    pub fn settle(&mut self, settled: &[Settled]) -> TopicResult<()> {
        let tx = self.conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            let mut retry = tx.prepare_cached("UPDATE outbox SET attempts = ?2, not_before_ms = ?3 WHERE id = ?1")?;
            for s in settled {
                match s {
                    Settled::Done { id } => delete.execute(params![id])?,
                    Settled::Retry { id, attempts, not_before_ms } => {
                        retry.execute(params![id, attempts, not_before_ms])?
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
