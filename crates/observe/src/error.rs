//! What can go wrong in the Logs API, and the one place it becomes
//! CloudWatch Logs' error shape: HTTP 400 (500 for our own faults) with
//! `{"__type": "ResourceNotFoundException", "message": "..."}`, which
//! botocore's json protocol turns into `client.exceptions.<__type>`.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::pattern::PatternError;

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("The specified log group does not exist.")]
    GroupNotFound { group: String },
    #[error("The specified log stream does not exist.")]
    StreamNotFound { group: String, stream: String },
    #[error("The specified log group already exists")]
    GroupExists { group: String },
    #[error("{0}")]
    InvalidParameter(String),
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The body is not JSON of the operation's shape.
    #[error("{0}")]
    Serialization(String),
    #[error("Unknown operation {0}")]
    UnknownOperation(String),
    #[error("log database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the log database could not be opened: {0}")]
    Unavailable(String),
    #[error("internal task failed: {0}")]
    Task(String),
}

pub(crate) fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::InvalidParameter(message.into())
}

impl LogsError {
    /// The wire error type and HTTP status.
    fn kind(&self) -> (&'static str, StatusCode) {
        match self {
            LogsError::GroupNotFound { .. } | LogsError::StreamNotFound { .. } => {
                ("ResourceNotFoundException", StatusCode::BAD_REQUEST)
            }
            LogsError::GroupExists { .. } => ("ResourceAlreadyExistsException", StatusCode::BAD_REQUEST),
            LogsError::InvalidParameter(_) | LogsError::Pattern(_) => {
                ("InvalidParameterException", StatusCode::BAD_REQUEST)
            }
            LogsError::Serialization(_) => ("SerializationException", StatusCode::BAD_REQUEST),
            LogsError::UnknownOperation(_) => ("UnknownOperationException", StatusCode::BAD_REQUEST),
            LogsError::Database(_) | LogsError::Unavailable(_) | LogsError::Task(_) => {
                ("ServiceUnavailableException", StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl IntoResponse for LogsError {
    fn into_response(self) -> Response {
        let (kind, status) = self.kind();
        let message = if status.is_server_error() {
            // Internal detail stays in our log.
            tracing::error!(error = %self, "logs api failure");
            "The service cannot complete the request.".to_string()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({ "__type": kind, "message": message }).to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::CONTENT_TYPE));
        resp
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn errors_have_aws_types() {
        assert_eq!(LogsError::GroupNotFound { group: "g".into() }.kind().0, "ResourceNotFoundException");
        assert_eq!(invalid("x").kind(), ("InvalidParameterException", StatusCode::BAD_REQUEST));
        assert_eq!(LogsError::Unavailable("x".into()).kind().1, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
