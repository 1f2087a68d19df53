//! `certwire analyze`: inputs through the analyzer, reports to the chosen renderer.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::analyze::{Analyzer, Options};
use crate::cli::{exit, AnalyzeArgs, FailOn};
use crate::error::OutputError;
use crate::local::{self, Inventory, ScanOptions};
use crate::report::model::{LocalReport, Meta, Report, Summary};
use crate::report::{json, markdown, table, Format};

/// Run `analyze` and return the exit status.
pub fn analyze(args: &AnalyzeArgs) -> Result<i32, OutputError> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|source| {
            OutputError::Write {
                path: path.clone(),
                source,
            }
        })?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let opts = Options {
        ports: args.ports.clone(),
        any_port: args.any_port,
    };
    let mut analyzer = Analyzer::new(&opts);
    let inventory = load_inventory(args);
    if let Some(inv) = &inventory {
        analyzer.set_inventory(inv.clone());
    }
    let with_local = inventory.is_some();
    let mut keylog_error = false;
    for path in &args.keylog {
        match std::fs::read(path) {
            Ok(bytes) => analyzer.add_keylog_text(&String::from_utf8_lossy(&bytes)),
            Err(e) => {
                keylog_error = true;
                analyzer.warnings.push(crate::report::model::Warning {
                    input: path.display().to_string(),
                    packet: None,
                    offset: None,
                    message: format!("cannot read key log: {e}"),
                });
            }
        }
    }
    // JSON Lines always streams; the table streams when reading stdin, so that
    // `tcpdump -w - | certwire analyze -` shows each handshake as it finishes. Documents
    // (JSON, Markdown, a table of files) are ordered by first packet instead.
    let stream_table = args.format == Format::Table && args.inputs.iter().any(|i| i == "-");
    let streaming = args.format == Format::Jsonl || stream_table;
    let mut connections = Vec::new();
    let mut inputs = Vec::new();
    let mut summary = Summary::default();
    let mut write_error: Option<OutputError> = None;
    let mut next_id = 0;
    for path in &args.inputs {
        let mut sink = |mut c: crate::report::model::ConnectionReport| {
            if streaming {
                next_id += 1;
                c.id = next_id;
                summary.add(&c);
                if write_error.is_none() {
                    let r = if args.format == Format::Jsonl {
                        json::write_jsonl_connection(&c, &mut out)
                    } else {
                        table::write_connection(&c, with_local, &mut out)
                            .and_then(|_| Ok(out.flush()?))
                    };
                    if let Err(e) = r {
                        write_error = Some(e);
                    }
                }
            } else {
                connections.push(c);
            }
        };
        inputs.push(analyzer.analyze_input(path, &mut sink));
        if let Some(e) = write_error.take() {
            return Err(e);
        }
    }
    if !streaming {
        // Stable order whatever the order handshakes finished in: input, then first packet.
        let order: Vec<&String> = args.inputs.iter().collect();
        connections.sort_by_key(|c| {
            (
                order.iter().position(|i| **i == c.input).unwrap_or(0),
                c.first_packet,
            )
        });
        for (i, c) in connections.iter_mut().enumerate() {
            c.id = i + 1;
            summary.add(c);
        }
    }
    let bad_input = keylog_error || inputs.iter().any(|i| i.error.is_some());
    let report = Report {
        certwire: Meta::default(),
        inputs,
        connections,
        warnings: std::mem::take(&mut analyzer.warnings),
        summary,
        local_certificates: inventory.as_deref().map(|inv| LocalReport {
            root: inv.root.clone(),
            searched: inv.searched.clone(),
            files_read: inv.files_read,
            certificates: inv.certs.len(),
            problems: inv.problems.clone(),
        }),
    };
    match args.format {
        Format::Table if stream_table => table::write_footer(&report, &mut out)?,
        Format::Table => table::write_table(&report, &mut out)?,
        Format::Json => json::write_json(&report, &mut out)?,
        Format::Jsonl => json::write_jsonl_summary(&report, &mut out)?,
        Format::Markdown => markdown::write_markdown(&report, &mut out)?,
    }
    out.flush()?;
    if args.format != Format::Table || args.output.is_some() {
        // Warnings also reach the terminal when the report goes elsewhere or is machine-read.
        for w in &report.warnings {
            eprintln!("certwire: warning: {}: {}", w.input, w.message);
        }
    }
    let failing = match args.fail_on {
        Some(FailOn::Error) => report.summary.errors > 0,
        Some(FailOn::Warning) => report.summary.errors + report.summary.warnings > 0,
        None => false,
    };
    Ok(if bad_input {
        exit::BAD_INPUT
    } else if failing {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// The node's certificate files: `--certs`, or the standard locations (under `--root` when
/// given) unless `--no-default-certs`. None when nothing is to be searched.
fn load_inventory(args: &AnalyzeArgs) -> Option<std::sync::Arc<Inventory>> {
    let defaults = !args.no_default_certs;
    if args.certs.is_empty() && !defaults {
        return None;
    }
    let inv = local::scan(&ScanOptions {
        paths: args.certs.clone(),
        root: args.root.clone(),
        defaults,
    });
    Some(std::sync::Arc::new(inv))
}
