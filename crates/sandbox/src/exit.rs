//! How a sandbox ended, and how Lambda words it.

use std::fmt;

/// How the sandbox's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Exited normally with this status code.
    Code(i32),
    /// Killed by this signal number (9 after [`crate::Sandbox::kill`] or the OOM killer).
    Signal(i32),
}

impl Exit {
    /// True for `Code(0)`.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The reason as Lambda prints it after "Runtime exited with error: ".
    ///
    /// Lambda's init is written in Go, so this is Go's `ExitError` text:
    /// `exit status 1`, `signal: killed`, `signal: segmentation fault`.
    pub fn lambda_reason(self) -> String {
        match self {
            Exit::Code(code) => format!("exit status {code}"),
            Exit::Signal(sig) => match signal_name(sig) {
                Some(name) => format!("signal: {name}"),
                None => format!("signal: signal {sig}"),
            },
        }
    }
}

/// Rust's wording (`exit status: 1`, `signal: 9`), for our own logs.
impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit status: {code}"),
            Exit::Signal(sig) => write!(f, "signal: {sig}"),
        }
    }
}

/// Go's `syscall.Signal.String()` table for Linux.
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "hangup",
        libc::SIGINT => "interrupt",
        libc::SIGQUIT => "quit",
        libc::SIGILL => "illegal instruction",
        libc::SIGTRAP => "trace/breakpoint trap",
        libc::SIGABRT => "aborted",
        libc::SIGBUS => "bus error",
        libc::SIGFPE => "floating point exception",
        libc::SIGKILL => "killed",
        libc::SIGUSR1 => "user defined signal 1",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGUSR2 => "user defined signal 2",
        libc::SIGPIPE => "broken pipe",
        libc::SIGALRM => "alarm clock",
        libc::SIGTERM => "terminated",
        libc::SIGSTKFLT => "stack fault",
        libc::SIGCHLD => "child exited",
        libc::SIGCONT => "continued",
        libc::SIGSTOP => "stopped (signal)",
        libc::SIGTSTP => "stopped",
        libc::SIGTTIN => "stopped (tty input)",
        libc::SIGTTOU => "stopped (tty output)",
        libc::SIGURG => "urgent I/O condition",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "file size limit exceeded",
        libc::SIGVTALRM => "virtual timer expired",
        libc::SIGPROF => "profiling timer expired",
        libc::SIGWINCH => "window changed",
        libc::SIGIO => "I/O possible",
        libc::SIGPWR => "power failure",
        libc::SIGSYS => "bad system call",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_wording() {
        assert_eq!(Exit::Code(1).lambda_reason(), "exit status 1");
        assert_eq!(Exit::Signal(9).lambda_reason(), "signal: killed");
        assert_eq!(Exit::Signal(11).lambda_reason(), "signal: segmentation fault");
        assert_eq!(Exit::Signal(6).lambda_reason(), "signal: aborted");
        assert_eq!(Exit::Signal(99).lambda_reason(), "signal: signal 99");
        assert_eq!(Exit::Code(1).to_string(), "exit status: 1");
        assert_eq!(Exit::Signal(9).to_string(), "signal: 9");
        assert!(Exit::Code(0).success());
    }
}
