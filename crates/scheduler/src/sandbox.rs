//! One warm sandbox as the scheduler holds it: the isolated process tree,
//! its Runtime API, and the pipe its output arrives on. [`cold_start`]
//! makes one; [`Warm::run`] runs one invocation in it.

use bytes::Bytes;
use lamina_core::config::IsolationMode;
use lamina_core::function::log_group;
use lamina_core::runtime::{execution_env, RuntimeKind};
use lamina_core::FunctionVersion;
use lamina_runtime::{InitOutcome, Invocation, Link, Outcome, RuntimeApi};
use lamina_sandbox::{Cpus, Exit, Isolation, Sandbox, SandboxSpec};
use parking_lot::Mutex;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;

use crate::limits::MemoryLease;
use crate::logs::{self, Ended};
use crate::placement::Site;
use crate::provisioned::Member;
use crate::streaming::{self, Followed, Sink};
use crate::{InvokeRequest, InvokeResult, PoolKey, Scheduler};

/// How long a runtime may take to ask for its first event (Lambda's init phase limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Host uids handed to sandboxes, one per live sandbox.
const FIRST_UID: u32 = 100_000;
const UID_COUNT: u32 = 60_000;
/// How long a broken-off stream waits for the runtime's exit status.
const EXIT_GRACE: Duration = Duration::from_millis(200);
/// Output kept between two drains; beyond it the oldest bytes are dropped.
const MAX_BUFFERED_OUTPUT: usize = 1 << 20;

pub(crate) struct Warm {
    // Field order is drop order: stop the process first, then its API.
    sandbox: Sandbox,
    /// Kept for its lifetime: dropping it stops the sandbox's Runtime API.
    _api: RuntimeApi,
    link: Link,
    output: Arc<Output>,
    reader: JoinHandle<()>,
    _uid: Uid,
    _memory: MemoryLease,
    /// The provisioned-concurrency configuration (qualifier) this sandbox belongs to.
    provisioned: Option<(String, Member)>,
    pub(crate) last_used: Instant,
    pub(crate) log_stream: String,
    /// When the sandbox's process was started (the end of the cold start's
    /// platform part, the start of the runtime's init).
    pub(crate) spawned: Instant,
    /// The data-path shard whose runtime serves this sandbox's Runtime API
    /// ([`placement`](crate::placement)); invocations from that shard prefer it.
    pub(crate) site: Site,
}

/// Why a sandbox is started (`AWS_LAMBDA_INITIALIZATION_TYPE`).
pub(crate) enum InitType {
    OnDemand,
    Provisioned(String, Member),
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.sandbox.kill();
        self.reader.abort();
    }
}

