//! The source of CopyObject and UploadPartCopy: `x-amz-copy-source`, its
//! `x-amz-copy-source-if-*` conditions and UploadPartCopy's
//! `x-amz-copy-source-range`.
//!
//! Unlike GetObject's, a copy's failed condition is always 412
//! PreconditionFailed (never 304), and its range must be exactly
//! `bytes=first-last` inside the source: anything else is InvalidArgument,
//! and a range past the end is InvalidRange, as S3 answers.

use std::sync::Arc;

use crate::api::Call;
use crate::error::{S3Error, S3Result};
use crate::objects::{failed_condition, Conditions, Failed};
use crate::store::Object;
use crate::Service;

/// `x-amz-copy-source: [/]bucket/key[?versionId=..]`, URL-encoded. Buckets
/// are not versioned here, so a version id names the one version there is.
pub fn parse(value: &str) -> S3Result<(String, String)> {
    let invalid = || S3Error::invalid_argument("Invalid copy source object key", "x-amz-copy-source", value);
    let path = value.split('?').next().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().map_err(|_| invalid())?;
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// The source object of a copy, its conditions checked.
pub async fn source(svc: &Arc<Service>, call: &Call) -> S3Result<Object> {
    let (bucket, key) = parse(call.header("x-amz-copy-source").unwrap_or(""))?;
    let object = crate::objects::find(svc, &bucket, &key).await?;
    check_conditions(call, &object)?;
    Ok(object)
}

/// `x-amz-copy-source-if-match` / `-if-unmodified-since` and
/// `-if-none-match` / `-if-modified-since`; an ETag condition, when sent,
/// overrides its date partner, as S3 documents for CopyObject.
pub fn check_conditions(call: &Call, source: &Object) -> S3Result<()> {
    const COPY: Conditions = [
        ("x-amz-copy-source-if-match", "x-amz-copy-source-If-Match"),
        ("x-amz-copy-source-if-unmodified-since", "x-amz-copy-source-If-Unmodified-Since"),
        ("x-amz-copy-source-if-none-match", "x-amz-copy-source-If-None-Match"),
        ("x-amz-copy-source-if-modified-since", "x-amz-copy-source-If-Modified-Since"),
    ];
    match failed_condition(call, source, COPY) {
        Some(Failed::Changed(condition) | Failed::Unchanged(condition)) => {
            Err(S3Error::PreconditionFailed { condition })
        }
        None => Ok(()),
    }
}

/// The bytes an `x-amz-copy-source-range` names in a source of `size`
/// bytes, as (offset, length).
pub fn range(header: &str, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            header,
        )
    };
    let (first, last) = header.strip_prefix("bytes=").and_then(|s| s.split_once('-')).ok_or_else(invalid)?;
    // Digits only: u64's parser would also take a leading `+`.
    let offset = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    let first = offset(first).ok_or_else(invalid)?;
    let last = offset(last).ok_or_else(invalid)?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(S3Error::InvalidRange { range: header.to_string(), size });
    }
    Ok((first, last - first + 1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(parse("/b/k%20x").unwrap(), ("b".into(), "k x".into()));
        assert_eq!(parse("b/dir/k?versionId=1").unwrap(), ("b".into(), "dir/k".into()));
        assert!(parse("b").is_err());
        assert!(parse("/b/").is_err());
    }

    #[test]
    fn ranges_are_closed_and_inside_the_source() {
        assert_eq!(range("bytes=0-9", 100).unwrap(), (0, 10));
        assert_eq!(range("bytes=99-99", 100).unwrap(), (99, 1));
        for bad in ["0-9", "bytes=-1", "bytes=0-", "bytes=a-b", "bytes=0-2,3-5", "bytes=5-2", "bytes=+1-2", ""] {
            assert!(matches!(range(bad, 100), Err(S3Error::InvalidArgument { .. })), "{bad}");
        }
        assert!(matches!(range("bytes=0-100", 100), Err(S3Error::InvalidRange { size: 100, .. })));
        assert!(matches!(range("bytes=0-0", 0), Err(S3Error::InvalidRange { .. })));
    }
}
