//! Isolation for one function execution: a process tree in its own user,
//! mount, PID, IPC and UTS namespaces, with a private read-only root
//! filesystem, cgroup limits and an unprivileged uid.
//!
//! The scheduler fills in a [`SandboxSpec`] and calls [`Sandbox::spawn`],
//! reads the program's merged stdout/stderr from [`Sandbox::take_output`],
//! and ends it with [`Sandbox::kill`] + [`Sandbox::wait`] (or by dropping it,
//! which also removes the cgroups). [`Exit::lambda_reason`] words the end the
//! way Lambda does ("signal: killed"); [`Sandbox::peak_memory_bytes`] and
//! [`Sandbox::oom_killed`] feed the REPORT line. [`probe`] tells the server at
//! startup whether the host can do all this ([`Isolation::Namespaces`]) or
//! only the weaker [`Isolation::Process`] mode.
//!
//! One file per mechanism:
//! - `spec`: [`SandboxSpec`], [`Isolation`], validation, Process-mode path translation;
//! - `cgroup`: v1/v2 detection, per-sandbox cgroups, limits, kill, accounting,
//!   and their removal (a background janitor; [`finish_cleanup`] at shutdown);
//! - `mounts`: the root filesystem layout, as a list of prepared operations;
//! - `child`: the async-signal-safe code between fork and exec (namespaces,
//!   pivot_root, uid switch, user namespace, capabilities), and the process
//!   tree it builds (guard → init as pid 1 → program as pid 2);
//! - `sandbox`: the [`Sandbox`] handle;
//! - `probe`: [`HostSupport`];
//! - `exit`, `error`: [`Exit`], [`SandboxError`].
//!
//! Why a guard process and a separate init: the server must wait on a process
//! in its own PID namespace (the guard), the pid namespace needs an init that
//! reaps orphans and is not the function's program (which does not expect to
//! be pid 1), and the uid map has to be written after the mounts are made, so
//! the mounts stay owned by the initial user namespace and cannot be undone
//! from inside. See `child.rs` for the details.
//!
//! No network namespace is ever created: it is slow and serialised in the
//! kernel; sandboxes share the host's network.

mod cgroup;
mod child;
mod error;
mod exit;
mod mounts;
mod probe;
mod sandbox;
mod spec;

pub use cgroup::{finish_cleanup, reap_orphans, CgroupVersion, CGROUP_PARENT};
pub use child::{SANDBOX_GID, SANDBOX_UID};
pub use error::SandboxError;
pub use exit::Exit;
pub use probe::{probe, HostSupport};
pub use sandbox::Sandbox;
pub use spec::{Cpus, Isolation, SandboxSpec, OPT_DIR, RUNTIME_DIR, TASK_DIR};
