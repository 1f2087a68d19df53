//! JSON Lines, default and compact (issue 17): the default form, written field by field, is
//! serde_json's byte for byte; the compact form (`--jsonl-compact`) says exactly what the
//! default one says, certificates once, in lines under 16 KiB.

mod common;

use std::collections::BTreeMap;

use common::{certwire, root};
use serde_json::{Map, Value};

/// Every shipped capture, with its key log when there is one (so that decrypted TLS 1.3
/// chains are in the output too).
fn captures() -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_str()?.to_string();
            let capture =
                name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".pcap.gz");
            let keys = format!("keylogs/{name}.keys");
            capture.then(|| {
                let has = root().join(&keys).exists();
                (name, has.then_some(keys))
            })
        })
        .collect();
    v.sort();
    assert!(v.len() >= 40, "shipped captures: {}", v.len());
    v
}

fn lines(args: &[&str]) -> Vec<String> {
    let out = certwire(args);
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "certwire {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The compact stream's connections with each SHA-256 replaced by its certificate record
/// and the certificate's `local_files` put back: the default form's connections.
fn expand(compact: &[String]) -> (Vec<Value>, Option<Value>, usize) {
    let mut certs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let (mut conns, mut summary, mut records) = (Vec::new(), None, 0);
    for line in compact {
        let mut v: Map<String, Value> = serde_json::from_str(line).unwrap();
        match v["record"].as_str().unwrap() {
            "certificate" => {
                records += 1;
                v.remove("record");
                let sha = v["sha256"].as_str().unwrap().to_string();
                assert!(
                    !certs.contains_key(&sha),
                    "certificate {sha} written twice below the cap"
                );
                certs.insert(sha, v);
            }
            "connection" => {
                for side in ["server", "client"] {
                    let local = v.remove(&format!("{side}_local_files")).unwrap();
                    let chain = &v[&format!("{side}_certificates")];
                    let expanded = match chain {
                        Value::Null => {
                            assert!(local.is_null(), "{side}: local files without a chain");
                            Value::Null
                        }
                        Value::Array(shas) => {
                            let local = local.as_array().unwrap();
                            assert_eq!(local.len(), shas.len(), "{side}: one local_files each");
                            Value::Array(
                                shas.iter()
                                    .zip(local)
                                    .map(|(sha, files)| {
                                        let sha = sha.as_str().expect("a SHA-256 string");
                                        let mut c = certs
                                            .get(sha)
                                            .unwrap_or_else(|| {
                                                panic!("{sha} named before its certificate record")
                                            })
                                            .clone();
                                        c.insert("local_files".into(), files.clone());
                                        Value::Object(c)
                                    })
                                    .collect(),
                            )
                        }
                        other => panic!("{side}_certificates: {other}"),
                    };
                    v.insert(format!("{side}_certificates"), expanded);
                }
                conns.push(Value::Object(v));
            }
            "summary" => summary = Some(Value::Object(v)),
            other => panic!("unknown record {other}"),
        }
    }
    (conns, summary, records)
}

fn split(default: &[String]) -> (Vec<Value>, Option<Value>) {
    let mut conns = Vec::new();
    let mut summary = None;
    for line in default {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["record"].as_str().unwrap() {
            "connection" => conns.push(v),
            "summary" => summary = Some(v),
            other => panic!("default form: record {other}"),
        }
    }
    (conns, summary)
}

#[test]
fn compact_expands_to_exactly_the_default_connections_in_lines_under_16_kib() {
    let mut connections = 0;
    let mut certificate_records = 0;
    for (capture, keys) in captures() {
        let mut args = vec!["analyze", &capture, "-f", "jsonl", "--root", "node"];
        if let Some(k) = &keys {
            args.extend(["--keylog", k]);
        }
        // One capture with the DER too: it goes into the certificate record.
        if capture == "kubelet-rotated-tls12.pcap" {
            args.push("--include-der");
        }
        let default = lines(&args);
        args.push("--jsonl-compact");
        let compact = lines(&args);
        for l in &compact {
            assert!(
                l.len() < 16 * 1024,
                "{capture}: a compact line of {} bytes: {}…",
                l.len(),
                &l[..200]
            );
        }
        let (want, want_summary) = split(&default);
        let (got, got_summary, records) = expand(&compact);
        assert_eq!(got.len(), want.len(), "{capture}: connections");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{capture}: connection {}", w["id"]);
        }
        assert_eq!(got_summary, want_summary, "{capture}: the summary record");
        let distinct: std::collections::BTreeSet<&str> = want
            .iter()
            .flat_map(|c| {
                ["server_certificates", "client_certificates"]
                    .into_iter()
                    .flat_map(move |s| c[s].as_array().into_iter().flatten())
            })
            .map(|c| c["sha256"].as_str().unwrap())
            .collect();
        assert_eq!(
            records,
            distinct.len(),
            "{capture}: one record per certificate"
        );
        if capture == "kubelet-rotated-tls12.pcap" {
            assert!(compact[0].contains("\"der_base64\":"), "{}", compact[0]);
        }
        connections += want.len();
        certificate_records += records;
    }
    assert!(connections >= 80, "connections compared: {connections}");
    assert!(
        certificate_records >= 20,
        "certificates: {certificate_records}"
    );
}

