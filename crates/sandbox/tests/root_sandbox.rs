//! Integration tests that need root, namespaces and cgroups. Each test
//! prints a loud SKIP and passes when the host cannot run them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lamina_sandbox::{probe, Cpus, Exit, Isolation, Sandbox, SandboxSpec};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn skip(isolation: Isolation) -> bool {
    let host = probe();
    let ok = match isolation {
        Isolation::Namespaces => host.supports_namespaces(),
        Isolation::Process => host.supports_process(),
    };
    if !ok {
        eprintln!("\n!!!!! SKIP: this test needs root, cgroups and namespaces: {:?}\n", host.problems);
    }
    !ok
}

/// `<tmp>/data/code` is the code dir; `<tmp>/data` plays the platform's
/// data directory (with a secret in it).
struct Fixture {
    _root: tempfile::TempDir,
    data: std::path::PathBuf,
    code: std::path::PathBuf,
    spec: SandboxSpec,
}

fn fixture(script: &str) -> Fixture {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let code = data.join("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    for dir in [root.path(), &data, &code] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(data.join("secret.txt"), "secret\n").expect("write");
    std::fs::write(code.join("hello.txt"), "hello from task\n").expect("write");
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let spec = SandboxSpec {
        id: format!("test-{}-{n}", std::process::id()),
        code_dir: code.clone(),
        runtime_dir: None,
        opt_dir: None,
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into()), ("LAMBDA_TASK_ROOT".into(), "/var/task".into())],
        cwd: "/var/task".into(),
        memory_mib: 64,
        tmp_mib: 8,
        pids_max: 32,
        cpu_shares: Some(512),
        cpus: Cpus::Inherit,
        host_uid: 200_000 + (std::process::id() % 1000) * 100 + n,
        hostname: "lamina-test".into(),
        isolation: Isolation::Namespaces,
    };
    Fixture { _root: root, data, code, spec }
}

/// Spawns, collects all output until EOF, waits.
async fn run(spec: &SandboxSpec) -> (String, Exit, Sandbox) {
    let mut sb = Sandbox::spawn(spec).unwrap_or_else(|e| panic!("spawn: {e}"));
    let out = sb.take_output().expect("output");
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(out).expect("receiver");
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), rx.read_to_string(&mut text)).await;
    read.expect("output timed out").expect("read");
    let exit = tokio::time::timeout(Duration::from_secs(10), sb.wait()).await.expect("wait timed out").expect("wait");
    (text, exit, sb)
}

#[tokio::test]
async fn root_sandbox_runs_as_pid_1_child_with_hostname_and_env() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let f = fixture("echo pid=$$ ppid=$PPID; hostname; id -u; id -g; env | sort; cat /var/task/hello.txt; pwd; grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs):' /proc/self/status; echo out; echo err >&2; exit 3");
    let (out, exit, sb) = run(&f.spec).await;
    eprintln!("{out}");
    assert_eq!(exit, Exit::Code(3));
    assert!(out.contains("pid=2 ppid=1"), "{out}");
    assert!(out.contains("lamina-test\n"), "{out}");
    assert!(out.contains("\n993\n990\n"), "{out}");
    assert!(out.contains("hello from task"), "{out}");
    assert!(out.contains("out\nerr\n"), "stdout and stderr share one pipe: {out}");
    assert!(out.contains("/var/task\n"), "{out}");
    for want in
        ["CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"]
    {
        assert!(out.contains(want), "missing {want}: {out}");
    }
    // env: exactly what was given (sh adds PWD, SHLVL and _ of its own).
    let env: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.contains('=')
                && !l.starts_with("pid=")
                && !l.starts_with("PWD=")
                && !l.starts_with("SHLVL=")
                && !l.starts_with("_=")
        })
        .collect();
    assert_eq!(env, vec!["LAMBDA_TASK_ROOT=/var/task", "PATH=/usr/bin:/bin"], "{out}");
    eprintln!("spawn -> exec: {:?}", sb.spawn_time());
    assert!(sb.peak_memory_bytes().is_some_and(|b| b > 0));
    assert!(!sb.oom_killed());
}

#[tokio::test]
async fn root_sandbox_filesystem_is_read_only_except_tmp() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let script = r#"
        touch /var/task/x 2>/dev/null && echo task-writable || echo task-ro
        touch /x 2>/dev/null && echo root-writable || echo root-ro
        touch /usr/x 2>/dev/null && echo usr-writable || echo usr-ro
        echo data > /tmp/f && cat /tmp/f
        dd if=/dev/zero of=/tmp/big bs=1M count=20 2>/dev/null && echo tmp-unlimited || echo tmp-limited
        echo hi > /dev/null && echo devnull-ok
        ls /dev | tr '\n' ' '; echo
        umount /var/task 2>/dev/null && echo umount-ok || echo umount-denied
        mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok || echo mount-denied
    "#;
    let f = fixture(script);
    let (out, exit, _sb) = run(&f.spec).await;
    eprintln!("{out}");
    assert_eq!(exit, Exit::Code(0), "{out}");
    for want in ["task-ro", "root-ro", "usr-ro", "data", "tmp-limited", "devnull-ok", "umount-denied", "mount-denied"] {
        assert!(out.lines().any(|l| l == want), "missing {want}: {out}");
    }
    assert!(!f.code.join("x").exists());
}

