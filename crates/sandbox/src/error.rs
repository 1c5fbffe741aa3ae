//! The one error type of this crate; every variant says what was being done.

use std::io;
use std::path::PathBuf;

/// Why a sandbox could not be created or observed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec cannot be turned into a sandbox (bad id, relative path, NUL byte...).
    #[error("invalid sandbox spec: {reason}")]
    InvalidSpec { reason: String },

    /// The host offers no usable cgroup hierarchy for a controller we need.
    #[error("cgroups unavailable: {reason}")]
    CgroupUnavailable { reason: String },

    /// Creating, configuring or reading one cgroup file failed.
    #[error("cgroup {path}: {source}")]
    Cgroup { path: PathBuf, source: io::Error },

    /// Creating the output pipe (or another host-side resource) failed.
    #[error("failed to create the {what}: {source}")]
    Resource { what: &'static str, source: io::Error },

    /// A step of the in-child setup (namespaces, mounts, privilege drop) failed.
    #[error("sandbox setup failed at `{step}`: {source}")]
    Setup { step: String, source: io::Error },

    /// fork/exec failed, or the program could not be executed inside the sandbox.
    #[error("failed to spawn the sandbox program {}: {source}", program.display())]
    Spawn { program: PathBuf, source: io::Error },

    /// Waiting for the sandbox's main process failed.
    #[error("failed to wait for the sandbox: {source}")]
    Wait { source: io::Error },
}
