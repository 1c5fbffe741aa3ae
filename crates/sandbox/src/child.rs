//! The code that runs between fork and exec, in the child std's `Command`
//! forks. Everything here is async-signal-safe: the server is multi-threaded,
//! so after fork only raw system calls on memory prepared before the fork (the
//! [`Plan`]) are allowed. No allocation, no locks, no `format!`.
//!
//! Process tree in [`Isolation::Namespaces`] mode:
//!
//! ```text
//! server ── guard (host root; the pid tokio waits on; mirrors the exit)
//!             └── init (pid 1 of the new pid ns; reaps orphans, reports the program's status)
//!                   └── program (pid 2; execs the function's program)
//! ```
//!
//! The guard joins the cgroups, leaves the server's session and unshares the
//! mount, PID, IPC and UTS namespaces, then forks init. Init, still root in
//! the initial user namespace, builds the root filesystem and pivots into it,
//! drops to `host_uid`, and only then creates the user namespace that maps
//! in-sandbox uid 993 to `host_uid`. Mounts therefore belong to a mount
//! namespace owned by the initial user namespace, and the sandbox (whose
//! capabilities only count in its own user namespace) can never unmount or
//! remount them. Init is not dumpable, so the program cannot read init's
//! memory (a copy of the server's) through ptrace or `/proc/1/mem`.
//!
//! On failure a step number and errno go down the report pipe, and the errno
//! goes back to std, which turns it into the `spawn` error.
//!
//! [`Isolation::Namespaces`]: crate::Isolation::Namespaces

use std::ffi::{c_int, c_ulong, CString};
use std::io;
use std::os::fd::RawFd;
use std::ptr;

use crate::Isolation;

/// The uid and gid the program has inside its user namespace: Lambda's
/// `sbx_user1051` is uid 993, gid 990.
pub const SANDBOX_UID: u32 = 993;
pub const SANDBOX_GID: u32 = 990;

/// File descriptor limit inside the sandbox, as on Lambda.
const NOFILE: u64 = 1024;

/// One filesystem operation of the root filesystem build, on host paths.
#[derive(Debug)]
pub(crate) enum Op {
    Mkdir(CString),
    /// An empty file, to bind a device node onto.
    Touch(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: c_ulong,
        data: Option<CString>,
    },
    /// Applies `MOUNT_ATTR_*` flags to a mount and everything under it.
    Restrict {
        target: CString,
        attrs: u64,
    },
}

/// An [`Op`] and what to call it in an error message.
#[derive(Debug)]
pub(crate) struct Step {
    pub op: Op,
    pub what: String,
}

/// Everything the child needs, prepared before fork.
#[derive(Debug)]
pub(crate) struct Plan {
    pub isolation: Isolation,
    pub cgroup_procs: Vec<CString>,
    pub report_fd: RawFd,
    pub host_uid: u32,
    pub hostname: CString,
    /// The host directory the new root is mounted on (Namespaces mode).
    pub new_root: CString,
    pub steps: Vec<Step>,
    pub cwd: CString,
    pub uid_map: CString,
    pub gid_map: CString,
    /// The CPUs the program may run on, when not those of the thread that
    /// forks it (see [`SandboxSpec::cpus`](crate::SandboxSpec::cpus)).
    pub cpus: Option<libc::cpu_set_t>,
}

/// Fixed steps, numbered for the report pipe. Filesystem steps are
/// `STEP_OPS + index`.
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub(crate) enum Fixed {
    Setsid = 1,
    JoinCgroup,
    Unshare,
    Pipe,
    Fork,
    Hostname,
    MakePrivate,
    PivotRoot,
    RootReadOnly,
    Rlimit,
    DropIds,
    UnshareUser,
    UidMap,
    Caps,
    NoNewPrivs,
    Chdir,
}

pub(crate) const STEP_OPS: u32 = 1000;

