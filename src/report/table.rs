//! The terminal format: a header per connection, a table of the certificates each side
//! presented, and a summary.

use std::io::Write;

use comfy_table::{presets, ContentArrangement, Table};

use super::fit::Fit;
use super::model::*;
use super::spool::{Part, Spool};
use super::text::*;
use super::Layout;
use crate::error::OutputError;

pub fn write_table(
    report: &Report,
    spool: &mut Spool,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let layout = *spool.layout();
    let mut fitted;
    let out: &mut dyn Write = match layout.width {
        Some(w) => {
            fitted = Fit::new(out, w);
            &mut fitted
        }
        None => out,
    };
    write_overview(report, &layout, out)?;
    if !layout.summary_only {
        let header = |g: &GroupReport, out: &mut dyn Write| -> Result<(), OutputError> {
            writeln!(out, "── {}", group_title(g))?;
            Ok(())
        };
        spool.write(Part::Detail, b"", Some(&header), out)?;
    }
    write_footer(report, out)?;
    out.flush()?;
    Ok(())
}

/// One line per group: count, verdict, who → whom, role, which file; cut to the width
/// (the group's detail and the JSON have everything).
pub fn write_overview(
    report: &Report,
    layout: &Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    if report.groups.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{} group(s) of connections that tell the same story:",
        report.groups.len()
    )?;
    for g in &report.groups {
        // Verdict and finding code, who → whom, role, then which file, shortened in the
        // middle to what room is left (its name is what matters).
        let verdict = g
            .verdict
            .split_once(':')
            .map_or(g.verdict.as_str(), |(v, _)| v);
        let role = group_role_text(g);
        let client_role = role.split(" → ").next().unwrap_or("-");
        let head = format!(
            "{:>4} {:>4}×  {}  {} → {}  {}  ",
            format!("g{}", g.group),
            g.count,
            verdict,
            group_client(g),
            g.server,
            client_role,
        );
        let file = g.local_file.as_deref().unwrap_or("in no file");
        let room = layout
            .width
            .map(|w| w.saturating_sub(head.chars().count()))
            .filter(|r| *r >= 12);
        let line = match room {
            Some(r) => format!("{head}{}", short_path(file, r)),
            None => format!("{head}{file}"),
        };
        writeln!(out, "{}", cut(&line, layout.width))?;
    }
    writeln!(out)?;
    Ok(())
}

/// `line` cut to `width` characters, with an ellipsis.
fn cut(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if line.chars().count() > w => {
            let mut s: String = line.chars().take(w.saturating_sub(1)).collect();
            s.push('…');
            s
        }
        _ => line.to_string(),
    }
}

/// The end of a streamed table: the groups' overview, then the footer.
pub fn write_stream_end(
    report: &Report,
    layout: &Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let mut fitted;
    let out: &mut dyn Write = match layout.width {
        Some(w) => {
            fitted = Fit::new(out, w);
            &mut fitted
        }
        None => out,
    };
    writeln!(out)?;
    write_overview(report, layout, out)?;
    write_footer(report, out)?;
    out.flush()?;
    Ok(())
}

/// A connection like an earlier one, said in one line (streaming output).
pub fn write_repeat(
    c: &ConnectionReport,
    g: &GroupReport,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(
        out,
        "#{}  {} → {}  {}: same as #{} (group {}, {} so far)",
        c.id, c.client, c.server, c.first_seen, g.representative, g.group, g.count
    )?;
    Ok(())
}

