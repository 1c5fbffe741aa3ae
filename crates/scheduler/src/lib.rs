//! The scheduler: turns "invoke this function version with this payload"
//! into a sandbox that runs it, and keeps sandboxes warm between calls.
//!
//! - [`Scheduler::invoke`] is the one entry for synchronous invocations. It
//!   takes an idle warm sandbox of the version (LIFO, warmest first) or cold
//!   starts one ([`sandbox`]), hands it the event through the sandbox's
//!   Runtime API link, waits for the answer or the deadline, writes the
//!   START / END / REPORT log lines ([`logs`]) and returns the sandbox to
//!   its pool.
//! - [`resolve`] maps a function name and qualifier (version or alias) to the
//!   version record, with an in-memory cache so the hot path never reads the
//!   store; control operations call [`Scheduler::forget`] after a change.
//! - [`async_queue`] delivers `Event` invocations from the durable queue in
//!   the store, retrying function errors.
//! - [`Scheduler::invoke_stream`] ([`streaming`]) is the same invocation
//!   for callers that stream the response (InvokeWithResponseStream,
//!   function URLs in `RESPONSE_STREAM` mode).
//! - A reaper stops sandboxes idle for longer than the keep-alive.
//!
//! Errors the caller must map to AWS errors are [`InvokeError`]; function
//! errors are not errors here but an [`InvokeResult`] with `function_error`.

pub mod async_queue;
pub mod event_config;
pub mod limits;
mod logs;
pub mod metrics;
pub mod placement;
pub mod provisioned;
pub mod resolve;
mod sandbox;
pub mod series;
pub mod services;
pub mod spans;
pub mod streaming;

use bytes::Bytes;
use lamina_core::{Config, FunctionVersion};
use lamina_store::{Blobs, Store};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use resolve::Resolved;
use sandbox::Warm;
pub use spans::{trace_header, Origin, Trigger};
pub use streaming::{InvokeStream, Part, StreamedInvoke};

/// A synchronous invocation, with the version already resolved.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub version: Arc<FunctionVersion>,
    /// The ARN the caller invoked (with alias or version qualifier).
    pub invoked_arn: String,
    pub request_id: String,
    pub payload: Bytes,
    pub client_context: Option<String>,
    /// The caller's trace as an `X-Amzn-Trace-Id` value ([`trace_header`]
    /// makes one from either header format); `None` starts a new trace.
    pub trace_id: Option<String>,
    /// Return the last 4 KB of the log.
    pub tail_log: bool,
}

#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub payload: Bytes,
    /// `Some("Unhandled")` when the function or its runtime failed.
    pub function_error: Option<&'static str>,
    /// Base64 of the last 4 KB of this invocation's log, when asked.
    pub log_tail: Option<String>,
    pub executed_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("too many concurrent invocations")]
    Throttled { reason: &'static str },
    #[error("function not found: {0}")]
    NotFound(String),
    #[error("invalid qualifier: {0}")]
    Invalid(String),
    #[error("the platform failed to run the function: {0}")]
    Platform(String),
}

/// Pools of warm sandboxes keyed by version identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    name: String,
    version: String,
    revision: String,
}

impl PoolKey {
    fn of(v: &FunctionVersion) -> Self {
        Self { name: v.name.clone(), version: v.version.clone(), revision: v.revision_id.clone() }
    }
}

pub struct Scheduler {
    config: Config,
    store: Arc<dyn Store>,
    blobs: Blobs,
    runtime_dir: PathBuf,
    idle: Mutex<HashMap<PoolKey, Vec<Warm>>>,
    pub concurrency: limits::Concurrency,
    capacity: limits::Capacity,
    provisioned: provisioned::Registry,
    /// One provisioning fill at a time, so bursts of configuration changes
    /// do not start more sandboxes than asked for.
    provisioning: tokio::sync::Mutex<()>,
    uids: sandbox::UidPool,
    log_writer: logs::Writer,
    cache: resolve::Cache,
    queue_wake: tokio::sync::Notify,
    pub metrics: metrics::Metrics,
    pub series: series::Series,
    /// Where DeadLetterConfig targets are delivered (set once by the server).
    pub dead_letter_sink: std::sync::OnceLock<Arc<dyn DeadLetterSink>>,
    /// Exports each invocation's spans (a no-op without an OTLP endpoint).
    tracer: lamina_trace::Tracer,
    /// Which shard serves a new sandbox (set up by the server's shards).
    placement: Arc<placement::Placement>,
}

