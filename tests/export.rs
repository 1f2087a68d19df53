//! `--export-certs DIR` and `--include-der` (issue 15): the files hold exactly the bytes
//! of the wire (their SHA-256 is the report's `sha256`), chains are named by the report's
//! ids in every output mode, openssl verifies a healthy chain and refuses a rogue one,
//! and nothing is written through a symlink.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{certwire, json_of, root};
use serde_json::Value;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certwire-export-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sha256_hex(der: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// The DER of every certificate of a PEM file, in order.
fn pem_ders(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut b64 = None::<String>;
    for line in text.lines() {
        match line {
            "-----BEGIN CERTIFICATE-----" => b64 = Some(String::new()),
            "-----END CERTIFICATE-----" => {
                let s = b64.take().expect("END after BEGIN");
                out.push(data_encoding::BASE64.decode(s.as_bytes()).unwrap());
            }
            _ => b64.as_mut().expect("base64 inside a block").push_str(line),
        }
    }
    assert!(b64.is_none(), "{}: unterminated block", path.display());
    out
}

fn shas(path: &Path) -> Vec<String> {
    pem_ders(path).iter().map(|d| sha256_hex(d)).collect()
}

fn files(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().to_string(), e.path())
        })
        .collect()
}

fn chain_shas(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|c| c["sha256"].as_str().unwrap().to_string())
            .collect()
    })
}

/// Every exported file against the connections of the report: `certs/` holds each
/// distinct certificate once, named `<role>_<subject>_<sha prefix>.pem` with the DER of
/// that SHA-256; `chains/<id>-<side>.pem` holds the side's chain in order.
fn check_export(dir: &Path, connections: &[Value]) {
    let mut distinct = BTreeSet::new();
    let mut expected_chains = BTreeMap::new();
    for c in connections {
        let id = c["id"].as_u64().unwrap();
        for side in ["client", "server"] {
            if let Some(chain) = chain_shas(&c[format!("{side}_certificates")]) {
                distinct.extend(chain.iter().cloned());
                if !chain.is_empty() {
                    expected_chains.insert(format!("{id}-{side}.pem"), chain);
                }
            }
        }
    }
    let certs = files(&dir.join("certs"));
    let mut exported = BTreeSet::new();
    for (name, path) in &certs {
        let s = shas(path);
        assert_eq!(s.len(), 1, "{name}: one certificate per file");
        assert!(
            name.ends_with(&format!("_{}.pem", &s[0][..12])),
            "{name}: named by its SHA-256 prefix {}",
            &s[0][..12]
        );
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "{name}"
        );
        assert!(exported.insert(s[0].clone()), "{name}: exported twice");
    }
    assert_eq!(
        exported, distinct,
        "certs/ against the report's certificates"
    );
    let chains = files(&dir.join("chains"));
    assert_eq!(
        chains.keys().collect::<Vec<_>>(),
        expected_chains.keys().collect::<Vec<_>>(),
        "chain files against the report's ids"
    );
    for (name, want) in &expected_chains {
        assert_eq!(&shas(&chains[name]), want, "{name}: the chain as presented");
    }
}

fn export(args: &[&str], dir: &Path) -> Value {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--root", "node", "-f", "json", "--export-certs"]);
    all.push(dir.to_str().unwrap());
    let out = certwire(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out, "export")
}

