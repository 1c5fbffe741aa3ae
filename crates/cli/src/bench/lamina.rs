//! The Lamina cases: warm, cold, burst of cold starts, and the HTTP
//! gateway's routing overhead over a direct Invoke.

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::gateway::bench_gateway;
use super::load::{invoke_once, invoke_url, print_header, print_row, print_run, warm_runs, Run, WARMUP};
use super::Options;
use crate::client::call;

/// MemorySize of the bench functions: Lambda's one full vCPU (CPU shares
/// follow memory, so a 128 MB function gets a fraction of a core under load).
pub(super) const BENCH_MEMORY_MIB: u32 = 1769;
/// MemorySize for the burst of cold starts.
const BURST_MEMORY_MIB: u32 = 128;
const PYTHON_NOOP: &str = "def handler(event, context):\n    return event\n";
pub(super) const PROVIDED_NAME: &str = "bench-provided-noop";

pub(super) fn zip(files: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
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

pub(super) async fn create(endpoint: &str, name: &str, runtime: &str, handler: &str, zip: &[u8]) -> anyhow::Result<()> {
    let _ = call(endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await;
    let body = serde_json::json!({
        "FunctionName": name, "Runtime": runtime, "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": BENCH_MEMORY_MIB, "Timeout": 10,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    call(endpoint, Method::POST, "/2015-03-31/functions", &[], Bytes::from(body.to_string())).await?;
    Ok(())
}

/// The server's process id, when it runs on this machine (its status names
/// it and that process is visible here): the warm runs then report its CPU.
async fn local_server_pid(endpoint: &str) -> Option<u32> {
    let host = endpoint.parse::<hyper::Uri>().ok()?.host()?.to_owned();
    let loopback = host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok()?.is_loopback();
    if !loopback {
        return None;
    }
    let status = call(endpoint, Method::GET, "/_lamina/status", &[], Bytes::new()).await.ok()?;
    let pid = serde_json::from_slice::<serde_json::Value>(&status.body).ok()?.get("pid")?.as_u64()?;
    let pid = u32::try_from(pid).ok()?;
    std::path::Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// A configuration change retires the warm sandboxes: the next invoke is cold.
pub(super) async fn retire_sandboxes(endpoint: &str, name: &str, round: &str) -> anyhow::Result<()> {
    configure(endpoint, name, serde_json::json!({"Environment": {"Variables": {"BENCH_ROUND": round}}})).await
}

async fn configure(endpoint: &str, name: &str, body: serde_json::Value) -> anyhow::Result<()> {
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

pub(super) async fn cold(endpoint: &str, name: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
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
pub(super) struct Burst {
    samples: Vec<Duration>,
    errors: usize,
    sandboxes: u64,
    elapsed: Duration,
}

/// `n` concurrent invocations, each on its own connection, right after the
/// warm sandboxes were retired: every one must succeed. Counts the
/// sandboxes started (from `/metrics`) per second of the burst.
pub(super) async fn burst(endpoint: &str, name: &str, n: usize) -> anyhow::Result<Burst> {
    // Lambda's smallest size, so that the host's memory capacity (the sum of
    // MemorySize) is not what limits the burst: this measures sandbox starts.
    let small =
        serde_json::json!({"MemorySize": BURST_MEMORY_MIB, "Environment": {"Variables": {"BENCH_ROUND": "burst"}}});
    configure(endpoint, name, small).await?;
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
pub(super) async fn cold_starts(endpoint: &str, name: &str) -> anyhow::Result<u64> {
    let reply = call(endpoint, Method::GET, "/metrics", &[], Bytes::new()).await?;
    let text = String::from_utf8_lossy(&reply.body);
    let series = format!("lamina_cold_starts_total{{function=\"{name}\",version=\"$LATEST\"}} ");
    Ok(text.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

/// A function Lamina runs: (runtime, name, handler, zip).
pub(super) type Function = (&'static str, &'static str, &'static str, Vec<u8>);

pub(super) fn lamina_functions(bootstrap: Option<&Path>) -> anyhow::Result<Vec<Function>> {
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
pub(super) async fn bench_lamina(
    o: &Options<'_>,
    bootstrap: Option<&Path>,
    counts: &[usize],
) -> anyhow::Result<Option<Vec<Run>>> {
    let functions = lamina_functions(bootstrap)?;
    for (runtime, name, handler, code) in &functions {
        create(o.endpoint, name, runtime, handler, code).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = local_server_pid(o.endpoint).await;
    println!("== Lamina at {}", o.endpoint);
    print_header();
    let mut provided = None;
    for (runtime, name, _, _) in &functions {
        let kind = if runtime.starts_with("python") { "python" } else { "provided" };
        let runs = warm_runs(&invoke_url(o.endpoint, name)?, counts, o.duration, WARMUP, server).await?;
        for run in &runs {
            print_run(&format!("{kind} warm, {} client(s)", run.clients), run);
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
    // The fastest function shows the routing cost best.
    let (_, fastest, _, _) = &functions[0];
    bench_gateway(o.endpoint, fastest, o.duration).await?;
    Ok(provided)
}

pub(super) async fn delete_lamina_functions(endpoint: &str) {
    for name in ["bench-python-noop", PROVIDED_NAME] {
        let _ = call(endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await;
    }
}
