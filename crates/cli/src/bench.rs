//! `lamina bench`: the load tool. Measures what a user sees end to end over
//! HTTP, in one run, and prints the results side by side.
//!
//! Cases measured:
//! - **Lamina**, against a running server, for a no-op Python function and a
//!   `provided` function (the `--bootstrap` binary, or the binary that
//!   cargo-lambda built when `--compare-cargo-lambda` is given): warm invoke
//!   latency p50/p99 with one sequential client, throughput with each
//!   `--clients` count (one keep-alive connection per client), and cold-start
//!   latency (first invoke after a configuration change).
//! - **A burst** of `--burst` concurrent invocations right after the warm
//!   sandboxes were retired: all must succeed; reports latency and sandboxes
//!   started per second.
//! - **The floor**: an in-process hyper server on `127.0.0.1:0` that answers
//!   every POST with its body, measured by the same client code and the same
//!   request shape. Nothing can be faster than this over loopback HTTP.
//! - **cargo-lambda's emulator** (`--compare-cargo-lambda DIR`): `cargo lambda
//!   watch` serving the same Rust function, started on a free port, warmed up
//!   (it compiles on the first invoke), measured like Lamina, then stopped.
//! - **boto3-style requests**: a raw `TcpStream` with Nagle left on that
//!   writes the headers and the body in two writes, as botocore does, against
//!   Lamina and the floor. A Nagle / delayed-ACK interaction would show as
//!   ~40 ms per request.
//!
//! The comparison table has one row per case (warm 1 client p50 and p99,
//! throughput at each client count) and columns floor, Lamina, cargo-lambda
//! and the ratios Lamina/floor and Lamina/cargo-lambda.

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::call;

pub struct Options<'a> {
    pub endpoint: &'a str,
    pub bootstrap: Option<&'a Path>,
    /// The cargo project of the function to run under `cargo lambda watch`.
    pub compare_cargo_lambda: Option<&'a Path>,
    pub clients: Vec<usize>,
    pub duration: Duration,
    pub cold_starts: usize,
    /// Concurrent cold starts in the burst case (0: skip).
    pub burst: usize,
}

/// MemorySize of the bench functions: Lambda's one full vCPU (CPU shares
/// follow memory, so a 128 MB function gets a fraction of a core under load).
const BENCH_MEMORY_MIB: u32 = 1769;
const PYTHON_NOOP: &str = "def handler(event, context):\n    return event\n";
const PROVIDED_NAME: &str = "bench-provided-noop";
/// The payload every warm case sends.
const EVENT: &[u8] = b"{}";
/// Warm-up per client before a measured run, for Lamina and the floor.
const WARMUP: Duration = Duration::from_millis(300);
/// The emulator starts each extra instance with `cargo run`: warm up longer.
const EMULATOR_WARMUP: Duration = Duration::from_secs(3);
/// The emulator compiles the function on its first invoke.
const EMULATOR_FIRST_INVOKE: Duration = Duration::from_secs(20 * 60);
/// A boto3-style request slower than this is counted as a stall.
const STALL: Duration = Duration::from_millis(30);

// ---------------------------------------------------------------------------
// Measurements

/// One measured run: `clients` concurrent clients for a fixed duration.
struct Run {
    clients: usize,
    /// Per-request latencies, sorted.
    samples: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn new(clients: usize, mut samples: Vec<Duration>, elapsed: Duration) -> Run {
        samples.sort();
        Run { clients, samples, elapsed }
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.samples, p)
    }

    fn rate(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The client counts to run: the requested ones, plus 1 (the sequential
/// latency case) if it is missing.
fn client_counts(requested: &[usize]) -> Vec<usize> {
    let mut counts: Vec<usize> = requested.iter().copied().filter(|&c| c > 0).collect();
    if !counts.contains(&1) {
        counts.insert(0, 1);
    }
    counts
}

fn invoke_url(base: &str, name: &str) -> anyhow::Result<hyper::Uri> {
    let url = format!("{}/2015-03-31/functions/{name}/invocations", base.trim_end_matches('/'));
    url.parse().with_context(|| format!("bad URL {url}"))
}

/// Warm latency and throughput with `clients` concurrent connections.
async fn warm(url: &hyper::Uri, clients: usize, duration: Duration, warmup: Duration) -> anyhow::Result<Run> {
    // Warm up one sandbox (or emulator instance) per client.
    run_clients(url, clients, warmup).await?;
    let started = Instant::now();
    let samples = run_clients(url, clients, duration).await?;
    Ok(Run::new(clients, samples, started.elapsed()))
}

/// Runs `clients` concurrent keep-alive clients for `duration`; all latencies.
async fn run_clients(url: &hyper::Uri, clients: usize, duration: Duration) -> anyhow::Result<Vec<Duration>> {
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

fn invoke_request(url: &hyper::Uri) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(EVENT)))?)
}

