//! The report's output as the collector sees it: bytes, and JSON Lines connection records
//! with the writer that keeps what they share (each certificate's JSON).
//!
//! Records are rendered on the parsing thread even when the bytes are written behind it:
//! rendering them on the writing thread instead made a handshake-dense run slower (0.177
//! → 0.215 s at 512 MiB, issue 17), because on two cores the writing thread shares its
//! core with the read-ahead thread, which then became the one the run waits for.

use std::io::{self, BufWriter, Write};

use crate::error::OutputError;
use crate::model::ConnectionReport;
use crate::report::jsonl::JsonlWriter;

use super::behind::WriteBehind;

/// The output's buffer when it is written in line: JSON Lines read from files leave in
/// writes of this size, not one per line.
const OUTPUT_BUFFER: usize = 64 << 10;

pub struct Sink {
    out: Out,
    jsonl: JsonlWriter,
}

enum Out {
    /// Written on the calling thread.
    Inline(BufWriter<Box<dyn Write + Send>>),
    /// Written on a thread of its own.
    Behind(WriteBehind),
}

impl Sink {
    /// In line when the output is followed as it goes (`jsonl.flush_each`: a live capture
    /// or a pipe) or only one thread is allowed; behind otherwise, when a thread can be had.
    pub fn new(target: Box<dyn Write + Send>, jsonl: JsonlWriter, behind: bool) -> Sink {
        let out = if !behind || jsonl.flush_each {
            Out::Inline(BufWriter::with_capacity(OUTPUT_BUFFER, target))
        } else {
            match WriteBehind::new(target) {
                Ok(w) => Out::Behind(w),
                Err(target) => Out::Inline(BufWriter::with_capacity(OUTPUT_BUFFER, target)),
            }
        };
        Sink { out, jsonl }
    }

    /// One JSON Lines connection record, in order with the bytes around it.
    pub fn connection(&mut self, c: &ConnectionReport) -> Result<(), OutputError> {
        self.jsonl.connection(c, &mut self.out)
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.out.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Out::Inline(w) => w.write(data),
            Out::Behind(w) => w.write(data),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Out::Inline(w) => w.write_all(data),
            Out::Behind(w) => w.write_all(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Inline(w) => w.flush(),
            Out::Behind(w) => w.flush(),
        }
    }
}
