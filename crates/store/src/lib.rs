//! Lamina's durable state: the metadata [`Store`] and the content-addressed
//! [`Blobs`].
//!
//! - [`Store`] is the trait every metadata backend implements: functions and
//!   their versions, aliases, tags, the durable async-invocation queue and the
//!   function log. [`SqliteStore`] is the embedded default (one file in the
//!   data directory, WAL mode). Calls are synchronous and short; callers on
//!   an async runtime keep them off the invoke hot path.
//! - [`Blobs`] keeps code zips by SHA-256 (which is also Lambda's CodeSha256)
//!   and unpacks each one once, atomically, into a read-only directory that
//!   sandboxes mount at `/var/task`.
//!
//! Errors are [`StoreError`] so the API layer can tell "not found" and
//! "conflict" from a broken disk.

mod blobs;
pub mod log_rows;
mod sqlite;

use lamina_core::{Alias, FunctionVersion};
use std::collections::BTreeMap;

pub use blobs::{BlobError, Blobs};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An accepted asynchronous invocation waiting in the durable queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    pub id: i64,
    pub request_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub payload: Vec<u8>,
    pub attempts: u32,
    pub enqueued_ms: i64,
    pub not_before_ms: i64,
    /// The caller's trace (an `X-Amzn-Trace-Id` value), continued on delivery.
    pub trace_header: Option<String>,
}

/// Billing for a function on a day: requests, billed milliseconds and
/// GB-seconds (billed duration × memory).
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub function: String,
    pub requests: u64,
    pub billed_ms: u64,
    pub gb_seconds: f64,
}

/// What one invocation wrote to its function's log: lines that share a
/// group, a stream and a time, stored together (see [`log_rows`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLines {
    pub group: String,
    pub stream: String,
    pub timestamp_ms: i64,
    /// Newline-separated lines.
    pub text: String,
}

/// One line of a function's log, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub id: i64,
    pub group: String,
    pub stream: String,
    pub timestamp_ms: i64,
    pub message: String,
}

/// The metadata store. Implementations must be safe to share across threads
/// and keep every accepted write across a crash (the caller answers 2xx only
/// after a call returns `Ok`).
pub trait Store: Send + Sync {
    /// Creates a function with its `$LATEST` version; `Conflict` if it exists.
    fn create_function(&self, latest: &FunctionVersion, tags: &BTreeMap<String, String>) -> Result<()>;
    /// One version (`$LATEST` or a number).
    fn get_version(&self, name: &str, version: &str) -> Result<FunctionVersion>;
    /// Replaces `$LATEST`; `NotFound` if the function is gone.
    fn put_latest(&self, latest: &FunctionVersion) -> Result<()>;
    /// `$LATEST` of every function, ordered by name, starting after `marker`.
    fn list_functions(&self, after: Option<&str>, limit: usize) -> Result<Vec<FunctionVersion>>;
    /// Every version of one function, `$LATEST` first, then by number.
    fn list_versions(&self, name: &str) -> Result<Vec<FunctionVersion>>;
    /// Snapshots `$LATEST` as the next numbered version, unless the newest
    /// published version already has the same code and configuration, in
    /// which case that one is returned.
    fn publish_version(&self, name: &str, description: Option<&str>) -> Result<FunctionVersion>;
    /// Deletes the function with all its versions, aliases and tags.
    fn delete_function(&self, name: &str) -> Result<()>;
    /// Deletes one numbered version.
    fn delete_version(&self, name: &str, version: &str) -> Result<()>;
    /// Number of functions and total code bytes.
    fn usage(&self) -> Result<(u64, u64)>;

    fn put_alias(&self, alias: &Alias, create: bool) -> Result<()>;
    fn get_alias(&self, function: &str, name: &str) -> Result<Alias>;
    fn list_aliases(&self, function: &str) -> Result<Vec<Alias>>;
    fn delete_alias(&self, function: &str, name: &str) -> Result<()>;

    fn tags(&self, function: &str) -> Result<BTreeMap<String, String>>;
    fn set_tags(&self, function: &str, tags: &BTreeMap<String, String>) -> Result<()>;

    /// A per-function setting (reserved concurrency, provisioned concurrency,
    /// event-invoke configuration...) as JSON, by key.
    fn get_setting(&self, function: &str, key: &str) -> Result<Option<String>>;
    /// Sets a setting; `NotFound` if the function does not exist.
    fn put_setting(&self, function: &str, key: &str, value: &str) -> Result<()>;
    fn delete_setting(&self, function: &str, key: &str) -> Result<bool>;
    /// Every (function, key, value) whose key starts with `prefix`, all functions.
    fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String, String)>>;

    /// Durably queues an async invocation; returns its queue id.
    fn enqueue_event(&self, event: &QueuedEvent) -> Result<i64>;
    /// Queued events due at `now_ms`, oldest first, with ids greater than `after_id`.
    fn due_events(&self, now_ms: i64, limit: usize) -> Result<Vec<QueuedEvent>>;
    /// Pushes an event back for a later attempt.
    fn reschedule_event(&self, id: i64, attempts: u32, not_before_ms: i64) -> Result<()>;
    /// Removes a delivered (or finally failed) event.
    fn delete_event(&self, id: i64) -> Result<()>;
    fn queued_event_count(&self) -> Result<u64>;

    /// Appends what invocations wrote to their logs.
    fn append_logs(&self, logs: &[LogLines]) -> Result<()>;
    /// Adds to the usage ledger (one row per day and function).
    fn record_usage(&self, usage: &[Usage]) -> Result<()>;
    /// The ledger from `since_day` (`YYYY-MM-DD`) on, by day and function.
    fn usage_since(&self, since_day: &str) -> Result<Vec<Usage>>;
    /// Up to `limit` log lines of a group whose event ids are greater than
    /// `after_id`, oldest first.
    fn read_logs(&self, group: &str, after_id: i64, limit: usize) -> Result<Vec<LogEvent>>;
}
