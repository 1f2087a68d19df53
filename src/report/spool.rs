//! The connections of a document (JSON, Markdown, HTML, or the table of files), kept in
//! bounded memory: each connection is rendered as it is decided, and once the rendered
//! bytes pass `MEM_CAP` they are sorted and written to an anonymous temporary file as a
//! run. At the end the runs are merged in document order (input, then first packet), the
//! 1-based ids are written in, and the result is copied to the output. Memory is then
//! `MEM_CAP` plus one record per run while merging, whatever the number of connections;
//! the temporary file grows with the document, as the output itself does.
//!
//! A connection is rendered before its id is known (its position in the sorted document),
//! so it is rendered with `ID_MARK` as its id; the renderers write the id only in the
//! first line of a block, before any captured text, so the first occurrences of the mark
//! are the id's places.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

use super::groups::{Groups, Placed};
use super::model::{ConnectionReport, GroupReport};
use super::{html, json, markdown, table, Format, Layout};
use crate::error::OutputError;

/// Rendered bytes held in memory before a run is written out.
pub const MEM_CAP: usize = 32 * 1024 * 1024;
/// Bytes gathered before one write while spilling a run.
const RUN_BUFFER: usize = 64 * 1024;
/// The id connections are rendered with, replaced in the merged output.
const ID_MARK: usize = usize::MAX;
const NO_GROUP: u32 = u32::MAX;

/// Document order: input (command-line position), first packet, then arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    input: u32,
    first_packet: u64,
    seq: u64,
}

struct Record {
    key: Key,
    /// Its group's internal index, or `NO_GROUP`.
    group: u32,
    /// The row of the overview table (Markdown, HTML), else empty.
    overview: Vec<u8>,
    /// The connection's block.
    detail: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Run {
    offset: u64,
    end: u64,
}

pub struct Spool {
    format: Format,
    layout: Layout,
    /// The groups of the connections added (empty with `--no-group`).
    pub groups: Groups,
    /// `MEM_CAP`, or `CERTWIRE_SPOOL_BYTES` (to see the spill path work on small inputs).
    cap: usize,
    mem: Vec<Record>,
    mem_bytes: usize,
    file: Option<File>,
    file_len: u64,
    runs: Vec<Run>,
    count: usize,
    /// Connections per input position.
    per_input: Vec<usize>,
}

/// Which part of each record a pass writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Overview,
    Detail,
}