/// `with_local`: local certificate files were searched, so say where each certificate
/// came from (or that it is in none).
pub fn write_connection(
    c: &ConnectionReport,
    layout: &Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    writeln!(
        out,
        "#{}  {} → {}  TLS {}  {}",
        c.id,
        c.client,
        c.server,
        c.tls_version.unwrap_or("?"),
        c.cipher_suite.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "    {}  ·  SNI {}  ·  ALPN {}{}  ·  packet {}",
        c.first_seen,
        c.sni.as_deref().unwrap_or("-"),
        c.alpn
            .as_ref()
            .map(|a| a.join(","))
            .unwrap_or_else(|| "-".into()),
        c.alpn_selected
            .as_ref()
            .map(|a| format!(" → {a}"))
            .unwrap_or_default(),
        c.first_packet
    )?;
    writeln!(
        out,
        "    handshake: {} ({})",
        outcome_label(c.handshake),
        c.outcome_reason
    )?;
    writeln!(out, "    verdict: {}", c.verdict)?;
    if let Some(role) = role_text(c) {
        writeln!(out, "    role: {role}")?;
    }
    if let Some(t) = tunnel_text(c) {
        writeln!(out, "    tunnel: {t}")?;
    }
    if let Some(p) = proxy_text(c) {
        writeln!(out, "    proxy: {p}")?;
    }
    if let Some(h) = hrr_text(c) {
        writeln!(out, "    HelloRetryRequest: {h}")?;
    }
    if let Some(k) = keys_text(c) {
        writeln!(out, "    keys: {k}")?;
    }
    if let Some(h) = http_text(c) {
        writeln!(out, "    HTTP: {h}")?;
    }
    for a in &c.alerts {
        writeln!(out, "    alert  {}", alert_text(a))?;
    }
    if let Some(cr) = &c.certificate_request {
        writeln!(
            out,
            "    server requested a client certificate; acceptable CAs: {}",
            list_or_dash(&cr.ca_names)
        )?;
    }
    for g in &c.gaps {
        writeln!(out, "    gap    {}", gap_text(g))?;
    }
    for t in &c.truncated_certificate_messages {
        writeln!(out, "    ! {}", truncation_text(t))?;
    }
    for n in &c.notes {
        writeln!(out, "    note   {n}")?;
    }
    // On a terminal narrower than the table, one certificate per block of lines.
    if layout.width.is_some_and(|w| w < WIDE_TABLE) {
        write_cert_blocks(c, out)?;
    } else {
        write_cert_table(c, layout, out)?;
    }
    write_connection_end(c, layout, out)
}

/// The certificate table needs about this many columns to be read without wrapping.
const WIDE_TABLE: usize = 160;
/// SANs listed in a narrow block (all of them are in the JSON, Markdown and HTML).
const SANS_SHOWN: usize = 4;

fn write_cert_blocks(c: &ConnectionReport, out: &mut dyn Write) -> Result<(), OutputError> {
    for (side, certs, label) in [
        (Side::Server, &c.server_certificates, "server"),
        (Side::Client, &c.client_certificates, "client"),
    ] {
        match certs {
            Some(v) if !v.is_empty() => {
                for (i, cert) in v.iter().enumerate() {
                    let head = format!("{label}[{i}]");
                    let Some(subject) = &cert.subject else {
                        writeln!(
                            out,
                            "    {head:<11}unparsable: {}",
                            cert.error.as_deref().unwrap_or("")
                        )?;
                        continue;
                    };
                    writeln!(out, "    {head:<11}{subject}")?;
                    let pad = " ".repeat(15);
                    let mut usage = vec![cert.public_key.clone().unwrap_or_default()];
                    if cert.is_ca == Some(true) {
                        usage.push("CA".into());
                    }
                    usage.extend(cert.extended_key_usage.iter().cloned());
                    let mut sans: Vec<String> = cert.san.iter().take(SANS_SHOWN).cloned().collect();
                    if cert.san.len() > SANS_SHOWN {
                        sans.push(format!("… (+{} more)", cert.san.len() - SANS_SHOWN));
                    }
                    for (k, v) in [
                        ("issuer", cert.issuer.clone().unwrap_or_default()),
                        ("serial", cert.serial.clone().unwrap_or_else(|| "-".into())),
                        ("sha256", cert.sha256.clone()),
                        ("valid", validity(cert)),
                        ("key", usage.join(", ")),
                        (
                            "SAN",
                            if sans.is_empty() {
                                "-".into()
                            } else {
                                sans.join(", ")
                            },
                        ),
                    ] {
                        writeln!(out, "{pad}{k:<7}{v}")?;
                    }
                }
            }
            _ => {
                if let Some(text) = chain_absence(certs, c, side) {
                    writeln!(out, "    {label}: {text}")?;
                }
            }
        }
    }
    Ok(())
}

