//! The sharded data path (`lamina server --shards N`; by default one shard
//! per CPU, pinned): N threads, each with a single-threaded runtime and its
//! own SO_REUSEPORT socket on the API port, all serving the same router.
//!
//! Why: on a multi-threaded runtime one invocation wakes several tasks
//! (the client's connection, the sandbox's Runtime API connection, the
//! waiting handler), and each wake-up may land on another worker, costing
//! a cross-core wake-up (40–80 µs on a VM) where a same-thread hand-off
//! costs a poll. On a shard, the connection, the scheduler call and the
//! Runtime API of the shard's own sandboxes all run on one thread; the
//! scheduler prefers those sandboxes (see `lamina_core::shard`). Each
//! shard takes a seat in the scheduler's `Placement`, which spreads the
//! sandboxes of each version over the shards.
//!
//! With `--pin-shards`, shard i and its sandboxes run on CPU i, and a
//! classic BPF program on the port's reuseport group hands a new
//! connection to the shard on the CPU that received it, which for loopback
//! is the CPU the client ran on when it connected. Client, server and
//! runtime then take turns on one core: on a 2-vCPU VM that halves the
//! warm latency of a sequential client (see the README's benchmarks),
//! because every cross-core wake-up there costs an idle vCPU's exit and
//! re-entry.
//!
//! A shard serves only invocations itself (Invoke, streamed Invoke, API
//! Gateway routes and function URLs). Every other request (the control
//! API, whose handlers may do blocking store work or unpack a large zip,
//! the console, the other services) is handed to the main multi-threaded
//! runtime, so a slow one cannot stall the invocations and Runtime API
//! connections of the shard that accepted it. Startup and background work
//! (queues, schedules, log writing) stay there too.
//!
//! Shutdown: the main runtime's signal handler tells every shard to stop
//! accepting and finish its requests, then waits for the threads.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use lamina_scheduler::placement::Placement;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

use crate::StartError;

/// Serves `router` on `n` shard threads until `stop` turns true.
/// Each shard takes its seat in `placement`, which spreads new sandboxes over them.
pub async fn serve(
    router: Router,
    placement: Arc<Placement>,
    addr: SocketAddr,
    n: usize,
    pin: bool,
    stop: watch::Receiver<bool>,
) -> Result<(), StartError> {
    // Every shard's socket is bound here, in shard order: a reuseport group
    // numbers its sockets in the order they listen, and the steering
    // program answers with those numbers.
    let listeners = (0..n)
        .map(|_| crate::listen::bind(addr, true))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|source| StartError::Listen { addr, source })?;
    let cpus = if pin { shard_cpus(n) } else { Vec::new() };
    if let Some(first) = listeners.first().filter(|_| cpus.len() == n) {
        if let Err(e) = steer_by_cpu(first, &cpus) {
            tracing::warn!(error = %e, "could not steer connections to the shard on their CPU; the kernel spreads them by hash");
        }
    }
    let router = offload_all_but_invocations(router, tokio::runtime::Handle::current());
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<(), StartError>>(n);
    let mut threads = Vec::with_capacity(n);
    for (index, listener) in listeners.into_iter().enumerate() {
        let (router, stop, ready) = (router.clone(), stop.clone(), ready_tx.clone());
        let shard = Shard { index, cpu: cpus.get(index).copied(), placement: placement.clone() };
        let thread = std::thread::Builder::new()
            .name(format!("lamina-shard-{index}"))
            .spawn(move || run_shard(shard, listener, router, stop, ready))
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

/// Who one shard thread is.
struct Shard {
    index: usize,
    /// The CPU it is pinned to, if it is.
    cpu: Option<usize>,
    placement: Arc<Placement>,
}

fn run_shard(
    shard: Shard,
    listener: std::net::TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::mpsc::Sender<Result<(), StartError>>,
) {
    let index = shard.index;
    lamina_core::shard::enter(index);
    if let Some(cpu) = shard.cpu {
        pin_to_cpu(index, cpu);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.blocking_send(Err(StartError::Serve(e)));
            return;
        }
    };
    let _seat = shard.placement.seat(index, runtime.handle().clone(), shard.cpu);
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(StartError::Serve(e))).await;
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

/// `router` for a shard: invocations are served where they arrive,
/// anything else is run on `control` (the main runtime).
fn offload_all_but_invocations(router: Router, control: tokio::runtime::Handle) -> Router {
    router.layer(axum::middleware::from_fn_with_state(control, offload))
}

