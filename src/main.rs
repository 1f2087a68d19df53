//! The `certwire` binary: parse arguments, run, map the outcome to an exit status.

use std::io::ErrorKind;

use clap::Parser;

use certwire::cli::{exit, Cli, Command};
use certwire::error::OutputError;

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Analyze(args) => certwire::run::analyze(args),
    };
    let code = match result {
        Ok(code) => code,
        // `certwire analyze x.pcap | head` is not an error.
        Err(OutputError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => exit::OK,
        Err(OutputError::Write { source, .. }) if source.kind() == ErrorKind::BrokenPipe => {
            exit::OK
        }
        Err(e) => {
            // Each variant's message already carries its cause: print it once.
            eprintln!("certwire: {}", anyhow::Error::from(e));
            exit::FAILURE
        }
    };
    report_peak_memory();
    std::process::exit(code);
}

/// `CERTWIRE_PEAK_RSS=1`: print this process's peak resident memory (VmHWM) on stderr at
/// exit, the figure the README's limits are measured with. Read from /proc rather than
/// getrusage by a parent, which counts the parent's memory when it spawned with vfork.
fn report_peak_memory() {
    if std::env::var_os("CERTWIRE_PEAK_RSS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!("certwire: peak RSS {}", line["VmHWM:".len()..].trim());
    }
}
