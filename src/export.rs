//! The certificates as they were on the wire: `--export-certs DIR` writes every distinct
//! presented certificate, and each connection's chains, as PEM files, so that
//! `openssl x509 -in` and `openssl verify -CAfile <CA> -untrusted <chain>` run on exactly
//! the bytes that were sent; `--include-der` puts the DER in the JSON instead
//! ([`add_der_base64`]).
//!
//! Layout:
//! - `DIR/certs/<role>_<subject>_<sha256 prefix>.pem`: one file per distinct certificate
//!   (by SHA-256), named when first seen: the side's role for a leaf (`kubelet-client`,
//!   `kube-apiserver`, or `client`/`server` when unknown), `ca` for a CA further up the
//!   chain, `chain` for anything else there; the subject's most specific attribute
//!   (`CN-system-node-node1`); the first 12 hex digits of its SHA-256.
//! - `DIR/chains/<id>-client.pem`, `<id>-server.pem`: the chain each side presented, leaf
//!   first, in wire order; `<id>` is the connection's `id` in the report. No file for a
//!   side that presented nothing (or whose Certificate message was not seen).
//!
//! certwire runs as root, often in directories others can write to. DIR is created if
//! missing (0755: certificates are public) but refused when it is a symlink or not a
//! directory; below it nothing is followed: `certs` and `chains` are opened relative to
//! DIR's descriptor without following symlinks (Linux: openat, O_NOFOLLOW), and each file
//! is written under a new name (O_EXCL) then renamed over its final name, so a symlink or
//! a hard link planted at that name is replaced, never written through.
//!
//! Memory is bounded: the certificates already written are remembered by SHA-256 (32
//! bytes each), at most [`MAX_DISTINCT`]; beyond that no new certificate goes to `certs/`
//! and a warning says so (chains go on being written). In a document (JSON, Markdown,
//! HTML, the table of files) ids are known only when every connection is in: chains are
//! written under their arrival number (hidden names, `.pending-<n>-<side>.pem`) and
//! renamed to their ids at the end (two bits of memory per connection).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::OutputError;
use crate::model::{ConnectionReport, Level, PresentedCert, Warning};

/// Distinct certificates remembered (and written to `certs/`) at most.
pub const MAX_DISTINCT: usize = 100_000;
/// Mode of the directories and files written (before the umask): certificates are public.
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// `--include-der`: every presented certificate of `c` gets `der_base64`.
pub fn add_der_base64(c: &mut ConnectionReport) {
    for chain in [&mut c.server_certificates, &mut c.client_certificates]
        .into_iter()
        .flatten()
    {
        for p in chain.iter_mut() {
            p.der_base64 = Some(data_encoding::BASE64.encode(&p.der));
        }
    }
}

/// The id a connection's chain files are named by.
#[derive(Debug, Clone, Copy)]
pub enum ExportId {
    /// Its id in the report, known when it is reported (streaming output).
    Final(usize),
    /// Its arrival number in the document's spool; renamed by [`Exporter::name_pending`].
    Pending(u64),
}

/// Writes the certificates of the connections reported; shared by the threads that
/// report them.
pub struct Exporter {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    certs: Dir,
    chains: Dir,
    seen: HashSet<[u8; 32]>,
    /// `MAX_DISTINCT` (smaller in the unit test).
    cap: usize,
    /// A new certificate came after `cap`.
    full: bool,
    /// Two bits per arrival number: a pending client / server chain file.
    pending: Vec<u64>,
    certs_written: usize,
    chains_written: usize,
    temp_counter: u64,
}

