//! What Kubernetes will do with the certificates of a handshake, and why, in the words the
//! components log. Findings are data; every rule lives in [`rules`], each with its source.

mod rules;
mod trust;

use std::net::IpAddr;

use serde::Serialize;

use crate::local::Inventory;
use crate::report::model::ConnectionReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    // Ordered so that the most severe sorts first.
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier (docs/report-schema.md lists them all).
    pub code: &'static str,
    pub severity: Severity,
    /// What it is about: `client[0]`, `server[0]`, `client`, `server`, `connection`.
    pub subject: String,
    pub message: String,
    /// The facts the finding rests on.
    pub evidence: Vec<String>,
    /// The message the component logs for it, to grep for.
    pub logged_as: Option<String>,
}

/// What the rules look at.
pub struct Context<'a> {
    pub conn: &'a ConnectionReport,
    /// DER of each side's chain as presented (None: no Certificate message seen).
    pub client_chain: Option<&'a [Vec<u8>]>,
    pub server_chain: Option<&'a [Vec<u8>]>,
    pub inventory: Option<&'a Inventory>,
    /// Capture time of the connection's first packet (Unix seconds): certificates are
    /// judged as of then, not as of the analysis.
    pub capture_time: i64,
    pub server_ip: IpAddr,
    /// The client went on with the handshake after the server's flight (sent Certificate,
    /// ChangeCipherSpec or Finished): only then does "sent no certificate" mean anything.
    pub client_flight_seen: bool,
}

/// All findings for one connection, most severe first.
pub fn diagnose(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = rules::run(ctx);
    out.sort_by_key(|f| f.severity);
    out
}

/// The one-line verdict: "OK", or the most severe finding.
pub fn verdict(findings: &[Finding]) -> String {
    match findings.iter().find(|f| f.severity != Severity::Info) {
        None => "OK".to_string(),
        Some(f) => format!("{} {}: {}", severity_word(f.severity), f.code, f.message),
    }
}

pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "info",
    }
}
