//! The server's configuration, resolved once from flags and environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA_DIR: &str = ".lamina";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Idle warm sandboxes are stopped after this long (Lambda keeps them minutes).
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 300;
/// Lambda waits a minute before retrying a failed async invocation.
pub const DEFAULT_ASYNC_RETRY_DELAY_SECS: u64 = 60;
/// Lambda's default account concurrency limit.
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;

/// How strongly sandboxes are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationMode {
    /// New user, mount, PID, IPC and UTS namespaces plus cgroups (default).
    Namespaces,
    /// Plain processes with cgroups only; chosen explicitly by the operator
    /// where namespaces are missing, and announced in every REPORT line.
    Process,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    pub keep_alive: Duration,
    pub isolation: IsolationMode,
    pub account_concurrency: u32,
    /// The URL functions use to reach Lamina's own services (AWS_ENDPOINT_URL).
    pub public_url: String,
    /// Delay before the first retry of a failed async invocation; later
    /// retries wait twice as long (Lambda: one, then two minutes).
    pub async_retry_delay: Duration,
    /// Memory the host gives sandboxes in all (sum of their MemorySize).
    pub capacity_mib: u64,
    /// Prices for the cost estimate of `lamina usage`.
    pub prices: Prices,
    /// Which observability outputs are on.
    pub telemetry: Telemetry,
    /// Threads serving the HTTP data path, each with its own runtime and
    /// listening socket (see [`crate::shard`]); 0 serves from the shared
    /// multi-threaded runtime instead.
    pub shards: usize,
    /// Pin shard `i` (and the sandboxes it serves) to CPU `i`.
    pub pin_shards: bool,
}

/// The server's default number of shards: one per CPU it may use, none
/// on a single CPU (where a shard would only add a thread).
pub fn default_shards() -> usize {
    match std::thread::available_parallelism().map(usize::from) {
        Ok(n) if n > 1 => n,
        _ => 0,
    }
}

/// The observability outputs, each of which can be switched off (to run
/// leaner, or to measure what they cost: `lamina server --telemetry off`).
/// Billing records are not telemetry and are always kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telemetry {
    /// Function output and START / END / REPORT lines written to the log store.
    pub function_logs: bool,
    /// Prometheus metrics (`/metrics`) and the console's per-minute series.
    pub metrics: bool,
    /// One span tree per invocation, exported to `otlp_endpoint`.
    pub traces: bool,
    /// The OTLP/HTTP traces URL; without one no span is exported.
    pub otlp_endpoint: Option<String>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self { function_logs: true, metrics: true, traces: true, otlp_endpoint: None }
    }
}

impl Telemetry {
    /// Whether spans are exported at all.
    pub fn exports_traces(&self) -> bool {
        self.traces && self.otlp_endpoint.is_some()
    }
}

/// Lambda's public list prices (x86, us-east-1), overridable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub per_gb_second: f64,
    pub per_million_requests: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Self { per_gb_second: 0.000_016_666_7, per_million_requests: 0.20 }
    }
}

impl Config {
    /// A configuration with every default, for the given listen address and data directory.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            public_url: format!("http://{listen}"),
            listen,
            data_dir,
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            keep_alive: Duration::from_secs(DEFAULT_KEEP_ALIVE_SECS),
            isolation: IsolationMode::Namespaces,
            account_concurrency: DEFAULT_ACCOUNT_CONCURRENCY,
            async_retry_delay: Duration::from_secs(DEFAULT_ASYNC_RETRY_DELAY_SECS),
            capacity_mib: default_capacity_mib(),
            prices: Prices::default(),
            telemetry: Telemetry::default(),
            shards: 0,
            pin_shards: false,
        }
    }

    pub fn partition(&self) -> crate::Partition {
        crate::Partition { region: self.region.clone(), account_id: self.account_id.clone() }
    }
}

/// Most of the host's memory: what `/proc/meminfo` calls MemTotal, less a
/// quarter for the host and the platform.
pub fn default_capacity_mib() -> u64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:").map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .flatten()
        .unwrap_or(4 * 1024 * 1024);
    total_kib / 1024 * 3 / 4
}
