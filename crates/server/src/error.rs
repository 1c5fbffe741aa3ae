//! The one place domain errors become AWS's error response, and the JSON
//! body extractor whose failures take the same path.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamina_api::AwsError;
use lamina_core::Invalid;
use lamina_scheduler::InvokeError;
use lamina_store::{BlobError, StoreError};
use serde::de::DeserializeOwned;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub AwsError);

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.status >= 500 {
            tracing::error!(error_type = e.kind, message = %e.message, "request failed");
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&e.body()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(e.kind));
        headers.insert("x-amzn-requestid", request_id_header());
        resp
    }
}

/// Every AWS response names its request (boto3's ResponseMetadata.RequestId).
pub(crate) async fn with_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("x-amzn-requestid") {
        resp.headers_mut().insert("x-amzn-requestid", request_id_header());
    }
    resp
}

pub(crate) fn request_id_header() -> HeaderValue {
    HeaderValue::from_str(&lamina_scheduler::new_request_id()).unwrap_or(HeaderValue::from_static("-"))
}

impl From<AwsError> for ApiError {
    fn from(e: AwsError) -> Self {
        Self(e)
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self(AwsError::invalid_parameter(e.0))
    }
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        Self(match e {
            InvokeError::Throttled { reason } => AwsError::throttled(reason),
            InvokeError::NotFound(m) => AwsError::not_found(m),
            InvokeError::Invalid(m) => AwsError::invalid_parameter(m),
            InvokeError::Platform(m) => {
                tracing::error!(error = %m, "invoke failed in the platform");
                AwsError::service("An internal error occurred while running the function.")
            }
        })
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        Self(match e {
            BlobError::InvalidZip(_) => AwsError::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            ),
            other => {
                tracing::error!(error = %other, "blob store failure");
                AwsError::service("An internal error occurred while storing the code.")
            }
        })
    }
}

/// Store failures other than not-found/conflict, which handlers map with
/// their own message.
pub(crate) fn store_failure(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError(AwsError::service("An internal error occurred in the metadata store."))
}

/// A JSON body; malformed input is `InvalidRequestContentException`.
pub struct AwsJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AwsJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| {
            ApiError(AwsError::too_large("Request must be smaller than 69905067 bytes for the operation"))
        })?;
        let bytes = if bytes.is_empty() { axum::body::Bytes::from_static(b"{}") } else { bytes };
        serde_json::from_slice(&bytes).map(AwsJson).map_err(|e| {
            ApiError(AwsError::invalid_request_content(format!("Could not parse request body into json: {e}")))
        })
    }
}
