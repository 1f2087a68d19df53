//! `certwire node`: the node's Kubernetes PKI audited from its files, before anything is
//! rejected: every certificate each component uses or trusts, by role, judged by what that
//! component requires of it (the same finding objects and codes as `analyze`), and, with
//! `--probe`, what the node's servers actually serve.

pub mod audit;
pub mod keys;
pub mod model;
pub mod probe;
pub mod render;
mod rules;
pub mod served;

use std::io::{BufWriter, Write};

use crate::cli::{exit, FailOn, NodeArgs};
use crate::error::OutputError;
use crate::local::{self, Inventory, ScanOptions};
use model::{NodeReport, NodeSummary};

/// Run `certwire node` and return the exit status.
pub fn run(args: &NodeArgs) -> Result<i32, OutputError> {
    if let Some(missing) = args.certs.iter().find(|p| p.symlink_metadata().is_err()) {
        eprintln!("certwire: --certs {}: does not exist", missing.display());
        return Ok(exit::USAGE);
    }
    let mut out: Box<dyn Write> = match args
        .output
        .as_deref()
        .filter(|p| !crate::output::is_stdout(p))
    {
        Some(path) => Box::new(BufWriter::new(crate::output::create(
            path,
            crate::output::REPORT_MODE,
        )?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let metrics = match &args.metrics_listen {
        Some(addr) => {
            let m = crate::metrics::Metrics::new();
            if let Err(e) = m.serve(addr) {
                eprintln!("certwire: --metrics-listen {addr}: {e}");
                return Ok(exit::USAGE);
            }
            Some(m)
        }
        None => None,
    };
    loop {
        let report = audit_node(args);
        if let Some(m) = &metrics {
            publish(m, &report);
        }
        render::write(&report, args.format, &mut out)?;
        let Some(every) = args.interval else {
            return Ok(status(&report, args.fail_on));
        };
        std::thread::sleep(every);
    }
}

/// One audit: the inventory as `analyze` reads it, the rules, and the probes.
pub fn audit_node(args: &NodeArgs) -> NodeReport {
    let at = args.at.unwrap_or_else(|| crate::source::live::now().secs);
    let inv = local::scan(&ScanOptions {
        paths: args.certs.clone(),
        root: args.root.clone(),
        defaults: args.certs.is_empty(),
    });
    let (certificates, node_findings) = audit::audit(&inv, at);
    let mut findings: Vec<crate::diagnose::Finding> = certificates
        .iter()
        .flat_map(|c| c.findings.iter().cloned())
        .chain(node_findings)
        .collect();
    let probes = if args.probe {
        served::probe_all(&inv, &mut findings)
    } else {
        Vec::new()
    };
    findings.sort_by_key(|f| f.severity);
    NodeReport {
        certwire: crate::model::Meta::default(),
        command: "node",
        at: crate::x509::rfc3339(at),
        root: inv.root.clone(),
        summary: NodeSummary::of(certificates.len(), &findings),
        certificates,
        findings,
        probes,
        notices: notices(&inv),
        problems: inv.problems.clone(),
    }
}

/// The audit as metrics: each used certificate's expiry by role and file, findings by
/// code and severity.
fn publish(m: &crate::metrics::Metrics, r: &NodeReport) {
    let certs: Vec<(String, String, i64)> = r
        .certificates
        .iter()
        .filter(|c| !c.roles.is_empty())
        .filter_map(|c| {
            let na = c.not_after.as_deref().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })?;
            // Below the node's root: the same label on every node of a fleet.
            let path = r
                .root
                .as_deref()
                .and_then(|root| c.path.strip_prefix(root))
                .map(|p| format!("/{}", p.trim_start_matches('/')))
                .unwrap_or_else(|| c.path.clone());
            let file = crate::local::location(&path, &c.entry);
            Some(
                c.roles
                    .iter()
                    .map(move |role| (role.clone(), file.clone(), na.unix_timestamp()))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    m.set_certificates(&certs);
    let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for f in &r.findings {
        let sev = serde_json::to_value(f.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *counts.entry((f.code.to_string(), sev)).or_default() += 1;
    }
    let counts: Vec<(String, String, u64)> =
        counts.into_iter().map(|((c, s), n)| (c, s, n)).collect();
    m.set_findings(&counts);
    m.set_last_audit(crate::source::live::now().secs);
}

fn notices(inv: &Inventory) -> Vec<String> {
    if inv.certs.is_empty() {
        let searched: Vec<&str> = inv.searched.iter().map(|s| s.path.as_str()).collect();
        return vec![format!(
            "no certificate found in {}: give --root (a copy or mount of the node's /) or --certs",
            searched.join(", ")
        )];
    }
    Vec::new()
}

fn status(r: &NodeReport, fail_on: Option<FailOn>) -> i32 {
    let failing = match fail_on {
        Some(FailOn::Error) => r.summary.errors > 0,
        Some(FailOn::Warning) | Some(FailOn::Unknown) => r.summary.errors + r.summary.warnings > 0,
        None => false,
    };
    if failing {
        exit::FINDINGS
    } else {
        exit::OK
    }
}
