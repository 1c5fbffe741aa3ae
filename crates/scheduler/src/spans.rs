//! One invocation's span tree, the way Lambda traces it:
//!
//! ```text
//! Invoke <function>            root; a child of the caller's span when it sent a trace header
//! ├── Queue                    async events: from acceptance to delivery
//! ├── Cold start               cold starts: sandbox creation (Runtime API, namespaces, exec)
//! ├── Init                     cold starts: the runtime's init, until its first /next
//! └── Invoke                   delivering the event until the response
//! ```
//!
//! Every invocation has a trace id, generated when the caller sent none (as
//! Lambda does); the function sees it in `Lambda-Runtime-Trace-Id` /
//! `_X_AMZN_TRACE_ID` with the Invoke span as its parent. Spans are built
//! only when they will be exported, from `Instant`s the invoke path already
//! takes, and handed to the exporter's queue when the invocation ends.

use lamina_trace::{new_span_id, KeyValue, Span, SpanKind, TraceContext, Tracer};
use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use crate::{InvokeError, InvokeRequest, InvokeResult};

/// What made the invocation happen (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP request: API Gateway routes, function URLs.
    Http,
    /// A message: queues and topics.
    PubSub,
    /// A schedule.
    Timer,
    /// A change in a data source (object notifications).
    Datasource,
    /// The Invoke API and anything else.
    Other,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Http => "http",
            Trigger::PubSub => "pubsub",
            Trigger::Timer => "timer",
            Trigger::Datasource => "datasource",
            Trigger::Other => "other",
        }
    }
}

/// Where an invocation came from, for its trace.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub trigger: Trigger,
    /// When an asynchronous event was accepted (its queue wait is a span).
    pub queued_since: Option<SystemTime>,
}

impl Default for Origin {
    fn default() -> Self {
        Self { trigger: Trigger::Other, queued_since: None }
    }
}

/// The trace a request carries, from its `X-Amzn-Trace-Id` or W3C
/// `traceparent` header, as the `X-Amzn-Trace-Id` value that
/// [`crate::InvokeRequest::trace_id`] and queued events hold.
pub fn trace_header(xray: Option<&str>, traceparent: Option<&str>) -> Option<String> {
    TraceContext::from_headers(xray, traceparent).map(|c| c.to_xray_header())
}

/// The trace of one invocation while it runs.
pub(crate) struct InvocationTrace {
    context: TraceContext,
    sampled: bool,
    /// Whether spans are built and exported (tracing on and sampled).
    recording: bool,
    root_id: [u8; 8],
    invoke_id: [u8; 8],
    /// The same moment on both clocks: spans need wall time, the invoke
    /// path measures with `Instant`.
    wall: SystemTime,
    mono: Instant,
    origin: Origin,
    cold: Option<Cold>,
    invoke: Option<(Instant, Duration)>,
}

struct Cold {
    started: Instant,
    /// When the sandbox process existed (None: it never did).
    spawned: Option<Instant>,
    ended: Instant,
}

impl InvocationTrace {
    /// Starts the trace: continues the caller's (`incoming` is an
    /// `X-Amzn-Trace-Id` value) or starts a new one. A caller's sampling
    /// decision is kept; otherwise the tracer's sampler decides (none when
    /// nothing is exported).
    pub(crate) fn begin(tracer: &Tracer, incoming: Option<&str>, origin: Origin) -> Self {
        let wall = SystemTime::now();
        let context = incoming.and_then(TraceContext::from_xray).unwrap_or_else(|| {
            TraceContext::new_root(wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs())
        });
        let sampled = context.sampled.unwrap_or_else(|| tracer.sample_new(&context.trace_id));
        Self {
            context,
            sampled,
            recording: sampled && tracer.is_enabled(),
            root_id: new_span_id(),
            invoke_id: new_span_id(),
            wall,
            mono: Instant::now(),
            origin,
            cold: None,
            invoke: None,
        }
    }

    /// The header the function sees: this trace, with the Invoke span as parent.
    pub(crate) fn function_header(&self) -> String {
        self.context.to_xray(self.invoke_id, self.sampled)
    }

    /// A cold start ran from `started` to `ended`; the process existed from `spawned`.
    pub(crate) fn cold_start(&mut self, started: Instant, spawned: Option<Instant>, ended: Instant) {
        self.cold = Some(Cold { started, spawned, ended });
    }

    /// The event was delivered at `started` and answered `duration` later.
    pub(crate) fn invoked(&mut self, started: Instant, duration: Duration) {
        self.invoke = Some((started, duration));
    }

