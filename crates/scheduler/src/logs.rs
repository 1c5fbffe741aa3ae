//! The function log: Lambda's START / END / REPORT lines around what the
//! function printed, written to the store off the hot path, and the tail
//! returned with `X-Amz-Log-Type: Tail`.

use base64::Engine;
use bytes::Bytes;
use lamina_core::function::log_group;
use lamina_runtime::Outcome;
use lamina_store::{LogLines, Store, Usage};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::sandbox::ColdFailure;
use crate::{InvokeRequest, InvokeResult, Scheduler};

/// How long the log writer gathers invocations' records before one write, and how many at most.
const LOG_BATCH_WINDOW: Duration = Duration::from_millis(20);
const LOG_BATCH_MAX: usize = 5000;
/// Records waiting after a write that put the writer back at normal
/// priority: it has fallen behind (see [`Priority`]).
const LOG_BACKLOG: usize = 1000;
/// Lambda returns the last 4 KB of the log with `Tail`.
const TAIL_BYTES: usize = 4096;

/// How an invocation ended.
pub(crate) enum Ended {
    Answered(Outcome),
    /// The runtime exited; the reason reads like Lambda's (`signal: killed`).
    Exited(String),
    TimedOut(Duration),
}

pub(crate) struct Report {
    pub before: Vec<u8>,
    pub during: Vec<u8>,
    pub ended: Ended,
    pub duration: Duration,
    pub init: Option<Duration>,
    pub memory_used: Option<u64>,
}

/// What one invocation leaves behind: its log lines and its bill.
struct Record {
    lines: Option<LogLines>,
    usage: Usage,
}

/// Writes log lines and usage to the store from one background thread, in order.
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Record>,
    /// False when function log capture is off: only usage is written.
    keep_lines: bool,
}

impl Writer {
    pub(crate) fn start(store: Arc<dyn Store>, keep_lines: bool) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Record>();
        let spawned = std::thread::Builder::new()
            .name("lamina-log-writer".into())
            .spawn(move || write_batches(store.as_ref(), rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the function log writer; function logs and usage are not stored");
        }
        Self { tx, keep_lines }
    }

    fn write(&self, function: &str, stream: &str, text: String, billed_ms: u64, memory_mib: u32) {
        let lines = self.keep_lines.then(|| LogLines {
            group: log_group(function),
            stream: stream.to_string(),
            timestamp_ms: lamina_core::now_ms(),
            text,
        });
        let usage = Usage {
            day: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            function: function.to_string(),
            requests: 1,
            billed_ms,
            gb_seconds: billed_ms as f64 / 1000.0 * f64::from(memory_mib) / 1024.0,
        };
        let _ = self.tx.send(Record { lines, usage });
    }
}

/// The writer thread: waits for a record, gathers for a moment (one
/// transaction per batch, not per invocation), writes; until every sender is
/// gone.
fn write_batches(store: &dyn Store, mut rx: mpsc::UnboundedReceiver<Record>) {
    let mut priority = Priority::background();
    while let Some(first) = rx.blocking_recv() {
        let mut logs: Vec<LogLines> = first.lines.into_iter().collect();
        let mut usage: HashMap<(String, String), Usage> = HashMap::new();
        add_usage(&mut usage, first.usage);
        // Sleep through the window rather than wait on the channel: a waiting
        // receiver would be woken, often across cores, by every record.
        std::thread::sleep(LOG_BATCH_WINDOW);
        while logs.len() < LOG_BATCH_MAX {
            let Ok(more) = rx.try_recv() else { break };
            logs.extend(more.lines);
            add_usage(&mut usage, more.usage);
        }
        let usage: Vec<Usage> = usage.into_values().collect();
        if let Err(e) = store.append_logs(&logs).and_then(|()| store.record_usage(&usage)) {
            tracing::error!(error = %e, "could not write function logs and usage to the store");
        }
        priority.keep_up(rx.len() > LOG_BACKLOG);
    }
}

/// The writer thread's CPU priority.
///
/// A batch takes the writer up to a few milliseconds of CPU. At normal
/// priority an invocation that wakes up meanwhile may wait for the writer's
/// whole time slice (3 ms by default), which showed as a p99 of 0.6–0.9 ms
/// against 0.3–0.4 ms with function logs off (one client, no-op function).
/// So the writer runs at nice 19 with a 0.1 ms slice, and invocations take
/// the CPU from it at once: p99 0.4–0.56 ms. Nice 19 alone, or the short
/// slice alone, did not help. When the CPUs are saturated that priority could
/// starve it, so once records pile up it returns to normal priority until it
/// has caught up. Only done where it can be undone (root: raising a
/// thread's priority again needs CAP_SYS_NICE).
struct Priority {
    background: bool,
    may_undo: bool,
}

