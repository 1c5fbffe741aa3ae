//! Read-write access to the function log database (`lamina.sqlite-logs`),
//! beside the store's own connection, which keeps appending lines.
//!
//! The store writes `log_events(id, grp, stream, ts_ms, message)`, one row
//! per invocation, which this module splits into one event per line
//! ([`lamina_store::log_rows`]: event ids, and so paging tokens, name a line
//! within a row). It adds, in the same file:
//! - indexes for per-stream and per-time reads;
//! - a catalog of groups and streams (`observe_groups`, `observe_streams`)
//!   with their first/last event times and sizes, brought up to date
//!   incrementally from the rows above a watermark, so that listing groups
//!   never scans the whole log. Ids only grow in commit order (SQLite has
//!   one writer at a time), so no row below the watermark can appear later;
//! - each group's retention, which [`LogDb::sweep`] enforces.
//!
//! Write transactions are short (bounded batches) because they hold the
//! same lock the store's log writer needs.

use parking_lot::Mutex;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lamina_store::log_rows::{self, LOG_SCHEMA};

/// This module's indexes and catalog, beside the store's [`LOG_SCHEMA`].
const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS observe_events_by_stream ON log_events (grp, stream, ts_ms);
CREATE INDEX IF NOT EXISTS observe_events_by_time ON log_events (grp, ts_ms);
CREATE TABLE IF NOT EXISTS observe_groups (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    retention_days INTEGER
);
CREATE TABLE IF NOT EXISTS observe_streams (
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grp, name)
);
CREATE INDEX IF NOT EXISTS observe_streams_by_last ON observe_streams (grp, last_ts, name);
CREATE TABLE IF NOT EXISTS observe_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Rows folded into the catalog per write transaction.
const REFRESH_BATCH: i64 = 50_000;
/// Rows deleted per write transaction by the sweeper and DeleteLogGroup.
const DELETE_BATCH: i64 = 5_000;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an event sits in time order: by timestamp, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub ts: i64,
    pub id: i64,
}

impl Position {
    pub const START: Position = Position { ts: i64::MIN, id: i64::MIN };
    pub const END: Position = Position { ts: i64::MAX, id: i64::MAX };
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub stream: String,
    pub ts: i64,
    pub message: String,
}

impl Event {
    pub fn position(&self) -> Position {
        Position { ts: self.ts, id: self.id }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    pub created_ms: i64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub stored_bytes: i64,
}

/// How DescribeLogStreams orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOrder {
    Name,
    LastEventTime,
}

/// Which streams of a group an event scan reads.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamFilter {
    All,
    Names(Vec<String>),
    Prefix(String),
}

/// A time range, inclusive at both ends (FilterLogEvents and GetLogEvents
/// treat `endTime` as inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { start: i64::MIN, end: i64::MAX };
}

