//! Cgroups: one directory per sandbox (`<hierarchy>/lamina/<id>`), created and
//! configured before the child starts, joined by the child (it writes `0` to
//! `cgroup.procs`) before any user code runs, and removed on drop.
//!
//! Both layouts are supported and detected at runtime from `/proc/self/mountinfo`:
//! v1 (one hierarchy per controller: memory, pids, cpu) when the memory
//! controller is mounted as v1, otherwise v2 (one unified hierarchy, with the
//! controllers enabled in `cgroup.subtree_control` on the way down).

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::SandboxError;

/// The directory under each hierarchy's root that holds every sandbox's cgroup.
pub const CGROUP_PARENT: &str = "lamina";

/// Which cgroup layout the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// Where the hierarchies we care about are mounted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mounts {
    pub v1_memory: Option<PathBuf>,
    pub v1_pids: Option<PathBuf>,
    pub v1_cpu: Option<PathBuf>,
    pub v2: Option<PathBuf>,
    /// Some hierarchy we use is mounted without `favordynmods`.
    pub slow_migration: bool,
}

impl Mounts {
    pub fn detect() -> Mounts {
        let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts = Mounts::default();
        for line in text.lines() {
            // "<id> <parent> <dev> <root> <mountpoint> <opts> [optional...] - <fstype> <source> <superopts>"
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let mountpoint = match left.split(' ').nth(4) {
                Some(m) => PathBuf::from(unescape(m)),
                None => continue,
            };
            let mut right = right.split(' ');
            let fstype = right.next().unwrap_or("");
            let superopts = right.nth(1).unwrap_or("");
            let dynmods = superopts.split(',').any(|o| o == "favordynmods");
            match fstype {
                "cgroup" => {
                    let ours = superopts.split(',').any(|o| matches!(o, "memory" | "pids" | "cpu"));
                    mounts.slow_migration |= ours && !dynmods;
                    for opt in superopts.split(',') {
                        let slot = match opt {
                            "memory" => &mut mounts.v1_memory,
                            "pids" => &mut mounts.v1_pids,
                            "cpu" => &mut mounts.v1_cpu,
                            _ => continue,
                        };
                        slot.get_or_insert_with(|| mountpoint.clone());
                    }
                }
                "cgroup2" => {
                    if mounts.v2.is_none() && !dynmods {
                        mounts.slow_migration = true;
                    }
                    mounts.v2.get_or_insert(mountpoint);
                }
                _ => {}
            }
        }
        mounts
    }

    /// v1 when the memory controller is mounted as v1; v2 when the unified
    /// hierarchy offers the memory controller; otherwise nothing usable.
    pub fn version(&self) -> Option<CgroupVersion> {
        if self.v1_memory.is_some() {
            Some(CgroupVersion::V1)
        } else if self.v2_controllers().iter().any(|c| c == "memory") {
            Some(CgroupVersion::V2)
        } else {
            None
        }
    }

    pub fn v2_controllers(&self) -> Vec<String> {
        let Some(root) = &self.v2 else { return Vec::new() };
        fs::read_to_string(root.join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Limits applied to one sandbox's cgroup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub memory_bytes: u64,
    pub pids_max: u32,
    pub cpu_shares: Option<u32>,
}

/// The cgroup directories of one sandbox. Removed on drop (best effort, with
/// retries while the last processes finish exiting).
#[derive(Debug)]
pub(crate) struct Cgroup {
    version: CgroupVersion,
    /// v1: memory, pids, [cpu]; v2: the one directory. Memory first.
    dirs: Vec<PathBuf>,
    /// The peak-memory file, opened on first read and kept: every invocation
    /// reads it for its REPORT line, and one `pread` is cheaper than
    /// open + fstat + read + close on the hot path.
    peak: OnceLock<Option<fs::File>>,
}

impl Cgroup {
    pub fn create(id: &str, limits: Limits) -> Result<Cgroup, SandboxError> {
        let mounts = Mounts::detect();
        match mounts.version() {
            Some(CgroupVersion::V1) => Self::create_v1(&mounts, id, limits),
            Some(CgroupVersion::V2) => Self::create_v2(&mounts, id, limits),
            None => Err(SandboxError::CgroupUnavailable {
                reason: "no v1 memory hierarchy and no v2 hierarchy with the memory controller".into(),
            }),
        }
    }

    fn create_v1(mounts: &Mounts, id: &str, limits: Limits) -> Result<Cgroup, SandboxError> {
        let memory = mounts.v1_memory.as_ref().ok_or_else(|| unavailable("memory"))?;
        let pids = mounts.v1_pids.as_ref().ok_or_else(|| unavailable("pids"))?;
        let mut cg = Cgroup { version: CgroupVersion::V1, dirs: Vec::new(), peak: OnceLock::new() };

        let mem_dir = cg.make_dir(memory, id)?;
        write(&mem_dir.join("memory.limit_in_bytes"), &limits.memory_bytes.to_string())?;
        // memsw exists only with swap accounting; without it, swappiness 0 is
        // the closest we get to "no swap".
        let memsw = mem_dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &limits.memory_bytes.to_string())?;
        } else {
            let _ = write(&mem_dir.join("memory.swappiness"), "0");
        }

        let pids_dir = cg.make_dir(pids, id)?;
        write(&pids_dir.join("pids.max"), &limits.pids_max.to_string())?;

        if let Some(shares) = limits.cpu_shares {
            let cpu = mounts.v1_cpu.as_ref().ok_or_else(|| unavailable("cpu"))?;
            let cpu_dir = cg.make_dir(cpu, id)?;
            write(&cpu_dir.join("cpu.shares"), &shares.max(2).to_string())?;
        }
        Ok(cg)
    }

