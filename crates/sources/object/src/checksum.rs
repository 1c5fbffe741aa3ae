//! Additional checksums (`x-amz-checksum-*`), which current AWS SDKs send
//! with every upload.
//!
//! CRC32, CRC32C, CRC64NVME and SHA256 are computed while the body streams
//! to disk and compared with what the client sent (`BadDigest` on a
//! mismatch), then stored and returned by GetObject/HeadObject when the
//! client asks (`x-amz-checksum-mode: ENABLED`). SHA1 is accepted and echoed
//! but not verified (no SHA-1 in the dependency tree for this alone).
//! CRC32 is `crc32fast` (SIMD); CRC32C and CRC64NVME come from the `crc`
//! crate's catalogue.

use base64::Engine as _;
use crc::{Crc, Digest, Table};
use sha2::Digest as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name in `x-amz-sdk-checksum-algorithm` and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub fn from_header(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(name.trim()))
    }
}

/// CRC32C (Castagnoli, `CRC_32_ISCSI` in the catalogue) and CRC64NVME,
/// slice-by-16 tables built at compile time.
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&crc::CRC_32_ISCSI);
static CRC64NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&crc::CRC_64_NVME);

/// A running checksum of one algorithm.
pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(Digest<'static, u32, Table<16>>),
    Crc64Nvme(Digest<'static, u64, Table<16>>),
    Sha256(Box<sha2::Sha256>),
    /// Not computed (see the module doc).
    Unverified,
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Self::Crc32c(CRC32C.digest()),
            Algorithm::Crc64Nvme => Self::Crc64Nvme(CRC64NVME.digest()),
            Algorithm::Sha256 => Self::Sha256(Box::default()),
            Algorithm::Sha1 => Self::Unverified,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(d) => d.update(data),
            Self::Crc64Nvme(d) => d.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Unverified => {}
        }
    }

    /// The base64 digest, as S3 writes it; `None` when not computed.
    pub fn finish(self) -> Option<String> {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Self::Crc32(h) => Some(b64(&h.finalize().to_be_bytes())),
            Self::Crc32c(d) => Some(b64(&d.finalize().to_be_bytes())),
            Self::Crc64Nvme(d) => Some(b64(&d.finalize().to_be_bytes())),
            Self::Sha256(h) => Some(b64(&h.finalize())),
            Self::Unverified => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn digest(a: Algorithm, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(a);
        h.update(&data[..3]);
        h.update(&data[3..]);
        base64::engine::general_purpose::STANDARD.decode(h.finish().unwrap()).unwrap()
    }

    #[test]
    fn check_values() {
        let data = b"123456789";
        assert_eq!(digest(Algorithm::Crc32, data), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(digest(Algorithm::Crc32c, data), 0xE306_9283u32.to_be_bytes());
        assert_eq!(digest(Algorithm::Crc64Nvme, data), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
        assert_eq!(digest(Algorithm::Sha256, data).len(), 32);
        assert!(Hasher::new(Algorithm::Sha1).finish().is_none());
        assert_eq!(Algorithm::from_header("X-Amz-Checksum-CRC32"), Some(Algorithm::Crc32));
    }
}
