//! Opening an input: a file or stdin, gzip-compressed or not, recognised by content.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use crate::error::InputError;

/// Only for sniffing the first bytes (gzip, capture format): the capture reader's reads
/// (512 KiB read ahead, 64 KiB in line) are at least as large, so they bypass this buffer
/// and data is copied once, not twice.
const READ_BUFFER: usize = 64 << 10;

/// A byte stream positioned at the start of a capture, already unwrapped from gzip.
pub struct InputReader {
    pub name: String,
    pub gzip: bool,
    /// Bytes the capture will have, when known (a regular file, not compressed): for the
    /// progress line.
    pub size: Option<u64>,
    pub reader: Box<dyn BufRead + Send>,
    /// The regular file read, when the input is one and not compressed (it may then be
    /// mapped instead of read).
    pub file: Option<File>,
}

/// Open `path` ("-" is stdin). Compression is detected from the gzip magic, never from the
/// file name, because tickets carry captures under any name.
pub fn open_input(path: &str) -> Result<InputReader, InputError> {
    let name = if path == "-" {
        "<stdin>".to_string()
    } else {
        path.to_string()
    };
    let mut file = None;
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        let f = File::open(path).map_err(|source| InputError::Open {
            input: name.clone(),
            source,
        })?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(InputError::Open {
                input: name,
                source: io::Error::new(io::ErrorKind::InvalidInput, "is a directory"),
            });
        }
        if f.metadata().is_ok_and(|m| m.is_file()) {
            file = f.try_clone().ok();
        }
        Box::new(f)
    };
    let mut buffered = BufReader::with_capacity(READ_BUFFER, raw);
    let head = buffered.fill_buf().map_err(|source| InputError::Read {
        input: name.clone(),
        offset: 0,
        source,
    })?;
    if head.is_empty() {
        return Err(InputError::Empty { input: name });
    }
    let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let reader: Box<dyn BufRead + Send> = if gzip {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            flate2::read::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    let size = if gzip || path == "-" {
        None
    } else {
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    };
    Ok(InputReader {
        name,
        gzip,
        size,
        reader,
        file: file.filter(|_| !gzip),
    })
}
