//! cargo-lambda's emulator (`cargo lambda watch`) serving the same Rust
//! function, measured like Lamina.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::load::{invoke_once, invoke_url, print_header, print_run, warm_runs, Run};

/// The emulator starts each extra instance with `cargo run`: warm up longer.
pub(super) const EMULATOR_WARMUP: Duration = Duration::from_secs(3);
/// The emulator compiles the function on its first invoke.
pub(super) const EMULATOR_FIRST_INVOKE: Duration = Duration::from_secs(20 * 60);

/// A running `cargo lambda watch`; its whole process group is killed on drop.
pub(super) struct Emulator {
    child: tokio::process::Child,
    port: u16,
    function: String,
    /// Where the emulator's cargo builds the function.
    target_dir: PathBuf,
    log: PathBuf,
}

impl Emulator {
    fn binary(&self) -> PathBuf {
        self.target_dir.join("release").join(&self.function)
    }

    fn stop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        // `process_group(0)` at spawn: the group id is the child's pid.
        let group = format!("-{pid}");
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.start_kill();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cargo-lambda` on PATH, or in a virtualenv (`$VIRTUAL_ENV`, `./.venv`):
/// the directory holding it.
pub(super) fn find_cargo_lambda() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let venvs =
        [std::env::var_os("VIRTUAL_ENV").map(|v| PathBuf::from(v).join("bin")), Some(PathBuf::from(".venv/bin"))];
    std::env::split_paths(&path)
        .chain(venvs.into_iter().flatten())
        .find(|dir| dir.join("cargo-lambda").is_file())
        .and_then(|dir| std::fs::canonicalize(dir).ok())
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The name of the first binary target of the cargo project in `dir`.
pub(super) async fn binary_name(dir: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .await
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let targets =
        meta["packages"].as_array().into_iter().flatten().flat_map(|p| p["targets"].as_array().into_iter().flatten());
    for target in targets {
        let is_bin = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
        if let (true, Some(name)) = (is_bin, target["name"].as_str()) {
            return Ok(name.to_string());
        }
    }
    bail!("no binary target in {}", dir.display())
}

/// Starts `cargo lambda watch` for the project in `dir`, serving up to
/// `concurrency` instances of the function, in its own process group.
pub(super) async fn start_emulator(tool_dir: &Path, dir: &Path, concurrency: usize) -> anyhow::Result<Emulator> {
    let function = binary_name(dir).await?;
    let port = free_port()?;
    // cargo-lambda 1.9 forwards `--target-dir` to `cargo metadata`, which rejects it: use the environment.
    let target_dir = std::env::temp_dir().join("lamina-bench-cargo-lambda");
    let log = std::env::temp_dir().join(format!("lamina-bench-cargo-lambda-{port}.log"));
    let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let path = std::env::join_paths(
        std::iter::once(tool_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let child = tokio::process::Command::new("cargo")
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .args(["--release", "--quiet", "--ignore-changes", "--concurrency", &concurrency.to_string()])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting cargo lambda watch")?;
    Ok(Emulator { child, port, function, target_dir, log })
}

/// Waits for the emulator's port, then for a first successful invoke (which
/// compiles the function).
pub(super) async fn wait_emulator(emulator: &mut Emulator) -> anyhow::Result<hyper::Uri> {
    let addr = format!("127.0.0.1:{}", emulator.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        if let Some(status) = emulator.child.try_wait()? {
            bail!("cargo lambda watch exited with {status}; see {}", emulator.log.display());
        }
        if Instant::now() > deadline {
            bail!("cargo lambda watch did not listen on {addr} within 60 s; see {}", emulator.log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = invoke_url(&format!("http://{addr}"), &emulator.function)?;
    eprintln!("(cargo-lambda: first invoke compiles {} in release mode; this can take minutes)", emulator.function);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    match tokio::time::timeout(EMULATOR_FIRST_INVOKE, invoke_once(&client, &url)).await {
        Ok(result) => {
            result.with_context(|| format!("first invoke on cargo lambda watch; see {}", emulator.log.display()))?
        }
        Err(_) => bail!(
            "cargo lambda watch did not answer within {:?}; see {}",
            EMULATOR_FIRST_INVOKE,
            emulator.log.display()
        ),
    }
    Ok(url)
}

/// Measures the emulator; returns its runs and the binary it built.
pub(super) async fn bench_cargo_lambda(
    dir: &Path,
    counts: &[usize],
    duration: Duration,
) -> anyhow::Result<Option<(Vec<Run>, PathBuf)>> {
    let Some(tool_dir) = find_cargo_lambda() else {
        println!("note: cargo-lambda not found (on PATH, $VIRTUAL_ENV/bin or ./.venv/bin): skipping the cargo-lambda column.");
        println!("      Install it with `pip install cargo-lambda`.");
        return Ok(None);
    };
    let concurrency = counts.iter().copied().max().unwrap_or(1);
    let mut emulator = start_emulator(&tool_dir, dir, concurrency).await?;
    let url = wait_emulator(&mut emulator).await?;
    let runs = warm_runs(&url, counts, duration, EMULATOR_WARMUP, None).await?;
    emulator.stop();
    println!(
        "== cargo-lambda {} (cargo lambda watch --release --concurrency {concurrency})",
        tool_dir.join("cargo-lambda").display()
    );
    print_header();
    for run in &runs {
        print_run(&format!("rust warm, {} client(s)", run.clients), run);
    }
    Ok(Some((runs, emulator.binary())))
}
