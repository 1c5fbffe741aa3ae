//! The load generator: keep-alive HTTP clients invoking back to back, and
//! the latency samples and rates they give.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// The payload every warm case sends.
pub(super) const EVENT: &[u8] = b"{}";
/// Warm-up per client before a measured run, for Lamina and the floor.
pub(super) const WARMUP: Duration = Duration::from_millis(300);

/// One measured run: `clients` concurrent clients for a fixed duration.
pub(super) struct Run {
    pub(super) clients: usize,
    /// Per-request latencies, sorted.
    pub(super) samples: Vec<Duration>,
    pub(super) elapsed: Duration,
    /// CPU time the server process used meanwhile, when it is a local process.
    pub(super) server_cpu: Option<Duration>,
}

impl Run {
    pub(super) fn new(clients: usize, mut samples: Vec<Duration>, elapsed: Duration) -> Run {
        samples.sort();
        Run { clients, samples, elapsed, server_cpu: None }
    }

    /// The server's CPU time per request, in microseconds.
    pub(super) fn server_cpu_us(&self) -> Option<f64> {
        Some(self.server_cpu?.as_secs_f64() * 1e6 / self.samples.len().max(1) as f64)
    }

    pub(super) fn percentile(&self, p: f64) -> Duration {
        percentile(&self.samples, p)
    }

    pub(super) fn rate(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(super) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The client counts to run: the requested ones, plus 1 (the sequential
/// latency case) if it is missing.
pub(super) fn client_counts(requested: &[usize]) -> Vec<usize> {
    let mut counts: Vec<usize> = requested.iter().copied().filter(|&c| c > 0).collect();
    if !counts.contains(&1) {
        counts.insert(0, 1);
    }
    counts
}

pub(super) fn invoke_url(base: &str, name: &str) -> anyhow::Result<hyper::Uri> {
    let url = format!("{}/2015-03-31/functions/{name}/invocations", base.trim_end_matches('/'));
    url.parse().with_context(|| format!("bad URL {url}"))
}

/// User plus system CPU time of local process `pid` so far, all threads.
pub(super) fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(total * 1_000_000 / hz))
}

/// Warm latency and throughput with `clients` concurrent connections, and
/// the CPU the `server` process (if local and known) used for them.
pub(super) async fn warm(
    url: &hyper::Uri,
    clients: usize,
    duration: Duration,
    warmup: Duration,
    server: Option<u32>,
) -> anyhow::Result<Run> {
    // Warm up one sandbox (or emulator instance) per client.
    run_clients(url, clients, warmup).await?;
    let cpu_before = server.and_then(process_cpu);
    let started = Instant::now();
    let samples = run_clients(url, clients, duration).await?;
    let mut run = Run::new(clients, samples, started.elapsed());
    let cpu_after = server.and_then(process_cpu);
    run.server_cpu = cpu_before.zip(cpu_after).map(|(before, after)| after.saturating_sub(before));
    Ok(run)
}

/// Runs `clients` concurrent keep-alive clients for `duration`; all latencies.
pub(super) async fn run_clients(url: &hyper::Uri, clients: usize, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { one_client(url, duration).await })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

pub(super) fn invoke_request(url: &hyper::Uri) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(EVENT)))?)
}

/// One keep-alive client invoking back to back until `duration` is over
/// (always at least once).
pub(super) async fn one_client(url: hyper::Uri, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http::<Full<Bytes>>();
    let mut samples = Vec::new();
    let end = Instant::now() + duration;
    loop {
        let t = Instant::now();
        invoke_once(&client, &url).await?;
        samples.push(t.elapsed());
        if Instant::now() >= end {
            return Ok(samples);
        }
    }
}

pub(super) type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(super) async fn invoke_once(client: &HttpClient, url: &hyper::Uri) -> anyhow::Result<()> {
    let resp = client.request(invoke_request(url)?).await.context("invoke")?;
    let status = resp.status();
    let failed = resp.headers().contains_key("x-amz-function-error");
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() || failed {
        bail!("invoke of {url} failed with status {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// Warm runs for every client count in `counts`.
pub(super) async fn warm_runs(
    url: &hyper::Uri,
    counts: &[usize],
    duration: Duration,
    warmup: Duration,
    server: Option<u32>,
) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for &c in counts {
        runs.push(warm(url, c, duration, warmup, server).await?);
    }
    Ok(runs)
}

pub(super) fn print_header() {
    println!(
        "{:<34} {:>7} {:>10} {:>10} {:>12} {:>14}",
        "case", "n", "p50 µs", "p99 µs", "throughput", "server CPU/req"
    );
}

pub(super) fn print_row(case: &str, samples: &[Duration], rate: Option<f64>) {
    print_line(case, samples, rate, None);
}

/// A warm run's row, with the server's CPU per request when it is known.
pub(super) fn print_run(case: &str, run: &Run) {
    print_line(case, &run.samples, Some(run.rate()), run.server_cpu_us());
}

fn print_line(case: &str, samples: &[Duration], rate: Option<f64>, cpu_us: Option<f64>) {
    let rate = rate.map_or(String::from("-"), |r| format!("{r:.0}/s"));
    let cpu = cpu_us.map_or(String::from("-"), |c| format!("{c:.1} µs"));
    println!(
        "{case:<34} {:>7} {:>10.1} {:>10.1} {:>12} {:>14}",
        samples.len(),
        micros(percentile(samples, 0.5)),
        micros(percentile(samples, 0.99)),
        rate,
        cpu
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_cpu_time_counts_what_it_burns() {
        let before = process_cpu(std::process::id()).expect("our own /proc/PID/stat");
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let burnt = process_cpu(std::process::id()).expect("again").saturating_sub(before);
        assert!(burnt >= Duration::from_millis(100), "200 ms of spinning counted as {burnt:?}");
        assert!(process_cpu(u32::MAX).is_none(), "no such process");
    }
}
