//! `analyze --live`: open what needs privileges (the evidence file, the uprobes), give
//! the privileges up, capture until told to stop, and report as handshakes finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::collect::Collector;
use crate::analyze::{Analyzer, InputRun};
use crate::cli::AnalyzeArgs;
use crate::error::OutputError;
use crate::evidence::Evidence;
use crate::model::{InputReport, Level, Warning};
use crate::source::live::LiveCapture;
use crate::source::Packet;
use crate::wire::linktype;

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

#[cfg(target_os = "linux")]
type Keys = crate::process_keys::ProcessKeys;
#[cfg(not(target_os = "linux"))]
type Keys = NoKeys;

/// What the capture loop ends with.
struct Captured {
    packets: u64,
    /// Stopped because --count handshakes were reported.
    by_count: bool,
}

/// Capture until Ctrl-C / SIGTERM, --duration or --count; report as handshakes finish.
pub fn run(
    args: &AnalyzeArgs,
    mut cap: LiveCapture,
    metrics: Option<crate::metrics::Endpoint>,
    analyzer: &mut Analyzer,
    col: &mut Collector<'_>,
) -> Result<InputReport, OutputError> {
    let name = format!("live:{}", args.live.as_deref().unwrap_or_default());
    let mut writer = open_evidence(args, analyzer)?;
    let mut keys = start_process_keys(args, analyzer);
    // Everything that needed privileges is open: the socket, the report and --write files,
    // the node's files and key logs, the uprobes. Root and capabilities are given up for
    // the capture.
    for line in crate::source::live::drop_privileges().lines() {
        eprintln!("certwire: {line}");
    }
    install_signal_handlers();
    if let Some(endpoint) = metrics {
        // Started now, so that it runs with the privileges already given up.
        let m = crate::metrics::Metrics::new();
        let at = endpoint
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        endpoint.spawn(&m)?;
        eprintln!("certwire: metrics at http://{at}/metrics");
        col.metrics = Some(m);
    }
    announce(args);
    let mut run = analyzer.begin(&name);
    let captured = capture(
        args,
        &mut cap,
        analyzer,
        &mut run,
        col,
        &mut keys,
        &mut writer,
    )?;
    if let Some(k) = keys.as_mut() {
        k.poll();
        eprintln!("certwire: keys: {}", k.summary());
    }
    let mut report = if captured.by_count {
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
    finish(&mut cap, analyzer, &mut report, captured.packets, name);
    Ok(report)
}

/// `--write FILE`: opened before privileges go, like `-o`.
fn open_evidence(
    args: &AnalyzeArgs,
    analyzer: &mut Analyzer,
) -> Result<Option<Evidence>, OutputError> {
    let Some(path) = &args.write else {
        return Ok(None);
    };
    let w = Evidence::create(path, crate::source::live::SNAPLEN as u32)?;
    analyzer.keep_packets = true;
    if args.write_application_secrets {
        eprintln!(
            "certwire: {}",
            if w.takes_secrets() {
                "warning: --write-application-secrets: the evidence file will hold application secrets; whoever has it can read the traffic (tokens, request bodies)"
            } else {
                "--write-application-secrets: ignored, secrets go only into a .pcapng evidence file"
            }
        );
    }
    Ok(Some(w))
}

fn announce(args: &AnalyzeArgs) {
    let ports: Vec<String> = args.ports.iter().map(|p| p.to_string()).collect();
    eprintln!(
        "certwire: capturing on {} ({}); Ctrl-C to stop",
        args.live.as_deref().unwrap_or_default(),
        if args.any_port {
            "TLS on any port".to_string()
        } else {
            format!("ports {}", ports.join(","))
        }
    );
}

/// The loop: packets in, reports out, secrets read before every packet and after every
/// poll, the evidence file written as connections are reported.
fn capture(
    args: &AnalyzeArgs,
    cap: &mut LiveCapture,
    analyzer: &mut Analyzer,
    run: &mut InputRun,
    col: &mut Collector<'_>,
    keys: &mut Option<Keys>,
    writer: &mut Option<Evidence>,
) -> Result<Captured, OutputError> {
    let started = Instant::now();
    let (mut number, mut received, mut reported) = (0u64, 0u64, 0u64);
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
            analyzer.feed(run, &p, &mut |c| {
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
                input: run.report_mut().path.clone(),
                packet: Some(number),
                offset: None,
                message: e.to_string(),
            });
            break;
        }
        if let Some(w) = writer.as_mut() {
            write_evidence(w, analyzer, args.write_application_secrets)?;
        }
        if let Some(e) = col.doc.error.take() {
            return Err(e);
        }
        if args.count.is_some_and(|n| reported >= n) {
            return Ok(Captured {
                packets: number,
                by_count: true,
            });
        }
    }
    Ok(Captured {
        packets: number,
        by_count: false,
    })
}

/// The kernel's counters into the report, and a warning for its drops.
fn finish(
    cap: &mut LiveCapture,
    analyzer: &mut Analyzer,
    report: &mut InputReport,
    packets: u64,
    name: String,
) {
    let stats = cap.stats();
    report.packets = packets;
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
}

/// `--keys-from-processes` / `--keys-from`: probe the Go executables before privileges are
/// dropped. Each executable's result goes to stderr; a kernel that cannot run probes is a
/// warning, and the capture goes on without them.
#[cfg(target_os = "linux")]
fn start_process_keys(args: &AnalyzeArgs, analyzer: &mut Analyzer) -> Option<Keys> {
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
fn start_process_keys(_: &AnalyzeArgs, _: &mut Analyzer) -> Option<Keys> {
    None
}

/// Process keys exist only on Linux.
#[cfg(not(target_os = "linux"))]
pub struct NoKeys;

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