/// Why a cold start produced no ready sandbox.
pub(crate) enum ColdFailure {
    /// The runtime reported `/init/error`.
    InitError { error_type: Option<String>, body: Bytes, output: Vec<u8>, log_stream: String },
    /// The runtime exited before asking for an event.
    Exited { exit: String, output: Vec<u8>, log_stream: String },
    /// The runtime never asked for an event within the init limit.
    InitTimeout { output: Vec<u8>, log_stream: String },
    /// The platform could not start the sandbox at all.
    Spawn { message: String, error_type: &'static str },
}

pub(crate) async fn cold_start(
    s: &Scheduler,
    v: &FunctionVersion,
    memory: MemoryLease,
    init_type: InitType,
) -> Result<Warm, ColdFailure> {
    let kind = RuntimeKind::parse(&v.runtime)
        .map_err(|e| ColdFailure::Spawn { message: e.0, error_type: "Runtime.InvalidRuntime" })?;
    let code_dir = s.blobs.unpacked(&v.code_sha256).map_err(|e| ColdFailure::Spawn {
        message: format!("Error: could not prepare the function code: {e}"),
        error_type: "Runtime.Unknown",
    })?;
    if kind == RuntimeKind::Provided && !is_executable(&code_dir.join("bootstrap")) {
        return Err(ColdFailure::Spawn {
            message: "Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]".into(),
            error_type: "Runtime.InvalidEntrypoint",
        });
    }
    let uid = s.uids.take().ok_or_else(|| ColdFailure::Spawn {
        message: "Error: no free sandbox user".into(),
        error_type: "Runtime.Unknown",
    })?;
    let platform_error = |what: &str, e: &dyn std::fmt::Display| ColdFailure::Spawn {
        message: format!("Error: {what}: {e}"),
        error_type: "Runtime.Unknown",
    };
    let site = s.placement.place(&PoolKey::of(v));
    let (api, link, init_rx) = site
        .run(RuntimeApi::start(Some(uid.0)))
        .await
        .and_then(|started| started)
        .map_err(|e| platform_error("runtime API", &e))?;
    let log_stream = log_stream_name(&v.version);
    let provisioned = match init_type {
        InitType::OnDemand => None,
        InitType::Provisioned(q, member) => Some((q, member)),
    };
    let mut spec = spec_for(s, v, kind, &code_dir, &api.address(), &log_stream, uid.0, site.cpu);
    if provisioned.is_some() {
        for (k, val) in &mut spec.env {
            if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
                *val = "provisioned-concurrency".into();
            }
        }
    }
    // On the sandbox's shard: the sandbox starts on that CPU, and the work
    // of starting it (a few ms for a burst) is not all on the asking shard.
    // Its output pipe is watched by that shard's runtime too, the one that
    // serves its Runtime API: by the time that runtime has read a response,
    // it has seen the output written before it, which the invocation's
    // drain (on any thread) then finds. The uid and the memory go along and
    // come back with the sandbox: if this invocation is dropped meanwhile,
    // they are released only after the sandbox is gone.
    let spawn_failed = |e: &dyn std::fmt::Display| {
        tracing::warn!(function = %v.name, error = %e, "sandbox spawn failed");
        platform_error("sandbox", e)
    };
    let started = site.run(async move {
        let mut sandbox = Sandbox::spawn(&spec)?;
        let output = Arc::new(Output::new(sandbox.take_output()));
        let reader = tokio::spawn(output.clone().pump());
        Ok::<_, lamina_sandbox::SandboxError>((sandbox, uid, memory, output, reader))
    });
    let (mut sandbox, uid, memory, output, reader) = match started.await {
        Ok(Ok(started)) => started,
        Ok(Err(e)) => return Err(spawn_failed(&e)),
        Err(e) => return Err(spawn_failed(&e)),
    };
    let spawned = Instant::now();
    let ready = tokio::select! {
        init = init_rx => init.ok(),
        exit = sandbox.wait() => {
            let output = output.drain();
            return Err(ColdFailure::Exited { exit: exit_reason(exit), output, log_stream });
        }
        _ = tokio::time::sleep(INIT_TIMEOUT) => None,
    };
    let warm = Warm {
        sandbox,
        _api: api,
        link,
        output,
        reader,
        _uid: uid,
        _memory: memory,
        provisioned,
        last_used: Instant::now(),
        log_stream,
        spawned,
        site,
    };
    match ready {
        Some(InitOutcome::Ready) => Ok(warm),
        Some(InitOutcome::Failed { error_type, body }) => {
            let output = warm.output.drain();
            Err(ColdFailure::InitError { error_type, body, output, log_stream: warm.log_stream.clone() })
        }
        None => Err(ColdFailure::InitTimeout { output: warm.output.drain(), log_stream: warm.log_stream.clone() }),
    }
}

impl Warm {
    pub(crate) fn is_provisioned(&self) -> bool {
        self.provisioned.is_some()
    }

    pub(crate) fn provisioned_for(&self, qualifier: &str) -> bool {
        self.provisioned.as_ref().is_some_and(|(q, _)| q == qualifier)
    }

    /// False when the sandbox died while idle.
    pub(crate) async fn is_alive(&mut self) -> bool {
        tokio::select! {
            biased;
            _ = self.sandbox.wait() => false,
            _ = std::future::ready(()) => true,
        }
    }

