//! Every metric Lamina exports, defined in one place, in Prometheus' text
//! format at `/metrics`. Labels are function names and versions only —
//! never request ids, which would grow the series without bound.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for invoke and init durations, in seconds (100 µs to 15 min).
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0,
];

pub struct Metrics {
    registry: Registry,
    pub invocations: IntCounterVec,
    pub errors: IntCounterVec,
    pub throttles: IntCounterVec,
    pub duration: HistogramVec,
    pub init_duration: HistogramVec,
    pub cold_starts: IntCounterVec,
    pub concurrent_executions: IntGaugeVec,
    pub async_queue_depth: IntGauge,
    pub async_event_age: HistogramVec,
    pub idle_sandboxes: IntGauge,
    pub sandbox_memory_mib: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| unreachable_metric(name, e));
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(DURATION_BUCKETS.to_vec());
    let h = HistogramVec::new(opts, labels).unwrap_or_else(|e| unreachable_metric(name, e));
    let _ = registry.register(Box::new(h.clone()));
    h
}

/// Metric definitions are constants; a failure here is a programming error
/// caught by the unit test below, not a runtime condition.
fn unreachable_metric(name: &str, e: prometheus::Error) -> ! {
    panic!("invalid metric definition {name}: {e}")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let fv = &["function", "version"];
        let concurrent_executions =
            IntGaugeVec::new(Opts::new("lamina_concurrent_executions", "Invocations running now"), &["function"])
                .unwrap_or_else(|e| unreachable_metric("lamina_concurrent_executions", e));
        let _ = registry.register(Box::new(concurrent_executions.clone()));
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).unwrap_or_else(|e| unreachable_metric(name, e));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        Self {
            invocations: counter(&registry, "lamina_invocations_total", "Invocations run", fv),
            errors: counter(&registry, "lamina_errors_total", "Invocations that ended in a function error", fv),
            throttles: counter(
                &registry,
                "lamina_throttles_total",
                "Invocations refused by a concurrency or capacity limit",
                &["function", "reason"],
            ),
            duration: histogram(&registry, "lamina_invocation_duration_seconds", "Invocation duration", fv),
            init_duration: histogram(
                &registry,
                "lamina_init_duration_seconds",
                "Sandbox init duration on cold starts",
                fv,
            ),
            cold_starts: counter(&registry, "lamina_cold_starts_total", "Invocations that started a new sandbox", fv),
            concurrent_executions,
            async_queue_depth: gauge("lamina_async_queue_depth", "Asynchronous events waiting in the durable queue"),
            async_event_age: histogram(
                &registry,
                "lamina_async_event_age_seconds",
                "Age of asynchronous events when delivered",
                &["function"],
            ),
            idle_sandboxes: gauge("lamina_idle_sandboxes", "Warm sandboxes waiting for an invocation"),
            sandbox_memory_mib: gauge(
                "lamina_sandbox_memory_mib",
                "Memory reserved by live sandboxes (sum of MemorySize)",
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_valid_and_render_in_text_format() {
        let m = Metrics::new();
        m.invocations.with_label_values(&["f", "$LATEST"]).inc();
        m.duration.with_label_values(&["f", "$LATEST"]).observe(0.002);
        let text = m.render();
        assert!(text.contains("lamina_invocations_total{function=\"f\",version=\"$LATEST\"} 1"), "{text}");
        assert!(text.contains("# TYPE lamina_invocation_duration_seconds histogram"));
    }
}
