//! A self-contained HTML page (no scripts, no external resources) for attaching to an
//! incident or opening in a browser: the same content as the Markdown report.

use std::io::Write;

use super::model::*;
use super::spool::{Part, Spool};
use super::text::*;
use crate::error::OutputError;

/// HTML-escape text content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}\
th{background:#f4f4f4}code{font-family:ui-monospace,monospace;font-size:.9em}td code{word-break:break-all}\
.error{color:#b00020;font-weight:bold}.warning{color:#a15c00;font-weight:bold}.info{color:#555}\
.ok{color:#1b7f3b;font-weight:bold}section{border-top:1px solid #ddd;padding-top:.5em}";

fn verdict_class(v: &str) -> &'static str {
    if v == "OK" {
        "ok"
    } else if v.starts_with("ERROR") {
        "error"
    } else {
        "warning"
    }
}

pub fn write_html(
    report: &Report,
    spool: &mut Spool,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>certwire report</title><style>{STYLE}</style></head><body>")?;
    writeln!(out, "<h1>certwire report</h1>")?;
    writeln!(
        out,
        "<table><tr><th>input</th><th>format</th><th>link types</th><th>packets</th></tr>"
    )?;
    for i in &report.inputs {
        writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.path),
            i.format.unwrap_or("unreadable"),
            esc(&i.link_types.join(", ")),
            i.packets
        )?;
    }
    writeln!(out, "</table>")?;
    let s = &report.summary;
    writeln!(
        out,
        "<p><b>{} connection(s)</b>: {} completed, {} failed, {} incomplete, {} unknown (encrypted: {}, with capture gaps: {}). Findings: {}.</p>",
        s.connections, s.completed, s.failed, s.incomplete, s.unknown, s.encrypted, s.with_gaps, esc(&findings_summary(s))
    )?;
    for line in notice_lines(report) {
        writeln!(out, "<p class=\"notice\">{}</p>", esc(&line))?;
    }
    let inputs = input_lines(report);
    if !inputs.is_empty() {
        writeln!(out, "<pre>")?;
        for line in inputs {
            writeln!(out, "{}", esc(&line))?;
        }
        writeln!(out, "</pre>")?;
    }
    if !report.warnings.is_empty() {
        writeln!(out, "<h2>Warnings</h2><ul>")?;
        for w in &report.warnings {
            writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&w.input),
                esc(&w.message)
            )?;
        }
        writeln!(out, "</ul>")?;
    }
    if !spool.is_empty() {
        writeln!(out, "<table><tr><th>#</th><th>client → server</th><th>TLS</th><th>handshake</th><th>verdict</th></tr>")?;
        spool.write(Part::Overview, b"", out)?;
        writeln!(out, "</table>")?;
    }
    spool.write(Part::Detail, b"", out)?;
    writeln!(out, "</body></html>")?;
    Ok(())
}

/// One row of the overview table, linking to the connection's section.
pub fn write_overview_row(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(
        out,
        "<tr><td><a href=\"#c{id}\">{id}</a></td><td><code>{}</code> → <code>{}</code></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
        esc(&c.client),
        esc(&c.server),
        c.tls_version.unwrap_or("?"),
        outcome_label(c.handshake),
        verdict_class(&c.verdict),
        esc(&c.verdict),
        id = c.id
    )?;
    Ok(())
}