    fn create_v2(mounts: &Mounts, id: &str, limits: Limits) -> Result<Cgroup, SandboxError> {
        let root = mounts.v2.as_ref().ok_or_else(|| unavailable("cgroup2"))?;
        let available = mounts.v2_controllers();
        let mut wanted = vec!["memory", "pids"];
        if limits.cpu_shares.is_some() {
            wanted.push("cpu");
        }
        if let Some(missing) = wanted.iter().find(|c| !available.iter().any(|a| a == *c)) {
            return Err(unavailable(missing));
        }
        let enable: String = wanted.iter().map(|c| format!("+{c} ")).collect();
        let parent = root.join(CGROUP_PARENT);
        write(&root.join("cgroup.subtree_control"), enable.trim_end())?;
        mkdir(&parent)?;
        write(&parent.join("cgroup.subtree_control"), enable.trim_end())?;

        let mut cg = Cgroup { version: CgroupVersion::V2, dirs: Vec::new(), peak: OnceLock::new() };
        let dir = cg.make_dir(root, id)?;
        write(&dir.join("memory.max"), &limits.memory_bytes.to_string())?;
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            write(&swap, "0")?;
        }
        write(&dir.join("pids.max"), &limits.pids_max.to_string())?;
        if let Some(shares) = limits.cpu_shares {
            // The kernel's own v1 -> v2 conversion.
            let shares = u64::from(shares.clamp(2, 262_144));
            let weight = 1 + ((shares - 2) * 9999) / 262_142;
            write(&dir.join("cpu.weight"), &weight.to_string())?;
        }
        Ok(cg)
    }

    /// Creates `<hierarchy>/lamina/<id>`, remembering it for cleanup.
    fn make_dir(&mut self, hierarchy: &Path, id: &str) -> Result<PathBuf, SandboxError> {
        let parent = hierarchy.join(CGROUP_PARENT);
        mkdir(&parent)?;
        let dir = parent.join(id);
        fs::create_dir(&dir).map_err(|source| SandboxError::Cgroup { path: dir.clone(), source })?;
        self.dirs.push(dir.clone());
        Ok(dir)
    }

    /// The `cgroup.procs` files the child writes itself into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    fn memory_dir(&self) -> Option<&Path> {
        self.dirs.first().map(PathBuf::as_path)
    }

    /// SIGKILLs every process in the cgroup. v2 has `cgroup.kill`; v1 needs a
    /// read-and-kill loop (a few passes to catch processes forked meanwhile).
    pub fn kill_all(&self) {
        if self.version == CgroupVersion::V2 {
            if let Some(dir) = self.dirs.first() {
                if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                    return;
                }
            }
        }
        for _ in 0..3 {
            let mut any = false;
            for procs in self.procs_files() {
                let Ok(text) = fs::read_to_string(&procs) else { continue };
                for pid in text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                    any = true;
                    // SAFETY: kill(2) with a pid read from our own cgroup; no memory is touched.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if !any {
                break;
            }
        }
    }

    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let file = self
            .peak
            .get_or_init(|| {
                let name = match self.version {
                    CgroupVersion::V1 => "memory.max_usage_in_bytes",
                    CgroupVersion::V2 => "memory.peak",
                };
                fs::File::open(self.memory_dir()?.join(name)).ok()
            })
            .as_ref()?;
        // A cgroup control file is regenerated on every read from offset 0.
        let mut buf = [0u8; 32];
        let n = file.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }

    pub fn oom_killed(&self) -> bool {
        let Some(dir) = self.memory_dir() else { return false };
        match self.version {
            CgroupVersion::V1 => {
                let text = fs::read_to_string(dir.join("memory.oom_control")).unwrap_or_default();
                let field = |name: &str| {
                    text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<u64>().ok())
                };
                // `oom_kill` exists since Linux 4.13; `under_oom` is the older hint.
                match field("oom_kill ") {
                    Some(n) => n > 0,
                    None => field("under_oom ").is_some_and(|n| n > 0),
                }
            }
            CgroupVersion::V2 => {
                let text = fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
            }
        }
    }

    /// Tries to remove every directory for up to `budget`; returns those left.
    fn try_remove(dirs: Vec<PathBuf>, budget: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + budget;
        let mut left = dirs;
        loop {
            left.retain(|d| match fs::remove_dir(d) {
                Ok(()) => false,
                Err(e) => e.kind() != io::ErrorKind::NotFound,
            });
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Close the kept control file before the directories go.
        self.peak.take();
        let dirs = std::mem::take(&mut self.dirs);
        // One attempt now (the processes are often gone already); the rest
        // goes to the janitor thread, so a drop never blocks: schedulers drop
        // hundreds of sandboxes at once when a function changes.
        let left = Cgroup::try_remove(dirs, Duration::ZERO);
        if !left.is_empty() {
            janitor::remove_later(left);
        }
    }
}

