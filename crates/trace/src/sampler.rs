//! Which new traces are recorded, when the caller did not decide.
//!
//! A caller's decision (`Sampled=1`/`0`, the W3C sampled flag) is always
//! kept (parent-based sampling). For traces that start at Lamina the
//! default follows Lambda with X-Ray active tracing: the first request of
//! each second, then 5% of the rest. That shows a developer every one of
//! their hand-made requests while keeping export cheap under load (four
//! spans per invocation at 10,000 invocations/s would cost a third of the
//! throughput). The standard variables choose otherwise:
//! `OTEL_TRACES_SAMPLER` = `always_on` | `always_off` | `traceidratio`
//! (also with a `parentbased_` prefix), with the ratio in
//! `OTEL_TRACES_SAMPLER_ARG`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The share of traces past the reservoir that X-Ray's default rule keeps.
const XRAY_RATE: f64 = 0.05;

#[derive(Debug)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// Keeps traces whose id falls in the lowest `ratio` of the id space.
    Ratio(f64),
    /// One trace per second, then [`XRAY_RATE`] of the rest.
    XRayDefault {
        second: AtomicU64,
    },
}

impl Sampler {
    /// From `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`; X-Ray's
    /// default rule when unset or unknown.
    pub fn from_env() -> Self {
        let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
        Self::named(&name, arg.as_deref())
    }

    pub fn named(name: &str, arg: Option<&str>) -> Self {
        match name.trim().trim_start_matches("parentbased_") {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::Ratio(arg.and_then(|a| a.trim().parse().ok()).unwrap_or(1.0_f64).clamp(0.0, 1.0)),
            _ => Self::XRayDefault { second: AtomicU64::new(0) },
        }
    }

    /// Whether a new trace with this id is recorded.
    pub fn sample(&self, trace_id: &[u8; 16]) -> bool {
        match self {
            Self::AlwaysOn => true,
            Self::AlwaysOff => false,
            Self::Ratio(ratio) => in_ratio(trace_id, *ratio),
            Self::XRayDefault { second } => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let last = second.load(Ordering::Relaxed);
                let first_this_second =
                    last != now && second.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok();
                first_this_second || in_ratio(trace_id, XRAY_RATE)
            }
        }
    }
}

/// The trace id's low 8 bytes (random in both X-Ray and W3C ids) as a
/// fraction of the id space, compared with `ratio`.
fn in_ratio(trace_id: &[u8; 16], ratio: f64) -> bool {
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    (u64::from_be_bytes(low) as f64) < ratio * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[8..].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn named_samplers() {
        assert!(Sampler::named("always_on", None).sample(&id(u64::MAX)));
        assert!(!Sampler::named("parentbased_always_off", None).sample(&id(0)));
        let half = Sampler::named("traceidratio", Some("0.5"));
        assert!(half.sample(&id(u64::MAX / 4)) && !half.sample(&id(u64::MAX / 4 * 3)));
    }

    #[test]
    fn xray_default_keeps_the_first_trace_of_a_second_then_five_percent() {
        let s = Sampler::named("", None);
        assert!(s.sample(&id(u64::MAX)), "the reservoir's one trace this second");
        let kept = (0..10_000u64).filter(|i| s.sample(&id(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))).count();
        // 5% of 10,000, plus at most a reservoir hit if the second turned over.
        assert!((400..=600).contains(&kept), "kept {kept}");
    }
}
