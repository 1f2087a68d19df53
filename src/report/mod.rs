//! Reports: one renderer per format, each writing to any `io::Write`. They render what
//! the analysis decided ([`crate::model`], with [`crate::diagnose`]'s findings and
//! [`crate::correlate`]'s matches); nothing upstream imports this module.

pub mod diagram;
pub mod fit;
pub mod groups;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod markdown;
pub mod spool;
pub use crate::model;
pub mod table;
mod text;

/// How connections are laid out, whatever the format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// Local certificate files were searched: say where each certificate came from (or
    /// that it is in none).
    pub with_local: bool,
    /// Connections that tell the same story are one group, detailed once (off with
    /// `--no-group`).
    pub grouped: bool,
    /// The overview alone (`--summary`).
    pub summary_only: bool,
    /// Table output: no line longer than this (the terminal's width, or `COLUMNS`).
    pub width: Option<usize>,
    /// Several inputs go into one report: say which one each connection came from.
    pub several_inputs: bool,
}

/// Output formats of `certwire analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables on the terminal.
    Table,
    /// One JSON document (docs/report-schema.md).
    Json,
    /// One JSON object per connection as its handshake is decided, then a summary object.
    Jsonl,
    /// Markdown for pasting into a ticket.
    Markdown,
    /// A self-contained HTML page (no scripts, no external resources).
    Html,
}
