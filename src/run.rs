//! `certwire analyze`: inputs (files, stdin, or a live interface) through the analyzer,
//! reports to the chosen renderer.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::analyze::{Analyzer, Options};
use crate::cli::{exit, AnalyzeArgs, FailOn};
use crate::error::OutputError;
use crate::evidence::Evidence;
use crate::local::{self, Inventory, ScanOptions};
use crate::model::{
    ConnectionReport, InputReport, Level, LocalReport, Meta, Report, Summary, Warning,
};
use crate::output;
use crate::report::spool::Spool;
use crate::report::{html, json, markdown, table, Format};
use crate::source::live::{LiveCapture, LiveOptions};
use crate::source::Packet;
use crate::wire::linktype;

/// Where connection reports go as they are decided: written at once when streaming
/// (JSON Lines, the table of a pipe or a live capture), else rendered into the spool,
/// which keeps the document in bounded memory until it is written in order.
struct Collector<'a> {
    out: &'a mut dyn Write,
    format: Format,
    streaming: bool,
    with_local: bool,
    spool: Spool,
    /// Command-line position of the input being read.
    input: usize,
    summary: Summary,
    next_id: usize,
    error: Option<OutputError>,
}

impl Collector<'_> {
    fn add(&mut self, mut c: ConnectionReport) {
        self.summary.add(&c);
        if self.error.is_some() {
            return;
        }
        if !self.streaming {
            if let Err(e) = self.spool.add(self.input, &mut c) {
                self.error = Some(e);
            }
            return;
        }
        self.next_id += 1;
        c.id = self.next_id;
        let r = if self.format == Format::Jsonl {
            json::write_jsonl_connection(&c, self.out)
        } else {
            table::write_connection(&c, self.with_local, self.out)
                .and_then(|_| Ok(self.out.flush()?))
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
}

/// Run `analyze` and return the exit status.
pub fn analyze(args: &AnalyzeArgs) -> Result<i32, OutputError> {
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
                return Ok(exit::LIVE_UNAVAILABLE);
            }
        },
        None => None,
    };
    // A --certs path that does not exist is a mistake, not an empty node.
    if let Some(missing) = args.certs.iter().find(|p| p.symlink_metadata().is_err()) {
        eprintln!("certwire: --certs {}: does not exist", missing.display());
        return Ok(exit::USAGE);
    }
    // Never through a symlink, nor into a FIFO or a device; `-o -` is stdout.
    let mut out: Box<dyn Write> = match args.output.as_deref().filter(|p| !output::is_stdout(p)) {
        Some(path) => Box::new(BufWriter::new(output::create(path, output::REPORT_MODE)?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let mut analyzer = Analyzer::new(&Options {
        ports: args.ports.clone(),
        any_port: args.any_port,
    });
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    analyzer.read_ahead = threads > 1;
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
    // JSON Lines always streams; the table streams when reading stdin or a live interface,
    // so that each handshake shows as it finishes. Documents (JSON, Markdown, a table of
    // files) are ordered by first packet instead.
    let stream_table =
        args.format == Format::Table && (live.is_some() || args.inputs.iter().any(|i| i == "-"));
    let mut col = Collector {
        out: &mut out,
        format: args.format,
        streaming: args.format == Format::Jsonl || stream_table,
        with_local: inventory.as_ref().is_some_and(|i| !i.certs.is_empty()),
        spool: Spool::new(
            args.format,
            inventory.as_ref().is_some_and(|i| !i.certs.is_empty()),
        ),
        input: 0,
        summary: Summary::default(),
        next_id: 0,
        error: None,
    };
    let mut inputs = Vec::new();
    match live {
        Some(cap) => inputs.push(run_live(args, cap, &mut analyzer, &mut col)?),
        None if !col.streaming
            && args.inputs.len() > 1
            && !args.inputs.iter().any(|i| i == "-") =>
        {
            // Several files, one document: analyzed in parallel on all cores and merged in
            // command-line order, so the output is the same whatever the thread count.
            let shared = std::sync::Mutex::new((
                std::mem::replace(&mut col.spool, Spool::new(args.format, false)),
                Summary::default(),
                None,
            ));
            for (report, warnings) in analyze_parallel(&analyzer, &args.inputs, threads, &shared) {
                inputs.push(report);
                analyzer.warnings.extend(warnings);
            }
            let (spool, summary, error) = shared.into_inner().unwrap_or_else(|e| e.into_inner());
            col.spool = spool;
            col.summary = summary;
            col.error = error;
        }
        None => {
            analyzer.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            for (i, path) in args.inputs.iter().enumerate() {
                col.input = i;
                inputs.push(analyzer.analyze_input(path, &mut |c| col.add(c)));
                if let Some(e) = col.error.take() {
                    return Err(e);
                }
            }
        }
    }
    if let Some(e) = col.error.take() {
        return Err(e);
    }
    let mut summary = std::mem::take(&mut col.summary);
    for g in inputs.iter().flat_map(|i| &i.connection_attempts) {
        summary.add_finding(&g.finding);
    }
    bad_input |= inputs.iter().any(|i| i.error.is_some());
    let report = Report {
        certwire: Meta::default(),
        inputs,
        warnings: std::mem::take(&mut analyzer.warnings),
        summary,
        notices: local_notices(inventory.as_deref()),
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
        Format::Table => table::write_table(&report, &mut col.spool, &mut out)?,
        Format::Json => json::write_json(&report, &mut col.spool, &mut out)?,
        Format::Jsonl => json::write_jsonl_summary(&report, &mut out)?,
        Format::Markdown => markdown::write_markdown(&report, &mut col.spool, &mut out)?,
        Format::Html => html::write_html(&report, &mut col.spool, &mut out)?,
    }
    out.flush()?;
    // Errors always reach stderr; warnings too when the report goes elsewhere or is
    // machine-read (the table on a terminal lists them itself).
    let to_terminal = args.format == Format::Table && args.output.is_none();
    for w in &report.warnings {
        if w.level == Level::Error || !to_terminal {
            eprintln!("certwire: {}: {}: {}", w.level.as_str(), w.input, w.message);
        }
    }
    let failing = match args.fail_on {
        Some(FailOn::Error) => report.summary.errors > 0,
        Some(FailOn::Warning) => report.summary.errors + report.summary.warnings > 0,
        Some(FailOn::Unknown) => {
            report.summary.errors + report.summary.warnings + report.summary.unknown_verdicts > 0
        }
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

/// An input read: its report and its warnings.
type InputDone = (InputReport, Vec<Warning>);

/// What the parallel readers share: the document's spool, the summary, the first error.
type Shared = std::sync::Mutex<(Spool, Summary, Option<OutputError>)>;

/// Analyze `inputs` with up to `threads` analyzers side by side, each connection into the
/// shared spool (which orders the document whatever the order of arrival); input reports
/// and warnings in input order.
fn analyze_parallel(
    base: &Analyzer,
    inputs: &[String],
    threads: usize,
    shared: &Shared,
) -> Vec<InputDone> {
    let threads = threads.clamp(1, inputs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<InputDone>>> =
        std::sync::Mutex::new(inputs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut analyzer = base.fork();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = inputs.get(i) else { break };
                    let report = analyzer.analyze_input(path, &mut |mut c| {
                        let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
                        let (spool, summary, error) = &mut *g;
                        summary.add(&c);
                        if error.is_none() {
                            if let Err(e) = spool.add(i, &mut c) {
                                *error = Some(e);
                            }
                        }
                    });
                    let warnings = std::mem::take(&mut analyzer.warnings);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some((report, warnings));
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Set by SIGINT/SIGTERM: the live loop stops and the summary is printed.
static STOP: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "linux")]
extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    #[cfg(target_os = "linux")]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Capture until Ctrl-C / SIGTERM, --duration or --count; report as handshakes finish.
fn run_live(
    args: &AnalyzeArgs,
    mut cap: LiveCapture,
    analyzer: &mut Analyzer,
    col: &mut Collector<'_>,
) -> Result<InputReport, OutputError> {
    let interface = args.live.clone().unwrap_or_default();
    let name = format!("live:{interface}");
    let mut writer = match &args.write {
        Some(path) => Some(Evidence::create(path, crate::source::live::SNAPLEN as u32)?),
        None => None,
    };
    analyzer.keep_packets = writer.is_some();
    if let (Some(w), true) = (&writer, args.write_application_secrets) {
        eprintln!(
            "certwire: {}",
            if w.takes_secrets() {
                "warning: --write-application-secrets: the evidence file will hold application secrets; whoever has it can read the traffic (tokens, request bodies)"
            } else {
                "--write-application-secrets: ignored, secrets go only into a .pcapng evidence file"
            }
        );
    }
    let mut keys = start_process_keys(args, analyzer);
    // Everything that needed privileges is open: the socket, the report and --write files,
    // the node's files and key logs, the uprobes. Root and capabilities are given up for
    // the capture.
    for line in crate::source::live::drop_privileges().lines() {
        eprintln!("certwire: {line}");
    }
    install_signal_handlers();
    let ports: Vec<String> = args.ports.iter().map(|p| p.to_string()).collect();
    eprintln!(
        "certwire: capturing on {interface} ({}); Ctrl-C to stop",
        if args.any_port {
            "TLS on any port".to_string()
        } else {
            format!("ports {}", ports.join(","))
        }
    );
    let started = Instant::now();
    let mut run = analyzer.begin(&name);
    let mut number = 0u64;
    let mut reported = 0u64;
    let mut by_count = false;
    let mut received = 0u64;
    while !STOP.load(Ordering::SeqCst) {
        if args.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let polled = cap.poll(200, &mut |ts, data, orig_len| {
            // Secrets are derived before the records they protect are sent: read them
            // before each packet.
            if let Some(k) = keys.as_mut() {
                k.poll();
            }
            number += 1;
            let p = Packet {
                number,
                ts,
                linktype: linktype::RAW,
                data,
                orig_len,
                offset: received,
            };
            received += data.len() as u64;
            analyzer.feed(&mut run, &p, &mut |c| {
                reported += 1;
                col.add(c);
            });
        });
        // Also between packets (every poll timeout at most): secrets of connections not
        // followed must not fill the ring buffer while the followed ports are quiet.
        if let Some(k) = keys.as_mut() {
            k.poll();
        }
        if let Err(e) = polled {
            analyzer.warnings.push(Warning {
                level: Level::Error,
                input: name.clone(),
                packet: Some(number),
                offset: None,
                message: e.to_string(),
            });
            break;
        }
        if let Some(w) = writer.as_mut() {
            write_evidence(w, analyzer, args.write_application_secrets)?;
        }
        if let Some(e) = col.error.take() {
            return Err(e);
        }
        if args.count.is_some_and(|n| reported >= n) {
            by_count = true;
            break;
        }
    }
    if let Some(k) = keys.as_mut() {
        k.poll();
        eprintln!("certwire: keys: {}", k.summary());
    }
    let stats = cap.stats();
    let mut report = if by_count {
        // Stopped by count: handshakes still under way are not reported (they would
        // exceed the count); they are counted in the summary's warnings.
        let mut r = run.report_mut().clone();
        r.path = name.clone();
        r
    } else {
        analyzer.end(run, &mut |c| col.add(c))
    };
    if let Some(w) = writer.as_mut() {
        write_evidence(w, analyzer, args.write_application_secrets)?;
        w.flush()?;
    }
    report.packets = number;
    report.link_types = vec![linktype::name(linktype::RAW)];
    report.kernel_packets = Some(stats.kernel_packets);
    report.kernel_drops = Some(stats.kernel_drops);
    if stats.kernel_drops > 0 {
        analyzer.warnings.push(Warning {
            level: Level::Warning,
            input: name,
            packet: None,
            offset: None,
            message: format!(
                "the kernel dropped {} packet(s) that certwire did not read in time: handshakes may be reported incomplete",
                stats.kernel_drops
            ),
        });
    }
    Ok(report)
}

/// `--keys-from-processes` / `--keys-from`: probe the Go executables before privileges are
/// dropped. Each executable's result goes to stderr; a kernel that cannot run probes is a
/// warning, and the capture goes on without them.
#[cfg(target_os = "linux")]
fn start_process_keys(
    args: &AnalyzeArgs,
    analyzer: &mut Analyzer,
) -> Option<crate::process_keys::ProcessKeys> {
    if !args.keys_from_processes && args.keys_from.is_empty() {
        return None;
    }
    let wanted = crate::process_keys::discover::Wanted {
        named: args.keys_from.clone(),
        discover: args.keys_from_processes,
        ports: args.ports.clone(),
    };
    let store = analyzer.wait_for_process_keys();
    match crate::process_keys::ProcessKeys::start(&wanted, store) {
        Ok((keys, lines)) => {
            for line in lines {
                eprintln!("certwire: keys: {line}");
            }
            Some(keys)
        }
        Err(e) => {
            let message = format!("TLS secrets cannot be taken from processes: {e}");
            eprintln!("certwire: keys: {message}");
            analyzer.warnings.push(Warning {
                level: Level::Warning,
                input: format!("live:{}", args.live.as_deref().unwrap_or_default()),
                packet: None,
                offset: None,
                message,
            });
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn start_process_keys(_: &AnalyzeArgs, _: &mut Analyzer) -> Option<NoKeys> {
    None
}

#[cfg(not(target_os = "linux"))]
struct NoKeys;

#[cfg(not(target_os = "linux"))]
impl NoKeys {
    fn poll(&mut self) {}
    fn summary(&self) -> String {
        String::new()
    }
}

/// The packets of the connections reported since the last call, with their secrets
/// before them in a pcapng.
fn write_evidence(
    w: &mut Evidence,
    analyzer: &mut Analyzer,
    application: bool,
) -> Result<(), OutputError> {
    let secrets = analyzer.take_written_secrets(application);
    let secrets = if w.takes_secrets() {
        secrets
    } else {
        String::new()
    };
    w.write(&secrets, &analyzer.take_written())
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