/// One connection's section.
pub fn write_connection(
    c: &ConnectionReport,
    with_local: bool,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(
        out,
        "<section id=\"c{}\"><h2>#{} <code>{}</code> → <code>{}</code> — {}</h2>",
        c.id,
        c.id,
        esc(&c.client),
        esc(&c.server),
        outcome_label(c.handshake)
    )?;
    let row = |out: &mut dyn Write, k: &str, v: &str| {
        writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v))
    };
    writeln!(out, "<table>")?;
    row(
        out,
        "first seen",
        &format!("{} (packet {})", c.first_seen, c.first_packet),
    )?;
    row(out, "TLS", c.tls_version.unwrap_or("?"))?;
    row(
        out,
        "cipher suite",
        c.cipher_suite.as_deref().unwrap_or("-"),
    )?;
    row(out, "SNI", c.sni.as_deref().unwrap_or("-"))?;
    row(
        out,
        "ALPN",
        &c.alpn
            .as_ref()
            .map(|a| a.join(", "))
            .unwrap_or_else(|| "-".into()),
    )?;
    row(
        out,
        "handshake",
        &format!("{} — {}", outcome_label(c.handshake), c.outcome_reason),
    )?;
    writeln!(
        out,
        "<tr><th>verdict</th><td class=\"{}\">{}</td></tr>",
        verdict_class(&c.verdict),
        esc(&c.verdict)
    )?;
    if let Some(r) = role_text(c) {
        row(out, "role", &r)?;
    }
    if let Some(t) = tunnel_text(c) {
        row(out, "tunnel", &t)?;
    }
    if let Some(p) = proxy_text(c) {
        row(out, "proxy", &p)?;
    }
    if let Some(h) = hrr_text(c) {
        row(out, "HelloRetryRequest", &h)?;
    }
    if let Some(k) = keys_text(c) {
        row(out, "keys", &k)?;
    }
    if let Some(h) = http_text(c) {
        row(out, "HTTP", &h)?;
    }
    if let Some(cr) = &c.certificate_request {
        row(
            out,
            "client certificate requested",
            &format!("acceptable CAs: {}", list_or_dash(&cr.ca_names)),
        )?;
    }
    for a in &c.alerts {
        row(out, "alert", &alert_text(a))?;
    }
    for g in &c.gaps {
        row(out, "gap", &gap_text(g))?;
    }
    for t in &c.truncated_certificate_messages {
        row(out, "incomplete chain", &truncation_text(t))?;
    }
    writeln!(out, "</table>")?;
    for (side, certs, label) in [
        (Side::Server, &c.server_certificates, "Server"),
        (Side::Client, &c.client_certificates, "Client"),
    ] {
        match certs {
            Some(v) if !v.is_empty() => {
                writeln!(out, "<h3>{label} certificates</h3><table><tr><th>#</th><th>subject</th><th>issuer</th><th>serial</th><th>valid</th><th>key</th><th>EKU</th><th>SAN</th><th>sha256</th></tr>")?;
                for (i, cert) in v.iter().enumerate() {
                    writeln!(
                        out,
                        "<tr><td>{i}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                        esc(cert.subject.as_deref().unwrap_or("(unparsable)")),
                        esc(cert.issuer.as_deref().unwrap_or("")),
                        esc(cert.serial.as_deref().unwrap_or("")),
                        esc(&validity(cert)),
                        esc(cert.public_key.as_deref().unwrap_or("")),
                        esc(&list_or_dash(&cert.extended_key_usage)),
                        esc(&list_or_dash(&cert.san)),
                        esc(&cert.sha256)
                    )?;
                }
                writeln!(out, "</table>")?;
            }
            _ => {
                if let Some(text) = chain_absence(certs, c, side) {
                    writeln!(out, "<p>{label}: {}</p>", esc(&text))?;
                }
            }
        }
    }
    let inferred = inference_lines(c);
    if !inferred.is_empty() {
        writeln!(
            out,
            "<h3>Inferred from encrypted record lengths (not a match)</h3><ul>"
        )?;
        for l in inferred {
            writeln!(out, "<li>{}</li>", esc(&l))?;
        }
        writeln!(out, "</ul>")?;
    }
    if !c.findings.is_empty() {
        writeln!(out, "<h3>Findings</h3><ul>")?;
        for f in &c.findings {
            let sev = crate::diagnose::severity_word(f.severity);
            writeln!(
                out,
                "<li><span class=\"{}\">{}</span> <code>{}</code> ({}): {}",
                sev.to_ascii_lowercase(),
                sev,
                f.code,
                esc(&f.subject),
                esc(&f.message)
            )?;
            if let Some(w) = when_text(f) {
                writeln!(out, "<br>when: {}", esc(w))?;
            }
            if let Some(l) = &f.logged_as {
                writeln!(out, "<br>logged as: <code>{}</code>", esc(l))?;
            }
            if !f.evidence.is_empty() {
                writeln!(out, "<ul>")?;
                for e in &f.evidence {
                    writeln!(out, "<li>{}</li>", esc(e))?;
                }
                writeln!(out, "</ul>")?;
            }
            writeln!(out, "</li>")?;
        }
        writeln!(out, "</ul>")?;
    }
    if with_local {
        let lines: Vec<String> = local_file_lines(c)
            .into_iter()
            .chain(c.candidates_not_presented.iter().map(candidate_line))
            .collect();
        if !lines.is_empty() {
            writeln!(out, "<h3>Local files</h3><ul>")?;
            for l in lines {
                writeln!(out, "<li>{}</li>", esc(&l))?;
            }
            writeln!(out, "</ul>")?;
        }
    }
    writeln!(out, "</section>")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(
            super::esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
