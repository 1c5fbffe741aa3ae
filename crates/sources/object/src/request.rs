//! Which bucket and key a request addresses, and its query parameters.
//!
//! Path style is `/{bucket}/{key}`; virtual-host style puts the bucket in
//! the host (`{bucket}.s3.localhost[:port]`, `{bucket}.s3.{region}.localhost`)
//! and the key in the path. Paths and query values are percent-decoded;
//! keys keep every other character as is (`a//b` and `a/` are keys).

use http::HeaderMap;
use percent_encoding::percent_decode_str;
use std::collections::HashMap;

use crate::error::{S3Error, S3Result};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Address {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// The bucket named by a virtual-host style `Host`.
pub fn host_bucket(host: &str) -> Option<&str> {
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    if !host.ends_with(".localhost") {
        return None;
    }
    let i = host.find(".s3.")?;
    Some(&host[..i]).filter(|b| !b.is_empty())
}

pub fn address(headers: &HeaderMap, path: &str) -> S3Result<Address> {
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| S3Error::InvalidRequest("The path is not valid UTF-8".into()))
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(bucket) = host_bucket(host) {
        let key = decode(path)?;
        return Ok(Address { bucket: Some(bucket.to_string()), key: Some(key).filter(|k| !k.is_empty()) });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (path, None),
    };
    let bucket = decode(bucket)?;
    let key = match key {
        Some(k) => Some(decode(k)?).filter(|k| !k.is_empty()),
        None => None,
    };
    Ok(Address { bucket: Some(bucket).filter(|b| !b.is_empty()), key })
}

/// Query parameters; a bare name (`?uploads`) has an empty value.
pub fn query(raw: Option<&str>) -> HashMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_decode_str(&s).decode_utf8_lossy().into_owned()
    };
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Percent-encodes for `EncodingType=url` answers (everything but
/// unreserved characters and `/`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        h
    }

    #[test]
    fn path_style() {
        let h = with_host("127.0.0.1:9000");
        assert_eq!(address(&h, "/").unwrap(), Address::default());
        let a = address(&h, "/b").unwrap();
        assert_eq!((a.bucket.as_deref(), a.key), (Some("b"), None));
        let a = address(&h, "/b/").unwrap();
        assert_eq!(a.key, None);
        let a = address(&h, "/b/dir/my%20file%2B1.txt").unwrap();
        assert_eq!(a.key.as_deref(), Some("dir/my file+1.txt"));
        assert_eq!(address(&h, "/b/a//c/").unwrap().key.as_deref(), Some("a//c/"));
    }

    #[test]
    fn virtual_host_style() {
        for host in ["bkt.s3.localhost", "bkt.s3.localhost:9000", "bkt.s3.us-east-1.localhost:9000"] {
            let a = address(&with_host(host), "/k/x").unwrap();
            assert_eq!((a.bucket.as_deref(), a.key.as_deref()), (Some("bkt"), Some("k/x")), "{host}");
        }
        assert_eq!(host_bucket("s3.localhost"), None);
        assert_eq!(host_bucket("bkt.s3.amazonaws.com"), None);
    }

    #[test]
    fn queries_and_encoding() {
        let q = query(Some("uploads&prefix=a%2Fb+c&max-keys=5"));
        assert_eq!(q.get("uploads").map(String::as_str), Some(""));
        assert_eq!(q.get("prefix").map(String::as_str), Some("a/b c"));
        assert_eq!(url_encode("a b/c+d"), "a%20b/c%2Bd");
    }
}