impl Fixed {
    pub fn describe(step: u32, plan_steps: &[String]) -> String {
        if step >= STEP_OPS {
            return match plan_steps.get((step - STEP_OPS) as usize) {
                Some(s) => s.clone(),
                None => format!("filesystem step {}", step - STEP_OPS),
            };
        }
        let name = match step {
            1 => "setsid",
            2 => "join cgroup",
            3 => "unshare mount/pid/ipc/uts namespaces",
            4 => "create pipe",
            5 => "fork",
            6 => "set hostname",
            7 => "make mounts private",
            8 => "pivot_root into the new root",
            9 => "make the root read-only",
            10 => "set rlimits",
            11 => "switch to host_uid",
            12 => "unshare user namespace",
            13 => "write uid/gid map",
            14 => "drop capabilities",
            15 => "set no_new_privs",
            16 => "chdir to cwd",
            _ => "unknown step",
        };
        name.to_owned()
    }
}

/// Reports `step` and the current errno, and returns that errno as an error.
fn fail(plan: &Plan, step: u32) -> io::Error {
    let err = io::Error::last_os_error();
    let errno = err.raw_os_error().unwrap_or(libc::EIO);
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&step.to_ne_bytes());
    msg[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: writing a stack buffer to a pipe fd we own.
    unsafe { libc::write(plan.report_fd, msg.as_ptr().cast(), msg.len()) };
    io::Error::from_raw_os_error(errno)
}

fn check(plan: &Plan, ret: c_int, step: Fixed) -> io::Result<()> {
    if ret < 0 {
        Err(fail(plan, step as u32))
    } else {
        Ok(())
    }
}

/// Entry point for `pre_exec` in Namespaces mode.
///
/// # Safety
/// Only call in a freshly forked child, before exec.
pub(crate) unsafe fn namespaces(plan: &Plan) -> io::Result<()> {
    // SAFETY (whole function): raw system calls on the plan's pre-built
    // strings and on stack buffers; we are the only thread of this process.
    unsafe {
        check(plan, libc::setsid(), Fixed::Setsid)?;
        // The guard dies with the server (SIGKILL included), and with it the
        // whole sandbox: nothing runs past its timeout unwatched. PDEATHSIG
        // follows the forking thread; sandboxes are spawned from the
        // runtime's long-lived worker threads.
        // (A server that dies between fork and here leaves a cgroup that
        // `reap_orphans` clears at the next start.)
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong);
        join_cgroups(plan)?;
        set_cpus(plan);
        // The guard and init are forks of the server and so map all of its
        // memory: keep the OOM killer's eye on the program instead.
        write_file(c"/proc/self/oom_score_adj".as_ptr(), b"-1000");
        let flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        check(plan, libc::unshare(flags), Fixed::Unshare)?;

        let mut death = [-1; 2]; // guard holds the write end while alive
        let mut status = [-1; 2]; // init reports the program's wait status
        check(plan, libc::pipe2(death.as_mut_ptr(), libc::O_CLOEXEC), Fixed::Pipe)?;
        check(plan, libc::pipe2(status.as_mut_ptr(), libc::O_CLOEXEC), Fixed::Pipe)?;

        let init = raw_fork();
        if init < 0 {
            return Err(fail(plan, Fixed::Fork as u32));
        }
        if init > 0 {
            guard(init, death[1], status[0]);
        }

        // init: pid 1 of the new pid namespace.
        libc::close(death[1]);
        libc::close(status[0]);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong);
        // The guard may have died before PDEATHSIG was armed.
        let mut pfd = libc::pollfd { fd: death[0], events: libc::POLLIN, revents: 0 };
        if libc::poll(&mut pfd, 1, 0) != 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            libc::_exit(1);
        }
        libc::close(death[0]);

        let host = plan.hostname.as_bytes();
        check(plan, libc::sethostname(host.as_ptr().cast(), host.len()), Fixed::Hostname)?;
        build_root(plan)?;
        drop_ids(plan)?;
        enter_user_ns(plan)?;
        drop_caps(plan)?;
        check(plan, libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as c_ulong, 0, 0, 0), Fixed::NoNewPrivs)?;

        let program = raw_fork();
        if program < 0 {
            return Err(fail(plan, Fixed::Fork as u32));
        }
        if program > 0 {
            init_loop(program, status[1]);
        }

        // program: pid 2. Back to a normal OOM score, then exec (std does it).
        write_file(c"/proc/self/oom_score_adj".as_ptr(), b"0");
        check(plan, libc::chdir(plan.cwd.as_ptr()), Fixed::Chdir)?;
        mark_cloexec_from(3);
        // Last: this process still holds the server's descriptors (closed at
        // exec), whose numbers may exceed the sandbox's limit; lowering
        // RLIMIT_NOFILE earlier would make every later open fail with EMFILE.
        set_rlimits(plan)?;
        Ok(())
    }
}

