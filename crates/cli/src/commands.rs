//! The client subcommands.

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use hyper::Method;
use std::io::Write;
use std::path::Path;

use crate::client::call;

/// Zips a directory in memory, keeping executable bits (a `bootstrap` must stay executable).
fn zip_dir(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(dir)?.to_string_lossy().into_owned();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(meta.permissions().mode() & 0o777);
            zip.start_file(rel, options)?;
            zip.write_all(&std::fs::read(&path)?)?;
        }
    }
    zip.finish()?;
    Ok(out.into_inner())
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    endpoint: &str,
    name: &str,
    runtime: &str,
    handler: &str,
    code: &Path,
    memory: u32,
    timeout: u32,
    env: &[String],
) -> anyhow::Result<()> {
    let zip = if code.is_dir() {
        eprintln!("zipping {} ...", code.display());
        zip_dir(code)?
    } else {
        std::fs::read(code).with_context(|| format!("reading {}", code.display()))?
    };
    let mut vars = serde_json::Map::new();
    for kv in env {
        let Some((k, v)) = kv.split_once('=') else { bail!("--env wants KEY=VALUE, got {kv:?}") };
        vars.insert(k.to_string(), v.into());
    }
    let body = serde_json::json!({
        "FunctionName": name,
        "Runtime": runtime,
        "Handler": handler,
        "Role": "arn:aws:iam::000000000000:role/lamina",
        "MemorySize": memory,
        "Timeout": timeout,
        "Environment": {"Variables": vars},
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(&zip)},
    });
    let reply = call(endpoint, Method::POST, "/2015-03-31/functions", &[], Bytes::from(body.to_string())).await?;
    let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
    println!(
        "created {} ({} bytes of code, sha256 {})",
        v["FunctionArn"].as_str().unwrap_or(name),
        zip.len(),
        v["CodeSha256"].as_str().unwrap_or("?")
    );
    Ok(())
}

pub async fn invoke(
    endpoint: &str,
    name: &str,
    payload: &str,
    qualifier: Option<&str>,
    is_async: bool,
    log: bool,
) -> anyhow::Result<()> {
    let payload = match payload.strip_prefix('@') {
        Some(file) => std::fs::read(file).with_context(|| format!("reading {file}"))?,
        None => payload.as_bytes().to_vec(),
    };
    let mut path = format!("/2015-03-31/functions/{name}/invocations");
    if let Some(q) = qualifier {
        path.push_str(&format!("?Qualifier={q}"));
    }
    let mut headers = vec![("x-amz-invocation-type", if is_async { "Event" } else { "RequestResponse" })];
    if log {
        headers.push(("x-amz-log-type", "Tail"));
    }
    let reply = call(endpoint, Method::POST, &path, &headers, Bytes::from(payload)).await?;
    if is_async {
        let id = reply.headers.get("x-amzn-requestid").and_then(|v| v.to_str().ok()).unwrap_or("?");
        println!("queued (request id {id})");
        return Ok(());
    }
    if let Some(tail) = reply.headers.get("x-amz-log-result").and_then(|v| v.to_str().ok()) {
        let text = base64::engine::general_purpose::STANDARD.decode(tail).unwrap_or_default();
        eprint!("{}", String::from_utf8_lossy(&text));
    }
    std::io::stdout().write_all(&reply.body)?;
    println!();
    if reply.headers.contains_key("x-amz-function-error") {
        bail!("the function failed (status {})", reply.status.as_u16());
    }
    Ok(())
}

pub async fn list(endpoint: &str) -> anyhow::Result<()> {
    let mut marker: Option<String> = None;
    println!("{:<40} {:<16} {:>7} {:>7}  LAST MODIFIED", "NAME", "RUNTIME", "MEMORY", "TIMEOUT");
    loop {
        let path = match &marker {
            Some(m) => format!("/2015-03-31/functions/?Marker={m}"),
            None => "/2015-03-31/functions/".to_string(),
        };
        let reply = call(endpoint, Method::GET, &path, &[], Bytes::new()).await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
        for f in v["Functions"].as_array().into_iter().flatten() {
            println!(
                "{:<40} {:<16} {:>7} {:>7}  {}",
                f["FunctionName"].as_str().unwrap_or(""),
                f["Runtime"].as_str().unwrap_or(""),
                f["MemorySize"],
                f["Timeout"],
                f["LastModified"].as_str().unwrap_or("")
            );
        }
        match v["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_string()),
            None => return Ok(()),
        }
    }
}

pub async fn logs(endpoint: &str, name: &str, follow: bool) -> anyhow::Result<()> {
    let mut after = 0i64;
    loop {
        let reply =
            call(endpoint, Method::GET, &format!("/_lamina/logs/{name}?after={after}"), &[], Bytes::new()).await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
        let events = v["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            println!("{}", e["message"].as_str().unwrap_or(""));
            after = e["id"].as_i64().unwrap_or(after);
        }
        if events.is_empty() {
            if !follow {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

pub async fn delete(endpoint: &str, name: &str) -> anyhow::Result<()> {
    call(endpoint, Method::DELETE, &format!("/2015-03-31/functions/{name}"), &[], Bytes::new()).await?;
    println!("deleted {name}");
    Ok(())
}

pub async fn usage(endpoint: &str, since: Option<&str>, by: &str) -> anyhow::Result<()> {
    let mut path = format!("/_lamina/usage?by={by}");
    if let Some(since) = since {
        path.push_str(&format!("&since={since}"));
    }
    let reply = call(endpoint, Method::GET, &path, &[], Bytes::new()).await?;
    let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
    println!(
        "usage since {} (prices: ${}/GB-s, ${}/1M requests)",
        v["since"].as_str().unwrap_or("?"),
        v["prices"]["per_gb_second"],
        v["prices"]["per_million_requests"]
    );
    println!("{:<40} {:>10} {:>14} {:>12}", by.to_uppercase(), "REQUESTS", "GB-SECONDS", "COST USD");
    for item in v["items"].as_array().into_iter().flatten() {
        println!(
            "{:<40} {:>10} {:>14.6} {:>12.6}",
            item["key"].as_str().unwrap_or(""),
            item["requests"],
            item["gb_seconds"].as_f64().unwrap_or(0.0),
            item["cost_usd"].as_f64().unwrap_or(0.0)
        );
    }
    let t = &v["total"];
    println!(
        "{:<40} {:>10} {:>14.6} {:>12.6}",
        "TOTAL",
        t["requests"],
        t["gb_seconds"].as_f64().unwrap_or(0.0),
        t["cost_usd"].as_f64().unwrap_or(0.0)
    );
    Ok(())
}