#[test]
fn compact_is_only_a_form_of_json_lines() {
    for format in ["table", "json", "markdown", "html"] {
        let out = certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "-f",
            format,
            "--jsonl-compact",
        ]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(out.stdout.is_empty(), "{format}: nothing written");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--format jsonl"),
            "{format}"
        );
    }
}

/// Past the cap on the certificates remembered, a certificate is written again before the
/// next connection that names it: never named without a record before it.
#[test]
fn past_the_cap_certificates_are_written_again_never_left_out() {
    use certwire::analyze::{Analyzer, Options};
    use certwire::report::jsonl::JsonlWriter;
    let bytes = std::fs::read(root().join("kubelet-rotated-tls12.pcap")).unwrap();
    let mut reports = Vec::new();
    let mut analyzer = Analyzer::new(&Options::default());
    for round in 0..3 {
        analyzer.analyze_reader(
            &format!("round{round}"),
            std::io::Cursor::new(bytes.clone()),
            &mut |c| reports.push(c),
        );
    }
    assert_eq!(reports.len(), 6);
    for cap in [1, 2, 3, 100] {
        let mut w = JsonlWriter::compact().with_compact_cap(cap);
        let mut out = Vec::new();
        for c in &reports {
            w.render(c, &mut out).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        // Checked as a stream: every SHA-256 a connection names was written before it
        // (expand panics otherwise); below the cap, only once.
        let mut seen = std::collections::BTreeSet::new();
        let mut records = 0;
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            match v["record"].as_str().unwrap() {
                "certificate" => {
                    records += 1;
                    seen.insert(v["sha256"].as_str().unwrap().to_string());
                }
                _ => {
                    for side in ["server_certificates", "client_certificates"] {
                        for sha in v[side].as_array().into_iter().flatten() {
                            assert!(seen.contains(sha.as_str().unwrap()), "cap {cap}: {sha}");
                        }
                    }
                }
            }
        }
        // 4 distinct: the apiserver's, the CA, the kubelet's and kubectl's client certificates.
        let distinct = seen.len();
        if cap >= distinct {
            assert_eq!(records, distinct, "cap {cap}");
        } else {
            assert!(records > distinct, "cap {cap}: {records} records");
        }
    }
}

/// The default form as analyze writes it (field by field, each certificate's JSON kept)
/// is byte for byte what serde_json writes for the model: on every shipped capture, with
/// the node's files (local matches, candidates), key logs and the DER.
#[test]
fn default_form_is_byte_for_byte_serde_json() {
    use certwire::analyze::{Analyzer, Options};
    use certwire::local::{scan, ScanOptions};
    use certwire::report::json::write_jsonl_connection;
    use certwire::report::jsonl::JsonlWriter;
    let inventory = std::sync::Arc::new(scan(&ScanOptions {
        paths: Vec::new(),
        root: Some(root().join("node")),
        defaults: true,
    }));
    assert!(!inventory.certs.is_empty());
    let mut compared = 0;
    for include_der in [false, true] {
        // One writer for every capture: its certificate cache is shared as in a long run.
        let mut writer = JsonlWriter::default();
        for (capture, keys) in captures() {
            let mut analyzer = Analyzer::new(&Options::default());
            analyzer.set_inventory(inventory.clone());
            analyzer.include_der = include_der;
            if let Some(k) = keys {
                analyzer.add_keylog_text(&std::fs::read_to_string(root().join(k)).unwrap());
            }
            let bytes = std::fs::read(root().join(&capture)).unwrap();
            let mut reports = Vec::new();
            analyzer.analyze_reader(&capture, std::io::Cursor::new(bytes), &mut |c| {
                reports.push(c)
            });
            for (i, mut c) in reports.into_iter().enumerate() {
                c.id = i + 1;
                let mut want = Vec::new();
                write_jsonl_connection(&c, &mut want).unwrap();
                let mut got = Vec::new();
                writer.connection(&c, &mut got).unwrap();
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "{capture} #{}, include_der {include_der}",
                    i + 1
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 160, "connections compared: {compared}");
}