/// Entry point for `pre_exec` in Process mode: cgroups and a uid, no namespaces.
///
/// # Safety
/// Only call in a freshly forked child, before exec.
pub(crate) unsafe fn process(plan: &Plan) -> io::Result<()> {
    // SAFETY: raw system calls on pre-built strings; single-threaded child.
    unsafe {
        check(plan, libc::setsid(), Fixed::Setsid)?;
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong);
        join_cgroups(plan)?;
        set_cpus(plan);
        set_rlimits(plan)?;
        drop_ids(plan)?;
        check(plan, libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as c_ulong, 0, 0, 0), Fixed::NoNewPrivs)?;
        check(plan, libc::chdir(plan.cwd.as_ptr()), Fixed::Chdir)?;
        mark_cloexec_from(3);
        Ok(())
    }
}

/// Replaces the CPU mask inherited from the forking thread, if the plan says
/// so. Best effort: if it fails, the program runs where that thread may run.
unsafe fn set_cpus(plan: &Plan) {
    if let Some(cpus) = &plan.cpus {
        // SAFETY: sched_setaffinity on this process with a set we only read.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), cpus) };
    }
}

unsafe fn join_cgroups(plan: &Plan) -> io::Result<()> {
    for procs in &plan.cgroup_procs {
        // "0" means "the writing process", so no pid formatting is needed.
        // SAFETY: pre-built path.
        if !unsafe { write_file(procs.as_ptr(), b"0") } {
            return Err(fail(plan, Fixed::JoinCgroup as u32));
        }
    }
    Ok(())
}

