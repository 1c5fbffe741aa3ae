//! Durability: `<data_dir>/queues.sqlite`, written by one thread with group
//! commit.
//!
//! Every change to a queue is applied to the in-memory state (which answers
//! all reads) and described as [`Op`]s, submitted in the order the changes
//! happened (callers submit while holding the queue's lock). The writer
//! thread takes every job waiting, applies them in one transaction, commits
//! (WAL, `synchronous=FULL`: one fsync), and only then answers each job's
//! waiter — so a 200 is never sent before its write is on disk, and a burst
//! of requests costs one fsync, not one each.

use crate::model::{MessageData, QueueConfig};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// One durable change.
#[derive(Debug)]
pub enum Op {
    PutQueue {
        id: i64,
        name: String,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
        created: i64,
        modified: i64,
    },
    DeleteQueue {
        id: i64,
    },
    Purge {
        id: i64,
        below_seq: u64,
    },
    InsertMessage {
        seq: u64,
        queue_id: i64,
        data: Box<MessageData>,
        visible_at: i64,
    },
    /// Receive or visibility change.
    UpdateMessage {
        seq: u64,
        visible_at: i64,
        receive_count: u32,
        first_receive: Option<i64>,
        nonce: u64,
    },
    DeleteMessage {
        seq: u64,
    },
    /// Redrive to a dead-letter queue (the data gains its source ARN).
    MoveMessage {
        seq: u64,
        queue_id: i64,
        data: Box<MessageData>,
        visible_at: i64,
    },
    PutDedup {
        queue_id: i64,
        dedup_id: String,
        message_id: String,
        sequence_number: String,
        expires: i64,
    },
    ExpireDedup {
        before: i64,
    },
    PutMapping {
        uuid: String,
        json: String,
    },
    DeleteMapping {
        uuid: String,
    },
}

type Done = oneshot::Sender<Result<(), String>>;

/// Submits ops to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<(Vec<Op>, Option<Done>)>,
}

/// A submitted job: await it to know the ops are durable.
pub struct Pending(Option<oneshot::Receiver<Result<(), String>>>);

impl Pending {
    pub async fn durable(self) -> Result<(), String> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or_else(|_| Err("the queue writer stopped".into())),
        }
    }
}

impl Writer {
    /// Queues ops for the next commit; the result resolves after it.
    pub fn submit(&self, ops: Vec<Op>) -> Pending {
        if ops.is_empty() {
            return Pending(None);
        }
        let (done, rx) = oneshot::channel();
        if self.tx.send((ops, Some(done))).is_err() {
            tracing::error!("queue writer is gone; change not persisted");
        }
        Pending(Some(rx))
    }

    /// Queues ops for the next commit without waiting for it.
    pub fn submit_detached(&self, ops: Vec<Op>) {
        if !ops.is_empty() && self.tx.send((ops, None)).is_err() {
            tracing::error!("queue writer is gone; change not persisted");
        }
    }
}

/// What was on disk at start-up.
pub struct Loaded {
    pub queues: Vec<LoadedQueue>,
    pub messages: Vec<LoadedMessage>,
    pub dedup: Vec<(i64, String, String, String, i64)>,
    pub mappings: Vec<String>,
}

pub struct LoadedQueue {
    pub id: i64,
    pub name: String,
    pub config: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub modified: i64,
}

pub struct LoadedMessage {
    pub seq: u64,
    pub queue_id: i64,
    pub data: MessageData,
    pub visible_at: i64,
    pub receive_count: u32,
    pub first_receive: Option<i64>,
    pub nonce: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
    tags TEXT NOT NULL, created INTEGER NOT NULL, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, data TEXT NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive INTEGER, nonce INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_queue ON messages(queue_id, seq);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (queue_id, dedup_id));
CREATE TABLE IF NOT EXISTS mappings (uuid TEXT PRIMARY KEY, config TEXT NOT NULL);
";

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens (creating) the file, reads it whole, and starts the writer thread.
pub fn open(path: &Path) -> rusqlite::Result<(Writer, Loaded)> {
    let mut conn = open_connection(path)?;
    let loaded = load(&conn)?;
    let (tx, rx) = mpsc::channel::<(Vec<Op>, Option<Done>)>();
    let spawned = std::thread::Builder::new().name("lamina-queue-writer".into()).spawn(move || {
        // A plain thread, not a tokio blocking task: the runtime must not
        // wait for it at shutdown. Everything answered was committed already.
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < 4096 {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let result = commit(&mut conn, &jobs).map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::error!(error = %e, "queue commit failed");
            }
            for (_, done) in jobs {
                if let Some(done) = done {
                    let _ = done.send(result.clone());
                }
            }
        }
    });
    if let Err(e) = spawned {
        return Err(rusqlite::Error::InvalidParameterName(format!("cannot start the queue writer: {e}")));
    }
    Ok((Writer { tx }, loaded))
}

