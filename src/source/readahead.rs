//! The input in blocks, read ahead on a second thread (or, with `--threads 1`, in line, or
//! for a regular file, mapped).
//!
//! On a warm page cache, copying a capture into user space was 30–40 % of a run
//! (docs/performance.md): done on the parsing thread it adds to every other cost; done on
//! a second thread it overlaps them, and so does gzip inflation. Blocks are recycled
//! through a small pool, so memory stays at a few blocks whatever the input size, and each
//! block is handed out as it arrives, so a pipe (`tcpdump -w - | certwire analyze -`) still
//! streams packet by packet.

use std::io::{ErrorKind, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

/// Block size. Each hand-over wakes the other thread (a futex wake and, in a VM, an
/// inter-processor interrupt: 8 % of the parsing thread on handshake-dense captures with
/// 512 KiB blocks); 2 MiB blocks make a quarter of them (512 MiB handshake-dense 0.211 →
/// 0.193 s, bulk 0.126 → 0.119 s, 6 MiB more RSS). 8 MiB blocks made a whole run 60 %
/// slower (they no longer stay in cache between the copy and the parse).
pub const BLOCK: usize = 2 << 20;
/// Block size when reading in line (`--threads 1`): the parse then runs between reads on
/// the same core, and a block this small is still in L1/L2 when the next read overwrites
/// it (2 GiB with `--threads 1`: 0.62 s against 0.70 s with 512 KiB blocks; 32 KiB blocks
/// cost more in system calls than they save).
pub const INLINE_BLOCK: usize = 64 << 10;
/// Blocks read ahead of the parser. With the one being parsed and the one being filled,
/// at most `AHEAD + 2` blocks exist.
const AHEAD: usize = 2;

/// One filled block; `len` bytes of `buf` are data (or, mapped, `len` bytes at `mapped`).
pub struct Filled {
    pub buf: Vec<u8>,
    pub len: usize,
    /// A piece of a mapped file: its address; valid while the [`Blocks`] that gave it
    /// lives.
    mapped: Option<usize>,
}

impl Filled {
    pub fn data(&self) -> &[u8] {
        match self.mapped {
            // SAFETY: a piece of the mapping held by the Blocks that handed it out, which
            // outlives this block (it is recycled into them); `len` bytes, in bounds.
            Some(p) => unsafe { std::slice::from_raw_parts(p as *const u8, self.len) },
            None => &self.buf[..self.len],
        }
    }
}

/// A file mapped read-only, unmapped when dropped. The pages parsed are given back as the
/// parse goes (MADV_DONTNEED), so RSS stays at a few MiB whatever the file's size.
#[cfg(target_os = "linux")]
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: a read-only mapping owned by one Blocks; nothing writes through it.
#[cfg(target_os = "linux")]
unsafe impl Send for Mapping {}

#[cfg(target_os = "linux")]
impl Mapping {
    pub fn new(file: &std::fs::File) -> std::io::Result<Mapping> {
        use std::os::fd::AsRawFd;
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            return Err(std::io::Error::new(ErrorKind::InvalidInput, "empty"));
        }
        // SAFETY: a read-only private mapping of an open file; unmapped in Drop.
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
        // SAFETY: the mapping just made. Read-ahead in the page cache, pages behind dropped.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL | libc::MADV_WILLNEED) };
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes until Drop.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// Give back the pages wholly inside `start..end` (parsed): RSS stays small.
    fn release(&self, start: usize, end: usize) {
        let page = 4096;
        let from = start.div_ceil(page) * page;
        let to = end / page * page;
        if to > from {
            // SAFETY: inside the mapping; a private read-only mapping re-reads the file if
            // touched again.
            unsafe {
                libc::madvise(
                    (self.ptr as *mut u8).add(from).cast(),
                    to - from,
                    libc::MADV_DONTNEED,
                )
            };
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer borrowed.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// Pieces of a mapping handed to the parser.
const MAP_PIECE: usize = 1 << 20;

/// The parser's end of the input.
pub enum Blocks {
    Ahead {
        filled: Receiver<std::io::Result<Filled>>,
        recycle: Sender<Vec<u8>>,
    },
    Inline {
        reader: Box<dyn Read + Send>,
        spare: Option<Vec<u8>>,
    },
    #[cfg(target_os = "linux")]
    Mapped { map: Mapping, pos: usize },
}

impl Blocks {
    /// Read `reader` on the calling thread, one block per [`Blocks::next`].
    pub fn inline(reader: impl Read + Send + 'static) -> Blocks {
        Blocks::Inline {
            reader: Box::new(reader),
            spare: None,
        }
    }

    /// Read `reader` on its own thread. The thread ends at the end of the input, at a read
    /// error (which it passes on), or when these `Blocks` are dropped and its current read
    /// returns. It is not joined: a parser that stops early (a malformed record) must not
    /// wait for a pipe that may never close. Without a thread to be had, reads in line.
    pub fn ahead(reader: impl Read + Send + 'static) -> Blocks {
        let (tx, filled) = sync_channel(AHEAD);
        let (recycle, pool) = channel::<Vec<u8>>();
        // The reader moves into the thread only if the thread starts; otherwise it comes
        // back through this slot and is read in line.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(reader)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("certwire-read".into())
            .spawn(move || {
                let Some(mut reader) = theirs.lock().ok().and_then(|mut r| r.take()) else {
                    return;
                };
                loop {
                    let mut buf = pool.try_recv().unwrap_or_else(|_| vec![0u8; BLOCK]);
                    match read_block(&mut reader, &mut buf) {
                        Ok(0) => return,
                        Ok(len) => {
                            if tx
                                .send(Ok(Filled {
                                    buf,
                                    len,
                                    mapped: None,
                                }))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => Blocks::Ahead { filled, recycle },
            Err(_) => match slot.lock().ok().and_then(|mut r| r.take()) {
                Some(reader) => Blocks::inline(reader),
                None => Blocks::Ahead { filled, recycle },
            },
        }
    }

    /// The file from byte `start` on, mapped and parsed in place (Linux): no copy into
    /// blocks at all. Used reading in line (`--threads 1`), where it was faster than
    /// read() in both generated profiles; with a read-ahead thread, read() on the other
    /// core was faster (docs/performance.md).
    #[cfg(target_os = "linux")]
    pub fn mapped(file: &std::fs::File, start: usize) -> std::io::Result<Blocks> {
        Ok(Blocks::Mapped {
            map: Mapping::new(file)?,
            pos: start,
        })
    }

    /// The next block, `None` at the end of the input.
    pub fn next(&mut self) -> Option<std::io::Result<Filled>> {
        match self {
            #[cfg(target_os = "linux")]
            Blocks::Mapped { map, pos } => {
                let len = map.len;
                if *pos >= len {
                    return None;
                }
                let end = (*pos + MAP_PIECE).min(len);
                let start = *pos;
                *pos = end;
                Some(Ok(Filled {
                    buf: Vec::new(),
                    len: end - start,
                    mapped: Some(map.bytes()[start..].as_ptr() as usize),
                }))
            }
            Blocks::Ahead { filled, .. } => filled.recv().ok(),
            Blocks::Inline { reader, spare } => {
                let mut buf = spare.take().unwrap_or_else(|| vec![0u8; INLINE_BLOCK]);
                match read_block(reader, &mut buf) {
                    Ok(0) => None,
                    Ok(len) => Some(Ok(Filled {
                        buf,
                        len,
                        mapped: None,
                    })),
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }

    /// Give a parsed block back for reuse (mapped: its pages back to the kernel).
    pub fn recycle(&mut self, filled: Filled) {
        let buf = filled.buf;
        match self {
            #[cfg(target_os = "linux")]
            Blocks::Mapped { map, pos, .. } => map.release(*pos - filled.len, *pos),
            Blocks::Ahead { recycle, .. } => {
                let _ = recycle.send(buf);
            }
            Blocks::Inline { spare, .. } => *spare = Some(buf),
        }
    }
}

/// One read: whatever the input has (up to a block), so that a pipe is not waited on.
fn read_block(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
