//! Wire types of the AWS APIs Lamina speaks, and AWS's error shape.
//!
//! Everything here is plain serde data named exactly as botocore's service
//! models name it (`lambda/2015-03-31/service-2.json`): PascalCase JSON
//! members, optional members left out when absent. No I/O lives here, so the
//! server, the CLI and the tests can share these types.
//!
//! - [`error::AwsError`] is the one error value every service answers with:
//!   HTTP status, error type (`x-amzn-ErrorType`) and message.
//! - [`lambda`] holds the Lambda control API's requests and responses.
//! - [`xml`] escapes text for the services that answer in XML.

pub mod error;
pub mod lambda;
pub mod xml;

pub use error::AwsError;
