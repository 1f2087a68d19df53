//! Command-line definitions (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "certwire",
    version,
    about = "Which certificate did each Kubernetes component present in its TLS handshake, and why was it accepted or rejected?",
    long_about = None,
    after_help = EXIT_STATUSES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of `analyze`'s arguments next to the other commands' does
// not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read captures (pcap/pcapng, gzip or not, or '-' for stdin) and report every TLS
    /// handshake on the Kubernetes ports: versions, certificates on both sides, alerts, outcome.
    Analyze(AnalyzeArgs),

    /// Audit this node's Kubernetes PKI from its files: every certificate each component
    /// uses or trusts, by role, with what that component requires of it; with --probe,
    /// what the node's servers actually serve.
    Node(NodeArgs),

    /// Print a shell completion script for certwire on stdout (see the README, "Install",
    /// for where to put it).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: CompletionShell,
    },

    /// Print certwire's manual page (roff) on stdout: `certwire manpage > certwire.1`.
    Manpage,
}

/// Shells `certwire completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_STATUSES)]
pub struct AnalyzeArgs {
    /// Capture files (any name: .sap, .pcap, .pcapng, .pcap.gz ...); '-' reads stdin.
    #[arg(
        required_unless_present_any = ["live", "read"],
        conflicts_with = "live",
        value_name = "CAPTURE"
    )]
    pub inputs: Vec<String>,

    /// Read this capture, as `tcpdump -r`: the same as giving it as CAPTURE (repeatable;
    /// with CAPTURE arguments, they are read in command-line order).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "live"
    )]
    pub read: Vec<String>,

    /// Capture live on INTERFACE (a name, or `any`) instead of reading files (Linux,
    /// needs CAP_NET_RAW). Each handshake is reported as it finishes; Ctrl-C, --duration
    /// or --count stops and prints the summary.
    /// `-i`, as tcpdump's.
    #[arg(short = 'i', long, value_name = "INTERFACE")]
    pub live: Option<String>,

    /// With --live: stop after this long (`90s`, `2m`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "live")]
    pub duration: Option<std::time::Duration>,

    /// With --live: stop after this many handshakes.
    #[arg(long, value_name = "N", requires = "live")]
    pub count: Option<u64>,

    /// With --live: write the packets of the reported handshakes (not the bulk data after
    /// them) to FILE, to attach to a ticket: a pcap (raw IP), or, when FILE ends in
    /// `.pcapng`, a pcapng whose Decryption Secrets Block holds the handshake secrets of
    /// those connections (certificates then show in Wireshark; application data stays
    /// encrypted). `-w`, as tcpdump's.
    #[arg(short = 'w', long, value_name = "FILE", requires = "live")]
    pub write: Option<PathBuf>,

    /// With --write FILE.pcapng: also write the application traffic secrets (and TLS 1.2
    /// master secrets) into its Decryption Secrets Block. Whoever has the file can then
    /// read the application data (tokens, secrets, request bodies). Off by default: the
    /// evidence file shows the handshakes only.
    #[arg(long, requires = "write")]
    pub write_application_secrets: bool,

    /// With --live: take TLS secrets from the Go programs themselves (an eBPF uprobe on
    /// crypto/tls writeKeyLog; Linux x86-64, root or CAP_BPF+CAP_PERFMON). Probes the
    /// owners of sockets on the followed ports, Kubernetes components by name, and
    /// kubectl/etcdctl/kubeadm on the PATH. TLS 1.3 handshakes are then decrypted.
    #[arg(long, requires = "live")]
    pub keys_from_processes: bool,

    /// With --live: also probe this executable (a path) or the executable of this PID.
    /// Repeatable; without --keys-from-processes only these are probed.
    #[arg(long, value_name = "PATH|PID", requires = "live")]
    pub keys_from: Vec<String>,

    /// With --live: put the interface in promiscuous mode (off by default).
    #[arg(long, requires = "live")]
    pub promisc: bool,

    /// With --live: serve Prometheus metrics on ADDR (`HOST:PORT`, or `:PORT` for every
    /// address): handshakes by role and outcome, findings by code and severity (README,
    /// "Fleet-wide"). Bound before the capture starts; GET /metrics.
    #[arg(long, value_name = "ADDR", requires = "live")]
    pub metrics_listen: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of stdout. The format is chosen with -f: `-o json`
    /// (kubectl's habit) is refused rather than writing a file named `json`; give
    /// `-f json` for the format, or `-o ./json` for a file of that name.
    #[arg(short, long, value_name = "FILE", value_parser = parse_output)]
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

    /// Write every distinct presented certificate (both sides, whole chains) as PEM to
    /// DIR/certs/<role>_<subject>_<sha256 prefix>.pem, and each connection's chains, leaf
    /// first as sent, to DIR/chains/<id>-client.pem and <id>-server.pem (<id> as in the
    /// report): for `openssl verify -CAfile ca.crt -untrusted DIR/chains/1-client.pem
    /// DIR/chains/1-client.pem`. DIR is created if missing; a symlink is refused.
    #[arg(long, value_name = "DIR")]
    pub export_certs: Option<PathBuf>,

    /// JSON and JSON Lines: add `der_base64`, the DER of each presented certificate in
    /// base64, to every certificate object.
    #[arg(long)]
    pub include_der: bool,

    /// With --format jsonl: write each distinct certificate once, as a record of its own
    /// (`"record": "certificate"`), before the first connection that presents it, and name
    /// certificates in connections by SHA-256 (docs/report-schema.md, "Compact JSON
    /// Lines"): lines of a few KB, under the 16 KiB at which container log pipelines split.
    #[arg(long)]
    pub jsonl_compact: bool,

    /// Exit with status 4 when a finding of this severity (or a more severe one) exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Report only the connections with a problem: `errors` (an ERROR verdict),
    /// `warnings` (ERROR or WARNING), `unknown` (any verdict but OK). The summary counts
    /// what is shown, and a notice says how many were left out.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub only: Option<Only>,

    /// Report only connections where this component role is the client or the server
    /// (e.g. kubelet-client, apiserver-to-kubelet, kube-apiserver, etcd). Repeatable.
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,

    /// Report only connections with this address (client or server IP, or IP:port) or
    /// server name (SNI). Repeatable.
    #[arg(long, value_name = "ADDR")]
    pub host: Vec<String>,

    /// The overview alone: one line per group of connections, no details (JSON: the
    /// groups, no per-connection records).
    #[arg(long)]
    pub summary: bool,

    /// Do not group connections that tell the same story: every connection in full.
    #[arg(long)]
    pub no_group: bool,

    /// Threads to use (default: one per core). With 2 or more, each input is read on a
    /// thread of its own while another parses it, and several files going into one
    /// document are analyzed side by side. `--threads 1` keeps certwire on one core,
    /// for a busy node.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_STATUSES)]
