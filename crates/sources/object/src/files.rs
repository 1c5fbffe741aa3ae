//! Object bytes on disk: `<data_dir>/objects/data/<uuid>` files that never
//! change once in place, written through `<data_dir>/objects/tmp`.
//!
//! An upload streams into a temp file on a blocking thread (fed through a
//! bounded channel, so memory stays at a few chunks whatever the object's
//! size) while MD5 and any requested checksums are computed; the file is
//! fsynced and renamed into `data/` before its metadata row is committed,
//! so a crash leaves at worst an unreferenced file, which [`Files::sweep`]
//! removes at the next start.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::checksum::{Algorithm, Hasher};
use crate::chunked::{self, Decoder};
use crate::error::{S3Error, S3Result};

/// Largest single PutObject / UploadPart body, as in S3.
pub const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Chunks in flight between the request and the writer thread.
const CHANNEL_DEPTH: usize = 16;

/// The buffer UploadPartCopy streams a source range through.
const COPY_BUFFER: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Files {
    tmp: PathBuf,
    data: PathBuf,
}

/// A body written to disk and moved into `data/`.
#[derive(Debug)]
pub struct Written {
    pub file: String,
    pub size: u64,
    pub md5: [u8; 16],
    /// The checksum the client sent and we verified (header, base64 value).
    pub checksum: Option<(String, String)>,
}

impl Files {
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("objects");
        let files = Self { tmp: root.join("tmp"), data: root.join("data") };
        std::fs::create_dir_all(&files.tmp)?;
        std::fs::create_dir_all(&files.data)?;
        Ok(files)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.data.join(file)
    }

    /// Empties `tmp/` and removes data files no row refers to.
    pub fn sweep(&self, referenced: &HashSet<String>) {
        let _ = std::fs::remove_dir_all(&self.tmp);
        let _ = std::fs::create_dir_all(&self.tmp);
        let Ok(entries) = std::fs::read_dir(&self.data) else { return };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed object files left by an interrupted write");
        }
    }

    /// Unlinks data files that no longer have a row (best effort).
    pub fn remove(&self, files: &[String]) {
        for f in files {
            if let Err(e) = std::fs::remove_file(self.path(f)) {
                tracing::warn!(file = f, error = %e, "cannot remove an object file; the next start sweeps it");
            }
        }
    }

    fn new_temp(&self) -> (String, PathBuf) {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let path = self.tmp.join(&name);
        (name, path)
    }

    /// Moves a complete, fsynced temp file into `data/` durably.
    fn publish(&self, name: &str, tmp: &Path) -> std::io::Result<()> {
        std::fs::rename(tmp, self.data.join(name))?;
        std::fs::File::open(&self.data)?.sync_all()
    }

    /// Streams a request body to a new data file, verifying Content-MD5 and
    /// `x-amz-checksum-*` (header or aws-chunked trailer).
    pub async fn receive(&self, headers: &HeaderMap, body: Body) -> S3Result<Written> {
        let content_md5 = expected_md5(headers)?;
        let (algorithm, mut expected) = requested_checksum(headers);
        let mut decoder = chunked::is_aws_chunked(headers).then(Decoder::new);
        let (name, tmp) = self.new_temp();
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let writer = {
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || write_file(&tmp, rx, algorithm))
        };
        let streamed = stream_body(body, &mut decoder, &tx).await;
        drop(tx);
        let written = writer.await.map_err(|e| S3Error::Internal(format!("writer thread: {e}")));
        let fail = |e: S3Error| {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        };
        let received = match streamed {
            Ok(n) => n,
            Err(e) => return fail(e),
        };
        let (size, md5, computed) = match written {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return fail(e.into()),
            Err(e) => return fail(e),
        };
        if size != received {
            return fail(S3Error::Internal("writer lost bytes".into()));
        }
        if let Some(d) = &decoder {
            if let Some(declared) = header(headers, "x-amz-decoded-content-length").and_then(|v| v.parse::<u64>().ok())
            {
                if declared != size {
                    return fail(S3Error::IncompleteBody);
                }
            }
            if let Some(a) = algorithm {
                if let Some((_, v)) = d.trailers.iter().find(|(n, _)| n == a.header()) {
                    expected = Some(v.clone());
                }
            }
        }
        if let Some(want) = content_md5 {
            if want != md5 {
                return fail(S3Error::BadDigest {
                    message: "The Content-MD5 you specified did not match what we received.".into(),
                });
            }
        }
        let mut checksum = None;
        if let Some(a) = algorithm {
            let value = match (expected, computed) {
                (Some(want), Some(got)) if want != got => {
                    return fail(S3Error::BadDigest {
                        message: format!("The {} you specified did not match the calculated checksum.", a.name()),
                    })
                }
                (Some(want), _) => Some(want),
                (None, got) => got,
            };
            checksum = value.map(|v| (a.header().to_string(), v));
        }
        if let Err(e) = self.publish(&name, &tmp) {
            return fail(e.into());
        }
        Ok(Written { file: name, size, md5, checksum })
    }

    /// A new data file with the same bytes as `file` (a hard link: files
    /// never change, so sharing the inode is a copy).
    pub fn duplicate(&self, file: &str) -> S3Result<String> {
        let (name, tmp) = self.new_temp();
        if std::fs::hard_link(self.path(file), &tmp).is_err() {
            std::fs::copy(self.path(file), &tmp)?;
            std::fs::File::open(&tmp)?.sync_all()?;
        }
        self.publish(&name, &tmp)?;
        Ok(name)
    }

    /// A new data file holding `len` bytes of `file` from `offset`
    /// (UploadPartCopy), streamed through a fixed buffer and hashed on the way.
    pub fn copy_range(&self, file: &str, offset: u64, len: u64) -> std::io::Result<Written> {
        use std::io::{Read, Seek};
        let (name, tmp) = self.new_temp();
        let result = (|| -> std::io::Result<Written> {
            let mut source = std::fs::File::open(self.path(file))?;
            source.seek(std::io::SeekFrom::Start(offset))?;
            let mut source = source.take(len);
            let mut out = std::fs::File::create(&tmp)?;
            let mut md5 = Md5::new();
            let mut buf = vec![0u8; COPY_BUFFER];
            let mut size = 0u64;
            loop {
                let n = source.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                md5.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                size += n as u64;
            }
            if size != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the source file is shorter than its row says",
                ));
            }
            out.sync_all()?;
            self.publish(&name, &tmp)?;
            Ok(Written { file: name.clone(), size, md5: md5.finalize().into(), checksum: None })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// A new data file holding `files` one after another (CompleteMultipartUpload).
    pub fn concatenate(&self, files: &[String]) -> S3Result<String> {
        let (name, tmp) = self.new_temp();
        let result = (|| -> std::io::Result<()> {
            let mut out = std::fs::File::create(&tmp)?;
            for f in files {
                let mut part = std::fs::File::open(self.path(f))?;
                std::io::copy(&mut part, &mut out)?;
            }
            out.sync_all()?;
            self.publish(&name, &tmp)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(name)
    }
}

/// Pulls the body, decodes aws-chunked framing, and hands the payload to
/// the writer; returns the payload size.
async fn stream_body(
    body: Body,
    decoder: &mut Option<Decoder>,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) -> S3Result<u64> {
    let mut body = body;
    let mut size: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| S3Error::IncompleteBody)?;
        let Ok(data) = frame.into_data() else { continue };
        let pieces = match decoder.as_mut() {
            Some(d) => d.feed(data).map_err(|e| S3Error::InvalidRequest(e.to_string()))?,
            None => vec![data],
        };
        for piece in pieces {
            size += piece.len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(S3Error::EntityTooLarge);
            }
            if tx.send(piece).await.is_err() {
                // The writer failed; its error is reported by the caller.
                return Ok(size);
            }
        }
    }
    if let Some(d) = decoder {
        d.finish().map_err(|_| S3Error::IncompleteBody)?;
    }
    Ok(size)
}

