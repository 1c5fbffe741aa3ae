//! One port for every service, like one AWS endpoint: which service a
//! request is for.
//!
//! Most Lambda operations have their own paths and are routed by path. The
//! other services are recognised first, in this order:
//! 1. `X-Amz-Target` (json protocol): `Logs_20140328.*` → logs,
//!    `AmazonSQS.*` → sqs, `GraniteServiceVersion20100801.*` → CloudWatch
//!    metrics; a `smithy-protocol` header or a
//!    `/service/GraniteServiceVersion20100801/` path (rpc-v2-cbor) → CloudWatch
//!    metrics;
//! 2. the service in the SigV4 credential scope of `Authorization`
//!    (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), which is how
//!    query-protocol (SQS, SNS) and rest-xml (S3) clients are told apart;
//!    unsigned requests fall through to path routing;
//! 3. S3 also by a `{bucket}.s3[.{region}].localhost` host or a presigned
//!    URL's `X-Amz-Credential=.../s3/aws4_request` query.
//!
//! A recognised request is handed to that service's router whole.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http::HeaderMap;
use std::sync::Arc;
use tower::ServiceExt;

/// Services reached by header rather than path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Logs,
    Sqs,
    /// SNS (credential scope `sns`; its only protocol is query).
    Sns,
    /// CloudWatch metrics and alarms (credential scope `monitoring`).
    Monitoring,
    /// `{api-id}.execute-api.localhost` and `{url-id}.lambda-url.{region}.localhost` hosts.
    Gateway,
    /// S3: credential scope `s3`, a presigned `X-Amz-Credential=.../s3/aws4_request`
    /// query, or a `{bucket}.s3[.{region}].localhost` host. Unsigned path-style
    /// requests cannot be told from Lambda's paths, so they are not S3.
    S3,
}

/// Which non-Lambda service a request is for, if any.
pub fn classify(headers: &HeaderMap) -> Option<Service> {
    if let Some(host) = headers.get("host").and_then(|v| v.to_str().ok()) {
        let host = host.split(':').next().unwrap_or("");
        if host.contains(".execute-api.") || host.contains(".lambda-url.") {
            return Some(Service::Gateway);
        }
        if lamina_object::request::host_bucket(host).is_some() {
            return Some(Service::S3);
        }
    }
    let scope = credential_scope_service(headers);
    if headers.contains_key("smithy-protocol") && matches!(scope, Some("monitoring") | None) {
        return Some(Service::Monitoring);
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let prefix = target.split('.').next().unwrap_or("");
        return match prefix {
            "Logs_20140328" => Some(Service::Logs),
            "AmazonSQS" => Some(Service::Sqs),
            "GraniteServiceVersion20100801" => Some(Service::Monitoring),
            _ => None,
        };
    }
    match credential_scope_service(headers)? {
        "logs" => Some(Service::Logs),
        "sqs" => Some(Service::Sqs),
        "sns" => Some(Service::Sns),
        "monitoring" => Some(Service::Monitoring),
        "s3" => Some(Service::S3),
        _ => None,
    }
}

/// A presigned S3 URL: SigV4 (`X-Amz-Credential=AKID%2FDATE%2FREGION%2Fs3%2Faws4_request`)
/// or SigV2, which only S3 presigns with (`AWSAccessKeyId`, `Signature`, `Expires`; no `Action`).
fn is_presigned_s3(query: Option<&str>) -> bool {
    let Some(q) = query else { return false };
    let has = |name: &str| q.split('&').any(|p| p.split('=').next() == Some(name));
    let v4 = q.split('&').any(|p| {
        p.strip_prefix("X-Amz-Credential=")
            .is_some_and(|c| c.replace("%2F", "/").replace("%2f", "/").split('/').nth(3) == Some("s3"))
    });
    v4 || (has("AWSAccessKeyId") && has("Signature") && has("Expires") && !has("Action"))
}

/// rpc-v2-cbor requests are also recognised by path, signed or not.
fn is_monitoring_path(path: &str) -> bool {
    path.starts_with("/service/GraniteServiceVersion20100801/")
}

/// `SERVICE` from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
pub fn credential_scope_service(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// The routers of the services the front door dispatches to.
#[derive(Clone)]
pub struct Services {
    pub logs: Router,
    pub sqs: Router,
    pub sns: Router,
    pub monitoring: Router,
    pub gateway: Router,
    pub s3: Router,
}

/// Middleware: sends recognised requests to their service's router.
pub async fn dispatch(State(services): State<Arc<Services>>, req: Request<Body>, next: Next) -> Response {
    let service = classify(req.headers())
        .or_else(|| is_monitoring_path(req.uri().path()).then_some(Service::Monitoring))
        .or_else(|| is_presigned_s3(req.uri().query()).then_some(Service::S3));
    let router = match service {
        Some(Service::Logs) => services.logs.clone(),
        Some(Service::Sqs) => services.sqs.clone(),
        Some(Service::Sns) => services.sns.clone(),
        Some(Service::Monitoring) => services.monitoring.clone(),
        Some(Service::Gateway) => services.gateway.clone(),
        Some(Service::S3) => services.s3.clone(),
        None => return next.run(req).await,
    };
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn recognises_targets_and_credential_scopes() {
        assert_eq!(classify(&headers(&[("x-amz-target", "Logs_20140328.GetLogEvents")])), Some(Service::Logs));
        assert_eq!(classify(&headers(&[("x-amz-target", "AmazonSQS.SendMessage")])), Some(Service::Sqs));
        let auth =
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(classify(&headers(&[("authorization", auth)])), Some(Service::Sqs));
        let sns =
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(classify(&headers(&[("authorization", sns)])), Some(Service::Sns));
        let lambda =
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(classify(&headers(&[("authorization", lambda)])), None);
        assert_eq!(classify(&HeaderMap::new()), None);
        let granite = [("x-amz-target", "GraniteServiceVersion20100801.ListMetrics")];
        assert_eq!(classify(&headers(&granite)), Some(Service::Monitoring));
        assert_eq!(classify(&headers(&[("smithy-protocol", "rpc-v2-cbor")])), Some(Service::Monitoring));
        let monitoring =
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(classify(&headers(&[("authorization", monitoring)])), Some(Service::Monitoring));
        assert!(is_monitoring_path("/service/GraniteServiceVersion20100801/operation/ListMetrics"));
        assert_eq!(classify(&headers(&[("host", "abc123.execute-api.localhost:9000")])), Some(Service::Gateway));
        let s3 = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(classify(&headers(&[("authorization", s3)])), Some(Service::S3));
        assert_eq!(classify(&headers(&[("host", "bkt.s3.localhost:9000")])), Some(Service::S3));
        assert!(is_presigned_s3(Some(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
        )));
        assert!(!is_presigned_s3(Some("X-Amz-Credential=test%2F20240101%2Fus-east-1%2Flambda%2Faws4_request")));
        assert!(is_presigned_s3(Some("AWSAccessKeyId=t&Signature=x%3D&Expires=1795475877")));
        assert!(!is_presigned_s3(Some("Action=SendMessage&AWSAccessKeyId=t&Signature=x&Expires=1")));
        assert_eq!(classify(&headers(&[("host", "127.0.0.1:9000")])), None);
    }
}
