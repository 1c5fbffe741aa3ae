//! The gateway's own SQLite file, `<data_dir>/gateway.sqlite`.
//!
//! Every resource is one row of JSON (the wire shape) keyed by kind, parent
//! and id; everything is loaded into memory at start and routing never
//! reads the file. WAL with `synchronous=FULL`: a write that returned is on
//! disk, so anything answered 2xx survives a crash.

use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("gateway store {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("gateway store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("gateway store holds an unreadable {kind} {id}: {source}")]
    Corrupt { kind: &'static str, id: String, source: serde_json::Error },
}

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Route,
    Integration,
    Stage,
    Url,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Route => "route",
            Kind::Integration => "integration",
            Kind::Stage => "stage",
            Kind::Url => "url",
        }
    }
}

pub struct Store {
    conn: Connection,
}

/// One stored row.
pub struct Row {
    pub parent: String,
    pub id: String,
    pub body: String,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open = |source| StoreError::Open { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(open)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS gateway_objects (
                 kind TEXT NOT NULL,
                 parent TEXT NOT NULL,
                 id TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (kind, parent, id)
             );",
        )
        .map_err(open)?;
        Ok(Self { conn })
    }

    /// An in-memory store (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE gateway_objects (kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
             body TEXT NOT NULL, PRIMARY KEY (kind, parent, id));",
        )?;
        Ok(Self { conn })
    }

    pub fn put(&self, kind: Kind, parent: &str, id: &str, body: &impl serde::Serialize) -> Result<(), StoreError> {
        let json = serde_json::to_string(body).map_err(|source| StoreError::Corrupt {
            kind: kind.as_str(),
            id: id.to_string(),
            source,
        })?;
        self.conn.execute(
            "INSERT INTO gateway_objects (kind, parent, id, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, parent, id) DO UPDATE SET body = excluded.body",
            params![kind.as_str(), parent, id, json],
        )?;
        Ok(())
    }

    pub fn delete(&self, kind: Kind, parent: &str, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM gateway_objects WHERE kind = ?1 AND parent = ?2 AND id = ?3",
            params![kind.as_str(), parent, id],
        )?;
        Ok(())
    }

    /// Deletes an API and everything under it, in one transaction.
    pub fn delete_api(&mut self, api_id: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM gateway_objects WHERE kind = 'api' AND id = ?1", params![api_id])?;
        tx.execute(
            "DELETE FROM gateway_objects WHERE kind <> 'api' AND kind <> 'url' AND parent = ?1",
            params![api_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn all(&self, kind: Kind) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT parent, id, body FROM gateway_objects WHERE kind = ?1")?;
        let rows =
            stmt.query_map(params![kind.as_str()], |r| Ok(Row { parent: r.get(0)?, id: r.get(1)?, body: r.get(2)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Decodes rows of one kind.
    pub fn load<T: serde::de::DeserializeOwned>(&self, kind: Kind) -> Result<Vec<(String, T)>, StoreError> {
        self.all(kind)?
            .into_iter()
            .map(|row| {
                serde_json::from_str(&row.body).map(|v| (row.parent, v)).map_err(|source| StoreError::Corrupt {
                    kind: kind.as_str(),
                    id: row.id,
                    source,
                })
            })
            .collect()
    }
}
