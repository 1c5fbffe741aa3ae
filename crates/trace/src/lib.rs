//! Traces: every invocation is an OpenTelemetry span tree, continued from
//! the caller's trace when it sent one.
//!
//! - [`context`] reads and writes the two trace headers a caller may send
//!   (`X-Amzn-Trace-Id`, W3C `traceparent`) and the one a function sees
//!   (`Lambda-Runtime-Trace-Id` / `_X_AMZN_TRACE_ID`).
//! - [`Tracer`] takes finished [`Span`]s and exports them over OTLP/HTTP
//!   ([`export`]) when an endpoint is configured; without one it is a
//!   no-op, so tracing costs nothing but a trace id per invocation.
//!
//! Spans are recorded after the fact with the ids and times the scheduler
//! chose, not through the SDK's tracer: the invoke span's id must be in the
//! function's trace header before the span ends, and the phase spans
//! (cold start, init, queue wait) are known only once they are over. The
//! scheduler builds the tree (`lamina_scheduler`'s `spans` module).

pub mod context;
pub mod export;
pub mod sampler;

pub use context::{new_span_id, TraceContext};
pub use export::{check_endpoint, resolve_endpoint, ExportError};
pub use opentelemetry::trace::SpanKind;
pub use opentelemetry::KeyValue;

use opentelemetry::trace::{SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor};
use std::borrow::Cow;
use std::time::SystemTime;

/// One finished span, with the ids its tree was built with.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    /// The parent is the caller's span (another process), not one of ours.
    pub parent_is_remote: bool,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// Set when the span failed: its status becomes Error with this description.
    pub error: Option<String>,
}

/// Exports spans when an OTLP endpoint is configured, drops them otherwise.
pub struct Tracer {
    processor: Option<BatchSpanProcessor>,
    scope: InstrumentationScope,
    sampler: sampler::Sampler,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("enabled", &self.is_enabled()).finish()
    }
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn disabled() -> Self {
        Self { processor: None, scope: scope(), sampler: sampler::Sampler::AlwaysOff }
    }

    /// Exports to the OTLP/HTTP traces URL `url` (see [`resolve_endpoint`])
    /// as service `service`. Must be called inside a tokio runtime.
    pub fn start(url: &str, service: &str) -> Result<Self, ExportError> {
        Ok(Self {
            processor: Some(export::processor(url, service)?),
            scope: scope(),
            sampler: sampler::Sampler::from_env(),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.processor.is_some()
    }

    /// Whether a trace that starts here, with no caller's decision, is
    /// recorded (never when nothing exports); see [`sampler`].
    pub fn sample_new(&self, trace_id: &[u8; 16]) -> bool {
        self.is_enabled() && self.sampler.sample(trace_id)
    }

    /// Queues a span for export; never blocks (a full queue drops it).
    pub fn export(&self, span: Span) {
        let Some(processor) = &self.processor else { return };
        let parent_span_id = span.parent_id.map(SpanId::from_bytes).unwrap_or(SpanId::INVALID);
        processor.on_end(SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(span.trace_id),
                SpanId::from_bytes(span.span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id,
            parent_span_is_remote: span.parent_is_remote,
            span_kind: span.kind,
            name: span.name,
            start_time: span.start,
            end_time: span.end,
            attributes: span.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match span.error {
                Some(description) => Status::error(description),
                None => Status::Unset,
            },
            instrumentation_scope: self.scope.clone(),
        });
    }

    /// Sends what is queued and stops the export thread (server shutdown).
    pub fn shutdown(&self) {
        if let Some(processor) = &self.processor {
            if let Err(e) = processor.shutdown() {
                tracing::warn!(error = %e, "could not flush traces at shutdown");
            }
        }
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("lamina").with_version(env!("CARGO_PKG_VERSION")).build()
}
