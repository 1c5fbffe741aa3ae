//! The [`Sandbox`] handle: spawn, output, wait, kill, accounting, cleanup.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::cgroup::{Cgroup, Limits};
use crate::child::{self, Fixed, Plan, SANDBOX_GID, SANDBOX_UID};
use crate::error::SandboxError;
use crate::exit::Exit;
use crate::mounts::{self, cstring};
use crate::spec::{Cpus, Isolation, SandboxSpec};

/// One running sandbox. Dropping it kills every process in it and removes
/// its cgroups.
#[derive(Debug)]
pub struct Sandbox {
    id: String,
    child: tokio::process::Child,
    pid: u32,
    /// pidfd of `child`, so signals never hit a recycled pid.
    pidfd: Option<OwnedFd>,
    output: Option<OwnedFd>,
    exit: Option<Exit>,
    cgroup: Cgroup,
    spawn_time: Duration,
}

impl Sandbox {
    /// Creates the cgroups and spawns the process tree; returns once the
    /// program has been exec'd, or with the step that failed.
    ///
    /// Must be called within a tokio runtime (the child is reaped by it).
    /// Blocks the calling thread for the fork and setup, typically a few ms.
    pub fn spawn(spec: &SandboxSpec) -> Result<Sandbox, SandboxError> {
        let started = Instant::now();
        spec.validate()?;
        let limits = Limits {
            memory_bytes: u64::from(spec.memory_mib) * 1024 * 1024,
            pids_max: spec.pids_max,
            cpu_shares: spec.cpu_shares,
        };
        let cgroup = Cgroup::create(&spec.id, limits)?;
        let (out_r, out_w) = pipe("output pipe")?;
        let (report_r, report_w) = pipe("report pipe")?;
        let plan = build_plan(spec, &cgroup, report_w.as_raw_fd())?;
        let descriptions: Vec<String> = plan.steps.iter().map(|s| s.what.clone()).collect();

        let mut cmd = command(spec, plan.isolation);
        let out_w2 = out_w.try_clone().map_err(|source| SandboxError::Resource { what: "output pipe", source })?;
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out_w)).stderr(Stdio::from(out_w2));
        let plan = Arc::new(plan);
        // SAFETY: the closure only calls the async-signal-safe code of
        // `child`, on the plan prepared above; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || match plan.isolation {
                Isolation::Namespaces => child::namespaces(&plan),
                Isolation::Process => child::process(&plan),
            });
        }
        let spawned = cmd.spawn();
        drop(cmd); // our copies of the pipe's write end
        drop(report_w);
        let child = match spawned {
            Ok(child) => child,
            Err(source) => {
                return Err(match read_report(&report_r) {
                    Some((step, errno)) => SandboxError::Setup {
                        step: Fixed::describe(step, &descriptions),
                        source: io::Error::from_raw_os_error(errno),
                    },
                    None => SandboxError::Spawn { program: spec.program.clone(), source },
                });
            }
        };
        set_nonblocking(&out_r)?;
        let pid = child.id().unwrap_or(0);
        let spawn_time = started.elapsed();
        tracing::debug!(sandbox = %spec.id, pid, spawn_us = spawn_time.as_micros() as u64, "sandbox spawned");
        Ok(Sandbox {
            id: spec.id.clone(),
            child,
            pid,
            pidfd: pidfd_open(pid),
            output: Some(out_r),
            exit: None,
            cgroup,
            spawn_time,
        })
    }

    /// The read end of the one pipe carrying the program's stdout and
    /// stderr, non-blocking. `None` after the first call.
    pub fn take_output(&mut self) -> Option<OwnedFd> {
        self.output.take()
    }

    /// Host pid of the process `wait` waits on (the guard in Namespaces
    /// mode, the program itself in Process mode).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The sandbox id from the spec.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How long `spawn` took, from the call to the program's exec.
    pub fn spawn_time(&self) -> Duration {
        self.spawn_time
    }

    /// Resolves when the sandbox's main process exits. Cancel-safe, and
    /// returns the same value again once it has resolved.
    pub async fn wait(&mut self) -> Result<Exit, SandboxError> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let status = self.child.wait().await.map_err(|source| SandboxError::Wait { source })?;
        let exit = match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            // Neither code nor signal only happens for stopped processes,
            // which `wait` does not report.
            (None, None) => Exit::Code(-1),
        };
        self.exit = Some(exit);
        Ok(exit)
    }

    /// SIGKILLs every process of the sandbox. Idempotent; `wait` then
    /// resolves promptly with `Exit::Signal(9)` (unless it had already exited).
    pub fn kill(&self) {
        if self.exit.is_none() {
            match &self.pidfd {
                // SAFETY: pidfd_send_signal on our own pidfd.
                Some(fd) => unsafe {
                    libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), libc::SIGKILL, 0usize, 0u32);
                },
                // SAFETY: kill(2); the pid is not yet reaped (exit is None), so not recycled.
                None => unsafe {
                    libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
                },
            }
        }
        self.cgroup.kill_all();
    }

    /// Peak memory use of the sandbox's cgroup, in bytes.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        self.cgroup.peak_memory_bytes()
    }

    /// True when the cgroup's OOM killer has killed a process of this sandbox.
    pub fn oom_killed(&self) -> bool {
        self.cgroup.oom_killed()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
        // Reap now if we can; otherwise tokio reaps the child in the
        // background. The cgroup's own drop removes its directories.
        let _ = self.child.try_wait();
    }
}

