//! Reports an operator reads on a terminal and attaches to a ticket: on a 100-column
//! terminal (a real pty, the width found by certwire itself) no line is wider than the
//! terminal and the overview has one line per group; on several hundred handshakes the
//! grouped Markdown and HTML are under a tenth of the ungrouped size, with every distinct
//! certificate and finding still in them.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Run certwire in a pseudo-terminal of `cols` columns (util-linux `script`), COLUMNS
/// unset: what a user sees in that terminal.
fn in_pty(args: &[&str], cols: u16) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let cmd = format!(
        "stty cols {cols} rows 50; exec {} {}",
        env!("CARGO_BIN_EXE_certwire"),
        args.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&out.stdout).replace('\r', ""))
}

#[test]
fn the_table_fits_a_100_column_terminal_with_one_overview_line_per_group() {
    let mut checked = 0;
    let mut captures: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_str()?.to_string();
            (n.ends_with(".pcap") || n.ends_with(".pcapng")).then_some(n)
        })
        .collect();
    captures.sort();
    for capture in &captures {
        let Some(text) = in_pty(&["analyze", capture, "--root", "node"], 100) else {
            eprintln!("SKIPPED: util-linux `script` is not installed (no pty to test in)");
            return;
        };
        for (n, line) in text.lines().enumerate() {
            assert!(
                line.chars().count() <= 100,
                "{capture} line {}: {} characters: {line}",
                n + 1,
                line.chars().count()
            );
        }
        let groups = analyze(&[capture, "--root", "node"])["groups"]
            .as_array()
            .unwrap()
            .len();
        let overview = text
            .lines()
            .filter(|l| l.trim_start().starts_with('g') && l.contains('×'))
            .count();
        assert_eq!(overview, groups, "{capture}: overview lines\n{text}");
        checked += 1;
    }
    assert!(checked >= 20);
}

/// The connections of three real captures, `copies` times over, each copy from other
/// client addresses and a second later: several hundred handshakes that tell a handful of
/// stories.
fn many_handshakes(copies: u32) -> Vec<u8> {
    let mut frames = Vec::new();
    let mut linktype = 0;
    for name in [
        "k8s-apiserver-authn.pcap",
        "broken-certs.pcap",
        "kubelet-rotated-tls12.pcap",
    ] {
        let (lt, fs) = read_pcap(name);
        linktype = lt;
        for k in 0..copies {
            for (sec, usec, f) in &fs {
                let mut f = f.clone();
                let ip = 14;
                let t = ip + usize::from(f[ip] & 0x0f) * 4;
                let (sport, dport) = (
                    u16::from_be_bytes([f[t], f[t + 1]]),
                    u16::from_be_bytes([f[t + 2], f[t + 3]]),
                );
                let from_client = dport == 6443 || dport == 10250;
                let (port_at, ip_at, port) = if from_client {
                    (t, ip + 12, sport)
                } else {
                    (t + 2, ip + 16, dport)
                };
                let new_port = port.wrapping_add((k as u16).wrapping_mul(7)) | 0x8000;
                f[port_at..port_at + 2].copy_from_slice(&new_port.to_be_bytes());
                f[ip_at + 2] = (k >> 8) as u8;
                f[ip_at + 3] = k as u8;
                frames.push((sec + k * 2, *usec, f));
            }
        }
    }
    frames.sort_by_key(|(s, u, _)| (*s, *u));
    pcap(linktype, frames)
}

fn read_pcap(name: &str) -> (u32, Vec<(u32, u32, Vec<u8>)>) {
    let b = std::fs::read(root().join(name)).unwrap();
    assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "{name}");
    let linktype = u32::from_le_bytes(b[20..24].try_into().unwrap());
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let u = |o: usize| u32::from_le_bytes(b[at + o..at + o + 4].try_into().unwrap());
        let (sec, usec, incl) = (u(0), u(4), u(8) as usize);
        frames.push((sec, usec, b[at + 16..at + 16 + incl].to_vec()));
        at += 16 + incl;
    }
    (linktype, frames)
}

fn pcap(linktype: u32, frames: Vec<(u32, u32, Vec<u8>)>) -> Vec<u8> {
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (sec, usec, f) in frames {
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f);
    }
    out
}