fn commit(conn: &mut Connection, jobs: &[(Vec<Op>, Option<Done>)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for (ops, _) in jobs {
        for op in ops {
            apply(&tx, op)?;
        }
    }
    tx.commit()
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn apply(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::PutQueue { id, name, config, tags, created, modified } => {
            tx.prepare_cached(
                "INSERT INTO queues (id, name, config, tags, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET config = excluded.config, tags = excluded.tags, modified = excluded.modified",
            )?
            .execute(params![id, name, json(config), json(tags), created, modified])?;
        }
        Op::DeleteQueue { id } => {
            tx.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?.execute(params![id])?;
            tx.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?.execute(params![id])?;
            tx.prepare_cached("DELETE FROM queues WHERE id = ?1")?.execute(params![id])?;
        }
        Op::Purge { id, below_seq } => {
            tx.prepare_cached("DELETE FROM messages WHERE queue_id = ?1 AND seq < ?2")?
                .execute(params![id, *below_seq as i64])?;
        }
        Op::InsertMessage { seq, queue_id, data, visible_at } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO messages (seq, queue_id, data, visible_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![*seq as i64, queue_id, json(data), visible_at])?;
        }
        Op::UpdateMessage { seq, visible_at, receive_count, first_receive, nonce } => {
            tx.prepare_cached(
                "UPDATE messages SET visible_at = ?2, receive_count = ?3, first_receive = ?4, nonce = ?5 WHERE seq = ?1",
            )?
            .execute(params![*seq as i64, visible_at, receive_count, first_receive, *nonce as i64])?;
        }
        Op::DeleteMessage { seq } => {
            tx.prepare_cached("DELETE FROM messages WHERE seq = ?1")?.execute(params![*seq as i64])?;
        }
        Op::MoveMessage { seq, queue_id, data, visible_at } => {
            tx.prepare_cached(
                "UPDATE messages SET queue_id = ?2, data = ?3, visible_at = ?4, receive_count = 0, first_receive = NULL WHERE seq = ?1",
            )?
            .execute(params![*seq as i64, queue_id, json(data), visible_at])?;
        }
        Op::PutDedup { queue_id, dedup_id, message_id, sequence_number, expires } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO dedup (queue_id, dedup_id, message_id, sequence_number, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![queue_id, dedup_id, message_id, sequence_number, expires])?;
        }
        Op::ExpireDedup { before } => {
            tx.prepare_cached("DELETE FROM dedup WHERE expires < ?1")?.execute(params![before])?;
        }
        Op::PutMapping { uuid, json } => {
            tx.prepare_cached("INSERT OR REPLACE INTO mappings (uuid, config) VALUES (?1, ?2)")?
                .execute(params![uuid, json])?;
        }
        Op::DeleteMapping { uuid } => {
            tx.prepare_cached("DELETE FROM mappings WHERE uuid = ?1")?.execute(params![uuid])?;
        }
    }
    Ok(())
}

fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut queues = Vec::new();
    let mut stmt = conn.prepare("SELECT id, name, config, tags, created, modified FROM queues ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(1)?;
        let config: String = r.get(2)?;
        let tags: String = r.get(3)?;
        let Ok(config) = serde_json::from_str::<QueueConfig>(&config) else {
            tracing::warn!(queue = %name, "skipping a queue whose stored configuration is unreadable");
            continue;
        };
        queues.push(LoadedQueue {
            id: r.get(0)?,
            name,
            config,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            created: r.get(4)?,
            modified: r.get(5)?,
        });
    }
    let mut messages = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT seq, queue_id, data, visible_at, receive_count, first_receive, nonce FROM messages ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let data: String = r.get(2)?;
        let Ok(data) = serde_json::from_str::<MessageData>(&data) else {
            tracing::warn!(seq, "skipping a message whose stored data is unreadable");
            continue;
        };
        let nonce: i64 = r.get(6)?;
        messages.push(LoadedMessage {
            seq: seq as u64,
            queue_id: r.get(1)?,
            data,
            visible_at: r.get(3)?,
            receive_count: r.get(4)?,
            first_receive: r.get(5)?,
            nonce: nonce as u64,
        });
    }
    let mut dedup = Vec::new();
    let mut stmt = conn.prepare("SELECT queue_id, dedup_id, message_id, sequence_number, expires FROM dedup")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        dedup.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
    }
    let mut mappings = Vec::new();
    let mut stmt = conn.prepare("SELECT config FROM mappings ORDER BY uuid")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        mappings.push(r.get(0)?);
    }
    Ok(Loaded { queues, messages, dedup, mappings })
}