impl Exporter {
    /// Open (or create) DIR and its `certs` and `chains` directories.
    pub fn open(path: &Path) -> Result<Exporter, OutputError> {
        let err = |p: &Path, source| OutputError::Write {
            path: p.to_path_buf(),
            source,
        };
        let root = Dir::open_top(path).map_err(|e| err(path, e))?;
        let certs = root
            .subdir("certs")
            .map_err(|e| err(&path.join("certs"), e))?;
        let chains = root
            .subdir("chains")
            .map_err(|e| err(&path.join("chains"), e))?;
        Ok(Exporter {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                certs,
                chains,
                seen: HashSet::new(),
                cap: MAX_DISTINCT,
                full: false,
                pending: Vec::new(),
                certs_written: 0,
                chains_written: 0,
                temp_counter: 0,
            }),
        })
    }

    /// Write `c`'s new certificates and its chains.
    pub fn connection(&self, c: &ConnectionReport, id: ExportId) -> Result<(), OutputError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let sides = [
            ("client", &c.client_certificates, c.role),
            ("server", &c.server_certificates, c.server_role),
        ];
        for (bit, (side, chain, role)) in sides.into_iter().enumerate() {
            let Some(chain) = chain.as_ref().filter(|v| !v.is_empty()) else {
                continue;
            };
            for (i, p) in chain.iter().enumerate() {
                s.certificate(p, &cert_name(p, i, side, role))?;
            }
            let pem: Vec<u8> = chain.iter().flat_map(|p| pem(&p.der)).collect();
            let name = match id {
                ExportId::Final(id) => format!("{id}-{side}.pem"),
                ExportId::Pending(seq) => {
                    let at = seq as usize * 2 + bit;
                    if s.pending.len() <= at / 64 {
                        s.pending.resize(at / 64 + 1, 0);
                    }
                    s.pending[at / 64] |= 1 << (at % 64);
                    pending_name(seq, side)
                }
            };
            let State {
                chains,
                temp_counter,
                ..
            } = &mut *s;
            chains
                .write(&name, &pem, temp_counter)
                .map_err(|e| chains.error(&name, e))?;
            if matches!(id, ExportId::Final(_)) {
                s.chains_written += 1;
            }
        }
        Ok(())
    }

    /// Chain files still named by arrival number (a document's connections).
    pub fn has_pending(&self) -> bool {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.pending.iter().any(|w| *w != 0)
    }

    /// The connection that arrived `seq`th has document id `id` (see `Spool::ids`): its
    /// pending chain files get their names.
    pub fn name_pending(&self, seq: u64, id: usize) -> Result<(), OutputError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State {
            chains,
            pending,
            chains_written,
            ..
        } = &mut *s;
        for (bit, side) in ["client", "server"].into_iter().enumerate() {
            let at = seq as usize * 2 + bit;
            let Some(word) = pending.get_mut(at / 64) else {
                continue;
            };
            if *word & (1 << (at % 64)) == 0 {
                continue;
            }
            *word &= !(1 << (at % 64));
            let to = format!("{id}-{side}.pem");
            chains
                .rename(&pending_name(seq, side), &to)
                .map_err(|e| chains.error(&to, e))?;
            *chains_written += 1;
        }
        Ok(())
    }

    /// What was written, said on stderr; a warning when the cap was reached.
    pub fn finish(&self) -> Vec<Warning> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut warnings = Vec::new();
        if s.full {
            warnings.push(Warning {
                level: Level::Warning,
                input: format!("--export-certs {}", self.path.display()),
                packet: None,
                offset: None,
                message: format!(
                    "{} distinct certificates were written to certs/, the most certwire \
                     remembers: export of further certificates there stopped (every \
                     connection's chain is still in chains/)",
                    s.cap
                ),
            });
        }
        eprintln!(
            "certwire: --export-certs: {} certificate(s) in {}, {} chain(s) in {}",
            s.certs_written,
            self.path.join("certs").display(),
            s.chains_written,
            self.path.join("chains").display()
        );
        warnings
    }
}

impl State {
    /// Write `p` to certs/ under `name` unless it was already written.
    fn certificate(&mut self, p: &PresentedCert, name: &str) -> Result<(), OutputError> {
        let sha = sha_bytes(p);
        if self.seen.contains(&sha) {
            return Ok(());
        }
        if self.seen.len() >= self.cap {
            self.full = true;
            return Ok(());
        }
        self.certs
            .write(name, &pem(&p.der), &mut self.temp_counter)
            .map_err(|e| self.certs.error(name, e))?;
        self.seen.insert(sha);
        self.certs_written += 1;
        Ok(())
    }
}

