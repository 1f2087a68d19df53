//! Shared phrasing for the human formats (table and Markdown), so both say the same thing.

use super::model::*;
use crate::x509::CertSummary;

pub fn outcome_label(h: Handshake) -> &'static str {
    match h {
        Handshake::Completed => "completed",
        Handshake::Failed => "FAILED",
        Handshake::Incomplete => "incomplete",
        Handshake::Unknown => "unknown",
    }
}

pub fn alert_text(a: &AlertReport) -> String {
    let from = match a.from {
        Side::Client => "client",
        Side::Server => "server",
    };
    if a.encrypted {
        format!("{from}: encrypted alert")
    } else {
        format!(
            "{from}: {} {} ({})",
            a.level.unwrap_or("?"),
            a.description.unwrap_or("unknown"),
            a.code.map(|c| c.to_string()).unwrap_or_default()
        )
    }
}

pub fn gap_text(g: &GapReport) -> String {
    format!(
        "{} bytes missing {} at stream offset {}",
        g.missing_bytes,
        g.direction.replace('_', " "),
        g.offset
    )
}

pub fn validity(c: &CertSummary) -> String {
    match (&c.not_before, &c.not_after) {
        (Some(a), Some(b)) => format!("{a} → {b}"),
        _ => "-".into(),
    }
}

pub fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// What the client sent, in words, when there is no chain to show.
pub fn chain_absence(
    certs: &Option<Vec<PresentedCert>>,
    c: &ConnectionReport,
    side: Side,
) -> Option<String> {
    match certs {
        Some(v) if v.is_empty() => {
            Some("sent an empty Certificate message (no certificate)".into())
        }
        Some(_) => None,
        None => Some(match (side, c.visibility) {
            (_, Visibility::Encrypted) => {
                "certificates encrypted (TLS 1.3); not visible without keys".into()
            }
            _ if c
                .truncated_certificate_messages
                .iter()
                .any(|t| t.from == side) =>
            {
                "Certificate message cut by missing bytes before any certificate was whole".into()
            }
            _ if !c.gaps.is_empty() => {
                "no Certificate message seen (bytes are missing from the capture)".into()
            }
            (Side::Client, _)
                if c.certificate_request.is_none() && c.handshake == Handshake::Completed =>
            {
                "no certificate (none was requested)".into()
            }
            (Side::Client, _) if c.handshake == Handshake::Completed => {
                "no Certificate message".into()
            }
            (Side::Server, _) if c.resumed => "no certificate (session resumed)".into(),
            _ => "no Certificate message seen".into(),
        }),
    }
}

pub fn truncation_text(t: &TruncatedMessage) -> String {
    format!(
        "{} Certificate message cut by missing bytes: {} of {} bytes captured, {} whole certificate(s); the rest of the chain is missing",
        match t.from {
            Side::Client => "client",
            Side::Server => "server",
        },
        t.seen_bytes,
        t.declared_length,
        t.whole_certificates
    )
}

/// "vxlan VNI 42, outer 198.18.0.1 → 198.18.0.2", when the connection came in a tunnel.
pub fn tunnel_text(c: &ConnectionReport) -> Option<String> {
    let t = c.tunnel.as_ref()?;
    let id = match (t.kind, t.id) {
        (_, None) => String::new(),
        ("vxlan" | "geneve", Some(id)) => format!(" VNI {id}"),
        ("gre", Some(id)) => format!(" key {id}"),
        (_, Some(id)) => format!(" session {id}"),
    };
    let layers = if t.layers > 1 {
        format!(" ({} layers)", t.layers)
    } else {
        String::new()
    };
    Some(format!(
        "{}{id}, outer {} → {}{layers}",
        t.kind, t.outer_client, t.outer_server
    ))
}

