//! Findings on real captures of each failure (made with real TLS stacks; see
//! captures/README.md): exactly the expected codes and no false ones, with the messages Go
//! logs. The expected codes follow from how each capture was made, not from certwire.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

/// (severity initial, code) of the non-info findings of connection `i` (1-based).
fn codes(v: &Value, i: usize) -> BTreeSet<(String, String)> {
    v["connections"][i - 1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| (s(&f["severity"])[..1].to_string(), s(&f["code"])))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn finding<'a>(v: &'a Value, i: usize, code: &str) -> &'a Value {
    v["connections"][i - 1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding on connection {i}"))
}

/// What the capture scripts recorded the Go client saying ("Go client said: ... " /
/// "Go said: ... ").
fn go_said(capture: &str) -> String {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("expected/{capture}.json"))).unwrap(),
    )
    .unwrap();
    let scenario = s(&exp["scenario"]);
    let start = scenario
        .find("handshake: ")
        .expect("Go's message in the scenario")
        + "handshake: ".len();
    let rest = &scenario[start..];
    rest[..rest
        .find(" .")
        .or_else(|| rest.find(". "))
        .unwrap_or(rest.len())]
        .trim()
        .to_string()
}

#[test]
fn rogue_ca_with_the_same_name_is_caught_by_signature() {
    let v = analyze(&[
        "rogue-ca-sll.pcap",
        "--root",
        "node",
        "--certs",
        "node",
        "--certs",
        "pki-extra",
    ]);
    for i in [1, 2] {
        assert_eq!(
            codes(&v, i),
            set(&[
                ("e", "unknown-authority"),
                ("e", "tls-alert"),
                ("w", "wrong-file")
            ]),
            "connection {i}"
        );
        let f = finding(&v, i, "unknown-authority");
        let evidence = f["evidence"].to_string();
        // Both keys' fingerprints (openssl's view of the two CA files).
        let real = &files()["node/etc/kubernetes/pki/ca.crt"]["spki_sha256"];
        let rogue = &files()["pki-extra/rogue-ca.crt"]["spki_sha256"];
        assert!(evidence.contains(real.as_str().unwrap()), "{evidence}");
        assert!(evidence.contains(rogue.as_str().unwrap()), "{evidence}");
        assert!(evidence.contains("same name"), "{evidence}");
        // Go's message, with the hint Go adds when a trusted CA of the same name fails the
        // signature check.
        assert_eq!(
            s(&f["logged_as"]),
            "x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: verification error\" while trying to verify candidate authority certificate \"kubernetes\")"
        );
        // openssl s_server rejected in the handshake, which kube-apiserver never does: the
        // finding says so instead of claiming the apiserver's 401.
        assert_eq!(f["layer"], "tls");
        assert_eq!(f["observed"], "confirmed");
        assert!(
            evidence.contains("rejected it in the TLS handshake"),
            "{evidence}"
        );
    }
    // The Go client of connection 2 logged the alert the server sent.
    assert_eq!(
        s(&finding(&v, 2, "tls-alert")["logged_as"]),
        go_said("rogue-ca-sll.pcap")
    );
}

