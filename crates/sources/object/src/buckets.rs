//! Bucket operations: CreateBucket, DeleteBucket, HeadBucket, ListBuckets,
//! GetBucketLocation, ListObjects (v1 and v2) and the notification
//! configuration.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{header, StatusCode};
use std::sync::Arc;

use crate::api::{read_xml, Call};
use crate::error::{S3Error, S3Result};
use crate::listing::{self, Params};
use crate::notify::NotificationConfig;
use crate::request::url_encode;
use crate::xml::XmlWriter;
use crate::{iso8601, names, Service};

pub fn xml_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn owner(w: &mut XmlWriter, account: &str) {
    w.open("Owner");
    w.elem("ID", account);
    w.elem("DisplayName", "lamina");
    w.close("Owner");
}

pub async fn list_buckets(svc: &Arc<Service>) -> S3Result<Response> {
    let buckets = svc.db(|s| s.buckets()).await?;
    let mut w = XmlWriter::new();
    w.root("ListAllMyBucketsResult");
    owner(&mut w, &svc.account_id);
    w.open("Buckets");
    for b in buckets {
        w.open("Bucket");
        w.elem("Name", &b.name);
        w.elem("CreationDate", &iso8601(b.created_ms));
        w.elem("BucketRegion", &b.region);
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

pub async fn create(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    names::validate_bucket(&call.bucket)?;
    let location = crate::xml::parse_location(&read_xml(body).await?)?;
    let region = location.unwrap_or_else(|| svc.region.clone());
    let (name, now) = (call.bucket.clone(), lamina_core::now_ms());
    let created = svc.db(move |s| s.create_bucket(&name, &region, now)).await?;
    if !created {
        return Err(S3Error::BucketAlreadyOwnedByYou { bucket: call.bucket.clone() });
    }
    tracing::info!(bucket = call.bucket, "bucket created");
    Ok((StatusCode::OK, [(header::LOCATION, format!("/{}", call.bucket))]).into_response())
}

pub async fn delete(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let name = call.bucket.clone();
    match svc.db(move |s| s.delete_bucket(&name)).await? {
        None => Err(S3Error::BucketNotEmpty { bucket: call.bucket.clone() }),
        Some(part_files) => {
            svc.files.remove(&part_files);
            svc.notifier.forget(&call.bucket);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

pub async fn head(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let b = svc.bucket(&call.bucket).await?;
    Ok((StatusCode::OK, [("x-amz-bucket-region", b.region)]).into_response())
}

pub async fn location(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let b = svc.bucket(&call.bucket).await?;
    let mut w = XmlWriter::new();
    w.root("LocationConstraint");
    // us-east-1 is written as an empty constraint, as S3 does.
    if b.region != "us-east-1" {
        w.text(&b.region);
    }
    w.close("LocationConstraint");
    Ok(xml_response(w.finish()))
}

pub async fn versioning(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let mut w = XmlWriter::new();
    w.root("VersioningConfiguration");
    w.close("VersioningConfiguration");
    Ok(xml_response(w.finish()))
}

pub async fn get_notification(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    Ok(xml_response(svc.notifier.config(&call.bucket).to_xml()))
}

pub async fn put_notification(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let config = NotificationConfig::from_xml(&read_xml(body).await?)?;
    svc.notifier.validate(&config)?;
    let (bucket, json) =
        (call.bucket.clone(), serde_json::to_string(&config).map_err(|e| S3Error::Internal(e.to_string()))?);
    svc.db(move |s| s.set_notification(&bucket, &json)).await?;
    svc.notifier.set(&call.bucket, config, &call.request_id);
    Ok(StatusCode::OK.into_response())
}

/// ListObjects (v1) and ListObjectsV2 (`list-type=2`).
pub async fn list_objects(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    svc.bucket(&call.bucket).await?;
    let v2 = call.param("list-type") == Some("2");
    let max_keys = match call.param("max-keys") {
        None => 1000,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                S3Error::invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", v)
            })?
            .min(1000) as usize,
    };
    let encode = call.param("encoding-type") == Some("url");
    if let Some(e) = call.param("encoding-type").filter(|e| *e != "url") {
        return Err(S3Error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", e));
    }
    let token = call.param("continuation-token").filter(|_| v2);
    let after = match token {
        Some(t) => Some(decode_token(t)?),
        None if v2 => call.param("start-after").map(str::to_string),
        None => call.param("marker").map(str::to_string),
    };
    let params = Params {
        prefix: call.param("prefix").unwrap_or("").to_string(),
        delimiter: call.param("delimiter").map(str::to_string),
        after,
        max_keys,
    };
    let store = svc.store.clone();
    let bucket = call.bucket.clone();
    let list_params = params.clone();
    let listing = tokio::task::spawn_blocking(move || {
        listing::list(&list_params, |after, prefix, limit| store.list(&bucket, after, prefix, limit))
    })
    .await
    .map_err(|e| S3Error::Internal(e.to_string()))??;

    let enc = |s: &str| if encode { url_encode(s) } else { s.to_string() };
    let mut w = XmlWriter::new();
    w.root("ListBucketResult");
    w.elem("Name", &call.bucket);
    w.elem("Prefix", &enc(&params.prefix));
    if v2 {
        if let Some(t) = token {
            w.elem("ContinuationToken", t);
        }
        if let Some(s) = call.param("start-after") {
            w.elem("StartAfter", &enc(s));
        }
        w.elem("KeyCount", &(listing.contents.len() + listing.common_prefixes.len()).to_string());
    } else {
        w.elem("Marker", &enc(call.param("marker").unwrap_or("")));
    }
    w.elem("MaxKeys", &max_keys.to_string());
    if let Some(d) = &params.delimiter {
        w.elem("Delimiter", &enc(d));
    }
    if encode {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if listing.truncated { "true" } else { "false" });
    if listing.truncated {
        if let Some(last) = &listing.last {
            if v2 {
                w.elem("NextContinuationToken", &encode_token(last));
            } else {
                w.elem("NextMarker", &enc(last));
            }
        }
    }
    let with_owner = !v2 || call.param("fetch-owner") == Some("true");
    for e in &listing.contents {
        w.open("Contents");
        w.elem("Key", &enc(&e.key));
        w.elem("LastModified", &iso8601(e.modified_ms));
        w.elem("ETag", &format!("\"{}\"", e.etag));
        w.elem("Size", &e.size.to_string());
        if with_owner {
            owner(&mut w, &svc.account_id);
        }
        w.elem("StorageClass", "STANDARD");
        w.close("Contents");
    }
    for p in &listing.common_prefixes {
        w.open("CommonPrefixes");
        w.elem("Prefix", &enc(p));
        w.close("CommonPrefixes");
    }
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
        })
}
