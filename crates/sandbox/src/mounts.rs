//! The sandbox's root filesystem, as a list of [`Op`]s run by init before it
//! pivots into the new root:
//!
//! ```text
//! /                tmpfs, read-only after setup
//! /usr /etc ...    host system dirs, bind, read-only (symlinks like /bin -> usr/bin copied as symlinks)
//! /dev             tmpfs, read-only, with null zero full random urandom tty bound from the host
//! /proc            a new procfs for the sandbox's pid namespace
//! /tmp             tmpfs of tmp_mib, the only writable place
//! /var/task        code_dir, read-only
//! /var/runtime     runtime_dir, read-only (when given)
//! /opt             opt_dir, read-only (when given)
//! ```
//!
//! Everything is nosuid; everything but /dev is nodev. The host's other
//! directories (the data directory, /root, /home...) are simply not there.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::child::{Op, Step, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use crate::error::SandboxError;
use crate::spec::{SandboxSpec, OPT_DIR, RUNTIME_DIR, TASK_DIR};

/// Host directories shown read-only inside the sandbox, when they exist.
const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"];
/// Host device nodes bound into the sandbox's /dev.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

const READ_ONLY: u64 = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

pub(crate) fn cstring(path: impl AsRef<Path>) -> Result<CString, SandboxError> {
    let path = path.as_ref();
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SandboxError::InvalidSpec { reason: format!("path {} contains a NUL byte", path.display()) })
}

struct Builder {
    root: PathBuf,
    steps: Vec<Step>,
}

impl Builder {
    /// The host path of `inside` under the new root.
    fn at(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    fn push(&mut self, op: Op, what: String) {
        self.steps.push(Step { op, what });
    }

    fn mkdir(&mut self, inside: &str) -> Result<(), SandboxError> {
        let path = self.at(inside);
        self.push(Op::Mkdir(cstring(&path)?), format!("mkdir {inside}"));
        Ok(())
    }

    fn tmpfs(&mut self, inside: &str, flags: libc::c_ulong, data: &str) -> Result<(), SandboxError> {
        let target = cstring(self.at(inside))?;
        let op = Op::Mount {
            source: Some(c"tmpfs".to_owned()),
            target,
            fstype: Some(c"tmpfs".to_owned()),
            flags,
            data: Some(cstring(data)?),
        };
        self.push(op, format!("mount tmpfs at {inside} ({data})"));
        Ok(())
    }

    /// Binds a host path (recursively) and applies `attrs` to it.
    fn bind(&mut self, host: &Path, inside: &str, attrs: u64) -> Result<(), SandboxError> {
        let target = cstring(self.at(inside))?;
        let op = Op::Mount {
            source: Some(cstring(host)?),
            target: target.clone(),
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REC,
            data: None,
        };
        self.push(op, format!("bind {} at {inside}", host.display()));
        self.push(Op::Restrict { target, attrs }, format!("make {inside} read-only"));
        Ok(())
    }

    fn bind_dir(&mut self, host: &Path, inside: &str) -> Result<(), SandboxError> {
        self.mkdir(inside)?;
        self.bind(host, inside, READ_ONLY)
    }

    fn symlink(&mut self, target: &Path, inside: &str) -> Result<(), SandboxError> {
        let op = Op::Symlink { target: cstring(target)?, link: cstring(self.at(inside))? };
        self.push(op, format!("symlink {inside} -> {}", target.display()));
        Ok(())
    }
}

/// The filesystem steps for `spec`, mounting the new root on `root` (an
/// empty host directory; the mount is only visible in the sandbox's mount
/// namespace, so all sandboxes can share the same directory).
pub(crate) fn plan(spec: &SandboxSpec, root: &Path) -> Result<Vec<Step>, SandboxError> {
    let mut b = Builder { root: root.to_owned(), steps: Vec::new() };
    b.tmpfs("/", libc::MS_NOSUID | libc::MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")?;

    for dir in SYSTEM_DIRS {
        let Ok(meta) = fs::symlink_metadata(dir) else { continue };
        if meta.file_type().is_symlink() {
            if let Ok(target) = fs::read_link(dir) {
                b.symlink(&target, dir)?;
            }
        } else if meta.is_dir() {
            b.bind_dir(Path::new(dir), dir)?;
        }
    }

    b.mkdir("/dev")?;
    b.tmpfs("/dev", libc::MS_NOSUID | libc::MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755")?;
    for dev in DEVICES {
        let host = Path::new("/dev").join(dev);
        if !host.exists() {
            continue;
        }
        let inside = format!("/dev/{dev}");
        b.push(Op::Touch(cstring(b.at(&inside))?), format!("create {inside}"));
        b.bind(&host, &inside, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)?;
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        b.symlink(Path::new(target), link)?;
    }
    let dev = cstring(b.at("/dev"))?;
    let dev_attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    b.push(Op::Restrict { target: dev, attrs: dev_attrs }, "make /dev read-only".into());

    b.mkdir("/proc")?;
    let proc_op = Op::Mount {
        source: Some(c"proc".to_owned()),
        target: cstring(b.at("/proc"))?,
        fstype: Some(c"proc".to_owned()),
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: None,
    };
    b.push(proc_op, "mount /proc".into());

    b.mkdir("/tmp")?;
    let tmp = format!("size={}m,mode=1777", spec.tmp_mib);
    b.tmpfs("/tmp", libc::MS_NOSUID | libc::MS_NODEV, &tmp)?;

    b.mkdir("/var")?;
    b.bind_dir(&spec.code_dir, TASK_DIR)?;
    if let Some(dir) = &spec.runtime_dir {
        b.bind_dir(dir, RUNTIME_DIR)?;
    }
    if let Some(dir) = &spec.opt_dir {
        b.bind_dir(dir, OPT_DIR)?;
    }
    Ok(b.steps)
}
