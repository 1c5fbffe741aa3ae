//! A trace context and its two wire forms.
//!
//! Lambda speaks X-Ray: `X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`,
//! where the root is a version (`1`), eight hex digits of epoch seconds and
//! 24 random hex digits. OpenTelemetry speaks W3C Trace Context:
//! `traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`.
//! The 128-bit trace id is the same number in both (the root without its
//! version and dashes), so a trace crosses between them unchanged.

use std::fmt::Write;

/// A trace id and, when the context came from a caller, the caller's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The span this context continues from (`Parent=` / the traceparent's parent id).
    pub parent_id: Option<[u8; 8]>,
    /// The caller's sampling decision; `None` when it left it open (`Sampled=?` or absent).
    pub sampled: Option<bool>,
}

impl TraceContext {
    /// A new trace, X-Ray style: the first four bytes are the epoch seconds
    /// (so the id is valid for X-Ray too), the other twelve random.
    pub fn new_root(epoch_secs: u64) -> Self {
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&(epoch_secs as u32).to_be_bytes());
        for b in &mut trace_id[4..] {
            *b = fastrand::u8(..);
        }
        Self { trace_id, parent_id: None, sampled: None }
    }

    /// The context a request carries: `X-Amzn-Trace-Id` first (Lambda's own
    /// header), then `traceparent`. Malformed headers count as absent.
    pub fn from_headers(xray: Option<&str>, traceparent: Option<&str>) -> Option<Self> {
        xray.and_then(Self::from_xray).or_else(|| traceparent.and_then(Self::from_traceparent))
    }

    /// Parses `Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1|?}`
    /// (fields in any order, unknown fields such as `Lineage` ignored).
    pub fn from_xray(header: &str) -> Option<Self> {
        let mut trace_id = None;
        let mut parent_id = None;
        let mut sampled = None;
        for field in header.split(';') {
            let Some((key, value)) = field.trim().split_once('=') else { continue };
            match key.trim() {
                "Root" => trace_id = Some(parse_xray_root(value.trim())?),
                "Parent" => parent_id = Some(parse_span_id(value.trim())?),
                "Sampled" => {
                    sampled = match value.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        Some(Self { trace_id: trace_id?, parent_id, sampled })
    }

    /// Parses a W3C `traceparent` (`{version}-{32 hex}-{16 hex}-{2 hex flags}`).
    /// Version `ff` is invalid; a later version may append fields.
    pub fn from_traceparent(header: &str) -> Option<Self> {
        let header = header.trim();
        let mut parts = header.split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let parent = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && (parts.next().is_some() || header.len() != 55) {
            return None;
        }
        if flags.len() != 2 || ![flags, trace, parent].iter().all(|part| is_lower_hex(part)) {
            return None;
        }
        let trace_id: [u8; 16] = decode_hex(trace)?;
        let parent_id: [u8; 8] = decode_hex(parent)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self { trace_id, parent_id: Some(parent_id), sampled: Some(flags & 1 == 1) })
    }

    /// `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn xray_root(&self) -> String {
        let hex = encode_hex(&self.trace_id);
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }

    /// The X-Ray header with `parent` as the span the receiver continues
    /// from; a `None` sampling decision is written as `Sampled=0`.
    pub fn to_xray(&self, parent: [u8; 8], sampled: bool) -> String {
        format!("Root={};Parent={};Sampled={}", self.xray_root(), encode_hex(&parent), u8::from(sampled))
    }

    /// This context as an X-Ray header, with its own parent and sampling
    /// decision (each left out when absent): how a caller's trace, in
    /// either format, is kept until the invocation runs.
    pub fn to_xray_header(&self) -> String {
        let mut out = format!("Root={}", self.xray_root());
        if let Some(parent) = self.parent_id {
            let _ = write!(out, ";Parent={}", encode_hex(&parent));
        }
        if let Some(sampled) = self.sampled {
            let _ = write!(out, ";Sampled={}", u8::from(sampled));
        }
        out
    }

    /// The W3C header with `parent` as the span the receiver continues from.
    pub fn to_traceparent(&self, parent: [u8; 8], sampled: bool) -> String {
        format!("00-{}-{}-{:02x}", encode_hex(&self.trace_id), encode_hex(&parent), u8::from(sampled))
    }
}

