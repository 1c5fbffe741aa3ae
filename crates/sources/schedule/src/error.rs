//! The one place schedule errors become EventBridge Scheduler's error
//! shape: `x-amzn-ErrorType` and a `{"Message": ...}` body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ScheduleError {
    pub fn schedule_not_found(name: &str) -> Self {
        Self::NotFound(format!("Schedule {name} does not exist."))
    }

    pub fn group_not_found(name: &str) -> Self {
        Self::NotFound(format!("Schedule group {name} does not exist."))
    }
}

impl IntoResponse for ScheduleError {
    fn into_response(self) -> Response {
        let (status, kind, message) = match self {
            ScheduleError::Validation(m) => (StatusCode::BAD_REQUEST, "ValidationException", m),
            ScheduleError::NotFound(m) => (StatusCode::NOT_FOUND, "ResourceNotFoundException", m),
            ScheduleError::Conflict(m) => (StatusCode::CONFLICT, "ConflictException", m),
            ScheduleError::Store(e) => {
                tracing::error!(error = %e, "schedule store failure");
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException", "An internal error occurred.".into())
            }
        };
        let body = serde_json::json!({ "Message": message }).to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        resp.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(kind));
        resp
    }
}

/// A JSON body decoded leniently: unknown members are ignored, an empty
/// body is `{}`, malformed JSON is a ValidationException.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ScheduleError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| ScheduleError::Validation(format!("Invalid request body: {e}")))
}
