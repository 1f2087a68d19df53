//! Reading ahead on a second thread, so that the kernel's copy of the next block (or the
//! gzip inflation of it) runs while this thread parses the previous one.
//!
//! On a warm page cache, copying a capture into user space was 30–40 % of a run
//! (docs/performance.md): done on the same thread it adds to every other cost; done here it
//! overlaps them. Blocks are recycled through a small pool, so memory stays at a few blocks
//! whatever the input size, and each block is handed out as it arrives, so a pipe
//! (`tcpdump -w - | certwire analyze -`) still streams packet by packet.

use std::io::{ErrorKind, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

/// Block size: small enough to stay in the L2 cache between the copy and the parse.
pub const BLOCK: usize = 512 << 10;
/// Blocks read ahead of the parser. With the one being parsed and the one being filled,
/// at most `AHEAD + 2` blocks exist.
const AHEAD: usize = 2;

/// One filled block; `len` bytes of `buf` are data.
pub struct Filled {
    pub buf: Vec<u8>,
    pub len: usize,
}

/// The parser's end of the read-ahead thread.
pub struct ReadAhead {
    filled: Receiver<std::io::Result<Filled>>,
    recycle: Sender<Vec<u8>>,
}

impl ReadAhead {
    /// Start reading `reader` on its own thread. The thread ends at the end of the input,
    /// at a read error (which it passes on), or when this `ReadAhead` is dropped and its
    /// current read returns. It is not joined: a parser that stops early (a malformed
    /// record) must not wait for a pipe that may never close.
    pub fn spawn(mut reader: impl Read + Send + 'static) -> ReadAhead {
        let (tx, filled) = sync_channel(AHEAD);
        let (recycle, pool) = channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("certwire-read".into())
            .spawn(move || loop {
                let mut buf = pool.try_recv().unwrap_or_else(|_| vec![0u8; BLOCK]);
                let len = loop {
                    match reader.read(&mut buf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                };
                if len == 0 || tx.send(Ok(Filled { buf, len })).is_err() {
                    return;
                }
            });
        if let Err(e) = spawned {
            // No thread to be had: report it as a read error on the first block.
            let (tx, filled) = sync_channel(1);
            let _ = tx.send(Err(e));
            return ReadAhead { filled, recycle };
        }
        ReadAhead { filled, recycle }
    }

    /// The next block, `None` at the end of the input.
    pub fn next(&mut self) -> Option<std::io::Result<Filled>> {
        self.filled.recv().ok()
    }

    /// Give a parsed block back for reuse.
    pub fn recycle(&self, buf: Vec<u8>) {
        let _ = self.recycle.send(buf);
    }
}