pub struct LogDb {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

pub type DbResult<T> = Result<T, rusqlite::Error>;

impl LogDb {
    /// Opens the log database (creating it and this module's tables if need be).
    pub fn open(path: &Path) -> DbResult<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(LOG_SCHEMA)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { path: path.to_path_buf(), writer: Mutex::new(conn), readers: Mutex::new(Vec::new()) })
    }

    /// Runs `f` on a read-only connection from a small pool, so that long
    /// scans do not hold up the writer's work or each other.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(BUSY_TIMEOUT)?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock();
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }

    /// Folds log lines written since the last call into the catalog.
    pub fn refresh(&self) -> DbResult<()> {
        let mut conn = self.writer.lock();
        refresh_catalog(&mut conn)
    }

    pub fn group(&self, name: &str) -> DbResult<Option<Group>> {
        self.refresh()?;
        self.read(|c| c.query_row(&format!("{GROUP_SELECT} WHERE g.name = ?1"), params![name], group_row).optional())
    }

    /// Groups by name, after `after`, whose name starts with `prefix` or
    /// contains `pattern` (case-insensitive).
    pub fn groups(
        &self,
        prefix: Option<&str>,
        pattern: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Vec<Group>> {
        self.refresh()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{GROUP_SELECT} WHERE g.name > ?1 AND substr(g.name, 1, length(?2)) = ?2
                 AND instr(lower(g.name), lower(?3)) > 0 ORDER BY g.name LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![after.unwrap_or(""), prefix.unwrap_or(""), pattern.unwrap_or(""), limit as i64],
                group_row,
            )?;
            rows.collect()
        })
    }

    /// Creates an empty group; false if it exists.
    pub fn create_group(&self, name: &str, now_ms: i64) -> DbResult<bool> {
        self.refresh()?;
        let conn = self.writer.lock();
        let n = conn.execute(
            "INSERT INTO observe_groups (name, created_ms) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, now_ms],
        )?;
        Ok(n == 1)
    }

    /// Deletes a group with all its events; false if there was none.
    pub fn delete_group(&self, name: &str) -> DbResult<bool> {
        self.refresh()?;
        let conn = self.writer.lock();
        let existed = conn.execute("DELETE FROM observe_groups WHERE name = ?1", params![name])? == 1;
        conn.execute("DELETE FROM observe_streams WHERE grp = ?1", params![name])?;
        while conn.execute(
            "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE grp = ?1 LIMIT ?2)",
            params![name, DELETE_BATCH],
        )? > 0
        {}
        Ok(existed)
    }

    /// Sets or clears a group's retention; false if the group does not exist.
    pub fn set_retention(&self, name: &str, days: Option<i64>) -> DbResult<bool> {
        self.refresh()?;
        let conn = self.writer.lock();
        let n = conn.execute("UPDATE observe_groups SET retention_days = ?2 WHERE name = ?1", params![name, days])?;
        Ok(n == 1)
    }

    /// A group's streams. `after` is the last stream of the previous page
    /// (its last event time and name).
    pub fn streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        order: StreamOrder,
        descending: bool,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> DbResult<Vec<Stream>> {
        self.refresh()?;
        let (cmp, dir) = match (order, descending) {
            (StreamOrder::Name, false) => ("name > ?3", "name"),
            (StreamOrder::Name, true) => ("name < ?3", "name DESC"),
            (StreamOrder::LastEventTime, false) => ("(last_ts > ?2 OR (last_ts = ?2 AND name > ?3))", "last_ts, name"),
            (StreamOrder::LastEventTime, true) => {
                ("(last_ts < ?2 OR (last_ts = ?2 AND name < ?3))", "last_ts DESC, name DESC")
            }
        };
        let sql = format!(
            "SELECT name, created_ms, first_ts, last_ts, stored_bytes FROM observe_streams
             WHERE grp = ?1 AND substr(name, 1, length(?4)) = ?4 AND (?5 OR {cmp})
             ORDER BY {dir} LIMIT ?6"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let (ts, name) = after.unwrap_or((0, ""));
            let rows =
                stmt.query_map(params![group, ts, name, prefix.unwrap_or(""), after.is_none(), limit as i64], |r| {
                    Ok(Stream {
                        name: r.get(0)?,
                        created_ms: r.get(1)?,
                        first_ts: r.get(2)?,
                        last_ts: r.get(3)?,
                        stored_bytes: r.get(4)?,
                    })
                })?;
            rows.collect()
        })
    }

    pub fn stream_exists(&self, group: &str, stream: &str) -> DbResult<bool> {
        self.refresh()?;
        self.read(|c| {
            c.query_row(
                "SELECT 1 FROM observe_streams WHERE grp = ?1 AND name = ?2",
                params![group, stream],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
    }

    /// Up to `limit` events of one stream within `range`, strictly after
    /// `after` (`forward`) or strictly before it (backward, the latest
    /// ones), always returned oldest first.
    pub fn stream_events(
        &self,
        group: &str,
        stream: &str,
        range: TimeRange,
        anchor: Position,
        forward: bool,
        limit: usize,
    ) -> DbResult<Vec<Event>> {
        // Every row holds at least one line, and only the anchor's own row
        // can hold lines on the wrong side of it: one row more than `limit`
        // is enough.
        let sql = if forward {
            "SELECT id, stream, ts_ms, message FROM log_events
             WHERE grp = ?1 AND stream = ?2 AND ts_ms >= max(?3, ?5) AND ts_ms <= ?4
               AND (ts_ms > ?5 OR id >= ?6)
             ORDER BY ts_ms, id LIMIT ?7"
        } else {
            "SELECT id, stream, ts_ms, message FROM log_events
             WHERE grp = ?1 AND stream = ?2 AND ts_ms >= ?3 AND ts_ms <= min(?4, ?5)
               AND (ts_ms < ?5 OR id <= ?6)
             ORDER BY ts_ms DESC, id DESC LIMIT ?7"
        };
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            let args = params![
                group,
                stream,
                range.start,
                range.end,
                anchor.ts,
                log_rows::row_of(anchor.id),
                limit as i64 + 1
            ];
            let rows = stmt.query_map(args, Row::read)?;
            rows.collect::<DbResult<Vec<_>>>()
        })?;
        let mut events = Vec::new();
        for row in rows {
            let lines = row.events();
            if forward {
                events.extend(lines.into_iter().filter(|e| e.position() > anchor));
            } else {
                events.extend(lines.into_iter().rev().filter(|e| e.position() < anchor));
            }
            if events.len() >= limit {
                break;
            }
        }
        events.truncate(limit);
        if !forward {
            events.reverse();
        }
        Ok(events)
    }

    /// Reads a group's events in time order strictly after `after`, in
    /// chunks, handing each to `visit` until it returns false or `budget`
    /// events have been read. Returns the position of the last event read
    /// and whether the end of the log was reached.
    pub fn scan(
        &self,
        group: &str,
        streams: &StreamFilter,
        range: TimeRange,
        after: Position,
        budget: usize,
        mut visit: impl FnMut(Event) -> bool,
    ) -> DbResult<(Option<Position>, bool)> {
        const CHUNK: usize = 1000;
        let mut sql = String::from(
            "SELECT id, stream, ts_ms, message FROM log_events
             WHERE grp = ?1 AND ts_ms >= max(?2, ?4) AND ts_ms <= ?3 AND (ts_ms > ?4 OR id >= ?5)",
        );
        let mut extra: Vec<SqlValue> = Vec::new();
        match streams {
            StreamFilter::All => {}
            StreamFilter::Names(names) => {
                sql.push_str(" AND stream IN (");
                for (i, n) in names.iter().enumerate() {
                    sql.push_str(if i == 0 { "?" } else { ", ?" });
                    sql.push_str(&(7 + i).to_string());
                    extra.push(SqlValue::Text(n.clone()));
                }
                sql.push(')');
            }
            StreamFilter::Prefix(p) => {
                sql.push_str(" AND substr(stream, 1, length(?7)) = ?7");
                extra.push(SqlValue::Text(p.clone()));
            }
        }
        sql.push_str(" ORDER BY ts_ms, id LIMIT ?6");
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let mut position = after;
            let mut last = None;
            let mut read = 0usize;
            loop {
                // A chunk starts with the row of the last event read again
                // (its lines are skipped), so it asks for one row more.
                let mut args: Vec<SqlValue> = vec![
                    SqlValue::Text(group.to_string()),
                    SqlValue::Integer(range.start),
                    SqlValue::Integer(range.end),
                    SqlValue::Integer(position.ts),
                    SqlValue::Integer(log_rows::row_of(position.id)),
                    SqlValue::Integer(CHUNK as i64 + 1),
                ];
                args.extend(extra.iter().cloned());
                let rows = stmt.query_map(params_from_iter(args), Row::read)?.collect::<DbResult<Vec<_>>>()?;
                let end_of_log = rows.len() <= CHUNK;
                for event in rows.into_iter().flat_map(Row::events) {
                    if event.position() <= position {
                        continue;
                    }
                    position = event.position();
                    last = Some(position);
                    read += 1;
                    if !visit(event) || read >= budget {
                        return Ok((last, false));
                    }
                }
                if end_of_log {
                    return Ok((last, true));
                }
            }
        })
    }

    /// Deletes events older than their group's retention; returns how many.
    pub fn sweep(&self, now_ms: i64) -> DbResult<u64> {
        self.refresh()?;
        let policies: Vec<(String, i64)> = self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT name, retention_days FROM observe_groups WHERE retention_days IS NOT NULL")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let mut deleted = 0u64;
        for (group, days) in policies {
            let cutoff = now_ms.saturating_sub(days.saturating_mul(86_400_000));
            loop {
                // One short transaction per batch: the store's writer waits on it.
                let n = self.writer.lock().execute(
                    "DELETE FROM log_events WHERE id IN
                       (SELECT id FROM log_events WHERE grp = ?1 AND ts_ms < ?2 LIMIT ?3)",
                    params![group, cutoff, DELETE_BATCH],
                )?;
                deleted += n as u64;
                if (n as i64) < DELETE_BATCH {
                    break;
                }
            }
            self.restat_streams(&group, cutoff)?;
        }
        Ok(deleted)
    }

    /// Recomputes the catalog entries of a group's streams that had events
    /// before `cutoff`, dropping the ones left empty.
    fn restat_streams(&self, group: &str, cutoff: i64) -> DbResult<()> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction()?;
        let names: Vec<String> = {
            let mut stmt = tx.prepare_cached("SELECT name FROM observe_streams WHERE grp = ?1 AND first_ts < ?2")?;
            let rows = stmt.query_map(params![group, cutoff], |r| r.get(0))?;
            rows.collect::<DbResult<_>>()?
        };
        for name in names {
            let (first, last, bytes): (Option<i64>, Option<i64>, Option<i64>) = tx.query_row(
                "SELECT min(ts_ms), max(ts_ms), sum(length(CAST(message AS BLOB)))
                 FROM log_events WHERE grp = ?1 AND stream = ?2",
                params![group, name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            match (first, last) {
                (Some(first), Some(last)) => tx.execute(
                    "UPDATE observe_streams SET first_ts = ?3, last_ts = ?4, stored_bytes = ?5 WHERE grp = ?1 AND name = ?2",
                    params![group, name, first, last, bytes.unwrap_or(0)],
                )?,
                _ => tx.execute("DELETE FROM observe_streams WHERE grp = ?1 AND name = ?2", params![group, name])?,
            };
        }
        tx.commit()
    }
}