#[test]
fn exported_files_hold_the_bytes_of_the_wire_under_the_reports_ids() {
    let dir = tempdir("one");
    let report = export(&["kubelet-rotated-tls12.pcap"], &dir);
    let conns = report["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    check_export(&dir, conns);
    // The kubelet's rotated client certificate, by role and subject.
    let leaf = conns[0]["client_certificates"][0]["sha256"]
        .as_str()
        .unwrap();
    let name = format!("kubelet-client_CN-system-node-node1_{}.pem", &leaf[..12]);
    assert!(dir.join("certs").join(&name).is_file(), "{name}");
    // Exporting again into the same directory replaces the files with the same ones.
    export(&["kubelet-rotated-tls12.pcap"], &dir);
    check_export(&dir, conns);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Several files analyzed side by side, connections spilled to the spool's temporary file
/// and merged: the chains still carry the document's ids. And JSON Lines, whose ids are
/// given as connections stream out.
#[test]
fn chain_ids_match_the_report_in_every_mode() {
    let captures = [
        "rogue-ca-sll.pcap",
        "k8s-apiserver-authn.pcap",
        "kubelet-rotated-tls12.pcap",
        "nanosecond.pcap",
    ];
    let dir = tempdir("parallel");
    let mut all = vec!["analyze"];
    all.extend_from_slice(&captures);
    all.extend_from_slice(&["--root", "node", "-f", "json", "--threads", "2"]);
    all.extend_from_slice(&["--export-certs", dir.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(&all)
        .current_dir(root())
        .env("CERTWIRE_SPOOL_BYTES", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json_of(&out, "parallel");
    let conns = report["connections"].as_array().unwrap();
    assert!(conns.len() >= 8);
    check_export(&dir, conns);
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = tempdir("jsonl");
    let mut all = vec!["analyze"];
    all.extend_from_slice(&captures);
    all.extend_from_slice(&["--root", "node", "-f", "jsonl"]);
    all.extend_from_slice(&["--export-certs", dir.to_str().unwrap()]);
    let out = certwire(&all);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["record"] == "connection")
        .collect();
    check_export(&dir, &lines);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `openssl verify -CAfile <the node's CA> -untrusted <chain> <chain>`: as the verifier
/// would judge exactly what was sent (validity left out: the captures have fixed dates).
fn verify(ca: &str, chain: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["verify", "-no_check_time", "-CAfile", ca, "-untrusted"])
        .arg(chain)
        .arg(chain)
        .current_dir(root())
        .output()
        .expect("openssl (CI installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn openssl_verifies_healthy_chains_and_refuses_the_rogue_ones() {
    let ca = "node/etc/kubernetes/pki/ca.crt";
    let etcd_ca = "node/etc/kubernetes/pki/etcd/ca.crt";

    let dir = tempdir("healthy");
    export(&["kubelet-rotated-tls12.pcap"], &dir);
    for chain in [
        "1-client.pem",
        "1-server.pem",
        "2-client.pem",
        "2-server.pem",
    ] {
        let (ok, text) = verify(ca, &dir.join("chains").join(chain));
        assert!(ok, "{chain}: {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // apiserver → etcd: the etcd CA.
    let dir = tempdir("etcd");
    export(&["nanosecond.pcap"], &dir);
    let (ok, text) = verify(etcd_ca, &dir.join("chains/1-server.pem"));
    assert!(ok, "etcd server chain: {text}");
    let (ok, _) = verify(ca, &dir.join("chains/1-server.pem"));
    assert!(!ok, "the etcd server chain is not from the cluster CA");
    std::fs::remove_dir_all(&dir).unwrap();

    // A client certificate from a rogue CA named like the real one: both connections.
    let dir = tempdir("rogue");
    let report = export(&["rogue-ca-sll.pcap"], &dir);
    assert_eq!(report["connections"].as_array().unwrap().len(), 2);
    for chain in ["1-client.pem", "2-client.pem"] {
        let (ok, text) = verify(ca, &dir.join("chains").join(chain));
        assert!(!ok, "{chain}: the rogue chain must not verify: {text}");
    }
    let (ok, text) = verify(ca, &dir.join("chains/1-server.pem"));
    assert!(ok, "the apiserver's own chain: {text}");
    std::fs::remove_dir_all(&dir).unwrap();

    // The apiserver authentication capture: #1 rogue, #2 another node's kubelet and #4
    // kubectl with admin.conf, both issued by the cluster CA.
    let dir = tempdir("authn");
    let report = export(&["k8s-apiserver-authn.pcap"], &dir);
    let conns = report["connections"].as_array().unwrap();
    let subject = |id: usize| conns[id - 1]["client_certificates"][0]["subject"].clone();
    assert_eq!(subject(1), "CN=system:node:node1,O=system:nodes");
    assert_eq!(subject(2), "CN=system:node:node2,O=system:nodes");
    let (ok, text) = verify(ca, &dir.join("chains/1-client.pem"));
    assert!(!ok, "rogue client: {text}");
    for chain in ["2-client.pem", "4-client.pem"] {
        let (ok, text) = verify(ca, &dir.join("chains").join(chain));
        assert!(ok, "{chain}: {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_written_through() {
    use std::os::unix::fs::symlink;
    let base = tempdir("symlink");
    let elsewhere = base.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let run = |dir: &Path| {
        certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--no-default-certs",
            "-f",
            "json",
            "--export-certs",
            dir.to_str().unwrap(),
        ])
    };

    // DIR itself a symlink (to a directory): refused before anything is written.
    let link = base.join("link");
    symlink(&elsewhere, &link).unwrap();
    let out = run(&link);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("symbolic link") && err.contains("link"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no report after the refusal");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

    // DIR a regular file.
    let file = base.join("file");
    std::fs::write(&file, "x").unwrap();
    let out = run(&file);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory"), "{err}");

    // DIR/certs planted as a symlink.
    let dir = base.join("planted");
    std::fs::create_dir(&dir).unwrap();
    symlink(&elsewhere, dir.join("certs")).unwrap();
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certs") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

    // A symlink planted at a certificate's or a chain's file name is replaced, and what
    // it pointed to is left alone.
    let dir = base.join("names");
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0));
    let cert = files(&dir.join("certs")).into_keys().next().unwrap();
    let victim = base.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    for name in [format!("certs/{cert}"), "chains/1-client.pem".to_string()] {
        std::fs::remove_file(dir.join(&name)).unwrap();
        symlink(&victim, dir.join(&name)).unwrap();
    }
    assert_eq!(run(&dir).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for name in [format!("certs/{cert}"), "chains/1-client.pem".to_string()] {
        let meta = std::fs::symlink_metadata(dir.join(&name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is a file again");
    }
    // A missing DIR is created (its parent too).
    let deep = base.join("a/b/c");
    assert_eq!(run(&deep).status.code(), Some(0));
    assert!(deep.join("chains/1-server.pem").is_file());
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn include_der_gives_the_certificates_bytes_and_is_off_by_default() {
    let with = json_of(
        &certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--root",
            "node",
            "-f",
            "json",
            "--include-der",
        ]),
        "--include-der",
    );
    let mut seen = 0;
    for c in with["connections"].as_array().unwrap() {
        for side in ["client_certificates", "server_certificates"] {
            for cert in c[side].as_array().unwrap() {
                let der = data_encoding::BASE64
                    .decode(cert["der_base64"].as_str().unwrap().as_bytes())
                    .unwrap();
                assert_eq!(sha256_hex(&der), cert["sha256"].as_str().unwrap());
                assert_eq!(der.len() as u64, cert["der_length"].as_u64().unwrap());
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 8);
    // JSON Lines too.
    let out = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "--root",
        "node",
        "-f",
        "jsonl",
        "--include-der",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["server_certificates"][0]["der_base64"].is_string());
    // Without the option, the field is not there at all.
    for format in ["json", "jsonl"] {
        let out = certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--root",
            "node",
            "-f",
            format,
        ]);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("der_base64"));
    }
}
