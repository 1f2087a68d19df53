//! Kubernetes as it really behaves: captures of Go programs that serve and dial exactly as
//! kube-apiserver, the kubelet and client-go do, and of real etcd
//! (captures/scripts/capture-k8s.sh). What each connection did — handshake, alert, HTTP
//! status — and what each program logged come from those programs
//! (`expected/<capture>.outcome.json`, written by the script from their logs), never from
//! certwire. Each case below says which findings those facts call for; the test checks
//! certwire's findings, layers and log lines against both.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

/// Whose log a finding's `logged_as` must appear in.
#[derive(Clone, Copy, Debug)]
enum Log {
    Server,
    Client,
    /// A fact of the files, logged by nobody.
    None,
}

struct Case {
    capture: &'static str,
    args: &'static [&'static str],
    connection: usize,
    /// (severity initial, code, layer) of every non-info finding, and the log it is in.
    expect: &'static [(&'static str, &'static str, Option<&'static str>, Log)],
}

const CASES: &[Case] = &[
    // A client certificate from a same-name rogue CA: kube-apiserver completes the
    // handshake and answers 401.
    Case {
        capture: "k8s-apiserver-authn.pcap",
        args: &["--root", "node"],
        connection: 1,
        expect: &[
            (
                "e",
                "unknown-authority",
                Some("authentication"),
                Log::Server,
            ),
            ("w", "wrong-file", None, Log::None),
        ],
    },
    // Another node's kubelet, seen from the control plane: healthy, not a wrong file.
    Case {
        capture: "k8s-apiserver-authn.pcap",
        args: &["--root", "node"],
        connection: 2,
        expect: &[],
    },
    // An intermediate restricted to serverAuth: 401 (Go checks EKU along the chain).
    Case {
        capture: "k8s-apiserver-authn.pcap",
        args: &["--root", "node"],
        connection: 3,
        expect: &[(
            "e",
            "incompatible-key-usage",
            Some("authentication"),
            Log::Server,
        )],
    },
    Case {
        capture: "k8s-apiserver-authn.pcap",
        args: &["--root", "node"],
        connection: 4,
        expect: &[],
    },
    // kubectl with a stale ~/.kube/config (same-name CA of a re-initialised cluster): the
    // client rejects the server; the node copy has no manifests.
    Case {
        capture: "k8s-stale-kubeconfig.pcap",
        args: &["--root", "node-variants/no-manifests"],
        connection: 1,
        expect: &[
            ("e", "unknown-authority", Some("tls"), Log::Client),
            ("e", "tls-alert", Some("tls"), Log::Server),
        ],
    },
    // A serverTLSBootstrap serving certificate (serverAuth only), the apiserver without
    // --kubelet-certificate-authority: healthy.
    Case {
        capture: "k8s-kubelet.pcap",
        args: &["--root", "node-variants/tls-bootstrap"],
        connection: 1,
        expect: &[],
    },
    // A scraper with a bearer token and no client certificate: healthy.
    Case {
        capture: "k8s-kubelet.pcap",
        args: &["--root", "node-variants/tls-bootstrap"],
        connection: 2,
        expect: &[],
    },
    // The kubelet with no serving certificate yet: internal_error.
    Case {
        capture: "k8s-kubelet.pcap",
        args: &["--root", "node-variants/tls-bootstrap"],
        connection: 3,
        expect: &[
            ("e", "no-serving-certificate", Some("tls"), Log::Server),
            ("e", "tls-alert", Some("tls"), Log::Client),
        ],
    },
    // An etcd peer whose CN is not --peer-cert-allowed-cn: etcd rejects in the handshake.
    Case {
        capture: "k8s-etcd-peer.pcap",
        args: &["--root", "node-variants/etcd-allowed-cn"],
        connection: 1,
        expect: &[
            ("e", "peer-cn-not-allowed", Some("tls"), Log::Server),
            ("e", "tls-alert", Some("tls"), Log::Client),
        ],
    },
];

