//! Sequence diagrams (src/report/diagram.rs) for every connection of every shipped capture,
//! checked by real parsers: Mermaid's own (the `mermaid` npm package under node, with jsdom
//! for a DOM), which must read back exactly the participants, messages and notes certwire
//! meant and no directive; and an XML parser for the SVG (well-formed, only the elements the
//! renderer writes, no script, no event handler, no external reference). Hostile variants (a
//! subject, SNI, ALPN, CA names, a proxy target made of Mermaid, HTML and bidi syntax) go
//! through the same checks.
//!
//! The node tool is tools/mermaid-check/ (package.json with a lock file); it is installed
//! with `npm ci` into target/mermaid-check/ once. Without node and npm, or when `npm ci`
//! fails (no registry), the parser check prints `SKIPPED: <reason>` and the structural
//! checks alone run; with CERTWIRE_REQUIRE_MERMAID_CHECK=1 a skip fails the test instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use certwire::analyze::{Analyzer, Options};
use certwire::local::{scan, ScanOptions};
use certwire::model::{ConnectionReport, Handshake, Visibility};
use certwire::report::diagram::{self, Step};
use common::root;
use serde_json::{json, Value};

/// Every connection of every capture: once as the README's command reads it (default
/// ports, the node's files), once with --any-port and the capture's key log, if any.
fn connections() -> Vec<(String, ConnectionReport)> {
    let inv = Arc::new(scan(&ScanOptions {
        paths: Vec::new(),
        root: Some(root().join("node")),
        defaults: true,
    }));
    let mut names: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_str()?.to_string();
            (n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".pcap.gz")).then_some(n)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    let mut out = Vec::new();
    for name in &names {
        let keys = std::fs::read_to_string(root().join(format!("keylogs/{name}.keys"))).ok();
        for with_keys in [false, true] {
            let mut analyzer = Analyzer::new(&Options {
                any_port: with_keys,
                ..Default::default()
            });
            analyzer.set_inventory(inv.clone());
            if let (true, Some(k)) = (with_keys, &keys) {
                analyzer.add_keylog_text(k);
            }
            let path = root().join(name);
            let label = format!("{name}{}", if with_keys { " (keys)" } else { "" });
            analyzer.analyze_input(path.to_str().unwrap(), &mut |c| {
                out.push((format!("{label} #{} {}", c.id, c.client), c))
            });
        }
    }
    out
}

const HOSTILE: &str = "a;b#c<img src=x onerror=alert(1)>\n%%{init: {\"securityLevel\": \"loose\"}}%% \
    -->> S-xC: forged end\r\n}{ $$x$$ `code` &amp; \"q\" 'q' \\ \u{202e}exe.png \u{200b}\u{0}\u{1b}[31m #lt; #59; end";

/// A connection with capture-controlled values replaced by hostile ones.
fn hostile(c: &ConnectionReport) -> ConnectionReport {
    let mut h = c.clone();
    h.sni = Some(HOSTILE.into());
    h.alpn = Some(vec![HOSTILE.into(), "h2".into()]);
    h.alpn_selected = Some(HOSTILE.into());
    let subject = |p: &certwire::model::PresentedCert, s: String| {
        let mut p = p.clone();
        let mut summary = (*p.cert).clone();
        summary.subject = Some(s);
        summary.error = None;
        p.cert = Arc::new(summary);
        p
    };
    for v in [&mut h.server_certificates, &mut h.client_certificates]
        .into_iter()
        .flatten()
    {
        for p in v.iter_mut() {
            *p = subject(p, format!("CN={HOSTILE},O={HOSTILE}"));
        }
    }
    if let Some(r) = &mut h.certificate_request {
        r.ca_names = vec![HOSTILE.into(), format!("CN={HOSTILE}"), "CN=x".into()];
    }
    if let Some(p) = &mut h.proxy {
        p.target = Some(HOSTILE.into());
        p.reply = Some(HOSTILE.into());
    }
    h.outcome_reason = HOSTILE.into();
    h.verdict = format!("ERROR x: {HOSTILE}");
    h
}

