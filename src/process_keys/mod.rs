//! TLS secrets from the Go programs themselves (`analyze --live --keys-from-processes`).
//!
//! Go's crypto/tls calls `(*Config).writeKeyLog(label, clientRandom, secret)` for every
//! secret it derives, whether or not a KeyLogWriter is set (the nil check is inside). An
//! entry uprobe there sees every handshake of every process running that executable,
//! including processes started later. The secrets go into the same key store as `--keylog`
//! and pcapng Decryption Secrets Blocks, and stay in memory: nothing here prints them.
//!
//! [`discover`] picks the executables, [`gosym`] finds the function in each, [`program`]
//! is the probe and [`ebpf`] loads it and reads its ring buffer.

pub mod discover;
mod ebpf;
pub mod gosym;
pub mod program;

/// The Go function whose entry is probed.
pub const FUNCTION: &str = "crypto/tls.(*Config).writeKeyLog";

pub use linux::*;

mod linux {
    use std::os::fd::OwnedFd;
    use std::sync::Arc;

    use super::discover::{self, Target, Wanted};
    use super::ebpf::{KernelError, Probe};
    use super::gosym;
    use super::program::Event;
    use crate::tls::keylog::{KeyLog, KeySource};

    /// Attached probes, removed when this is dropped (or when the process dies).
    pub struct ProcessKeys {
        probe: Probe,
        binaries: Vec<Attached>,
        store: Arc<KeyLog>,
        /// Secrets taken into the store.
        pub secrets: u64,
        /// Events that were not a TLS secret (arguments longer than the probe copies).
        pub dropped: u64,
    }

    struct Attached {
        shown: String,
        _prog: OwnedFd,
        _probe: OwnedFd,
    }

    impl ProcessKeys {
        /// Find the executables, probe each; one line per executable saying what happened.
        /// Fails only when the kernel cannot run probes at all.
        pub fn start(
            w: &Wanted,
            store: Arc<KeyLog>,
        ) -> Result<(ProcessKeys, Vec<String>), KernelError> {
            let probe = Probe::load()?;
            let (targets, refused) = discover::targets(w);
            let mut keys = ProcessKeys {
                probe,
                binaries: Vec::new(),
                store,
                secrets: 0,
                dropped: 0,
            };
            let mut lines: Vec<String> = refused
                .into_iter()
                .map(|(name, why)| format!("{name}: not used: {why}"))
                .collect();
            for t in targets {
                let result = keys.attach(&t);
                let pid = t.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
                lines.push(format!("{}{pid} ({}): {result}", t.shown, t.why));
            }
            if keys.binaries.is_empty() {
                lines.push("no Go executable was probed: TLS 1.3 handshakes stay encrypted unless a key log is given".into());
            }
            Ok((keys, lines))
        }

        fn attach(&mut self, t: &Target) -> String {
            let located = match read_elf(&t.open_path, |data| gosym::locate(data, super::FUNCTION))
            {
                Ok(Ok(f)) => f,
                Ok(Err(gosym::LocateError::SymbolNotFound)) => {
                    return format!(
                    "symbol not found ({} is not in this Go binary: it does not use crypto/tls)",
                    super::FUNCTION
                )
                }
                Ok(Err(e)) => return e.to_string(),
                Err(e) => return format!("cannot be read: {e}"),
            };
            let index = self.binaries.len() as u32;
            let prog = match self.probe.program(index) {
                Ok(p) => p,
                Err(e) => return format!("kernel refused: {e}"),
            };
            let path = t.open_path.to_string_lossy();
            match self.probe.attach(&prog, &path, located.file_offset) {
                Ok(fd) => {
                    self.binaries.push(Attached {
                        shown: t.shown.clone(),
                        _prog: prog,
                        _probe: fd,
                    });
                    format!(
                        "attached ({}, found in {}, file offset 0x{:x})",
                        located
                            .go_version
                            .as_deref()
                            .unwrap_or("Go version unknown"),
                        located.found_in,
                        located.file_offset
                    )
                }
                Err(e) => format!("kernel refused: {e}"),
            }
        }

        /// One line for the end of a capture.
        pub fn summary(&self) -> String {
            format!(
                "{} secret(s) taken from {} probed executable(s){}; the probes are removed",
                self.secrets,
                self.binaries.len(),
                if self.dropped > 0 {
                    format!(", {} probe event(s) were not TLS secrets", self.dropped)
                } else {
                    String::new()
                }
            )
        }

        /// How many executables are probed.
        pub fn attached(&self) -> usize {
            self.binaries.len()
        }

        /// Take every secret waiting in the ring buffer into the store. Cheap when there
        /// is none (two loads), so it is called before every packet.
        pub fn poll(&mut self) -> usize {
            let Self {
                probe,
                binaries,
                store,
                secrets,
                dropped,
            } = self;
            probe.drain(&mut |bytes| match Event::parse(bytes) {
                Ok(e) => {
                    let binary = binaries
                        .get(e.target as usize)
                        .map(|b| b.shown.clone())
                        .unwrap_or_default();
                    store.add_secret(
                        &e.label,
                        e.client_random,
                        e.secret,
                        KeySource::Process {
                            pid: e.pid,
                            command: e.comm,
                            binary,
                        },
                    );
                    *secrets += 1;
                }
                Err(_) => *dropped += 1,
            })
        }
    }

    /// Map the executable read-only and run `f` over its bytes (Go binaries are 50–200 MB:
    /// only the pages read are brought in). Only regular files are opened, without
    /// blocking.
    fn read_elf<T>(path: &std::path::Path, f: impl FnOnce(&[u8]) -> T) -> std::io::Result<T> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let len = meta.len() as usize;
        if len == 0 {
            return Ok(f(&[]));
        }
        // SAFETY: a private read-only mapping of a regular file, unmapped below; a file
        // truncated meanwhile would fault, as for any reader of executables in use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping is len bytes and lives until munmap below.
        let out = f(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) });
        // SAFETY: unmapping the mapping made above.
        unsafe { libc::munmap(ptr, len) };
        Ok(out)
    }
}