impl Spool {
    pub fn new(format: Format, layout: Layout) -> Spool {
        Spool {
            format,
            layout,
            groups: Groups::default(),
            cap: std::env::var("CERTWIRE_SPOOL_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MEM_CAP),
            mem: Vec::new(),
            mem_bytes: 0,
            file: None,
            file_len: 0,
            runs: Vec::new(),
            count: 0,
            per_input: Vec::new(),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Connections from the input at this command-line position.
    pub fn count_of(&self, input: usize) -> usize {
        self.per_input.get(input).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The arrival number the next connection added gets (`--export-certs` names its
    /// chain files by it until the ids are known).
    pub fn next_seq(&self) -> u64 {
        self.count as u64
    }

    /// Every connection's arrival number and document id, in document order.
    pub fn ids(
        &mut self,
        f: &mut dyn FnMut(u64, usize) -> Result<(), OutputError>,
    ) -> Result<(), OutputError> {
        self.visit(&mut |r, id| f(r.key.seq, id))
    }

    /// Render `c`, from the input at position `input` on the command line.
    pub fn add(&mut self, input: usize, c: &mut ConnectionReport) -> Result<(), OutputError> {
        c.id = ID_MARK;
        let placed = if self.layout.grouped {
            self.groups.add(c)
        } else {
            Placed::Alone
        };
        let (mut overview, mut detail) = self.render(c, placed)?;
        // What is held is the allocation, not the length: a small block must not keep a
        // large buffer.
        overview.shrink_to_fit();
        detail.shrink_to_fit();
        let key = Key {
            input: input as u32,
            first_packet: c.first_packet,
            seq: self.count as u64,
        };
        self.count += 1;
        if self.per_input.len() <= input {
            self.per_input.resize(input + 1, 0);
        }
        self.per_input[input] += 1;
        self.mem_bytes += overview.capacity() + detail.capacity() + std::mem::size_of::<Record>();
        self.mem.push(Record {
            key,
            group: placed.group().unwrap_or(NO_GROUP),
            overview,
            detail,
        });
        if self.mem_bytes > self.cap {
            self.spill()?;
        }
        Ok(())
    }

    /// The connection's overview row and detail block. Grouped, a repeat has neither
    /// (its group's first connection stands for it), and the overview is the groups'
    /// (written from [`Groups`] at the end); JSON keeps every connection's record.
    fn render(
        &self,
        c: &ConnectionReport,
        placed: Placed,
    ) -> Result<(Vec<u8>, Vec<u8>), OutputError> {
        let (mut overview, mut detail) = (Vec::new(), Vec::with_capacity(4096));
        let l = &self.layout;
        if matches!(self.format, Format::Json | Format::Jsonl) {
            if !l.summary_only {
                json::write_document_connection(c, &mut detail)?;
            }
            return Ok((overview, detail));
        }
        let detailed = !l.summary_only && !matches!(placed, Placed::Repeat(_));
        let row = !l.grouped;
        match self.format {
            Format::Table if detailed => table::write_connection(c, l, &mut detail)?,
            Format::Markdown => {
                if row {
                    markdown::write_overview_row(c, &mut overview)?;
                }
                if detailed {
                    markdown::write_connection(c, l, &mut detail)?;
                }
            }
            Format::Html => {
                if row {
                    html::write_overview_row(c, &mut overview)?;
                }
                if detailed {
                    html::write_connection(c, l, &mut detail)?;
                }
            }
            _ => {}
        }
        Ok((overview, detail))
    }

    /// Give every connection its document id, in document order, and the groups their
    /// ids and numbers. Called once, before the document is written.
    pub fn assign_ids(&mut self) -> Result<(), OutputError> {
        let mut groups = std::mem::take(&mut self.groups);
        self.visit(&mut |r, id| {
            if r.group != NO_GROUP {
                groups.add_id(r.group, id);
            }
            Ok(())
        })?;
        groups.number();
        self.groups = groups;
        Ok(())
    }

    /// Every record in document order, with its id.
    fn visit(
        &mut self,
        f: &mut dyn FnMut(&Record, usize) -> Result<(), OutputError>,
    ) -> Result<(), OutputError> {
        if self.runs.is_empty() {
            self.mem.sort_by_key(|r| r.key);
            for (i, r) in self.mem.iter().enumerate() {
                f(r, i + 1)?;
            }
            return Ok(());
        }
        if !self.mem.is_empty() {
            self.spill()?;
        }
        let file = self.file.as_ref().expect("runs live in the file");
        let mut readers: Vec<RunReader> = self.runs.iter().map(|r| RunReader::new(*r)).collect();
        let mut heap = BinaryHeap::new();
        for (i, rd) in readers.iter_mut().enumerate() {
            if let Some(rec) = rd.next(file)? {
                heap.push(Reverse(Head(rec, i)));
            }
        }
        let mut id = 0;
        while let Some(Reverse(Head(rec, i))) = heap.pop() {
            id += 1;
            f(&rec, id)?;
            if let Some(next) = readers[i].next(file)? {
                heap.push(Reverse(Head(next, i)));
            }
        }
        Ok(())
    }

    /// Sort what is in memory and append it to the temporary file as one run.
    fn spill(&mut self) -> Result<(), OutputError> {
        if self.file.is_none() {
            self.file = Some(temp_file()?);
        }
        let file = self.file.as_ref().expect("just created");
        self.mem.sort_by_key(|r| r.key);
        let start = self.file_len;
        let mut buf = Vec::with_capacity(RUN_BUFFER);
        for r in self.mem.drain(..) {
            encode(&r, &mut buf);
            if buf.len() >= RUN_BUFFER {
                file.write_all_at(&buf, self.file_len)?;
                self.file_len += buf.len() as u64;
                buf.clear();
            }
        }
        file.write_all_at(&buf, self.file_len)?;
        self.file_len += buf.len() as u64;
        self.runs.push(Run {
            offset: start,
            end: self.file_len,
        });
        self.mem_bytes = 0;
        Ok(())
    }

    /// Write `part` of every connection that has one, in document order, ids written
    /// in, `separator` between two (JSON's comma); before a group's detail, `header`
    /// writes what the group is.
    pub fn write(
        &mut self,
        part: Part,
        separator: &[u8],
        header: Option<&GroupHeader<'_>>,
        out: &mut dyn Write,
    ) -> Result<(), OutputError> {
        let marks = marks(self.format, part);
        let groups = std::mem::take(&mut self.groups);
        let mut written = 0;
        let r = self.visit(&mut |r, id| {
            let block = pick(r, part);
            if block.is_empty() {
                return Ok(());
            }
            if written > 0 {
                out.write_all(separator)?;
            }
            written += 1;
            if let (Some(h), Some(g)) = (header, groups.get(r.group)) {
                if part == Part::Detail {
                    h(g, out)?;
                }
            }
            write_with_id(block, id, marks, out)
        });
        self.groups = groups;
        r
    }
}

/// Writes a group's heading before its detail (Markdown, table and HTML reports).
pub type GroupHeader<'a> = dyn Fn(&GroupReport, &mut dyn Write) -> Result<(), OutputError> + 'a;

/// How many times the id appears at the start of each block.
fn marks(format: Format, part: Part) -> usize {
    match (format, part) {
        (Format::Html, _) => 2,
        _ => 1,
    }
}

fn pick(r: &Record, part: Part) -> &[u8] {
    match part {
        Part::Overview => &r.overview,
        Part::Detail => &r.detail,
    }
}

/// Copy `block` with its first `marks` occurrences of `ID_MARK` replaced by `id`.
fn write_with_id(
    block: &[u8],
    id: usize,
    marks: usize,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let mark = ID_MARK.to_string();
    let id = id.to_string();
    let mut rest = block;
    for _ in 0..marks {
        let Some(at) = find(rest, mark.as_bytes()) else {
            break;
        };
        out.write_all(&rest[..at])?;
        out.write_all(id.as_bytes())?;
        rest = &rest[at + mark.len()..];
    }
    out.write_all(rest)?;
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Head(Record, usize);

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.0.key == o.0.key
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.key.cmp(&o.0.key)
    }
}

/// A record on disk: input u32, first packet u64, seq u64, group u32, overview length
/// u32, detail length u32 (little-endian), then the two blocks.
fn encode(r: &Record, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&r.key.input.to_le_bytes());
    buf.extend_from_slice(&r.key.first_packet.to_le_bytes());
    buf.extend_from_slice(&r.key.seq.to_le_bytes());
    buf.extend_from_slice(&r.group.to_le_bytes());
    buf.extend_from_slice(&(r.overview.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(r.detail.len() as u32).to_le_bytes());
    buf.extend_from_slice(&r.overview);
    buf.extend_from_slice(&r.detail);
}

const HEADER: usize = 4 + 8 + 8 + 4 + 4 + 4;

/// Sequential reads of one run (pread: the runs share the file).
struct RunReader {
    pos: u64,
    end: u64,
}

impl RunReader {
    fn new(r: Run) -> Self {
        RunReader {
            pos: r.offset,
            end: r.end,
        }
    }

    fn read(&mut self, file: &File, n: usize) -> Result<Vec<u8>, OutputError> {
        let mut v = vec![0; n];
        file.read_exact_at(&mut v, self.pos)?;
        self.pos += n as u64;
        Ok(v)
    }

    fn next(&mut self, file: &File) -> Result<Option<Record>, OutputError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let h = self.read(file, HEADER)?;
        let u32_at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().expect("8 bytes"));
        let key = Key {
            input: u32_at(0),
            first_packet: u64_at(4),
            seq: u64_at(12),
        };
        let group = u32_at(20);
        let overview = self.read(file, u32_at(24) as usize)?;
        let detail = self.read(file, u32_at(28) as usize)?;
        Ok(Some(Record {
            key,
            group,
            overview,
            detail,
        }))
    }
}

/// An unnamed file in the temporary directory (O_TMPFILE: no name to race for, gone when
/// closed); where the filesystem cannot, a new file (O_EXCL, mode 0600) unlinked at once.
fn temp_file() -> Result<File, OutputError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    #[cfg(target_os = "linux")]
    {
        let unnamed = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(&dir);
        if let Ok(f) = unnamed {
            return Ok(f);
        }
    }
    let path = dir.join(format!(
        "certwire-spool-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}