/// "via HTTP CONNECT proxy to api:6443 (HTTP/1.1 200 Connection established)".
pub fn proxy_text(c: &ConnectionReport) -> Option<String> {
    use crate::flow::preamble::{Outcome, Protocol};
    let h = c.proxy.as_ref()?;
    let kind = match h.protocol {
        Protocol::HttpConnect => "HTTP CONNECT",
        Protocol::Socks5 => "SOCKS5",
        Protocol::Socks4 => "SOCKS4",
    };
    let outcome = match h.outcome {
        Outcome::Established => "",
        Outcome::Refused => ", REFUSED by the proxy",
        Outcome::Incomplete => ", exchange not seen to its end",
    };
    Some(format!(
        "via {kind} proxy {} to {}{outcome}{}",
        c.server,
        h.target.as_deref().unwrap_or("?"),
        h.reply
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ))
}

/// "the server asked for secp256r1 (one more round trip)", after a HelloRetryRequest.
pub fn hrr_text(c: &ConnectionReport) -> Option<String> {
    let h = c.hello_retry_request.as_ref()?;
    Some(format!(
        "the server asked for key share group {} (a second ClientHello, one more round trip)",
        h.group.as_deref().unwrap_or("?")
    ))
}

/// "decrypted with secrets from process kubectl (pid 4242, /usr/bin/kubectl)".
pub fn keys_text(c: &ConnectionReport) -> Option<String> {
    if c.key_sources.is_empty() {
        return None;
    }
    let list: Vec<String> = c.key_sources.iter().map(|s| s.text()).collect();
    Some(format!(
        "decrypted with secrets from {}",
        list.join(" and ")
    ))
}

/// "401 (h2), the server's first response", when application data was decrypted.
pub fn http_text(c: &ConnectionReport) -> Option<String> {
    let r = c.http_response?;
    Some(format!(
        "{} ({}), the server's first response",
        r.status, r.protocol
    ))
}

/// "h2, http/1.1 → h2": what the client offered and what the server chose.
pub fn alpn_text(c: &ConnectionReport) -> String {
    format!(
        "{}{}",
        c.alpn
            .as_ref()
            .map(|a| a.join(", "))
            .unwrap_or_else(|| "-".into()),
        c.alpn_selected
            .as_ref()
            .map(|a| format!(" → {a}"))
            .unwrap_or_default()
    )
}

/// "kubelet-client → kube-apiserver", when either role is known.
pub fn role_text(c: &ConnectionReport) -> Option<String> {
    let name = |r: Option<crate::correlate::Role>| {
        r.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
    };
    match (name(c.role), name(c.server_role)) {
        (None, None) => None,
        (a, b) => Some(format!(
            "{} → {}",
            a.unwrap_or_else(|| "?".into()),
            b.unwrap_or_else(|| "?".into())
        )),
    }
}

use crate::local::location;

/// One line per presented certificate: the local file it came from and the routes to it.
pub fn local_file_lines(c: &ConnectionReport) -> Vec<String> {
    let mut lines = Vec::new();
    for (certs, label) in [
        (&c.server_certificates, "server"),
        (&c.client_certificates, "client"),
    ] {
        for (i, cert) in certs.iter().flatten().enumerate() {
            let Some(first) = cert.local_files.first() else {
                lines.push(format!("{label}[{i}] is in no local file"));
                continue;
            };
            let kind = match first.kind {
                crate::correlate::MatchKind::Exact => "",
                crate::correlate::MatchKind::SameSerial => {
                    " [same issuer and serial, DIFFERENT bytes]"
                }
                crate::correlate::MatchKind::SameKey => " [same key, different certificate]",
            };
            // An embedded entry's own route repeats its location: leave it out.
            let own = format!("kubeconfig:{}", location(&first.path, &first.entry));
            let via: Vec<&str> = first
                .via
                .iter()
                .map(String::as_str)
                .filter(|v| *v != own)
                .collect();
            let via = if via.is_empty() {
                String::new()
            } else {
                format!(" (via {})", via.join(", "))
            };
            let more = match cert.local_files.len() {
                1 => String::new(),
                n => format!(", and {} other location(s)", n - 1),
            };
            lines.push(format!(
                "{label}[{i}] = {}{kind}{via}{more}",
                location(&first.path, &first.entry)
            ));
        }
    }
    lines
}