/// Runs the filesystem steps, then pivots into the new root and detaches the old one.
unsafe fn build_root(plan: &Plan) -> io::Result<()> {
    // SAFETY: raw system calls on pre-built strings.
    unsafe {
        let rec_private = libc::MS_REC | libc::MS_PRIVATE;
        check(
            plan,
            libc::mount(ptr::null(), c"/".as_ptr(), ptr::null(), rec_private, ptr::null()),
            Fixed::MakePrivate,
        )?;
        for (i, step) in plan.steps.iter().enumerate() {
            if !run_op(&step.op) {
                return Err(fail(plan, STEP_OPS + i as u32));
            }
        }
        let dot = c".".as_ptr();
        check(plan, libc::chdir(plan.new_root.as_ptr()), Fixed::PivotRoot)?;
        check(plan, libc::syscall(libc::SYS_pivot_root, dot, dot) as c_int, Fixed::PivotRoot)?;
        // The old root is now stacked on top of the new one at "/": detach it.
        check(plan, libc::umount2(dot, libc::MNT_DETACH), Fixed::PivotRoot)?;
        check(plan, libc::chdir(c"/".as_ptr()), Fixed::PivotRoot)?;
        let ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        check(plan, libc::mount(ptr::null(), c"/".as_ptr(), ptr::null(), ro, ptr::null()), Fixed::RootReadOnly)?;
        Ok(())
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

unsafe fn run_op(op: &Op) -> bool {
    let opt = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    // SAFETY: raw system calls on pre-built strings and a stack struct.
    unsafe {
        match op {
            Op::Mkdir(path) => libc::mkdir(path.as_ptr(), 0o755) == 0 || *libc::__errno_location() == libc::EEXIST,
            Op::Touch(path) => {
                let fd = libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
                fd >= 0 && libc::close(fd) == 0
            }
            Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()) == 0,
            Op::Mount { source, target, fstype, flags, data } => {
                let data = opt(data).cast();
                libc::mount(opt(source), target.as_ptr(), opt(fstype), *flags, data) == 0
            }
            Op::Restrict { target, attrs } => {
                let attr = MountAttr { attr_set: *attrs, attr_clr: 0, propagation: 0, userns_fd: 0 };
                let ret = libc::syscall(
                    libc::SYS_mount_setattr,
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    libc::AT_RECURSIVE as c_ulong,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                );
                if ret == 0 {
                    return true;
                }
                if *libc::__errno_location() != libc::ENOSYS {
                    return false;
                }
                // Before Linux 5.12: remount the top mount only.
                let mut flags = libc::MS_REMOUNT | libc::MS_BIND;
                for (bit, flag) in [
                    (MOUNT_ATTR_RDONLY, libc::MS_RDONLY),
                    (MOUNT_ATTR_NOSUID, libc::MS_NOSUID),
                    (MOUNT_ATTR_NODEV, libc::MS_NODEV),
                    (MOUNT_ATTR_NOEXEC, libc::MS_NOEXEC),
                ] {
                    if attrs & bit != 0 {
                        flags |= flag;
                    }
                }
                libc::mount(ptr::null(), target.as_ptr(), ptr::null(), flags, ptr::null()) == 0
            }
        }
    }
}

unsafe fn set_rlimits(plan: &Plan) -> io::Result<()> {
    // SAFETY: setrlimit with stack structs.
    unsafe {
        // No core files: they would land on the host through a core_pattern pipe.
        let core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        check(plan, libc::setrlimit(libc::RLIMIT_CORE, &core), Fixed::Rlimit)?;
        let nofile = libc::rlimit { rlim_cur: NOFILE, rlim_max: NOFILE };
        check(plan, libc::setrlimit(libc::RLIMIT_NOFILE, &nofile), Fixed::Rlimit)?;
        Ok(())
    }
}

/// Root -> host_uid/host_gid with no supplementary groups. Leaving uid 0
/// clears the permitted and effective capability sets. Raw system calls:
/// glibc's wrappers would try to signal the server's other threads.
unsafe fn drop_ids(plan: &Plan) -> io::Result<()> {
    let id = plan.host_uid;
    // SAFETY: plain id system calls.
    unsafe {
        check(plan, libc::syscall(libc::SYS_setgroups, 0usize, ptr::null::<libc::gid_t>()) as c_int, Fixed::DropIds)?;
        check(plan, libc::syscall(libc::SYS_setresgid, id, id, id) as c_int, Fixed::DropIds)?;
        check(plan, libc::syscall(libc::SYS_setresuid, id, id, id) as c_int, Fixed::DropIds)?;
    }
    Ok(())
}

/// Creates the user namespace and maps SANDBOX_UID/GID to host_uid. An
/// unprivileged process may map exactly its own ids, after denying setgroups.
unsafe fn enter_user_ns(plan: &Plan) -> io::Result<()> {
    // SAFETY: raw system calls on pre-built strings.
    unsafe {
        // Changing uid made us non-dumpable, which would make our /proc files
        // root's; the maps must be writable by us.
        libc::prctl(libc::PR_SET_DUMPABLE, 1 as c_ulong);
        check(plan, libc::unshare(libc::CLONE_NEWUSER), Fixed::UnshareUser)?;
        let ok = write_file(c"/proc/self/setgroups".as_ptr(), b"deny")
            && write_file(c"/proc/self/uid_map".as_ptr(), plan.uid_map.as_bytes())
            && write_file(c"/proc/self/gid_map".as_ptr(), plan.gid_map.as_bytes());
        if !ok {
            return Err(fail(plan, Fixed::UidMap as u32));
        }
        Ok(())
    }
}

/// Clears the bounding set and every capability set, so nothing (not even
/// capabilities in our own user namespace) survives exec.
unsafe fn drop_caps(plan: &Plan) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl/capset with stack structs of the kernel's layout.
    unsafe {
        for cap in 0..64 {
            // EINVAL past the last capability the kernel knows; ignore.
            libc::prctl(libc::PR_CAPBSET_DROP, cap as c_ulong, 0, 0, 0);
        }
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong, 0, 0, 0);
        let header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
        let data =
            [Data { effective: 0, permitted: 0, inheritable: 0 }, Data { effective: 0, permitted: 0, inheritable: 0 }];
        let ret = libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr());
        check(plan, ret as c_int, Fixed::Caps)
    }
}