type WriteResult = (u64, [u8; 16], Option<String>);

fn write_file(
    path: &Path,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    algorithm: Option<Algorithm>,
) -> std::io::Result<WriteResult> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut md5 = Md5::new();
    let mut hasher = algorithm.map(Hasher::new);
    let mut size = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        md5.update(&chunk);
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        out.write_all(&chunk)?;
        size += chunk.len() as u64;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((size, md5.finalize().into(), hasher.and_then(Hasher::finish)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The decoded Content-MD5, if sent; `InvalidDigest` when it is not 16 base64 bytes.
fn expected_md5(headers: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(v) = header(headers, "content-md5") else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD.decode(v.trim()).map_err(|_| S3Error::InvalidDigest)?;
    bytes.try_into().map(Some).map_err(|_| S3Error::InvalidDigest)
}

/// The checksum algorithm the client used, and its value when it came as a
/// header (a trailer's value arrives after the body).
fn requested_checksum(headers: &HeaderMap) -> (Option<Algorithm>, Option<String>) {
    for a in Algorithm::ALL {
        if let Some(v) = header(headers, a.header()) {
            return (Some(a), Some(v.trim().to_string()));
        }
    }
    if let Some(a) = header(headers, "x-amz-trailer").and_then(Algorithm::from_header) {
        return (Some(a), None);
    }
    let sdk = header(headers, "x-amz-sdk-checksum-algorithm").unwrap_or("");
    (Algorithm::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(sdk)), None)
}