impl Priority {
    fn background() -> Self {
        // SAFETY: geteuid has no preconditions.
        let may_undo = unsafe { libc::geteuid() } == 0;
        Self { background: may_undo && set_thread_priority(19, 100_000), may_undo }
    }

    fn keep_up(&mut self, behind: bool) {
        if self.may_undo && behind == self.background {
            let (nice, slice_ns) = if behind { (0, 0) } else { (19, 100_000) };
            if set_thread_priority(nice, slice_ns) {
                self.background = !behind;
            }
        }
    }
}

/// Sets the calling thread's nice value and time slice (`0`: the kernel's
/// default; Linux 6.12+ honours a requested slice, older kernels ignore it).
fn set_thread_priority(nice: i32, slice_ns: u64) -> bool {
    let attr = libc::sched_attr {
        size: std::mem::size_of::<libc::sched_attr>() as u32,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_flags: 0,
        sched_nice: nice,
        sched_priority: 0,
        sched_runtime: slice_ns,
        sched_deadline: 0,
        sched_period: 0,
    };
    // SAFETY: `attr` is a valid sched_attr of the size it declares; pid 0
    // is the calling thread.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const libc::sched_attr, 0) == 0 }
}

fn add_usage(totals: &mut HashMap<(String, String), Usage>, u: Usage) {
    match totals.entry((u.day.clone(), u.function.clone())) {
        std::collections::hash_map::Entry::Occupied(mut e) => {
            let t = e.get_mut();
            t.requests += u.requests;
            t.billed_ms += u.billed_ms;
            t.gb_seconds += u.gb_seconds;
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(u);
        }
    }
}

/// Lambda bills in 1 ms steps, at least 1 ms.
fn billed_ms(duration: Duration) -> u64 {
    (duration.as_micros().div_ceil(1000) as u64).max(1)
}

fn error_payload(request_id: &str, error_type: &str, message: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "errorType": error_type,
            "errorMessage": format!("RequestId: {request_id} Error: {message}"),
        })
        .to_string(),
    )
}

/// Builds the result and the log of a finished invocation.
pub(crate) fn finish(s: &Scheduler, req: &InvokeRequest, stream: &str, r: Report) -> InvokeResult {
    let id = &req.request_id;
    let mut log = String::from_utf8_lossy(&r.before).into_owned();
    let _ = writeln!(log, "START RequestId: {id} Version: {}", req.version.version);
    log.push_str(&String::from_utf8_lossy(&r.during));
    if !log.ends_with('\n') {
        log.push('\n');
    }
    let (payload, function_error) = match r.ended {
        Ended::Answered(Outcome::Response(body)) => (body, None),
        Ended::Answered(Outcome::Error { body, .. }) => (body, Some("Unhandled")),
        // Streams are followed to their end before the log is written.
        Ended::Answered(Outcome::Streamed(_)) => {
            (error_payload(id, "Runtime.Unknown", "unfinished streamed response"), Some("Unhandled"))
        }
        Ended::Exited(reason) => {
            let message = format!("Runtime exited with error: {reason}");
            let _ = writeln!(log, "RequestId: {id} Error: {message}\nRuntime.ExitError");
            (error_payload(id, "Runtime.ExitError", &message), Some("Unhandled"))
        }
        Ended::TimedOut(limit) => {
            let message = format!("Task timed out after {:.2} seconds", limit.as_secs_f64());
            let now = lamina_core::lambda_timestamp(lamina_core::now_ms());
            let _ = writeln!(log, "{now} {id} {message}");
            (error_payload(id, "Sandbox.Timedout", &message), Some("Unhandled"))
        }
    };
    let _ = writeln!(log, "END RequestId: {id}");
    let _ = writeln!(log, "{}", report_line(s, req, r.duration, r.init, r.memory_used));
    let log_tail = req.tail_log.then(|| tail(&log));
    s.log_writer.write(&req.version.name, stream, log, billed_ms(r.duration), req.version.memory_mib);
    InvokeResult { payload, function_error, log_tail, executed_version: req.version.version.clone() }
}

