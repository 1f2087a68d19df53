//! `certwire analyze`: inputs (files, stdin, or a live interface) through the analyzer,
//! reports to the chosen renderer.

mod behind;
mod collect;
mod live;
mod sink;

use collect::{analyze_parallel, Collector, Doc, Filter};
use sink::Sink;

use std::io::{self, Write};
use std::path::Path;

use crate::analyze::{Analyzer, Options};
use crate::cli::{exit, AnalyzeArgs, FailOn};
use crate::error::OutputError;
use crate::export::Exporter;
use crate::local::{self, Inventory, ScanOptions};
use crate::model::{InputReport, Level, LocalReport, Meta, Report, Warning};
use crate::output;
use crate::report::jsonl::JsonlWriter;
use crate::report::{fit, html, json, markdown, table, Format, Layout};
use crate::source::live::{LiveCapture, LiveOptions};

/// Run `analyze` and return the exit status.
pub fn analyze(args: &AnalyzeArgs) -> Result<i32, OutputError> {
    let ready = match prepare(args)? {
        Ok(ready) => ready,
        Err(status) => return Ok(status),
    };
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    // The input comes as it goes (a live capture, a pipe on stdin): each handshake is
    // written, and JSON Lines flushed, as it is decided, so that a follower (`tail -f`, a
    // log shipper) sees it at once. Read from files, the whole input is there: the report
    // leaves in large writes, on a thread of its own when more than one is allowed.
    let as_it_goes = ready.live.is_some()
        || args
            .inputs
            .iter()
            .any(|i| i == "-" && !stdin_is_regular_file());
    // Never through a symlink, nor into a FIFO or a device; `-o -` is stdout.
    let target: Box<dyn Write + Send> =
        match args.output.as_deref().filter(|p| !output::is_stdout(p)) {
            Some(path) => Box::new(output::create(path, output::REPORT_MODE)?),
            None => Box::new(io::stdout()),
        };
    let mut jsonl = match args.jsonl_compact {
        true => JsonlWriter::compact(),
        false => JsonlWriter::default(),
    };
    // One write (and flush) per 5 KB line was a third of the time of a handshake-dense
    // capture written to a file (issue 17): only when the input comes as it goes.
    jsonl.flush_each = as_it_goes;
    let mut out = Sink::new(target, jsonl, threads > 1);
    let (mut analyzer, inventory, mut bad_input) = analyzer_for(args, threads);
    let layout = layout_for(args, inventory.as_deref());
    let mut col = Collector::new(
        &mut out,
        args.format,
        stream_table(args, ready.live.is_some()) || args.format == Format::Jsonl,
        layout,
        Filter::from_args(args),
    );
    col.doc.export = ready.exporter;
    let inputs = match ready.live {
        Some(cap) => vec![live::run(
            args,
            cap,
            ready.metrics,
            &mut analyzer,
            &mut col,
        )?],
        None => read_inputs(args, &mut analyzer, &mut col, threads)?,
    };
    if let Some(e) = col.doc.error.take() {
        return Err(e);
    }
    bad_input |= inputs.iter().any(|i| i.error.is_some());
    let report = finish_report(&mut col, inputs, &mut analyzer, inventory.as_deref())?;
    let (streamed, mut doc) = (col.streaming, col.doc);
    match args.format {
        Format::Table if streamed => table::write_stream_end(&report, &layout, &mut out)?,
        Format::Table => table::write_table(&report, &mut doc.spool, &mut out)?,
        Format::Json => json::write_json(&report, &mut doc.spool, &mut out)?,
        Format::Jsonl => json::write_jsonl_summary(&report, &mut out)?,
        Format::Markdown => markdown::write_markdown(&report, &mut doc.spool, &mut out)?,
        Format::Html => html::write_html(&report, &mut doc.spool, &mut out)?,
    }
    out.flush()?;
    print_warnings(args, &report);
    Ok(exit_status(args, &report, bad_input))
}

/// What must be settled before anything is written: the live capture, the metrics
/// socket, the export directory.
struct Ready {
    live: Option<LiveCapture>,
    metrics: Option<crate::metrics::Endpoint>,
    exporter: Option<Exporter>,
}

