//! Lamina's front door: one HTTP port for every service.
//!
//! [`serve`] opens the data directory, starts the scheduler and the async
//! queue, and serves [`router`]: the Lambda control API and Invoke
//! ([`functions`], [`aliases`], [`invoke`], [`misc`]), plus Lamina's own
//! endpoints under `/_lamina` (health, code downloads, logs). Handlers are
//! thin: they decode a request, call the store or the scheduler, and encode
//! the answer; every failure leaves through [`error::ApiError`].

mod aliases;
mod concurrency;
pub mod error;
mod event_invoke;
mod event_stream;
mod front_door;
mod functions;
mod invoke;
mod listen;
mod misc;
mod shards;
mod stream_invoke;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use lamina_core::Config;
use lamina_scheduler::Scheduler;
use lamina_store::{Blobs, SqliteStore, Store};
use std::sync::Arc;

/// Call after the runtime [`serve`] ran on is shut down (see
/// [`lamina_scheduler::finish_cleanup`]).
pub use lamina_scheduler::finish_cleanup;

/// Largest request body read at all (a 50 MB zip, base64-encoded, in JSON).
const MAX_BODY_BYTES: usize = 70 * 1024 * 1024;

/// What every handler shares.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub blobs: Blobs,
    pub scheduler: Arc<Scheduler>,
    /// Serialises control-plane writes so read-modify-write of a function
    /// record never interleaves.
    pub writes: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use data directory {path}: {source}")]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] lamina_store::StoreError),
    #[error("cannot open the blob store: {0}")]
    Blobs(#[from] lamina_store::BlobError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Host(String),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

impl App {
    /// Opens the data directory and starts the scheduler.
    pub fn open(config: Config) -> Result<Arc<Self>, StartError> {
        lamina_scheduler::check_host(config.isolation).map_err(StartError::Host)?;
        let dir = &config.data_dir;
        let io = |source| StartError::DataDir { path: dir.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("lamina.sqlite"))?);
        let blobs = Blobs::open(dir)?;
        blobs.clean_temp();
        let runtime_dir = dir.join("runtime");
        lamina_runtime::clients::install(&runtime_dir).map_err(io)?;
        let scheduler = Scheduler::start(config.clone(), store.clone(), blobs.clone(), runtime_dir);
        lamina_scheduler::async_queue::start(scheduler.clone(), config.async_retry_delay);
        match lamina_queue::Service::for_scheduler(&scheduler) {
            Ok(queues) => {
                let _ = scheduler.dead_letter_sink.set(Arc::new(lamina_queue::DeadLetters(queues.engine.clone())));
            }
            Err(e) => {
                tracing::error!(error = %e, "queue service unavailable: dead-letter queues will not receive events")
            }
        }
        Ok(Arc::new(Self { config, store, blobs, scheduler, writes: tokio::sync::Mutex::new(()) }))
    }
}

