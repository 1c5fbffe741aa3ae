//! S3's errors, and the one place they become S3's XML error shape.
//!
//! Every failure answers `<Error><Code/><Message/>[<Key/>|<BucketName/>...]<RequestId/></Error>`
//! with the status S3 uses for that code; a HEAD answer carries the status
//! alone (S3 sends no body there, and botocore reports the bare status code).

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::xml::XmlWriter;

#[derive(Debug, Clone, thiserror::Error)]
pub enum S3Error {
    #[error("The specified bucket does not exist")]
    NoSuchBucket { bucket: String },
    #[error("The specified key does not exist.")]
    NoSuchKey { key: String },
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload { upload_id: String },
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou { bucket: String },
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty { bucket: String },
    #[error("The specified bucket is not valid.")]
    InvalidBucketName { bucket: String },
    #[error("{message}")]
    BadDigest { message: String },
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    #[error("The requested range is not satisfiable")]
    InvalidRange { range: String, size: u64 },
    #[error("The XML you provided was not well-formed or did not validate against our published schema")]
    MalformedXml,
    #[error("One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart { part: u32 },
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("{message}")]
    InvalidArgument { message: String, name: String, value: String },
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{message}")]
    InvalidTag { message: String },
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    AccessDenied { message: String },
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed { condition: &'static str },
    #[error("Not Modified")]
    NotModified,
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    #[error("{0} is not implemented by Lamina")]
    NotImplemented(String),
    #[error("We encountered an internal error. Please try again.")]
    Internal(String),
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchBucket { .. } => "NoSuchBucket",
            Self::NoSuchKey { .. } => "NoSuchKey",
            Self::NoSuchUpload { .. } => "NoSuchUpload",
            Self::BucketAlreadyOwnedByYou { .. } => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty { .. } => "BucketNotEmpty",
            Self::InvalidBucketName { .. } => "InvalidBucketName",
            Self::BadDigest { .. } => "BadDigest",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidRange { .. } => "InvalidRange",
            Self::MalformedXml => "MalformedXML",
            Self::InvalidPart { .. } => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::InvalidArgument { .. } => "InvalidArgument",
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::InvalidTag { .. } => "InvalidTag",
            Self::BadRequest { .. } => "BadRequest",
            Self::AccessDenied { .. } => "AccessDenied",
            Self::KeyTooLong => "KeyTooLongError",
            Self::IncompleteBody => "IncompleteBody",
            Self::MissingContentLength => "MissingContentLength",
            Self::PreconditionFailed { .. } => "PreconditionFailed",
            Self::NotModified => "NotModified",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotImplemented(_) => "NotImplemented",
            Self::Internal(_) => "InternalError",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoSuchBucket { .. } | Self::NoSuchKey { .. } | Self::NoSuchUpload { .. } => StatusCode::NOT_FOUND,
            Self::BucketAlreadyOwnedByYou { .. } | Self::BucketNotEmpty { .. } => StatusCode::CONFLICT,
            Self::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::AccessDenied { .. } => StatusCode::FORBIDDEN,
            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::NotModified => StatusCode::NOT_MODIFIED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Shorthand for an `InvalidArgument` naming the offending argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::InvalidArgument { message: message.into(), name: name.into(), value: value.into() }
    }

    /// The error as S3 answers it. `head` drops the body, as S3 does.
    pub fn response(&self, request_id: &str, head: bool) -> Response {
        if let Self::Internal(detail) = self {
            tracing::error!(request_id, detail, "object store internal error");
        }
        let status = self.status();
        let mut resp = if head || status == StatusCode::NOT_MODIFIED {
            status.into_response()
        } else {
            (status, [(header::CONTENT_TYPE, "application/xml")], self.xml(request_id)).into_response()
        };
        if let Ok(v) = HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        resp
    }

    fn xml(&self, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.open("Error");
        w.elem("Code", self.code());
        w.elem("Message", &self.to_string());
        match self {
            Self::NoSuchBucket { bucket }
            | Self::BucketAlreadyOwnedByYou { bucket }
            | Self::BucketNotEmpty { bucket }
            | Self::InvalidBucketName { bucket } => w.elem("BucketName", bucket),
            Self::NoSuchKey { key } => w.elem("Key", key),
            Self::NoSuchUpload { upload_id } => w.elem("UploadId", upload_id),
            Self::InvalidRange { range, size } => {
                w.elem("RangeRequested", range);
                w.elem("ActualObjectSize", &size.to_string());
            }
            Self::InvalidPart { part } => w.elem("PartNumber", &part.to_string()),
            Self::InvalidArgument { name, value, .. } => {
                w.elem("ArgumentName", name);
                w.elem("ArgumentValue", value);
            }
            Self::PreconditionFailed { condition } => w.elem("Condition", condition),
            _ => {}
        }
        w.elem("RequestId", request_id);
        w.elem("HostId", "lamina");
        w.close("Error");
        w.finish()
    }
}

impl From<rusqlite::Error> for S3Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("sqlite: {e}"))
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(format!("io: {e}"))
    }
}
