//! JSON (one document) and JSON Lines (one object per connection as it is decided, then a
//! closing summary object).

use std::io::Write;

use serde::Serialize;

use super::model::{ConnectionReport, InputReport, LocalReport, Meta, Report, Summary, Warning};
use crate::error::OutputError;

pub fn write_json(report: &Report, out: &mut dyn Write) -> Result<(), OutputError> {
    // A local buffer in front of the `dyn Write`: serde writes token by token.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut w, report)?;
    w.write_all(b"\n")?;
    w.flush()?;
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
    notices: &'a [String],
    local_certificates: &'a Option<LocalReport>,
}

/// One line for one connection, flushed so that a follower (`tail -f`, a log shipper) sees
/// it at once.
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
        notices: &report.notices,
        local_certificates: &report.local_certificates,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