/// Refusals and problems found before anything is written (Err: the exit status).
fn prepare(args: &AnalyzeArgs) -> Result<Result<Ready, i32>, OutputError> {
    // Live capture problems are found before anything is written.
    let live = match &args.live {
        Some(interface) => match LiveCapture::open(&LiveOptions {
            interface: interface.clone(),
            ports: args.ports.clone(),
            any_port: args.any_port,
            promiscuous: args.promisc,
        }) {
            Ok(cap) => Some(cap),
            Err(e) => {
                eprintln!("certwire: {e}");
                return Ok(Err(exit::LIVE_UNAVAILABLE));
            }
        },
        None => None,
    };
    // The metrics socket too, before anything is written (and before privileges go: the
    // serving thread starts after, in live::run).
    let metrics = match args.metrics_listen.as_deref().filter(|_| live.is_some()) {
        Some(addr) => match crate::metrics::bind(addr) {
            Ok(endpoint) => Some(endpoint),
            Err(e) => {
                eprintln!("certwire: --metrics-listen {e}");
                return Ok(Err(if e.kind() == io::ErrorKind::InvalidInput {
                    exit::USAGE
                } else {
                    exit::LIVE_UNAVAILABLE
                }));
            }
        },
        None => None,
    };
    if args.jsonl_compact && args.format != Format::Jsonl {
        eprintln!("certwire: --jsonl-compact is a form of JSON Lines: give --format jsonl");
        return Ok(Err(exit::USAGE));
    }
    // A --certs path that does not exist is a mistake, not an empty node.
    if let Some(missing) = args.certs.iter().find(|p| p.symlink_metadata().is_err()) {
        eprintln!("certwire: --certs {}: does not exist", missing.display());
        return Ok(Err(exit::USAGE));
    }
    // Refused (a symlink, not a directory) before the report file is truncated.
    let exporter = args
        .export_certs
        .as_deref()
        .map(Exporter::open)
        .transpose()?;
    Ok(Ok(Ready {
        live,
        metrics,
        exporter,
    }))
}

/// The analyzer with the node's files and the key logs; true when a key log could not be
/// read (a bad input).
fn analyzer_for(
    args: &AnalyzeArgs,
    threads: usize,
) -> (Analyzer, Option<std::sync::Arc<Inventory>>, bool) {
    let mut analyzer = Analyzer::new(&Options {
        ports: args.ports.clone(),
        any_port: args.any_port,
    });
    analyzer.read_ahead = threads > 1;
    analyzer.include_der = args.include_der;
    let inventory = load_inventory(args);
    if let Some(inv) = &inventory {
        analyzer.set_inventory(inv.clone());
    }
    let mut bad_input = false;
    for path in &args.keylog {
        // Regular files only, up to MAX_KEYLOG: never a FIFO or a device (src/local/read.rs).
        match local::read_named(path, local::MAX_KEYLOG) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                analyzer.warnings.extend(keylog_warning(path, &text));
                analyzer.add_keylog_text(&text);
            }
            Err(e) => {
                bad_input = true;
                analyzer.warnings.push(Warning {
                    level: Level::Error,
                    input: path.display().to_string(),
                    packet: None,
                    offset: None,
                    message: format!("cannot read key log: {e}"),
                });
            }
        }
    }
    (analyzer, inventory, bad_input)
}

/// JSON Lines always streams; the table streams when reading stdin or a live interface,
/// so that each handshake shows as it finishes. Documents (JSON, Markdown, a table of
/// files) are ordered by first packet instead.
fn stream_table(args: &AnalyzeArgs, live: bool) -> bool {
    args.format == Format::Table && (live || args.inputs.iter().any(|i| i == "-"))
}

fn layout_for(args: &AnalyzeArgs, inventory: Option<&Inventory>) -> Layout {
    Layout {
        with_local: inventory.is_some_and(|i| !i.certs.is_empty()),
        grouped: !args.no_group,
        summary_only: args.summary,
        width: (args.format == Format::Table && args.output.is_none())
            .then(fit::terminal_width)
            .flatten(),
        several_inputs: args.inputs.len() > 1,
    }
}

/// Errors always reach stderr; warnings too when the report goes elsewhere or is
/// machine-read (the table on a terminal lists them itself).
fn print_warnings(args: &AnalyzeArgs, report: &Report) {
    let to_terminal = args.format == Format::Table && args.output.is_none();
    for w in &report.warnings {
        if w.level == Level::Error || !to_terminal {
            eprintln!("certwire: {}: {}: {}", w.level.as_str(), w.input, w.message);
        }
    }
}

fn exit_status(args: &AnalyzeArgs, report: &Report, bad_input: bool) -> i32 {
    let s = &report.summary;
    let failing = match args.fail_on {
        Some(FailOn::Error) => s.errors > 0,
        Some(FailOn::Warning) => s.errors + s.warnings > 0,
        Some(FailOn::Unknown) => s.errors + s.warnings + s.unknown_verdicts > 0,
        None => false,
    };
    if bad_input {
        exit::BAD_INPUT
    } else if failing {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

/// Stdin is a regular file (`< capture.pcap`), not a pipe or a terminal: it is all there.
fn stdin_is_regular_file() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }
    #[cfg(not(unix))]
    false
}

