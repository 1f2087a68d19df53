//! The report written behind the analysis, on a thread of its own: the parsing thread
//! fills 1 MiB buffers and hands them over; the kernel's copy into the page cache (and the
//! file system's work) happens on the other core. Used when the input is files (the
//! whole input is there, nobody follows the output line by line) and more than one thread
//! is allowed. On a handshake-dense capture the JSON Lines are about 11 % of the input's
//! size, and writing them was a tenth of the parsing thread's time (issue 17).

use std::io::{self, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Bytes handed over at a time: few hand-overs (each wakes the writer), and few enough
/// buffers in flight to keep memory small (at most `AHEAD + 2` exist).
const CHUNK: usize = 1 << 20;
const AHEAD: usize = 2;

enum Msg {
    Data(Vec<u8>),
    /// Write everything before, flush, and answer with the first error so far.
    Flush(SyncSender<io::Result<()>>),
}

pub struct WriteBehind {
    buf: Vec<u8>,
    tx: Option<SyncSender<Msg>>,
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl WriteBehind {
    /// `inner` written on a new thread; without a thread to be had, in line (None).
    pub fn new(mut inner: Box<dyn Write + Send>) -> Result<WriteBehind, Box<dyn Write + Send>> {
        let (tx, rx) = sync_channel::<Msg>(AHEAD);
        let (give_back, spare): (Sender<Vec<u8>>, _) = channel();
        // The writer moves into the thread only if the thread starts.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None::<Box<dyn Write + Send>>));
        let theirs = slot.clone();
        if let Ok(mut s) = slot.lock() {
            *s = Some(inner);
        }
        let spawned = std::thread::Builder::new()
            .name("certwire-write".into())
            .spawn(move || {
                let Some(mut inner) = theirs.lock().ok().and_then(|mut s| s.take()) else {
                    return;
                };
                let mut failed: Option<io::Error> = None;
                for msg in rx {
                    match msg {
                        Msg::Data(mut data) => {
                            if failed.is_none() {
                                failed = inner.write_all(&data).err();
                            }
                            data.clear();
                            let _ = give_back.send(data);
                        }
                        Msg::Flush(ack) => {
                            let r = match &failed {
                                // The first error stays: nothing after it was written.
                                Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
                                None => inner.flush(),
                            };
                            let _ = ack.send(r);
                        }
                    }
                }
            });
        match spawned {
            Ok(thread) => Ok(WriteBehind {
                buf: Vec::with_capacity(CHUNK),
                tx: Some(tx),
                spare,
                thread: Some(thread),
            }),
            Err(_) => {
                inner = slot
                    .lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .expect("the writer is still here when the thread did not start");
                Err(inner)
            }
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        self.send(Msg::Data(full))
    }

    fn send(&mut self, msg: Msg) -> io::Result<()> {
        let gone = || io::Error::other("the output's writing thread ended");
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send(msg)
            .map_err(|_| gone())
    }
}

impl Write for WriteBehind {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    /// Everything written so far is in the output (and flushed) when this returns; an
    /// error of any earlier write comes back here.
    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        let (ack, answer) = sync_channel(1);
        self.send(Msg::Flush(ack))?;
        answer
            .recv()
            .map_err(|_| io::Error::other("the output's writing thread ended"))?
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        // What was not flushed is still written, before the thread ends.
        let _ = self.hand_over();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose contents the test can read back, and that can be told to fail.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>);

    impl Write for Shared {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            if s.1 {
                return Err(io::Error::other("disk full"));
            }
            s.0.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_arrive_in_order_and_whole() {
        let sink = Shared::default();
        let mut w = WriteBehind::new(Box::new(sink.clone())).ok().unwrap();
        let mut want = Vec::new();
        for i in 0..20_000u32 {
            let line = format!(
                "{{\"line\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat((i % 300) as usize)
            );
            w.write_all(line.as_bytes()).unwrap();
            want.extend_from_slice(line.as_bytes());
        }
        w.flush().unwrap();
        assert_eq!(sink.0.lock().unwrap().0, want);
        w.write_all(b"after the flush\n").unwrap();
        drop(w);
        want.extend_from_slice(b"after the flush\n");
        assert_eq!(sink.0.lock().unwrap().0, want, "written on drop");
    }

    #[test]
    fn a_write_error_comes_back_at_the_flush() {
        let sink = Shared::default();
        sink.0.lock().unwrap().1 = true;
        let mut w = WriteBehind::new(Box::new(sink.clone())).ok().unwrap();
        w.write_all(&vec![b'x'; 3 * CHUNK]).unwrap();
        assert_eq!(w.flush().unwrap_err().to_string(), "disk full");
    }
}