pub fn candidate_line(cand: &crate::correlate::Candidate) -> String {
    format!(
        "NOT presented by the {}: {} (serial {}, {}, until {}): {}",
        match cand.side {
            Side::Client => "client",
            Side::Server => "server",
        },
        location(&cand.path, &cand.entry),
        cand.serial.as_deref().unwrap_or("?"),
        cand.public_key.as_deref().unwrap_or("?"),
        cand.not_after.as_deref().unwrap_or("?"),
        cand.reason
    ) + &if cand.via.is_empty() {
        String::new()
    } else {
        format!(" (via {})", cand.via.join(", "))
    }
}

/// When a finding is acted on, and whether the capture shows it, in a few words.
pub fn when_text(f: &crate::diagnose::Finding) -> Option<&'static str> {
    use crate::diagnose::{Layer, Observed};
    Some(match (f.layer?, f.observed?) {
        (Layer::Tls, Observed::Confirmed) => "rejected in the TLS handshake (seen in the capture)",
        (Layer::Tls, Observed::Contradicted) => {
            "a verifying peer rejects it in the handshake; this one did not"
        }
        (Layer::Tls, Observed::Unknown) => {
            "rejected in the TLS handshake (not seen in the capture)"
        }
        (Layer::Authentication, Observed::Confirmed) => "rejected after the handshake (seen)",
        (Layer::Authentication, Observed::Contradicted) => {
            "accepted after the handshake, against the prediction"
        }
        (Layer::Authentication, Observed::Unknown) => {
            "rejected after the handshake: HTTP 401/403 per request (inside the encrypted data)"
        }
    })
}

/// Report-wide notices, and the local files that could not be used (at most
/// `MAX_PROBLEM_LINES`; JSON has them all).
pub fn notice_lines(report: &crate::model::Report) -> Vec<String> {
    const MAX_PROBLEM_LINES: usize = 20;
    let mut v: Vec<String> = report
        .notices
        .iter()
        .map(|n| format!("note: {n}"))
        .collect();
    if let Some(local) = &report.local_certificates {
        for p in local.problems.iter().take(MAX_PROBLEM_LINES) {
            v.push(format!("local file problem: {}: {}", p.path, p.reason));
        }
        if local.problems.len() > MAX_PROBLEM_LINES {
            v.push(format!(
                "... and {} more local file problem(s) (--format json lists them all)",
                local.problems.len() - MAX_PROBLEM_LINES
            ));
        }
    }
    v
}

/// Per input: the handshakes on ports not followed (and how to include them), and the
/// connections that never connected, one line per group with its finding.
pub fn input_lines(report: &crate::model::Report) -> Vec<String> {
    let mut v = Vec::new();
    for i in &report.inputs {
        let skipped = &i.tls_handshakes_not_followed;
        if !skipped.is_empty() {
            let total: u64 = skipped.values().sum();
            let ports: Vec<String> = skipped
                .iter()
                .map(|(p, n)| {
                    if *p == 0 {
                        format!("other ports: {n}")
                    } else {
                        format!("{p}: {n}")
                    }
                })
                .collect();
            let add: Vec<String> = skipped
                .keys()
                .filter(|p| **p != 0)
                .map(|p| p.to_string())
                .collect();
            v.push(format!(
                "{}: {total} TLS handshake(s) on ports not followed ({}); include them with --ports 6443,10250,2379,2380,10257,10259,{} or --any-port",
                i.path,
                ports.join(", "),
                add.join(",")
            ));
        }
        for g in &i.connection_attempts {
            let every = g
                .interval_seconds
                .map(|s| format!(", every {s:.1} s"))
                .unwrap_or_default();
            v.push(format!(
                "never connected: {} → {} {}: {} attempt(s), {} SYN(s){every}, {} … {}",
                g.client,
                g.server,
                g.outcome.as_str(),
                g.attempts,
                g.syn_packets,
                g.first_seen,
                g.last_seen
            ));
            v.extend(
                finding_lines(&g.finding)
                    .into_iter()
                    .map(|l| format!("    {l}")),
            );
        }
        if i.connection_attempts_not_listed > 0 {
            v.push(format!(
                "{} more group(s) of connection attempts not listed",
                i.connection_attempts_not_listed
            ));
        }
    }
    v
}

