//! Reading a file that someone else may have shaped, as root, without blocking and without
//! running out of memory.
//!
//! A node's copy, a `--certs` directory or a key log can hold a FIFO (opening it for
//! reading waits for a writer: forever), a device (/dev/zero has size 0 and never ends) or
//! a symlink swapped in after it was checked. So only regular files are read: the path is
//! checked with lstat, opened with O_NOFOLLOW | O_NONBLOCK (a FIFO that appears in between
//! does not block), the opened descriptor is checked again with fstat, and the bytes are
//! read through `take(cap + 1)`, so that no file is ever read past the cap, whatever its
//! size claimed.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// Certificates, kubeconfigs, manifests: larger files are none of these, and are skipped.
pub const MAX_FILE: u64 = 4 * 1024 * 1024;
/// Key logs hold a few lines per session; a day of sessions fits in this.
pub const MAX_KEYLOG: u64 = 64 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}: not read")]
    NotRegular(Kind),
    #[error("larger than {} MiB: skipped", .cap >> 20)]
    TooLarge { cap: u64 },
    #[error("changed while being opened (now {0}): not read")]
    Changed(Kind),
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("cannot read: {0}")]
    Read(#[source] io::Error),
}

/// What a path is, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Regular => "a regular file",
            Kind::Directory => "a directory where a file was expected",
            Kind::Symlink => "a symbolic link",
            Kind::Fifo => "a FIFO (named pipe), not a regular file",
            Kind::Socket => "a socket, not a regular file",
            Kind::CharDevice => "a character device, not a regular file",
            Kind::BlockDevice => "a block device, not a regular file",
            Kind::Other => "not a regular file",
        })
    }
}

impl Kind {
    /// The kind of an lstat or fstat result.
    pub fn of(meta: &Metadata) -> Kind {
        let t = meta.file_type();
        if t.is_file() {
            return Kind::Regular;
        }
        if t.is_dir() {
            return Kind::Directory;
        }
        if t.is_symlink() {
            return Kind::Symlink;
        }
        special_kind(&t)
    }
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> Kind {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        Kind::Fifo
    } else if t.is_socket() {
        Kind::Socket
    } else if t.is_char_device() {
        Kind::CharDevice
    } else if t.is_block_device() {
        Kind::BlockDevice
    } else {
        Kind::Other
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> Kind {
    Kind::Other
}

/// Which file this is, whatever the path it was reached by (device and inode on Unix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(
    #[cfg(unix)] (u64, u64),
    #[cfg(not(unix))] std::path::PathBuf,
);

impl FileId {
    #[cfg(unix)]
    pub fn of(meta: &Metadata, _path: &Path) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId((meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    pub fn of(_meta: &Metadata, path: &Path) -> FileId {
        FileId(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

/// Read `path`, which must be a regular file of at most `cap` bytes; the path itself is
/// not followed if it is a symlink (callers resolve symlinks themselves). Special files
/// are refused before they are opened, so opening a device has no side effect.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let before = std::fs::symlink_metadata(path).map_err(ReadError::Open)?;
    match Kind::of(&before) {
        Kind::Regular => {}
        kind => return Err(ReadError::NotRegular(kind)),
    }
    let file = open_nofollow(path)?;
    let meta = file.metadata().map_err(ReadError::Open)?;
    if Kind::of(&meta) != Kind::Regular || FileId::of(&meta, path) != FileId::of(&before, path) {
        return Err(ReadError::Changed(Kind::of(&meta)));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge { cap });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Read)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

/// A file the user named on the command line (`--keylog`): symlinks in its path are
/// followed, since the user chose them; what they lead to is read as `read_regular` does.
pub fn read_named(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    // stat follows links, /proc's magic ones (`<(...)` is /dev/fd/63) included: a pipe is
    // named as such, not as a path that does not exist.
    let meta = std::fs::metadata(path).map_err(ReadError::Open)?;
    match Kind::of(&meta) {
        Kind::Regular => {}
        kind => return Err(ReadError::NotRegular(kind)),
    }
    let real = std::fs::canonicalize(path).map_err(ReadError::Open)?;
    read_regular(&real, cap)
}

/// O_NOFOLLOW: a symlink put in place after the lstat fails (ELOOP) instead of being
/// followed. O_NONBLOCK: a FIFO put in place opens at once instead of waiting for a
/// writer (and is then refused by the fstat check).
#[cfg(target_os = "linux")]
fn open_nofollow(path: &Path) -> Result<File, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ReadError::Changed(Kind::Symlink),
            _ => ReadError::Open(e),
        })
}

/// Elsewhere only the lstat check before opening guards against special files.
#[cfg(not(target_os = "linux"))]
fn open_nofollow(path: &Path) -> Result<File, ReadError> {
    File::open(path).map_err(ReadError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("certwire-read-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn reads_up_to_the_cap_and_not_past_it() {
        let p = temp("cap");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_regular(&p, 10).unwrap(), b"0123456789");
        let e = read_regular(&p, 9).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { cap: 9 }), "{e}");
        std::fs::remove_file(&p).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn special_files_and_symlinks_are_not_read() {
        let e = read_regular(Path::new("/dev/zero"), MAX_FILE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a character device, not a regular file: not read"
        );
        let link = temp("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(matches!(
            read_regular(&link, MAX_FILE).unwrap_err(),
            ReadError::NotRegular(Kind::Symlink)
        ));
        std::fs::remove_file(&link).unwrap();
        let e = read_regular(Path::new("/"), MAX_FILE).unwrap_err();
        assert!(e
            .to_string()
            .contains("directory where a file was expected"));
    }

    #[test]
    fn too_large_says_mib() {
        let e = ReadError::TooLarge { cap: MAX_FILE };
        assert_eq!(e.to_string(), "larger than 4 MiB: skipped");
    }
}