#[tokio::test]
async fn root_sandbox_hides_the_host() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let f = fixture("");
    let script = format!(
        "for p in /work /root /home {} {} /sys /var/lib; do test -e $p && echo visible:$p || echo hidden:$p; done; find / -path /proc -prune -o -path /usr -prune -o -path /dev -prune -o -name secret.txt -print; ls /proc | grep -c '^[0-9]'",
        f.data.display(),
        f.code.display()
    );
    let mut spec = f.spec.clone();
    spec.args[1] = script;
    let (out, exit, _sb) = run(&spec).await;
    eprintln!("{out}");
    assert_eq!(exit, Exit::Code(0));
    assert!(!out.contains("visible:"), "{out}");
    assert!(!out.contains("secret"), "{out}");
    // Only the sandbox's own processes are in its /proc: init, sh, ls/grep.
    let procs: u32 = out.lines().last().and_then(|l| l.trim().parse().ok()).expect("count");
    assert!(procs <= 5, "{out}");
}

#[tokio::test]
async fn root_sandbox_memory_limit_kills_with_sigkill() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let mut f = fixture("");
    f.spec.program = "/usr/bin/python3".into();
    f.spec.args = vec![
        "-c".into(),
        "import sys\nb=[]\nfor i in range(3*64):\n    b.append(bytearray(1024*1024))\nprint('survived', flush=True)"
            .into(),
    ];
    let (out, exit, sb) = run(&f.spec).await;
    eprintln!("{out}");
    assert_eq!(exit, Exit::Signal(9), "{out}");
    assert_eq!(exit.lambda_reason(), "signal: killed");
    assert!(sb.oom_killed());
    let peak = sb.peak_memory_bytes().expect("peak");
    assert!(peak <= 64 * 1024 * 1024 && peak > 32 * 1024 * 1024, "peak {peak}");
}

#[tokio::test]
async fn root_sandbox_pids_limit_caps_forks() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let mut f = fixture("");
    f.spec.program = "/usr/bin/python3".into();
    let script = "import os, time\nkids = 0\nfor i in range(100):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    kids += 1\nprint(kids, flush=True)\n";
    f.spec.args = vec!["-c".into(), script.into()];
    let t = Instant::now();
    let (out, exit, _sb) = run(&f.spec).await;
    eprintln!("{exit:?} {out}");
    assert_eq!(exit, Exit::Code(0));
    let kids: u32 = out.trim().parse().expect("count");
    // pids_max 32, minus init and python itself.
    assert!((10..=30).contains(&kids), "{kids} children");
    // The sleeping children die with the sandbox: the output pipe closed at once.
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn root_sandbox_kill_resolves_wait_quickly() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let f = fixture("sleep 100 & sleep 100; echo never");
    let mut sb = Sandbox::spawn(&f.spec).expect("spawn");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // wait is cancel-safe: a timed-out wait leaves the sandbox usable.
    assert!(tokio::time::timeout(Duration::from_millis(10), sb.wait()).await.is_err());
    let t = Instant::now();
    sb.kill();
    sb.kill();
    let exit = tokio::time::timeout(Duration::from_secs(2), sb.wait()).await.expect("prompt").expect("wait");
    eprintln!("kill -> wait: {:?}", t.elapsed());
    assert_eq!(exit, Exit::Signal(9));
    assert_eq!(sb.wait().await.expect("again"), Exit::Signal(9));
    // Every process of the sandbox is gone shortly after.
    let procs = format!("/sys/fs/cgroup/pids/lamina/{}/cgroup.procs", f.spec.id);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Path::new(&procs).exists() && !std::fs::read_to_string(&procs).unwrap_or_default().trim().is_empty() {
        assert!(Instant::now() < deadline, "processes left");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(sb);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/lamina/{}", f.spec.id)).exists(), "cgroup removed");
}

#[tokio::test]
async fn root_sandbox_cgroups_are_gone_once_cleanup_finishes() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let fixtures: Vec<Fixture> = (0..5).map(|_| fixture("sleep 100 & sleep 100")).collect();
    let sandboxes: Vec<Sandbox> = fixtures.iter().map(|f| Sandbox::spawn(&f.spec).expect("spawn")).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Dropping kills; the processes are still exiting when the drop first
    // tries to remove the cgroups, so the rest is left to the janitor.
    drop(sandboxes);
    let left =
        tokio::task::spawn_blocking(|| lamina_sandbox::finish_cleanup(Duration::from_secs(5))).await.expect("join");
    assert_eq!(left, 0, "every cgroup removed within the budget");
    for f in &fixtures {
        for controller in ["memory", "pids"] {
            let dir = format!("/sys/fs/cgroup/{controller}/lamina/{}", f.spec.id);
            assert!(!Path::new(&dir).exists(), "{dir} is still there when finish_cleanup returns");
        }
    }
}