#[test]
fn grouped_documents_are_a_tenth_of_the_ungrouped_with_nothing_lost() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("many-handshakes.pcap");
    std::fs::write(&file, many_handshakes(40)).unwrap();
    let path = file.to_str().unwrap();
    let json = analyze(&[path, "--root", "node"]);
    let connections = json["connections"].as_array().unwrap();
    assert!(connections.len() >= 300, "{} handshakes", connections.len());
    let groups = json["groups"].as_array().unwrap();
    let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(
        total as usize,
        connections.len(),
        "every connection is in a group"
    );
    // Every distinct certificate and finding of the connections.
    let mut certs = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for c in connections {
        for side in ["server_certificates", "client_certificates"] {
            for cert in c[side].as_array().into_iter().flatten() {
                certs.insert(s(&cert["sha256"]));
            }
        }
        for f in c["findings"].as_array().unwrap() {
            codes.insert(s(&f["code"]));
        }
    }
    for format in ["markdown", "html"] {
        let grouped = certwire(&["analyze", path, "--root", "node", "-f", format]);
        let every = certwire(&[
            "analyze",
            path,
            "--root",
            "node",
            "-f",
            format,
            "--no-group",
        ]);
        let (g, e) = (grouped.stdout.len(), every.stdout.len());
        eprintln!(
            "{format}: {g} bytes grouped, {e} bytes ungrouped ({} connections)",
            connections.len()
        );
        assert!(
            g * 10 < e,
            "{format}: grouped {g} bytes is not under a tenth of {e}"
        );
        let text = String::from_utf8_lossy(&grouped.stdout);
        for sha in &certs {
            assert!(
                text.contains(sha.as_str()),
                "{format}: certificate {sha} lost"
            );
        }
        for code in &codes {
            assert!(
                text.contains(code.as_str()),
                "{format}: finding {code} lost"
            );
        }
    }
    // The groups' ids are the connections' ids, once each.
    let mut ids: Vec<u64> = groups
        .iter()
        .flat_map(|g| {
            g["connection_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap())
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=connections.len() as u64).collect::<Vec<_>>());
    let _: &Value = &json;
}

#[test]
fn filters_keep_what_was_asked_and_say_what_was_left_out() {
    let all = analyze(&[
        "k8s-apiserver-authn.pcap",
        "broken-certs.pcap",
        "--root",
        "node",
    ]);
    let n = all["connections"].as_array().unwrap().len();
    let errors = analyze(&[
        "k8s-apiserver-authn.pcap",
        "broken-certs.pcap",
        "--root",
        "node",
        "--only",
        "errors",
    ]);
    let kept = errors["connections"].as_array().unwrap();
    assert!(!kept.is_empty() && kept.len() < n);
    assert!(kept.iter().all(|c| s(&c["verdict"]).starts_with("ERROR")));
    assert_eq!(
        errors["summary"]["connections"].as_u64().unwrap() as usize,
        kept.len()
    );
    let notice = errors["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .find(|l| l.contains("--only errors"))
        .expect("a notice");
    assert!(
        notice.contains(&format!("{} connection(s) not shown", n - kept.len())),
        "{notice}"
    );
    let role = analyze(&[
        "k8s-kubelet.pcap",
        "k8s-apiserver-authn.pcap",
        "--root",
        "node",
        "--role",
        "apiserver-to-kubelet",
    ]);
    assert!(role["connections"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["role"] == "apiserver-to-kubelet"));
    let host = analyze(&[
        "k8s-kubelet.pcap",
        "k8s-apiserver-authn.pcap",
        "--root",
        "node",
        "--host",
        "127.0.0.1:10250",
    ]);
    let hosts = host["connections"].as_array().unwrap();
    assert!(!hosts.is_empty() && hosts.iter().all(|c| c["server"] == "127.0.0.1:10250"));
    let summary = certwire(&[
        "analyze",
        "k8s-apiserver-authn.pcap",
        "--root",
        "node",
        "--summary",
    ]);
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("group(s) of connections") && !text.contains("verdict:"),
        "{text}"
    );
}
