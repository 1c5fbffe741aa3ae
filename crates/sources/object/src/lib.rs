//! An object store compatible with S3 (botocore's `s3` model, rest-xml),
//! with bucket notifications to functions, queues and topics.
//!
//! - [`router`] serves every S3 request the front door recognises (SigV4
//!   scope `s3`, presigned `X-Amz-Credential=.../s3/...`, or a
//!   `{bucket}.s3[.{region}].localhost` host; [`presigned`] refuses expired
//!   URLs). [`request`] works out the
//!   bucket, key and sub-resource; [`api`] picks the operation, which lives
//!   in [`buckets`], [`objects`], [`multipart`] or [`tagging`] (copies read
//!   their source through [`copy_source`]); failures leave through
//!   [`error::S3Error`] as S3's XML error.
//! - Bytes live in immutable files under `<data_dir>/objects/data`
//!   ([`files`]: streamed in and out, never whole in memory, fsynced and
//!   renamed into place); metadata in `<data_dir>/objects.sqlite`
//!   ([`store`]), committed only after the file is in place.
//! - [`notify`] holds notification configurations and S3's event records;
//!   [`deliver`] sends them: functions through the scheduler's durable async
//!   queue, queues through the SQS engine, topics through the SNS service.
//! - Pure parts with their own unit tests: [`names`], [`range`],
//!   [`listing`], [`xml`], [`chunked`], [`checksum`].

pub mod api;
pub mod buckets;
pub mod checksum;
pub mod chunked;
pub mod copy_source;
pub mod deliver;
pub mod error;
pub mod files;
pub mod listing;
pub mod multipart;
pub mod names;
pub mod notify;
pub mod objects;
pub mod presigned;
pub mod range;
pub mod request;
pub mod store;
pub mod tagging;
pub mod xml;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use axum::Router;
use lamina_scheduler::services::PerScheduler;
use lamina_scheduler::Scheduler;
use std::sync::Arc;

use deliver::Notifier;
use error::{S3Error, S3Result};
use files::Files;
use store::Store;

/// The object store of one server.
pub struct Service {
    pub store: Arc<Store>,
    pub files: Files,
    pub notifier: Notifier,
    pub region: String,
    pub account_id: String,
}

/// Open services, one per scheduler.
static SERVICES: PerScheduler<Service> = PerScheduler::new();

impl Service {
    /// Opens `<data_dir>/objects.sqlite` and `<data_dir>/objects/`, and
    /// removes files an interrupted write left behind.
    pub fn open(scheduler: &Arc<Scheduler>) -> S3Result<Arc<Self>> {
        let config = scheduler.config();
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Arc::new(Store::open(&config.data_dir.join("objects.sqlite"))?);
        let files = Files::open(&config.data_dir)?;
        files.sweep(&store.referenced_files()?);
        let notifier = Notifier::load(scheduler, &store)?;
        tracing::info!(buckets = store.buckets()?.len(), "object store ready");
        Ok(Arc::new(Self {
            store,
            files,
            notifier,
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        }))
    }

    /// The service for this scheduler, opening it on first use.
    pub fn for_scheduler(scheduler: &Arc<Scheduler>) -> S3Result<Arc<Self>> {
        SERVICES.get_or_open(scheduler, || Self::open(scheduler))
    }

    /// Runs a store call on the blocking pool.
    pub async fn db<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> S3Result<T> + Send + 'static) -> S3Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| S3Error::Internal(format!("store task: {e}")))?
    }

    /// Runs file work on the blocking pool.
    pub async fn fs<T: Send + 'static>(&self, f: impl FnOnce(&Files) -> S3Result<T> + Send + 'static) -> S3Result<T> {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || f(&files))
            .await
            .map_err(|e| S3Error::Internal(format!("file task: {e}")))?
    }

    /// The bucket, or `NoSuchBucket`.
    pub async fn bucket(&self, name: &str) -> S3Result<store::Bucket> {
        let n = name.to_string();
        self.db(move |s| s.bucket(&n)).await?.ok_or_else(|| S3Error::NoSuchBucket { bucket: name.to_string() })
    }
}

/// This service's routes. Object bodies stream to disk, so the server's
/// body limit does not apply here (each upload has S3's own 5 GiB limit).
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    match Service::for_scheduler(&scheduler) {
        Ok(svc) => Router::new().fallback(handle).with_state(svc).layer(DefaultBodyLimit::disable()),
        Err(e) => {
            tracing::error!(error = %e, "the object store cannot open its data; S3 requests will fail");
            Router::new().fallback(move || {
                let e = e.clone();
                async move { e.response(&lamina_scheduler::new_request_id(), false) }
            })
        }
    }
}

async fn handle(State(svc): State<Arc<Service>>, req: Request) -> Response {
    api::handle(svc, req).await
}

/// `2009-10-12T17:50:30.000Z`, as S3 writes times in XML and events.
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `Wed, 21 Oct 2015 07:28:00 GMT`, as S3 writes Last-Modified.
pub fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}
