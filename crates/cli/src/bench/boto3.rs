//! boto3-style requests: headers and body in two writes on one raw
//! connection, to show any Nagle / delayed-ACK stall.

use anyhow::{bail, Context};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::load::{micros, percentile, EVENT};

/// A boto3-style request slower than this is counted as a stall.
pub(super) const STALL: Duration = Duration::from_millis(30);

/// Sequential boto3-style invokes on one connection for `duration`.
/// `nodelay` false leaves Nagle on (the worst case: the body waits for the
/// ACK of the headers); botocore itself sets TCP_NODELAY.
pub(super) async fn boto3_style(url: &hyper::Uri, nodelay: bool, duration: Duration) -> anyhow::Result<Vec<Duration>> {
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

pub(super) async fn boto3_invoke(
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
pub(super) fn boto3_head(authority: &str, path: &str, body_len: usize) -> String {
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
pub(super) async fn read_response(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
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
pub(super) fn parse_response(buf: &[u8]) -> anyhow::Result<Option<(u16, usize)>> {
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

pub(super) fn print_boto3(target: &str, samples: &[Duration]) {
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

pub(super) async fn bench_boto3(
    lamina: Option<&hyper::Uri>,
    floor: &hyper::Uri,
    duration: Duration,
) -> anyhow::Result<()> {
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
