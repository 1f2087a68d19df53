//! Integration tests: run the real `certwire` binary over the real captures in `captures/`
//! and compare with the expected values in `captures/expected/`, which were taken from
//! tshark and `openssl x509` when the captures were made (captures/tools/expected.py), never
//! from certwire.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

fn certwire_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run certwire");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn analyze_json(capture: &str) -> Value {
    let out = certwire(&["analyze", capture, "--format", "json"]);
    json_of(&out, capture)
}

/// Every expected-values file (one per capture).
fn expected_files() -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = std::fs::read_dir(root().join("expected"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            if !name.ends_with(".json")
                || name.ends_with(".decrypted.json")
                || name.ends_with(".records.json")
                // What the real programs did and logged (tests/behaviour.rs reads them).
                || name.ends_with(".outcome.json")
                // tshark's view of each connection's tunnel (tests/overlays.rs).
                || name.ends_with(".tunnels.json")
                || name.ends_with(".wg.json")
                || name == "files.json"
            {
                return None;
            }
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            Some((name, v))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 10, "expected files missing: {}", v.len());
    v
}

/// sha256 → file, for every certificate file under captures/ (openssl-made).
fn local_files() -> BTreeMap<String, String> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("expected/files.json")).unwrap())
            .unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (v["sha256"].as_str().unwrap().to_string(), k.clone()))
        .collect()
}

fn compare_certs(ctx: &str, exp: &Value, got: &Value, truncated: bool, problems: &mut Vec<String>) {
    let files = local_files();
    match (exp.as_array(), got.as_array()) {
        (Some(e), Some(g)) => {
            if e.len() != g.len() && !(truncated && g.len() >= e.len()) {
                problems.push(format!(
                    "{ctx}: {} certificates expected, {} reported",
                    e.len(),
                    g.len()
                ));
            }
            for (x, y) in e.iter().zip(g) {
                for k in [
                    "sha256",
                    "serial",
                    "subject",
                    "issuer",
                    "not_before",
                    "not_after",
                ] {
                    if x[k] != y[k] {
                        problems.push(format!("{ctx} {k}: expected {} got {}", s(&x[k]), s(&y[k])));
                    }
                }
            }
            for y in g.iter().skip(e.len()) {
                // Beyond what tshark could decode (a chain cut by a gap, which tshark
                // shows nothing of): each must be a whole, real certificate from the node.
                if !files.contains_key(y["sha256"].as_str().unwrap_or("")) {
                    problems.push(format!(
                        "{ctx}: reported certificate {} is not one of the files",
                        s(&y["sha256"])
                    ));
                }
            }
        }
        (None, Some(g)) if truncated => {
            for y in g {
                if !files.contains_key(y["sha256"].as_str().unwrap_or("")) {
                    problems.push(format!(
                        "{ctx}: partial-chain certificate {} is not one of the files",
                        s(&y["sha256"])
                    ));
                }
            }
        }
        (None, None) => {}
        (e, g) => problems.push(format!(
            "{ctx}: expected {} got {}",
            e.map(|e| format!("{} certs", e.len()))
                .unwrap_or("null".into()),
            g.map(|g| format!("{} certs", g.len()))
                .unwrap_or("null".into())
        )),
    }
}

