//! Metadata in `<data_dir>/objects.sqlite` (WAL, synchronous=FULL):
//! buckets (with their notification configuration), objects, multipart
//! uploads and their parts.
//!
//! A row names the file in `objects/data/` that holds the bytes; files are
//! immutable, so a row is written only after its file is complete and in
//! place, and replacing or deleting an object commits the row change before
//! the old file is unlinked. Calls block: the service runs them on tokio's
//! blocking pool.
//!
//! Object tags live in their own column (`tags`, a JSON object), apart from
//! the attributes: PutObjectTagging changes them without touching the
//! object, and CopyObject copies or replaces them under its own directive.
//! Databases made before tags get the column at open ([`add_tags_columns`]).

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::error::{S3Error, S3Result};
use crate::listing::Entry;
use crate::tagging::Tags;

#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    pub created_ms: i64,
}

/// What an object carries besides its bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attrs {
    pub content_type: Option<String>,
    /// Content-Encoding, Content-Disposition, Cache-Control, Content-Language, Expires.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` without the prefix, lowercase names.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// (`x-amz-checksum-*` header, base64 value), when verified on upload.
    #[serde(default)]
    pub checksum: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub file: String,
    pub size: u64,
    /// Without quotes; `hex-N` for multipart objects.
    pub etag: String,
    pub modified_ms: i64,
    pub attrs: Attrs,
    pub tags: Tags,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub created_ms: i64,
    pub attrs: Attrs,
    /// The tags the completed object gets (`x-amz-tagging` at creation).
    pub tags: Tags,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub number: u32,
    pub file: String,
    pub size: u64,
    pub etag: String,
    pub modified_ms: i64,
}

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    notification TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    attrs TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    attrs TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload_id, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    arn TEXT NOT NULL,
    message TEXT NOT NULL
);
";

/// A bucket notification owed to a target: (kind, target ARN, message).
pub type Owed = (String, String, String);

fn attrs_json(a: &Attrs) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

fn attrs_from(s: String) -> Attrs {
    serde_json::from_str(&s).unwrap_or_default()
}

fn tags_json(t: &Tags) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "{}".into())
}

fn tags_from(s: String) -> Tags {
    serde_json::from_str(&s).unwrap_or_default()
}

/// The columns [`object_from`] reads, in its order.
const OBJECT_COLUMNS: &str = "key, file, size, etag, modified_ms, attrs, tags";

fn object_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Object> {
    Ok(Object {
        key: row.get(0)?,
        file: row.get(1)?,
        size: row.get::<_, i64>(2)? as u64,
        etag: row.get(3)?,
        modified_ms: row.get(4)?,
        attrs: attrs_from(row.get(5)?),
        tags: tags_from(row.get(6)?),
    })
}

/// The columns [`upload_from`] reads, in its order.
const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, created_ms, attrs, tags";

fn upload_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        upload_id: row.get(0)?,
        bucket: row.get(1)?,
        key: row.get(2)?,
        created_ms: row.get(3)?,
        attrs: attrs_from(row.get(4)?),
        tags: tags_from(row.get(5)?),
    })
}

/// The columns [`bucket_from`] reads, in its order.
const BUCKET_COLUMNS: &str = "name, region, created_ms";

fn bucket_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Bucket> {
    Ok(Bucket { name: row.get(0)?, region: row.get(1)?, created_ms: row.get(2)? })
}

fn part_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Part> {
    Ok(Part {
        number: row.get(0)?,
        file: row.get(1)?,
        size: row.get::<_, i64>(2)? as u64,
        etag: row.get(3)?,
        modified_ms: row.get(4)?,
    })
}

/// Writes an object's row in `tx`, replacing any previous one; returns the
/// previous row's file.
fn write_object(tx: &rusqlite::Transaction<'_>, bucket: &str, o: &Object) -> S3Result<Option<String>> {
    let old: Option<String> = tx
        .query_row("SELECT file FROM objects WHERE bucket = ?1 AND key = ?2", [bucket, &o.key], |r| r.get(0))
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO objects (bucket, key, file, size, etag, modified_ms, attrs, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![bucket, o.key, o.file, o.size as i64, o.etag, o.modified_ms, attrs_json(&o.attrs), tags_json(&o.tags)],
    )?;
    Ok(old)
}

/// Databases made before object tags get the `tags` column on objects and uploads.
fn add_tags_columns(conn: &Connection) -> S3Result<()> {
    for table in ["objects", "uploads"] {
        let has: bool = conn.query_row(
            &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = 'tags'"),
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN tags TEXT NOT NULL DEFAULT '{{}}'"))?;
        }
    }
    Ok(())
}