    /// Ends the trace and queues its spans for export.
    pub(crate) fn finish(
        self,
        tracer: &Tracer,
        region: &str,
        req: &InvokeRequest,
        result: &Result<InvokeResult, InvokeError>,
    ) {
        if !self.recording {
            return;
        }
        let end = SystemTime::now();
        let start = match self.origin.queued_since {
            Some(queued) if queued < self.wall => queued,
            _ => self.wall,
        };
        let (status, error) = match result {
            Ok(r) => (200, r.function_error.map(str::to_string)),
            Err(e) => {
                let (status, kind) = error_kind(e);
                (status, Some(kind.to_string()))
            }
        };
        let v = &req.version;
        let mut attributes = vec![
            KeyValue::new("faas.name", v.name.clone()),
            KeyValue::new("faas.version", v.version.clone()),
            KeyValue::new("faas.invocation_id", req.request_id.clone()),
            KeyValue::new("faas.coldstart", self.cold.is_some()),
            KeyValue::new("faas.trigger", self.origin.trigger.as_str()),
            KeyValue::new("faas.max_memory", i64::from(v.memory_mib) * 1024 * 1024),
            KeyValue::new("cloud.region", region.to_string()),
            KeyValue::new("cloud.resource_id", req.invoked_arn.clone()),
            KeyValue::new("http.response.status_code", status),
        ];
        if let Some(kind) = &error {
            attributes.push(KeyValue::new("error.type", kind.clone()));
        }
        let kind = if self.origin.queued_since.is_some() { SpanKind::Consumer } else { SpanKind::Server };
        let root = self.span(format!("Invoke {}", v.name).into(), kind, self.root_id, None, start, end);
        let at = |i: Instant| self.wall_time(i);
        if let Some(queued) = self.origin.queued_since {
            tracer.export(self.child("Queue", queued.min(self.wall), self.wall, None));
        }
        if let Some(cold) = &self.cold {
            let spawned = cold.spawned.unwrap_or(cold.ended);
            let failed = matches!(result, Ok(r) if self.invoke.is_none() && r.function_error.is_some());
            tracer.export(self.child("Cold start", at(cold.started), at(spawned), None));
            if cold.spawned.is_some() {
                let init_error = failed.then(|| "init failed".to_string());
                tracer.export(self.child("Init", at(spawned), at(cold.ended), init_error));
            }
        }
        if let Some((started, duration)) = self.invoke {
            let invoke = self.span(
                "Invoke".into(),
                SpanKind::Internal,
                self.invoke_id,
                Some(self.root_id),
                at(started),
                at(started + duration),
            );
            tracer.export(Span { error: error.clone(), ..invoke });
        }
        tracer.export(Span { attributes, error, ..root });
    }

    fn wall_time(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.mono) {
            Some(after) => self.wall + after,
            None => self.wall - self.mono.duration_since(at),
        }
    }

    fn span(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        span_id: [u8; 8],
        parent: Option<[u8; 8]>,
        start: SystemTime,
        end: SystemTime,
    ) -> Span {
        let remote = parent.is_none() && self.context.parent_id.is_some();
        Span {
            name,
            kind,
            trace_id: self.context.trace_id,
            span_id,
            parent_id: parent.or(self.context.parent_id),
            parent_is_remote: remote,
            start,
            end,
            attributes: Vec::new(),
            error: None,
        }
    }

    fn child(&self, name: &'static str, start: SystemTime, end: SystemTime, error: Option<String>) -> Span {
        let span = self.span(name.into(), SpanKind::Internal, new_span_id(), Some(self.root_id), start, end);
        Span { error, ..span }
    }
}

/// The HTTP status and AWS error type the caller gets for a failed invocation.
fn error_kind(e: &InvokeError) -> (i64, &'static str) {
    match e {
        InvokeError::Throttled { .. } => (429, "TooManyRequestsException"),
        InvokeError::NotFound(_) => (404, "ResourceNotFoundException"),
        InvokeError::Invalid(_) => (400, "InvalidParameterValueException"),
        InvokeError::Platform(_) => (500, "ServiceException"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_trace::context::encode_hex;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn a_callers_trace_is_continued_with_the_invoke_span_as_the_functions_parent() {
        let trace = InvocationTrace::begin(&Tracer::disabled(), Some(XRAY), Origin::default());
        assert_eq!(
            trace.function_header(),
            format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1", encode_hex(&trace.invoke_id))
        );
        assert!(!trace.recording, "nothing is recorded without an exporter");
    }

    #[test]
    fn without_a_caller_trace_a_new_one_starts_unsampled_when_nothing_exports() {
        let trace = InvocationTrace::begin(&Tracer::disabled(), None, Origin::default());
        let header = trace.function_header();
        let parsed = TraceContext::from_xray(&header).unwrap();
        assert_eq!(parsed.sampled, Some(false));
        assert_eq!(parsed.parent_id, Some(trace.invoke_id));
        let epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let id_epoch = u32::from_be_bytes(parsed.trace_id[..4].try_into().unwrap());
        assert!(u64::from(id_epoch).abs_diff(epoch) < 5, "the root starts with the epoch seconds");
    }

    #[test]
    fn either_header_becomes_the_same_x_ray_value() {
        let w3c = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
        assert_eq!(trace_header(None, Some(w3c)).as_deref(), Some(XRAY));
        assert_eq!(trace_header(Some(XRAY), None).as_deref(), Some(XRAY));
        assert_eq!(trace_header(Some("garbage"), None), None);
    }

    #[test]
    fn instants_map_onto_wall_time_both_ways() {
        let trace = InvocationTrace::begin(&Tracer::disabled(), None, Origin::default());
        let later = trace.mono + Duration::from_millis(5);
        assert_eq!(trace.wall_time(later), trace.wall + Duration::from_millis(5));
        if let Some(earlier) = trace.mono.checked_sub(Duration::from_millis(5)) {
            assert_eq!(trace.wall_time(earlier), trace.wall - Duration::from_millis(5));
        }
    }
}
