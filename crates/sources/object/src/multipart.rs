//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts and
//! ListMultipartUploads.
//!
//! Each part is its own data file (UploadPartCopy streams its range of the
//! source's file into a new one); completing concatenates the chosen parts
//! into a new file (the kernel copies, `copy_file_range`), whose ETag is
//! S3's: the MD5 of the parts' binary MD5s, then `-N`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use md5::{Digest, Md5};
use std::sync::Arc;

use crate::api::{read_xml, Call};
use crate::buckets::xml_response;
use crate::error::{S3Error, S3Result};
use crate::files::{Written, MAX_UPLOAD_BYTES};
use crate::objects::{attrs_from, created, etag_header};
use crate::store::{Object, Part, Upload};
use crate::xml::XmlWriter;
use crate::{iso8601, Service};

/// Smallest part other than the last, as in S3.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PART_NUMBER: u32 = 10_000;

pub async fn create(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let upload = Upload {
        upload_id: uuid::Uuid::new_v4().simple().to_string(),
        bucket: call.bucket.clone(),
        key: call.key.clone(),
        created_ms: lamina_core::now_ms(),
        attrs: attrs_from(&call.headers),
        tags: crate::tagging::from_header(call)?,
    };
    let row = upload.clone();
    svc.db(move |s| s.create_upload(&row)).await?;
    let mut w = XmlWriter::new();
    w.root("InitiateMultipartUploadResult");
    w.elem("Bucket", &call.bucket);
    w.elem("Key", &call.key);
    w.elem("UploadId", &upload.upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut resp = xml_response(w.finish());
    if let Some(a) = call.header("x-amz-checksum-algorithm").and_then(|a| http::HeaderValue::from_str(a).ok()) {
        resp.headers_mut().insert("x-amz-checksum-algorithm", a);
    }
    Ok(resp)
}

/// The upload named by `?uploadId`, checked against the request's bucket and key.
async fn upload_of(svc: &Arc<Service>, call: &Call) -> S3Result<Upload> {
    let id = call.param("uploadId").unwrap_or("").to_string();
    let lookup = id.clone();
    match svc.db(move |s| s.upload(&lookup)).await? {
        Some(u) if u.bucket == call.bucket && u.key == call.key => Ok(u),
        _ => {
            svc.bucket(&call.bucket).await?;
            Err(S3Error::NoSuchUpload { upload_id: id })
        }
    }
}

/// `?partNumber`, 1 to 10,000.
fn part_number(call: &Call) -> S3Result<u32> {
    let raw = call.param("partNumber").unwrap_or("");
    raw.parse::<u32>().ok().filter(|n| (1..=MAX_PART_NUMBER).contains(n)).ok_or_else(|| {
        S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw)
    })
}

/// Records a part whose file is in place (replacing any part of the same
/// number); on failure the new file is unlinked.
async fn record_part(svc: &Arc<Service>, upload: &Upload, number: u32, written: &Written) -> S3Result<Part> {
    let part = Part {
        number,
        file: written.file.clone(),
        size: written.size,
        etag: hex::encode(written.md5),
        modified_ms: lamina_core::now_ms(),
    };
    let (id, row) = (upload.upload_id.clone(), part.clone());
    match svc.db(move |s| s.put_part(&id, &row)).await {
        Ok(replaced) => svc.files.remove(&replaced.into_iter().collect::<Vec<_>>()),
        Err(e) => {
            svc.files.remove(std::slice::from_ref(&part.file));
            return Err(e);
        }
    }
    Ok(part)
}

pub async fn upload_part(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    let number = part_number(call)?;
    let upload = upload_of(svc, call).await?;
    let written = svc.files.receive(&call.headers, body).await?;
    let part = record_part(svc, &upload, number, &written).await?;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(header::ETAG, etag_header(&part.etag));
    if let Some((name, value)) = &written.checksum {
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value)) {
            resp.headers_mut().insert(n, v);
        }
    }
    Ok(resp)
}

