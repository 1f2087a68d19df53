//! JSON (one document) and JSON Lines (one object per connection as it is decided, then a
//! closing summary object).

use std::io::Write;

use serde::Serialize;

use super::model::{
    ConnectionReport, GroupReport, InputReport, LocalReport, Meta, Report, Summary, Warning,
};
use super::spool::{Part, Spool};
use crate::error::OutputError;

/// One document, its fields in the schema's order; the connections come from the spool,
/// so the document is never whole in memory.
pub fn write_json(
    report: &Report,
    spool: &mut Spool,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    // A local buffer in front of the `dyn Write`: serde writes token by token.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    w.write_all(b"{\n")?;
    field(&mut w, "certwire", &report.certwire, false)?;
    field(&mut w, "inputs", &report.inputs, false)?;
    if spool.is_empty() || spool.layout().summary_only {
        w.write_all(b"  \"connections\": [],\n")?;
    } else {
        w.write_all(b"  \"connections\": [\n")?;
        spool.write(Part::Detail, b",\n", None, &mut w)?;
        w.write_all(b"\n  ],\n")?;
    }
    field(&mut w, "warnings", &report.warnings, false)?;
    field(&mut w, "summary", &report.summary, false)?;
    field(&mut w, "groups", &report.groups, false)?;
    field(&mut w, "notices", &report.notices, false)?;
    field(
        &mut w,
        "local_certificates",
        &report.local_certificates,
        true,
    )?;
    w.write_all(b"}\n")?;
    w.flush()?;
    Ok(())
}

/// `  "name": <value, pretty, indented one level>` and a comma unless `last`.
fn field(
    w: &mut dyn Write,
    name: &str,
    value: &impl Serialize,
    last: bool,
) -> Result<(), OutputError> {
    write!(w, "  \"{name}\": ")?;
    write_indented(w, value, 1)?;
    w.write_all(if last { b"\n" } else { b",\n" })?;
    Ok(())
}

fn write_indented(
    w: &mut dyn Write,
    value: &impl Serialize,
    level: usize,
) -> Result<(), OutputError> {
    let text = serde_json::to_vec_pretty(value)?;
    let pad = "  ".repeat(level);
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            w.write_all(b"\n")?;
            w.write_all(pad.as_bytes())?;
        }
        w.write_all(line)?;
    }
    Ok(())
}

/// A connection as an element of the document's `connections` array.
pub fn write_document_connection(
    c: &ConnectionReport,
    out: &mut Vec<u8>,
) -> Result<(), OutputError> {
    out.extend_from_slice(b"    ");
    write_indented(out, c, 2)?;
    Ok(())
}

#[derive(Serialize)]
struct ConnectionLine<'a> {
    record: &'static str,
    #[serde(flatten)]
    connection: &'a ConnectionReport,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    record: &'static str,
    certwire: &'a Meta,
    inputs: &'a [InputReport],
    warnings: &'a [Warning],
    summary: &'a Summary,
    groups: &'a [GroupReport],
    notices: &'a [String],
    local_certificates: &'a Option<LocalReport>,
}

/// One line for one connection, flushed so that a follower (`tail -f`, a log shipper) sees
/// it at once. `analyze` writes the same bytes faster with [`super::jsonl::JsonlWriter`];
/// this is the reference it is tested against (tests/jsonl.rs).
pub fn write_jsonl_connection(
    c: &ConnectionReport,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    // Serialized into memory first: serde writes token by token, and each write through
    // the `dyn Write` is a dynamic call; one write per line is cheaper.
    let mut line = Vec::with_capacity(8192);
    serde_json::to_writer(
        &mut line,
        &ConnectionLine {
            record: "connection",
            connection: c,
        },
    )?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()?;
    Ok(())
}

pub fn write_jsonl_summary(report: &Report, out: &mut dyn Write) -> Result<(), OutputError> {
    let line = SummaryLine {
        record: "summary",
        certwire: &report.certwire,
        inputs: &report.inputs,
        warnings: &report.warnings,
        summary: &report.summary,
        groups: &report.groups,
        notices: &report.notices,
        local_certificates: &report.local_certificates,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