async fn offload(State(control): State<tokio::runtime::Handle>, req: Request, next: Next) -> Response {
    if is_invocation(&req) {
        return next.run(req).await;
    }
    match control.spawn(next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "a request handed to the main runtime did not finish");
            crate::error::ApiError::from(lamina_api::AwsError::service("the request was interrupted")).into_response()
        }
    }
}

/// The data path: Invoke (plain or streamed), and API Gateway and function
/// URL requests (by host, or path-style under `/_api/` and `/_url/`), which
/// invoke a function too.
fn is_invocation(req: &Request) -> bool {
    let path = req.uri().path();
    let invoke = req.method() == Method::POST
        && (path.starts_with("/2015-03-31/functions/") && path.ends_with("/invocations")
            || path.starts_with("/2021-11-15/functions/") && path.ends_with("/response-streaming-invocations"));
    invoke
        || path.starts_with("/_api/")
        || path.starts_with("/_url/")
        || crate::front_door::classify(req.headers()) == Some(crate::front_door::Service::Gateway)
}

/// Attaches to the reuseport group of `listener` a program that gives a new
/// connection to the shard pinned to the CPU it arrived on (`cpus[i]` is
/// shard i's), or leaves it to the kernel's hash if no shard runs there.
fn steer_by_cpu(listener: &std::net::TcpListener, cpus: &[usize]) -> std::io::Result<()> {
    use libc::{sock_filter, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let op = |code: u32, jt: u8, jf: u8, k: u32| sock_filter { code: code as u16, jt, jf, k };
    // A = the CPU; then, for each shard, "if A == its CPU, return its number".
    let mut program = vec![op(BPF_LD | BPF_W | BPF_ABS, 0, 0, (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32)];
    for (shard, &cpu) in cpus.iter().enumerate() {
        program.push(op(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, cpu as u32));
        program.push(op(BPF_RET | BPF_K, 0, 0, shard as u32));
    }
    // A number past the last socket: the kernel falls back to its hash.
    program.push(op(BPF_RET | BPF_K, 0, 0, u32::MAX));
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: `fprog` points at `program`, alive for the call; the kernel
    // copies the program and only reads `fprog`.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(listener),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::addr_of!(fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs `n` pinned shards run on: shard i on the i-th of the CPUs the
/// server may use, round robin; none if the mask cannot be read.
fn shard_cpus(n: usize) -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; the call only writes it.
    let allowed = unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Vec::new();
        }
        allowed
    };
    // SAFETY: CPU_ISSET only reads the set, within CPU_SETSIZE.
    let allowed: Vec<usize> =
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &allowed) }).collect();
    if allowed.is_empty() {
        return Vec::new();
    }
    (0..n).map(|i| allowed[i % allowed.len()]).collect()
}

/// Pins the calling thread to `cpu`; processes it forks inherit the mask.
fn pin_to_cpu(index: usize, cpu: usize) {
    // SAFETY: cpu_set_t is plain data; the calls only write it and set the
    // calling thread's own affinity.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) != 0 {
            tracing::warn!(shard = index, cpu, "could not pin the shard to a CPU");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    async fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_string()
    }

    #[test]
    fn a_shard_serves_invocations_itself_and_hands_the_rest_to_the_main_runtime() {
        let control =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("control").build().unwrap();
        let router = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(thread_name))
            .route("/2015-03-31/functions/{name}", get(thread_name))
            .route("/", get(thread_name))
            .route("/_url/{id}/{*rest}", get(thread_name));
        let router = offload_all_but_invocations(router, control.handle().clone());
        let answered_on = std::thread::Builder::new()
            .name("shard".into())
            .spawn(move || {
                let shard = tokio::runtime::Builder::new_current_thread().build().unwrap();
                shard.block_on(async move {
                    let mut names = Vec::new();
                    for (method, uri, host) in [
                        ("POST", "/2015-03-31/functions/f/invocations", "localhost"),
                        ("GET", "/2015-03-31/functions/f", "localhost"),
                        ("GET", "/", "abc123.lambda-url.us-east-1.localhost"),
                        ("GET", "/_url/abc123/any/path", "localhost"),
                    ] {
                        let req = Request::builder()
                            .method(method)
                            .uri(uri)
                            .header("host", host)
                            .body(Body::empty())
                            .unwrap();
                        let resp = router.clone().oneshot(req).await.unwrap();
                        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
                        names.push(String::from_utf8(body.to_vec()).unwrap());
                    }
                    names
                })
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(answered_on, ["shard", "control", "shard", "shard"]);
    }
}