fn write_cert_table(
    c: &ConnectionReport,
    layout: &Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let mut table = Table::new();
    if let Some(w) = layout.width {
        // The table is indented by 4.
        table.set_width(w.saturating_sub(4) as u16);
    }
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "cert",
            "subject / issuer",
            "serial / sha256",
            "valid",
            "key / usage",
            "SAN",
        ]);
    let mut rows = 0;
    for (side, certs, label) in [
        (Side::Server, &c.server_certificates, "server"),
        (Side::Client, &c.client_certificates, "client"),
    ] {
        match certs {
            Some(v) if !v.is_empty() => {
                for (i, cert) in v.iter().enumerate() {
                    rows += 1;
                    let who = match (&cert.subject, &cert.issuer) {
                        (Some(s), Some(i)) => format!("{s}\n← {i}"),
                        _ => format!("unparsable: {}", cert.error.as_deref().unwrap_or("")),
                    };
                    let mut usage = vec![cert.public_key.clone().unwrap_or_default()];
                    if cert.is_ca == Some(true) {
                        usage.push("CA".into());
                    }
                    usage.extend(cert.extended_key_usage.iter().cloned());
                    table.add_row(vec![
                        format!("{label}[{i}]"),
                        who,
                        format!("{}\n{}", cert.serial.as_deref().unwrap_or("-"), cert.sha256),
                        match (&cert.not_before, &cert.not_after) {
                            (Some(a), Some(b)) => format!("{a}\n{b}"),
                            _ => "-".into(),
                        },
                        usage.join("\n"),
                        if cert.san.is_empty() {
                            "-".into()
                        } else {
                            cert.san.join("\n")
                        },
                    ]);
                }
            }
            _ => {
                if let Some(text) = chain_absence(certs, c, side) {
                    writeln!(out, "    {label}: {text}")?;
                }
            }
        }
    }
    if rows > 0 {
        for line in table.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

/// Local files, inferences and findings.
fn write_connection_end(
    c: &ConnectionReport,
    layout: &Layout,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    if layout.with_local {
        for line in local_file_lines(c) {
            writeln!(out, "    {line}")?;
        }
        for cand in &c.candidates_not_presented {
            writeln!(out, "    {}", candidate_line(cand))?;
        }
    }
    for line in inference_lines(c) {
        writeln!(out, "    {line}")?;
    }
    for f in &c.findings {
        for line in finding_lines(f) {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

pub fn write_footer(report: &Report, out: &mut dyn Write) -> Result<(), OutputError> {
    for w in &report.warnings {
        let at = match (w.packet, w.offset) {
            (Some(p), Some(o)) => format!(" (packet {p}, byte {o})"),
            (Some(p), None) => format!(" (packet {p})"),
            (None, Some(o)) => format!(" (byte {o})"),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "{}: {}{}: {}",
            w.level.as_str(),
            w.input,
            at,
            w.message
        )?;
    }
    let s = &report.summary;
    let inputs: Vec<String> = report
        .inputs
        .iter()
        .map(|i| {
            format!(
                "{} ({}, {}, {} packets)",
                i.path,
                i.format.unwrap_or("unreadable"),
                if i.link_types.is_empty() {
                    "-".to_string()
                } else {
                    i.link_types.join("/")
                },
                i.packets
            )
        })
        .collect();
    writeln!(
        out,
        "{} connection(s): {} completed, {} failed, {} incomplete, {} unknown (encrypted: {}, with capture gaps: {}) in {}",
        s.connections,
        s.completed,
        s.failed,
        s.incomplete,
        s.unknown,
        s.encrypted,
        s.with_gaps,
        inputs.join("; ")
    )?;
    writeln!(out, "findings: {}", findings_summary(s))?;
    for line in notice_lines(report).into_iter().chain(input_lines(report)) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
