//! `lamina bench`: the load tool. Measures what a user sees end to end
//! over HTTP against a running server: warm invoke latency (p50/p99) and
//! throughput with N concurrent keep-alive clients, and cold-start latency
//! (first invoke of a fresh sandbox, forced by changing the function's
//! configuration), for a no-op Python function and a `provided` function
//! whose `bootstrap` you pass (e.g. the `lambda_runtime` echo fixture).

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::call;

pub struct Options<'a> {
    pub endpoint: &'a str,
    pub bootstrap: Option<&'a Path>,
    pub clients: Vec<usize>,
    pub duration: Duration,
    pub cold_starts: usize,
}

const PYTHON_NOOP: &str = "def handler(event, context):\n    return event\n";

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
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": 128, "Timeout": 10,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    call(endpoint, Method::POST, "/2015-03-31/functions", &[], Bytes::from(body.to_string())).await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn print_row(case: &str, mut samples: Vec<Duration>, elapsed: Option<Duration>) {
    samples.sort();
    let rate = elapsed.map_or(String::from("-"), |e| format!("{:.0}/s", samples.len() as f64 / e.as_secs_f64()));
    println!(
        "{case:<34} {:>7} {:>10.1} {:>10.1} {:>12}",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        rate
    );
}

/// Warm latency and throughput with `clients` concurrent connections.
async fn warm(endpoint: &str, name: &str, clients: usize, duration: Duration) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let url: hyper::Uri = format!("{endpoint}/2015-03-31/functions/{name}/invocations").parse()?;
    // Warm up one sandbox per client.
    let mut warmups = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        warmups.push(tokio::spawn(async move { one_client(url, Duration::from_millis(300)).await }));
    }
    for w in warmups {
        w.await??;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { one_client(url, duration).await }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all, started.elapsed()))
}

async fn one_client(url: hyper::Uri, duration: Duration) -> anyhow::Result<Vec<Duration>> {
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http::<Full<Bytes>>();
    let mut samples = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let req = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .body(Full::new(Bytes::from_static(b"{}")))?;
        let t = Instant::now();
        let resp = client.request(req).await.context("invoke")?;
        let status = resp.status();
        let failed = resp.headers().contains_key("x-amz-function-error");
        resp.into_body().collect().await?;
        if !status.is_success() || failed {
            bail!("invoke failed with status {status}");
        }
        samples.push(t.elapsed());
    }
    Ok(samples)
}

async fn cold(endpoint: &str, name: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
    let url: hyper::Uri = format!("{endpoint}/2015-03-31/functions/{name}/invocations").parse()?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut samples = Vec::new();
    for i in 0..count {
        // A configuration change retires the warm sandboxes: the next invoke is cold.
        let body = serde_json::json!({"Environment": {"Variables": {"BENCH_ROUND": i.to_string()}}});
        call(endpoint, Method::PUT, &format!("/2015-03-31/functions/{name}/configuration"), &[], Bytes::from(body.to_string()))
            .await?;
        let req = Request::builder().method(Method::POST).uri(url.clone()).body(Full::new(Bytes::from_static(b"{}")))?;
        let t = Instant::now();
        let resp = client.request(req).await?;
        let failed = resp.headers().contains_key("x-amz-function-error");
        resp.into_body().collect().await?;
        if failed {
            bail!("cold invoke of {name} failed");
        }
        samples.push(t.elapsed());
    }
    Ok(samples)
}

pub async fn run(o: Options<'_>) -> anyhow::Result<()> {
    let mut functions = vec![("python3.12", "bench-python-noop".to_string(), "app.handler", zip(&[("app.py", PYTHON_NOOP.as_bytes(), 0o644)])?)];
    if let Some(bootstrap) = o.bootstrap {
        let bytes = std::fs::read(bootstrap).with_context(|| format!("reading {}", bootstrap.display()))?;
        functions.insert(0, ("provided.al2023", "bench-provided-noop".to_string(), "bootstrap", zip(&[("bootstrap", &bytes, 0o755)])?));
    } else {
        eprintln!("(no --bootstrap given: skipping the provided function)");
    }
    for (runtime, name, handler, code) in &functions {
        create(o.endpoint, name, runtime, handler, code).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("{:<34} {:>7} {:>10} {:>10} {:>12}", "case", "n", "p50 µs", "p99 µs", "throughput");
    for (runtime, name, _, _) in &functions {
        let kind = if runtime.starts_with("python") { "python" } else { "provided" };
        for &c in &o.clients {
            let (samples, elapsed) = warm(o.endpoint, name, c, o.duration).await?;
            print_row(&format!("{kind} warm, {c} client(s)"), samples, Some(elapsed));
        }
        if o.cold_starts > 0 {
            print_row(&format!("{kind} cold start"), cold(o.endpoint, name, o.cold_starts).await?, None);
        }
    }
    for (_, name, _, _) in &functions {
        let _ = call(o.endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await;
    }
    Ok(())
}
