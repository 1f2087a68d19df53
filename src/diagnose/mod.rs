//! What Kubernetes will do with the certificates of a handshake, and why, in the words the
//! components log. Findings are data.
//!
//! The knowledge is "who verifies what, when, and what it logs" (kube-apiserver and the
//! kubelet accept any client certificate in the handshake and reject it afterwards with
//! 401; etcd rejects in the handshake; Go clients verify the server during the handshake).
//! Each verifying party is one model in [`verifiers`]; the checks they share (chain by
//! signature, validity, key usage along the chain, names) are in their own modules; and
//! [`outcome`] reconciles every prediction with what the capture shows.

mod alerts;
mod anchors;
pub(crate) mod chain;
pub(crate) mod files;
mod names;
mod outcome;
mod validity;
pub mod verifiers;
mod visibility;

use std::net::IpAddr;

use serde::Serialize;

use crate::local::Inventory;
use crate::model::{ConnectionReport, Handshake, PresentedCert, Side, Visibility};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    // Ordered so that the most severe sorts first.
    Error,
    Warning,
    Info,
}

/// When a verifier acts on what a finding describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// In the TLS handshake: the verifier aborts it with an alert.
    Tls,
    /// After a completed handshake: the x509 authenticator answers each request with 401
    /// (kube-apiserver, the kubelet, the controller-manager's and scheduler's secure ports),
    /// or the authorizer with 403.
    Authentication,
}

/// Does the capture show the outcome the finding predicts?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    /// The predicted rejection is in the capture (an alert from the verifier).
    Confirmed,
    /// The capture shows the opposite (the handshake completed although the finding
    /// predicts that it is aborted): the verifier did not check this.
    Contradicted,
    /// The capture cannot tell (a 401 inside encrypted application data, a capture that
    /// ends early, an encrypted TLS 1.3 handshake).
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier (docs/report-schema.md lists them all).
    pub code: &'static str,
    pub severity: Severity,
    /// When it is acted on; null for findings that predict no rejection (facts about the
    /// capture or the files).
    pub layer: Option<Layer>,
    /// Whether the capture shows the predicted outcome; null where `layer` is null.
    pub observed: Option<Observed>,
    /// What it is about: `client[0]`, `server[0]`, `client`, `server`, `connection`.
    pub subject: String,
    pub message: String,
    /// The facts the finding rests on.
    pub evidence: Vec<String>,
    /// The message the component logs for it, to grep for.
    pub logged_as: Option<String>,
    /// The side whose check this is (the verifier), for the reconciliation with the capture.
    #[serde(skip)]
    pub verifier: Option<Side>,
    /// The x509 error a Go verifier gives for it, when the finding is a chain check.
    #[serde(skip)]
    pub x509: Option<String>,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        message: String,
    ) -> Self {
        Finding {
            code,
            severity,
            layer: None,
            observed: None,
            subject: subject.into(),
            message,
            evidence: Vec::new(),
            logged_as: None,
            verifier: None,
            x509: None,
        }
    }

    /// A prediction that `verifier` rejects what this finding describes, at `layer`.
    pub fn rejected_by(mut self, verifier: Side, layer: Layer) -> Self {
        self.verifier = Some(verifier);
        self.layer = Some(layer);
        self.observed = Some(Observed::Unknown);
        self
    }

    pub fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence.push(e.into());
        self
    }

    pub fn logged(mut self, l: impl Into<String>) -> Self {
        self.logged_as = Some(l.into());
        self
    }
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
    /// A ClientHello was read whole: only then does "no SNI" mean the client sent none.
    pub client_hello_seen: bool,
}

impl<'a> Context<'a> {
    pub(crate) fn chain(&self, side: Side) -> Option<&'a [Vec<u8>]> {
        match side {
            Side::Client => self.client_chain,
            Side::Server => self.server_chain,
        }
    }

    pub(crate) fn presented(&self, side: Side) -> Option<&'a [PresentedCert]> {
        match side {
            Side::Client => self.conn.client_certificates.as_deref(),
            Side::Server => self.conn.server_certificates.as_deref(),
        }
    }

    pub(crate) fn leaf(&self, side: Side) -> Option<&'a PresentedCert> {
        self.presented(side).and_then(|v| v.first())
    }

    pub(crate) fn completed(&self) -> bool {
        self.conn.handshake == Handshake::Completed
    }

    /// The fatal alert `from` sent, if any.
    pub(crate) fn fatal_alert_from(&self, from: Side) -> Option<u8> {
        self.conn
            .alerts
            .iter()
            .find(|a| a.from == from && a.level == Some("fatal"))
            .and_then(|a| a.code)
    }
}

/// All findings for one connection, most severe first.
pub fn diagnose(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let verifiers = verifiers::for_connection(ctx);
    validity::run(ctx, &verifiers, &mut out);
    chain::run(ctx, &verifiers, &mut out);
    names::run(ctx, &verifiers, &mut out);
    verifiers::run_component_rules(ctx, &verifiers, &mut out);
    files::run(ctx, &mut out);
    visibility::run(ctx, &mut out);
    outcome::reconcile(ctx, &verifiers, &mut out);
    outcome::unexplained_status(ctx, &mut out);
    alerts::run(ctx, &mut out);
    out.sort_by_key(|f| f.severity);
    cap(&mut out);
    out
}

/// Findings kept per connection, most severe first: a chain of hundreds of expired
/// certificates is one story, not hundreds of findings.
pub const MAX_FINDINGS: usize = 32;

fn cap(out: &mut Vec<Finding>) {
    if out.len() <= MAX_FINDINGS {
        return;
    }
    let rest = out.split_off(MAX_FINDINGS - 1);
    let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &rest {
        *by_code.entry(f.code).or_default() += 1;
    }
    out.push(Finding::new(
        "findings-truncated",
        Severity::Info,
        "connection",
        format!(
            "{} more finding(s) not listed ({})",
            rest.len(),
            by_code
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));
}

/// The one-line verdict: the most severe finding; "UNKNOWN: ..." when the capture cannot
/// tell the outcome and nothing is wrong; "OK" only when the outcome was seen.
pub fn verdict(conn: &ConnectionReport, findings: &[Finding]) -> String {
    if let Some(f) = findings.iter().find(|f| f.severity != Severity::Info) {
        return format!("{} {}: {}", severity_word(f.severity), f.code, f.message);
    }
    if conn.visibility == Visibility::Encrypted {
        return "UNKNOWN: encrypted (TLS 1.3 without keys: the certificates and the outcome were not seen)".into();
    }
    match conn.handshake {
        Handshake::Completed => "OK".into(),
        // An encrypted alert ended it: failed, for a reason the capture does not show.
        Handshake::Failed => format!(
            "UNKNOWN: the handshake failed ({}), for a reason the capture does not show",
            conn.outcome_reason
        ),
        Handshake::Incomplete | Handshake::Unknown => {
            format!(
                "UNKNOWN: the handshake was not seen to its end ({})",
                conn.outcome_reason
            )
        }
    }
}

pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "info",
    }
}

pub(crate) fn side_name(s: Side) -> &'static str {
    match s {
        Side::Client => "client",
        Side::Server => "server",
    }
}

pub(crate) fn other(s: Side) -> Side {
    match s {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// The CN of an RFC 2253 subject string.
pub(crate) fn cn(subject: &str) -> Option<&str> {
    subject.split(',').find_map(|p| p.strip_prefix("CN="))
}

/// The O values of an RFC 2253 subject string.
pub(crate) fn orgs(subject: &str) -> Vec<&str> {
    subject
        .split(',')
        .filter_map(|p| p.strip_prefix("O="))
        .collect()
}
