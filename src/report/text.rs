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
    certs: &Option<Vec<std::sync::Arc<CertSummary>>>,
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