const GROUP_SELECT: &str = "SELECT g.name, g.created_ms, g.retention_days,
    (SELECT coalesce(sum(s.stored_bytes), 0) FROM observe_streams s WHERE s.grp = g.name)
    FROM observe_groups g";

fn group_row(r: &rusqlite::Row<'_>) -> DbResult<Group> {
    Ok(Group { name: r.get(0)?, created_ms: r.get(1)?, retention_days: r.get(2)?, stored_bytes: r.get(3)? })
}

/// A stored row: the lines one invocation wrote to a stream.
struct Row {
    id: i64,
    stream: String,
    ts: i64,
    text: String,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> DbResult<Row> {
        Ok(Row { id: r.get(0)?, stream: r.get(1)?, ts: r.get(2)?, text: r.get(3)? })
    }

    /// Its lines as events, in order.
    fn events(self) -> Vec<Event> {
        log_rows::lines(self.id, &self.text)
            .map(|(id, line)| Event { id, stream: self.stream.clone(), ts: self.ts, message: line.to_string() })
            .collect()
    }
}

fn refresh_catalog(conn: &mut Connection) -> DbResult<()> {
    // Cheap check first, outside a write transaction: most calls find nothing new.
    let top: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM log_events", [], |r| r.get(0))?;
    let mark: i64 = conn
        .query_row("SELECT value FROM observe_state WHERE key = 'watermark'", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    if top <= mark {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mark: i64 = tx
            .query_row("SELECT value FROM observe_state WHERE key = 'watermark'", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let top: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM log_events", [], |r| r.get(0))?;
        if top <= mark {
            return tx.commit();
        }
        let upper = top.min(mark.saturating_add(REFRESH_BATCH));
        {
            let mut new = tx.prepare_cached(
                "SELECT grp, stream, min(ts_ms), max(ts_ms), sum(length(CAST(message AS BLOB)))
                 FROM log_events NOT INDEXED WHERE id > ?1 AND id <= ?2 GROUP BY grp, stream",
            )?;
            let mut add_group = tx.prepare_cached(
                "INSERT INTO observe_groups (name, created_ms) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            )?;
            let mut add_stream = tx.prepare_cached(
                "INSERT INTO observe_streams (grp, name, created_ms, first_ts, last_ts, stored_bytes)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5)
                 ON CONFLICT(grp, name) DO UPDATE SET
                   first_ts = min(first_ts, excluded.first_ts),
                   last_ts = max(last_ts, excluded.last_ts),
                   stored_bytes = stored_bytes + excluded.stored_bytes",
            )?;
            let rows = new
                .query_map(params![mark, upper], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })?
                .collect::<DbResult<Vec<_>>>()?;
            for (grp, stream, first, last, bytes) in rows {
                add_group.execute(params![grp, first])?;
                add_stream.execute(params![grp, stream, first, last, bytes])?;
            }
        }
        tx.execute(
            "INSERT INTO observe_state (key, value) VALUES ('watermark', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![upper],
        )?;
        tx.commit()?;
        if upper >= top {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn db() -> (tempfile::TempDir, LogDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = LogDb::open(&dir.path().join("logs.sqlite")).unwrap();
        (dir, db)
    }

    fn insert(db: &LogDb, grp: &str, stream: &str, ts: i64, message: &str) {
        db.writer
            .lock()
            .execute(
                "INSERT INTO log_events (grp, stream, ts_ms, message) VALUES (?1, ?2, ?3, ?4)",
                params![grp, stream, ts, message],
            )
            .unwrap();
    }

    #[test]
    fn catalog_follows_new_rows() {
        let (_d, db) = db();
        insert(&db, "/aws/lambda/a", "s1", 100, "hello");
        insert(&db, "/aws/lambda/a", "s2", 200, "hi");
        insert(&db, "/aws/lambda/b", "s1", 150, "x");
        let groups = db.groups(None, None, None, 50).unwrap();
        assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["/aws/lambda/a", "/aws/lambda/b"]);
        assert_eq!(groups[0].stored_bytes, 7);
        insert(&db, "/aws/lambda/a", "s1", 300, "again");
        let streams = db.streams("/aws/lambda/a", None, StreamOrder::LastEventTime, true, None, 50).unwrap();
        assert_eq!(streams[0].name, "s1");
        assert_eq!((streams[0].first_ts, streams[0].last_ts), (100, 300));
        let page = db.streams("/aws/lambda/a", None, StreamOrder::Name, false, Some((0, "s1")), 50).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].name, "s2");
    }

    #[test]
    fn stream_reads_go_both_ways() {
        let (_d, db) = db();
        for i in 0..10 {
            insert(&db, "g", "s", 1000 + i, &format!("line {i}"));
        }
        let head = db.stream_events("g", "s", TimeRange::ALL, Position::START, true, 3).unwrap();
        assert_eq!(head.iter().map(|e| e.ts).collect::<Vec<_>>(), [1000, 1001, 1002]);
        let tail = db.stream_events("g", "s", TimeRange::ALL, Position::END, false, 3).unwrap();
        assert_eq!(tail.iter().map(|e| e.ts).collect::<Vec<_>>(), [1007, 1008, 1009]);
        let before = db.stream_events("g", "s", TimeRange::ALL, tail[0].position(), false, 2).unwrap();
        assert_eq!(before.iter().map(|e| e.ts).collect::<Vec<_>>(), [1005, 1006]);
        let ranged =
            db.stream_events("g", "s", TimeRange { start: 1003, end: 1004 }, Position::START, true, 10).unwrap();
        assert_eq!(ranged.len(), 2);
    }

    #[test]
    fn an_invocations_lines_read_and_page_one_by_one() {
        let (_d, db) = db();
        insert(&db, "g", "s", 100, "START 1\nhello\nEND 1");
        insert(&db, "g", "s", 100, "START 2\nEND 2");
        insert(&db, "g", "s", 200, "START 3\nEND 3");
        let all: Vec<String> = db
            .stream_events("g", "s", TimeRange::ALL, Position::START, true, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(all, ["START 1", "hello", "END 1", "START 2", "END 2", "START 3", "END 3"]);
        let mut paged = Vec::new();
        let mut anchor = Position::START;
        loop {
            let page = db.stream_events("g", "s", TimeRange::ALL, anchor, true, 2).unwrap();
            let Some(last) = page.last() else { break };
            anchor = last.position();
            paged.extend(page.into_iter().map(|e| e.message));
        }
        assert_eq!(paged, all, "forward pages cut rows in the middle and lose nothing");
        let mut back = Vec::new();
        let mut anchor = Position::END;
        loop {
            let page = db.stream_events("g", "s", TimeRange::ALL, anchor, false, 2).unwrap();
            let Some(first) = page.first() else { break };
            anchor = first.position();
            back.splice(0..0, page.into_iter().map(|e| e.message));
        }
        assert_eq!(back, all, "so do backward pages");
        let mut scanned = Vec::new();
        let mut after = Position::START;
        loop {
            let (last, done) = db
                .scan("g", &StreamFilter::All, TimeRange::ALL, after, 2, |e| {
                    scanned.push(e.message);
                    true
                })
                .unwrap();
            if done || last.is_none() {
                break;
            }
            after = last.unwrap();
        }
        assert_eq!(scanned, all, "and scans with a small budget");
    }

    #[test]
    fn scans_resume_and_filter_streams() {
        let (_d, db) = db();
        for i in 0..25 {
            insert(&db, "g", if i % 2 == 0 { "even" } else { "odd" }, 10 + i, "m");
        }
        let mut seen = Vec::new();
        let (last, done) = db
            .scan("g", &StreamFilter::All, TimeRange::ALL, Position::START, 10, |e| {
                seen.push(e.ts);
                true
            })
            .unwrap();
        assert!(!done);
        assert_eq!(seen.len(), 10);
        let (_, done) = db
            .scan("g", &StreamFilter::All, TimeRange::ALL, last.unwrap(), 100, |e| {
                seen.push(e.ts);
                true
            })
            .unwrap();
        assert!(done);
        assert_eq!(seen, (10..35).collect::<Vec<_>>());
        let mut odd = 0;
        db.scan("g", &StreamFilter::Names(vec!["odd".into()]), TimeRange::ALL, Position::START, 100, |_| {
            odd += 1;
            true
        })
        .unwrap();
        assert_eq!(odd, 12);
        let mut pre = 0;
        db.scan(
            "g",
            &StreamFilter::Prefix("ev".into()),
            TimeRange { start: 10, end: 14 },
            Position::START,
            100,
            |_| {
                pre += 1;
                true
            },
        )
        .unwrap();
        assert_eq!(pre, 3);
    }

    #[test]
    fn sweep_deletes_only_expired_events() {
        let (_d, db) = db();
        let now = 100 * 86_400_000;
        insert(&db, "g", "old", now - 10 * 86_400_000, "old");
        insert(&db, "g", "mixed", now - 10 * 86_400_000, "old");
        insert(&db, "g", "mixed", now - 1000, "new");
        insert(&db, "h", "old", now - 10 * 86_400_000, "kept: no policy");
        assert_eq!(db.sweep(now).unwrap(), 0);
        assert!(db.set_retention("g", Some(7)).unwrap());
        assert!(!db.set_retention("nope", Some(7)).unwrap());
        assert_eq!(db.sweep(now).unwrap(), 2);
        let names: Vec<_> =
            db.streams("g", None, StreamOrder::Name, false, None, 50).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["mixed"]);
        assert_eq!(db.group("h").unwrap().unwrap().stored_bytes, 15);
        assert!(db.delete_group("h").unwrap());
        assert!(db.group("h").unwrap().is_none());
    }
}