pub struct NodeArgs {
    /// A copy of (or the mount of) the node's root filesystem: absolute paths in the
    /// configuration resolve below it.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Certificate files or directories to read instead of the standard locations
    /// (/etc/kubernetes, /var/lib/kubelet/pki, /var/lib/kubelet/config.yaml). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub certs: Vec<PathBuf>,

    /// Judge validity at this time (RFC 3339, e.g. 2027-01-01T00:00:00Z) instead of now:
    /// what will have expired by then.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<i64>,

    /// Also connect to this node's own serving endpoints (6443, 10250, 2379, 2380, 10257,
    /// 10259 on the addresses its configuration names) as a TLS client without
    /// credentials, and compare what each serves with its configured file.
    #[arg(long)]
    pub probe: bool,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Exit with status 4 when a finding of this severity (or a more severe one) exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Serve Prometheus metrics (text exposition format) on ADDR (e.g. 0.0.0.0:9723):
    /// certificate expiry by role and file, findings by code and severity. With
    /// --interval the audit is repeated and the metrics follow.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Repeat the audit every DURATION (`1h`, `30m`), writing a report each time (JSON
    /// Lines suits a log pipeline), until SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<std::time::Duration>,
}

/// RFC 3339 → Unix seconds.
fn parse_time(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not an RFC 3339 time ({e}): {s} (e.g. 2027-01-01T00:00:00Z)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// Connections with an ERROR verdict.
    Errors,
    /// ERROR or WARNING verdicts.
    Warnings,
    /// Every verdict but OK (UNKNOWN included).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any error finding.
    Error,
    /// Any error or warning finding.
    Warning,
    /// Any error or warning finding, or a connection whose outcome the capture does not
    /// show (verdict UNKNOWN: encrypted without keys, cut off).
    Unknown,
}

