//! SQS's errors, and the one place they become a response in either
//! protocol.
//!
//! The json protocol names the modeled shape in `__type` and, because SQS
//! moved from the query protocol, also sends the legacy query code in
//! `x-amzn-query-error: CODE;Sender` — botocore uses the shape for the
//! exception class (`QueueDoesNotExist`) and the header for `Error.Code`
//! (`AWS.SimpleQueueService.NonExistentQueue`), exactly as with real SQS.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SqsError {
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    #[error("A queue already exists with the same name and a different value for attribute {attribute}")]
    QueueNameExists { attribute: String },
    #[error("The input receipt handle \"{handle}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid { handle: String },
    #[error("Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight { handle: String },
    #[error("Unknown Attribute {name}.")]
    InvalidAttributeName { name: String },
    #[error("Invalid value for the parameter {name}. {reason}")]
    InvalidAttributeValue { name: String, reason: String },
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    #[error("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")]
    InvalidMessageContents,
    #[error("There should be at least one {entry} in the request.")]
    EmptyBatchRequest { entry: &'static str },
    #[error("Maximum number of entries per request are 10. You have sent {count}.")]
    TooManyEntriesInBatchRequest { count: usize },
    #[error("Id {id} repeated.")]
    BatchEntryIdsNotDistinct { id: String },
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId,
    #[error("Batch requests cannot be longer than {limit} bytes. You have sent {size} bytes.")]
    BatchRequestTooLong { limit: usize, size: usize },
    #[error("Only one PurgeQueue operation on {name} is allowed every 60 seconds.")]
    PurgeQueueInProgress { name: String },
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
    #[error("The request body is not valid: {0}")]
    MalformedRequest(String),
    #[error("We encountered an internal error. Please try again.")]
    Internal(String),
}

pub type SqsResult<T> = Result<T, SqsError>;

impl SqsError {
    /// The modeled shape name (json `__type`), or the bare code for errors
    /// SQS does not model.
    pub fn shape(&self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "QueueDoesNotExist",
            Self::QueueNameExists { .. } => "QueueNameExists",
            Self::ReceiptHandleIsInvalid { .. } => "ReceiptHandleIsInvalid",
            Self::MessageNotInflight { .. } => "MessageNotInflight",
            Self::InvalidAttributeName { .. } => "InvalidAttributeName",
            Self::InvalidAttributeValue { .. } => "InvalidAttributeValue",
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidMessageContents => "InvalidMessageContents",
            Self::EmptyBatchRequest { .. } => "EmptyBatchRequest",
            Self::TooManyEntriesInBatchRequest { .. } => "TooManyEntriesInBatchRequest",
            Self::BatchEntryIdsNotDistinct { .. } => "BatchEntryIdsNotDistinct",
            Self::InvalidBatchEntryId => "InvalidBatchEntryId",
            Self::BatchRequestTooLong { .. } => "BatchRequestTooLong",
            Self::PurgeQueueInProgress { .. } => "PurgeQueueInProgress",
            Self::UnsupportedOperation(_) => "UnsupportedOperation",
            Self::InvalidAction(_) => "InvalidAction",
            Self::MalformedRequest(_) => "MalformedQueryString",
            Self::Internal(_) => "InternalError",
        }
    }

    /// The query protocol's code (also `x-amzn-query-error` in json).
    pub fn query_code(&self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            Self::QueueNameExists { .. } => "QueueAlreadyExists",
            Self::MessageNotInflight { .. } => "AWS.SimpleQueueService.MessageNotInflight",
            Self::EmptyBatchRequest { .. } => "AWS.SimpleQueueService.EmptyBatchRequest",
            Self::TooManyEntriesInBatchRequest { .. } => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            Self::BatchEntryIdsNotDistinct { .. } => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            Self::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            Self::BatchRequestTooLong { .. } => "AWS.SimpleQueueService.BatchRequestTooLong",
            Self::PurgeQueueInProgress { .. } => "AWS.SimpleQueueService.PurgeQueueInProgress",
            Self::UnsupportedOperation(_) => "AWS.SimpleQueueService.UnsupportedOperation",
            other => other.shape(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn fault(&self) -> &'static str {
        if matches!(self, Self::Internal(_)) {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// Whether a batch entry failing with this is the caller's fault.
    pub fn sender_fault(&self) -> bool {
        !matches!(self, Self::Internal(_))
    }

    fn log(&self) {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "sqs request failed");
        }
    }

    /// The json protocol's error response.
    pub fn json_response(&self) -> Response {
        self.log();
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.sqs#{}", self.shape()),
            "message": self.to_string(),
        });
        let mut resp = (self.status(), body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
        if let Ok(v) = HeaderValue::from_str(&format!("{};{}", self.query_code(), self.fault())) {
            h.insert("x-amzn-query-error", v);
        }
        resp
    }

    /// The query protocol's `ErrorResponse` document.
    pub fn xml_response(&self, request_id: &str) -> Response {
        self.log();
        let body = format!(
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.fault(),
            self.query_code(),
            crate::protocol::escape(&self.to_string()),
            request_id
        );
        let mut resp = (self.status(), body).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
        resp
    }
}

impl From<rusqlite::Error> for SqsError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.to_string())
    }
}
