//! Object operations: PutObject, GetObject / HeadObject (ranges and
//! conditional requests), DeleteObject, DeleteObjects and CopyObject (its
//! source and conditions are [`crate::copy_source`]'s).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::api::{read_xml, Call};
use crate::buckets::xml_response;
use crate::error::{S3Error, S3Result};
use crate::notify::Happened;
use crate::store::{Attrs, Object};
use crate::xml::XmlWriter;
use crate::{http_date, iso8601, range, Service};

/// Buffer of the streaming GetObject body.
const READ_CHUNK: usize = 256 * 1024;

/// Standard headers an object keeps and returns as sent.
pub const STORED_HEADERS: [&str; 5] =
    ["content-encoding", "content-disposition", "cache-control", "content-language", "expires"];

/// What a PutObject / CreateMultipartUpload / CopyObject(REPLACE) request
/// says about the object besides its bytes.
pub fn attrs_from(headers: &HeaderMap) -> Attrs {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut attrs = Attrs { content_type: get("content-type"), ..Attrs::default() };
    for name in STORED_HEADERS {
        if let Some(mut v) = get(name) {
            if name == "content-encoding" {
                // aws-chunked is transport framing, not the object's encoding.
                v = v
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked"))
                    .collect::<Vec<_>>()
                    .join(",");
                if v.is_empty() {
                    continue;
                }
            }
            attrs.headers.insert(name.to_string(), v);
        }
    }
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            if let Ok(v) = value.to_str() {
                attrs.meta.insert(meta.to_string(), v.to_string());
            }
        }
    }
    attrs
}

pub fn etag_header(etag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

pub async fn put(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let tags = crate::tagging::from_header(call)?;
    let written = svc.files.receive(&call.headers, body).await?;
    let mut attrs = attrs_from(&call.headers);
    attrs.checksum = written.checksum.clone();
    let object = Object {
        key: call.key.clone(),
        file: written.file.clone(),
        size: written.size,
        etag: hex::encode(written.md5),
        modified_ms: lamina_core::now_ms(),
        attrs,
        tags,
    };
    commit(svc, call, &object).await?;
    svc.notifier.emit(created(svc, call, "ObjectCreated:Put", &object)).await;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(header::ETAG, etag_header(&object.etag));
    if let Some((name, value)) = &object.attrs.checksum {
        insert(resp.headers_mut(), name, value);
    }
    Ok(resp)
}

/// Writes the object's row (the file is already in place) and unlinks the
/// file it replaced; on failure the new file is unlinked instead.
async fn commit(svc: &Arc<Service>, call: &Call, object: &Object) -> S3Result<()> {
    let (bucket, row) = (call.bucket.clone(), object.clone());
    match svc.db(move |s| s.put_object(&bucket, &row)).await {
        Ok(replaced) => {
            svc.files.remove(&replaced.into_iter().collect::<Vec<_>>());
            Ok(())
        }
        Err(e) => {
            svc.files.remove(std::slice::from_ref(&object.file));
            Err(e)
        }
    }
}

pub fn created<'a>(svc: &'a Service, call: &'a Call, event: &'a str, o: &'a Object) -> Happened<'a> {
    Happened {
        event,
        region: &svc.region,
        account: &svc.account_id,
        bucket: &call.bucket,
        key: &call.key,
        created: Some((o.size, &o.etag)),
        time_ms: o.modified_ms,
        source_ip: &call.source_ip,
        request_id: &call.request_id,
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}

/// The object, or NoSuchKey (NoSuchBucket when the bucket is missing).
pub(crate) async fn find(svc: &Arc<Service>, bucket: &str, key: &str) -> S3Result<Object> {
    let (b, k) = (bucket.to_string(), key.to_string());
    match svc.db(move |s| s.object(&b, &k)).await? {
        Some(o) => Ok(o),
        None => {
            svc.bucket(bucket).await?;
            Err(S3Error::NoSuchKey { key: key.to_string() })
        }
    }
}

pub async fn get(svc: &Arc<Service>, call: &Call, head: bool) -> S3Result<Response> {
    let object = find(svc, &call.bucket, &call.key).await?;
    check_conditions(call, &object)?;
    let span = match call.header("range") {
        Some(r) => range::parse(r, object.size)?,
        None => None,
    };
    let mut headers = HeaderMap::new();
    let content_type = object.attrs.content_type.as_deref().unwrap_or("binary/octet-stream");
    insert(&mut headers, "content-type", content_type);
    headers.insert(header::ETAG, etag_header(&object.etag));
    insert(&mut headers, "last-modified", &http_date(object.modified_ms));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    for (name, value) in &object.attrs.headers {
        insert(&mut headers, name, value);
    }
    for (name, value) in &object.attrs.meta {
        insert(&mut headers, &format!("x-amz-meta-{name}"), value);
    }
    if let Some(parts) = object.etag.split_once('-').and_then(|(_, n)| n.parse::<u32>().ok()) {
        insert(&mut headers, "x-amz-mp-parts-count", &parts.to_string());
    }
    if !object.tags.is_empty() {
        insert(&mut headers, "x-amz-tagging-count", &object.tags.len().to_string());
    }
    if span.is_none() && call.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("enabled")) {
        if let Some((name, value)) = &object.attrs.checksum {
            insert(&mut headers, name, value);
            insert(&mut headers, "x-amz-checksum-type", "FULL_OBJECT");
        }
    }
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-disposition", "content-disposition"),
        ("response-cache-control", "cache-control"),
        ("response-content-encoding", "content-encoding"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
    ] {
        if let Some(v) = call.param(param) {
            insert(&mut headers, name, v);
        }
    }
    let (status, start, len) = match span {
        Some(s) => {
            insert(&mut headers, "content-range", &s.content_range(object.size));
            (StatusCode::PARTIAL_CONTENT, s.start, s.len())
        }
        None => (StatusCode::OK, 0, object.size),
    };
    insert(&mut headers, "content-length", &len.to_string());
    let body = if head {
        Body::empty()
    } else {
        let mut file = match tokio::fs::File::open(svc.files.path(&object.file)).await {
            Ok(f) => f,
            // Deleted or replaced between the row read and the open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(S3Error::NoSuchKey { key: call.key.clone() })
            }
            Err(e) => return Err(e.into()),
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await?;
        }
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file.take(len), READ_CHUNK))
    };
    let mut resp = (status, body).into_response();
    resp.headers_mut().extend(headers);
    Ok(resp)
}