fn statement_ok(line: &str) -> bool {
    let l = line.trim_start();
    [
        "participant C as ",
        "participant S as ",
        "C->>S: ",
        "S->>C: ",
        "C-->>S: ",
        "S-->>C: ",
        "C-xS: ",
        "S-xC: ",
        "C--xS: ",
        "S--xC: ",
        "Note over C,S: ",
        "rect rgba(",
    ]
    .iter()
    .any(|p| l.starts_with(p))
        || l == "end"
}

/// What Mermaid must read back: the participants' labels and each step.
fn expectation(c: &ConnectionReport) -> Value {
    let s = diagram::sequence(c);
    let steps: Vec<Value> = s
        .steps
        .iter()
        .map(|st| match st {
            Step::Message { from, text, .. } => {
                let (f, t) = match from {
                    certwire::model::Side::Client => ("C", "S"),
                    certwire::model::Side::Server => ("S", "C"),
                };
                json!({"kind": "message", "from": f, "to": t, "text": text})
            }
            Step::Note { text, .. } => {
                json!({"kind": "note", "text": diagram::mermaid_note_lines(&s, text).join("\n")})
            }
        })
        .collect();
    json!({"actors": [s.client.label(), s.server.label()], "steps": steps})
}

/// Checks that need no parser: one statement per line, nothing forbidden in the SVG.
fn structural(name: &str, m: &str, svg: &str) {
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(lines.first(), Some(&"```mermaid"), "{name}");
    assert_eq!(lines.get(1), Some(&"sequenceDiagram"), "{name}");
    assert_eq!(lines.last(), Some(&"```"), "{name}");
    for l in &lines[2..lines.len() - 1] {
        assert!(statement_ok(l), "{name}: {l:?}\n{m}");
    }
    assert!(!m.contains("%%"), "{name}");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\""));
    // Text is escaped, so every '<' opens one of the renderer's own tags.
    for tag in svg.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap().trim_start_matches('/');
        let mut parts = tag.split_whitespace();
        let element = parts.next().unwrap_or("");
        assert!(
            ["svg", "title", "rect", "line", "text", "polygon", "path"].contains(&element),
            "{name}: <{element}> in the SVG"
        );
        // Attribute values are the renderer's numbers and colours (no spaces but in
        // points, d and font-family, whose parts are not attribute names).
        for attr in tag.split('"').step_by(2) {
            for word in attr.split_whitespace() {
                let Some(attr_name) = word.strip_suffix('=') else {
                    continue;
                };
                assert!(
                    !attr_name.to_ascii_lowercase().starts_with("on")
                        && !attr_name.contains("href")
                        && attr_name != "style",
                    "{name}: attribute {attr_name} in the SVG"
                );
            }
        }
        assert!(!tag.contains("url("), "{name}: url( in the SVG");
    }
}