/// Delivers a failed asynchronous event to a dead-letter target (an SQS
/// queue or SNS topic ARN), implemented by the service that owns it.
pub trait DeadLetterSink: Send + Sync {
    /// Resolves once the target holds the event durably. `error` is
    /// Lambda's ErrorCode message attribute (`Unhandled`, ...).
    fn send<'a>(
        &'a self,
        target_arn: &'a str,
        request_id: &'a str,
        error: &'a str,
        payload: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

impl Scheduler {
    /// Builds the scheduler and starts its background tasks (reaper, log
    /// writer). Must be called inside a tokio runtime.
    pub fn start(config: Config, store: Arc<dyn Store>, blobs: Blobs, runtime_dir: PathBuf) -> Arc<Self> {
        let log_writer = logs::Writer::start(store.clone(), config.telemetry.function_logs);
        let tracer = start_tracer(&config.telemetry);
        let me = Arc::new(Self {
            config: config.clone(),
            store,
            blobs,
            runtime_dir,
            idle: Mutex::new(HashMap::new()),
            concurrency: limits::Concurrency::new(config.account_concurrency),
            capacity: limits::Capacity::new(config.capacity_mib),
            provisioned: provisioned::Registry::default(),
            provisioning: tokio::sync::Mutex::new(()),
            uids: sandbox::UidPool::new(),
            log_writer,
            cache: resolve::Cache::default(),
            queue_wake: tokio::sync::Notify::new(),
            metrics: metrics::Metrics::new(),
            series: series::Series::default(),
            dead_letter_sink: std::sync::OnceLock::new(),
            tracer,
            placement: Arc::default(),
        });
        tokio::spawn(reaper(Arc::downgrade(&me)));
        me.restore_settings();
        me
    }