fn sha_bytes(p: &PresentedCert) -> [u8; 32] {
    let mut sha = [0u8; 32];
    match data_encoding::HEXLOWER.decode(p.sha256.as_bytes()) {
        Ok(v) if v.len() == 32 => sha.copy_from_slice(&v),
        _ => sha.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &p.der).as_ref()),
    }
    sha
}

fn pending_name(seq: u64, side: &str) -> String {
    format!(".pending-{seq}-{side}.pem")
}

/// `<role>_<subject>_<sha256 prefix>.pem`, in `[A-Za-z0-9._-]`.
fn cert_name(
    p: &PresentedCert,
    position: usize,
    side: &str,
    role: Option<crate::correlate::Role>,
) -> String {
    let role = if position > 0 {
        if p.is_ca == Some(true) { "ca" } else { "chain" }.to_string()
    } else {
        role.and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| side.to_string())
    };
    let subject = p
        .subject
        .as_deref()
        .map(first_rdn)
        .map(sanitize)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no-subject".into());
    let prefix: String = p.sha256.chars().take(12).collect();
    sanitize(&format!("{role}_{subject}_{prefix}")) + ".pem"
}

/// The most specific attribute of an RFC 4514 name (`CN=a\,b,O=c` → `CN=a\,b`).
fn first_rdn(name: &str) -> &str {
    let mut escaped = false;
    for (i, ch) in name.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' | '+' => return &name[..i],
            _ => {}
        }
    }
    name
}

/// Keep `[A-Za-z0-9._-]`, everything else one `-`; at most 80 characters.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        let ok = ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-');
        if ok {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    out.chars().take(80).collect()
}

/// One certificate as PEM, 64 base64 characters a line (as openssl writes it).
fn pem(der: &[u8]) -> Vec<u8> {
    let b64 = data_encoding::BASE64.encode(der);
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    out
}

/// A directory written into without following symlinks below it.
struct Dir {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: File,
}