fn outcome(capture: &str, connection: usize) -> Value {
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("expected/{capture}.outcome.json"))).unwrap(),
    )
    .unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|o| o["connection"] == connection)
        .unwrap_or_else(|| panic!("{capture}: no outcome for connection {connection}"))
        .clone()
}

fn analyzed(capture: &str, args: &[&str]) -> Value {
    let mut all = vec![capture];
    all.extend_from_slice(args);
    analyze(&all)
}

#[test]
fn each_behaviour_capture_yields_exactly_what_the_programs_did() {
    for case in CASES {
        let what = format!("{} #{} {:?}", case.capture, case.connection, case.args);
        let v = analyzed(case.capture, case.args);
        let c = &v["connections"][case.connection - 1];
        let o = outcome(case.capture, case.connection);
        // The handshake and the alert, as the programs saw them.
        assert_eq!(c["handshake"], o["handshake"], "{what}");
        let fatal: Vec<&Value> = c["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["level"] == "fatal")
            .collect();
        match o["alert"].as_object() {
            None => assert!(fatal.is_empty(), "{what}: {fatal:?}"),
            Some(a) => {
                assert_eq!(fatal.len(), 1, "{what}");
                assert_eq!(fatal[0]["from"], a["from"], "{what}");
                assert_eq!(fatal[0]["code"], a["code"], "{what}");
            }
        }
        // Exactly the expected findings.
        let findings = c["findings"].as_array().unwrap();
        let got: BTreeSet<(String, String, Option<String>)> = findings
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| {
                (
                    s(&f["severity"])[..1].to_string(),
                    s(&f["code"]),
                    f["layer"].as_str().map(str::to_string),
                )
            })
            .collect();
        let want: BTreeSet<(String, String, Option<String>)> = case
            .expect
            .iter()
            .map(|(sev, code, layer, _)| {
                (sev.to_string(), code.to_string(), layer.map(str::to_string))
            })
            .collect();
        assert_eq!(got, want, "{what}");
        // What certwire says is logged is what the program logged, verbatim.
        for (_, code, _, log) in case.expect {
            let f = findings.iter().find(|f| f["code"] == *code).unwrap();
            let line = match log {
                Log::Server => s(&o["server_logged"]),
                Log::Client => s(&o["client_logged"]),
                Log::None => continue,
            };
            let logged = s(&f["logged_as"]);
            assert!(
                line.contains(&logged),
                "{what} {code}:\n certwire: {logged}\n program:  {line}"
            );
        }
        // The HTTP answer: 401 needs an authentication-layer error, 200 no error at all.
        let errors: Vec<&Value> = findings
            .iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        match o["http_status"].as_u64() {
            Some(401) => assert!(
                errors
                    .iter()
                    .any(|f| f["layer"] == "authentication" && f["observed"] == "unknown"),
                "{what}: 401 without an authentication error"
            ),
            Some(200) => assert!(errors.is_empty(), "{what}: {errors:?}"),
            _ => {}
        }
        // A completed handshake carries no TLS-layer error.
        if c["handshake"] == "completed" {
            assert!(!errors.iter().any(|f| f["layer"] == "tls"), "{what}");
        } else {
            assert!(
                findings
                    .iter()
                    .any(|f| f["observed"] == "confirmed" && f["code"] != "tls-alert"),
                "{what}: a failed handshake explained by a confirmed finding"
            );
        }
    }
}