/// If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304).
fn check_conditions(call: &Call, o: &Object) -> S3Result<()> {
    const GET: Conditions = [
        ("if-match", "If-Match"),
        ("if-unmodified-since", "If-Unmodified-Since"),
        ("if-none-match", ""),
        ("if-modified-since", ""),
    ];
    match failed_condition(call, o, GET) {
        Some(Failed::Changed(condition)) => Err(S3Error::PreconditionFailed { condition }),
        Some(Failed::Unchanged(_)) => Err(S3Error::NotModified),
        None => Ok(()),
    }
}

/// The headers of If-Match, If-Unmodified-Since, If-None-Match and
/// If-Modified-Since (in that order), each with the name an error gives it.
pub type Conditions = [(&'static str, &'static str); 4];

/// Which condition an object fails, by the side it fails on.
pub enum Failed {
    /// If-Match or If-Unmodified-Since: the object changed.
    Changed(&'static str),
    /// If-None-Match or If-Modified-Since: the object did not.
    Unchanged(&'static str),
}

/// The first condition the object fails; an ETag condition, when sent,
/// overrides its date partner, as S3 documents.
pub fn failed_condition(call: &Call, o: &Object, names: Conditions) -> Option<Failed> {
    let [if_match, if_unmodified, if_none_match, if_modified] = names;
    let etag_in = |list: &str| list.split(',').any(|t| t.trim() == "*" || t.trim().trim_matches('"') == o.etag);
    let modified_secs = o.modified_ms / 1000;
    let date = |h: &str| {
        call.header(h)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    };
    let changed = match call.header(if_match.0) {
        Some(list) => !etag_in(list),
        None => date(if_unmodified.0).is_some_and(|t| modified_secs > t),
    };
    if changed {
        let name = if call.header(if_match.0).is_some() { if_match.1 } else { if_unmodified.1 };
        return Some(Failed::Changed(name));
    }
    match call.header(if_none_match.0) {
        Some(list) if etag_in(list) => Some(Failed::Unchanged(if_none_match.1)),
        Some(_) => None,
        None => date(if_modified.0).is_some_and(|t| modified_secs <= t).then_some(Failed::Unchanged(if_modified.1)),
    }
}

/// CopyObject's and UploadPartCopy's answer: `<{root}>` with LastModified and ETag.
pub fn copy_result(root: &str, modified_ms: i64, etag: &str) -> Response {
    let mut w = XmlWriter::new();
    w.root(root);
    w.elem("LastModified", &iso8601(modified_ms));
    w.elem("ETag", &format!("\"{etag}\""));
    w.close(root);
    xml_response(w.finish())
}

pub async fn delete(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    remove(svc, call, &call.key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes one key (absent keys are not an error, as in S3) and notifies.
async fn remove(svc: &Arc<Service>, call: &Call, key: &str) -> S3Result<()> {
    let (b, k) = (call.bucket.clone(), key.to_string());
    if let Some(old) = svc.db(move |s| s.delete_object(&b, &k)).await? {
        svc.files.remove(std::slice::from_ref(&old.file));
        svc.notifier
            .emit(Happened {
                event: "ObjectRemoved:Delete",
                region: &svc.region,
                account: &svc.account_id,
                bucket: &call.bucket,
                key,
                created: None,
                time_ms: lamina_core::now_ms(),
                source_ip: &call.source_ip,
                request_id: &call.request_id,
            })
            .await;
    }
    Ok(())
}

pub async fn delete_many(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let (keys, quiet) = crate::xml::parse_delete(&read_xml(body).await?)?;
    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    for key in keys {
        match crate::names::validate_key(&key) {
            Ok(()) => match remove(svc, call, &key).await {
                Ok(()) if quiet => {}
                Ok(()) => {
                    w.open("Deleted");
                    w.elem("Key", &key);
                    w.close("Deleted");
                }
                Err(e) => error_entry(&mut w, &key, &e),
            },
            Err(e) => error_entry(&mut w, &key, &e),
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}

fn error_entry(w: &mut XmlWriter, key: &str, e: &S3Error) {
    w.open("Error");
    w.elem("Key", key);
    w.elem("Code", e.code());
    w.elem("Message", &e.to_string());
    w.close("Error");
}

pub async fn copy(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let (src_bucket, src_key) = crate::copy_source::parse(call.header("x-amz-copy-source").unwrap_or(""))?;
    let replace = directive(call, "x-amz-metadata-directive", "Unknown metadata directive.")?;
    let replace_tags = directive(call, "x-amz-tagging-directive", "Unknown tagging directive.")?;
    let new_tags = if replace_tags { crate::tagging::from_header(call)? } else { Default::default() };
    let source = crate::copy_source::source(svc, call).await?;
    if !replace && src_bucket == call.bucket && src_key == call.key {
        return Err(S3Error::InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into()));
    }
    let mut attrs = if replace { attrs_from(&call.headers) } else { source.attrs.clone() };
    attrs.checksum = source.attrs.checksum.clone();
    let src_file = source.file.clone();
    let file = svc.fs(move |f| f.duplicate(&src_file)).await?;
    let object = Object {
        key: call.key.clone(),
        file,
        size: source.size,
        etag: source.etag.clone(),
        modified_ms: lamina_core::now_ms(),
        attrs,
        tags: if replace_tags { new_tags } else { source.tags.clone() },
    };
    commit(svc, call, &object).await?;
    svc.notifier.emit(created(svc, call, "ObjectCreated:Copy", &object)).await;
    Ok(copy_result("CopyObjectResult", object.modified_ms, &object.etag))
}

/// A CopyObject directive header: COPY (the default, false) or REPLACE (true).
fn directive(call: &Call, header: &str, unknown: &str) -> S3Result<bool> {
    match call.header(header).unwrap_or("COPY") {
        "COPY" => Ok(false),
        "REPLACE" => Ok(true),
        other => Err(S3Error::invalid_argument(unknown, header, other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn attrs_drop_aws_chunked_and_keep_metadata() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "aws-chunked,gzip".parse().unwrap());
        h.insert("x-amz-meta-colour", "blue".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let a = attrs_from(&h);
        assert_eq!(a.headers.get("content-encoding").map(String::as_str), Some("gzip"));
        assert_eq!(a.meta.get("colour").map(String::as_str), Some("blue"));
        assert_eq!(a.content_type.as_deref(), Some("text/plain"));
    }
}
