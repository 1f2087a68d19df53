//! The input in blocks, read ahead on a second thread (or, with `--threads 1`, in line).
//!
//! On a warm page cache, copying a capture into user space was 30–40 % of a run
//! (docs/performance.md): done on the parsing thread it adds to every other cost; done on
//! a second thread it overlaps them, and so does gzip inflation. Blocks are recycled
//! through a small pool, so memory stays at a few blocks whatever the input size, and each
//! block is handed out as it arrives, so a pipe (`tcpdump -w - | certwire analyze -`) still
//! streams packet by packet.

use std::io::{ErrorKind, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

/// Block size: small enough to stay in the L2 cache between the copy and the parse
/// (8 MiB blocks made a whole run 60 % slower; 128 KiB and 2 MiB ones were no faster).
pub const BLOCK: usize = 512 << 10;
/// Block size when reading in line (`--threads 1`): the parse then runs between reads on
/// the same core, and a block this small is still in L1/L2 when the next read overwrites
/// it (2 GiB with `--threads 1`: 0.62 s against 0.70 s with 512 KiB blocks; 32 KiB blocks
/// cost more in system calls than they save).
pub const INLINE_BLOCK: usize = 64 << 10;
/// Blocks read ahead of the parser. With the one being parsed and the one being filled,
/// at most `AHEAD + 2` blocks exist.
const AHEAD: usize = 2;

/// One filled block; `len` bytes of `buf` are data.
pub struct Filled {
    pub buf: Vec<u8>,
    pub len: usize,
}

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
                            if tx.send(Ok(Filled { buf, len })).is_err() {
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

    /// The next block, `None` at the end of the input.
    pub fn next(&mut self) -> Option<std::io::Result<Filled>> {
        match self {
            Blocks::Ahead { filled, .. } => filled.recv().ok(),
            Blocks::Inline { reader, spare } => {
                let mut buf = spare.take().unwrap_or_else(|| vec![0u8; INLINE_BLOCK]);
                match read_block(reader, &mut buf) {
                    Ok(0) => None,
                    Ok(len) => Some(Ok(Filled { buf, len })),
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }

    /// Give a parsed block back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        match self {
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