/// A new random span id (never all zeros, which both formats reserve).
pub fn new_span_id() -> [u8; 8] {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// Lower-case hex of some bytes.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn parse_xray_root(root: &str) -> Option<[u8; 16]> {
    let rest = root.strip_prefix("1-")?;
    let (epoch, random) = rest.split_once('-')?;
    if epoch.len() != 8 || random.len() != 24 {
        return None;
    }
    let id: [u8; 16] = decode_hex(&format!("{epoch}{random}"))?;
    (id != [0; 16]).then_some(id)
}

fn parse_span_id(value: &str) -> Option<[u8; 8]> {
    decode_hex(value).filter(|id| *id != [0; 8])
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Decodes exactly `N` bytes of hex (X-Ray ids may be upper case; W3C
/// traceparent must be lower case, which `from_traceparent` checks first).
fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const W3C: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

    #[test]
    fn xray_and_w3c_carry_the_same_trace() {
        let from_xray = TraceContext::from_xray(XRAY).unwrap();
        let from_w3c = TraceContext::from_traceparent(W3C).unwrap();
        assert_eq!(from_xray, from_w3c);
        assert_eq!(encode_hex(&from_xray.trace_id), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(from_xray.xray_root(), "1-5759e988-bd862e3fe1be46a994272793");
        let parent = from_xray.parent_id.unwrap();
        assert_eq!(from_xray.to_traceparent(parent, true), W3C);
        assert_eq!(from_w3c.to_xray(parent, true), XRAY);
        assert_eq!(from_w3c.to_xray_header(), XRAY);
        let open = TraceContext { parent_id: None, sampled: None, ..from_w3c };
        assert_eq!(open.to_xray_header(), "Root=1-5759e988-bd862e3fe1be46a994272793");
    }

    #[test]
    fn xray_fields_in_any_order_and_unknown_fields_ignored() {
        let c = TraceContext::from_xray(
            "Sampled=0; Lineage=a87bd80c:1|68fd508a:5 ;Root=1-5759E988-BD862E3FE1BE46A994272793",
        )
        .unwrap();
        assert_eq!(encode_hex(&c.trace_id), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(c.parent_id, None);
        assert_eq!(c.sampled, Some(false));
        assert_eq!(
            TraceContext::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?").unwrap().sampled,
            None
        );
    }

    #[test]
    fn malformed_xray_is_rejected() {
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a9942727930",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-00000000-000000000000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
        ] {
            assert_eq!(TraceContext::from_xray(bad), None, "{bad}");
        }
    }

    #[test]
    fn traceparent_validation_follows_the_w3c_spec() {
        let unsampled =
            TraceContext::from_traceparent("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00").unwrap();
        assert_eq!(unsampled.sampled, Some(false));
        // A later version may add fields after the flags.
        assert!(
            TraceContext::from_traceparent("cc-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra").is_some()
        );
        for bad in [
            "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
            "00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01",
            "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
            "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8",
            "00-5759e988bd862e3fe1be46a99427279-53995c3f42cd8ad8-01",
            "garbage",
        ] {
            assert_eq!(TraceContext::from_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn xray_header_wins_over_traceparent() {
        let other = "00-11111111111111111111111111111111-2222222222222222-01";
        let c = TraceContext::from_headers(Some(XRAY), Some(other)).unwrap();
        assert_eq!(encode_hex(&c.trace_id), "5759e988bd862e3fe1be46a994272793");
        let c = TraceContext::from_headers(Some("nonsense"), Some(other)).unwrap();
        assert_eq!(encode_hex(&c.trace_id), "11111111111111111111111111111111");
        assert_eq!(TraceContext::from_headers(None, None), None);
    }

    #[test]
    fn a_new_root_starts_with_the_epoch_seconds() {
        let c = TraceContext::new_root(0x5759_e988);
        assert!(c.xray_root().starts_with("1-5759e988-"));
        assert_eq!(c.xray_root().len(), 35);
        assert_eq!(TraceContext::from_xray(&c.to_xray(new_span_id(), false)).unwrap().trace_id, c.trace_id);
    }
}
