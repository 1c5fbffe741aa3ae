//! Functions, versions and aliases.
//!
//! A function is a set of [`FunctionVersion`]s: the mutable `$LATEST` and
//! immutable numbered versions that PublishVersion snapshots from it. Each
//! version names its code by SHA-256, so code and configuration change
//! together, atomically, when a version record is replaced.

use std::collections::BTreeMap;

use lamina_api::lambda::{
    self as wire, AliasConfiguration, AliasRoutingConfiguration, EphemeralStorage, FunctionConfiguration,
};
use serde::{Deserialize, Serialize};

use crate::{Invalid, Partition};

pub const LATEST: &str = "$LATEST";
pub const MIN_MEMORY_MIB: i64 = 128;
pub const MAX_MEMORY_MIB: i64 = 10240;
pub const DEFAULT_MEMORY_MIB: u32 = 128;
pub const MAX_TIMEOUT_SECS: i64 = 900;
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
pub const DEFAULT_EPHEMERAL_MIB: u32 = 512;
/// Lambda limits a function's environment variables to 4 KB in all.
pub const MAX_ENV_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Pending,
    Active,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStatus {
    InProgress,
    Successful,
    Failed,
}

/// One version of a function: its whole configuration and its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionVersion {
    pub name: String,
    /// `$LATEST` or a decimal version number.
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub memory_mib: u32,
    pub timeout_secs: u32,
    pub ephemeral_mib: u32,
    pub env: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    pub tracing_mode: String,
    pub dead_letter_arn: Option<String>,
    /// Hex SHA-256 of the code zip; also the blob's name.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified_ms: i64,
    pub revision_id: String,
    pub state: State,
    pub last_update: UpdateStatus,
}

impl FunctionVersion {
    pub fn is_latest(&self) -> bool {
        self.version == LATEST
    }

    /// Lambda's `FunctionConfiguration` for this version.
    pub fn configuration(&self, partition: &Partition) -> FunctionConfiguration {
        let (state_reason, state_reason_code) = match self.state {
            State::Pending => (Some("The function is being created."), Some("Creating")),
            State::Active => (None, None),
            State::Failed => (Some("The function could not be created."), Some("InternalError")),
        };
        let (update_reason, update_reason_code) = match self.last_update {
            UpdateStatus::InProgress => (Some("The function is being updated."), Some("Updating")),
            _ => (None, None),
        };
        let arn = if self.is_latest() {
            partition.function_arn(&self.name)
        } else {
            partition.qualified_arn(&self.name, &self.version)
        };
        FunctionConfiguration {
            function_name: self.name.clone(),
            function_arn: arn,
            runtime: self.runtime.clone(),
            role: self.role.clone(),
            handler: self.handler.clone(),
            code_size: self.code_size,
            description: self.description.clone(),
            timeout: self.timeout_secs,
            memory_size: self.memory_mib,
            last_modified: crate::lambda_timestamp(self.last_modified_ms),
            code_sha256: code_sha256_base64(&self.code_sha256),
            version: self.version.clone(),
            environment: wire::Environment { variables: self.env.clone() },
            tracing_config: wire::TracingConfig { mode: Some(self.tracing_mode.clone()) },
            dead_letter_config: self
                .dead_letter_arn
                .clone()
                .map(|arn| wire::DeadLetterConfig { target_arn: Some(arn) }),
            revision_id: self.revision_id.clone(),
            state: match self.state {
                State::Pending => "Pending",
                State::Active => "Active",
                State::Failed => "Failed",
            },
            state_reason,
            state_reason_code,
            last_update_status: match self.last_update {
                UpdateStatus::InProgress => "InProgress",
                UpdateStatus::Successful => "Successful",
                UpdateStatus::Failed => "Failed",
            },
            last_update_status_reason: update_reason,
            last_update_status_reason_code: update_reason_code,
            package_type: "Zip",
            architectures: self.architectures.clone(),
            ephemeral_storage: EphemeralStorage { size: self.ephemeral_mib },
            snap_start: wire::SnapStartResponse { apply_on: "None", optimization_status: "Off" },
            logging_config: wire::LoggingConfig { log_format: "Text", log_group: log_group(&self.name) },
        }
    }
}

/// The CloudWatch log group Lambda gives a function.
pub fn log_group(name: &str) -> String {
    format!("/aws/lambda/{name}")
}

/// Lambda reports CodeSha256 as base64 of the digest; Lamina keeps hex.
pub fn code_sha256_base64(hex_digest: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_digest).unwrap_or_default())
}

/// Checks MemorySize against Lambda's range.
pub fn validate_memory(mib: i64) -> Result<u32, Invalid> {
    if (MIN_MEMORY_MIB..=MAX_MEMORY_MIB).contains(&mib) {
        Ok(mib as u32)
    } else {
        Err(Invalid(format!(
            "1 validation error detected: Value '{mib}' at 'memorySize' failed to satisfy constraint: \
             Member must have value {}",
            if mib < MIN_MEMORY_MIB { "greater than or equal to 128" } else { "less than or equal to 10240" }
        )))
    }
}

