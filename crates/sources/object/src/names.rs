//! Bucket and key names as S3 accepts them (general purpose buckets).
//!
//! Bucket names: 3–63 characters of lowercase letters, digits, dots and
//! hyphens; starting and ending with a letter or digit; no two adjacent
//! dots; not an IPv4 address; not the reserved `xn--`/`sthree-` prefixes or
//! `-s3alias`/`--ol-s3` suffixes. Keys: at most 1024 bytes of UTF-8.

use crate::error::{S3Error, S3Result};

pub const MAX_KEY_BYTES: usize = 1024;

pub fn validate_bucket(name: &str) -> S3Result<()> {
    if bucket_name_ok(name) {
        Ok(())
    } else {
        Err(S3Error::InvalidBucketName { bucket: name.to_string() })
    }
}

fn bucket_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    let allowed = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-';
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.iter().all(allowed)
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| name.ends_with(s))
}

pub fn validate_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::KeyTooLong);
    }
    if key.is_empty() {
        return Err(S3Error::invalid_argument("Key is empty", "Key", ""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_bucket_names() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_bucket_names() {
        for bad in [
            "ab",
            &"a".repeat(64),
            "MyBucket",
            "my_bucket",
            "-bucket",
            "bucket-",
            "my..bucket",
            "192.168.1.1",
            "xn--bucket",
            "bucket-s3alias",
            "bucket.",
            "",
        ] {
            assert!(matches!(validate_bucket(bad), Err(S3Error::InvalidBucketName { .. })), "{bad}");
        }
    }

    #[test]
    fn key_limits() {
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(validate_key(&"k".repeat(1025)), Err(S3Error::KeyTooLong)));
    }
}
