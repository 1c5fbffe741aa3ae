//! The `Range` header of GetObject (RFC 9110 byte ranges, one range only, as
//! S3 serves them).
//!
//! `bytes=a-b`, `bytes=a-` and `bytes=-n` become an inclusive byte span of
//! the object; a start beyond the end is `InvalidRange` (416); a header
//! that is not a single byte range is ignored and the whole object served,
//! which is what S3 does with a syntactically invalid Range.

use crate::error::{S3Error, S3Result};

/// An inclusive span `[start, end]` of an object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` value for an object of `size` bytes.
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, size)
    }
}

/// The span `header` asks for in an object of `size` bytes; `None` serves
/// the whole object.
pub fn parse(header: &str, size: u64) -> S3Result<Option<Span>> {
    let unsatisfiable = || S3Error::InvalidRange { range: header.to_string(), size };
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix: the last n bytes.
        let Ok(n) = last.parse::<u64>() else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        return Ok(Some(Span { start: size.saturating_sub(n), end: size - 1 }));
    }
    let Ok(start) = first.parse::<u64>() else { return Ok(None) };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some(Span { start, end: end.min(size - 1) }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn span(start: u64, end: u64) -> Option<Span> {
        Some(Span { start, end })
    }

    #[test]
    fn parses_byte_ranges() {
        assert_eq!(parse("bytes=0-9", 100).unwrap(), span(0, 9));
        assert_eq!(parse("bytes=90-", 100).unwrap(), span(90, 99));
        assert_eq!(parse("bytes=90-1000", 100).unwrap(), span(90, 99));
        assert_eq!(parse("bytes=-10", 100).unwrap(), span(90, 99));
        assert_eq!(parse("bytes=-1000", 100).unwrap(), span(0, 99));
        assert_eq!(parse("bytes=5-5", 100).unwrap().unwrap().len(), 1);
        assert_eq!(span(0, 9).unwrap().content_range(100), "bytes 0-9/100");
    }

    #[test]
    fn unsatisfiable_ranges_are_invalid_range() {
        assert!(matches!(parse("bytes=100-", 100), Err(S3Error::InvalidRange { size: 100, .. })));
        assert!(matches!(parse("bytes=0-1", 0), Err(S3Error::InvalidRange { .. })));
        assert!(matches!(parse("bytes=-0", 10), Err(S3Error::InvalidRange { .. })));
    }

    #[test]
    fn invalid_syntax_serves_the_whole_object() {
        for h in ["items=0-1", "bytes=a-b", "bytes=5-1", "bytes=0-1,3-4", "bytes="] {
            assert_eq!(parse(h, 100).unwrap(), None, "{h}");
        }
    }
}