/// Checks Timeout against Lambda's range.
pub fn validate_timeout(secs: i64) -> Result<u32, Invalid> {
    if (1..=MAX_TIMEOUT_SECS).contains(&secs) {
        Ok(secs as u32)
    } else {
        Err(Invalid(format!(
            "1 validation error detected: Value '{secs}' at 'timeout' failed to satisfy constraint: \
             Member must have value {}",
            if secs < 1 { "greater than or equal to 1" } else { "less than or equal to 900" }
        )))
    }
}

/// Checks EphemeralStorage.Size (512–10240 MB).
pub fn validate_ephemeral(mib: u32) -> Result<u32, Invalid> {
    if (512..=10240).contains(&mib) {
        Ok(mib)
    } else {
        Err(Invalid(format!(
            "1 validation error detected: Value '{mib}' at 'ephemeralStorage.size' failed to satisfy constraint: \
             Member must have value between 512 and 10240"
        )))
    }
}

/// Checks environment variable names and the 4 KB total.
pub fn validate_env(env: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for key in env.keys() {
        let ok = key.len() >= 2
            && key.as_bytes()[0].is_ascii_alphabetic()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(Invalid(format!(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: \
                 Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] ({key})"
            )));
        }
        if is_reserved_env(key) {
            return Err(Invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you \
                 have provided contains reserved keys that are currently not supported for modification. \
                 Reserved keys used in this request: {key}"
            )));
        }
    }
    let size: usize = serde_json_size(env);
    if size > MAX_ENV_BYTES {
        return Err(Invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided exceeded the 4KB limit. String measured: {size}"
        )));
    }
    Ok(())
}

fn serde_json_size(env: &BTreeMap<String, String>) -> usize {
    serde_json::to_string(env).map(|s| s.len()).unwrap_or(usize::MAX)
}

fn is_reserved_env(key: &str) -> bool {
    const RESERVED: &[&str] = &[
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    ];
    RESERVED.contains(&key)
}

/// Checks the architectures list: one of `x86_64` or `arm64`.
pub fn validate_architectures(archs: &[String]) -> Result<Vec<String>, Invalid> {
    match archs {
        [] => Ok(vec!["x86_64".into()]),
        [a] if a == "x86_64" || a == "arm64" => Ok(vec![a.clone()]),
        _ => Err(Invalid(format!(
            "1 validation error detected: Value '{archs:?}' at 'architectures' failed to satisfy constraint: \
             Member must have length less than or equal to 1, and members must be one of [x86_64, arm64]"
        ))),
    }
}

/// An alias: a name pointing at a version, optionally splitting traffic
/// with a second version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub function: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

impl Alias {
    pub fn configuration(&self, partition: &Partition) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: partition.qualified_arn(&self.function, &self.name),
            name: self.name.clone(),
            function_version: self.version.clone(),
            description: self.description.clone(),
            routing_config: (!self.weights.is_empty())
                .then(|| AliasRoutingConfiguration { additional_version_weights: self.weights.clone() }),
            revision_id: self.revision_id.clone(),
        }
    }
}

/// Checks an alias's routing weights: at most one extra version, weight in [0, 1].
pub fn validate_weights(weights: &BTreeMap<String, f64>, primary: &str) -> Result<(), Invalid> {
    if weights.len() > 1 {
        return Err(Invalid("Number of items in AdditionalVersionWeights cannot be greater than 1".into()));
    }
    for (version, w) in weights {
        if !(0.0..=1.0).contains(w) || w.is_nan() {
            return Err(Invalid(format!(
                "1 validation error detected: Value '{w}' at 'routingConfig.additionalVersionWeights' failed to \
                 satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal \
                 to 1.0, Member must have value greater than or equal to 0.0]"
            )));
        }
        if version == primary {
            return Err(Invalid(format!(
                "Invalid function version {version}. Function version {version} is already included in routing configuration."
            )));
        }
        if version == LATEST {
            return Err(Invalid("$LATEST is not supported for an alias pointing to more than 1 version".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_sha256_is_base64_of_the_digest() {
        // sha256("") in hex and base64.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(code_sha256_base64(hex), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn limits_match_lambda() {
        assert!(validate_memory(127).is_err());
        assert_eq!(validate_memory(128).unwrap(), 128);
        assert_eq!(validate_memory(10240).unwrap(), 10240);
        assert!(validate_memory(10241).is_err());
        assert!(validate_timeout(0).is_err());
        assert!(validate_timeout(901).is_err());
        assert_eq!(validate_timeout(900).unwrap(), 900);
    }

    #[test]
    fn env_rules() {
        let mut env = BTreeMap::new();
        env.insert("GOOD_NAME".to_string(), "x".to_string());
        assert!(validate_env(&env).is_ok());
        env.insert("AWS_REGION".to_string(), "x".to_string());
        assert!(validate_env(&env).is_err());
        let mut big = BTreeMap::new();
        big.insert("BIG".to_string(), "x".repeat(5000));
        assert!(validate_env(&big).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("1abc".to_string(), "x".to_string());
        assert!(validate_env(&bad).is_err());
    }

    #[test]
    fn weights_rules() {
        let mut w = BTreeMap::new();
        w.insert("2".to_string(), 0.3);
        assert!(validate_weights(&w, "1").is_ok());
        assert!(validate_weights(&w, "2").is_err());
        w.insert("2".to_string(), 1.5);
        assert!(validate_weights(&w, "1").is_err());
    }
}
