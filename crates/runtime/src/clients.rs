//! The runtime interface clients Lamina ships, embedded in the binary and
//! written out once at start-up to a directory sandboxes mount read-only
//! at `/var/runtime`.

use std::path::Path;

/// (path under `/var/runtime`, contents)
const FILES: &[(&str, &str)] = &[
    ("python/bootstrap.py", include_str!("../clients/python/bootstrap.py")),
    ("node/index.js", include_str!("../clients/node/index.js")),
    ("node/package.json", include_str!("../clients/node/package.json")),
];

/// Writes the clients under `dir` (replacing older copies).
pub fn install(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, contents) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))?;
    }
    Ok(())
}
