//! Command-line definitions (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "certwire",
    version,
    about = "Which certificate did each Kubernetes component present in its TLS handshake, and why was it accepted or rejected?",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read captures (pcap/pcapng, gzip or not, or '-' for stdin) and report every TLS
    /// handshake on the Kubernetes ports: versions, certificates on both sides, alerts, outcome.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (any name: .sap, .pcap, .pcapng, .pcap.gz ...); '-' reads stdin.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// TCP ports whose connections are followed (either end), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "6443,10250,2379,2380,10257,10259"
    )]
    pub ports: Vec<u16>,

    /// Follow TLS on any port: a flow is followed when its first bytes are a TLS handshake
    /// record (or it starts with a SYN), whatever its port.
    #[arg(long)]
    pub any_port: bool,

    /// Certificate files or directories (searched recursively) to match presented
    /// certificates against: PEM/DER files, cert+key PEMs, kubeconfigs, the kubelet's
    /// config.yaml, static pod manifests. Repeatable. Without it, /etc/kubernetes,
    /// /var/lib/kubelet/pki and /var/lib/kubelet/config.yaml are searched when they exist.
    #[arg(long = "certs", value_name = "PATH")]
    pub certs: Vec<PathBuf>,

    /// A copy of a node's filesystem (sosreport, unpacked tarball): absolute paths in
    /// symlinks, kubeconfigs, manifests and the standard locations resolve below DIR.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Do not search the standard locations when no --certs is given.
    #[arg(long)]
    pub no_default_certs: bool,

    /// NSS key log file (SSLKEYLOGFILE) with the sessions' secrets: TLS 1.3 handshakes
    /// are decrypted with them. Repeatable. Secrets in a pcapng's Decryption Secrets
    /// Blocks are used without this option.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,

    /// Exit with status 4 when a finding of this severity (or a more severe one) exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any error finding.
    Error,
    /// Any error or warning finding.
    Warning,
}

/// Exit statuses, documented in the README.
pub mod exit {
    /// The analysis ran and every input was read (warnings such as a truncated file allowed).
    pub const OK: i32 = 0;
    /// certwire itself failed (e.g. the report could not be written).
    pub const FAILURE: i32 = 1;
    /// Bad command line (clap's status).
    pub const USAGE: i32 = 2;
    /// At least one input could not be used (missing, not a capture, malformed); the
    /// report still covers everything that could be read.
    pub const BAD_INPUT: i32 = 3;
    /// --fail-on: a finding of that severity (or worse) exists. Unusable input (3) takes
    /// precedence.
    pub const FINDINGS: i32 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