/// The files (or stdin) through the analyzer: several files going into one document are
/// analyzed in parallel on all cores and merged in command-line order, so the output is
/// the same whatever the thread count.
fn read_inputs(
    args: &AnalyzeArgs,
    analyzer: &mut Analyzer,
    col: &mut Collector<'_>,
    threads: usize,
) -> Result<Vec<InputReport>, OutputError> {
    let mut inputs = Vec::new();
    if !col.streaming && args.inputs.len() > 1 && !args.inputs.iter().any(|i| i == "-") {
        let doc = std::mem::replace(&mut col.doc, Doc::new(args.format, col.layout));
        let shared = std::sync::Mutex::new(doc);
        for (report, warnings) in
            analyze_parallel(analyzer, &args.inputs, threads, &shared, &col.filter)
        {
            inputs.push(report);
            analyzer.warnings.extend(warnings);
        }
        col.doc = shared.into_inner().unwrap_or_else(|e| e.into_inner());
        return Ok(inputs);
    }
    analyzer.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for (i, path) in args.inputs.iter().enumerate() {
        col.input = i;
        inputs.push(analyzer.analyze_input(path, &mut |c| col.add(c)));
        if let Some(e) = col.doc.error.take() {
            return Err(e);
        }
    }
    Ok(inputs)
}

/// The report around the connections: inputs, warnings, summary, groups, notices.
fn finish_report(
    col: &mut Collector<'_>,
    inputs: Vec<InputReport>,
    analyzer: &mut Analyzer,
    inventory: Option<&Inventory>,
) -> Result<Report, OutputError> {
    if let Some(x) = &col.doc.export {
        if x.has_pending() {
            col.doc.spool.ids(&mut |seq, id| x.name_pending(seq, id))?;
        }
        analyzer.warnings.extend(x.finish());
    }
    let mut summary = std::mem::take(&mut col.doc.summary);
    for g in inputs.iter().flat_map(|i| &i.connection_attempts) {
        summary.add_finding(&g.finding);
    }
    let groups = if col.streaming {
        col.groups.number();
        col.groups.reports()
    } else {
        col.doc.spool.assign_ids()?;
        col.doc.spool.groups.reports()
    };
    let mut notices = local_notices(inventory);
    if col.filter.is_active() {
        notices.push(format!(
            "filtered by {}: {} connection(s) not shown (the summary counts those shown)",
            col.filter.describe(),
            col.doc.filtered_out
        ));
    }
    Ok(Report {
        certwire: Meta::default(),
        inputs,
        warnings: std::mem::take(&mut analyzer.warnings),
        summary,
        notices,
        local_certificates: inventory.map(|inv| LocalReport {
            root: inv.root.clone(),
            searched: inv.searched.clone(),
            files_read: inv.files_read,
            certificates: inv.certs.len(),
            problems: inv.problems.clone(),
        }),
        groups,
    })
}

/// A key log without a single line certwire can use (a private key or /etc/shadow given
/// by mistake) decrypts nothing: say so, without quoting any of it.
fn keylog_warning(path: &Path, text: &str) -> Option<Warning> {
    let parsed = crate::tls::keylog::KeyLog::default();
    parsed.add_text(text, crate::tls::keylog::KeySource::KeylogFile);
    (parsed.good_lines() == 0).then(|| Warning {
        level: Level::Warning,
        input: path.display().to_string(),
        packet: None,
        offset: None,
        message: format!(
            "no valid key log line ({} line(s) not in the NSS key log format \
             `LABEL <client random> <secret>`): nothing to decrypt with",
            parsed.bad_lines()
        ),
    })
}

/// Said once per report when presented certificates cannot be matched to files (instead
/// of "in no local file" on every certificate): nothing searched, or nothing found.
fn local_notices(inv: Option<&Inventory>) -> Vec<String> {
    let Some(inv) = inv else {
        return vec!["no local files were searched (--no-default-certs): certificates are not matched to files and trust is not judged".into()];
    };
    if !inv.certs.is_empty() {
        return Vec::new();
    }
    let searched: Vec<&str> = inv
        .searched
        .iter()
        .filter(|s| s.exists)
        .map(|s| s.path.as_str())
        .collect();
    let mut n = if searched.is_empty() {
        format!(
            "no local certificate files found ({} do not exist): certificates are not matched to files and trust is not judged; give --certs DIR, or --root DIR for a copy of a node",
            inv.searched.iter().map(|s| s.path.as_str()).collect::<Vec<_>>().join(", ")
        )
    } else {
        format!(
            "no certificates found in {}: certificates are not matched to files and trust is not judged",
            searched.join(", ")
        )
    };
    if inv.root.is_none() && inv.problems.iter().any(|p| p.reason.contains("--root")) {
        n.push_str("; a copy of a node? give its top folder with --root");
    }
    vec![n]
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