impl Dir {
    /// DIR itself: created if missing; a symlink, or anything but a directory, refused.
    fn open_top(path: &Path) -> io::Result<Dir> {
        match std::fs::symlink_metadata(path) {
            Ok(m) => refuse_unless_dir(path, &m)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(path)?;
            }
            Err(e) => return Err(e),
        }
        Dir::open(None, path)
    }

    /// `name` below this directory, created if missing.
    fn subdir(&self, name: &str) -> io::Result<Dir> {
        #[cfg(target_os = "linux")]
        {
            let c = cstring(name)?;
            // SAFETY: a valid descriptor and a NUL-terminated name.
            if unsafe { libc::mkdirat(self.fd_raw(), c.as_ptr(), DIR_MODE as libc::mode_t) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(e);
                }
            }
            Dir::open(Some(self), Path::new(name))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let path = self.path.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(m) => refuse_unless_dir(&path, &m)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    use std::os::unix::fs::DirBuilderExt;
                    std::fs::DirBuilder::new().mode(DIR_MODE).create(&path)?;
                }
                Err(e) => return Err(e),
            }
            Dir::open(None, &path)
        }
    }

    #[cfg(target_os = "linux")]
    fn fd_raw(&self) -> libc::c_int {
        std::os::fd::AsRawFd::as_raw_fd(&self.fd)
    }

    /// Open a directory (relative to `parent`, else the working directory) without
    /// following a symlink at its last component.
    #[cfg(target_os = "linux")]
    fn open(parent: Option<&Dir>, path: &Path) -> io::Result<Dir> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        let at = parent.map_or(libc::AT_FDCWD, Dir::fd_raw);
        // SAFETY: a valid descriptor (or AT_FDCWD) and a NUL-terminated path.
        let fd = unsafe {
            libc::openat(
                at,
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                // O_NOFOLLOW on a symlink (one put there after the check), or not a directory.
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                    match std::fs::symlink_metadata(full(parent, path)) {
                        Ok(m) => refuse_unless_dir(&full(parent, path), &m)
                            .err()
                            .unwrap_or(e),
                        Err(_) => e,
                    }
                }
                _ => e,
            });
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        Ok(Dir {
            path: full(parent, path),
            fd,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn open(_parent: Option<&Dir>, path: &Path) -> io::Result<Dir> {
        let m = std::fs::symlink_metadata(path)?;
        refuse_unless_dir(path, &m)?;
        Ok(Dir {
            path: path.to_path_buf(),
        })
    }

    /// Write `bytes` as `name`: into a new file (O_EXCL), then renamed over `name`.
    fn write(&self, name: &str, bytes: &[u8], counter: &mut u64) -> io::Result<()> {
        let (temp, mut file) = loop {
            *counter += 1;
            let temp = format!(".certwire-{}-{}.tmp", std::process::id(), counter);
            match self.create_new(&temp) {
                Ok(f) => break (temp, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let written = file.write_all(bytes).and_then(|_| self.rename(&temp, name));
        if written.is_err() {
            let _ = self.unlink(&temp);
        }
        written
    }

    #[cfg(target_os = "linux")]
    fn create_new(&self, name: &str) -> io::Result<File> {
        let c = cstring(name)?;
        // SAFETY: a valid descriptor and a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                self.fd_raw(),
                c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                FILE_MODE as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    }

    #[cfg(not(target_os = "linux"))]
    fn create_new(&self, name: &str) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(self.path.join(name))
    }

    #[cfg(target_os = "linux")]
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (f, t) = (cstring(from)?, cstring(to)?);
        // SAFETY: valid descriptors and NUL-terminated names.
        if unsafe { libc::renameat(self.fd_raw(), f.as_ptr(), self.fd_raw(), t.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.path.join(from), self.path.join(to))
    }

    #[cfg(target_os = "linux")]
    fn unlink(&self, name: &str) -> io::Result<()> {
        let c = cstring(name)?;
        // SAFETY: a valid descriptor and a NUL-terminated name.
        if unsafe { libc::unlinkat(self.fd_raw(), c.as_ptr(), 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn unlink(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    /// An error writing `name` here, naming the file.
    fn error(&self, name: &str, source: io::Error) -> OutputError {
        OutputError::Write {
            path: self.path.join(name),
            source,
        }
    }
}

#[cfg(target_os = "linux")]
fn cstring(name: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))
}

#[cfg(target_os = "linux")]
fn full(parent: Option<&Dir>, path: &Path) -> PathBuf {
    parent.map_or_else(|| path.to_path_buf(), |p| p.path.join(path))
}

/// A directory is fine; a symlink (even to a directory) or anything else is refused.
fn refuse_unless_dir(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let t = meta.file_type();
    if t.is_dir() {
        return Ok(());
    }
    let why = if t.is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        format!("is a symbolic link{target}; certwire does not write through symlinks")
    } else {
        "exists and is not a directory".to_string()
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn names() {
        assert_eq!(
            first_rdn("CN=system:node:node1,O=system:nodes"),
            "CN=system:node:node1"
        );
        assert_eq!(first_rdn(r"CN=a\,b,O=c"), r"CN=a\,b");
        assert_eq!(sanitize("CN=system:node:node1"), "CN-system-node-node1");
        assert_eq!(sanitize("../../etc/passwd"), "..-..-etc-passwd");
        assert_eq!(sanitize("É/ x"), "x");
        assert!(sanitize(&"a".repeat(200)).len() <= 80);
    }

    #[test]
    fn distinct_certificates_are_capped_with_a_warning() {
        let dir = std::env::temp_dir().join(format!("certwire-export-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let x = Exporter::open(&dir).unwrap();
        x.state.lock().unwrap().cap = 2;
        let cert = |b: u8| {
            let der: Arc<[u8]> = Arc::from(vec![b; 10]);
            PresentedCert {
                cert: Arc::new(crate::x509::summarize(&der)),
                local_files: Vec::new(),
                der,
                der_base64: None,
            }
        };
        for b in [1, 2, 2, 3, 1] {
            let mut s = x.state.lock().unwrap();
            s.certificate(&cert(b), &format!("c{b}.pem")).unwrap();
        }
        let names: Vec<String> = std::fs::read_dir(dir.join("certs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let w = x.finish();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message.contains("2 distinct certificates"),
            "{}",
            w[0].message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pem_lines() {
        let p = String::from_utf8(pem(&[0u8; 100])).unwrap();
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
    }
}