/// The program, its arguments and environment, in place for the isolation mode.
fn command(spec: &SandboxSpec, isolation: Isolation) -> tokio::process::Command {
    let mut cmd;
    match isolation {
        Isolation::Namespaces => {
            cmd = tokio::process::Command::new(&spec.program);
            cmd.args(&spec.args);
            cmd.env_clear().envs(spec.env.iter().map(|(k, v)| (k, v)));
        }
        Isolation::Process => {
            cmd = tokio::process::Command::new(spec.host_path(&spec.program));
            cmd.args(spec.args.iter().map(|a| spec.host_str(a)));
            cmd.env_clear();
            for (k, v) in &spec.env {
                cmd.env(k, spec.host_env_value(v));
            }
        }
    }
    cmd.kill_on_drop(false);
    cmd
}

fn build_plan(spec: &SandboxSpec, cgroup: &Cgroup, report_fd: i32) -> Result<Plan, SandboxError> {
    let cgroup_procs = cgroup.procs_files().iter().map(cstring).collect::<Result<Vec<_>, _>>()?;
    let hostname = CString::new(spec.hostname.as_str())
        .map_err(|_| SandboxError::InvalidSpec { reason: "hostname contains NUL".into() })?;
    let (new_root, steps, cwd) = match spec.isolation {
        Isolation::Namespaces => {
            let root = root_mountpoint()?;
            (cstring(root)?, mounts::plan(spec, root)?, cstring(&spec.cwd)?)
        }
        Isolation::Process => (CString::default(), Vec::new(), cstring(spec.host_path(&spec.cwd))?),
    };
    let map = |inside: u32| CString::new(format!("{inside} {} 1", spec.host_uid));
    Ok(Plan {
        isolation: spec.isolation,
        cgroup_procs,
        report_fd,
        host_uid: spec.host_uid,
        hostname,
        new_root,
        steps,
        cwd,
        // Digits and spaces only: cannot contain NUL.
        uid_map: map(SANDBOX_UID).unwrap_or_default(),
        gid_map: map(SANDBOX_GID).unwrap_or_default(),
        cpus: match spec.cpus {
            Cpus::Inherit => None,
            Cpus::One(cpu) => Some(one_cpu(cpu)),
            Cpus::All => process_cpus(),
        },
    })
}

/// The CPUs the server process may use: those of its main thread, which is
/// never pinned (threads serving a shard may be).
fn process_cpus() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; the call only writes it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        (libc::sched_getaffinity(libc::getpid(), std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0).then_some(set)
    }
}

fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; CPU_SET only writes it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// An empty host directory to mount each sandbox's root on. Each mount
/// happens in the sandbox's own mount namespace, so one directory serves all.
fn root_mountpoint() -> Result<&'static PathBuf, SandboxError> {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(|| std::env::temp_dir().join("lamina-sandbox-root"));
    match std::fs::create_dir(root) {
        Ok(()) => Ok(root),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(root),
        Err(source) => Err(SandboxError::Resource { what: "root mountpoint", source }),
    }
}

fn pipe(what: &'static str) -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 fills two new descriptors that we then own.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(SandboxError::Resource { what, source: io::Error::last_os_error() });
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

fn set_nonblocking(fd: &OwnedFd) -> Result<(), SandboxError> {
    // SAFETY: fcntl on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(SandboxError::Resource { what: "output pipe", source: io::Error::last_os_error() })
    }
}

/// The (step, errno) the child wrote before failing, if any.
fn read_report(fd: &OwnedFd) -> Option<(u32, i32)> {
    let mut buf = [0u8; 8];
    // SAFETY: fcntl and read into a stack buffer, on a descriptor we own.
    let n = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
    };
    if n != 8 {
        return None;
    }
    let step = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Some((step, errno))
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor that we then own.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as i32))
    }
}