/// A finding as lines of text: the headline, then when it acts, what is logged and the
/// evidence.
pub fn finding_lines(f: &crate::diagnose::Finding) -> Vec<String> {
    let mut v = vec![format!(
        "[{}] {} ({}): {}",
        crate::diagnose::severity_word(f.severity),
        f.code,
        f.subject,
        f.message
    )];
    if let Some(w) = when_text(f) {
        v.push(format!("    when: {w}"));
    }
    if let Some(l) = &f.logged_as {
        v.push(format!("    logged as: {l}"));
    }
    for e in &f.evidence {
        v.push(format!("    - {e}"));
    }
    v
}

pub fn findings_summary(s: &Summary) -> String {
    let unknown = match s.unknown_verdicts {
        0 => String::new(),
        n => format!("; {n} connection(s) with an UNKNOWN outcome"),
    };
    if s.findings.is_empty() {
        return format!("no findings{unknown}");
    }
    let by_code: Vec<String> = s.findings.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "{} error(s), {} warning(s); by code: {}{unknown}",
        s.errors,
        s.warnings,
        by_code.join(", ")
    )
}

/// The TLS 1.3 length inference, as lines.
pub fn inference_lines(c: &ConnectionReport) -> Vec<String> {
    let Some(inf) = &c.inference else {
        return Vec::new();
    };
    let f = &inf.flights;
    if !f.one_message_per_record {
        return vec!["inferred: nothing (the encrypted records do not follow one handshake message per record)".into()];
    }
    let msgs = |m: &[crate::tls::infer::InferredMessage]| {
        m.iter()
            .map(|m| format!("{} {}", m.message, m.length))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut v = vec![format!(
        "inferred server flight: {}",
        msgs(&f.server_messages)
    )];
    if !f.client_messages.is_empty() {
        v.push(format!(
            "inferred client flight: {}",
            msgs(&f.client_messages)
        ));
    }
    if let Some(cc) = f.client_certificate {
        v.push(format!("inferred client certificate: {cc}"));
    }
    v.extend(inf.size_checks.iter().map(|s| s.summary.clone()));
    v
}

fn role_name(r: Option<crate::correlate::Role>) -> Option<String> {
    r.and_then(|r| {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    })
}

/// "kubelet-client → kube-apiserver" for a group.
pub fn group_role_text(g: &GroupReport) -> String {
    match (role_name(g.role), role_name(g.server_role)) {
        (None, None) => "-".into(),
        (a, b) => format!(
            "{} → {}",
            a.unwrap_or_else(|| "?".into()),
            b.unwrap_or_else(|| "?".into())
        ),
    }
}

/// "#4, #9, #12, … (+40 more)": at most `max` ids.
pub fn group_ids_text(g: &GroupReport, max: usize) -> String {
    let listed: Vec<String> = g
        .connection_ids
        .iter()
        .take(max)
        .map(|i| format!("#{i}"))
        .collect();
    let more = g.count.saturating_sub(listed.len() as u64);
    if more > 0 {
        format!("{}, … (+{more} more)", listed.join(", "))
    } else {
        listed.join(", ")
    }
}

/// The client of a group without its (ephemeral) port.
pub fn group_client(g: &GroupReport) -> String {
    match g.client.rsplit_once(':') {
        Some((host, _)) if g.count > 1 => host.to_string(),
        _ => g.client.clone(),
    }
}

/// "group 3: 57 connection(s) (#4, #9, … (+40 more)), first seen …, last seen …".
pub fn group_title(g: &GroupReport) -> String {
    if g.count == 1 {
        return format!("group {}: 1 connection ({})", g.group, g.first_seen);
    }
    format!(
        "group {}: {} connections like the one below ({}), first seen {}, last seen {}",
        g.group,
        g.count,
        group_ids_text(g, 12),
        g.first_seen,
        g.last_seen
    )
}

/// A path shortened in the middle to `max` characters: "/var/lib/…/kubelet-client-current.pem".
pub fn short_path(p: &str, max: usize) -> String {
    let n = p.chars().count();
    if n <= max || max < 8 {
        return p.to_string();
    }
    let tail: String = p.chars().skip(n - (max - 1) * 2 / 3).collect();
    let head: String = p.chars().take(max - 1 - tail.chars().count()).collect();
    format!("{head}…{tail}")
}
