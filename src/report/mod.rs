//! Reports: one renderer per format, each writing to any `io::Write`. They render what
//! the analysis decided ([`crate::model`], with [`crate::diagnose`]'s findings and
//! [`crate::correlate`]'s matches); nothing upstream imports this module.

pub mod diagram;
pub mod html;
pub mod json;
pub mod markdown;
pub mod spool;
pub use crate::model;
pub mod table;
mod text;

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
