//! The schedules' own SQLite file, `<data_dir>/schedules.sqlite`.
//!
//! One row per schedule (its GetSchedule JSON plus its next fire time) and
//! one per group. WAL with `synchronous=FULL`: a write that returned is on
//! disk, so a schedule answered 2xx, and every advance of its next fire
//! time, survives a crash. Everything is loaded at start; the ticker never
//! scans the file.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

use crate::model::{Group, Schedule};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("schedule store {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("schedule store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("schedule store: cannot encode {what}: {source}")]
    Encode { what: String, source: serde_json::Error },
}

/// When a schedule fires next: `due_ms` is the time the expression gives
/// (what the event says it was scheduled for), `fire_ms` the time it is
/// delivered (later by the flexible window's offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    pub due_ms: i64,
    pub fire_ms: i64,
}

pub struct Store {
    conn: Connection,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS schedules (
        grp TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        due_ms INTEGER,
        fire_ms INTEGER,
        PRIMARY KEY (grp, name)
    );
    CREATE TABLE IF NOT EXISTS schedule_groups (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );";

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open = |source| StoreError::Open { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(open)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").map_err(open)?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        Ok(Self { conn })
    }

    /// An in-memory store (tests, or when the file cannot be opened).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Every schedule with its stored next fire time. Rows that no longer
    /// decode are reported and skipped, not fatal.
    pub fn schedules(&self) -> Result<Vec<(Schedule, Option<Next>)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT grp, name, body, due_ms, fire_ms FROM schedules")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (grp, name, body, due, fire) = row?;
            match serde_json::from_str::<Schedule>(&body) {
                Ok(s) => {
                    let next = due.zip(fire).map(|(due_ms, fire_ms)| Next { due_ms, fire_ms });
                    out.push((s, next));
                }
                Err(e) => tracing::error!(group = grp, name, error = %e, "skipping an unreadable stored schedule"),
            }
        }
        Ok(out)
    }

    pub fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT name, body FROM schedule_groups")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, body) = row?;
            match serde_json::from_str::<Group>(&body) {
                Ok(g) => out.push(g),
                Err(e) => tracing::error!(group = name, error = %e, "skipping an unreadable stored schedule group"),
            }
        }
        Ok(out)
    }

    pub fn put_schedule(&self, s: &Schedule, next: Option<Next>) -> Result<(), StoreError> {
        let body = serde_json::to_string(s).map_err(|source| StoreError::Encode { what: s.arn.clone(), source })?;
        self.conn.execute(
            "INSERT INTO schedules (grp, name, body, due_ms, fire_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (grp, name) DO UPDATE SET body = excluded.body, due_ms = excluded.due_ms,
             fire_ms = excluded.fire_ms",
            params![s.group_name, s.name, body, next.map(|n| n.due_ms), next.map(|n| n.fire_ms)],
        )?;
        Ok(())
    }

    /// Records a schedule's next fire time (after it fired).
    pub fn set_next(&self, group: &str, name: &str, next: Option<Next>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE schedules SET due_ms = ?3, fire_ms = ?4 WHERE grp = ?1 AND name = ?2",
            params![group, name, next.map(|n| n.due_ms), next.map(|n| n.fire_ms)],
        )?;
        Ok(())
    }

    pub fn delete_schedule(&self, group: &str, name: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM schedules WHERE grp = ?1 AND name = ?2", params![group, name])?;
        Ok(())
    }

    pub fn put_group(&self, g: &Group) -> Result<(), StoreError> {
        let body = serde_json::to_string(g).map_err(|source| StoreError::Encode { what: g.arn.clone(), source })?;
        self.conn.execute(
            "INSERT INTO schedule_groups (name, body) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body",
            params![g.name, body],
        )?;
        Ok(())
    }

    /// Deletes a group and its schedules in one transaction.
    pub fn delete_group(&mut self, name: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM schedules WHERE grp = ?1", params![name])?;
        tx.execute("DELETE FROM schedule_groups WHERE name = ?1", params![name])?;
        tx.commit()?;
        Ok(())
    }

    /// The stored next fire time of one schedule (tests).
    pub fn next_of(&self, group: &str, name: &str) -> Result<Option<Next>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT due_ms, fire_ms FROM schedules WHERE grp = ?1 AND name = ?2",
                params![group, name],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(d, f)| d.zip(f)).map(|(due_ms, fire_ms)| Next { due_ms, fire_ms }))
    }
}