#[tokio::test]
async fn root_sandbox_two_sandboxes_have_private_tmp() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let a = fixture("echo a > /tmp/mine; sleep 0.3; ls /tmp");
    let b = fixture("echo b > /tmp/theirs; sleep 0.3; ls /tmp");
    let (ra, rb) = tokio::join!(run(&a.spec), run(&b.spec));
    assert_eq!(ra.0.trim(), "mine");
    assert_eq!(rb.0.trim(), "theirs");
}

#[tokio::test]
async fn root_sandbox_reports_setup_and_exec_errors() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let mut f = fixture("");
    f.spec.program = "/var/task/missing".into();
    let err = Sandbox::spawn(&f.spec).expect_err("missing program");
    eprintln!("{err}");
    assert!(err.to_string().contains("/var/task/missing"), "{err}");

    let mut f = fixture("");
    f.spec.cwd = "/nonexistent".into();
    let err = Sandbox::spawn(&f.spec).expect_err("bad cwd");
    eprintln!("{err}");
    assert!(err.to_string().contains("chdir"), "{err}");
}

#[tokio::test]
async fn root_sandbox_process_mode_runs_with_cgroups_and_uid() {
    if skip(Isolation::Process) {
        return;
    }
    let mut f = fixture(
        "id -u; pwd; cat /var/task/hello.txt 2>/dev/null || cat hello.txt; echo $LAMBDA_TASK_ROOT; sleep 100 & wait",
    );
    f.spec.isolation = Isolation::Process;
    let mut sb = Sandbox::spawn(&f.spec).expect("spawn");
    let out = sb.take_output().expect("output");
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(out).expect("receiver");
    let mut buf = vec![0u8; 4096];
    let mut text = String::new();
    while text.lines().count() < 4 {
        let n = tokio::time::timeout(Duration::from_secs(5), rx.read(&mut buf))
            .await
            .expect("read timed out")
            .expect("read");
        assert!(n > 0, "eof early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    eprintln!("{text}");
    let code = f.code.display().to_string();
    assert_eq!(text, format!("{}\n{code}\nhello from task\n{code}\n", f.spec.host_uid));
    sb.kill();
    let exit = tokio::time::timeout(Duration::from_secs(2), sb.wait()).await.expect("prompt").expect("wait");
    assert_eq!(exit, Exit::Signal(9));
}

#[tokio::test]
async fn root_sandbox_spawn_time() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let mut times = Vec::new();
    for _ in 0..20 {
        let f = fixture("exit 0");
        let (_, exit, sb) = run(&f.spec).await;
        assert_eq!(exit, Exit::Code(0));
        times.push(sb.spawn_time());
    }
    times.sort();
    eprintln!("INFO all: {times:?}");
    eprintln!("INFO spawn->exec over 20 sandboxes: min {:?} p50 {:?} max {:?}", times[0], times[10], times[19]);
}

#[test]
fn probe_describes_the_host() {
    let host = probe();
    eprintln!("{host:#?}");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("\n!!!!! SKIP: not root, only printing what probe() found\n");
        assert!(!host.supports_process());
        return;
    }
    assert!(host.is_root);
    assert_eq!(host.problems.is_empty(), host.supports_namespaces(), "{host:?}");
}

/// The peak-memory file is opened once and re-read: a second read sees
/// memory the program touched after the first.
#[tokio::test]
async fn root_sandbox_peak_memory_follows_the_program() {
    if skip(Isolation::Namespaces) {
        return;
    }
    let mut f = fixture("");
    f.spec.program = "/usr/bin/python3".into();
    let script = "import sys, time\nprint('before', flush=True)\ntime.sleep(0.5)\nb = bytearray(48 << 20)\nprint('after', flush=True)\ntime.sleep(0.5)\n";
    f.spec.args = vec!["-c".into(), script.into()];
    let mut sb = Sandbox::spawn(&f.spec).unwrap_or_else(|e| panic!("spawn: {e}"));
    let out = sb.take_output().expect("output");
    let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(out).expect("receiver");
    let mut lines = tokio::io::BufReader::new(rx).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(line.expect("timed out").expect("read").as_deref(), Some("before"));
    let before = sb.peak_memory_bytes().expect("peak before");
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(line.expect("timed out").expect("read").as_deref(), Some("after"));
    let after = sb.peak_memory_bytes().expect("peak after");
    assert!(after >= before + (40 << 20), "peak {before} -> {after}");
    let _ = tokio::time::timeout(Duration::from_secs(10), sb.wait()).await;
}