#[test]
fn every_shipped_connection_draws_valid_diagrams() {
    let conns = connections();
    let mut cases: Vec<(String, ConnectionReport)> = Vec::new();
    // The kinds the diagrams must cover are all among the shipped captures.
    type Kind = (&'static str, fn(&ConnectionReport) -> bool);
    let kinds: [Kind; 7] = [
        ("failed", |c| c.handshake == Handshake::Failed),
        ("completed", |c| c.handshake == Handshake::Completed),
        ("encrypted TLS 1.3", |c| {
            c.visibility == Visibility::Encrypted
        }),
        ("decrypted TLS 1.3", |c| {
            c.visibility == Visibility::Decrypted
        }),
        ("alert from the client", |c| {
            c.alerts
                .iter()
                .any(|a| a.from == certwire::model::Side::Client)
        }),
        ("HTTP status", |c| c.http_response.is_some()),
        ("proxy", |c| c.proxy.is_some()),
    ];
    for (kind, pred) in kinds {
        assert!(conns.iter().any(|(_, c)| pred(c)), "no {kind} connection");
    }
    // Hostile variants of one connection of each kind.
    for (kind, pred) in kinds {
        let (name, c) = conns.iter().find(|(_, c)| pred(c)).unwrap();
        cases.push((format!("hostile {kind}: {name}"), hostile(c)));
    }
    cases.extend(conns);
    let drawn = cases
        .iter()
        .filter(|(_, c)| diagram::worth_drawing(c))
        .count();
    assert!(
        drawn > 10 && drawn < cases.len(),
        "{drawn} of {}",
        cases.len()
    );

    let dir = target_dir().join("diagram-check/out");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = Vec::new();
    for (i, (name, c)) in cases.iter().enumerate() {
        let m = diagram::mermaid(c);
        let svg = diagram::svg(c);
        structural(name, &m, &svg);
        std::fs::write(dir.join(format!("{i:04}.mmd")), &m).unwrap();
        std::fs::write(dir.join(format!("{i:04}.svg")), &svg).unwrap();
        manifest.push(json!({
            "name": name,
            "mermaid": format!("{i:04}.mmd"),
            "svg": format!("{i:04}.svg"),
            "expect": expectation(c),
        }));
    }
    let manifest_path = dir.join("manifest.json");
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    println!(
        "{} diagrams written to {} ({} worth drawing)",
        cases.len(),
        dir.display(),
        drawn
    );

    let checker = match install_checker() {
        Ok(dir) => dir,
        Err(why) => {
            let required = std::env::var_os("CERTWIRE_REQUIRE_MERMAID_CHECK")
                .is_some_and(|v| v != "0" && !v.is_empty());
            assert!(!required, "Mermaid check required but not possible: {why}");
            visible(&format!("SKIPPED: Mermaid and SVG parser check: {why}"));
            return;
        }
    };
    let out = Command::new("node")
        .arg(checker.join("check.mjs"))
        .arg(&manifest_path)
        .current_dir(&checker)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if let Some(last) = stdout.lines().last() {
        visible(&format!("diagrams: {last}"));
    }
    assert!(
        out.status.success(),
        "Mermaid/SVG check failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "{} of {} diagrams passed",
            cases.len(),
            cases.len()
        )),
        "{stdout}"
    );
    // xmllint, when there, as a second XML parser for the SVGs.
    if Command::new("xmllint").arg("--version").output().is_ok() {
        for (i, (name, _)) in cases.iter().enumerate() {
            let f = dir.join(format!("{i:04}.svg"));
            let o = Command::new("xmllint")
                .args(["--noout", "--nonet"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        println!("xmllint: {} SVGs well-formed", cases.len());
    } else {
        println!("xmllint not installed: SVGs checked by the node tool only");
    }
}

/// A line on the test process's stderr as it is, past the test harness's capture (which
/// only takes the print macros), so that `cargo test` shows it.
fn visible(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
            }
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// tools/mermaid-check installed in target/mermaid-check (npm ci, again only when the lock
/// file changed). Err: why it cannot be.
fn install_checker() -> Result<PathBuf, String> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/mermaid-check");
    for program in ["node", "npm"] {
        match Command::new(program).arg("--version").output() {
            Ok(o) if o.status.success() => {}
            _ => return Err(format!("{program} is not installed")),
        }
    }
    let dir = target_dir().join("mermaid-check");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = std::fs::read(tool.join("package-lock.json")).map_err(|e| e.to_string())?;
    for f in ["package.json", "package-lock.json", "check.mjs"] {
        std::fs::copy(tool.join(f), dir.join(f)).map_err(|e| format!("copy {f}: {e}"))?;
    }
    let stamp = dir.join("node_modules/.certwire-lock");
    if std::fs::read(&stamp).ok().as_deref() != Some(&lock[..]) {
        let o = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            return Err(format!(
                "npm ci failed in {} (registry unreachable?): {}",
                dir.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
        std::fs::write(&stamp, &lock).map_err(|e| e.to_string())?;
    }
    Ok(dir)
}