fn compare(name: &str, exp: &Value, got: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let ec = exp["connections"].as_array().unwrap();
    let gc = got["connections"].as_array().unwrap();
    if ec.len() != gc.len() {
        problems.push(format!(
            "{name}: {} connections expected, {} reported",
            ec.len(),
            gc.len()
        ));
    }
    for (e, g) in ec.iter().zip(gc) {
        let ctx = format!("{name} {}", s(&e["client"]));
        for k in [
            "client",
            "server",
            "tls_version",
            "cipher_suite",
            "sni",
            "alpn",
            "visibility",
        ] {
            if e[k] != g[k] {
                problems.push(format!("{ctx} {k}: expected {} got {}", s(&e[k]), s(&g[k])));
            }
        }
        // Without keys a TLS 1.3 outcome is not visible: "unknown" is the honest answer.
        let encrypted = e["visibility"] == "encrypted";
        if e["handshake"] != g["handshake"] && !(encrypted && g["handshake"] == "unknown") {
            problems.push(format!(
                "{ctx} handshake: expected {} got {}",
                s(&e["handshake"]),
                s(&g["handshake"])
            ));
        }
        let truncated = !g["truncated_certificate_messages"]
            .as_array()
            .map(|a| a.is_empty())
            .unwrap_or(true);
        compare_certs(
            &format!("{ctx} server"),
            &e["server_certificates"],
            &g["server_certificates"],
            truncated,
            &mut problems,
        );
        compare_certs(
            &format!("{ctx} client"),
            &e["client_certificates"],
            &g["client_certificates"],
            truncated,
            &mut problems,
        );
        let ca = |v: &Value| {
            v.get("certificate_request")
                .and_then(|c| c.get("ca_names"))
                .cloned()
        };
        if ca(e) != ca(g) {
            problems.push(format!(
                "{ctx} certificate_request: expected {:?} got {:?}",
                ca(e),
                ca(g)
            ));
        }
        // Plaintext alerts (encrypted close_notify after a completed handshake is not
        // followed once the handshake is decided).
        let alerts = |v: &Value| -> Vec<(String, String, String)> {
            v["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["encrypted"] == false)
                .map(|a| (s(&a["from"]), s(&a["level"]), s(&a["code"])))
                .collect()
        };
        if alerts(e) != alerts(g) {
            problems.push(format!(
                "{ctx} alerts: expected {:?} got {:?}",
                alerts(e),
                alerts(g)
            ));
        }
    }
    problems
}

#[test]
fn every_capture_matches_tshark_and_openssl() {
    let mut problems = Vec::new();
    for (file, exp) in expected_files() {
        let capture = exp["capture"].as_str().unwrap().to_string();
        assert!(file.starts_with(&capture), "{file} names {capture}");
        let got = analyze_json(&capture);
        problems.extend(compare(&capture, &exp, &got));
        // The input facts: format, link types, packet count (capinfos).
        let input = &got["inputs"][0];
        if let Some(n) = exp["packets"].as_u64() {
            if input["packets"].as_u64() != Some(n) {
                problems.push(format!(
                    "{capture}: {n} packets expected, read {}",
                    input["packets"]
                ));
            }
        }
        if input["format"] != exp["format"] {
            problems.push(format!(
                "{capture}: format {} vs {}",
                input["format"], exp["format"]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Keep only the fatal alerts of each connection, compared whether or not they were
/// encrypted on the wire.
fn keep_fatal_alerts(report: &mut Value) {
    for c in report["connections"].as_array_mut().unwrap() {
        let fatal: Vec<Value> = c["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["level"] == "fatal")
            .map(|a| {
                let mut a = a.clone();
                a["encrypted"] = Value::Bool(false);
                a
            })
            .collect();
        c["alerts"] = Value::Array(fatal);
    }
}

/// With the key log, TLS 1.3 handshakes are decrypted: the same certificates and outcome
/// as tshark shows given the same keys (expected/*.decrypted.json).
#[test]
fn decrypted_captures_match_tshark_with_the_same_keys() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (capture, exp) in expected_with_suffix(".decrypted.json") {
        let capture = capture.as_str();
        let keys = format!("keylogs/{capture}.keys");
        let got = json_of(
            &certwire(&["analyze", capture, "--keylog", &keys, "-f", "json"]),
            capture,
        );
        // Alerts after the handshake (close_notify) are not followed; fatal ones are.
        let (mut exp, mut got) = (exp.clone(), got.clone());
        keep_fatal_alerts(&mut exp);
        keep_fatal_alerts(&mut got);
        problems.extend(compare(&format!("{capture} (decrypted)"), &exp, &got));
        checked += 1;
    }
    assert!(checked >= 1, "no decrypted expectations");
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_link_type_is_covered_by_a_real_capture() {
    let mut seen = std::collections::BTreeSet::new();
    for (_, exp) in expected_files() {
        let got = analyze_json(exp["capture"].as_str().unwrap());
        if got["connections"]
            .as_array()
            .map(|c| !c.is_empty())
            .unwrap_or(false)
        {
            for lt in got["inputs"][0]["link_types"].as_array().unwrap() {
                seen.insert(s(lt));
            }
        }
    }
    for lt in ["EN10MB", "LINUX_SLL", "LINUX_SLL2", "NULL", "RAW"] {
        assert!(
            seen.contains(lt),
            "no capture with handshakes on link type {lt}: {seen:?}"
        );
    }
}

/// Every serial and fingerprint tshark/openssl give for every capture appears in the table,
/// Markdown and HTML outputs too, and JSON Lines carries the same connections as JSON.
#[test]
fn every_format_shows_every_expected_certificate() {
    for (_, exp) in expected_files() {
        let capture = exp["capture"].as_str().unwrap();
        let table = String::from_utf8(certwire(&["analyze", capture]).stdout).unwrap();
        let md =
            String::from_utf8(certwire(&["analyze", capture, "-f", "markdown"]).stdout).unwrap();
        let jsonl =
            String::from_utf8(certwire(&["analyze", capture, "-f", "jsonl"]).stdout).unwrap();
        let html = String::from_utf8(certwire(&["analyze", capture, "-f", "html"]).stdout).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"),
            "{capture}"
        );
        let conns = exp["connections"].as_array().unwrap();
        assert_eq!(
            jsonl.lines().count(),
            conns.len() + 1,
            "{capture}: jsonl lines"
        );
        for c in conns {
            for side in ["server_certificates", "client_certificates"] {
                for cert in c[side].as_array().into_iter().flatten() {
                    for k in ["serial", "sha256"] {
                        let v = cert[k].as_str().unwrap();
                        assert!(table.contains(v), "{capture}: table lacks {k} {v}");
                        assert!(md.contains(v), "{capture}: markdown lacks {k} {v}");
                        assert!(jsonl.contains(v), "{capture}: jsonl lacks {k} {v}");
                        assert!(html.contains(v), "{capture}: html lacks {k} {v}");
                    }
                }
            }
        }
    }
}

/// `tcpdump -w - | certwire analyze -`: a handshake is reported while the capture is still
/// being written, not at end of input.
#[test]
fn stdin_reports_each_handshake_before_the_input_ends() {
    use std::io::{BufRead, BufReader};
    let bytes = std::fs::read(root().join("kubelet-rotated-tls12.pcap")).unwrap();
    // Up to the end of the first connection (packet 22 of 44, by tshark's numbering).
    let first_conn_end = record_end(&bytes, 22);
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(["analyze", "-", "-f", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..first_conn_end]).unwrap();
    stdin.flush().unwrap();
    // Read on another thread so that a regression fails the test instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait = std::time::Duration::from_secs(30);
    let first = rx.recv_timeout(wait);
    if first.is_err() {
        let _ = child.kill();
    }
    let first: Value =
        serde_json::from_str(&first.expect("no line before the end of input")).unwrap();
    assert_eq!(first["record"], "connection");
    assert_eq!(first["handshake"], "completed");
    stdin.write_all(&bytes[first_conn_end..]).unwrap();
    drop(stdin);
    let rest: Vec<Value> = rx
        .iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    assert_eq!(rest.len(), 2, "second connection and the summary");
    assert_eq!(rest[1]["record"], "summary");
    assert!(child.wait().unwrap().success());
}

/// Byte offset just past pcap record number `n` (1-based).
fn record_end(b: &[u8], n: usize) -> usize {
    let mut off = 24;
    for _ in 0..n {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    off
}

/// The same connections, certificates and outcomes in every format.
#[test]
fn all_formats_carry_the_same_certificates() {
    let capture = "kubelet-rotated-tls12.pcap";
    let doc = analyze_json(capture);
    let conns = doc["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    let table = String::from_utf8(certwire(&["analyze", capture]).stdout).unwrap();
    let md = String::from_utf8(certwire(&["analyze", capture, "-f", "markdown"]).stdout).unwrap();
    let jsonl = String::from_utf8(certwire(&["analyze", capture, "-f", "jsonl"]).stdout).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        conns.len() + 1,
        "one line per connection and a summary"
    );
    assert_eq!(lines.last().unwrap()["record"], "summary");
    for c in conns {
        for side in ["server_certificates", "client_certificates"] {
            for cert in c[side].as_array().unwrap() {
                for k in ["serial", "sha256"] {
                    let v = cert[k].as_str().unwrap();
                    assert!(table.contains(v), "table lacks {k} {v}");
                    assert!(md.contains(v), "markdown lacks {k} {v}");
                }
            }
        }
        assert!(table.contains(c["client"].as_str().unwrap()));
        assert!(md.contains(c["client"].as_str().unwrap()));
        let line = lines
            .iter()
            .find(|l| l["client"] == c["client"])
            .expect("jsonl line");
        assert_eq!(line["record"], "connection");
        assert_eq!(line["server_certificates"], c["server_certificates"]);
        assert_eq!(line["client_certificates"], c["client_certificates"]);
        assert_eq!(line["handshake"], c["handshake"]);
    }
}

#[test]
fn output_file_option_writes_the_report() {
    let dir = std::env::temp_dir().join(format!("certwire-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ticket.md");
    let out = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "-f",
        "markdown",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(md.starts_with("# certwire report"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stdin_gives_the_same_result_as_the_file() {
    let capture = "kubelet-rotated-tls12.pcap";
    let bytes = std::fs::read(root().join(capture)).unwrap();
    let from_file = analyze_json(capture);
    let from_stdin = json_of(
        &certwire_stdin(&["analyze", "-", "-f", "json"], &bytes),
        "stdin",
    );
    let strip = |v: &Value| -> Vec<Value> {
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("input");
                c
            })
            .collect()
    };
    assert_eq!(strip(&from_file), strip(&from_stdin));
    // gzip-compressed on stdin too.
    let gz = std::fs::read(root().join("kubelet-rotated-tls12.pcap.gz")).unwrap();
    let from_gz = json_of(
        &certwire_stdin(&["analyze", "-", "-f", "json"], &gz),
        "stdin gz",
    );
    assert_eq!(strip(&from_file), strip(&from_gz));
    assert_eq!(from_gz["inputs"][0]["gzip"], true);
}

#[test]
fn several_inputs_in_one_run() {
    let out = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "rogue-ca-sll.pcap",
        "-f",
        "json",
    ]);
    let v = json_of(&out, "two inputs");
    assert_eq!(v["inputs"].as_array().unwrap().len(), 2);
    let a = analyze_json("kubelet-rotated-tls12.pcap")["connections"]
        .as_array()
        .unwrap()
        .len();
    let b = analyze_json("rogue-ca-sll.pcap")["connections"]
        .as_array()
        .unwrap()
        .len();
    let conns = v["connections"].as_array().unwrap();
    assert_eq!(conns.len(), a + b);
    // Ordered by input, then first packet; ids follow that order.
    assert_eq!(conns[0]["input"], "kubelet-rotated-tls12.pcap");
    assert_eq!(conns[a + b - 1]["input"], "rogue-ca-sll.pcap");
    for (i, c) in conns.iter().enumerate() {
        assert_eq!(c["id"].as_u64(), Some(i as u64 + 1));
    }
}

#[test]
fn a_capture_cut_mid_record_keeps_what_came_before_and_warns() {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("expected/truncated.pcap.json")).unwrap(),
    )
    .unwrap();
    let out = certwire(&["analyze", "truncated.pcap", "-f", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a cut-off file is a warning, not unusable input"
    );
    let v = json_of(&out, "truncated");
    assert_eq!(
        v["connections"].as_array().unwrap().len(),
        exp["connections"].as_array().unwrap().len()
    );
    assert!(v["inputs"][0]["truncated_at"].is_u64());
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .contains("middle of a record")),
        "{w:?}"
    );
}

#[test]
fn the_article_filter_gives_an_honest_incomplete_result() {
    let v = analyze_json("filtered-0x16.pcap");
    let conns = v["connections"].as_array().unwrap();
    assert!(!conns.is_empty());
    for c in conns {
        assert_ne!(c["handshake"], "completed", "{c}");
        assert!(
            !c["gaps"].as_array().unwrap().is_empty(),
            "gap not reported: {c}"
        );
    }
}

#[test]
fn garbage_input_is_a_clear_error_and_exit_status_3() {
    let dir = std::env::temp_dir().join(format!("certwire-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("notes.pcap");
    std::fs::write(&junk, b"this is not a capture, it is a text file\n").unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for (path, needle) in [
        (&junk, "not a pcap or pcapng capture"),
        (&empty, "empty input"),
    ] {
        let out = certwire(&["analyze", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains(path.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
    let out = certwire(&["analyze", "does-not-exist.pcap"]);
    assert_eq!(out.status.code(), Some(3));
    // A corrupt record in the middle: everything before it is still reported.
    let mut bytes = std::fs::read(root().join("kubelet-rotated-tls12.pcap")).unwrap();
    let cut = bytes.len() * 3 / 4;
    let corrupt_at = next_record_offset(&bytes, cut);
    bytes[corrupt_at + 8..corrupt_at + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let bad = dir.join("corrupt.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = certwire(&["analyze", bad.to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json_of(&out, "corrupt");
    assert!(
        !v["connections"].as_array().unwrap().is_empty(),
        "results before the corruption are lost"
    );
    let err = v["inputs"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("corrupt.pcap") && err.contains("byte"),
        "{err}"
    );
    // The same bytes through stdin.
    let out = certwire_stdin(&["analyze", "-", "-f", "json"], &bytes);
    assert_eq!(out.status.code(), Some(3));
    let v = json_of(&out, "corrupt stdin");
    assert!(!v["connections"].as_array().unwrap().is_empty());
    assert!(v["inputs"][0]["error"].as_str().unwrap().contains("byte"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Offset of the first pcap record header at or after `min` (walking from the start).
fn next_record_offset(b: &[u8], min: usize) -> usize {
    let mut off = 24;
    while off < min {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    off
}

#[test]
fn ports_option_limits_what_is_followed() {
    let v = json_of(
        &certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--ports",
            "10250",
            "-f",
            "json",
        ]),
        "ports",
    );
    assert!(v["connections"].as_array().unwrap().is_empty());
    // The Go capture carries one TLS handshake on 443 that is ignored by default and found
    // with --any-port.
    let default = analyze_json("kubeconfig-go-sll2.pcap")["connections"]
        .as_array()
        .unwrap()
        .len();
    let any = json_of(
        &certwire(&[
            "analyze",
            "kubeconfig-go-sll2.pcap",
            "--any-port",
            "-f",
            "json",
        ]),
        "any",
    )["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["server"]))
        .collect::<Vec<_>>();
    assert_eq!(any.len(), default + 1, "{any:?}");
    assert!(any.iter().any(|s| s.ends_with(":443")));
}

/// Without keys, what the record lengths say agrees with what decryption (tshark with the
/// key log) shows: the presence of a client certificate, the outcome, and that the
/// certificate actually presented is among the size-consistent local candidates.
#[test]
fn length_inference_agrees_with_decryption() {
    let files = files();
    let file_of = |sha: &str| -> Vec<String> {
        files
            .iter()
            .filter(|(_, v)| v["sha256"] == sha)
            .map(|(k, _)| k.split('#').next().unwrap().to_string())
            .collect()
    };
    let mut checked = 0;
    for (capture, exp) in expected_with_suffix(".decrypted.json") {
        let capture = capture.as_str();
        let got = analyze(&[
            capture,
            "--certs",
            "node",
            "--certs",
            "pki-extra",
            "--root",
            "node",
            "--no-default-certs",
        ]);
        for (e, g) in exp["connections"]
            .as_array()
            .unwrap()
            .iter()
            .zip(got["connections"].as_array().unwrap())
        {
            if e["visibility"] != "decrypted" || g["visibility"] != "encrypted" {
                continue;
            }
            let ctx = format!("{capture} {}", s(&e["client"]));
            let inf = &g["inference"];
            if inf["one_message_per_record"] != true {
                continue;
            }
            checked += 1;
            let want_cc = match e["client_certificates"].as_array() {
                None => "none",
                Some(a) if a.is_empty() => "empty",
                Some(_) => "present",
            };
            if !inf["client_certificate"].is_null() {
                assert_eq!(inf["client_certificate"], want_cc, "{ctx}");
            }
            match (s(&e["handshake"]).as_str(), inf["outcome"].as_str()) {
                ("completed", Some(o)) | ("failed", Some(o)) => {
                    assert_eq!(o, s(&e["handshake"]), "{ctx}")
                }
                _ => {}
            }
            for (side, key) in [
                ("client", "client_certificates"),
                ("server", "server_certificates"),
            ] {
                let Some(leaf) = e[key].as_array().and_then(|a| a.first()) else {
                    continue;
                };
                let Some(check) = inf["size_checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["side"] == side)
                else {
                    continue;
                };
                let actual = file_of(leaf["sha256"].as_str().unwrap());
                let consistent: Vec<String> = check["consistent"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| s(&c["path"]))
                    .collect();
                assert!(
                    actual.iter().any(|f| consistent.iter().any(|c| c.ends_with(f.as_str()))),
                    "{ctx} {side}: presented {actual:?} not among the consistent {consistent:?}: {}",
                    check["summary"]
                );
            }
        }
    }
    assert!(
        checked >= 2,
        "too few encrypted connections checked: {checked}"
    );
}

/// Several files are analyzed in parallel; the document is the same as analyzing each
/// alone, in command-line order, whatever the thread count (`--threads 1` also reads in
/// line, without the read-ahead thread).
#[test]
fn parallel_inputs_merge_deterministically() {
    let files = [
        "rogue-ca-sll.pcap",
        "kubelet-rotated-tls12.pcap",
        "broken-certs.pcap",
        "nanosecond.pcap",
        "tls13-go.pcap",
    ];
    let mut args = vec!["analyze"];
    args.extend(files);
    args.extend(["--format", "json", "--no-default-certs"]);
    let runs: Vec<Value> = ["1", "2", "5"]
        .iter()
        .map(|n| {
            let mut args = args.clone();
            args.extend(["--threads", n]);
            json_of(&certwire(&args), "parallel")
        })
        .collect();
    assert_eq!(runs[0]["connections"], runs[1]["connections"]);
    assert_eq!(runs[0]["connections"], runs[2]["connections"]);
    let mut expected = Vec::new();
    for f in files {
        for c in analyze(&[f, "--no-default-certs"])["connections"]
            .as_array()
            .unwrap()
        {
            let mut c = c.clone();
            c["id"] = Value::Null;
            expected.push(c);
        }
    }
    let got: Vec<Value> = runs[0]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c["id"] = Value::Null;
            c
        })
        .collect();
    assert_eq!(got, expected);
}

/// The read-ahead thread changes where bytes are read, never what is reported: every
/// sample capture gives the same document with `--threads 1` (read in line) as with the
/// default, and the same again from stdin.
#[test]
fn reading_ahead_or_in_line_reports_the_same() {
    for (file, _) in expected_files() {
        let capture = file.trim_end_matches(".json").to_string();
        let with = |extra: &[&str]| {
            let mut args = vec!["analyze", capture.as_str(), "--format", "json"];
            args.extend(extra);
            let mut v = json_of(&certwire(&args), &capture);
            v["inputs"][0]["path"] = Value::Null;
            v
        };
        let ahead = with(&["--threads", "2"]);
        assert!(
            ahead["inputs"][0]["packets"].as_u64() > Some(0),
            "{capture}"
        );
        assert_eq!(with(&["--threads", "1"]), ahead, "{capture}");
        let bytes = std::fs::read(root().join(&capture)).unwrap();
        let mut piped = json_of(
            &certwire_stdin(
                &["analyze", "-", "--format", "json", "--threads", "2"],
                &bytes,
            ),
            &capture,
        );
        piped["inputs"][0]["path"] = Value::Null;
        for c in piped["connections"].as_array_mut().unwrap() {
            c["input"] = ahead["connections"][0]["input"].clone();
        }
        for w in piped["warnings"].as_array_mut().unwrap() {
            w["input"] = Value::Null;
        }
        let mut ahead = ahead;
        for w in ahead["warnings"].as_array_mut().unwrap() {
            w["input"] = Value::Null;
        }
        assert_eq!(
            piped["connections"], ahead["connections"],
            "{capture} from stdin"
        );
        assert_eq!(piped["inputs"], ahead["inputs"], "{capture} from stdin");
    }
}

/// The handshake message lengths inferred from encrypted record lengths are the ones
/// tshark shows when it decrypts the same records (expected/*.records.json): each message
/// is its 4-byte header plus tshark's tls.handshake.length.
#[test]
fn inferred_message_lengths_are_tsharks_decrypted_ones() {
    let name_of = |t: u64| match t {
        8 => "EncryptedExtensions",
        11 => "Certificate",
        13 => "CertificateRequest",
        15 => "CertificateVerify",
        20 => "Finished",
        _ => "?",
    };
    // The handshake messages of one direction up to its Finished, from tshark.
    let flight = |records: &Value| -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for r in records.as_array().unwrap() {
            if r["protected"] != true || r["inner_type"] != 22 {
                continue;
            }
            for m in r["handshake"].as_array().unwrap() {
                let t = m["type"].as_u64().unwrap();
                out.push((name_of(t).to_string(), m["length"].as_u64().unwrap() + 4));
                if t == 20 {
                    return out;
                }
            }
        }
        out
    };
    let mut checked = 0;
    for (capture, recs) in expected_with_suffix(".records.json") {
        let capture = capture.as_str();
        let got = analyze(&[capture, "--no-default-certs"]);
        for rc in recs["connections"].as_array().unwrap() {
            let Some(c) = got["connections"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["client"] == rc["client"])
            else {
                continue;
            };
            let server = flight(&rc["server_to_client"]);
            if server.is_empty() || c["inference"].is_null() {
                continue; // no keys for this one in tshark's view either, or decrypted by a DSB
            }
            let inferred = |k: &str| -> Vec<(String, u64)> {
                c["inference"][k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| (s(&m["message"]), m["length"].as_u64().unwrap()))
                    .collect()
            };
            let coalesced = rc["server_to_client"].as_array().unwrap().iter().any(|r| {
                r["protected"] == true && r["handshake"].as_array().is_some_and(|h| h.len() > 1)
            });
            if coalesced || server.iter().any(|(m, _)| m == "?") {
                // Several handshake messages in one record (BoringSSL), or a message the
                // layout does not model (an RFC 8879 CompressedCertificate): inferring
                // nothing is right, inferring message lengths would be a guess.
                assert!(
                    inferred("server_messages").is_empty(),
                    "{capture}: {:?}",
                    inferred("server_messages")
                );
                continue;
            }
            assert_eq!(
                inferred("server_messages"),
                server,
                "{capture} {}: server flight",
                s(&rc["client"])
            );
            let client = flight(&rc["client_to_server"]);
            // Without a certificate request the client flight is its Finished alone.
            assert_eq!(
                inferred("client_messages"),
                client,
                "{capture} {}: client flight",
                s(&rc["client"])
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} connections checked");
}

/// A pcapng's Decryption Secrets Blocks serve that file only: read in one run with another
/// capture of the same sessions, the other file's handshakes stay encrypted (they were
/// decrypted with the first file's secrets before), whatever the thread count.
#[test]
fn one_files_secrets_stay_with_that_file() {
    for threads in ["1", "2"] {
        let v = json_of(
            &certwire(&[
                "analyze",
                "tls13-openssl-dsb.pcapng",
                "tls13-openssl.pcap",
                "--threads",
                threads,
                "--no-default-certs",
                "--format",
                "json",
            ]),
            "two inputs",
        );
        for c in v["connections"].as_array().unwrap() {
            let expected = if c["input"] == "tls13-openssl-dsb.pcapng" {
                "decrypted"
            } else {
                "encrypted"
            };
            assert_eq!(
                c["visibility"], expected,
                "--threads {threads}: {}",
                c["input"]
            );
        }
    }
}

/// Damaged input speaks plainly: a fatal input error is an error (not a warning), on
/// stderr in every format, names the file once and says what was expected; a cut record
/// says where; the exit status is 3.
#[test]
fn damaged_input_speaks_plainly() {
    let dir = std::env::temp_dir().join(format!("certwire-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture at all").unwrap();
    let path = garbage.to_str().unwrap();
    for format in ["table", "json", "jsonl", "markdown", "html"] {
        let out = certwire(&["analyze", path, "-f", format, "--no-default-certs"]);
        assert_eq!(out.status.code(), Some(3), "{format}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("certwire: error: "))
            .unwrap_or_else(|| panic!("{format}: no error line: {stderr}"));
        assert_eq!(line.matches("garbage.pcap").count(), 1, "{line}");
        assert!(line.contains("not a pcap or pcapng capture"), "{line}");
    }
    let v = json_of(
        &certwire(&["analyze", path, "-f", "json", "--no-default-certs"]),
        "garbage",
    );
    assert_eq!(v["warnings"][0]["level"], "error");
    // A record cut short: a warning that says where, and what is still reported.
    let v = json_of(
        &certwire(&[
            "analyze",
            "truncated.pcap",
            "-f",
            "json",
            "--no-default-certs",
        ]),
        "truncated",
    );
    let w = &v["warnings"][0];
    assert_eq!(w["level"], "warning");
    assert!(
        s(&w["message"]).contains("at byte")
            && s(&w["message"]).contains("everything before the cut is reported"),
        "{w}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
