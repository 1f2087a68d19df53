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
            eprintln!("certwire: {:#}", anyhow::Error::from(e));
            exit::FAILURE
        }
    };
    std::process::exit(code);
}
