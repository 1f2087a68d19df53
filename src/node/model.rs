//! The owned result of `certwire node` (docs/report-schema.md, "certwire node").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnose::{Finding, Severity};
use crate::local::Problem;
use crate::model::Meta;

#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub certwire: Meta,
    /// "node".
    pub command: &'static str,
    /// The time validity is judged at (now, or `--at`).
    pub at: String,
    pub root: Option<String>,
    pub certificates: Vec<NodeCert>,
    /// Every finding, most severe first: those of the certificates and those about other
    /// files (the service-account key pair, the rotation symlink, kubeconfigs' CAs).
    pub findings: Vec<Finding>,
    /// `--probe`: what each serving endpoint presented.
    pub probes: Vec<ProbeReport>,
    pub summary: NodeSummary,
    pub notices: Vec<String>,
    /// Files that could not be read or parsed.
    pub problems: Vec<Problem>,
}

/// One certificate at one location on the node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCert {
    pub path: String,
    /// Where in the file, when not the whole file (`users[NAME].client-certificate-data`,
    /// `#1` for the second certificate of a bundle).
    pub entry: Option<String>,
    /// Symlinks, flags, kubeconfig entries and config fields naming it.
    pub routes: Vec<String>,
    /// What it is used for (role names as in `analyze`, and `cluster-ca`, `etcd-ca`,
    /// `front-proxy-ca`, `kubeconfig-cluster-ca` for trusted CAs); empty when nothing uses it
    /// (an older rotated kubelet certificate, a copy).
    pub roles: Vec<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub sha256: String,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Whole days from `at` to notAfter (negative once expired).
    pub days_left: Option<i64>,
    pub is_ca: bool,
    /// The private key file checked against it; null when none was found.
    pub key_file: Option<String>,
    pub findings: Vec<Finding>,
}

/// One serving endpoint, probed.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub endpoint: String,
    pub role: String,
    pub tls_version: Option<String>,
    /// SHA-256 and subject of the leaf it served.
    pub served_sha256: Option<String>,
    pub served_subject: Option<String>,
    pub served_not_after: Option<String>,
    /// The file its configuration names, and that file's SHA-256.
    pub configured: Option<String>,
    pub configured_sha256: Option<String>,
    /// Acceptable CA names of its CertificateRequest (RFC 2253); empty when it asked none.
    pub ca_names: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct NodeSummary {
    pub certificates: usize,
    pub errors: usize,
    pub warnings: usize,
    /// Findings by code.
    pub findings: BTreeMap<&'static str, usize>,
}

impl NodeSummary {
    pub fn of(certificates: usize, findings: &[Finding]) -> NodeSummary {
        let mut s = NodeSummary {
            certificates,
            ..Default::default()
        };
        for f in findings {
            *s.findings.entry(f.code).or_default() += 1;
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => {}
            }
        }
        s
    }
}
