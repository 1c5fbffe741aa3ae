//! The embedded SQLite backend: one database file, WAL journal, records as
//! JSON in a few narrow tables.

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;

use lamina_core::{Alias, FunctionVersion, LATEST};

use crate::log_rows::{self, LOG_SCHEMA};
use crate::{LogEvent, LogLines, QueuedEvent, Result, Store, StoreError, Usage};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    next_version INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    function TEXT NOT NULL,
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (function, name)
);
CREATE TABLE IF NOT EXISTS settings (
    function TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (function, key)
);
CREATE TABLE IF NOT EXISTS async_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_ms INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (not_before_ms, id);
";

/// Function logs live in their own database ([`log_rows::LOG_SCHEMA`]):
/// they are written on every invocation, and losing the last moments of them
/// in a power cut is an acceptable price for not syncing the disk each time.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    logs: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the metadata database at `path` and
    /// the log database beside it (`<path>-logs`).
    pub fn open(path: &Path) -> Result<Self> {
        // FULL: a 2xx answer means the write reached the disk.
        let conn = open_db(path, "FULL", SCHEMA)?;
        add_trace_column(&conn)?;
        let mut logs_path = path.as_os_str().to_owned();
        logs_path.push("-logs");
        let logs = open_db(Path::new(&logs_path), "NORMAL", LOG_SCHEMA)?;
        Ok(Self { conn: Mutex::new(conn), logs: Mutex::new(logs) })
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        add_trace_column(&conn)?;
        let logs = Connection::open_in_memory()?;
        logs.execute_batch(LOG_SCHEMA)?;
        Ok(Self { conn: Mutex::new(conn), logs: Mutex::new(logs) })
    }
}

fn open_db(path: &Path, synchronous: &str, schema: &str) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// Databases made before async events carried their caller's trace get the column.
fn add_trace_column(conn: &Connection) -> Result<()> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('async_events') WHERE name = 'trace_header'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE async_events ADD COLUMN trace_header TEXT")?;
    }
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(s: String) -> Result<T> {
    Ok(serde_json::from_str(&s)?)
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM functions WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some())
}

fn one_version(conn: &Connection, name: &str, version: &str) -> Result<FunctionVersion> {
    let record: Option<String> = conn
        .query_row("SELECT record FROM versions WHERE name = ?1 AND version = ?2", [name, version], |r| r.get(0))
        .optional()?;
    decode(record.ok_or(StoreError::NotFound)?)
}

/// Same code and configuration, ignoring what publishing changes.
fn same_content(a: &FunctionVersion, b: &FunctionVersion) -> bool {
    let strip = |v: &FunctionVersion| {
        let mut v = v.clone();
        v.version = String::new();
        v.revision_id = String::new();
        v.last_modified_ms = 0;
        v.description = String::new();
        v
    };
    strip(a) == strip(b)
}

impl Store for SqliteStore {
    fn create_function(&self, latest: &FunctionVersion, tags: &BTreeMap<String, String>) -> Result<()> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        if exists(&tx, &latest.name)? {
            return Err(StoreError::Conflict);
        }
        tx.execute("INSERT INTO functions (name, tags) VALUES (?1, ?2)", params![latest.name, encode(tags)?])?;
        tx.execute(
            "INSERT INTO versions (name, version, seq, record) VALUES (?1, ?2, 0, ?3)",
            params![latest.name, LATEST, encode(latest)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_version(&self, name: &str, version: &str) -> Result<FunctionVersion> {
        one_version(&self.conn.lock(), name, version)
    }

    fn put_latest(&self, latest: &FunctionVersion) -> Result<()> {
        let n = self.conn.lock().execute(
            "UPDATE versions SET record = ?3 WHERE name = ?1 AND version = ?2",
            params![latest.name, LATEST, encode(latest)?],
        )?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    fn list_functions(&self, after: Option<&str>, limit: usize) -> Result<Vec<FunctionVersion>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT record FROM versions WHERE version = '$LATEST' AND name > ?1 ORDER BY name LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], |r| r.get::<_, String>(0))?;
        rows.map(|r| decode(r?)).collect()
    }