/// Every route Lamina serves.
pub fn router(app: Arc<App>) -> Router {
    let lambda = Router::new()
        .route("/2015-03-31/functions", post(functions::create).get(functions::list))
        .route("/2015-03-31/functions/", post(functions::create).get(functions::list))
        .route("/2015-03-31/functions/{name}", get(functions::get).delete(functions::delete))
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route("/2015-03-31/functions/{name}/code", axum::routing::put(functions::update_code))
        .route("/2015-03-31/functions/{name}/versions", post(functions::publish).get(functions::list_versions))
        .route("/2015-03-31/functions/{name}/aliases", post(aliases::create).get(aliases::list))
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(aliases::get).put(aliases::update).delete(aliases::delete),
        )
        .route("/2015-03-31/functions/{name}/invocations", post(invoke::invoke))
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(stream_invoke::invoke_with_response_stream),
        )
        .route("/2014-11-13/functions/{name}/invoke-async", post(invoke::invoke_async))
        .route("/2014-11-13/functions/{name}/invoke-async/", post(invoke::invoke_async))
        .route("/2016-08-19/account-settings", get(misc::account_settings))
        .route("/2016-08-19/account-settings/", get(misc::account_settings))
        .route("/2017-03-31/tags/{arn}", get(misc::list_tags).post(misc::tag).delete(misc::untag))
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put_reserved).delete(concurrency::delete_reserved),
        )
        .route("/2019-09-30/functions/{name}/concurrency", get(concurrency::get_reserved))
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(concurrency::get_provisioned).put(concurrency::put_provisioned).delete(concurrency::delete_provisioned),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(event_invoke::get).put(event_invoke::put).post(event_invoke::update).delete(event_invoke::delete),
        )
        .route("/2019-09-25/functions/{name}/event-invoke-config/list", get(event_invoke::list));
    let lamina = Router::new()
        .route("/_lamina/health", get(misc::health))
        .route("/_lamina/status", get(misc::status))
        .route("/_lamina/usage", get(misc::usage))
        .route("/_lamina/series", get(misc::series))
        .route("/metrics", get(misc::metrics))
        .route("/_lamina/code/{sha}", get(misc::code))
        .route("/_lamina/logs/{name}", get(misc::logs));
    let services = Arc::new(front_door::Services {
        logs: lamina_observe::router(app.scheduler.clone()),
        sqs: lamina_queue::router(app.scheduler.clone()),
        sns: lamina_topic::router(app.scheduler.clone()),
        monitoring: lamina_monitor::router(app.scheduler.clone()),
        gateway: lamina_gateway::host_router(app.scheduler.clone()),
        s3: lamina_object::router(app.scheduler.clone()),
    });
    // Services with paths of their own, merged by path.
    let gateway = lamina_gateway::router(app.scheduler.clone());
    let mappings = lamina_queue::event_source_mappings_router(app.scheduler.clone());
    let schedules = lamina_schedule::router(app.scheduler.clone());
    let topic_links = lamina_topic::confirmation_router(app.scheduler.clone());
    lambda
        .merge(lamina)
        .with_state(app)
        .merge(gateway)
        .merge(mappings)
        .merge(schedules)
        .merge(topic_links)
        .merge(lamina_console::router())
        .fallback(misc::unknown)
        .method_not_allowed_fallback(misc::unknown)
        .layer(axum::middleware::from_fn_with_state(services, front_door::dispatch))
        .layer(axum::middleware::map_response(error::with_request_id))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Serves until ctrl-c or SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let addr = config.listen;
    if config.shards > 0 {
        return serve_sharded(config).await;
    }
    let listener = listen::bind(addr, false)
        .and_then(tokio::net::TcpListener::from_std)
        .map_err(|source| StartError::Listen { addr, source })?;
    let app = App::open(config)?;
    let scheduler = app.scheduler.clone();
    tracing::info!(%addr, data_dir = %app.config.data_dir.display(), "lamina is ready");
    // No Nagle: a client that writes headers and body separately must not
    // wait out a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(app).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartError::Serve)?;
    stop_services(&scheduler);
    Ok(())
}

/// [`serve`] with the data path on `config.shards` threads ([`shards`]).
async fn serve_sharded(config: Config) -> Result<(), StartError> {
    let (addr, n, pin) = (config.listen, config.shards, config.pin_shards);
    let app = App::open(config)?;
    let scheduler = app.scheduler.clone();
    tracing::info!(data_dir = %app.config.data_dir.display(), "data directory open");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Says "lamina is ready" once every shard listens.
    let served = shards::serve(router(app), scheduler.placement().clone(), addr, n, pin, stop_rx);
    tokio::pin!(served);
    tokio::select! {
        r = &mut served => r?,
        _ = shutdown_signal() => {
            stop_tx.send_replace(true);
            served.await?;
        }
    }
    stop_services(&scheduler);
    Ok(())
}

/// Stops what runs beside the HTTP server once it has finished serving.
fn stop_services(scheduler: &Arc<Scheduler>) {
    lamina_monitor::shutdown(scheduler);
    scheduler.shutdown();
    tracing::info!("lamina stopped");
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return ctrl_c.await.unwrap_or(()),
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