    /// Loads reserved and provisioned concurrency from the store (start-up).
    fn restore_settings(self: &Arc<Self>) {
        if let Ok(reserved) = self.store.settings_with_prefix(RESERVED_SETTING) {
            for (function, _, value) in reserved {
                if let Ok(n) = value.parse::<u32>() {
                    if let Err(e) = self.concurrency.set_reserved(&function, Some(n)) {
                        tracing::warn!(function, error = %e, "stored reserved concurrency no longer fits");
                    }
                }
            }
        }
        self.restore_provisioned();
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the server's shards take their seats, so new sandboxes are spread over them.
    pub fn placement(&self) -> &Arc<placement::Placement> {
        &self.placement
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Invocations running right now.
    pub fn concurrent_executions(&self) -> u32 {
        self.concurrency.total_running()
    }

    /// Runs one invocation to its end.
    pub async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        self.invoke_into(&req, None).await
    }

    /// Runs one invocation that an event source or trigger started (its
    /// trace records where it came from).
    pub async fn invoke_from(&self, req: InvokeRequest, origin: Origin) -> Result<InvokeResult, InvokeError> {
        self.invoke_traced(&req, None, origin).await
    }

    /// Runs one invocation, streaming its response into `sink` if it streams.
    async fn invoke_into(
        &self,
        req: &InvokeRequest,
        sink: Option<&streaming::Sink>,
    ) -> Result<InvokeResult, InvokeError> {
        self.invoke_traced(req, sink, Origin::default()).await
    }

    async fn invoke_traced(
        &self,
        req: &InvokeRequest,
        sink: Option<&streaming::Sink>,
        origin: Origin,
    ) -> Result<InvokeResult, InvokeError> {
        let mut trace = spans::InvocationTrace::begin(&self.tracer, req.trace_id.as_deref(), origin);
        let result = self.run_invocation(req, sink, &mut trace).await;
        trace.finish(&self.tracer, &self.config.region, req, &result);
        if !self.config.telemetry.metrics {
            return result;
        }
        let v = &req.version;
        match &result {
            Ok(r) => {
                let labels = [v.name.as_str(), v.version.as_str()];
                self.metrics.invocations.with_label_values(&labels).inc();
                if r.function_error.is_some() {
                    self.metrics.errors.with_label_values(&labels).inc();
                }
            }
            Err(InvokeError::Throttled { reason }) => {
                self.metrics.throttles.with_label_values(&[v.name.as_str(), reason]).inc();
                self.series.throttle(&v.name);
            }
            Err(_) => {}
        }
        result
    }

    async fn run_invocation(
        &self,
        req: &InvokeRequest,
        sink: Option<&streaming::Sink>,
        trace: &mut spans::InvocationTrace,
    ) -> Result<InvokeResult, InvokeError> {
        let _permit = self.concurrency.admit(&req.version.name).map_err(|reason| InvokeError::Throttled { reason })?;
        let metrics = self.config.telemetry.metrics;
        if metrics {
            self.series.concurrency(&req.version.name, self.concurrency.running(&req.version.name));
        }
        let key = PoolKey::of(&req.version);
        let (mut warm, init) = match self.take_idle(&key).await {
            Some(w) => (w, None),
            None => match self.lease_memory(&key, u64::from(req.version.memory_mib)).await? {
                Room::Idle(w) => (*w, None),
                Room::Lease(lease) => {
                    let started = Instant::now();
                    match sandbox::cold_start(self, &req.version, lease, sandbox::InitType::OnDemand).await {
                        Ok(w) => {
                            trace.cold_start(started, Some(w.spawned), Instant::now());
                            (w, Some(started.elapsed()))
                        }
                        Err(failure) => {
                            trace.cold_start(started, None, Instant::now());
                            return Ok(logs::init_failure(self, req, failure, started.elapsed()));
                        }
                    }
                }
            },
        };
        let invoke_started = Instant::now();
        let (result, reusable, duration) = warm.run(self, req, init, sink, trace.function_header()).await;
        trace.invoked(invoke_started, duration);
        let labels = [req.version.name.as_str(), req.version.version.as_str()];
        if metrics {
            self.metrics.duration.with_label_values(&labels).observe(duration.as_secs_f64());
            self.series.invocation(&req.version.name, duration, result.function_error.is_some());
        }
        if let (Some(init), true) = (init, metrics) {
            self.metrics.cold_starts.with_label_values(&labels).inc();
            self.metrics.init_duration.with_label_values(&labels).observe(init.as_secs_f64());
        }
        if reusable {
            warm.last_used = Instant::now();
            self.idle.lock().entry(key).or_default().push(warm);
            self.capacity.evictable();
        }
        Ok(result)
    }

    /// Memory for a new sandbox: evicts idle sandboxes (least recently
    /// used first) when the host is full, then waits a little for a busy
    /// one to finish, then gives up with a throttle.
    /// While waiting, a sandbox of the same version that turns idle is
    /// taken instead.
    async fn lease_memory(&self, key: &PoolKey, mib: u64) -> Result<Room, InvokeError> {
        let deadline = Instant::now() + CAPACITY_WAIT;
        loop {
            let changed = self.capacity.changes().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(lease) = self.capacity.try_lease(mib) {
                return Ok(Room::Lease(lease));
            }
            if let Some(warm) = self.take_idle(key).await {
                return Ok(Room::Idle(Box::new(warm)));
            }
            if self.evict_least_recently_used() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    needed_mib = mib,
                    used_mib = self.capacity.used_mib(),
                    "sandbox memory capacity exhausted"
                );
                return Err(InvokeError::Throttled { reason: limits::ACCOUNT_LIMIT_EXCEEDED });
            }
            let _ = tokio::time::timeout(left, changed).await;
        }
    }