#[test]
fn each_broken_certificate_gets_its_finding() {
    let v = analyze(&["broken-certs.pcap", "--root", "node"]);
    // #1 a client certificate without clientAuth.
    assert_eq!(
        codes(&v, 1),
        set(&[
            ("e", "incompatible-key-usage"),
            ("e", "tls-alert"),
            ("w", "wrong-file")
        ])
    );
    assert_eq!(
        s(&finding(&v, 1, "incompatible-key-usage")["logged_as"]),
        "x509: certificate specifies an incompatible key usage"
    );
    // #2 an expired client certificate, judged at capture time.
    assert_eq!(
        codes(&v, 2),
        set(&[("e", "expired"), ("e", "tls-alert"), ("w", "wrong-file")])
    );
    let seen = s(&v["connections"][1]["first_seen"]);
    let logged = s(&finding(&v, 2, "expired")["logged_as"]);
    assert!(
        logged.starts_with(&format!(
            "x509: certificate has expired or is not yet valid: current time {}",
            &seen[..19]
        )),
        "{logged} / {seen}"
    );
    assert!(
        logged.ends_with("is after 2026-11-01T00:00:00Z"),
        "{logged}"
    );
    // #3 the kubelet's serving certificate without IP SANs, dialed by IP by a Go client:
    // exactly what Go said.
    assert_eq!(
        codes(&v, 3),
        set(&[("e", "no-ip-san"), ("e", "tls-alert"), ("w", "wrong-file")])
    );
    assert_eq!(
        s(&finding(&v, 3, "no-ip-san")["logged_as"]),
        go_said("broken-certs.pcap")
    );
    assert!(s(&finding(&v, 3, "tls-alert")["message"]).contains("most likely cause: no-ip-san"));
    // #4 a wrong node identity: the handshake completes, the Node authorizer denies. The
    // certificate names another node (node2): it is judged for its identity, not as a
    // wrong file of this node.
    assert_eq!(codes(&v, 4), set(&[("e", "identity")]));
    assert_eq!(v["connections"][3]["handshake"], "completed");
    assert_eq!(finding(&v, 4, "identity")["layer"], "authentication");
    assert_eq!(finding(&v, 4, "remote-node")["severity"], "info");
}

#[test]
fn healthy_captures_have_no_error_findings() {
    for capture in [
        "kubelet-rotated-tls12.pcap",
        "kubeconfig-go-sll2.pcap",
        "kubelet-serving-ipv6.pcapng",
        "nanosecond.pcap",
        "retransmit-reorder.pcap",
        "any-multi.pcapng",
        "tls13-openssl.pcap",
    ] {
        let v = analyze(&[capture, "--root", "node"]);
        for (i, c) in v["connections"].as_array().unwrap().iter().enumerate() {
            let errors: Vec<String> = c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == "error")
                .map(|f| s(&f["code"]))
                .collect();
            assert!(errors.is_empty(), "{capture} #{}: {errors:?}", i + 1);
        }
    }
    // The node's own kubelet and admin connections are clean, and say so.
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--root", "node"]);
    for i in [1, 2] {
        assert!(codes(&v, i).is_empty(), "{:?}", codes(&v, i));
        assert_eq!(v["connections"][i - 1]["verdict"], "OK");
    }
    let admin = finding(&v, 2, "identity");
    assert!(s(&admin["message"]).contains("user \"kubernetes-admin\", groups [system:masters]"));
}

#[test]
fn kubeconfig_cert_with_rotation_on_is_the_wrong_file() {
    let v = analyze(&["kubeconfig-go-sll2.pcap", "--root", "node"]);
    assert_eq!(codes(&v, 1), set(&[("w", "wrong-file")]));
    let f = finding(&v, 1, "wrong-file");
    assert!(s(&f["message"]).contains("kubelet.conf"), "{f}");
    assert!(
        s(&f["message"]).contains("kubelet-client-2026-11-27-09-30-00.pem"),
        "{f}"
    );
}

#[test]
fn what_cannot_be_judged_is_said() {
    let v = analyze(&["filtered-0x16.pcap", "--root", "node"]);
    assert!(codes(&v, 1).contains(&("w".to_string(), "capture-incomplete".to_string())));
    let v = analyze(&["tls13-openssl.pcap", "--root", "node"]);
    assert_eq!(finding(&v, 1, "encrypted-handshake")["severity"], "info");
}

#[test]
fn fail_on_sets_the_exit_status() {
    for (capture, severity, status) in [
        ("broken-certs.pcap", "error", 4),
        ("kubelet-rotated-tls12.pcap", "error", 0),
        ("kubeconfig-go-sll2.pcap", "error", 0),
        ("kubeconfig-go-sll2.pcap", "warning", 4),
    ] {
        let out = certwire(&["analyze", capture, "--root", "node", "--fail-on", severity]);
        assert_eq!(
            out.status.code(),
            Some(status),
            "{capture} --fail-on {severity}"
        );
    }
}

