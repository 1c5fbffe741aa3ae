//! From a request to an S3 operation: method, bucket/key presence and
//! sub-resource query parameters decide, as in botocore's `s3` model
//! (`PUT /{Bucket}?notification`, `POST /{Bucket}/{Key+}?uploads`, ...).

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::error::{S3Error, S3Result};
use crate::{buckets, multipart, objects, presigned, request, tagging, Service};

/// Everything an operation needs from its request, the body aside.
pub struct Call {
    pub request_id: String,
    pub method: Method,
    pub bucket: String,
    pub key: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub source_ip: String,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.contains_key(name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Largest XML request body read (DeleteObjects of 1,000 long keys fits).
pub const MAX_XML_BYTES: usize = 4 * 1024 * 1024;

/// Reads a small XML request body as text.
pub async fn read_xml(body: Body) -> S3Result<String> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, MAX_XML_BYTES);
    let bytes = limited.collect().await.map_err(|_| S3Error::MalformedXml)?.to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| S3Error::MalformedXml)
}

pub async fn handle(svc: Arc<Service>, req: Request) -> Response {
    let request_id = lamina_scheduler::new_request_id();
    let head = req.method() == Method::HEAD;
    let sends_body = sends_body(req.headers());
    let mut resp = match route(&svc, req, &request_id).await {
        Ok(r) => r,
        Err(e) => {
            let mut resp = e.response(&request_id, head);
            if sends_body {
                // The body may be unread, or still on its way: a client that
                // sent `Expect: 100-continue` and heard nothing for a second
                // (botocore waits one) sends it anyway. Reusing the
                // connection would parse those bytes as the next request.
                resp.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp.headers_mut().insert("x-amz-id-2", HeaderValue::from_static("lamina"));
    resp
}

/// Whether a request announces a body (a length above zero, or chunks).
fn sends_body(headers: &HeaderMap) -> bool {
    let length = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    headers.contains_key(http::header::TRANSFER_ENCODING) || length.is_some_and(|n| n.trim() != "0")
}

async fn route(svc: &Arc<Service>, req: Request, request_id: &str) -> S3Result<Response> {
    let (parts, body) = req.into_parts();
    let address = request::address(&parts.headers, parts.uri.path())?;
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let Some(bucket) = address.bucket else {
        return match parts.method {
            Method::GET => buckets::list_buckets(svc).await,
            _ => Err(S3Error::MethodNotAllowed),
        };
    };
    let mut call = Call {
        request_id: request_id.to_string(),
        method: parts.method.clone(),
        bucket,
        key: address.key.clone().unwrap_or_default(),
        query: request::query(parts.uri.query()),
        headers: parts.headers,
        source_ip,
    };
    presigned::check_expiry(&call.query, lamina_core::now_ms() / 1000)?;
    presigned::hoisted_headers(&call.query, &mut call.headers);
    if address.key.is_none() {
        return bucket_operation(svc, call, body).await;
    }
    crate::names::validate_key(&call.key)?;
    let m = &call.method;
    if call.has("uploadId") {
        return match *m {
            Method::PUT if call.header("x-amz-copy-source").is_some() => multipart::upload_part_copy(svc, &call).await,
            Method::PUT => multipart::upload_part(svc, &call, body).await,
            Method::POST => multipart::complete(svc, &call, body).await,
            Method::DELETE => multipart::abort(svc, &call).await,
            Method::GET => multipart::list_parts(svc, &call).await,
            _ => Err(S3Error::MethodNotAllowed),
        };
    }
    if call.has("tagging") {
        return match *m {
            Method::PUT => tagging::put(svc, &call, body).await,
            Method::GET => tagging::get(svc, &call).await,
            Method::DELETE => tagging::delete(svc, &call).await,
            _ => Err(S3Error::MethodNotAllowed),
        };
    }
    if let Some(sub) = ["acl", "retention", "legal-hold", "torrent", "restore", "select", "attributes"]
        .into_iter()
        .find(|s| call.has(s))
    {
        return Err(S3Error::NotImplemented(format!("The object sub-resource ?{sub}")));
    }
    match *m {
        Method::POST if call.has("uploads") => multipart::create(svc, &call).await,
        Method::PUT if call.header("x-amz-copy-source").is_some() => objects::copy(svc, &call).await,
        Method::PUT => objects::put(svc, &call, body).await,
        Method::GET => objects::get(svc, &call, false).await,
        Method::HEAD => objects::get(svc, &call, true).await,
        Method::DELETE => objects::delete(svc, &call).await,
        _ => Err(S3Error::MethodNotAllowed),
    }
}

async fn bucket_operation(svc: &Arc<Service>, call: Call, body: Body) -> S3Result<Response> {
    let m = call.method.clone();
    if call.has("notification") {
        return match m {
            Method::GET => buckets::get_notification(svc, &call).await,
            Method::PUT => buckets::put_notification(svc, &call, body).await,
            _ => Err(S3Error::MethodNotAllowed),
        };
    }
    if call.has("location") && m == Method::GET {
        return buckets::location(svc, &call).await;
    }
    if call.has("versioning") && m == Method::GET {
        return buckets::versioning(svc, &call).await;
    }
    if call.has("uploads") && m == Method::GET {
        return multipart::list_uploads(svc, &call).await;
    }
    if call.has("delete") && m == Method::POST {
        return objects::delete_many(svc, &call, body).await;
    }
    const UNSUPPORTED: &[&str] = &[
        "acl",
        "policy",
        "cors",
        "lifecycle",
        "tagging",
        "website",
        "encryption",
        "logging",
        "replication",
        "versioning",
        "versions",
        "object-lock",
        "ownershipControls",
        "publicAccessBlock",
        "accelerate",
        "requestPayment",
        "inventory",
        "metrics",
        "analytics",
        "intelligent-tiering",
        "policyStatus",
    ];
    if let Some(sub) = UNSUPPORTED.iter().find(|s| call.has(s)) {
        return Err(S3Error::NotImplemented(format!("The bucket sub-resource ?{sub}")));
    }
    match m {
        Method::PUT => buckets::create(svc, &call, body).await,
        Method::DELETE => buckets::delete(svc, &call).await,
        Method::HEAD => buckets::head(svc, &call).await,
        Method::GET => buckets::list_objects(svc, &call).await,
        _ => Err(S3Error::MethodNotAllowed),
    }
}
