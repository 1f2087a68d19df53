//! Opening the files certwire writes: the report (`-o FILE`) and the live capture's pcap
//! (`--write FILE`).
//!
//! certwire runs as root on nodes, often in directories others can write to (/tmp). A
//! symlink planted at the output path must not make it truncate what the link points to,
//! and a FIFO or a device must neither block it nor be written to. So the path is opened
//! without following a final symlink (O_NOFOLLOW), without blocking (O_NONBLOCK), created
//! if missing with a mode fit for its contents, and truncated only after the opened
//! descriptor has been checked to be a regular file.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

use crate::error::OutputError;

/// A new report file: readable by all, as a shell redirection would create it.
pub const REPORT_MODE: u32 = 0o644;
/// A new pcap of `--write`: it holds the cluster's traffic, so its owner only.
pub const CAPTURE_MODE: u32 = 0o600;

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("is a symbolic link{target}; certwire does not write through symlinks")]
    Symlink { target: String },
    #[error("exists and is {0}, not a regular file")]
    NotRegular(&'static str),
}

/// `-o -`, like no `-o`, means stdout.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// Open `path` for writing from its start: create it with `mode` (before the umask) if
/// missing; if it exists it must be a regular file, which is then truncated. A symlink
/// (even a dangling one), a FIFO, a socket, a device or a directory is refused with an
/// error naming the path.
pub fn create(path: &Path, mode: u32) -> Result<File, OutputError> {
    let err = |source| OutputError::Write {
        path: path.to_path_buf(),
        source,
    };
    // Refuse what is already there before opening it: opening a device can have effects.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        check(path, &meta).map_err(err)?;
    }
    let file = open(path, mode).map_err(|e| err(refine(path, e)))?;
    let meta = file.metadata().map_err(err)?;
    check(path, &meta).map_err(err)?;
    file.set_len(0).map_err(err)?;
    Ok(file)
}

/// A regular file, or the refusal as an io::Error (for OutputError::Write).
fn check(path: &Path, meta: &Metadata) -> io::Result<()> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let refused = if t.is_symlink() {
        symlink_refusal(path)
    } else {
        Refused::NotRegular(kind(meta))
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, refused))
}

fn symlink_refusal(path: &Path) -> Refused {
    Refused::Symlink {
        target: std::fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default(),
    }
}

/// ELOOP from O_NOFOLLOW (a symlink put there after the check) and ENXIO from
/// O_NONBLOCK (a FIFO with no reader) say what the path is.
fn refine(path: &Path, e: io::Error) -> io::Error {
    #[cfg(target_os = "linux")]
    match e.raw_os_error() {
        Some(libc::ELOOP) => {
            return io::Error::new(io::ErrorKind::InvalidInput, symlink_refusal(path))
        }
        Some(libc::ENXIO) => {
            let refused = Refused::NotRegular("a FIFO or a socket");
            return io::Error::new(io::ErrorKind::InvalidInput, refused);
        }
        _ => {}
    }
    let _ = path;
    e
}

#[cfg(unix)]
fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn kind(meta: &Metadata) -> &'static str {
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Write access, created if missing with `mode`, never truncated here (the caller checks
/// what was opened first).
#[cfg(target_os = "linux")]
fn open(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Elsewhere only the lstat check before opening guards the path.
#[cfg(not(target_os = "linux"))]
fn open(path: &Path, mode: u32) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("certwire-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn creates_truncates_and_refuses() {
        let dir = temp("create");
        let new = dir.join("new.pcap");
        drop(create(&new, CAPTURE_MODE).unwrap());
        let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let old = dir.join("old.json");
        std::fs::write(&old, "old contents").unwrap();
        drop(create(&old, REPORT_MODE).unwrap());
        assert_eq!(std::fs::read(&old).unwrap(), b"");
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&new, &link).unwrap();
        let e = create(&link, REPORT_MODE).unwrap_err().to_string();
        assert!(
            e.contains("link.json") && e.contains("symbolic link"),
            "{e}"
        );
        let e = create(&dir, REPORT_MODE).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        assert!(is_stdout(Path::new("-")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
