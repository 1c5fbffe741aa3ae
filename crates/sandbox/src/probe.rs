//! What the host offers, so the server can refuse to start (or warn) before
//! the first invocation fails.

use std::ffi::c_ulong;

use crate::cgroup::{CgroupVersion, Mounts};

/// The host's support for sandboxes, from [`probe`].
#[derive(Debug, Clone)]
pub struct HostSupport {
    /// Running as root (needed for cgroups, mounts and switching uid).
    pub is_root: bool,
    /// A child could create mount/PID/IPC/UTS namespaces as root and then,
    /// as an unprivileged uid, a user namespace: the exact sequence
    /// [`crate::Isolation::Namespaces`] uses.
    pub namespaces: bool,
    /// The cgroup layout in use, if any has the memory controller.
    pub cgroup_version: Option<CgroupVersion>,
    /// Controllers available for sandboxes among memory, pids and cpu.
    pub controllers: Vec<String>,
    /// Human-readable reasons for anything missing.
    pub problems: Vec<String>,
    /// Things that work but could be faster, for the operator.
    pub hints: Vec<String>,
}

impl HostSupport {
    /// Everything [`crate::Isolation::Namespaces`] needs is there.
    pub fn supports_namespaces(&self) -> bool {
        self.namespaces && self.supports_process()
    }

    /// Everything [`crate::Isolation::Process`] needs is there.
    pub fn supports_process(&self) -> bool {
        self.is_root && self.controllers.iter().any(|c| c == "memory") && self.controllers.iter().any(|c| c == "pids")
    }
}

/// Probes the host. Forks one short-lived child; takes about a millisecond.
pub fn probe() -> HostSupport {
    let mut problems = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    if !is_root {
        problems.push("not running as root: cannot create cgroups, mounts or switch uid".to_owned());
    }

    let mounts = Mounts::detect();
    let cgroup_version = mounts.version();
    let controllers: Vec<String> = match cgroup_version {
        Some(CgroupVersion::V1) => [("memory", &mounts.v1_memory), ("pids", &mounts.v1_pids), ("cpu", &mounts.v1_cpu)]
            .into_iter()
            .filter(|(_, m)| m.is_some())
            .map(|(c, _)| c.to_owned())
            .collect(),
        Some(CgroupVersion::V2) => {
            let available = mounts.v2_controllers();
            ["memory", "pids", "cpu"]
                .into_iter()
                .filter(|c| available.iter().any(|a| a == c))
                .map(str::to_owned)
                .collect()
        }
        None => Vec::new(),
    };
    if cgroup_version.is_none() {
        problems.push("no cgroup hierarchy with the memory controller".to_owned());
    }
    for c in ["memory", "pids"] {
        if cgroup_version.is_some() && !controllers.iter().any(|have| have == c) {
            problems.push(format!("the {c} cgroup controller is not available"));
        }
    }

    let mut hints = Vec::new();
    if cgroup_version.is_some() && mounts.slow_migration {
        hints.push(
            "cgroup hierarchies are mounted without `favordynmods`: moving a process into a \
             cgroup can wait for an RCU grace period (often 5-20 ms) when sandboxes start \
             rarely; remount with `-o remount,favordynmods` (Linux 6.0+) for fast cold starts"
                .to_owned(),
        );
    }
    let namespaces = is_root && probe_namespaces(&mut problems);
    HostSupport { is_root, namespaces, cgroup_version, controllers, problems, hints }
}

/// Runs the namespace sequence of a sandbox in a throwaway child.
fn probe_namespaces(problems: &mut Vec<String>) -> bool {
    // SAFETY: the child makes raw system calls only and leaves with _exit;
    // the parent reaps it.
    unsafe {
        let pid =
            libc::syscall(libc::SYS_clone, libc::SIGCHLD as c_ulong, 0usize, 0usize, 0usize, 0usize) as libc::pid_t;
        if pid < 0 {
            problems.push(format!("fork failed: {}", std::io::Error::last_os_error()));
            return false;
        }
        if pid == 0 {
            let flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
            if libc::unshare(flags) != 0 {
                libc::_exit(1);
            }
            if libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) != 0
                || libc::syscall(libc::SYS_setresgid, 65534u32, 65534u32, 65534u32) != 0
                || libc::syscall(libc::SYS_setresuid, 65534u32, 65534u32, 65534u32) != 0
            {
                libc::_exit(2);
            }
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                libc::_exit(3);
            }
            libc::_exit(0);
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if *libc::__errno_location() != libc::EINTR {
                problems.push("could not reap the namespace probe".to_owned());
                return false;
            }
        }
        match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
            Some(0) => true,
            Some(1) => {
                problems.push("cannot create mount/pid/ipc/uts namespaces".to_owned());
                false
            }
            Some(2) => {
                problems.push("cannot switch to an unprivileged uid".to_owned());
                false
            }
            Some(3) => {
                problems.push("an unprivileged process cannot create a user namespace (check user.max_user_namespaces, kernel.unprivileged_userns_clone, AppArmor)".to_owned());
                false
            }
            _ => {
                problems.push("the namespace probe crashed".to_owned());
                false
            }
        }
    }
}
