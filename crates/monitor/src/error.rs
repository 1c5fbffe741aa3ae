//! CloudWatch's errors, each with the shape name, query error code and HTTP
//! status botocore's `cloudwatch` model gives it. [`crate::wire`] renders
//! them in the caller's protocol.

/// Everything an operation can answer instead of its output.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CwError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    InvalidFormat(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// AWS's generic validation failure (not in the model, but what
    /// CloudWatch answers for a malformed alarm, for example).
    #[error("{0}")]
    Validation(String),
    /// The operation exists in CloudWatch but not in Lamina.
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Internal(String),
}

impl CwError {
    /// The error shape's name: `__type` in json and CBOR answers.
    pub fn shape(&self) -> &'static str {
        match self {
            Self::InvalidParameterValue(_) => "InvalidParameterValueException",
            Self::InvalidParameterCombination(_) => "InvalidParameterCombinationException",
            Self::MissingParameter(_) => "MissingRequiredParameterException",
            Self::InvalidNextToken(_) => "InvalidNextToken",
            Self::InvalidFormat(_) => "InvalidFormatFault",
            Self::ResourceNotFound(_) => "ResourceNotFound",
            Self::LimitExceeded(_) => "LimitExceededFault",
            Self::Validation(_) => "ValidationError",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) => "InternalServiceFault",
        }
    }

    /// The query protocol's error code (also sent as `x-amzn-query-error`
    /// in json and CBOR, which botocore prefers for query-compatible services).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
            Self::InvalidParameterCombination(_) => "InvalidParameterCombination",
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidNextToken(_) => "InvalidNextToken",
            Self::InvalidFormat(_) => "InvalidFormat",
            Self::ResourceNotFound(_) => "ResourceNotFound",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::Validation(_) => "ValidationError",
            Self::UnknownOperation(_) => "InvalidAction",
            Self::Internal(_) => "InternalServiceError",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::ResourceNotFound(_) => 404,
            Self::Internal(_) => 500,
            _ => 400,
        }
    }

    /// `Sender` or `Receiver`, as the query protocol's `<Type>` says.
    pub fn fault(&self) -> &'static str {
        match self {
            Self::Internal(_) => "Receiver",
            _ => "Sender",
        }
    }
}

impl From<rusqlite::Error> for CwError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "metrics store failed");
        Self::Internal("The metrics store failed; see the server log.".into())
    }
}
