//! Library errors. Each variant carries the context a user needs to act on it: which input,
//! where in it, and what was expected, so that the binary can print it without decoration.

use std::path::PathBuf;

/// Why an input (capture file or stdin) could not be used, or stopped being usable.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{input}: cannot open: {source}")]
    Open {
        input: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{input}: read error at byte {offset}: {source}")]
    Read {
        input: String,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{input}: empty input (0 bytes)")]
    Empty { input: String },
    #[error(
        "{input}: not a pcap or pcapng capture (first bytes {magic}); \
         expected a file written by tcpdump, dumpcap or tshark, optionally gzip-compressed"
    )]
    NotACapture { input: String, magic: String },
    #[error("{input}: malformed capture at byte {offset} (after packet {packet}): {detail}")]
    Malformed {
        input: String,
        offset: u64,
        packet: u64,
        detail: String,
    },
}

/// Errors from writing the report.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write report to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialize report: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A parser's error kind (nom's `ErrorKind`, DER errors), as `{:?}` names it, in words an
/// operator can act on; the name is kept in brackets for a bug report.
pub fn plain_parse_error(kind: &str) -> String {
    let words = if [
        "Eof",
        "Complete",
        "Incomplete",
        "Eof",
        "UnexpectedEof",
        "truncated",
    ]
    .iter()
    .any(|k| kind.contains(k))
    {
        "the data ends before the structure does"
    } else if kind.contains("InvalidLength")
        || kind.contains("LengthValue")
        || kind.contains("TooLarge")
    {
        "a length field does not fit the data"
    } else if kind.contains("Verify") {
        "a field holds a value the format does not allow"
    } else if kind.contains("Tag") || kind.contains("Char") {
        "unexpected bytes where a field should start"
    } else {
        "the bytes do not follow the format"
    };
    format!("{words} [{kind}]")
}