    /// Stops the idle, non-provisioned sandbox used longest ago.
    fn evict_least_recently_used(&self) -> bool {
        let victim = {
            let mut idle = self.idle.lock();
            let oldest = idle
                .iter()
                .flat_map(|(k, pool)| pool.iter().enumerate().map(move |(i, w)| (k, i, w)))
                .filter(|(_, _, w)| !w.is_provisioned())
                .min_by_key(|(_, _, w)| w.last_used)
                .map(|(k, i, _)| (k.clone(), i));
            oldest.and_then(|(k, i)| idle.get_mut(&k).map(|pool| pool.remove(i)))
        };
        victim.is_some()
    }

    /// Drops idle sandboxes matching a predicate.
    fn drop_idle(&self, matches: impl Fn(&PoolKey, &Warm) -> bool) {
        let dropped: Vec<Warm> = {
            let mut idle = self.idle.lock();
            let mut out = Vec::new();
            for (k, pool) in idle.iter_mut() {
                let (gone, kept): (Vec<Warm>, Vec<Warm>) = pool.drain(..).partition(|w| matches(k, w));
                *pool = kept;
                out.extend(gone);
            }
            idle.retain(|_, pool| !pool.is_empty());
            out
        };
        drop(dropped);
    }

    /// The warmest idle sandbox of the version, preferring one served by the
    /// caller's shard (a same-thread hand-off instead of a cross-core wake-up).
    async fn take_idle(&self, key: &PoolKey) -> Option<Warm> {
        let shard = lamina_core::shard::current();
        loop {
            let mut warm = {
                let mut idle = self.idle.lock();
                let pool = idle.get_mut(key)?;
                let local = shard.and_then(|s| pool.iter().rposition(|w| w.site.shard == Some(s)));
                match local {
                    Some(i) => pool.remove(i),
                    None => pool.pop()?,
                }
            };
            if warm.is_alive().await {
                return Some(warm);
            }
        }
    }

    /// Drops cached resolutions and idle sandboxes of a function after its
    /// configuration, code or aliases changed (or it was deleted), and
    /// re-targets its provisioned concurrency.
    pub fn forget(self: &Arc<Self>, name: &str) {
        self.cache.forget(name);
        self.drop_idle(|k, w| k.name == name && !w.is_provisioned());
        self.reprovision(name);
    }

    /// Forgets everything about a deleted function, provisioned sandboxes included.
    pub fn forget_function(self: &Arc<Self>, name: &str) {
        self.cache.forget(name);
        self.series.forget(name);
        let qualifiers: Vec<String> = self.provisioned_qualifiers(name);
        for q in qualifiers {
            self.unprovision(name, &q);
        }
        self.drop_idle(|k, _| k.name == name);
        let _ = self.concurrency.set_reserved(name, None);
    }

    /// Memory (MiB) held by live sandboxes, and the capacity.
    pub fn memory_mib(&self) -> (u64, u64) {
        (self.capacity.used_mib(), self.capacity.limit_mib())
    }

    /// Idle warm sandboxes per function.
    pub fn idle_by_function(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for (k, pool) in self.idle.lock().iter() {
            *out.entry(k.name.clone()).or_insert(0) += pool.len();
        }
        out
    }

    /// Prometheus text for `/metrics`, with the point-in-time gauges refreshed.
    pub fn render_metrics(&self) -> String {
        let m = &self.metrics;
        m.concurrent_executions.reset();
        for (function, n) in self.concurrency.running_by_function() {
            m.concurrent_executions.with_label_values(&[function.as_str()]).set(i64::from(n));
        }
        m.idle_sandboxes.set(self.idle_sandboxes() as i64);
        m.sandbox_memory_mib.set(self.capacity.used_mib() as i64);
        if let Ok(depth) = self.store.queued_event_count() {
            m.async_queue_depth.set(depth as i64);
        }
        m.render()
    }

    /// Number of idle warm sandboxes (all functions).
    pub fn idle_sandboxes(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }

    fn reap(&self, keep_alive: Duration) {
        self.drop_idle(|_, w| !w.is_provisioned() && w.last_used.elapsed() >= keep_alive);
    }

    /// Stops every idle sandbox (shutdown) and sends the spans still queued.
    /// Sandboxes busy with an invocation stop when the task running it is
    /// dropped; [`finish_cleanup`] then waits for all of them.
    pub fn shutdown(&self) {
        self.idle.lock().clear();
        self.tracer.shutdown();
    }
}

/// How long [`finish_cleanup`] waits for stopped sandboxes' processes to
/// exit so their cgroups can be removed.
const SHUTDOWN_CLEANUP: Duration = Duration::from_secs(5);

/// The last step of a shutdown, once the async runtime (and with it every
/// task that held a sandbox) is gone: waits for the stopped sandboxes'
/// cgroups to be removed, so the next start finds none left behind.
pub fn finish_cleanup() {
    let left = lamina_sandbox::finish_cleanup(SHUTDOWN_CLEANUP);
    if left > 0 {
        tracing::warn!(left, "sandbox cgroups still there at shutdown; the next start removes them");
    }
}

/// What waiting for memory gave: room for a new sandbox, or an idle one.
enum Room {
    Lease(limits::MemoryLease),
    Idle(Box<Warm>),
}

/// The store setting holding a function's reserved concurrency.
pub const RESERVED_SETTING: &str = "reserved-concurrency";

/// How long a cold start waits for memory before it is throttled.
const CAPACITY_WAIT: Duration = Duration::from_secs(2);

async fn reaper(me: std::sync::Weak<Scheduler>) {
    loop {
        let keep_alive = match me.upgrade() {
            Some(s) => s.config.keep_alive,
            None => return,
        };
        tokio::time::sleep((keep_alive / 10).clamp(Duration::from_millis(100), Duration::from_secs(10))).await;
        match me.upgrade() {
            Some(s) => {
                s.reap(keep_alive);
                s.top_up_provisioned();
            }
            None => return,
        }
    }
}

/// The span exporter the telemetry settings ask for; a bad endpoint is
/// reported and tracing stays off (the CLI checks it before starting).
fn start_tracer(telemetry: &lamina_core::config::Telemetry) -> lamina_trace::Tracer {
    let Some(url) = telemetry.otlp_endpoint.as_deref().filter(|_| telemetry.traces) else {
        return lamina_trace::Tracer::disabled();
    };
    match lamina_trace::Tracer::start(url, "lamina") {
        Ok(tracer) => {
            tracing::info!(endpoint = url, "exporting invocation traces over OTLP/HTTP");
            tracer
        }
        Err(e) => {
            tracing::error!(error = %e, "traces are not exported");
            lamina_trace::Tracer::disabled()
        }
    }
}

/// Checks that the host can isolate sandboxes as configured; the message
/// says what is missing and how to proceed.
pub fn check_host(isolation: lamina_core::config::IsolationMode) -> Result<(), String> {
    use lamina_core::config::IsolationMode;
    let host = lamina_sandbox::probe();
    for hint in &host.hints {
        tracing::info!(hint = %hint, "sandbox host hint");
    }
    let ok = match isolation {
        IsolationMode::Namespaces => host.supports_namespaces(),
        IsolationMode::Process => host.supports_process(),
    };
    if ok {
        let orphans = lamina_sandbox::reap_orphans();
        if orphans > 0 {
            tracing::warn!(orphans, "stopped sandboxes left behind by a server that did not shut down cleanly");
        }
        if isolation == IsolationMode::Process {
            tracing::warn!("sandboxes run as plain processes (--isolation process): functions are NOT isolated from the host filesystem");
        }
        return Ok(());
    }
    let mut msg = format!("this host cannot run sandboxes: {}", host.problems.join("; "));
    if isolation == IsolationMode::Namespaces && host.supports_process() {
        msg.push_str(". Start with --isolation process to run functions as plain processes (weaker isolation).");
    }
    Err(msg)
}

/// A new request id, Lambda-style (UUID v4).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
