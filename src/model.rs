//! The result of an analysis: owned, serialisable, and the public JSON schema
//! (docs/report-schema.md). Built by `analyze` from the flow's facts, `correlate` and
//! `diagnose`; the renderers in `report` read only this.

use std::sync::Arc;

use serde::Serialize;

use crate::correlate::{Candidate, LocalMatch, Role};
use crate::local::{Problem, Searched};
use crate::tls::names::Name;
use crate::x509::CertSummary;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub certwire: Meta,
    pub inputs: Vec<InputReport>,
    /// The `connections` of the JSON document are not held here: the renderers take them
    /// from the spool (`report::spool`), in bounded memory.
    pub warnings: Vec<Warning>,
    pub summary: Summary,
    /// What limits the whole report, said once (e.g. no local certificate files, so no
    /// certificate is matched to a file and trust is not judged).
    pub notices: Vec<String>,
    /// The node files searched for certificates; null when none were (--no-default-certs
    /// and no --certs).
    pub local_certificates: Option<LocalReport>,
    /// Connections that tell the same story, grouped (empty with --no-group).
    pub groups: Vec<GroupReport>,
}

impl Report {
    /// Presented certificates were matched against local certificate files.
    pub fn local_matching(&self) -> bool {
        self.local_certificates
            .as_ref()
            .is_some_and(|l| l.certificates > 0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    /// `--root`: a copy of a node's filesystem that absolute paths resolve below.
    pub root: Option<String>,
    pub searched: Vec<Searched>,
    pub files_read: usize,
    pub certificates: usize,
    /// Unreadable, malformed or unsupported files, dangling symlinks and references.
    pub problems: Vec<Problem>,
}

/// A certificate as presented on the wire, with the local files that hold it.
#[derive(Debug, Clone, Serialize)]
pub struct PresentedCert {
    #[serde(flatten)]
    pub cert: Arc<CertSummary>,
    /// Local locations of this certificate, strongest match first; `[]` when none.
    pub local_files: Vec<LocalMatch>,
    /// The DER as it was on the wire, shared with the certificate cache (repeated
    /// certificates cost nothing); never serialized itself (`--export-certs` writes it).
    #[serde(skip)]
    pub der: Arc<[u8]>,
    /// `--include-der`: the DER in standard base64; absent from the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub der_base64: Option<String>,
}

impl std::ops::Deref for PresentedCert {
    type Target = CertSummary;
    fn deref(&self) -> &CertSummary {
        &self.cert
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub version: &'static str,
    pub schema: u32,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            version: env!("CARGO_PKG_VERSION"),
            schema: SCHEMA_VERSION,
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct InputReport {
    pub path: String,
    /// "pcap" or "pcapng"; null when the input could not be read as a capture.
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub nanosecond: bool,
    pub big_endian: bool,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    /// TCP segments on the followed ports (or, with --any-port, in TLS-looking flows).
    pub tcp_segments_followed: u64,
    /// Flows that began before the capture and showed no handshake (bulk data only).
    pub flows_without_handshake: u64,
    /// Flows on the followed ports whose bytes are not TLS.
    pub flows_not_tls: u64,
    /// Flows not followed, or given up, because a memory cap was reached.
    pub flows_dropped_by_cap: u64,
    pub frames_unsupported_link: u64,
    pub frames_malformed: u64,
    /// Frames of tunnels that cannot be opened (WireGuard, IPsec ESP): handshakes may be
    /// inside them.
    pub frames_encrypted_tunnel: u64,
    /// Frames of a tunnel header certwire does not decode, or nested deeper than 8.
    pub frames_unsupported_encapsulation: u64,
    /// Connections that never connected (refused, unreachable, unanswered), grouped by
    /// client address, server and outcome; at most 1,024 groups.
    pub connection_attempts: Vec<crate::analyze::attempts::AttemptGroup>,
    /// Groups beyond the cap, counted.
    pub connection_attempts_not_listed: u64,
    /// ClientHellos seen on ports not followed, by server port (key 0: ports beyond the
    /// first 64): what `--ports` or `--any-port` would add.
    pub tls_handshakes_not_followed: std::collections::BTreeMap<u16, u64>,
    /// Byte offset where the file was cut off in the middle of a record, if it was.
    pub truncated_at: Option<u64>,
    /// Why the input could not be used (or stopped being usable), if so.
    pub error: Option<String>,
    /// Live capture: packets the kernel filter passed, and packets the kernel dropped
    /// because certwire did not keep up (PACKET_STATISTICS). Null for files.
    pub kernel_packets: Option<u64>,
    pub kernel_drops: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// `error`: the input (or a key log) could not be used, or stopped being usable; the
    /// exit status is 3. `warning`: a problem that did not stop the run.
    pub level: Level,
    pub input: String,
    pub packet: Option<u64>,
    pub offset: Option<u64>,
    /// What happened and what it means for the results; it does not repeat `input`.
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Handshake {
    Completed,
    Failed,
    Incomplete,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Plaintext,
    Decrypted,
    Encrypted,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    /// 1-based position in this report.
    pub id: usize,
    pub input: String,
    /// Packet number (as tshark counts) of the connection's first packet in the capture.
    pub first_packet: u64,
    pub client: String,
    pub server: String,
    pub first_seen: String,
    pub tls_version: Option<&'static str>,
    pub sni: Option<String>,
    /// ALPN protocols the client offered.
    pub alpn: Option<Vec<String>>,
    /// ALPN protocol the server selected (ServerHello or decrypted EncryptedExtensions).
    pub alpn_selected: Option<String>,
    pub cipher_suite: Option<Name>,
    pub cipher_suite_id: Option<u16>,
    pub offered_tls_versions: Vec<&'static str>,
    pub offered_cipher_suites: Vec<Name>,
    pub server_certificates: Option<Vec<PresentedCert>>,
    pub client_certificates: Option<Vec<PresentedCert>>,
    /// Certificate messages cut by missing bytes: the arrays above then hold only the
    /// certificates that arrived whole.
    pub truncated_certificate_messages: Vec<TruncatedMessage>,
    pub certificate_request: Option<CertificateRequestReport>,
    pub alerts: Vec<AlertReport>,
    /// The component relationship, from the client certificate's subject and the port.
    pub role: Option<Role>,
    pub server_role: Option<Role>,
    /// Local certificates of the same identity or configured for the same role that were
    /// not presented.
    pub candidates_not_presented: Vec<Candidate>,
    pub handshake: Handshake,
    pub visibility: Visibility,
    /// Where the secrets that decrypted this connection came from; empty when nothing was
    /// decrypted.
    pub key_sources: Vec<KeySourceReport>,
    /// The status of the server's first HTTP response, read from application data opened
    /// with the application secrets (nothing else of the application data is read). Null
    /// when there were no such secrets or no HTTP response was seen.
    pub http_response: Option<HttpResponse>,
    /// The session was resumed (no certificates are exchanged in a resumption).
    pub resumed: bool,
    pub gaps: Vec<GapReport>,
    pub tcp: TcpReport,
    /// The server answered the first ClientHello with a HelloRetryRequest (TLS 1.3): the
    /// group it asked for (a second ClientHello follows, one round trip later). Null when
    /// there was none.
    pub hello_retry_request: Option<HelloRetry>,
    /// The overlay or tunnel the connection was captured in (outermost); null when none.
    pub tunnel: Option<TunnelReport>,
    /// The proxy exchange (HTTP CONNECT, SOCKS) before the TLS; `server` is then the proxy
    /// and `proxy.target` the component the client asked for. Null without one.
    pub proxy: Option<crate::flow::preamble::ProxyHop>,
    /// TLS 1.3 without keys: lengths of the encrypted records each side sent, in order.
    pub encrypted_records: Option<EncryptedRecords>,
    /// TLS 1.3 without keys: what the encrypted record lengths tell (each part an
    /// inference, never a match). Null otherwise.
    pub inference: Option<Inference>,
    /// Why the outcome is what it is, in one line.
    pub outcome_reason: String,
    /// What Kubernetes will do with these certificates, most severe first.
    pub findings: Vec<crate::diagnose::Finding>,
    /// "OK", or the most severe finding in one line.
    pub verdict: String,
    pub notes: Vec<String>,
}

/// Connections that tell the same story (`report::groups` says what "same" is): their
/// shared facts, how many, which, and when.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GroupReport {
    /// 1-based, in the order of each group's first connection in the document.
    pub group: usize,
    pub count: u64,
    /// Document ids of its connections, in order (at most 1,000 per group).
    pub connection_ids: Vec<usize>,
    /// Connections beyond those listed.
    pub connection_ids_not_listed: u64,
    /// The connection whose detail stands for the group (its first).
    pub representative: usize,
    pub first_seen: String,
    pub last_seen: String,
    /// Of the group's first connection (the others share role, family and server).
    pub client: String,
    pub client_family: &'static str,
    pub server: String,
    pub role: Option<Role>,
    pub server_role: Option<Role>,
    /// SHA-256 of the certificates each side presented, in order; null when no
    /// Certificate message was seen.
    pub server_certificates: Option<Vec<String>>,
    pub client_certificates: Option<Vec<String>>,
    /// Where the client's leaf certificate is on the node (the server's when the client
    /// sent none); null when in no file searched.
    pub local_file: Option<String>,
    pub handshake: Handshake,
    pub visibility: Visibility,
    pub http_status: Option<u16>,
    pub verdict: String,
    /// The codes of its findings, most severe first.
    pub finding_codes: Vec<&'static str>,
}

impl GroupReport {
    /// A new group, from its first connection.
    pub fn first(group: usize, c: &ConnectionReport) -> GroupReport {
        let shas = |v: &Option<Vec<PresentedCert>>| {
            v.as_ref()
                .map(|certs| certs.iter().map(|p| p.sha256.clone()).collect())
        };
        let leaf_file = |v: &Option<Vec<PresentedCert>>| {
            v.as_ref()
                .and_then(|certs| certs.first())
                .and_then(|p| p.local_files.first())
                .map(|m| m.path.clone())
        };
        GroupReport {
            group,
            count: 1,
            first_seen: c.first_seen.clone(),
            last_seen: c.first_seen.clone(),
            client: c.client.clone(),
            client_family: if c.client.starts_with('[') {
                "ipv6"
            } else {
                "ipv4"
            },
            server: c.server.clone(),
            role: c.role,
            server_role: c.server_role,
            server_certificates: shas(&c.server_certificates),
            client_certificates: shas(&c.client_certificates),
            // The client's certificate is the one in question when it sent one.
            local_file: if c
                .client_certificates
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            {
                leaf_file(&c.client_certificates)
            } else {
                leaf_file(&c.server_certificates)
            },
            handshake: c.handshake,
            visibility: c.visibility,
            http_status: c.http_response.map(|r| r.status),
            verdict: c.verdict.clone(),
            finding_codes: c.findings.iter().map(|f| f.code).collect(),
            ..Default::default()
        }
    }
}

/// One source of a connection's secrets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KeySourceReport {
    /// A `--keylog` file.
    Keylog,
    /// A Decryption Secrets Block of the capture.
    Pcapng,
    /// The uprobe on Go's crypto/tls writeKeyLog (`--keys-from-processes`).
    Process {
        pid: u32,
        /// The process's command name (comm, at most 15 characters).
        command: String,
        /// The probed executable.
        binary: String,
    },
}

impl From<&crate::tls::keylog::KeySource> for KeySourceReport {
    fn from(s: &crate::tls::keylog::KeySource) -> Self {
        use crate::tls::keylog::KeySource;
        match s {
            KeySource::KeylogFile => KeySourceReport::Keylog,
            KeySource::Pcapng => KeySourceReport::Pcapng,
            KeySource::Process {
                pid,
                command,
                binary,
            } => KeySourceReport::Process {
                pid: *pid,
                command: command.clone(),
                binary: binary.clone(),
            },
        }
    }
}

impl KeySourceReport {
    /// One line for people: "process kubectl (pid 4242, /usr/bin/kubectl)".
    pub fn text(&self) -> String {
        match self {
            KeySourceReport::Keylog => "key log file".into(),
            KeySourceReport::Pcapng => "the capture's Decryption Secrets Block".into(),
            KeySourceReport::Process {
                pid,
                command,
                binary,
            } => format!("process {command} (pid {pid}, {binary})"),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// `h2`, `http/1.1` or `http/1.0`.
    pub protocol: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct TruncatedMessage {
    pub from: Side,
    pub message: &'static str,
    pub declared_length: usize,
    pub seen_bytes: usize,
    /// How many certificates arrived whole.
    pub whole_certificates: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateRequestReport {
    pub ca_names: Vec<String>,
    pub signature_algorithms: Vec<Name>,
    pub certificate_types: Vec<Name>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertReport {
    pub from: Side,
    pub level: Option<&'static str>,
    pub description: Option<&'static str>,
    pub code: Option<u8>,
    pub encrypted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapReport {
    pub direction: &'static str,
    pub offset: u64,
    pub missing_bytes: u64,
    /// The gap came before that direction's handshake was over (it may have taken
    /// handshake messages); false: only application data is missing.
    pub during_handshake: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelloRetry {
    pub group: Option<Name>,
    pub group_id: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TunnelReport {
    /// `vxlan`, `geneve`, `gre`, `erspan-ii`, `erspan-iii`, `ipip`.
    pub kind: &'static str,
    /// VNI (VXLAN, Geneve), GRE key or ERSPAN session id; null when the header has none.
    pub id: Option<u32>,
    /// Outer (underlay) addresses on the client's and the server's side.
    pub outer_client: String,
    pub outer_server: String,
    /// Tunnel layers around the connection (2 for IP-in-IP in IP-in-IP).
    pub layers: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpReport {
    pub syn_seen: bool,
    pub end: &'static str,
    pub retransmitted_segments: u64,
    pub out_of_order_segments: u64,
    /// Segments held out of order that others overlapped (made redundant before delivery).
    pub overlapping_segments: u64,
    /// Overlapping segments whose shared bytes differed (resolved as the Linux receiver
    /// does; see docs/report-schema.md).
    pub overlap_conflicts: u64,
    pub dropped_segments: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EncryptedRecords {
    pub client: Vec<u16>,
    pub server: Vec<u16>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub connections: usize,
    pub completed: usize,
    pub failed: usize,
    pub incomplete: usize,
    pub unknown: usize,
    pub encrypted: usize,
    pub with_gaps: usize,
    /// Findings by code, over all connections.
    pub findings: std::collections::BTreeMap<&'static str, usize>,
    pub errors: usize,
    pub warnings: usize,
    /// Connections whose verdict is UNKNOWN: nothing wrong was found, but the capture did
    /// not show the outcome (encrypted TLS 1.3 without keys, a handshake cut off).
    pub unknown_verdicts: usize,
}

impl Summary {
    pub fn add(&mut self, c: &ConnectionReport) {
        self.connections += 1;
        match c.handshake {
            Handshake::Completed => self.completed += 1,
            Handshake::Failed => self.failed += 1,
            Handshake::Incomplete => self.incomplete += 1,
            Handshake::Unknown => self.unknown += 1,
        }
        if c.visibility == Visibility::Encrypted {
            self.encrypted += 1;
        }
        if !c.gaps.is_empty() {
            self.with_gaps += 1;
        }
        if c.verdict.starts_with("UNKNOWN") {
            self.unknown_verdicts += 1;
        }
        for f in &c.findings {
            self.add_finding(f);
        }
    }

    pub fn add_finding(&mut self, f: &crate::diagnose::Finding) {
        *self.findings.entry(f.code).or_default() += 1;
        match f.severity {
            crate::diagnose::Severity::Error => self.errors += 1,
            crate::diagnose::Severity::Warning => self.warnings += 1,
            crate::diagnose::Severity::Info => {}
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Inference {
    #[serde(flatten)]
    pub flights: crate::tls::infer::FlightInference,
    /// Local certificates whose chain lengths are (or are not) consistent with each side's
    /// encrypted Certificate message.
    pub size_checks: Vec<crate::correlate::SizeCheck>,
}
