//! Markdown for incident tickets: one section per connection, certificates as a table with
//! full serials and fingerprints in code spans so they survive copy-paste.

use std::io::Write;

use super::model::*;
use super::spool::{Part, Spool};
use super::text::*;
use crate::error::OutputError;

/// Characters that would break a table cell or be taken as markup.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

pub fn write_markdown(
    report: &Report,
    spool: &mut Spool,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(out, "# certwire report\n")?;
    writeln!(
        out,
        "| input | format | link types | packets | connections |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for (n, i) in report.inputs.iter().enumerate() {
        let n = spool.count_of(n);
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(&i.path),
            i.format.unwrap_or("unreadable"),
            i.link_types.join(", "),
            i.packets,
            n
        )?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "\n**{} connection(s)**: {} completed, {} failed, {} incomplete, {} unknown (encrypted: {}, with capture gaps: {}).\n",
        s.connections, s.completed, s.failed, s.incomplete, s.unknown, s.encrypted, s.with_gaps
    )?;
    writeln!(out, "Findings: {}.\n", cell(&findings_summary(s)))?;
    for line in notice_lines(report) {
        writeln!(out, "> {}\n", cell(&line))?;
    }
    let inputs = input_lines(report);
    if !inputs.is_empty() {
        writeln!(out, "```")?;
        for line in inputs {
            writeln!(out, "{}", line.replace("```", "'''"))?;
        }
        writeln!(out, "```\n")?;
    }
    if !report.groups.is_empty() {
        write_group_overview(report, out)?;
    } else if !spool.is_empty() {
        writeln!(
            out,
            "| # | client → server | handshake | verdict |\n|---|---|---|---|"
        )?;
        spool.write(Part::Overview, b"", None, out)?;
        writeln!(out)?;
    }
    if !report.warnings.is_empty() {
        writeln!(out, "## Warnings\n")?;
        for w in &report.warnings {
            writeln!(out, "- {}: {}", code(&w.input), cell(&w.message))?;
        }
        writeln!(out)?;
    }
    let header = |g: &GroupReport, out: &mut dyn Write| -> Result<(), OutputError> {
        writeln!(
            out,
            "<a id=\"group-{}\"></a>\n\n## Group {}: {} connection(s) — {}\n\n{}\n",
            g.group,
            g.group,
            g.count,
            cell(&g.verdict),
            cell(&group_title(g))
        )?;
        Ok(())
    };
    spool.write(Part::Detail, b"", Some(&header), out)?;
    Ok(())
}