impl Store {
    pub fn open(path: &Path) -> S3Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        add_tags_columns(&conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    // ---- buckets

    /// Creates the bucket; false when it already exists.
    pub fn create_bucket(&self, name: &str, region: &str, now_ms: i64) -> S3Result<bool> {
        let n = self.conn.lock().execute(
            "INSERT OR IGNORE INTO buckets (name, region, created_ms) VALUES (?1, ?2, ?3)",
            params![name, region, now_ms],
        )?;
        Ok(n == 1)
    }

    pub fn bucket(&self, name: &str) -> S3Result<Option<Bucket>> {
        let sql = format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1");
        Ok(self.conn.lock().query_row(&sql, [name], bucket_from).optional()?)
    }

    pub fn buckets(&self) -> S3Result<Vec<Bucket>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!("SELECT {BUCKET_COLUMNS} FROM buckets ORDER BY name"))?;
        let rows = stmt.query_map([], bucket_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes an empty bucket (and its unfinished uploads). Ok(false): not
    /// empty; the part files of dropped uploads are returned for unlinking.
    pub fn delete_bucket(&self, name: &str) -> S3Result<Option<Vec<String>>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let any: Option<i64> =
            tx.query_row("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1", [name], |r| r.get(0)).optional()?;
        if any.is_some() {
            return Ok(None);
        }
        let files = {
            let mut stmt = tx.prepare(
                "SELECT p.file FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?1",
            )?;
            let files = stmt.query_map([name], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            files
        };
        tx.execute("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?1)", [name])?;
        tx.execute("DELETE FROM uploads WHERE bucket = ?1", [name])?;
        tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(Some(files))
    }

    pub fn notification(&self, bucket: &str) -> S3Result<Option<String>> {
        Ok(self
            .conn
            .lock()
            .query_row("SELECT notification FROM buckets WHERE name = ?1", [bucket], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub fn set_notification(&self, bucket: &str, config: &str) -> S3Result<()> {
        self.conn.lock().execute("UPDATE buckets SET notification = ?2 WHERE name = ?1", params![bucket, config])?;
        Ok(())
    }

    /// Every bucket's notification configuration (loaded once at start).
    pub fn notifications(&self) -> S3Result<Vec<(String, String)>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT name, notification FROM buckets WHERE notification IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- the notification outbox

    /// Records notifications owed to targets; their ids, in order.
    pub fn add_owed(&self, owed: &[Owed]) -> S3Result<Vec<i64>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(owed.len());
        {
            let mut stmt = tx.prepare("INSERT INTO outbox (kind, arn, message) VALUES (?1, ?2, ?3)")?;
            for (kind, arn, message) in owed {
                stmt.execute(params![kind, arn, message])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Every notification still owed, oldest first.
    pub fn owed(&self) -> S3Result<Vec<(i64, Owed)>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT id, kind, arn, message FROM outbox ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets a delivered notification.
    pub fn delivered(&self, id: i64) -> S3Result<()> {
        self.conn.lock().execute("DELETE FROM outbox WHERE id = ?1", params![id])?;
        Ok(())
    }

    // ---- objects

    pub fn object(&self, bucket: &str, key: &str) -> S3Result<Option<Object>> {
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2");
        Ok(self.conn.lock().query_row(&sql, [bucket, key], object_from).optional()?)
    }

    /// Writes the object's row; returns the file it replaced, if any.
    pub fn put_object(&self, bucket: &str, o: &Object) -> S3Result<Option<String>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let old = write_object(&tx, bucket, o)?;
        tx.commit()?;
        Ok(old.filter(|f| *f != o.file))
    }

    /// Replaces an object's tag set; false when there is no such object.
    pub fn set_tags(&self, bucket: &str, key: &str, tags: &Tags) -> S3Result<bool> {
        let n = self.conn.lock().execute(
            "UPDATE objects SET tags = ?3 WHERE bucket = ?1 AND key = ?2",
            params![bucket, key, tags_json(tags)],
        )?;
        Ok(n == 1)
    }

    /// Deletes the object; returns its row when there was one.
    pub fn delete_object(&self, bucket: &str, key: &str) -> S3Result<Option<Object>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2");
        let old = tx.query_row(&sql, [bucket, key], object_from).optional()?;
        if old.is_some() {
            tx.execute("DELETE FROM objects WHERE bucket = ?1 AND key = ?2", [bucket, key])?;
        }
        tx.commit()?;
        Ok(old)
    }

    /// Up to `limit` objects with keys `> after` and `>= prefix`, in byte order.
    pub fn list(&self, bucket: &str, after: &str, prefix: &str, limit: usize) -> S3Result<Vec<Entry>> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT key, size, etag, modified_ms FROM objects
             WHERE bucket = ?1 AND key > ?2 AND key >= ?3 ORDER BY key LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![bucket, after, prefix, limit as i64], |r| {
            Ok(Entry { key: r.get(0)?, size: r.get::<_, i64>(1)? as u64, etag: r.get(2)?, modified_ms: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- multipart

    pub fn create_upload(&self, u: &Upload) -> S3Result<()> {
        self.conn.lock().execute(
            "INSERT INTO uploads (upload_id, bucket, key, created_ms, attrs, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![u.upload_id, u.bucket, u.key, u.created_ms, attrs_json(&u.attrs), tags_json(&u.tags)],
        )?;
        Ok(())
    }

    pub fn upload(&self, upload_id: &str) -> S3Result<Option<Upload>> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1");
        Ok(self.conn.lock().query_row(&sql, [upload_id], upload_from).optional()?)
    }

    /// Uploads of a bucket, ordered by key then id.
    pub fn uploads(&self, bucket: &str) -> S3Result<Vec<Upload>> {
        let conn = self.conn.lock();
        let mut stmt =
            conn.prepare(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?1 ORDER BY key, upload_id"))?;
        let rows = stmt.query_map([bucket], upload_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a part; returns the file of the part it replaced.
    pub fn put_part(&self, upload_id: &str, p: &Part) -> S3Result<Option<String>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let exists: Option<i64> =
            tx.query_row("SELECT 1 FROM uploads WHERE upload_id = ?1", [upload_id], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Err(S3Error::NoSuchUpload { upload_id: upload_id.to_string() });
        }
        let old: Option<String> = tx
            .query_row(
                "SELECT file FROM parts WHERE upload_id = ?1 AND number = ?2",
                params![upload_id, p.number],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT OR REPLACE INTO parts (upload_id, number, file, size, etag, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![upload_id, p.number, p.file, p.size as i64, p.etag, p.modified_ms],
        )?;
        tx.commit()?;
        Ok(old)
    }

    pub fn parts(&self, upload_id: &str) -> S3Result<Vec<Part>> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare("SELECT number, file, size, etag, modified_ms FROM parts WHERE upload_id = ?1 ORDER BY number")?;
        let rows = stmt.query_map([upload_id], part_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Drops an upload and its parts; returns the part files to unlink.
    pub fn delete_upload(&self, upload_id: &str) -> S3Result<Vec<String>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let files = {
            let mut stmt = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
            let files = stmt.query_map([upload_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            files
        };
        tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
        tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
        tx.commit()?;
        Ok(files)
    }

    /// Completes an upload in one transaction: the object row replaces any
    /// previous one and the upload disappears. Returns the files to unlink
    /// (the parts and the replaced object's file); `NoSuchUpload` when the
    /// upload was completed or aborted meanwhile.
    pub fn complete_upload(&self, upload_id: &str, bucket: &str, o: &Object) -> S3Result<Vec<String>> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let exists: Option<i64> =
            tx.query_row("SELECT 1 FROM uploads WHERE upload_id = ?1", [upload_id], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Err(S3Error::NoSuchUpload { upload_id: upload_id.to_string() });
        }
        let mut files = {
            let mut stmt = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
            let files = stmt.query_map([upload_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            files
        };
        files.extend(write_object(&tx, bucket, o)?);
        tx.execute("DELETE FROM parts WHERE upload_id = ?1", [upload_id])?;
        tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
        tx.commit()?;
        Ok(files)
    }

    /// Every data file some row refers to (for the startup sweep).
    pub fn referenced_files(&self) -> S3Result<HashSet<String>> {
        let conn = self.conn.lock();
        let mut out = HashSet::new();
        for sql in ["SELECT file FROM objects", "SELECT file FROM parts"] {
            let mut stmt = conn.prepare(sql)?;
            for f in stmt.query_map([], |r| r.get::<_, String>(0))? {
                out.insert(f?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_database_from_before_tags_gets_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("objects.sqlite");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, file TEXT NOT NULL,
                    size INTEGER NOT NULL, etag TEXT NOT NULL, modified_ms INTEGER NOT NULL, attrs TEXT NOT NULL,
                    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
                 CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
                    created_ms INTEGER NOT NULL, attrs TEXT NOT NULL);
                 INSERT INTO objects VALUES ('b', 'k', 'f', 1, 'e', 0, '{}');
                 INSERT INTO uploads VALUES ('u', 'b', 'k', 0, '{}');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert!(store.object("b", "k").unwrap().unwrap().tags.is_empty());
        assert!(store.upload("u").unwrap().unwrap().tags.is_empty());
        let tags = Tags::from([("colour".to_string(), "blue".to_string())]);
        assert!(store.set_tags("b", "k", &tags).unwrap());
        assert!(!store.set_tags("b", "missing", &tags).unwrap());
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.object("b", "k").unwrap().unwrap().tags, tags);
    }
}