/// Waits up to `budget` for the cgroups of sandboxes already dropped to be
/// removed, and returns how many are still there. For shutdown: directories
/// left behind when the server exits are only cleared by the next start's
/// [`reap_orphans`].
pub fn finish_cleanup(budget: Duration) -> usize {
    janitor::flush(budget)
}

/// One long-lived thread that removes cgroup directories whose processes
/// are still exiting.
mod janitor {
    use std::path::PathBuf;
    use std::sync::mpsc::{self, Sender};
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use super::Cgroup;

    enum Job {
        Remove(Vec<PathBuf>),
        /// Report how many directories are left once none are, or at `until`.
        Flush {
            until: Instant,
            left: Sender<usize>,
        },
    }

    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    /// How long a directory may resist removal before we give up on it.
    const PATIENCE: Duration = Duration::from_secs(10);

    pub(super) fn remove_later(dirs: Vec<PathBuf>) {
        let queue = QUEUE.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new().name("lamina-cgroup-rm".into()).spawn(move || run(rx));
            if let Err(error) = spawned {
                tracing::warn!(%error, "could not start the cgroup cleanup thread");
            }
            Mutex::new(tx)
        });
        if let Ok(tx) = queue.lock() {
            let _ = tx.send(Job::Remove(dirs));
        }
    }

    pub(super) fn flush(budget: Duration) -> usize {
        // No janitor yet: nothing was ever left to it.
        let Some(queue) = QUEUE.get() else { return 0 };
        let (left, report) = mpsc::channel();
        let job = Job::Flush { until: Instant::now() + budget, left };
        if !queue.lock().is_ok_and(|tx| tx.send(job).is_ok()) {
            return 0;
        }
        // The janitor answers by `until`; the margin covers one pass.
        report.recv_timeout(budget + Duration::from_secs(1)).unwrap_or(0)
    }

    /// Directories still to remove, each with when to give up on it, and
    /// the flushes waiting for them.
    #[derive(Default)]
    struct Work {
        pending: Vec<(PathBuf, Instant)>,
        flushes: Vec<(Instant, Sender<usize>)>,
    }

    impl Work {
        fn take(&mut self, job: Job) {
            match job {
                Job::Remove(dirs) => self.pending.extend(dirs.into_iter().map(|d| (d, Instant::now() + PATIENCE))),
                Job::Flush { until, left } => self.flushes.push((until, left)),
            }
        }

        /// One removal attempt for each directory, then the flushes' answers.
        fn pass(&mut self) {
            self.pending.retain(|(dir, give_up)| {
                if Cgroup::try_remove(vec![dir.clone()], Duration::ZERO).is_empty() {
                    return false;
                }
                if Instant::now() >= *give_up {
                    tracing::warn!(path = %dir.display(), "could not remove sandbox cgroup");
                    return false;
                }
                true
            });
            let (left, now) = (self.pending.len(), Instant::now());
            self.flushes.retain(|(until, report)| {
                let done = left == 0 || now >= *until;
                if done {
                    let _ = report.send(left);
                }
                !done
            });
        }
    }

    fn run(rx: mpsc::Receiver<Job>) {
        let mut work = Work::default();
        loop {
            let wait = if work.pending.is_empty() { Duration::from_secs(3600) } else { Duration::from_millis(5) };
            match rx.recv_timeout(wait) {
                Ok(job) => work.take(job),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(job) = rx.try_recv() {
                work.take(job);
            }
            work.pass();
        }
    }
}

fn unavailable(controller: &str) -> SandboxError {
    SandboxError::CgroupUnavailable { reason: format!("the {controller} controller is not mounted") }
}

fn mkdir(path: &Path) -> Result<(), SandboxError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(SandboxError::Cgroup { path: path.to_owned(), source }),
    }
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(|source| SandboxError::Cgroup { path: path.to_owned(), source })
}

/// Kills and removes sandbox cgroups left behind by a server that died
/// without cleaning up (SIGKILL, power loss). A cgroup is named
/// `<server pid>-<n>`; only those whose server process is gone are touched,
/// so several servers can share a host. Returns how many were removed.
pub fn reap_orphans() -> usize {
    let mounts = Mounts::detect();
    let hierarchies = [&mounts.v1_memory, &mounts.v1_pids, &mounts.v1_cpu, &mounts.v2];
    let mut removed = 0;
    for root in hierarchies.into_iter().flatten() {
        let Ok(entries) = fs::read_dir(root.join(CGROUP_PARENT)) else { continue };
        for entry in entries.flatten() {
            let dir = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
            if !dir.is_dir() || Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            for _ in 0..5 {
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                let pids: Vec<i32> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let deadline = Instant::now() + Duration::from_millis(500);
            while fs::remove_dir(&dir).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            removed += usize::from(!dir.exists());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
