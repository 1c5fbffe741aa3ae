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
//! - **The HTTP gateway**: the same function directly, through an HTTP API
//!   route (on an API with a thousand routes) and through its function URL;
//!   reports each route's p50 over the direct Invoke.
//! - **The floor**: an in-process hyper server on `127.0.0.1:0` that answers
//!   every POST with its body, measured by the same client code and the same
//!   request shape. Nothing can be faster than this over loopback HTTP.
//!   The same server in a process of its own is the floor a separate client
//!   process sees (it pays the cross-core wake-ups Lamina pays too).
//! - **The Runtime API floor** (with a `provided` bootstrap; see [`relay`]):
//!   a process that only relays each Invoke to a runtime through `GET
//!   .../next` and back through `POST .../response`, with the same bootstrap
//!   run as plain processes. What the contract's three HTTP exchanges cost
//!   with no platform at all.
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

mod boto3;
mod emulator;
mod floor;
mod gateway;
mod lamina;
mod load;
mod overhead;
mod relay;
mod table;

use std::path::Path;
use std::time::Duration;

use boto3::bench_boto3;
use emulator::bench_cargo_lambda;
use floor::{start_floor, start_floor_process};
use lamina::{bench_lamina, delete_lamina_functions, PROVIDED_NAME};
use load::{client_counts, invoke_url, print_header, print_run, warm_runs, WARMUP};
use relay::start_relay_floor;
use table::print_table;

pub use floor::serve_echo_process as serve_echo;
pub use relay::serve_relay_process as serve_relay;

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
    /// Only compare warm throughput with telemetry off and on, on servers the bench starts.
    pub telemetry_overhead: bool,
    /// Arguments for those servers.
    pub server_args: Vec<String>,
}

pub async fn run(o: Options<'_>) -> anyhow::Result<()> {
    let counts = client_counts(&o.clients);
    if o.telemetry_overhead {
        return overhead::run(o.bootstrap, &counts, o.duration, &o.server_args).await;
    }

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
    let floor = warm_runs(&floor_url, &counts, o.duration, WARMUP, None).await?;
    println!("== floor: bare hyper echo at {floor_addr}");
    print_header();
    for run in &floor {
        print_run(&format!("echo, {} client(s)", run.clients), run);
    }
    {
        let (addr, process) = start_floor_process()?;
        let url = invoke_url(&format!("http://{addr}"), PROVIDED_NAME)?;
        for run in warm_runs(&url, &counts, o.duration, WARMUP, Some(process.pid())).await? {
            print_run(&format!("echo process, {} client(s)", run.clients), &run);
        }
    }
    let relay = match &bootstrap {
        Some(bootstrap) => {
            let floor = start_relay_floor(bootstrap, counts.iter().copied().max().unwrap_or(1))?;
            let url = invoke_url(&format!("http://{}", floor.addr), PROVIDED_NAME)?;
            let runs = warm_runs(&url, &counts, o.duration, WARMUP, Some(floor.pid())).await?;
            println!("== Runtime API floor: the same bootstrap behind a bare relay at {}", floor.addr);
            print_header();
            for run in &runs {
                print_run(&format!("relay, {} client(s)", run.clients), run);
            }
            Some(runs)
        }
        None => None,
    };

    let lamina_url = match lamina {
        Some(_) => Some(invoke_url(o.endpoint, PROVIDED_NAME)?),
        None => None,
    };
    let boto3 = bench_boto3(lamina_url.as_ref(), &floor_url, o.duration).await;
    delete_lamina_functions(o.endpoint).await;
    boto3?;

    print_table(&o.clients, &floor, relay.as_deref(), lamina.as_deref(), emulator_runs.as_deref());
    Ok(())
}
