//! `lamina`: the server, and a small client for the everyday loop
//! (create, invoke, list, logs) that needs no AWS CLI.
//!
//! `lamina server` runs everything in this process with embedded defaults;
//! every other subcommand talks to a running server over HTTP at
//! `--endpoint` (or `LAMINA_ENDPOINT`), using the same Lambda API that
//! boto3 and the AWS CLI use.

mod bench;
mod client;
mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "lamina",
    version,
    about = "Lamina: the serverless platform you run yourself",
    long_about = "Lamina runs AWS Lambda functions on your own machine: upload a function, invoke it, read its \
logs. It speaks Lambda's own API, so boto3 and the AWS CLI work with --endpoint-url http://127.0.0.1:9000.\n\n\
Start a server with `lamina server`, then use the other subcommands (or any AWS client) against it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum UsageBy {
    Function,
    Day,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum Isolation {
    /// New user, mount, PID, IPC and UTS namespaces plus cgroups.
    Namespaces,
    /// Plain processes with cgroups only (weaker; for hosts without namespaces).
    Process,
}

#[derive(clap::Args)]
struct Endpoint {
    /// URL of the Lamina server to talk to.
    #[arg(long, env = "LAMINA_ENDPOINT", default_value = "http://127.0.0.1:9000", global = true)]
    endpoint: String,
}

/// Observability switches of `lamina server`.
#[derive(clap::Args)]
struct TelemetryArgs {
    /// Export a span tree per invocation to this OTLP/HTTP collector (e.g. http://127.0.0.1:4318;
    /// `/v1/traces` is appended). Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then
    /// OTEL_EXPORTER_OTLP_ENDPOINT; without any, no spans are exported.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// All observability at once: function logs, metrics and traces (off: to measure what they cost).
    #[arg(long, value_enum, default_value = "on")]
    telemetry: Switch,
    /// Do not store function output and START/END/REPORT lines (billing is still recorded).
    #[arg(long)]
    no_function_logs: bool,
    /// Do not keep Prometheus metrics or the console's series.
    #[arg(long)]
    no_metrics: bool,
    /// Do not export traces even when an OTLP endpoint is configured.
    #[arg(long)]
    no_traces: bool,
}