    /// Runs one invocation; returns its result, whether the sandbox can
    /// serve another, and how long the function ran.
    pub(crate) async fn run(
        &mut self,
        s: &Scheduler,
        req: &InvokeRequest,
        init: Option<Duration>,
        sink: Option<&Sink>,
        trace_header: String,
    ) -> (InvokeResult, bool, Duration) {
        let before = self.output.drain();
        let timeout = Duration::from_secs(u64::from(req.version.timeout_secs));
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let rx = self.link.dispatch(Invocation {
            request_id: req.request_id.clone(),
            payload: req.payload.clone(),
            deadline_ms: lamina_core::now_ms() + timeout.as_millis() as i64,
            invoked_function_arn: req.invoked_arn.clone(),
            trace_id: trace_header,
            client_context: req.client_context.clone(),
            cognito_identity: None,
        });
        let ended = tokio::select! {
            outcome = rx => match outcome {
                Ok(o) => Ended::Answered(o),
                Err(_) => Ended::Exited("Runtime.ExitError: lost contact with the runtime".into()),
            },
            exit = self.sandbox.wait() => Ended::Exited(exit_reason(exit)),
            _ = tokio::time::sleep_until(deadline) => Ended::TimedOut(timeout),
        };
        let ended = match ended {
            Ended::Answered(Outcome::Streamed(stream)) => self.follow(stream, sink, deadline, timeout).await,
            other => other,
        };
        let duration = started.elapsed();
        if matches!(ended, Ended::TimedOut(_)) {
            self.link.abandon();
            self.sandbox.kill();
            let _ = self.sandbox.wait().await;
        }
        let reusable = matches!(ended, Ended::Answered(_));
        let during = self.output.drain();
        let memory_used = self.sandbox.peak_memory_bytes();
        let result =
            logs::finish(s, req, &self.log_stream, logs::Report { before, during, ended, duration, init, memory_used });
        (result, reusable, duration)
    }
}

impl Warm {
    /// Follows a streamed response to its end, within the deadline.
    async fn follow(
        &mut self,
        stream: lamina_runtime::ResponseStream,
        sink: Option<&Sink>,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Ended {
        let mut exit = None;
        let stop = async {
            tokio::select! {
                e = self.sandbox.wait() => exit = Some(e),
                _ = tokio::time::sleep_until(deadline) => {}
            }
        };
        match streaming::follow(stream, sink, deadline, stop).await {
            Followed::Answered(outcome) => Ended::Answered(outcome),
            // Usually the runtime died: its exit status says more than the
            // closed connection, and arrives a moment later.
            Followed::Broken => tokio::select! {
                e = self.sandbox.wait() => Ended::Exited(exit_reason(e)),
                _ = tokio::time::sleep(EXIT_GRACE) => Ended::Exited("the runtime broke off its streamed response".into()),
            },
            Followed::Interrupted => match exit {
                Some(e) => Ended::Exited(exit_reason(e)),
                None => Ended::TimedOut(timeout),
            },
        }
    }
}

fn exit_reason(exit: Result<Exit, lamina_sandbox::SandboxError>) -> String {
    match exit {
        Ok(exit) => exit.lambda_reason(),
        Err(e) => e.to_string(),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// The sandbox of version `v`; `cpu` is its shard's, if the shard is pinned.
#[allow(clippy::too_many_arguments)]
fn spec_for(
    s: &Scheduler,
    v: &FunctionVersion,
    kind: RuntimeKind,
    code_dir: &Path,
    runtime_api: &str,
    log_stream: &str,
    uid: u32,
    cpu: Option<usize>,
) -> SandboxSpec {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let isolation = match s.config.isolation {
        IsolationMode::Namespaces => Isolation::Namespaces,
        IsolationMode::Process => Isolation::Process,
    };
    // In plain-process mode there is no /var/task: point at the real paths.
    let (task_root, runtime_root) = match isolation {
        Isolation::Namespaces => ("/var/task".to_string(), "/var/runtime".to_string()),
        Isolation::Process => (code_dir.display().to_string(), s.runtime_dir.display().to_string()),
    };
    let place = |p: &str| p.replace("/var/task", &task_root).replace("/var/runtime", &runtime_root);
    let (program, args) = kind.command();
    let mut env: Vec<(String, String)> = vec![
        ("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.into()),
        ("_HANDLER".into(), v.handler.clone()),
        ("LAMBDA_TASK_ROOT".into(), task_root.clone()),
        ("LAMBDA_RUNTIME_DIR".into(), runtime_root.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), v.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), v.version.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), v.memory_mib.to_string()),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT".into(), v.timeout_secs.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), log_group(&v.name)),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_REGION".into(), s.config.region.clone()),
        ("AWS_DEFAULT_REGION".into(), s.config.region.clone()),
        ("AWS_ENDPOINT_URL".into(), s.config.public_url.clone()),
        ("AWS_ACCESS_KEY_ID".into(), "lamina".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "lamina".into()),
        ("AWS_SESSION_TOKEN".into(), "lamina".into()),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        (
            "LD_LIBRARY_PATH".into(),
            place("/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"),
        ),
    ];
    if let Some(exec_env) = execution_env(&v.runtime) {
        env.push(("AWS_EXECUTION_ENV".into(), exec_env));
    }
    if kind == RuntimeKind::Node {
        env.push(("NODE_PATH".into(), "/opt/nodejs/node_modules:/var/runtime/node_modules".into()));
    }
    for (k, val) in &v.env {
        env.retain(|(existing, _)| existing != k);
        env.push((k.clone(), val.clone()));
    }
    let id = format!("{}-{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
    SandboxSpec {
        id,
        code_dir: code_dir.to_path_buf(),
        runtime_dir: Some(s.runtime_dir.clone()),
        opt_dir: None,
        program: PathBuf::from(place(program)),
        args: args.iter().map(|a| place(a)).collect(),
        env,
        cwd: PathBuf::from(&task_root),
        memory_mib: v.memory_mib,
        tmp_mib: v.ephemeral_mib,
        pids_max: 1024,
        // Lambda gives CPU in proportion to memory: 1769 MB is one full vCPU.
        cpu_shares: Some((v.memory_mib * 1024 / ONE_VCPU_MIB).max(2)),
        // Up to one vCPU's worth the sandbox stays on its shard's CPU (if the
        // shard is pinned), where its Runtime API is served; above, it may
        // use every CPU.
        cpus: match cpu {
            _ if v.memory_mib > ONE_VCPU_MIB => Cpus::All,
            Some(cpu) => Cpus::One(cpu),
            None => Cpus::Inherit,
        },
        host_uid: uid,
        hostname: "lamina".into(),
        isolation,
    }
}

/// The memory size at which Lambda gives a function one full vCPU.
const ONE_VCPU_MIB: u32 = 1769;

/// Lambda's log stream name: `YYYY/MM/DD/[version]<32 hex>`.
fn log_stream_name(version: &str) -> String {
    let date = chrono::Utc::now().format("%Y/%m/%d");
    format!("{date}/[{version}]{}", uuid::Uuid::new_v4().simple())
}

/// A host uid lent to one sandbox, returned when dropped.
pub(crate) struct Uid(pub(crate) u32, Arc<Mutex<Vec<u32>>>);

impl Drop for Uid {
    fn drop(&mut self) {
        self.1.lock().push(self.0);
    }
}

pub(crate) struct UidPool {
    free: Arc<Mutex<Vec<u32>>>,
}

impl UidPool {
    pub(crate) fn new() -> Self {
        Self { free: Arc::new(Mutex::new((FIRST_UID..FIRST_UID + UID_COUNT).rev().collect())) }
    }