#[test]
fn table_and_markdown_show_verdicts_findings_and_a_summary() {
    for format in ["table", "markdown"] {
        let text = String::from_utf8(
            certwire(&[
                "analyze",
                "broken-certs.pcap",
                "--root",
                "node",
                "-f",
                format,
            ])
            .stdout,
        )
        .unwrap();
        assert!(text.contains("ERROR no-ip-san"), "{format}");
        assert!(text.contains("x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"), "{format}");
        assert!(text.contains("expired 1"), "{format}: summary by code");
    }
}

/// A completed handshake never carries an error whose meaning is "this handshake is
/// rejected": every TLS-layer prediction on a completed handshake is contradicted and at
/// most a warning, on every sample capture.
#[test]
fn a_completed_handshake_carries_no_tls_rejection_error() {
    for e in std::fs::read_dir(root()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let v = analyze(&[&name, "--root", "node"]);
        for c in v["connections"].as_array().unwrap() {
            if c["handshake"] != "completed" {
                continue;
            }
            for f in c["findings"].as_array().unwrap() {
                if f["layer"] == "tls" {
                    assert_ne!(f["severity"], "error", "{name} #{}: {f}", c["id"]);
                    assert_ne!(f["observed"], "confirmed", "{name} #{}: {f}", c["id"]);
                }
            }
        }
    }
}

/// Encrypted TLS 1.3 without keys is UNKNOWN, never OK, and --fail-on unknown counts it.
#[test]
fn an_outcome_not_seen_is_unknown_not_ok() {
    let v = analyze(&["tls13-openssl.pcap", "--root", "node"]);
    for c in v["connections"].as_array().unwrap() {
        assert!(
            s(&c["verdict"]).starts_with("UNKNOWN: encrypted"),
            "{}",
            c["verdict"]
        );
    }
    assert_eq!(v["summary"]["unknown_verdicts"], 2);
    let with_keys = analyze(&[
        "tls13-openssl.pcap",
        "--root",
        "node",
        "--keylog",
        "keylogs/tls13-openssl.pcap.keys",
    ]);
    assert_eq!(with_keys["connections"][0]["verdict"], "OK");
    for (args, status) in [
        (vec!["tls13-openssl.pcap", "--fail-on", "unknown"], 4),
        (vec!["tls13-openssl.pcap", "--fail-on", "warning"], 0),
        (
            vec![
                "tls13-openssl.pcap",
                "--keylog",
                "keylogs/tls13-openssl.pcap.keys",
                "--fail-on",
                "unknown",
            ],
            0,
        ),
    ] {
        let mut all = vec!["analyze"];
        all.extend(&args);
        all.extend(["--root", "node"]);
        assert_eq!(certwire(&all).status.code(), Some(status), "{args:?}");
    }
    // A handshake cut off by the filter is not OK either.
    let v = analyze(&["filtered-0x16.pcap", "--no-default-certs"]);
    assert!(!s(&v["connections"][0]["verdict"]).starts_with("OK"));
}

/// No local file searched, or none found: said once in every format, not "in no local
/// file" per certificate; a --certs path that does not exist is an error.
#[test]
fn no_local_files_is_said_once_in_every_format() {
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--no-default-certs"]);
    assert!(
        s(&v["notices"][0]).contains("no local files were searched"),
        "{}",
        v["notices"]
    );
    let v = analyze(&[
        "kubelet-rotated-tls12.pcap",
        "--root",
        "does-not-exist-here",
    ]);
    assert!(
        s(&v["notices"][0]).contains("no local certificate files found"),
        "{}",
        v["notices"]
    );
    for format in ["table", "markdown", "html"] {
        let out = certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--no-default-certs",
            "-f",
            format,
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text.matches("no local files were searched").count(),
            1,
            "{format}"
        );
        assert!(!text.contains("in no local file"), "{format}");
    }
    let out = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "--certs",
        "no/such/dir",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--certs no/such/dir: does not exist"));
}