/// UploadPartCopy: the part's bytes are the source object's, or the
/// `x-amz-copy-source-range` of them, copied file to file.
pub async fn upload_part_copy(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let number = part_number(call)?;
    let upload = upload_of(svc, call).await?;
    let source = crate::copy_source::source(svc, call).await?;
    let (offset, len) = match call.header("x-amz-copy-source-range") {
        Some(r) => crate::copy_source::range(r, source.size)?,
        None if source.size > MAX_UPLOAD_BYTES => {
            return Err(S3Error::InvalidRequest(format!(
            "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_UPLOAD_BYTES}"
        )))
        }
        None => (0, source.size),
    };
    let (file, key) = (source.file.clone(), source.key.clone());
    let written = svc
        .fs(move |f| match f.copy_range(&file, offset, len) {
            Ok(w) => Ok(w),
            // Replaced or deleted since its row was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(S3Error::NoSuchKey { key }),
            Err(e) => Err(e.into()),
        })
        .await?;
    let part = record_part(svc, &upload, number, &written).await?;
    Ok(crate::objects::copy_result("CopyPartResult", part.modified_ms, &part.etag))
}

/// Checks the client's part list against the stored parts; returns the
/// parts to assemble, in order.
pub fn choose_parts(requested: &[(u32, String)], stored: &[Part]) -> S3Result<Vec<Part>> {
    if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::InvalidPartOrder);
    }
    let mut chosen = Vec::with_capacity(requested.len());
    for (number, etag) in requested {
        let part = stored
            .iter()
            .find(|p| p.number == *number && p.etag == *etag)
            .ok_or(S3Error::InvalidPart { part: *number })?;
        chosen.push(part.clone());
    }
    if chosen.iter().rev().skip(1).any(|p| p.size < MIN_PART_BYTES) {
        return Err(S3Error::EntityTooSmall);
    }
    Ok(chosen)
}

/// S3's multipart ETag: MD5 of the concatenated binary part MD5s, `-N`.
pub fn multipart_etag(parts: &[Part]) -> String {
    let mut md5 = Md5::new();
    for p in parts {
        md5.update(hex::decode(&p.etag).unwrap_or_default());
    }
    format!("{}-{}", hex::encode(md5.finalize()), parts.len())
}

pub async fn complete(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    let upload = upload_of(svc, call).await?;
    let requested = crate::xml::parse_complete(&read_xml(body).await?)?;
    let id = upload.upload_id.clone();
    let stored = svc.db(move |s| s.parts(&id)).await?;
    let chosen = choose_parts(&requested, &stored)?;
    let files: Vec<String> = chosen.iter().map(|p| p.file.clone()).collect();
    let file = svc.fs(move |f| f.concatenate(&files)).await?;
    let object = Object {
        key: call.key.clone(),
        file: file.clone(),
        size: chosen.iter().map(|p| p.size).sum(),
        etag: multipart_etag(&chosen),
        modified_ms: lamina_core::now_ms(),
        attrs: upload.attrs.clone(),
        tags: upload.tags.clone(),
    };
    let (id, bucket, row) = (upload.upload_id.clone(), call.bucket.clone(), object.clone());
    match svc.db(move |s| s.complete_upload(&id, &bucket, &row)).await {
        Ok(obsolete) => svc.files.remove(&obsolete),
        Err(e) => {
            svc.files.remove(&[file]);
            return Err(e);
        }
    }
    svc.notifier.emit(created(svc, call, "ObjectCreated:CompleteMultipartUpload", &object)).await;
    let host = call.header("host").unwrap_or("localhost");
    let mut w = XmlWriter::new();
    w.root("CompleteMultipartUploadResult");
    w.elem("Location", &format!("http://{host}/{}/{}", call.bucket, crate::request::url_encode(&call.key)));
    w.elem("Bucket", &call.bucket);
    w.elem("Key", &call.key);
    w.elem("ETag", &format!("\"{}\"", object.etag));
    w.close("CompleteMultipartUploadResult");
    Ok(xml_response(w.finish()))
}

pub async fn abort(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let upload = upload_of(svc, call).await?;
    let files = svc.db(move |s| s.delete_upload(&upload.upload_id)).await?;
    svc.files.remove(&files);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn owner_and_initiator(w: &mut XmlWriter, account: &str) {
    for element in ["Initiator", "Owner"] {
        w.open(element);
        w.elem("ID", account);
        w.elem("DisplayName", "lamina");
        w.close(element);
    }
}

fn max_param(call: &Call, name: &str) -> S3Result<usize> {
    match call.param(name) {
        None => Ok(1000),
        Some(v) => v.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            S3Error::invalid_argument(format!("Provided {name} not an integer or within integer range"), name, v)
        }),
    }
}

