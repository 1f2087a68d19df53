//! `certwire node`'s report in every format: table (terminal, fitted to its width), JSON,
//! JSON Lines (one record per certificate and per probe, then a summary: what a log
//! pipeline wants from a DaemonSet), Markdown and HTML.

use std::io::Write;

use serde::Serialize;

use super::model::{NodeCert, NodeReport, ProbeReport};
use crate::diagnose::{severity_word, Finding};
use crate::error::OutputError;
use crate::report::Format;

pub fn write(report: &NodeReport, format: Format, out: &mut dyn Write) -> Result<(), OutputError> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Jsonl => jsonl(report, out)?,
        Format::Table => table(report, out)?,
        Format::Markdown => markdown(report, out)?,
        Format::Html => html(report, out)?,
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    record: &'static str,
    at: &'a str,
    #[serde(flatten)]
    item: &'a T,
}

fn jsonl(r: &NodeReport, out: &mut dyn Write) -> Result<(), OutputError> {
    for c in &r.certificates {
        serde_json::to_writer(
            &mut *out,
            &Line {
                record: "certificate",
                at: &r.at,
                item: c,
            },
        )?;
        writeln!(out)?;
    }
    for p in &r.probes {
        serde_json::to_writer(
            &mut *out,
            &Line {
                record: "probe",
                at: &r.at,
                item: p,
            },
        )?;
        writeln!(out)?;
    }
    #[derive(Serialize)]
    struct Summary<'a> {
        certwire: &'a crate::model::Meta,
        command: &'static str,
        root: &'a Option<String>,
        findings: &'a [Finding],
        summary: &'a super::model::NodeSummary,
        notices: &'a [String],
        problems: &'a [crate::local::Problem],
    }
    serde_json::to_writer(
        &mut *out,
        &Line {
            record: "summary",
            at: &r.at,
            item: &Summary {
                certwire: &r.certwire,
                command: r.command,
                root: &r.root,
                findings: &r.findings,
                summary: &r.summary,
                notices: &r.notices,
                problems: &r.problems,
            },
        },
    )?;
    writeln!(out)?;
    Ok(())
}

/// The file below the node's root, and the kubeconfig user or cluster without the field.
fn short(root: Option<&str>, c: &NodeCert) -> String {
    let path = root
        .and_then(|r| c.path.strip_prefix(r))
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(&c.path);
    match c.entry.as_deref() {
        Some(e) if e.starts_with("users[") || e.starts_with("clusters[") => {
            format!(
                "{path}#{}",
                e.split(".client-certificate")
                    .next()
                    .unwrap_or(e)
                    .split(".certificate-authority")
                    .next()
                    .unwrap_or(e)
            )
        }
        _ => crate::local::location(path, &c.entry),
    }
}

fn cert_lines(root: Option<&str>, c: &NodeCert) -> (String, String) {
    (
        format!(
            "{}  {}",
            short(root, c),
            if c.roles.is_empty() {
                "(not used)".to_string()
            } else {
                c.roles.join(", ")
            }
        ),
        format!(
            "{}, until {} ({} days)",
            c.subject.as_deref().unwrap_or("(unparsable)"),
            c.not_after.as_deref().unwrap_or("?"),
            c.days_left.map_or("?".to_string(), |d| d.to_string())
        ),
    )
}

fn finding_line(f: &Finding) -> String {
    format!(
        "[{}] {} ({}): {}",
        severity_word(f.severity),
        f.code,
        f.subject,
        f.message
    )
}

