//! AWS's error shape: an HTTP status, an error type that boto3 maps to an
//! exception class, and a message. The server turns an [`AwsError`] into a
//! response in exactly one place.

use serde::Serialize;

/// One AWS error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    /// The error type, e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    pub message: String,
    /// Throttling reason (`TooManyRequestsException` only).
    pub reason: Option<&'static str>,
}

/// The JSON body Lambda sends with an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "Type")]
    pub type_: &'static str,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    pub message_upper: Option<&'a str>,
    /// Lambda's throttle body spells it lower-case.
    #[serde(rename = "message", skip_serializing_if = "Option::is_none")]
    pub message_lower: Option<&'a str>,
    #[serde(rename = "Reason", skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl AwsError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into(), reason: None }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceConflictException", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValueException", message)
    }

    pub fn invalid_request_content(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestContentException", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestTooLargeException", message)
    }

    pub fn invalid_zip(message: impl Into<String>) -> Self {
        Self::new(502, "InvalidZipFileException", message)
    }

    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new(412, "PreconditionFailedException", message)
    }

    pub fn throttled(reason: &'static str) -> Self {
        Self { status: 429, kind: "TooManyRequestsException", message: "Rate Exceeded.".into(), reason: Some(reason) }
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new(500, "ServiceException", message)
    }

    pub fn unknown_operation() -> Self {
        Self::new(404, "UnknownOperationException", "Unknown operation")
    }

    /// Whether the caller is at fault (AWS's `Type: User`) or the service is.
    pub fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Service"
        } else {
            "User"
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody<'_> {
        let throttle = self.reason.is_some();
        ErrorBody {
            type_: self.fault(),
            message_upper: (!throttle).then_some(self.message.as_str()),
            message_lower: throttle.then_some(self.message.as_str()),
            reason: self.reason,
        }
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_body_uses_lower_case_message_and_reason() {
        let e = AwsError::throttled("ConcurrentInvocationLimitExceeded");
        let v = serde_json::to_value(e.body()).unwrap();
        assert_eq!(v["message"], "Rate Exceeded.");
        assert_eq!(v["Reason"], "ConcurrentInvocationLimitExceeded");
        assert!(v.get("Message").is_none());
    }

    #[test]
    fn not_found_is_a_user_fault_with_upper_case_message() {
        let v = serde_json::to_value(AwsError::not_found("Function not found: x").body()).unwrap();
        assert_eq!(v["Type"], "User");
        assert_eq!(v["Message"], "Function not found: x");
    }
}