/// The 401 finding says why the handshake completed, and the anchor it used.
#[test]
fn an_apiserver_rejection_is_explained_as_a_401() {
    let v = analyzed("k8s-apiserver-authn.pcap", &["--root", "node"]);
    let c = &v["connections"][0];
    assert_eq!(
        c["verdict"].as_str().unwrap().split(':').next(),
        Some("ERROR unknown-authority")
    );
    let f = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "unknown-authority")
        .unwrap();
    assert_eq!(f["observed"], "unknown");
    assert!(f["evidence"].to_string().contains("401"), "{f}");
    assert!(f["evidence"].to_string().contains("same name"), "{f}");
    // The other node's kubelet is recognised as such, and its certificate gets no
    // candidates from this node's kubelet files.
    let c2 = &v["connections"][1];
    assert!(c2["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "remote-node"));
    assert!(c2["candidates_not_presented"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["side"] != "client"));
}

/// Without the node's manifests the server's anchors are inferred from the
/// CertificateRequest's CA names, and the evidence says so (openssl s_server sent
/// unknown_ca for a client of the same-name rogue CA).
#[test]
fn anchors_are_inferred_when_the_configuration_is_missing() {
    let v = analyzed(
        "rogue-ca-sll.pcap",
        &["--root", "node-variants/no-manifests"],
    );
    for c in v["connections"].as_array().unwrap() {
        let f = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "unknown-authority")
            .unwrap_or_else(|| panic!("no unknown-authority: {}", c["findings"]));
        let evidence = f["evidence"].to_string();
        assert!(evidence.contains("inferred"), "{evidence}");
        assert!(evidence.contains("CertificateRequest"), "{evidence}");
        assert_eq!(f["observed"], "confirmed");
    }
    // The stale kubeconfig's anchor is inferred from its server: URL.
    let v = analyzed(
        "k8s-stale-kubeconfig.pcap",
        &["--root", "node-variants/no-manifests"],
    );
    let f = &v["connections"][0]["findings"][0];
    assert_eq!(f["code"], "unknown-authority");
    let evidence = f["evidence"].to_string();
    assert!(
        evidence.contains("root/.kube/config names the dialed server"),
        "{evidence}"
    );
    assert!(
        evidence.contains("admin.conf"),
        "the kubeconfig that would verify: {evidence}"
    );
    // With the plain node copy (no ~/.kube/config there) nothing is judged against a guess.
    let v = analyzed("k8s-stale-kubeconfig.pcap", &["--root", "node"]);
    let codes: Vec<String> = v["connections"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["code"]))
        .collect();
    assert_eq!(codes, ["tls-alert"], "only the alert, unexplained");
}

/// With the key log, the status of each connection's first HTTP response is read from the
/// decrypted application data: the one goclient logged ("goclient: got \"HTTP/1.1 NNN"),
/// and an authentication-layer prediction is `confirmed` by a 401 (no longer `unknown`).
/// Nothing else of the application data reaches the report: the response bodies the
/// servers sent (the Status object, "ok", the user's name in the 200 answer) are absent.
#[test]
fn the_first_http_status_is_seen_with_application_secrets_and_nothing_else() {
    let mut checked = 0;
    for capture in [
        "k8s-apiserver-authn.pcap",
        "k8s-kubelet.pcap",
        "k8s-stale-kubeconfig.pcap",
    ] {
        let keys = format!("keylogs/{capture}.keys");
        let v = analyzed(capture, &["--root", "node", "--keylog", &keys]);
        let all = serde_json::to_string(&v).unwrap();
        for (i, c) in v["connections"].as_array().unwrap().iter().enumerate() {
            let o = outcome(capture, i + 1);
            let what = format!("{capture} #{}", i + 1);
            assert_eq!(c["http_response"]["status"], o["http_status"], "{what}");
            if o["http_status"].is_number() {
                assert_eq!(c["http_response"]["protocol"], "http/1.1", "{what}");
                checked += 1;
            }
            if o["http_status"] == 401 {
                let auth: Vec<&Value> = c["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["layer"] == "authentication" && f["severity"] == "error")
                    .collect();
                assert!(
                    !auth.is_empty(),
                    "{what}: no authentication finding for a 401"
                );
                assert!(
                    auth.iter().all(|f| f["observed"] == "confirmed"),
                    "{what}: {auth:?}"
                );
            }
        }
        // Strings of the bodies (tshark shows them with the same keys) and request paths.
        for body in [
            "\"kind\":\"Status\"",
            "k8sserver.Authenticated",
            "\"authenticator\"",
            "serviceaccount:monitoring",
            "/metrics",
        ] {
            assert!(
                !all.contains(body),
                "{capture}: application data in the report: {body}"
            );
        }
    }
    assert!(checked >= 4, "only {checked} statuses checked");
}
