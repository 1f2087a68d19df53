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
th{background:#f4f4f4}code{font-family:ui-monospace,monospace;font-size:.9em}td code{overflow-wrap:anywhere}\
.error{color:#b00020;font-weight:bold}.warning{color:#a15c00;font-weight:bold}.info{color:#555}\
.ok{color:#1b7f3b;font-weight:bold}section{border-top:1px solid #ddd;padding-top:.5em}\
.nowrap,code.nowrap{white-space:nowrap;word-break:normal}.diagram{overflow-x:auto}td.file{min-width:12em}td.san{min-width:13em}";

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
    if !report.groups.is_empty() {
        write_group_overview(report, out)?;
    } else if !spool.is_empty() {
        writeln!(out, "<table><tr><th>#</th><th>client → server</th><th>TLS</th><th>handshake</th><th>verdict</th></tr>")?;
        spool.write(Part::Overview, b"", None, out)?;
        writeln!(out, "</table>")?;
    }
    let header = |g: &GroupReport, out: &mut dyn Write| -> Result<(), OutputError> {
        writeln!(
            out,
            "<h2 id=\"g{n}\">Group {n}: {} connection(s) — <span class=\"{}\">{}</span></h2><p>{}</p>",
            g.count,
            verdict_class(&g.verdict),
            esc(g.verdict.split_once(':').map_or(g.verdict.as_str(), |(v, _)| v)),
            esc(&group_title(g)),
            n = g.group
        )?;
        Ok(())
    };
    spool.write(Part::Detail, b"", Some(&header), out)?;
    writeln!(out, "</body></html>")?;
    Ok(())
}

/// "node/etc/kubernetes/pki/apiserver.crt" (and how it matched), or "in no local file".
fn which_file(cert: &PresentedCert) -> String {
    match cert.local_files.first() {
        Some(m) => {
            let entry = m
                .entry
                .as_deref()
                .map(|e| format!("#{e}"))
                .unwrap_or_default();
            let more = cert.local_files.len() - 1;
            format!(
                "<code>{}{}</code>{}",
                esc(&m.path),
                esc(&entry),
                if more > 0 {
                    format!(" (+{more} more, below)")
                } else {
                    String::new()
                }
            )
        }
        None => "in no local file".into(),
    }
}

/// Not-before and not-after on lines of their own, each unbroken.
fn validity_html(cert: &PresentedCert) -> String {
    match (&cert.not_before, &cert.not_after) {
        (Some(a), Some(b)) => format!("{}<br>{}", esc(a), esc(b)),
        _ => esc(&validity(cert)),
    }
}

/// One row per group, linking to its detail.
fn write_group_overview(report: &Report, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(out, "<table><tr><th>group</th><th>count</th><th>client → server</th><th>role</th><th>handshake</th><th>verdict</th><th>which file</th></tr>")?;
    for g in &report.groups {
        writeln!(
            out,
            "<tr><td><a href=\"#g{n}\">{n}</a></td><td>{}</td><td><code class=\"nowrap\">{}</code> →<br><code class=\"nowrap\">{}</code></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"file\">{}</td></tr>",
            g.count,
            esc(&group_client(g)),
            esc(&g.server),
            esc(&group_role_text(g)),
            outcome_label(g.handshake),
            verdict_class(&g.verdict),
            esc(&g.verdict),
            g.local_file
                .as_deref()
                .map(|p| format!("<code>{}</code>", esc(p)))
                .unwrap_or_else(|| "in no file".into()),
            n = g.group
        )?;
    }
    writeln!(out, "</table>")?;
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
    layout: &super::Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(
        out,
        "<section id=\"c{}\"><{h}>#{} <code>{}</code> → <code>{}</code> — {}</{h}>",
        c.id,
        c.id,
        esc(&c.client),
        esc(&c.server),
        outcome_label(c.handshake),
        h = if layout.grouped { "h3" } else { "h2" }
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
    row(out, "ALPN", &alpn_text(c))?;
    if layout.several_inputs {
        row(out, "input", &c.input)?;
    }
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
    write_certificates(c, layout, out)?;
    // A failed or suspicious handshake drawn: inline SVG, no script.
    if super::diagram::worth_drawing(c) {
        writeln!(
            out,
            "<h3>The handshake</h3><div class=\"diagram\">{}</div>",
            super::diagram::svg(c)
        )?;
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
    write_findings(c, out)?;
    if layout.with_local {
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

/// Each side's certificates, one table per side (or why there are none).
fn write_certificates(
    c: &ConnectionReport,
    layout: &super::Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    for (side, certs, label) in [
        (Side::Server, &c.server_certificates, "Server"),
        (Side::Client, &c.client_certificates, "Client"),
    ] {
        match certs {
            Some(v) if !v.is_empty() => {
                writeln!(
                    out,
                    "<h3>{label} certificates</h3><table><tr><th>#</th><th>subject / issuer</th>{}<th>serial / sha256</th><th>valid</th><th>key / usage</th><th>SAN</th></tr>",
                    if layout.with_local { "<th>which file</th>" } else { "" }
                )?;
                for (i, cert) in v.iter().enumerate() {
                    let file = if layout.with_local {
                        format!("<td class=\"file\">{}</td>", which_file(cert))
                    } else {
                        String::new()
                    };
                    writeln!(
                        out,
                        "<tr><td>{i}</td><td>{}<br>← {}</td>{file}<td><code class=\"nowrap\">{}</code><br><code>{}</code></td><td class=\"nowrap\">{}</td><td>{}<br>{}</td><td class=\"san\">{}</td></tr>",
                        esc(cert.subject.as_deref().unwrap_or("(unparsable)")),
                        esc(cert.issuer.as_deref().unwrap_or("")),
                        esc(cert.serial.as_deref().unwrap_or("")),
                        esc(&cert.sha256),
                        validity_html(cert),
                        esc(cert.public_key.as_deref().unwrap_or("")),
                        esc(&list_or_dash(&cert.extended_key_usage)),
                        if cert.san.is_empty() {
                            "-".to_string()
                        } else {
                            cert.san
                                .iter()
                                .map(|s| format!("<code>{}</code>", esc(s)))
                                .collect::<Vec<_>>()
                                .join("<br>")
                        }
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
    Ok(())
}

/// The findings, with when, what is logged and the evidence.
fn write_findings(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
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
