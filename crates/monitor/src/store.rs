//! `<data_dir>/metrics.sqlite`: per-minute datapoints and alarms.
//!
//! Datapoints are additive: writing a minute that is already there merges
//! into it (counts and sums add, extremes widen, histograms add), so a
//! minute flushed before a restart and finished after it is still one
//! datapoint. WAL with synchronous=FULL: PutMetricData and alarm changes
//! are on disk before their 200.

use crate::error::CwError;
use crate::stats::Aggregate;
use lamina_scheduler::series::BINS;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// A metric's dimensions, sorted by name: the identity CloudWatch matches
/// exactly.
pub type Dims = Vec<(String, String)>;

/// How dimensions are stored: a JSON array of `[name, value]` pairs.
pub fn dims_key(dims: &Dims) -> String {
    serde_json::to_string(dims).unwrap_or_default()
}

fn dims_of_key(key: &str) -> Dims {
    serde_json::from_str(key).unwrap_or_default()
}

/// One metric's minute.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub namespace: String,
    pub metric: String,
    pub dims: Dims,
    pub minute: i64,
    pub agg: Aggregate,
    pub unit: String,
}

/// A metric that has datapoints.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub metric: String,
    pub dims: Dims,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, CwError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS datapoints (
                 namespace TEXT NOT NULL, metric TEXT NOT NULL, dims TEXT NOT NULL, minute INTEGER NOT NULL,
                 count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
                 histogram BLOB, unit TEXT NOT NULL,
                 PRIMARY KEY (namespace, metric, dims, minute)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS datapoints_by_minute ON datapoints(minute);
             CREATE TABLE IF NOT EXISTS alarms (name TEXT PRIMARY KEY, body TEXT NOT NULL);",
        )?;
        Ok(Self { conn })
    }

    /// Merges rows into what is stored, in one transaction.
    pub fn add(&mut self, rows: &[Row]) -> Result<(), CwError> {
        let tx = self.conn.transaction()?;
        for row in rows {
            let key = dims_key(&row.dims);
            let existing = tx
                .query_row(
                    "SELECT count, sum, min, max, histogram FROM datapoints
                     WHERE namespace = ?1 AND metric = ?2 AND dims = ?3 AND minute = ?4",
                    params![row.namespace, row.metric, key, row.minute],
                    read_aggregate,
                )
                .optional()?;
            let mut agg = row.agg.clone();
            if let Some(old) = existing {
                agg.merge(&old);
            }
            tx.execute(
                "INSERT OR REPLACE INTO datapoints (namespace, metric, dims, minute, count, sum, min, max, histogram, unit)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    row.namespace,
                    row.metric,
                    key,
                    row.minute,
                    agg.count,
                    agg.sum,
                    agg.min,
                    agg.max,
                    agg.histogram.as_deref().map(histogram_bytes),
                    row.unit
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Minutes of one metric in `from..=to`; `dims` of `None` takes every
    /// dimension set.
    pub fn query(
        &self,
        namespace: &str,
        metric: &str,
        dims: Option<&Dims>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Row>, CwError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT dims, minute, count, sum, min, max, histogram, unit FROM datapoints
             WHERE namespace = ?1 AND metric = ?2 AND (?3 IS NULL OR dims = ?3) AND minute BETWEEN ?4 AND ?5",
        )?;
        let key = dims.map(dims_key);
        let rows = stmt.query_map(params![namespace, metric, key, from, to], |r| {
            let dims: String = r.get(0)?;
            Ok(Row {
                namespace: namespace.to_string(),
                metric: metric.to_string(),
                dims: dims_of_key(&dims),
                minute: r.get(1)?,
                agg: Aggregate {
                    count: r.get(2)?,
                    sum: r.get(3)?,
                    min: r.get(4)?,
                    max: r.get(5)?,
                    histogram: r.get::<_, Option<Vec<u8>>>(6)?.map(|b| histogram_of_bytes(&b)),
                },
                unit: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every metric with a datapoint since `from` (a minute).
    pub fn metrics_since(&self, from: i64) -> Result<Vec<MetricId>, CwError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT DISTINCT namespace, metric, dims FROM datapoints WHERE minute >= ?1")?;
        let ids = stmt.query_map([from], |r| {
            Ok(MetricId { namespace: r.get(0)?, metric: r.get(1)?, dims: dims_of_key(&r.get::<_, String>(2)?) })
        })?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// Drops datapoints older than `before` (a minute).
    pub fn purge(&self, before: i64) -> Result<usize, CwError> {
        Ok(self.conn.execute("DELETE FROM datapoints WHERE minute < ?1", [before])?)
    }

    pub fn alarms(&self) -> Result<Vec<String>, CwError> {
        let mut stmt = self.conn.prepare_cached("SELECT body FROM alarms ORDER BY name")?;
        let bodies = stmt.query_map([], |r| r.get(0))?;
        Ok(bodies.collect::<Result<_, _>>()?)
    }

    pub fn put_alarms(&mut self, alarms: &[(String, String)]) -> Result<(), CwError> {
        let tx = self.conn.transaction()?;
        for (name, body) in alarms {
            tx.execute("INSERT OR REPLACE INTO alarms (name, body) VALUES (?1, ?2)", params![name, body])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn delete_alarms(&mut self, names: &[String]) -> Result<(), CwError> {
        let tx = self.conn.transaction()?;
        for name in names {
            tx.execute("DELETE FROM alarms WHERE name = ?1", [name])?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn read_aggregate(r: &rusqlite::Row<'_>) -> rusqlite::Result<Aggregate> {
    Ok(Aggregate {
        count: r.get(0)?,
        sum: r.get(1)?,
        min: r.get(2)?,
        max: r.get(3)?,
        histogram: r.get::<_, Option<Vec<u8>>>(4)?.map(|b| histogram_of_bytes(&b)),
    })
}

fn histogram_bytes(histogram: &[u32]) -> Vec<u8> {
    histogram.iter().flat_map(|n| n.to_le_bytes()).collect()
}

fn histogram_of_bytes(bytes: &[u8]) -> Vec<u32> {
    let mut histogram: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    histogram.resize(BINS, 0);
    histogram
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn row(minute: i64, value: f64) -> Row {
        Row {
            namespace: "App".into(),
            metric: "Latency".into(),
            dims: vec![("Service".into(), "api".into())],
            minute,
            agg: Aggregate::single(value),
            unit: "Milliseconds".into(),
        }
    }

    #[test]
    fn minutes_merge_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.sqlite");
        {
            let mut s = Store::open(&path).unwrap();
            s.add(&[row(10, 5.0), row(11, 1.0)]).unwrap();
            s.add(&[row(10, 7.0)]).unwrap();
            s.put_alarms(&[("a".into(), "{}".into())]).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let rows = s.query("App", "Latency", Some(&row(0, 0.0).dims), 10, 10).unwrap();
        assert_eq!(rows.len(), 1);
        let agg = &rows[0].agg;
        assert_eq!((agg.count, agg.sum, agg.min, agg.max), (2.0, 12.0, 5.0, 7.0));
        assert_eq!(agg.histogram.as_ref().map(|h| h.iter().sum::<u32>()), Some(2));
        assert_eq!(s.query("App", "Latency", None, 0, 100).unwrap().len(), 2);
        assert_eq!(s.query("App", "Latency", Some(&vec![]), 0, 100).unwrap().len(), 0);
        assert_eq!(s.metrics_since(11).unwrap().len(), 1);
        assert_eq!(s.alarms().unwrap(), vec!["{}".to_string()]);
        assert_eq!(s.purge(11).unwrap(), 1);
    }
}
