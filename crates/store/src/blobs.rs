//! Content-addressed blobs: `blobs/sha256/<hex>` holds a code zip and
//! `code/<hex>/` its unpacked tree. Both are written to a temporary name and
//! renamed into place, so a reader never sees half of one.

use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob I/O at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("not a valid zip file: {0}")]
    InvalidZip(String),
    #[error("blob {0} not found")]
    NotFound(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// Opens (creating) the blob area under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, BlobError> {
        let root = data_dir.to_path_buf();
        for sub in ["blobs/sha256", "code", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(Self { root })
    }

    /// Hex SHA-256 of some bytes.
    pub fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    pub fn zip_path(&self, sha: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(sha)
    }

    /// Stores a zip after checking it is one; returns its hex SHA-256.
    pub fn put_zip(&self, bytes: &[u8]) -> Result<String, BlobError> {
        zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| BlobError::InvalidZip(e.to_string()))?;
        let sha = Self::digest(bytes);
        let dest = self.zip_path(&sha);
        if !dest.exists() {
            let tmp = self.temp_path();
            fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
            fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
        }
        self.unpacked(&sha)?;
        Ok(sha)
    }

    /// Reads a stored zip.
    pub fn read_zip(&self, sha: &str) -> Result<Vec<u8>, BlobError> {
        let p = self.zip_path(sha);
        fs::read(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                BlobError::NotFound(sha.into())
            } else {
                BlobError::Io { path: p, source: e }
            }
        })
    }

    /// The unpacked code tree of a zip, unpacking it on first use.
    pub fn unpacked(&self, sha: &str) -> Result<PathBuf, BlobError> {
        let dir = self.root.join("code").join(sha);
        if dir.is_dir() {
            return Ok(dir);
        }
        let bytes = self.read_zip(sha)?;
        let tmp = self.temp_path();
        let mut archive =
            zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| BlobError::InvalidZip(e.to_string()))?;
        archive.extract(&tmp).map_err(|e| BlobError::InvalidZip(e.to_string()))?;
        make_world_readable(&tmp).map_err(io_err(&tmp))?;
        match fs::rename(&tmp, &dir) {
            Ok(()) => Ok(dir),
            // Another caller unpacked the same code first; theirs is identical.
            Err(_) if dir.is_dir() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(dir)
            }
            Err(e) => Err(BlobError::Io { path: dir, source: e }),
        }
    }

    fn temp_path(&self) -> PathBuf {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.root.join("tmp").join(format!("{}-{n}", std::process::id()))
    }

    /// Removes temporary leftovers of a crash.
    pub fn clean_temp(&self) {
        let tmp = self.root.join("tmp");
        let _ = fs::remove_dir_all(&tmp);
        let _ = fs::create_dir_all(&tmp);
    }
}

/// Sandboxes run as unprivileged users: code must be readable (and
/// executables executable) by anyone, and never writable.
fn make_world_readable(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o555))?;
        for entry in fs::read_dir(path)? {
            make_world_readable(&entry?.path())?;
        }
    } else {
        let exec = if mode & 0o111 != 0 { 0o111 } else { 0 };
        fs::set_permissions(path, fs::Permissions::from_mode(0o444 | exec))?;
    }
    Ok(())
}