pub async fn list_parts(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let upload = upload_of(svc, call).await?;
    let max = max_param(call, "max-parts")?;
    let marker = call.param("part-number-marker").and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    let id = upload.upload_id.clone();
    let parts = svc.db(move |s| s.parts(&id)).await?;
    let after: Vec<&Part> = parts.iter().filter(|p| p.number > marker).collect();
    let page = &after[..after.len().min(max)];
    let truncated = after.len() > page.len();
    let mut w = XmlWriter::new();
    w.root("ListPartsResult");
    w.elem("Bucket", &call.bucket);
    w.elem("Key", &call.key);
    w.elem("UploadId", &upload.upload_id);
    w.elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = page.last() {
        w.elem("NextPartNumberMarker", &last.number.to_string());
    }
    w.elem("MaxParts", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for p in page {
        w.open("Part");
        w.elem("PartNumber", &p.number.to_string());
        w.elem("LastModified", &iso8601(p.modified_ms));
        w.elem("ETag", &format!("\"{}\"", p.etag));
        w.elem("Size", &p.size.to_string());
        w.close("Part");
    }
    owner_and_initiator(&mut w, &svc.account_id);
    w.elem("StorageClass", "STANDARD");
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}

pub async fn list_uploads(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let max = max_param(call, "max-uploads")?;
    let prefix = call.param("prefix").unwrap_or("").to_string();
    let key_marker = call.param("key-marker").unwrap_or("").to_string();
    let id_marker = call.param("upload-id-marker").unwrap_or("").to_string();
    let bucket = call.bucket.clone();
    let uploads = svc.db(move |s| s.uploads(&bucket)).await?;
    let after: Vec<&Upload> = uploads
        .iter()
        .filter(|u| u.key.starts_with(&prefix))
        .filter(|u| {
            key_marker.is_empty() || (u.key.as_str(), u.upload_id.as_str()) > (key_marker.as_str(), id_marker.as_str())
        })
        .collect();
    let page = &after[..after.len().min(max)];
    let truncated = after.len() > page.len();
    let mut w = XmlWriter::new();
    w.root("ListMultipartUploadsResult");
    w.elem("Bucket", &call.bucket);
    w.elem("KeyMarker", &key_marker);
    w.elem("UploadIdMarker", &id_marker);
    if let (true, Some(last)) = (truncated, page.last()) {
        w.elem("NextKeyMarker", &last.key);
        w.elem("NextUploadIdMarker", &last.upload_id);
    }
    w.elem("Prefix", &prefix);
    w.elem("MaxUploads", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for u in page {
        w.open("Upload");
        w.elem("Key", &u.key);
        w.elem("UploadId", &u.upload_id);
        owner_and_initiator(&mut w, &svc.account_id);
        w.elem("StorageClass", "STANDARD");
        w.elem("Initiated", &iso8601(u.created_ms));
        w.close("Upload");
    }
    w.close("ListMultipartUploadsResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn part(number: u32, size: u64, etag: &str) -> Part {
        Part { number, file: format!("f{number}"), size, etag: etag.into(), modified_ms: 0 }
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // md5("a") and md5("b"), then the md5 of their 32 raw bytes.
        let parts = [part(1, 1, "0cc175b9c0f1b6a831c399e269772661"), part(2, 1, "92eb5ffee6ae2fec3ad71c777531578f")];
        let mut md5 = Md5::new();
        md5.update(hex::decode(&parts[0].etag).unwrap());
        md5.update(hex::decode(&parts[1].etag).unwrap());
        assert_eq!(multipart_etag(&parts), format!("{}-2", hex::encode(md5.finalize())));
    }

    #[test]
    fn part_choice_follows_s3s_rules() {
        let big = MIN_PART_BYTES;
        let stored = [part(1, big, "a"), part(2, big, "b"), part(3, 10, "c")];
        let req = |list: &[(u32, &str)]| list.iter().map(|(n, e)| (*n, e.to_string())).collect::<Vec<_>>();
        assert_eq!(choose_parts(&req(&[(1, "a"), (3, "c")]), &stored).unwrap().len(), 2);
        assert!(matches!(choose_parts(&req(&[(2, "b"), (1, "a")]), &stored), Err(S3Error::InvalidPartOrder)));
        assert!(matches!(choose_parts(&req(&[(1, "x")]), &stored), Err(S3Error::InvalidPart { part: 1 })));
        assert!(matches!(choose_parts(&req(&[(3, "c"), (4, "d")]), &stored), Err(S3Error::InvalidPart { part: 4 })));
        let small = [part(1, 10, "a"), part(2, 10, "b")];
        assert!(matches!(choose_parts(&req(&[(1, "a"), (2, "b")]), &small), Err(S3Error::EntityTooSmall)));
    }
}
