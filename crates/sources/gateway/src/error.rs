//! Errors of the two control APIs this crate serves, each leaving in its
//! service's own shape: apigatewayv2 answers `{"message": ...}` with
//! `x-amzn-ErrorType` (NotFoundException, BadRequestException,
//! ConflictException); the Lambda function URL operations answer Lambda's
//! `{"Type", "Message"}` ([`lamina_api::AwsError`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamina_api::AwsError;

use crate::store::StoreError;

/// A domain error of the gateway's control operations.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{message}")]
    NotFound { message: String, resource: &'static str },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GatewayError {
    pub fn not_found(resource: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { message: message.into(), resource }
    }
}

/// A [`GatewayError`] on its way out through the apigatewayv2 API.
#[derive(Debug)]
pub struct ApigwError(pub GatewayError);

impl<E: Into<GatewayError>> From<E> for ApigwError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApigwError {
    fn into_response(self) -> Response {
        let (status, kind, message, resource) = match self.0 {
            GatewayError::NotFound { message, resource } => (404, "NotFoundException", message, Some(resource)),
            GatewayError::BadRequest(m) => (400, "BadRequestException", m, None),
            GatewayError::Conflict(m) => (409, "ConflictException", m, None),
            GatewayError::Store(e) => {
                tracing::error!(error = %e, "gateway store failure");
                (500, "InternalServerErrorException", "An internal error occurred.".to_string(), None)
            }
        };
        let mut body = serde_json::json!({ "message": message });
        if let Some(r) = resource {
            body["resourceType"] = r.into();
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, body.to_string()).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        resp.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(kind));
        resp
    }
}

/// An error of the Lambda function URL operations, in Lambda's shape.
#[derive(Debug)]
pub struct LambdaError(pub AwsError);

impl From<AwsError> for LambdaError {
    fn from(e: AwsError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for LambdaError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "gateway store failure");
        Self(AwsError::service("An internal error occurred in the function URL store."))
    }
}

impl From<lamina_scheduler::InvokeError> for LambdaError {
    fn from(e: lamina_scheduler::InvokeError) -> Self {
        use lamina_scheduler::InvokeError;
        Self(match e {
            InvokeError::NotFound(m) => AwsError::not_found(m),
            InvokeError::Invalid(m) => AwsError::invalid_parameter(m),
            InvokeError::Throttled { reason } => AwsError::throttled(reason),
            InvokeError::Platform(m) => {
                tracing::error!(error = %m, "function lookup failed");
                AwsError::service("An internal error occurred.")
            }
        })
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&e.body()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        resp.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(e.kind));
        resp
    }
}

/// A JSON body decoded leniently: unknown members are ignored, malformed
/// JSON is the service's bad-request error.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| format!("Invalid request body: {e}"))
}