/// One row per group: the first thing a reader sees.
fn write_group_overview(report: &Report, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(
        out,
        "| group | count | client → server | role | handshake | verdict | which file |\n|---|---|---|---|---|---|---|"
    )?;
    for g in &report.groups {
        writeln!(
            out,
            "| [{n}](#group-{n}) | {c} | {} → {} | {} | {} | {} | {} |",
            code(&group_client(g)),
            code(&g.server),
            cell(&group_role_text(g)),
            outcome_label(g.handshake),
            cell(&g.verdict),
            g.local_file
                .as_deref()
                .map(|p| code(&short_path(p, 60)))
                .unwrap_or_else(|| "in no file".into()),
            n = g.group,
            c = g.count,
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// One row of the overview table.
pub fn write_overview_row(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(
        out,
        "| {} | {} → {} | {} | {} |",
        c.id,
        code(&c.client),
        code(&c.server),
        outcome_label(c.handshake),
        cell(&c.verdict)
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
        "{} #{} {} → {} — {}\n",
        if layout.grouped { "###" } else { "##" },
        c.id,
        code(&c.client),
        code(&c.server),
        outcome_label(c.handshake)
    )?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(
        out,
        "| first seen | {} (packet {}) |",
        c.first_seen, c.first_packet
    )?;
    writeln!(out, "| TLS | {} |", c.tls_version.unwrap_or("?"))?;
    writeln!(
        out,
        "| cipher suite | {} |",
        cell(c.cipher_suite.as_deref().unwrap_or("-"))
    )?;
    writeln!(out, "| SNI | {} |", cell(c.sni.as_deref().unwrap_or("-")))?;
    writeln!(
        out,
        "| ALPN | {}{} |",
        cell(
            &c.alpn
                .as_ref()
                .map(|a| a.join(", "))
                .unwrap_or_else(|| "-".into())
        ),
        c.alpn_selected
            .as_ref()
            .map(|a| format!(" → {}", cell(a)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "| handshake | {} — {} |",
        outcome_label(c.handshake),
        cell(&c.outcome_reason)
    )?;
    writeln!(out, "| verdict | {} |", cell(&c.verdict))?;
    if let Some(role) = role_text(c) {
        writeln!(out, "| role | {} |", cell(&role))?;
    }
    if let Some(t) = tunnel_text(c) {
        writeln!(out, "| tunnel | {} |", cell(&t))?;
    }
    if let Some(p) = proxy_text(c) {
        writeln!(out, "| proxy | {} |", cell(&p))?;
    }
    if let Some(h) = hrr_text(c) {
        writeln!(out, "| HelloRetryRequest | {} |", cell(&h))?;
    }
    if let Some(k) = keys_text(c) {
        writeln!(out, "| keys | {} |", cell(&k))?;
    }
    if let Some(h) = http_text(c) {
        writeln!(out, "| HTTP | {} |", cell(&h))?;
    }
    if let Some(cr) = &c.certificate_request {
        writeln!(
            out,
            "| client certificate requested | acceptable CAs: {} |",
            cell(&list_or_dash(&cr.ca_names))
        )?;
    }
    for a in &c.alerts {
        writeln!(out, "| alert | {} |", cell(&alert_text(a)))?;
    }
    for g in &c.gaps {
        writeln!(out, "| gap | {} |", cell(&gap_text(g)))?;
    }
    for t in &c.truncated_certificate_messages {
        writeln!(out, "| incomplete chain | {} |", cell(&truncation_text(t)))?;
    }
    writeln!(out)?;
    write_certificates(c, out)?;
    // A failed or suspicious handshake drawn (GitHub and GitLab render Mermaid).
    if super::diagram::worth_drawing(c) {
        writeln!(out, "The handshake:\n\n{}", super::diagram::mermaid(c))?;
    }
    let inferred = inference_lines(c);
    if !inferred.is_empty() {
        writeln!(
            out,
            "Inferred from encrypted record lengths (not a match):\n"
        )?;
        for l in inferred {
            writeln!(out, "- {}", cell(&l))?;
        }
        writeln!(out)?;
    }
    write_findings(c, out)?;
    if layout.with_local {
        let lines: Vec<String> = local_file_lines(c)
            .into_iter()
            .chain(c.candidates_not_presented.iter().map(candidate_line))
            .collect();
        if !lines.is_empty() {
            writeln!(out, "Local files:\n")?;
            for l in lines {
                writeln!(out, "- {}", cell(&l))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Each side's certificates as a table (or why there are none).
fn write_certificates(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
    for (side, certs, label) in [
        (Side::Server, &c.server_certificates, "Server"),
        (Side::Client, &c.client_certificates, "Client"),
    ] {
        match certs {
            Some(v) if !v.is_empty() => {
                writeln!(out, "{label} certificates:\n")?;
                writeln!(
                    out,
                    "| # | subject | issuer | serial | valid | key | EKU | SAN | sha256 |"
                )?;
                writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
                for (i, cert) in v.iter().enumerate() {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        i,
                        cell(cert.subject.as_deref().unwrap_or("(unparsable)")),
                        cell(cert.issuer.as_deref().unwrap_or("")),
                        code(cert.serial.as_deref().unwrap_or("")),
                        cell(&validity(cert)),
                        cell(cert.public_key.as_deref().unwrap_or("")),
                        cell(&list_or_dash(&cert.extended_key_usage)),
                        cell(&list_or_dash(&cert.san)),
                        code(&cert.sha256)
                    )?;
                }
                writeln!(out)?;
            }
            _ => {
                if let Some(text) = chain_absence(certs, c, side) {
                    writeln!(out, "{label}: {}\n", cell(&text))?;
                }
            }
        }
    }
    Ok(())
}

/// The findings, with when, what is logged and the evidence.
fn write_findings(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
    if !c.findings.is_empty() {
        writeln!(out, "Findings:\n")?;
        for f in &c.findings {
            writeln!(
                out,
                "- **{}** `{}` ({}): {}",
                crate::diagnose::severity_word(f.severity),
                f.code,
                cell(&f.subject),
                cell(&f.message)
            )?;
            if let Some(w) = when_text(f) {
                writeln!(out, "  - when: {w}")?;
            }
            if let Some(l) = &f.logged_as {
                writeln!(out, "  - logged as: {}", code(l))?;
            }
            for e in &f.evidence {
                writeln!(out, "  - {}", cell(e))?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}