/// One keep-alive client invoking back to back until `duration` is over
/// (always at least once).
async fn one_client(url: hyper::Uri, duration: Duration) -> anyhow::Result<Vec<Duration>> {
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

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn invoke_once(client: &HttpClient, url: &hyper::Uri) -> anyhow::Result<()> {
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
async fn warm_runs(
    url: &hyper::Uri,
    counts: &[usize],
    duration: Duration,
    warmup: Duration,
) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for &c in counts {
        runs.push(warm(url, c, duration, warmup).await?);
    }
    Ok(runs)
}

// ---------------------------------------------------------------------------
// Lamina

fn zip(files: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    for (name, bytes, mode) in files {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        z.start_file(*name, opts)?;
        z.write_all(bytes)?;
    }
    z.finish()?;
    Ok(out.into_inner())
}

async fn create(endpoint: &str, name: &str, runtime: &str, handler: &str, zip: &[u8]) -> anyhow::Result<()> {
    let _ = call(endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await;
    let body = serde_json::json!({
        "FunctionName": name, "Runtime": runtime, "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": BENCH_MEMORY_MIB, "Timeout": 10,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    call(endpoint, Method::POST, "/2015-03-31/functions", &[], Bytes::from(body.to_string())).await?;
    Ok(())
}

fn print_header() {
    println!("{:<34} {:>7} {:>10} {:>10} {:>12}", "case", "n", "p50 µs", "p99 µs", "throughput");
}

fn print_row(case: &str, samples: &[Duration], rate: Option<f64>) {
    let rate = rate.map_or(String::from("-"), |r| format!("{r:.0}/s"));
    println!(
        "{case:<34} {:>7} {:>10.1} {:>10.1} {:>12}",
        samples.len(),
        micros(percentile(samples, 0.5)),
        micros(percentile(samples, 0.99)),
        rate
    );
}

/// A configuration change retires the warm sandboxes: the next invoke is cold.
async fn retire_sandboxes(endpoint: &str, name: &str, round: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({"Environment": {"Variables": {"BENCH_ROUND": round}}});
    call(
        endpoint,
        Method::PUT,
        &format!("/2015-03-31/functions/{name}/configuration"),
        &[],
        Bytes::from(body.to_string()),
    )
    .await?;
    Ok(())
}

async fn cold(endpoint: &str, name: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
    let url = invoke_url(endpoint, name)?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut samples = Vec::new();
    for i in 0..count {
        retire_sandboxes(endpoint, name, &i.to_string()).await?;
        let t = Instant::now();
        invoke_once(&client, &url).await.with_context(|| format!("cold invoke of {name}"))?;
        samples.push(t.elapsed());
    }
    samples.sort();
    Ok(samples)
}

/// What a burst of concurrent cold starts gave.
struct Burst {
    samples: Vec<Duration>,
    errors: usize,
    sandboxes: u64,
    elapsed: Duration,
}

/// `n` concurrent invocations, each on its own connection, right after the
/// warm sandboxes were retired: every one must succeed. Counts the
/// sandboxes started (from `/metrics`) per second of the burst.
async fn burst(endpoint: &str, name: &str, n: usize) -> anyhow::Result<Burst> {
    retire_sandboxes(endpoint, name, "burst").await?;
    let before = cold_starts(endpoint, name).await?;
    let url = invoke_url(endpoint, name)?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
                let t = Instant::now();
                invoke_once(&client, &url).await.map(|()| t.elapsed())
            })
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), 0);
    for task in tasks {
        match task.await {
            Ok(Ok(d)) => samples.push(d),
            Ok(Err(e)) => {
                errors += 1;
                eprintln!("burst: {e:#}");
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    let sandboxes = cold_starts(endpoint, name).await?.saturating_sub(before);
    samples.sort();
    Ok(Burst { samples, errors, sandboxes, elapsed })
}

/// `lamina_cold_starts_total` of a function's `$LATEST`, from `/metrics`.
async fn cold_starts(endpoint: &str, name: &str) -> anyhow::Result<u64> {
    let reply = call(endpoint, Method::GET, "/metrics", &[], Bytes::new()).await?;
    let text = String::from_utf8_lossy(&reply.body);
    let series = format!("lamina_cold_starts_total{{function=\"{name}\",version=\"$LATEST\"}} ");
    Ok(text.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

/// A function Lamina runs: (runtime, name, handler, zip).
type Function = (&'static str, &'static str, &'static str, Vec<u8>);

fn lamina_functions(bootstrap: Option<&Path>) -> anyhow::Result<Vec<Function>> {
    let mut functions =
        vec![("python3.12", "bench-python-noop", "app.handler", zip(&[("app.py", PYTHON_NOOP.as_bytes(), 0o644)])?)];
    match bootstrap {
        Some(bootstrap) => {
            let bytes = std::fs::read(bootstrap).with_context(|| format!("reading {}", bootstrap.display()))?;
            functions.insert(0, ("provided.al2023", PROVIDED_NAME, "bootstrap", zip(&[("bootstrap", &bytes, 0o755)])?));
        }
        None => eprintln!("(no --bootstrap given: skipping the provided function)"),
    }
    Ok(functions)
}

/// The original per-function report; returns the provided function's warm
/// runs for the comparison table.
async fn bench_lamina(o: &Options<'_>, bootstrap: Option<&Path>, counts: &[usize]) -> anyhow::Result<Option<Vec<Run>>> {
    let functions = lamina_functions(bootstrap)?;
    for (runtime, name, handler, code) in &functions {
        create(o.endpoint, name, runtime, handler, code).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("== Lamina at {}", o.endpoint);
    print_header();
    let mut provided = None;
    for (runtime, name, _, _) in &functions {
        let kind = if runtime.starts_with("python") { "python" } else { "provided" };
        let runs = warm_runs(&invoke_url(o.endpoint, name)?, counts, o.duration, WARMUP).await?;
        for run in &runs {
            print_row(&format!("{kind} warm, {} client(s)", run.clients), &run.samples, Some(run.rate()));
        }
        if o.cold_starts > 0 {
            print_row(&format!("{kind} cold start"), &cold(o.endpoint, name, o.cold_starts).await?, None);
        }
        if o.burst > 0 {
            let b = burst(o.endpoint, name, o.burst).await?;
            print_row(&format!("{kind} burst of {} cold", o.burst), &b.samples, None);
            println!(
                "  {} errors; {} sandboxes started in {:.2} s = {:.0} sandboxes/s",
                b.errors,
                b.sandboxes,
                b.elapsed.as_secs_f64(),
                b.sandboxes as f64 / b.elapsed.as_secs_f64()
            );
        }
        if *name == PROVIDED_NAME {
            provided = Some(runs);
        }
    }
    Ok(provided)
}

async fn delete_lamina_functions(endpoint: &str) {
    for name in ["bench-python-noop", PROVIDED_NAME] {
        let _ = call(endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await;
    }
}

// ---------------------------------------------------------------------------
// The floor: a bare loopback HTTP echo

/// Starts an in-process HTTP/1.1 server on 127.0.0.1:0 that answers every
/// request with its body. Dropping the handle stops accepting.
async fn start_floor() -> anyhow::Result<(SocketAddr, AbortOnDrop)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the floor server")?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // Same socket setting as Lamina's API server.
            let _ = tcp.set_nodelay(true);
            tokio::spawn(serve_echo(tcp));
        }
    });
    Ok((addr, AbortOnDrop(task)))
}

async fn serve_echo(tcp: tokio::net::TcpStream) {
    let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
        let body = req.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Response::new(Full::new(body)))
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---------------------------------------------------------------------------
// cargo-lambda's emulator

/// A running `cargo lambda watch`; its whole process group is killed on drop.
struct Emulator {
    child: tokio::process::Child,
    port: u16,
    function: String,
    /// Where the emulator's cargo builds the function.
    target_dir: PathBuf,
    log: PathBuf,
}

impl Emulator {
    fn binary(&self) -> PathBuf {
        self.target_dir.join("release").join(&self.function)
    }

    fn stop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        // `process_group(0)` at spawn: the group id is the child's pid.
        let group = format!("-{pid}");
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.start_kill();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cargo-lambda` on PATH, or in a virtualenv (`$VIRTUAL_ENV`, `./.venv`):
/// the directory holding it.
fn find_cargo_lambda() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let venvs =
        [std::env::var_os("VIRTUAL_ENV").map(|v| PathBuf::from(v).join("bin")), Some(PathBuf::from(".venv/bin"))];
    std::env::split_paths(&path)
        .chain(venvs.into_iter().flatten())
        .find(|dir| dir.join("cargo-lambda").is_file())
        .and_then(|dir| std::fs::canonicalize(dir).ok())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The name of the first binary target of the cargo project in `dir`.
async fn binary_name(dir: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .await
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let targets =
        meta["packages"].as_array().into_iter().flatten().flat_map(|p| p["targets"].as_array().into_iter().flatten());
    for target in targets {
        let is_bin = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
        if let (true, Some(name)) = (is_bin, target["name"].as_str()) {
            return Ok(name.to_string());
        }
    }
    bail!("no binary target in {}", dir.display())
}

/// Starts `cargo lambda watch` for the project in `dir`, serving up to
/// `concurrency` instances of the function, in its own process group.
async fn start_emulator(tool_dir: &Path, dir: &Path, concurrency: usize) -> anyhow::Result<Emulator> {
    let function = binary_name(dir).await?;
    let port = free_port()?;
    // cargo-lambda 1.9 forwards `--target-dir` to `cargo metadata`, which rejects it: use the environment.
    let target_dir = std::env::temp_dir().join("lamina-bench-cargo-lambda");
    let log = std::env::temp_dir().join(format!("lamina-bench-cargo-lambda-{port}.log"));
    let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let path = std::env::join_paths(
        std::iter::once(tool_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let child = tokio::process::Command::new("cargo")
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .args(["--release", "--quiet", "--ignore-changes", "--concurrency", &concurrency.to_string()])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting cargo lambda watch")?;
    Ok(Emulator { child, port, function, target_dir, log })
}

/// Waits for the emulator's port, then for a first successful invoke (which
/// compiles the function).
async fn wait_emulator(emulator: &mut Emulator) -> anyhow::Result<hyper::Uri> {
    let addr = format!("127.0.0.1:{}", emulator.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        if let Some(status) = emulator.child.try_wait()? {
            bail!("cargo lambda watch exited with {status}; see {}", emulator.log.display());
        }
        if Instant::now() > deadline {
            bail!("cargo lambda watch did not listen on {addr} within 60 s; see {}", emulator.log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = invoke_url(&format!("http://{addr}"), &emulator.function)?;
    eprintln!("(cargo-lambda: first invoke compiles {} in release mode; this can take minutes)", emulator.function);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    match tokio::time::timeout(EMULATOR_FIRST_INVOKE, invoke_once(&client, &url)).await {
        Ok(result) => {
            result.with_context(|| format!("first invoke on cargo lambda watch; see {}", emulator.log.display()))?
        }
        Err(_) => bail!(
            "cargo lambda watch did not answer within {:?}; see {}",
            EMULATOR_FIRST_INVOKE,
            emulator.log.display()
        ),
    }
    Ok(url)
}

/// Measures the emulator; returns its runs and the binary it built.
async fn bench_cargo_lambda(
    dir: &Path,
    counts: &[usize],
    duration: Duration,
) -> anyhow::Result<Option<(Vec<Run>, PathBuf)>> {
    let Some(tool_dir) = find_cargo_lambda() else {
        println!("note: cargo-lambda not found (on PATH, $VIRTUAL_ENV/bin or ./.venv/bin): skipping the cargo-lambda column.");
        println!("      Install it with `pip install cargo-lambda`.");
        return Ok(None);
    };
    let concurrency = counts.iter().copied().max().unwrap_or(1);
    let mut emulator = start_emulator(&tool_dir, dir, concurrency).await?;
    let url = wait_emulator(&mut emulator).await?;
    let runs = warm_runs(&url, counts, duration, EMULATOR_WARMUP).await?;
    emulator.stop();
    println!(
        "== cargo-lambda {} (cargo lambda watch --release --concurrency {concurrency})",
        tool_dir.join("cargo-lambda").display()
    );
    print_header();
    for run in &runs {
        print_row(&format!("rust warm, {} client(s)", run.clients), &run.samples, Some(run.rate()));
    }
    Ok(Some((runs, emulator.binary())))
}

// ---------------------------------------------------------------------------
// boto3-style requests: headers and body in two writes, Nagle on

/// Sequential boto3-style invokes on one connection for `duration`.
/// `nodelay` false leaves Nagle on (the worst case: the body waits for the
/// ACK of the headers); botocore itself sets TCP_NODELAY.
async fn boto3_style(url: &hyper::Uri, nodelay: bool, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let authority = url.authority().context("URL without host")?.as_str();
    let mut stream =
        tokio::net::TcpStream::connect(authority).await.with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(nodelay)?;
    let head = boto3_head(authority, url.path(), EVENT.len());
    let mut buf = Vec::new();
    // One unmeasured request: the sandbox may be cold after the cold-start cases.
    boto3_invoke(&mut stream, &head, &mut buf, url).await?;
    let mut samples = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let t = Instant::now();
        boto3_invoke(&mut stream, &head, &mut buf, url).await?;
        samples.push(t.elapsed());
    }
    samples.sort();
    Ok(samples)
}

async fn boto3_invoke(
    stream: &mut tokio::net::TcpStream,
    head: &str,
    buf: &mut Vec<u8>,
    url: &hyper::Uri,
) -> anyhow::Result<()> {
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(EVENT).await?;
    let status = read_response(stream, buf).await?;
    if status != 200 {
        bail!("boto3-style invoke of {url} answered {status}");
    }
    Ok(())
}

/// The request head botocore sends for `Invoke` (signature is not checked).
fn boto3_head(authority: &str, path: &str, body_len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAccept-Encoding: identity\r\n\
         User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.12 lamina-bench\r\n\
         X-Amz-Date: 20250101T000000Z\r\nX-Amz-Security-Token: bench\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={}\r\n\
         amz-sdk-invocation-id: 00000000-0000-0000-0000-000000000000\r\namz-sdk-request: attempt=1\r\n\
         Content-Length: {body_len}\r\n\r\n",
        "0".repeat(64)
    )
}

/// Reads one HTTP/1.1 response framed by Content-Length; returns its status.
/// Bytes past the response stay in `buf`.
async fn read_response(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    loop {
        if let Some((status, len)) = parse_response(buf)? {
            buf.drain(..len);
            return Ok(status);
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `Some((status, total length))` once `buf` holds a complete response.
fn parse_response(buf: &[u8]) -> anyhow::Result<Option<(u16, usize)>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).context("bad status line")?;
    let mut content_length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.trim().parse::<usize>().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!(
                "the boto3-style client only reads Content-Length responses, got Transfer-Encoding: {}",
                value.trim()
            );
        }
    }
    let total = head_end + content_length.unwrap_or(0);
    Ok((buf.len() >= total).then_some((status, total)))
}

fn print_boto3(target: &str, samples: &[Duration]) {
    let stalls = samples.iter().filter(|&&d| d >= STALL).count();
    println!(
        "{target:<30} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>8}",
        samples.len(),
        micros(percentile(samples, 0.5)),
        micros(percentile(samples, 0.99)),
        micros(samples.last().copied().unwrap_or_default()),
        stalls
    );
}

async fn bench_boto3(lamina: Option<&hyper::Uri>, floor: &hyper::Uri, duration: Duration) -> anyhow::Result<()> {
    println!();
    println!("== boto3-style: headers and body in two writes, one connection (a delayed-ACK stall is ~40,000 µs)");
    println!("{:<30} {:>7} {:>10} {:>10} {:>10} {:>8}", "target", "n", "p50 µs", "p99 µs", "max µs", "≥30 ms");
    for (nodelay, socket) in [(false, "Nagle on"), (true, "TCP_NODELAY")] {
        print_boto3(&format!("floor, {socket}"), &boto3_style(floor, nodelay, duration).await?);
        match lamina {
            Some(url) => print_boto3(&format!("Lamina, {socket}"), &boto3_style(url, nodelay, duration).await?),
            None => println!("Lamina, {socket}: no provided function, skipped"),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The comparison table

/// The value of one table cell, if that column was measured.
fn cell(runs: Option<&[Run]>, row: &Row) -> Option<f64> {
    let run = runs?.iter().find(|r| r.clients == row.clients())?;
    Some(match row {
        Row::P50 => micros(run.percentile(0.5)),
        Row::P99 => micros(run.percentile(0.99)),
        Row::Throughput(_) => run.rate(),
    })
}

enum Row {
    P50,
    P99,
    Throughput(usize),
}

impl Row {
    fn clients(&self) -> usize {
        match self {
            Row::P50 | Row::P99 => 1,
            Row::Throughput(c) => *c,
        }
    }

    fn label(&self) -> String {
        match self {
            Row::P50 => "warm 1 client p50 (µs)".into(),
            Row::P99 => "warm 1 client p99 (µs)".into(),
            Row::Throughput(c) => format!("throughput {c} client(s) (/s)"),
        }
    }
}

fn fmt_value(v: Option<f64>, row: &Row) -> String {
    match (v, row) {
        (None, _) => "-".into(),
        (Some(v), Row::Throughput(_)) => format!("{v:.0}"),
        (Some(v), _) => format!("{v:.1}"),
    }
}

fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

fn print_table(clients: &[usize], floor: &[Run], lamina: Option<&[Run]>, cargo_lambda: Option<&[Run]>) {
    let mut rows = vec![Row::P50, Row::P99];
    rows.extend(clients.iter().filter(|&&c| c > 0).map(|&c| Row::Throughput(c)));
    println!();
    println!("== side by side (Lamina: the provided function; ratios are Lamina's value divided by the other's:");
    println!("   for latency lower is better, for throughput higher is better)");
    println!(
        "{:<30} {:>10} {:>10} {:>13} {:>13} {:>20}",
        "case", "floor", "Lamina", "cargo-lambda", "Lamina/floor", "Lamina/cargo-lambda"
    );
    for row in &rows {
        let (f, l, c) = (cell(Some(floor), row), cell(lamina, row), cell(cargo_lambda, row));
        println!(
            "{:<30} {:>10} {:>10} {:>13} {:>13} {:>20}",
            row.label(),
            fmt_value(f, row),
            fmt_value(l, row),
            fmt_value(c, row),
            fmt_ratio(l, f),
            fmt_ratio(l, c)
        );
    }
    if let Some(&top) = clients.iter().max() {
        let top = Row::Throughput(top);
        if let (Some(l), Some(c)) = (cell(lamina, &top), cell(cargo_lambda, &top)) {
            let verdict = if l >= 3.0 * c { "meets" } else { "MISSES" };
            println!(
                "Lamina serves {:.2}× cargo-lambda's throughput with {} clients: {verdict} the ≥ 3× target.",
                l / c,
                top.clients()
            );
        }
    }
}

// ---------------------------------------------------------------------------

pub async fn run(o: Options<'_>) -> anyhow::Result<()> {
    let counts = client_counts(&o.clients);

    // The emulator first: it may compile for minutes, and is stopped before
    // Lamina is measured so the two never compete for the CPU.
    let emulator = match o.compare_cargo_lambda {
        Some(dir) => bench_cargo_lambda(dir, &counts, o.duration).await?,
        None => None,
    };
    let (emulator_runs, built) = emulator.map_or((None, None), |(runs, binary)| (Some(runs), Some(binary)));
    let bootstrap = o.bootstrap.map(Path::to_path_buf).or(built);

    let lamina = bench_lamina(&o, bootstrap.as_deref(), &counts).await;
    let lamina = match lamina {
        Ok(runs) => runs,
        Err(e) => {
            delete_lamina_functions(o.endpoint).await;
            return Err(e);
        }
    };

    let (floor_addr, _floor) = start_floor().await?;
    let floor_url = invoke_url(&format!("http://{floor_addr}"), PROVIDED_NAME)?;
    let floor = warm_runs(&floor_url, &counts, o.duration, WARMUP).await?;
    println!("== floor: bare hyper echo at {floor_addr}");
    print_header();
    for run in &floor {
        print_row(&format!("echo, {} client(s)", run.clients), &run.samples, Some(run.rate()));
    }

    let lamina_url = match lamina {
        Some(_) => Some(invoke_url(o.endpoint, PROVIDED_NAME)?),
        None => None,
    };
    let boto3 = bench_boto3(lamina_url.as_ref(), &floor_url, o.duration).await;
    delete_lamina_functions(o.endpoint).await;
    boto3?;

    print_table(&o.clients, &floor, lamina.as_deref(), emulator_runs.as_deref());
    Ok(())
}
