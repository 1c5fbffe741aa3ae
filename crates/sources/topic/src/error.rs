//! SNS's errors, and the one place they become its XML error document.
//!
//! Codes and HTTP statuses are botocore's `sns` model's (`NotFound` 404,
//! `InvalidParameter` 400, `ParameterValueInvalid` 400 for
//! InvalidParameterValueException, ...). Internal detail is logged, never
//! returned.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum TopicError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("Two or more batch entries in the request have the same Id.")]
    BatchEntryIdsNotDistinct,
    #[error("The batch request doesn't contain any entries.")]
    EmptyBatchRequest,
    #[error("The batch request contains more entries than permissible.")]
    TooManyEntriesInBatchRequest,
    #[error("The length of all the messages put together is more than the limit.")]
    BatchRequestTooLong,
    #[error("{0}")]
    InvalidBatchEntryId(String),
    #[error("{0}")]
    TagLimitExceeded(String),
    #[error("The requested action is not valid for this endpoint: {0}")]
    InvalidAction(String),
    #[error("{0}")]
    Internal(String),
}

impl TopicError {
    /// The model's error code (the `<Code>` element).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFound",
            Self::InvalidParameter(_) => "InvalidParameter",
            Self::InvalidParameterValue(_) => "ParameterValueInvalid",
            Self::ResourceNotFound(_) => "ResourceNotFound",
            Self::BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            Self::EmptyBatchRequest => "EmptyBatchRequest",
            Self::TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            Self::BatchRequestTooLong => "BatchRequestTooLong",
            Self::InvalidBatchEntryId(_) => "InvalidBatchEntryId",
            Self::TagLimitExceeded(_) => "TagLimitExceeded",
            Self::InvalidAction(_) => "InvalidAction",
            Self::Internal(_) => "InternalError",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) | Self::ResourceNotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn fault(&self) -> &'static str {
        match self {
            Self::Internal(_) => "Receiver",
            _ => "Sender",
        }
    }

    /// The message a caller sees (internal detail stays in the log).
    fn public_message(&self) -> String {
        match self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "sns request failed inside lamina");
                "Internal Error".into()
            }
            other => other.to_string(),
        }
    }

    /// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
    pub fn xml_response(&self, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            crate::xml::NAMESPACE,
            self.fault(),
            self.code(),
            crate::xml::escape(&self.public_message()),
            crate::xml::escape(request_id),
        );
        let mut resp = (self.status(), body).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
        resp
    }
}

impl From<rusqlite::Error> for TopicError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("topics.sqlite: {e}"))
    }
}

pub type TopicResult<T> = Result<T, TopicError>;
