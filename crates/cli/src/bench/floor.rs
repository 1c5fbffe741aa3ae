//! The floor: a bare loopback HTTP echo, measured like Lamina; in the
//! bench's own process (client and server tasks can share a thread: the
//! lowest any loopback HTTP can go) and in a process of its own (what a
//! separate client process sees, cross-core wake-ups included, as with
//! Lamina).

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Starts an in-process HTTP/1.1 server on 127.0.0.1:0 that answers every
/// request with its body. Dropping the handle stops accepting.
pub(super) async fn start_floor() -> anyhow::Result<(SocketAddr, AbortOnDrop)> {
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

/// `lamina bench --serve-echo`: the floor server as a process of its own.
/// Prints its address on the first line of stdout, then serves until killed.
pub async fn serve_echo_process() -> anyhow::Result<()> {
    let (addr, mut floor) = start_floor().await?;
    println!("{addr}");
    let _ = (&mut floor.0).await;
    Ok(())
}

/// Starts `lamina bench --serve-echo` and returns its address; the process
/// is killed when the guard drops.
pub(super) fn start_floor_process() -> anyhow::Result<(SocketAddr, KillOnDrop)> {
    start_helper("--serve-echo", "the echo floor")
}

/// Starts `lamina bench FLAG`, a helper server that prints its address on
/// its first line, and returns that address; the process is killed when the
/// guard drops.
pub(super) fn start_helper(flag: &str, what: &str) -> anyhow::Result<(SocketAddr, KillOnDrop)> {
    let mut child = Command::new(std::env::current_exe().context("finding the lamina binary")?)
        .args(["bench", flag])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let stdout = child.stdout.take().with_context(|| format!("{what}'s stdout"))?;
    let guard = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).with_context(|| format!("reading {what}'s address"))?;
    let addr = line.trim().parse().with_context(|| format!("{what} printed {line:?}, not an address"))?;
    Ok((addr, guard))
}

pub(super) struct KillOnDrop(pub(super) Child);

impl KillOnDrop {
    pub(super) fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) async fn serve_echo(tcp: tokio::net::TcpStream) {
    let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
        let body = req.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Response::new(Full::new(body)))
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
}

pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