    fn list_versions(&self, name: &str) -> Result<Vec<FunctionVersion>> {
        let conn = self.conn.lock();
        if !exists(&conn, name)? {
            return Err(StoreError::NotFound);
        }
        let mut stmt = conn.prepare_cached("SELECT record FROM versions WHERE name = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([name], |r| r.get::<_, String>(0))?;
        rows.map(|r| decode(r?)).collect()
    }

    fn publish_version(&self, name: &str, description: Option<&str>) -> Result<FunctionVersion> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let latest = one_version(&tx, name, LATEST)?;
        let newest: Option<String> = tx
            .query_row(
                "SELECT record FROM versions WHERE name = ?1 AND seq > 0 ORDER BY seq DESC LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(newest) = newest {
            let newest: FunctionVersion = decode(newest)?;
            if same_content(&newest, &latest) {
                return Ok(newest);
            }
        }
        let n: i64 = tx.query_row("SELECT next_version FROM functions WHERE name = ?1", [name], |r| r.get(0))?;
        let mut version = latest;
        version.version = n.to_string();
        version.revision_id = uuid_like(&version.code_sha256, n);
        if let Some(d) = description {
            version.description = d.to_string();
        }
        tx.execute(
            "INSERT INTO versions (name, version, seq, record) VALUES (?1, ?2, ?3, ?4)",
            params![name, version.version, n, encode(&version)?],
        )?;
        tx.execute("UPDATE functions SET next_version = ?2 WHERE name = ?1", params![name, n + 1])?;
        tx.commit()?;
        Ok(version)
    }