/// Parse the command line (clap's errors exit with status 2). `-r FILE` joins the
/// CAPTURE arguments, in command-line order.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (Command::Analyze(a), Some(("analyze", m))) = (&mut cli.command, matches.subcommand()) {
        live_only(m);
        a.join_read(m);
    }
    cli
}

/// Options that only mean something in a live capture. clap's `requires = "live"` alone
/// does not refuse them next to a CAPTURE (which conflicts with --live, so clap waives
/// the requirement): checked here.
pub const LIVE_ONLY: [&str; 8] = [
    "duration",
    "count",
    "write",
    "write_application_secrets",
    "keys_from_processes",
    "keys_from",
    "promisc",
    "metrics_listen",
];

/// Exit with status 2 when an option of [`LIVE_ONLY`] is given without --live.
fn live_only(m: &clap::ArgMatches) {
    use clap::CommandFactory;
    if m.value_source("live").is_some() {
        return;
    }
    let Some(id) = LIVE_ONLY
        .iter()
        .find(|id| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
    else {
        return;
    };
    let mut cmd = Cli::command();
    cmd.build();
    let analyze = cmd
        .find_subcommand_mut("analyze")
        .expect("the analyze command is defined");
    let name = analyze
        .get_arguments()
        .find(|a| a.get_id() == *id)
        .and_then(|a| a.get_long())
        .unwrap_or(id);
    analyze
        .error(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!(
                "--{name} only applies to a live capture: add --live INTERFACE (-i), or leave \
                 --{name} out to read capture files"
            ),
        )
        .exit()
}

impl AnalyzeArgs {
    /// Move the `-r` files into `inputs`, ordered as they were given.
    fn join_read(&mut self, m: &clap::ArgMatches) {
        if self.read.is_empty() {
            return;
        }
        let at =
            |id: &str| -> Vec<usize> { m.indices_of(id).map(|i| i.collect()).unwrap_or_default() };
        let mut all: Vec<(usize, String)> = at("inputs")
            .into_iter()
            .zip(std::mem::take(&mut self.inputs))
            .chain(at("read").into_iter().zip(std::mem::take(&mut self.read)))
            .collect();
        all.sort_by_key(|(i, _)| *i);
        self.inputs = all.into_iter().map(|(_, s)| s).collect();
    }
}

/// `-o FILE`, unless FILE is exactly a format's name: `-o json` means `-f json` in
/// kubectl, and a file named `json` is almost never what was meant.
fn parse_output(s: &str) -> Result<PathBuf, String> {
    use clap::ValueEnum;
    if Format::value_variants()
        .iter()
        .filter_map(|f| f.to_possible_value())
        .any(|v| v.get_name() == s)
    {
        return Err(format!(
            "`-o {s}` would write the report to a file named `{s}`: to choose the format, \
             use `-f/--format {s}`; to really write a file of that name, use `-o ./{s}`"
        ));
    }
    Ok(PathBuf::from(s))
}

/// `90s`, `2m`, `1h`, `500ms`, or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s} (use e.g. 90s, 2m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s, m or h)")),
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| format!("duration out of range: {s}"))
}

/// The exit statuses, for `--help` (the same as `exit` below).
pub const EXIT_STATUSES: &str = "Exit status:
  0  the analysis ran and every input was read (warnings such as a truncated file allowed)
  1  certwire itself failed (e.g. the report could not be written)
  2  bad command line (including a --certs path that does not exist)
  3  an input (capture or key log) could not be used; the report covers what could be read
  4  --fail-on: a finding of that severity (or an UNKNOWN outcome, with `unknown`) exists
  5  --live could not start (no CAP_NET_RAW, unknown interface, not Linux)";

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
    /// --live could not start: no CAP_NET_RAW, unknown interface, or not Linux.
    pub const LIVE_UNAVAILABLE: i32 = 5;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_live_option_is_checked() {
        let cmd = Cli::command();
        let analyze = cmd.find_subcommand("analyze").unwrap();
        for a in analyze.get_arguments() {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let live = help.starts_with("With --live") || help.starts_with("With --write");
            assert_eq!(
                live,
                LIVE_ONLY.contains(&a.get_id().as_str()),
                "--{}: its help and LIVE_ONLY disagree",
                a.get_id()
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1.5h").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