/// The guard: outside the sandbox's namespaces, the process the server
/// waits on. Waits for init and mirrors the program's exit.
unsafe fn guard(init: libc::pid_t, death_w: RawFd, status_r: RawFd) -> ! {
    // SAFETY: raw system calls; never returns to Rust code that could allocate.
    unsafe {
        reset_signals();
        close_all_but(death_w, status_r);
        let mut init_status = 0;
        loop {
            let r = libc::waitpid(init, &mut init_status, libc::__WALL);
            if r == init {
                break;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        let mut buf = [0u8; 4];
        let n = libc::read(status_r, buf.as_mut_ptr().cast(), buf.len());
        // Without a report init died first (killed, or failed during setup).
        let status = if n == 4 { i32::from_ne_bytes(buf) } else { init_status };
        mirror(status)
    }
}

/// Init: pid 1 of the sandbox. Reaps every orphan; when the program exits,
/// reports its status and exits, which kills whatever is left in the namespace.
unsafe fn init_loop(program: libc::pid_t, status_w: RawFd) -> ! {
    // SAFETY: raw system calls only.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0 as c_ulong);
        reset_signals();
        close_all_but(status_w, status_w);
        loop {
            let mut status = 0;
            let r = libc::waitpid(-1, &mut status, libc::__WALL);
            if r == program {
                let bytes = status.to_ne_bytes();
                libc::write(status_w, bytes.as_ptr().cast(), bytes.len());
                libc::_exit(0);
            }
            if r < 0 && *libc::__errno_location() == libc::ECHILD {
                libc::_exit(0);
            }
        }
    }
}

/// Ends this process the way the wait status says the program ended.
unsafe fn mirror(status: c_int) -> ! {
    // SAFETY: raw system calls only.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            // We are a copy of the server: never dump core.
            let core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &core);
            libc::prctl(libc::PR_SET_DUMPABLE, 0 as c_ulong);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
            // Signals whose default is to ignore come back here.
            libc::_exit(128 + sig);
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        libc::_exit(127)
    }
}

/// fork(2) without glibc's atfork handlers: in a child of a multi-threaded
/// process, glibc's fork could wait on a malloc lock held by a thread that
/// no longer exists.
unsafe fn raw_fork() -> libc::pid_t {
    // SAFETY: clone with only SIGCHLD and no new stack is fork.
    unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as c_ulong, 0usize, 0usize, 0usize, 0usize) as libc::pid_t }
}

/// Default dispositions and an empty mask: the server's handlers (tokio's)
/// must not run in the guard or init.
unsafe fn reset_signals() {
    // SAFETY: sigaction/sigprocmask with stack structs.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = libc::SIG_DFL;
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &act, ptr::null_mut());
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
    }
}

/// Closes every descriptor except `a` and `b` (which may be equal).
unsafe fn close_all_but(a: RawFd, b: RawFd) {
    let (lo, hi) = (a.min(b) as u32, a.max(b) as u32);
    // SAFETY: close_range only closes descriptors.
    unsafe {
        if lo > 0 {
            libc::close_range(0, lo - 1, 0);
        }
        if hi > lo + 1 {
            libc::close_range(lo + 1, hi - 1, 0);
        }
        libc::close_range(hi + 1, u32::MAX, 0);
    }
}

/// Marks every descriptor from `first` up close-on-exec, so nothing the
/// server leaked without O_CLOEXEC reaches the program.
unsafe fn mark_cloexec_from(first: u32) {
    // SAFETY: only changes descriptor flags.
    unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as c_int) };
}

/// Writes `data` to an existing file in one write; true on success.
unsafe fn write_file(path: *const libc::c_char, data: &[u8]) -> bool {
    // SAFETY: path is NUL-terminated; data is a valid slice.
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let saved = *libc::__errno_location();
        libc::close(fd);
        *libc::__errno_location() = saved;
        n == data.len() as isize
    }
}
