//! The sharded data path (`lamina server --shards N`): N threads, each
//! with a single-threaded runtime and its own SO_REUSEPORT socket on the
//! API port, all serving the same router.
//!
//! Why: on a multi-threaded runtime one invocation wakes several tasks
//! (the client's connection, the sandbox's Runtime API connection, the
//! waiting handler), and each wake-up may land on another worker, costing
//! a cross-core wake-up (40–80 µs on a VM) where a same-thread hand-off
//! costs a poll. On a shard, the connection, the scheduler call and the
//! Runtime API of the sandboxes the shard started all run on one thread;
//! the scheduler prefers those sandboxes (see `lamina_core::shard`).
//!
//! Startup and background work (queues, schedules, log writing) stay on
//! the main multi-threaded runtime. Shutdown: the main runtime's signal
//! handler tells every shard to stop accepting and finish its requests,
//! then waits for the threads.

use axum::serve::ListenerExt;
use axum::Router;
use std::net::SocketAddr;
use tokio::sync::watch;

use crate::StartError;

/// Serves `router` on `n` shard threads until `stop` turns true.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    n: usize,
    pin: bool,
    stop: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<(), StartError>>(n);
    let mut threads = Vec::with_capacity(n);
    for index in 0..n {
        let (router, stop, ready) = (router.clone(), stop.clone(), ready_tx.clone());
        let thread = std::thread::Builder::new()
            .name(format!("lamina-shard-{index}"))
            .spawn(move || run_shard(index, pin, addr, router, stop, ready))
            .map_err(StartError::Serve)?;
        threads.push(thread);
    }
    drop(ready_tx);
    for _ in 0..n {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    tracing::info!(%addr, shards = n, pinned = pin, "lamina is ready");
    let joined = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    });
    let _ = joined.await;
    Ok(())
}

fn run_shard(
    index: usize,
    pin: bool,
    addr: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<Result<(), StartError>>,
) {
    lamina_core::shard::enter(index);
    if pin {
        pin_to_cpu(index);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.blocking_send(Err(StartError::Serve(e)));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match bind_reuseport(addr) {
            Ok(l) => l,
            Err(source) => {
                let _ = ready.send(Err(StartError::Listen { addr, source })).await;
                return;
            }
        };
        let _ = ready.send(Ok(())).await;
        drop(ready);
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(shard = index, error = %e, "shard stopped serving");
        }
    });
}

/// A listener that shares `addr` with the other shards' (SO_REUSEPORT):
/// the kernel spreads new connections over them.
fn bind_reuseport(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Pins the calling thread to one CPU (of those it may use); processes it
/// forks inherit the mask.
fn pin_to_cpu(index: usize) {
    // SAFETY: cpu_set_t is plain data; the calls only read and write it and
    // set the calling thread's own affinity.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &allowed)).collect();
        if cpus.is_empty() {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[index % cpus.len()], &mut one);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) != 0 {
            tracing::warn!(shard = index, "could not pin the shard to a CPU");
        }
    }
}
