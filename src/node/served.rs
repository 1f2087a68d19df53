//! `--probe`: what the node's own servers serve, against the file their configuration
//! names. Endpoints come only from this node's configuration (the manifests' addresses
//! and ports, the kubelet's), never from a list of hosts: the probe stays on this node.
//! The classic finding is "renewed on disk, never restarted": `served-differs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::diagnose::{Finding, Severity};
use crate::local::{Inventory, LocalCert};

use super::model::ProbeReport;
use super::probe;

const TIMEOUT: Duration = Duration::from_secs(3);

/// One endpoint to probe: where, which role serves there, and the file configured for it.
struct Endpoint<'a> {
    addr: SocketAddr,
    role: &'static str,
    configured: Option<&'a LocalCert>,
}

pub fn probe_all(inv: &Inventory, findings: &mut Vec<Finding>) -> Vec<ProbeReport> {
    endpoints(inv)
        .into_iter()
        .map(|e| {
            let p = probe::probe(e.addr, None, TIMEOUT);
            report(&e, p, findings)
        })
        .collect()
}

fn report(e: &Endpoint<'_>, p: probe::Probed, findings: &mut Vec<Finding>) -> ProbeReport {
    let leaf = p.chain.first().map(|d| crate::x509::summarize(d));
    let configured_sha = e.configured.map(|c| c.summary.sha256.clone());
    if let (Some(leaf), Some(c)) = (&leaf, e.configured) {
        if leaf.sha256 != c.summary.sha256 {
            findings.push(
                Finding::new(
                    "served-differs",
                    Severity::Error,
                    super::audit::subject_of(c),
                    format!(
                        "{} ({}) serves {} (serial {}, until {}), not its configured {} (serial {}, until {}): the file was replaced and the component not restarted, or it reads another file",
                        e.addr,
                        e.role,
                        leaf.subject.as_deref().unwrap_or("?"),
                        leaf.serial.as_deref().unwrap_or("?"),
                        leaf.not_after.as_deref().unwrap_or("?"),
                        c.location(),
                        c.summary.serial.as_deref().unwrap_or("?"),
                        c.summary.not_after.as_deref().unwrap_or("?"),
                    ),
                )
                .evidence(format!("served sha256 {}, file sha256 {}", leaf.sha256, c.summary.sha256)),
            );
        }
    }
    ProbeReport {
        endpoint: e.addr.to_string(),
        role: e.role.to_string(),
        tls_version: p.tls_version,
        served_sha256: leaf.as_ref().map(|l| l.sha256.clone()),
        served_subject: leaf.as_ref().and_then(|l| l.subject.clone()),
        served_not_after: leaf.as_ref().and_then(|l| l.not_after.clone()),
        configured: e.configured.map(|c| c.location()),
        configured_sha256: configured_sha,
        ca_names: p.ca_names,
        error: p.error,
    }
}

/// The serving endpoints this node's configuration names.
fn endpoints(inv: &Inventory) -> Vec<Endpoint<'_>> {
    let routed = |needle: &str| inv.certs.iter().find(|c| c.has_route(needle));
    let mut out = Vec::new();
    let flag = |c: &str, n: &str| inv.flag(c, n).map(|f| f.value.clone());
    // kube-apiserver: --advertise-address (else loopback) : --secure-port (6443).
    let port = flag("kube-apiserver", "secure-port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(6443);
    if inv.flags.iter().any(|f| f.component == "kube-apiserver") {
        let host = flag("kube-apiserver", "advertise-address")
            .and_then(|a| a.parse::<IpAddr>().ok())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        push(
            &mut out,
            Some(SocketAddr::new(host, port)),
            "kube-apiserver",
            routed("flag:kube-apiserver --tls-cert-file"),
        );
    }
    // etcd: each --listen-client-urls / --listen-peer-urls address.
    for (name, role, cert) in [
        ("listen-client-urls", "etcd-server", "flag:etcd --cert-file"),
        (
            "listen-peer-urls",
            "etcd-peer",
            "flag:etcd --peer-cert-file",
        ),
    ] {
        for url in flag("etcd", name).unwrap_or_default().split(',') {
            push(&mut out, url_addr(url), role, routed(cert));
        }
    }
    // The kubelet (10250), the controller-manager (10257) and the scheduler (10259), on
    // loopback: their bind addresses default to all interfaces or to 127.0.0.1.
    let kubelet = inv.certs.iter().find(|c| {
        c.has_route("#tlsCertFile")
            || c.path.ends_with("/kubelet.crt")
            || c.has_route("kubelet-server-current.pem")
    });
    if inv.kubelet_rotate_certificates.is_some() || kubelet.is_some() {
        push(
            &mut out,
            Some(SocketAddr::from(([127, 0, 0, 1], 10250))),
            "kubelet-serving",
            kubelet,
        );
    }
    for (component, port, role) in [
        (
            "kube-controller-manager",
            10257,
            "controller-manager-serving",
        ),
        ("kube-scheduler", 10259, "scheduler-serving"),
    ] {
        if inv.flags.iter().any(|f| f.component == component) {
            let configured = routed(&format!("flag:{component} --tls-cert-file"));
            push(
                &mut out,
                Some(SocketAddr::from(([127, 0, 0, 1], port))),
                role,
                configured,
            );
        }
    }
    out
}

fn push<'a>(
    out: &mut Vec<Endpoint<'a>>,
    addr: Option<SocketAddr>,
    role: &'static str,
    configured: Option<&'a LocalCert>,
) {
    if let Some(addr) = addr {
        if !out.iter().any(|e| e.addr == addr) {
            out.push(Endpoint {
                addr,
                role,
                configured,
            });
        }
    }
}

/// `https://10.0.0.1:2379` → 10.0.0.1:2379 (IP hosts only: names are not resolved).
fn url_addr(url: &str) -> Option<SocketAddr> {
    let host_port = url.trim().split("://").nth(1)?.split('/').next()?;
    let (host, port) = host_port.rsplit_once(':')?;
    let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_ip_endpoints_only() {
        assert_eq!(
            url_addr("https://10.0.0.1:2379"),
            Some("10.0.0.1:2379".parse().unwrap())
        );
        assert_eq!(
            url_addr("https://[::1]:2380"),
            Some("[::1]:2380".parse().unwrap())
        );
        assert_eq!(url_addr("https://etcd.example:2379"), None);
    }
}
