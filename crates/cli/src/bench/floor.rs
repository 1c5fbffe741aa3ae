//! The floor: a bare loopback HTTP echo, measured like Lamina.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

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
