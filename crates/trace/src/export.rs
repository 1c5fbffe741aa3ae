//! Where finished spans go: the OpenTelemetry SDK's batch span processor
//! (its own thread, a bounded queue that drops rather than blocks) feeding
//! the OTLP/HTTP protobuf exporter.
//!
//! The exporter's own HTTP clients would bring reqwest (and its TLS stack)
//! into the build; instead it sends through [`TokioHyper`], the hyper
//! client Lamina already compiles. The processor's thread drives the
//! exporter with a plain executor, so each request is spawned onto the
//! server's tokio runtime and awaited through its join handle.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::time::Duration;

/// The nice value of the export thread: encoding a batch must not preempt
/// the invoke path on a busy machine (it needs a few percent of a core).
const EXPORT_THREAD_NICE: libc::c_int = 10;
/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The path OTLP/HTTP receivers take traces on.
const TRACES_PATH: &str = "/v1/traces";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("OTLP endpoint {url}: only http:// endpoints are supported (point Lamina at a local collector)")]
    NotHttp { url: String },
    #[error("OTLP endpoint {url}: {message}")]
    Invalid { url: String, message: String },
    #[error("OTLP exporter needs a tokio runtime")]
    NoRuntime,
}

/// The traces URL: the `--otlp-endpoint` flag, else
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), else
/// `OTEL_EXPORTER_OTLP_ENDPOINT`. A base URL gets `/v1/traces` appended,
/// as the OTLP specification says for the generic endpoint.
pub fn resolve_endpoint(flag: Option<&str>) -> Option<String> {
    let non_empty = |v: String| (!v.trim().is_empty()).then(|| v.trim().to_string());
    if let Some(flag) = flag.map(str::to_string).and_then(non_empty) {
        return Some(with_traces_path(&flag));
    }
    if let Some(url) = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").ok().and_then(non_empty) {
        return Some(url);
    }
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().and_then(non_empty).map(|base| with_traces_path(&base))
}

fn with_traces_path(url: &str) -> String {
    if url.ends_with(TRACES_PATH) {
        url.to_string()
    } else {
        format!("{}{TRACES_PATH}", url.trim_end_matches('/'))
    }
}

/// Checks that `url` is an OTLP/HTTP URL this exporter can send to.
pub fn check_endpoint(url: &str) -> Result<(), ExportError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| ExportError::Invalid { url: url.to_string(), message: e.to_string() })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(ExportError::NotHttp { url: url.to_string() });
    }
    Ok(())
}

/// Builds the batch processor exporting to `url`, with `service.name` = `service`.
pub(crate) fn processor(url: &str, service: &str) -> Result<BatchSpanProcessor, ExportError> {
    let invalid = |message: String| ExportError::Invalid { url: url.to_string(), message };
    check_endpoint(url)?;
    let handle = tokio::runtime::Handle::try_current().map_err(|_| ExportError::NoRuntime)?;
    let client = TokioHyper { handle, client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http() };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let mut processor = with_lowered_priority(move || BatchSpanProcessor::builder(exporter).build());
    processor.set_resource(&Resource::builder_empty().with_service_name(service.to_string()).build());
    Ok(processor)
}

/// Runs `build` on a helper thread whose nice value was raised first: the
/// SDK's export thread, spawned inside `build`, inherits it (Linux keeps
/// nice values per thread and copies them to new threads).
fn with_lowered_priority<T: Send>(build: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            // SAFETY: setpriority only reads its integer arguments; `who` 0
            // is the calling thread (Linux applies nice values per thread).
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, EXPORT_THREAD_NICE) } != 0 {
                tracing::debug!("could not lower the trace export thread's priority");
            }
            build()
        });
        match helper.join() {
            Ok(built) => built,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// An [`HttpClient`] that runs hyper on the server's tokio runtime.
#[derive(Debug, Clone)]
struct TokioHyper {
    handle: tokio::runtime::Handle,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[async_trait::async_trait]
impl HttpClient for TokioHyper {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let task = self.handle.spawn(async move {
            let (parts, body) = request.into_parts();
            let sent = client.request(http::Request::from_parts(parts, Full::new(body)));
            let response = tokio::time::timeout(EXPORT_TIMEOUT, sent).await??;
            let (parts, body) = response.into_parts();
            let body = tokio::time::timeout(EXPORT_TIMEOUT, body.collect()).await??.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        });
        task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_get_the_traces_path() {
        assert_eq!(with_traces_path("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(with_traces_path("http://127.0.0.1:4318/"), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(with_traces_path("http://c:4318/v1/traces"), "http://c:4318/v1/traces");
        assert_eq!(resolve_endpoint(Some("http://c:4318")).as_deref(), Some("http://c:4318/v1/traces"));
    }

    #[test]
    fn only_plain_http_endpoints_are_accepted() {
        assert!(check_endpoint("http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(matches!(check_endpoint("https://collector:4318/v1/traces"), Err(ExportError::NotHttp { .. })));
        assert!(matches!(check_endpoint("collector:4318"), Err(ExportError::NotHttp { .. })));
        assert!(matches!(check_endpoint("http://exa mple"), Err(ExportError::Invalid { .. })));
    }
}