    fn delete_function(&self, name: &str) -> Result<()> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        if tx.execute("DELETE FROM functions WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute("DELETE FROM versions WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM aliases WHERE function = ?1", [name])?;
        tx.execute("DELETE FROM settings WHERE function = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    fn delete_version(&self, name: &str, version: &str) -> Result<()> {
        let n = self
            .conn
            .lock()
            .execute("DELETE FROM versions WHERE name = ?1 AND version = ?2 AND seq > 0", [name, version])?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    fn usage(&self) -> Result<(u64, u64)> {
        let conn = self.conn.lock();
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM functions", [], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached("SELECT record FROM versions")?;
        let mut total = 0u64;
        for record in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let v: FunctionVersion = decode(record?)?;
            total += v.code_size;
        }
        Ok((count as u64, total))
    }

    fn put_alias(&self, alias: &Alias, create: bool) -> Result<()> {
        let conn = self.conn.lock();
        if !exists(&conn, &alias.function)? {
            return Err(StoreError::NotFound);
        }
        let sql = if create {
            "INSERT INTO aliases (function, name, record) VALUES (?1, ?2, ?3)"
        } else {
            "UPDATE aliases SET record = ?3 WHERE function = ?1 AND name = ?2"
        };
        match conn.execute(sql, params![alias.function, alias.name, encode(alias)?]) {
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn get_alias(&self, function: &str, name: &str) -> Result<Alias> {
        let record: Option<String> = self
            .conn
            .lock()
            .query_row("SELECT record FROM aliases WHERE function = ?1 AND name = ?2", [function, name], |r| r.get(0))
            .optional()?;
        decode(record.ok_or(StoreError::NotFound)?)
    }

    fn list_aliases(&self, function: &str) -> Result<Vec<Alias>> {
        let conn = self.conn.lock();
        if !exists(&conn, function)? {
            return Err(StoreError::NotFound);
        }
        let mut stmt = conn.prepare_cached("SELECT record FROM aliases WHERE function = ?1 ORDER BY name")?;
        let rows = stmt.query_map([function], |r| r.get::<_, String>(0))?;
        rows.map(|r| decode(r?)).collect()
    }

    fn delete_alias(&self, function: &str, name: &str) -> Result<()> {
        self.conn.lock().execute("DELETE FROM aliases WHERE function = ?1 AND name = ?2", [function, name])?;
        Ok(())
    }

    fn tags(&self, function: &str) -> Result<BTreeMap<String, String>> {
        let tags: Option<String> = self
            .conn
            .lock()
            .query_row("SELECT tags FROM functions WHERE name = ?1", [function], |r| r.get(0))
            .optional()?;
        decode(tags.ok_or(StoreError::NotFound)?)
    }

    fn set_tags(&self, function: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let n = self
            .conn
            .lock()
            .execute("UPDATE functions SET tags = ?2 WHERE name = ?1", params![function, encode(tags)?])?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    fn get_setting(&self, function: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .lock()
            .query_row("SELECT value FROM settings WHERE function = ?1 AND key = ?2", [function, key], |r| r.get(0))
            .optional()?)
    }

    fn put_setting(&self, function: &str, key: &str, value: &str) -> Result<()> {
        let conn = self.conn.lock();
        if !exists(&conn, function)? {
            return Err(StoreError::NotFound);
        }
        conn.execute(
            "INSERT INTO settings (function, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (function, key) DO UPDATE SET value = excluded.value",
            [function, key, value],
        )?;
        Ok(())
    }

    fn delete_setting(&self, function: &str, key: &str) -> Result<bool> {
        Ok(self.conn.lock().execute("DELETE FROM settings WHERE function = ?1 AND key = ?2", [function, key])? > 0)
    }

    fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT function, key, value FROM settings WHERE substr(key, 1, length(?1)) = ?1 ORDER BY function, key",
        )?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn enqueue_event(&self, e: &QueuedEvent) -> Result<i64> {
        let conn = self.conn.lock();
        conn.execute(
            "INSERT INTO async_events (request_id, function, qualifier, payload, attempts, enqueued_ms, not_before_ms, trace_header)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                e.request_id,
                e.function,
                e.qualifier,
                e.payload,
                e.attempts,
                e.enqueued_ms,
                e.not_before_ms,
                e.trace_header
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn due_events(&self, now_ms: i64, limit: usize) -> Result<Vec<QueuedEvent>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, request_id, function, qualifier, payload, attempts, enqueued_ms, not_before_ms, trace_header
             FROM async_events WHERE not_before_ms <= ?1 ORDER BY not_before_ms, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok(QueuedEvent {
                id: r.get(0)?,
                request_id: r.get(1)?,
                function: r.get(2)?,
                qualifier: r.get(3)?,
                payload: r.get(4)?,
                attempts: r.get(5)?,
                enqueued_ms: r.get(6)?,
                not_before_ms: r.get(7)?,
                trace_header: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn reschedule_event(&self, id: i64, attempts: u32, not_before_ms: i64) -> Result<()> {
        self.conn.lock().execute(
            "UPDATE async_events SET attempts = ?2, not_before_ms = ?3 WHERE id = ?1",
            params![id, attempts, not_before_ms],
        )?;
        Ok(())
    }

    fn delete_event(&self, id: i64) -> Result<()> {
        self.conn.lock().execute("DELETE FROM async_events WHERE id = ?1", [id])?;
        Ok(())
    }

    fn queued_event_count(&self) -> Result<u64> {
        let n: i64 = self.conn.lock().query_row("SELECT COUNT(*) FROM async_events", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn append_logs(&self, logs: &[LogLines]) -> Result<()> {
        let mut conn = self.logs.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO log_events (grp, stream, ts_ms, message) VALUES (?1, ?2, ?3, ?4)")?;
            for l in logs {
                for text in log_rows::row_texts(&l.text) {
                    stmt.execute(params![l.group, l.stream, l.timestamp_ms, text])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn record_usage(&self, usage: &[Usage]) -> Result<()> {
        let mut conn = self.logs.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO usage (day, function, requests, billed_ms, gb_seconds) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (day, function) DO UPDATE SET requests = requests + excluded.requests,
                 billed_ms = billed_ms + excluded.billed_ms, gb_seconds = gb_seconds + excluded.gb_seconds",
            )?;
            for u in usage {
                stmt.execute(params![u.day, u.function, u.requests as i64, u.billed_ms as i64, u.gb_seconds])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn usage_since(&self, since_day: &str) -> Result<Vec<Usage>> {
        let conn = self.logs.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT day, function, requests, billed_ms, gb_seconds FROM usage WHERE day >= ?1 ORDER BY day, function",
        )?;
        let rows = stmt.query_map([since_day], |r| {
            Ok(Usage {
                day: r.get(0)?,
                function: r.get(1)?,
                requests: r.get::<_, i64>(2)? as u64,
                billed_ms: r.get::<_, i64>(3)? as u64,
                gb_seconds: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn read_logs(&self, group: &str, after_id: i64, limit: usize) -> Result<Vec<LogEvent>> {
        let conn = self.logs.lock();
        // Every row holds at least one line, and only the first row can hold
        // lines at or before `after_id`: one row more than `limit` is enough.
        let mut stmt = conn.prepare_cached(
            "SELECT id, stream, ts_ms, message FROM log_events WHERE grp = ?1 AND id >= ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![group, log_rows::row_of(after_id), limit as i64 + 1], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (row, stream, timestamp_ms, text) = row?;
            for (id, line) in log_rows::lines(row, &text).filter(|(id, _)| *id > after_id) {
                if events.len() == limit {
                    return Ok(events);
                }
                events.push(LogEvent {
                    id,
                    group: group.to_string(),
                    stream: stream.clone(),
                    timestamp_ms,
                    message: line.to_string(),
                });
            }
        }
        Ok(events)
    }
}

/// A revision id for a published version: stable for the same code and number.
fn uuid_like(sha: &str, n: i64) -> String {
    let h = crate::Blobs::digest(format!("{sha}:{n}:{}", lamina_core::now_ms()).as_bytes());
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests;
