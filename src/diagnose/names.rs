//! `no-ip-san` / `name-mismatch`: the server certificate against the name the client
//! dialed. Source: Go crypto/x509 `Certificate.VerifyHostname` and `HostnameError.Error`.
//! A client that dialed an IP address sends no SNI and needs that IP among the IP SANs; a
//! host name must match a DNS SAN (Go ignores the CN since 1.15).

use std::net::IpAddr;

use super::verifiers::Verifiers;
use super::{cn, Context, Finding, Severity};
use crate::model::{PresentedCert, Side};

pub fn run(ctx: &Context<'_>, verifiers: &Verifiers, out: &mut Vec<Finding>) {
    let Some(c) = ctx.leaf(Side::Server) else {
        return;
    };
    // Never judge names from data that was not there: an unparseable certificate has no
    // known SANs, and without the ClientHello the SNI is unknown, not absent.
    if c.error.is_some() {
        return;
    }
    if !ctx.client_hello_seen {
        out.push(Finding::new(
            "name-not-judged",
            Severity::Info,
            "server[0]",
            "ClientHello not seen: the name the client dialed (SNI) is unknown, so the server certificate's names were not judged".into(),
        ));
        return;
    }
    let v = verifiers.of(Side::Server);
    let sni = ctx
        .conn
        .sni
        .as_deref()
        .filter(|s| s.parse::<IpAddr>().is_err());
    let (code, message, x509) = match sni {
        None => {
            let ip = ctx.server_ip;
            let ips: Vec<&str> = c.san.iter().filter_map(|s| s.strip_prefix("IP:")).collect();
            if ips.iter().any(|s| s.parse::<IpAddr>().ok() == Some(ip)) {
                return;
            }
            if ips.is_empty() {
                ("no-ip-san", format!("the client dialed {ip} (no SNI), and the server certificate has no IP SANs"), hostname_error(c, &ip.to_string()))
            } else {
                ("name-mismatch", format!("the client dialed {ip} (no SNI), which is not among the server certificate's IP SANs"), hostname_error(c, &ip.to_string()))
            }
        }
        Some(name) => {
            let dns: Vec<&str> = c
                .san
                .iter()
                .filter_map(|s| s.strip_prefix("DNS:"))
                .collect();
            if dns.iter().any(|d| host_matches(d, name)) {
                return;
            }
            ("name-mismatch", format!("the client asked for {name} (SNI), which no DNS SAN of the server certificate covers"), hostname_error(c, name))
        }
    };
    out.push(
        Finding::new(code, Severity::Error, "server[0]", message)
            .evidence(format!("SANs: {}", if c.san.is_empty() { "none".to_string() } else { c.san.join(", ") }))
            .evidence(format!("dialed {} as captured (a Service IP or NAT in between changes what the client dialed)", ctx.conn.server))
            .rejection_logged(ctx, v, Side::Server, &x509)
            .rejected_by(Side::Client, v.layer),
    );
}

/// Go's `HostnameError.Error()` for `host`.
fn hostname_error(c: &PresentedCert, host: &str) -> String {
    let has_san_ext = !c.san.is_empty();
    let common_name = c.subject.as_deref().and_then(cn).unwrap_or("");
    if !has_san_ext && !common_name.is_empty() && host_matches(common_name, host) {
        return "x509: certificate relies on legacy Common Name field, use SANs instead".into();
    }
    let valid: Vec<&str> = if host.parse::<IpAddr>().is_ok() {
        let ips: Vec<&str> = c.san.iter().filter_map(|s| s.strip_prefix("IP:")).collect();
        if ips.is_empty() {
            return format!("x509: cannot validate certificate for {host} because it doesn't contain any IP SANs");
        }
        ips
    } else {
        c.san
            .iter()
            .filter_map(|s| s.strip_prefix("DNS:"))
            .collect()
    };
    if valid.is_empty() {
        return format!("x509: certificate is not valid for any names, but wanted to match {host}");
    }
    format!(
        "x509: certificate is valid for {}, not {host}",
        valid.join(", ")
    )
}

/// DNS name matching as Go's `matchHostnames`: case-insensitive, a leading `*.` matches
/// exactly one label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.trim_end_matches('.');
    let h = host.trim_end_matches('.');
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail.eq_ignore_ascii_case(rest)),
        None => p.eq_ignore_ascii_case(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_matching_like_go() {
        assert!(host_matches(
            "kubernetes.default.svc",
            "KUBERNETES.default.svc."
        ));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(host_matches("*.Example.COM.", "A.example.com"));
        assert!(!host_matches("*.example.com", ".example.com"));
        assert!(!host_matches("kubernetes", "kubernetes.default"));
    }
}