/// The result of an invocation whose sandbox never became ready.
pub(crate) fn init_failure(
    s: &Scheduler,
    req: &InvokeRequest,
    failure: ColdFailure,
    elapsed: Duration,
) -> InvokeResult {
    let id = &req.request_id;
    let (output, stream, payload) = match failure {
        ColdFailure::InitError { error_type, body, output, log_stream } => {
            let kind = error_type.unwrap_or_else(|| "Runtime.Unknown".into());
            let mut out = String::from_utf8_lossy(&output).into_owned();
            let _ = writeln!(
                out,
                "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {kind}",
                ms(elapsed)
            );
            (out, log_stream, body)
        }
        ColdFailure::Exited { exit, output, log_stream } => {
            let message = format!("Runtime exited with error: {exit}");
            let mut out = String::from_utf8_lossy(&output).into_owned();
            let _ = writeln!(
                out,
                "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError",
                ms(elapsed)
            );
            (out, log_stream, error_payload(id, "Runtime.ExitError", &message))
        }
        ColdFailure::InitTimeout { output, log_stream } => {
            let mut out = String::from_utf8_lossy(&output).into_owned();
            let _ = writeln!(out, "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout", ms(elapsed));
            (out, log_stream, error_payload(id, "Runtime.InitTimeout", "Init phase timed out"))
        }
        ColdFailure::Spawn { message, error_type } => {
            let stream = format!("{}/[{}]platform", chrono::Utc::now().format("%Y/%m/%d"), req.version.version);
            let out = format!("RequestId: {id} {message}\n{error_type}\n");
            let payload = Bytes::from(
                serde_json::json!({"errorType": error_type, "errorMessage": format!("RequestId: {id} {message}")})
                    .to_string(),
            );
            (out, stream, payload)
        }
    };
    let mut log = output;
    let _ = writeln!(log, "START RequestId: {id} Version: {}", req.version.version);
    let _ = writeln!(log, "END RequestId: {id}");
    let _ = writeln!(log, "{}", report_line(s, req, Duration::ZERO, Some(elapsed), None));
    let log_tail = req.tail_log.then(|| tail(&log));
    s.log_writer.write(&req.version.name, &stream, log, billed_ms(elapsed), req.version.memory_mib);
    InvokeResult { payload, function_error: Some("Unhandled"), log_tail, executed_version: req.version.version.clone() }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report_line(
    s: &Scheduler,
    req: &InvokeRequest,
    duration: Duration,
    init: Option<Duration>,
    memory_used: Option<u64>,
) -> String {
    let billed = billed_ms(duration);
    let used_mb = memory_used.map(|b| b.div_ceil(1024 * 1024)).unwrap_or(0);
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {used_mb} MB",
        req.request_id,
        ms(duration),
        req.version.memory_mib,
    );
    if let Some(init) = init {
        let _ = write!(line, "\tInit Duration: {:.2} ms", ms(init));
    }
    if s.config.isolation == lamina_core::config::IsolationMode::Process {
        line.push_str("\tIsolation: process (weak)");
    }
    line.push('\t');
    line
}

/// Base64 of the last 4 KB of a log, cut at a character boundary.
fn tail(log: &str) -> String {
    let mut start = log.len().saturating_sub(TAIL_BYTES);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    base64::engine::general_purpose::STANDARD.encode(&log.as_bytes()[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_yields_the_cpu_until_it_falls_behind() {
        std::thread::spawn(|| {
            // SAFETY: getpriority and geteuid have no preconditions; tid is this thread.
            let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as u32) };
            let mut p = Priority::background();
            if unsafe { libc::geteuid() } != 0 {
                p.keep_up(false);
                assert_eq!(nice(), 0, "without root the writer keeps normal priority");
                return;
            }
            assert_eq!(nice(), 19);
            p.keep_up(true);
            assert_eq!(nice(), 0, "behind: normal priority");
            p.keep_up(false);
            assert_eq!(nice(), 19, "caught up: background again");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn tail_keeps_the_last_4kb() {
        let log = format!("{}END", "x".repeat(10_000));
        let decoded = base64::engine::general_purpose::STANDARD.decode(tail(&log)).unwrap();
        assert_eq!(decoded.len(), 4096);
        assert!(decoded.ends_with(b"END"));
    }
}