impl TelemetryArgs {
    fn resolve(self) -> anyhow::Result<lamina_core::config::Telemetry> {
        let on = self.telemetry == Switch::On;
        let otlp_endpoint = lamina_trace::resolve_endpoint(self.otlp_endpoint.as_deref());
        if let Some(url) = &otlp_endpoint {
            lamina_trace::check_endpoint(url)?;
        }
        Ok(lamina_core::config::Telemetry {
            function_logs: on && !self.no_function_logs,
            metrics: on && !self.no_metrics,
            traces: on && !self.no_traces,
            otlp_endpoint,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the Lamina server (all services on one port).
    Server {
        /// Address to listen on.
        #[arg(long, default_value = lamina_core::config::DEFAULT_LISTEN, env = "LAMINA_LISTEN")]
        listen: std::net::SocketAddr,
        /// Directory for the database, code and logs (created if missing).
        #[arg(long, default_value = lamina_core::config::DEFAULT_DATA_DIR, env = "LAMINA_DATA_DIR")]
        data_dir: PathBuf,
        /// Region used in ARNs and given to functions as AWS_REGION.
        #[arg(long, default_value = lamina_core::config::DEFAULT_REGION)]
        region: String,
        /// Account id used in ARNs.
        #[arg(long, default_value = lamina_core::config::DEFAULT_ACCOUNT_ID)]
        account_id: String,
        /// Seconds an idle warm sandbox is kept before it is stopped.
        #[arg(long, default_value_t = lamina_core::config::DEFAULT_KEEP_ALIVE_SECS)]
        keep_alive_secs: u64,
        /// Maximum concurrent executions across all functions.
        #[arg(long, default_value_t = lamina_core::config::DEFAULT_ACCOUNT_CONCURRENCY)]
        concurrency: u32,
        /// Seconds before the first retry of a failed async invocation (the second waits twice as long).
        #[arg(long, default_value_t = lamina_core::config::DEFAULT_ASYNC_RETRY_DELAY_SECS)]
        async_retry_delay_secs: u64,
        /// Memory in MiB that all sandboxes together may use (sum of MemorySize); default: 3/4 of the host's.
        #[arg(long)]
        capacity_mib: Option<u64>,
        /// Price per GB-second for `lamina usage` estimates (USD; default Lambda's x86 list price).
        #[arg(long, default_value_t = lamina_core::config::Prices::default().per_gb_second)]
        price_gb_second: f64,
        /// Price per million requests for `lamina usage` estimates (USD).
        #[arg(long, default_value_t = lamina_core::config::Prices::default().per_million_requests)]
        price_million_requests: f64,
        /// How sandboxes are isolated.
        #[arg(long, value_enum, default_value = "namespaces")]
        isolation: Isolation,
        /// Threads serving invocations (Invoke, API Gateway routes, function URLs), each with its
        /// own listening socket and runtime, so an invocation is handled on one core; every other
        /// request is handed to the shared runtime [default: one per CPU the server may use, or 0
        /// with only one] (0: the shared multi-threaded runtime serves everything).
        #[arg(long, env = "LAMINA_SHARDS")]
        shards: Option<usize>,
        /// Pin shard i, and the sandboxes of up to 1,769 MB it serves, to CPU i, and give each new
        /// connection to the shard on the CPU it arrived from (`--pin-shards false` lets the kernel
        /// place them).
        #[arg(long, env = "LAMINA_PIN_SHARDS", default_value_t = true, num_args = 0..=1,
              default_missing_value = "true", action = clap::ArgAction::Set)]
        pin_shards: bool,
        /// Format of Lamina's own log (levels from RUST_LOG, default info).
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        #[command(flatten)]
        telemetry: TelemetryArgs,
    },
    /// Create a function from a directory (zipped for you) or a zip file.
    Create {
        name: String,
        /// Runtime, e.g. python3.12, nodejs20.x, provided.al2023.
        #[arg(long)]
        runtime: String,
        /// Handler, e.g. app.handler (not needed for provided runtimes).
        #[arg(long, default_value = "")]
        handler: String,
        /// A directory or a .zip file with the function's code.
        #[arg(long)]
        code: PathBuf,
        /// Memory in MB (128-10240).
        #[arg(long, default_value_t = 128)]
        memory: u32,
        /// Timeout in seconds (1-900).
        #[arg(long, default_value_t = 3)]
        timeout: u32,
        /// Environment variable KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Invoke a function and print its response.
    Invoke {
        name: String,
        /// Event as JSON, or @FILE to read it from a file.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Version or alias to invoke.
        #[arg(long)]
        qualifier: Option<String>,
        /// Queue the event and return at once (InvocationType Event).
        #[arg(long = "async")]
        is_async: bool,
        /// Also print the end of the invocation's log to stderr.
        #[arg(long)]
        log: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List functions.
    List {
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Show a function's log (START/END/REPORT lines and its output).
    Logs {
        name: String,
        /// Keep printing new lines as they arrive.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Measure invoke latency, throughput and cold starts against a running server.
    Bench {
        /// A `provided` runtime bootstrap binary to bench (e.g. a `lambda_runtime` echo function).
        #[arg(long)]
        bootstrap: Option<PathBuf>,
        /// Also bench the same Rust function under cargo-lambda's emulator:
        /// the cargo project DIR is served by `cargo lambda watch` (needs
        /// `cargo-lambda` on PATH or in ./.venv). Without --bootstrap, Lamina
        /// runs the binary the emulator built.
        #[arg(long, value_name = "DIR")]
        compare_cargo_lambda: Option<PathBuf>,
        /// Concurrent clients, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        clients: Vec<usize>,
        /// Seconds of load per warm case.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Cold starts to measure per function.
        #[arg(long, default_value_t = 20)]
        cold_starts: usize,
        /// Concurrent cold starts in the burst case (0 skips it).
        #[arg(long, default_value_t = 200)]
        burst: usize,
        /// Instead of the cases above: start two servers (telemetry off, and on with traces exported
        /// to an in-process OTLP sink) and compare their warm throughput.
        #[arg(long)]
        telemetry_overhead: bool,
        /// An argument for the servers --telemetry-overhead starts (repeatable), e.g. --server-arg=--isolation=process.
        #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
        server_args: Vec<String>,
        /// Internal: serve the bench's HTTP echo floor in this process, print its address, run until killed.
        #[arg(long, hide = true)]
        serve_echo: bool,
        /// Internal: serve the bench's Runtime API relay floor in this process, print its address, run until killed.
        #[arg(long, hide = true)]
        serve_relay: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Show billed usage (GB-seconds, requests) with a cost estimate at Lambda's list prices.
    Usage {
        /// First day to count, YYYY-MM-DD (default: 30 days ago).
        #[arg(long)]
        since: Option<String>,
        /// Group by function or by day.
        #[arg(long, value_enum, default_value = "function")]
        by: UsageBy,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Delete a function.
    Delete {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lamina: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    // Tasks still running (a server's in-flight invocations) are dropped
    // here, and with them their sandboxes; then wait for those to be gone.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    lamina_server::finish_cleanup();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lamina: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server {
            listen,
            data_dir,
            region,
            account_id,
            keep_alive_secs,
            concurrency,
            async_retry_delay_secs,
            capacity_mib,
            price_gb_second,
            price_million_requests,
            isolation,
            shards,
            pin_shards,
            log_format,
            telemetry,
        } => {
            init_tracing(log_format);
            raise_open_file_limit();
            let mut config = lamina_core::Config::new(listen, data_dir);
            config.region = region;
            config.account_id = account_id;
            config.keep_alive = std::time::Duration::from_secs(keep_alive_secs);
            config.account_concurrency = concurrency;
            config.async_retry_delay = std::time::Duration::from_secs(async_retry_delay_secs);
            config.prices = lamina_core::config::Prices {
                per_gb_second: price_gb_second,
                per_million_requests: price_million_requests,
            };
            if let Some(mib) = capacity_mib {
                config.capacity_mib = mib;
            }
            config.telemetry = telemetry.resolve()?;
            config.shards = shards.unwrap_or_else(lamina_core::config::default_shards);
            config.pin_shards = pin_shards;
            config.isolation = match isolation {
                Isolation::Namespaces => lamina_core::config::IsolationMode::Namespaces,
                Isolation::Process => lamina_core::config::IsolationMode::Process,
            };
            lamina_server::serve(config).await?;
            Ok(())
        }
        Command::Create { name, runtime, handler, code, memory, timeout, env, endpoint } => {
            commands::create(&endpoint.endpoint, &name, &runtime, &handler, &code, memory, timeout, &env).await
        }
        Command::Invoke { name, payload, qualifier, is_async, log, endpoint } => {
            commands::invoke(&endpoint.endpoint, &name, &payload, qualifier.as_deref(), is_async, log).await
        }
        Command::List { endpoint } => commands::list(&endpoint.endpoint).await,
        Command::Logs { name, follow, endpoint } => commands::logs(&endpoint.endpoint, &name, follow).await,
        Command::Bench { serve_echo: true, .. } => bench::serve_echo().await,
        Command::Bench { serve_relay: true, .. } => bench::serve_relay().await,
        Command::Bench {
            bootstrap,
            compare_cargo_lambda,
            clients,
            seconds,
            cold_starts,
            burst,
            telemetry_overhead,
            server_args,
            serve_echo: false,
            serve_relay: false,
            endpoint,
        } => {
            bench::run(bench::Options {
                endpoint: &endpoint.endpoint,
                bootstrap: bootstrap.as_deref(),
                compare_cargo_lambda: compare_cargo_lambda.as_deref(),
                clients,
                duration: std::time::Duration::from_secs_f64(seconds),
                cold_starts,
                burst,
                telemetry_overhead,
                server_args,
            })
            .await
        }
        Command::Usage { since, by, endpoint } => {
            let by = match by {
                UsageBy::Function => "function",
                UsageBy::Day => "day",
            };
            commands::usage(&endpoint.endpoint, since.as_deref(), by).await
        }
        Command::Delete { name, endpoint } => commands::delete(&endpoint.endpoint, &name).await,
    }
}

/// Every sandbox costs the server a few descriptors (its Runtime API
/// socket and connections, output pipe, process handle): lift the soft
/// limit to the hard one, as servers do.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
