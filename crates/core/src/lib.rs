//! Lamina's domain model: what a function, a version and an alias are, how
//! they are named, and how the platform is configured.
//!
//! - [`names`]: function names, qualifiers and ARNs in every form Lambda
//!   accepts (`fn`, `fn:alias`, full and partial ARNs), validated once here.
//! - [`function`][]: [`FunctionVersion`](function::FunctionVersion) (one immutable configuration plus code)
//!   and [`Alias`], with the validation rules of CreateFunction and friends and
//!   their rendering as Lambda's `FunctionConfiguration`.
//! - [`runtime`]: the runtimes Lamina runs and how each one starts.
//! - [`config`]: the server's resolved configuration.
//! - [`shard`]: which data-path thread (shard) the current thread is.
//! - [`event_pattern`]: the JSON matching language of event filtering
//!   (FilterCriteria, EventBridge patterns, SNS filter policies).
//!
//! Validation failures are [`Invalid`] values holding Lambda's message text;
//! the API layer turns them into `InvalidParameterValueException`.

pub mod config;
pub mod event_pattern;
pub mod function;
pub mod names;
pub mod runtime;
pub mod shard;

pub use config::Config;
pub use function::{Alias, FunctionVersion, LATEST};
pub use names::{FunctionRef, Partition};

/// A request parameter that breaks one of Lambda's rules; the message is
/// what Lambda says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Lambda's timestamp format: `2018-11-27T15:10:45.123+0000`.
pub fn lambda_timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}
