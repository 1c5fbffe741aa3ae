//! Presigned URLs: the signature travels in the query string (SigV4's
//! `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//! `X-Amz-Signature`; SigV2's `AWSAccessKeyId`, `Expires`, `Signature`).
//!
//! Lamina does not check signatures (any credentials work), but a URL past
//! its expiry is refused as S3 refuses it (403 AccessDenied, "Request has
//! expired"), so that code handing out short-lived links can be tested.
//! Some SDKs' presigners move `x-amz-*` request headers (`x-amz-meta-*`,
//! `x-amz-tagging`, ...) into the query string; S3 applies them as if they
//! were headers, and so does Lamina.

use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;

use crate::error::{S3Error, S3Result};

/// Query parameters that carry the signature itself, not a request header.
const AUTH_PARAMS: [&str; 7] = [
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
];

/// `AccessDenied` when the query is a presigned URL whose time is up at
/// `now_secs` (Unix seconds); a query that is not presigned passes.
pub fn check_expiry(query: &HashMap<String, String>, now_secs: i64) -> S3Result<()> {
    let expired = || S3Error::AccessDenied { message: "Request has expired".into() };
    if let (Some(date), Some(expires)) = (query.get("X-Amz-Date"), query.get("X-Amz-Expires")) {
        let signed = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| {
                S3Error::invalid_argument(
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
                    "X-Amz-Date",
                    date,
                )
            })?
            .and_utc()
            .timestamp();
        let secs = expires
            .parse::<i64>()
            .map_err(|_| S3Error::invalid_argument("X-Amz-Expires should be a number", "X-Amz-Expires", expires))?;
        if signed.saturating_add(secs) < now_secs {
            return Err(expired());
        }
    } else if query.contains_key("AWSAccessKeyId") && query.contains_key("Signature") {
        if let Some(expires) = query.get("Expires") {
            let at = expires.parse::<i64>().map_err(|_| {
                S3Error::invalid_argument("Invalid date (should be seconds since epoch)", "Expires", expires)
            })?;
            if at < now_secs {
                return Err(expired());
            }
        }
    }
    Ok(())
}

/// Adds the `x-amz-*` headers a presigner moved into the query string
/// (a header sent as a header wins).
pub fn hoisted_headers(query: &HashMap<String, String>, headers: &mut HeaderMap) {
    if !query.contains_key("X-Amz-Signature") {
        return;
    }
    for (name, value) in query {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("x-amz-") || AUTH_PARAMS.contains(&lower.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(lower.as_bytes()), HeaderValue::from_str(value)) {
            if !headers.contains_key(&n) {
                headers.insert(n, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sigv4_expiry() {
        // 2024-01-01T00:00:00Z is 1704067200.
        let q = query(&[("X-Amz-Date", "20240101T000000Z"), ("X-Amz-Expires", "60")]);
        assert!(check_expiry(&q, 1_704_067_260).is_ok());
        assert!(matches!(check_expiry(&q, 1_704_067_261), Err(S3Error::AccessDenied { .. })));
        let bad = query(&[("X-Amz-Date", "yesterday"), ("X-Amz-Expires", "60")]);
        assert!(matches!(check_expiry(&bad, 0), Err(S3Error::InvalidArgument { .. })));
    }

    #[test]
    fn sigv2_expiry_and_plain_requests() {
        let q = query(&[("AWSAccessKeyId", "test"), ("Signature", "x"), ("Expires", "100")]);
        assert!(check_expiry(&q, 100).is_ok());
        assert!(matches!(check_expiry(&q, 101), Err(S3Error::AccessDenied { .. })));
        assert!(check_expiry(&query(&[("Expires", "1"), ("prefix", "a")]), 1_000).is_ok());
    }

    #[test]
    fn hoisted_x_amz_headers_become_headers() {
        let q = query(&[
            ("X-Amz-Signature", "s"),
            ("X-Amz-Date", "20240101T000000Z"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-tagging", "a=b"),
        ]);
        let mut h = HeaderMap::new();
        h.insert("x-amz-tagging", "kept=1".parse().unwrap());
        hoisted_headers(&q, &mut h);
        assert_eq!(h.get("x-amz-meta-colour").unwrap(), "blue");
        assert_eq!(h.get("x-amz-tagging").unwrap(), "kept=1");
        assert!(h.get("x-amz-date").is_none());
    }
}