/// The local file problems, with the --root hint, reach every renderer; --certs on a copy
/// of a node raises no wrong-file that --root does not.
#[test]
fn local_problems_reach_every_renderer_and_certs_is_no_worse_than_root() {
    for format in ["table", "markdown", "html"] {
        let out = certwire(&[
            "analyze",
            "kubeconfig-go-sll2.pcap",
            "--certs",
            "node",
            "-f",
            format,
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("kubelet-client-current.pem"), "{format}");
        assert!(text.contains("give its top folder with --root"), "{format}");
    }
    for capture in [
        "kubelet-rotated-tls12.pcap",
        "broken-certs.pcap",
        "rogue-ca-sll.pcap",
        "kubelet-serving-ipv6.pcapng",
    ] {
        let by_root = analyze(&[capture, "--root", "node"]);
        let by_certs = analyze(&[capture, "--certs", "node"]);
        for (i, c) in by_certs["connections"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            if c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "wrong-file")
            {
                assert!(
                    codes(&by_root, i + 1).contains(&("w".into(), "wrong-file".into())),
                    "{capture} #{}",
                    i + 1
                );
            }
        }
    }
}

/// Candidates not presented are certificates the node uses towards that server only.
#[test]
fn candidates_are_limited_to_the_connections_server() {
    let v = analyze(&["kubelet-serving-ipv6.pcapng", "--root", "node"]);
    for cand in v["connections"][0]["candidates_not_presented"]
        .as_array()
        .unwrap()
    {
        let path = s(&cand["path"]);
        assert!(
            !path.contains("/etcd/"),
            "an etcd certificate offered for a kubelet connection: {path}"
        );
        assert!(!path.contains("apiserver-etcd-client"), "{path}");
    }
}

/// TLS 1.3 without keys: an alert-sized answer to the client's flight is a warning that
/// names the inference; with the keys, the real causes (the Go server logged them, see
/// captures/README.md) replace it.
#[test]
fn an_inferred_rejection_is_a_warning_that_says_it_is_inferred() {
    let v = analyze(&["tls13-go.pcap", "--root", "node"]);
    for i in [2, 3] {
        let f = finding(&v, i, "probably-rejected");
        assert_eq!(f["severity"], "warning");
        assert!(
            s(&f["message"]).starts_with("inferred from record lengths"),
            "{f}"
        );
        assert_eq!(f["observed"], "unknown");
    }
    assert!(s(&v["connections"][0]["verdict"]).starts_with("UNKNOWN"));
    let v = analyze(&[
        "tls13-go.pcap",
        "--root",
        "node",
        "--keylog",
        "keylogs/tls13-go.pcap.keys",
    ]);
    assert_eq!(
        codes(&v, 2),
        set(&[
            ("e", "unknown-authority"),
            ("e", "tls-alert"),
            ("w", "wrong-file")
        ])
    );
    assert_eq!(
        codes(&v, 3),
        set(&[("e", "no-client-certificate"), ("e", "tls-alert")])
    );
    assert_eq!(
        finding(&v, 3, "no-client-certificate")["observed"],
        "confirmed"
    );
}

/// Without the ClientHello nothing is said about names: the SNI is unknown, not absent.
/// no-clienthello.pcap is broken-certs.pcap #3 (a no-ip-san rejection) without the packet
/// that carried the ClientHello.
#[test]
fn no_name_findings_without_a_client_hello() {
    let whole = analyze(&["broken-certs.pcap", "--root", "node"]);
    assert!(codes(&whole, 3).contains(&("e".into(), "no-ip-san".into())));
    let v = analyze(&["no-clienthello.pcap", "--root", "node"]);
    let c = &v["connections"][0];
    assert!(
        c["offered_tls_versions"].as_array().unwrap().is_empty(),
        "no ClientHello"
    );
    assert!(
        c["server_certificates"].is_array(),
        "the server's chain is whole"
    );
    let codes: Vec<String> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["code"]))
        .collect();
    assert!(codes.contains(&"name-not-judged".to_string()), "{codes:?}");
    assert!(
        !codes
            .iter()
            .any(|c| c == "no-ip-san" || c == "name-mismatch"),
        "{codes:?}"
    );
}
