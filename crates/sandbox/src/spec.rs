//! What a sandbox should be: the spec the scheduler fills in, and its checks.

use std::path::{Component, Path, PathBuf};

use crate::error::SandboxError;

/// Where the function's code is mounted inside the sandbox.
pub const TASK_DIR: &str = "/var/task";
/// Where the runtime (runtime interface client, bootstrap) is mounted.
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Where layers are mounted.
pub const OPT_DIR: &str = "/opt";

/// How strongly a sandbox is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// New user, mount, PID, IPC and UTS namespaces, a private root
    /// filesystem, cgroups, an unprivileged uid. The default.
    #[default]
    Namespaces,
    /// A plain process: cgroups and an unprivileged uid only. No private
    /// filesystem: the code, runtime and layer directories are used in place
    /// (see [`SandboxSpec`] for how paths are translated). For hosts without
    /// user namespaces, when the operator explicitly asks for it.
    Process,
}

/// Which CPUs a sandbox's processes may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cpus {
    /// Those of the thread that starts the sandbox.
    #[default]
    Inherit,
    /// Only this one (a pinned shard's).
    One(usize),
    /// Every CPU the server may use.
    All,
}

/// Everything needed to start one sandbox.
///
/// Paths named "inside" are as the program sees them. In
/// [`Isolation::Process`] mode there is no private filesystem, so `program`,
/// `cwd`, each argument and each `:`-separated element of each environment
/// value that starts with `/var/task`, `/var/runtime` or `/opt` is rewritten
/// to the corresponding host directory.
///
/// The sandbox runs as `host_uid`, so `code_dir`, `runtime_dir` and `opt_dir`
/// must be readable (and directories searchable) by that uid.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Unique among live sandboxes; names the cgroups (`lamina/<id>`).
    /// Letters, digits, `-`, `_` and `.` only.
    pub id: String,
    /// Host directory mounted read-only at `/var/task`.
    pub code_dir: PathBuf,
    /// Host directory mounted read-only at `/var/runtime`.
    pub runtime_dir: Option<PathBuf>,
    /// Host directory mounted read-only at `/opt` (layers).
    pub opt_dir: Option<PathBuf>,
    /// Absolute path of the program, inside the sandbox.
    pub program: PathBuf,
    /// `argv[1..]`.
    pub args: Vec<String>,
    /// The entire environment; nothing is inherited from the server.
    pub env: Vec<(String, String)>,
    /// Working directory, inside the sandbox (normally `/var/task`).
    pub cwd: PathBuf,
    /// Memory limit of the cgroup; swap is disabled where the host allows.
    pub memory_mib: u32,
    /// Size of the private tmpfs at `/tmp`.
    pub tmp_mib: u32,
    /// Maximum number of processes and threads.
    pub pids_max: u32,
    /// Optional CPU weight (v1 `cpu.shares`; converted to v2 `cpu.weight`).
    pub cpu_shares: Option<u32>,
    /// The CPUs the sandbox's processes may run on.
    pub cpus: Cpus,
    /// Unprivileged host uid (and gid) the sandbox runs as; distinct per live sandbox.
    pub host_uid: u32,
    /// Hostname inside the sandbox.
    pub hostname: String,
    /// How strongly to isolate.
    pub isolation: Isolation,
}