fn probe_line(p: &ProbeReport) -> String {
    match &p.error {
        Some(e) if p.served_sha256.is_none() => format!("{} ({}): {e}", p.endpoint, p.role),
        _ => format!(
            "{} ({}): serves {} (sha256 {}…){}{}",
            p.endpoint,
            p.role,
            p.served_subject.as_deref().unwrap_or("?"),
            p.served_sha256
                .as_deref()
                .map_or("?", |s| &s[..16.min(s.len())]),
            match (&p.configured, &p.configured_sha256, &p.served_sha256) {
                (Some(f), Some(a), Some(b)) if a == b => format!(", the configured {f}"),
                (Some(f), _, _) => format!(", NOT the configured {f}"),
                _ => String::new(),
            },
            p.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
    }
}

fn table(r: &NodeReport, out: &mut dyn Write) -> Result<(), OutputError> {
    let mut fitted;
    let out: &mut dyn Write = match crate::report::fit::terminal_width() {
        Some(w) => {
            fitted = crate::report::fit::Fit::new(out, w);
            &mut fitted
        }
        None => out,
    };
    writeln!(
        out,
        "node {}: {} certificate(s) at {}",
        r.root.as_deref().unwrap_or("/"),
        r.certificates.len(),
        r.at
    )?;
    for c in &r.certificates {
        let (first, second) = cert_lines(r.root.as_deref(), c);
        writeln!(out, "  {first}\n      {second}")?;
        for f in &c.findings {
            writeln!(out, "      {}", finding_line(f))?;
        }
    }
    let others: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| {
            !r.certificates.iter().any(|c| {
                c.findings
                    .iter()
                    .any(|g| g.code == f.code && g.subject == f.subject)
            })
        })
        .collect();
    if !others.is_empty() {
        writeln!(out, "other findings:")?;
        for f in others {
            writeln!(out, "  {}", finding_line(f))?;
        }
    }
    if !r.probes.is_empty() {
        writeln!(out, "served (--probe):")?;
        for p in &r.probes {
            writeln!(out, "  {}", probe_line(p))?;
        }
    }
    for p in &r.problems {
        writeln!(out, "problem: {}: {}", p.path, p.reason)?;
    }
    for n in &r.notices {
        writeln!(out, "{n}")?;
    }
    let s = &r.summary;
    let codes: Vec<String> = s.findings.iter().map(|(c, n)| format!("{c} {n}")).collect();
    writeln!(
        out,
        "findings: {} error(s), {} warning(s){}",
        s.errors,
        s.warnings,
        if codes.is_empty() {
            String::new()
        } else {
            format!("; by code: {}", codes.join(", "))
        }
    )?;
    out.flush()?;
    Ok(())
}

fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

fn markdown(r: &NodeReport, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(
        out,
        "# certwire node report\n\nNode `{}`, at {}.\n",
        r.root.as_deref().unwrap_or("/"),
        r.at
    )?;
    writeln!(
        out,
        "| file | roles | subject | not after | days | findings |\n|---|---|---|---|---|---|"
    )?;
    for c in &r.certificates {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            crate::local::location(&c.path, &c.entry).replace('`', "'"),
            md(&c.roles.join(", ")),
            md(c.subject.as_deref().unwrap_or("")),
            c.not_after.as_deref().unwrap_or("?"),
            c.days_left.map_or("?".to_string(), |d| d.to_string()),
            md(&c
                .findings
                .iter()
                .map(|f| f.code)
                .collect::<Vec<_>>()
                .join(", "))
        )?;
    }
    writeln!(out, "\n## Findings\n")?;
    for f in &r.findings {
        writeln!(out, "- {}", md(&finding_line(f)))?;
    }
    if !r.probes.is_empty() {
        writeln!(out, "\n## Served (--probe)\n")?;
        for p in &r.probes {
            writeln!(out, "- {}", md(&probe_line(p)))?;
        }
    }
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(r: &NodeReport, out: &mut dyn Write) -> Result<(), OutputError> {
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>certwire node report</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}}code{{overflow-wrap:anywhere}}.error{{color:#b00020}}.warning{{color:#a15c00}}</style></head><body>")?;
    writeln!(
        out,
        "<h1>certwire node report</h1><p>Node <code>{}</code>, at {}.</p>",
        esc(r.root.as_deref().unwrap_or("/")),
        esc(&r.at)
    )?;
    writeln!(out, "<table><tr><th>file</th><th>roles</th><th>subject</th><th>not after</th><th>days</th><th>findings</th></tr>")?;
    for c in &r.certificates {
        writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&crate::local::location(&c.path, &c.entry)),
            esc(&c.roles.join(", ")),
            esc(c.subject.as_deref().unwrap_or("")),
            esc(c.not_after.as_deref().unwrap_or("?")),
            c.days_left.map_or("?".to_string(), |d| d.to_string()),
            esc(&c.findings.iter().map(|f| f.code).collect::<Vec<_>>().join(", "))
        )?;
    }
    writeln!(out, "</table><h2>Findings</h2><ul>")?;
    for f in &r.findings {
        let sev = severity_word(f.severity);
        writeln!(
            out,
            "<li><span class=\"{}\">{sev}</span> <code>{}</code> ({}): {}</li>",
            sev.to_ascii_lowercase(),
            f.code,
            esc(&f.subject),
            esc(&f.message)
        )?;
    }
    writeln!(out, "</ul>")?;
    if !r.probes.is_empty() {
        writeln!(out, "<h2>Served (--probe)</h2><ul>")?;
        for p in &r.probes {
            writeln!(out, "<li>{}</li>", esc(&probe_line(p)))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</body></html>")?;
    Ok(())
}