    pub(crate) fn take(&self) -> Option<Uid> {
        let uid = self.free.lock().pop()?;
        Some(Uid(uid, self.free.clone()))
    }
}

/// The sandbox's merged stdout/stderr, read continuously so a chatty
/// function never blocks on a full pipe, and drained exactly at the
/// invocation boundaries: the runtime writes its output before it posts
/// its answer, so a drain after the answer holds all of it.
pub(crate) struct Output {
    pipe: Option<pipe::Receiver>,
    buf: Mutex<Vec<u8>>,
}

impl Output {
    fn new(fd: Option<OwnedFd>) -> Self {
        Self { pipe: fd.and_then(|fd| pipe::Receiver::from_owned_fd(fd).ok()), buf: Mutex::new(Vec::new()) }
    }

    /// Reads whatever is in the pipe now into `buf`; false at end of file.
    fn read_available(&self, buf: &mut Vec<u8>) -> bool {
        let Some(pipe) = &self.pipe else { return false };
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match pipe.try_read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > MAX_BUFFERED_OUTPUT {
                        let cut = buf.len() - MAX_BUFFERED_OUTPUT;
                        buf.drain(..cut);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return true,
            }
        }
    }

    async fn pump(self: Arc<Self>) {
        let Some(pipe) = &self.pipe else { return };
        loop {
            if pipe.readable().await.is_err() {
                return;
            }
            let open = {
                let mut buf = self.buf.lock();
                self.read_available(&mut buf)
            };
            if !open {
                return;
            }
        }
    }

    /// Everything the sandbox wrote up to now.
    pub(crate) fn drain(&self) -> Vec<u8> {
        let mut buf = self.buf.lock();
        self.read_available(&mut buf);
        std::mem::take(&mut *buf)
    }
}