impl SandboxSpec {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let invalid = |reason: String| Err(SandboxError::InvalidSpec { reason });
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 200
            && self.id != "."
            && self.id != ".."
            && self.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !id_ok {
            return invalid(format!("id {:?} must be 1-200 of [A-Za-z0-9._-]", self.id));
        }
        if self.host_uid == 0 {
            return invalid("host_uid must not be 0".into());
        }
        if self.memory_mib == 0 || self.tmp_mib == 0 || self.pids_max == 0 {
            return invalid("memory_mib, tmp_mib and pids_max must be positive".into());
        }
        for (what, path) in [("program", &self.program), ("cwd", &self.cwd)] {
            if !path.is_absolute() {
                return invalid(format!("{what} {} must be absolute", path.display()));
            }
        }
        let host_dirs = [Some(&self.code_dir), self.runtime_dir.as_ref(), self.opt_dir.as_ref()];
        for dir in host_dirs.into_iter().flatten() {
            if !dir.is_absolute() || !dir.is_dir() {
                return invalid(format!("{} must be an absolute path to a directory", dir.display()));
            }
        }
        if self.hostname.len() > 64 {
            return invalid("hostname is longer than 64 bytes".into());
        }
        let has_nul = self.args.iter().any(|a| a.contains('\0'))
            || self.env.iter().any(|(k, v)| k.contains('\0') || k.contains('=') || v.contains('\0'))
            || self.hostname.contains('\0');
        if has_nul {
            return invalid("arguments, environment and hostname must not contain NUL (or `=` in names)".into());
        }
        Ok(())
    }

    /// The in-sandbox directories and the host directories behind them.
    fn translations(&self) -> Vec<(&'static str, &Path)> {
        let mut t = vec![(TASK_DIR, self.code_dir.as_path())];
        if let Some(d) = &self.runtime_dir {
            t.push((RUNTIME_DIR, d.as_path()));
        }
        if let Some(d) = &self.opt_dir {
            t.push((OPT_DIR, d.as_path()));
        }
        t
    }

    /// Maps an in-sandbox path to the host path behind it (Process mode).
    pub(crate) fn host_path(&self, inside: &Path) -> PathBuf {
        for (mount, host) in self.translations() {
            if let Ok(rest) = inside.strip_prefix(mount) {
                // strip_prefix works on whole components, so /optical stays.
                if rest.as_os_str().is_empty() {
                    return host.to_owned();
                }
                if rest.components().all(|c| matches!(c, Component::Normal(_))) {
                    return host.join(rest);
                }
            }
        }
        inside.to_owned()
    }

    /// Like [`Self::host_path`] for a string that may or may not be a path.
    pub(crate) fn host_str(&self, s: &str) -> String {
        if s.starts_with('/') {
            self.host_path(Path::new(s)).to_string_lossy().into_owned()
        } else {
            s.to_owned()
        }
    }

    /// Environment value with each `:`-separated path element translated.
    pub(crate) fn host_env_value(&self, value: &str) -> String {
        value.split(':').map(|e| self.host_str(e)).collect::<Vec<_>>().join(":")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            id: "t1".into(),
            code_dir: "/srv/code".into(),
            runtime_dir: Some("/srv/rt".into()),
            opt_dir: None,
            program: "/var/task/bootstrap".into(),
            args: vec![],
            env: vec![],
            cwd: "/var/task".into(),
            memory_mib: 128,
            tmp_mib: 16,
            pids_max: 64,
            cpu_shares: None,
            cpus: Cpus::Inherit,
            host_uid: 100_000,
            hostname: "h".into(),
            isolation: Isolation::Process,
        }
    }

    #[test]
    fn translates_paths_for_process_mode() {
        let s = spec();
        assert_eq!(s.host_path(Path::new("/var/task/bootstrap")), Path::new("/srv/code/bootstrap"));
        assert_eq!(s.host_path(Path::new("/var/task")), Path::new("/srv/code"));
        assert_eq!(s.host_path(Path::new("/var/taskx")), Path::new("/var/taskx"));
        assert_eq!(s.host_path(Path::new("/opt/x")), Path::new("/opt/x"));
        assert_eq!(s.host_env_value("/var/runtime:/var/task:/x"), "/srv/rt:/srv/code:/x");
        assert_eq!(s.host_str("-c"), "-c");
    }

    #[test]
    fn rejects_bad_ids() {
        let mut s = spec();
        s.code_dir = "/".into();
        s.runtime_dir = None;
        assert!(s.validate().is_ok());
        for id in ["", "..", "a/b", "a b"] {
            s.id = id.into();
            assert!(s.validate().is_err(), "{id:?}");
        }
    }
}
