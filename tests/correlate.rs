//! Which local file each presented certificate came from, and which candidates were not
//! presented. Expected fingerprints come from `openssl x509 -fingerprint` of the files
//! (expected/files.json), never from certwire.

mod common;

use common::*;
use serde_json::Value;

fn leaf<'a>(c: &'a Value, side: &str) -> &'a Value {
    &c[side][0]
}

fn local(cert: &Value) -> Vec<(String, Option<String>, String, Vec<String>)> {
    cert["local_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                s(&m["path"]),
                m["entry"].as_str().map(str::to_string),
                s(&m["match"]),
                m["via"].as_array().unwrap().iter().map(s).collect(),
            )
        })
        .collect()
}

fn candidates(c: &Value, side: &str) -> Vec<(String, Option<String>, String, String)> {
    c["candidates_not_presented"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["side"] == side)
        .map(|x| {
            (
                s(&x["path"]),
                x["entry"].as_str().map(str::to_string),
                s(&x["sha256"]),
                s(&x["reason"]),
            )
        })
        .collect()
}

const KUBELET_CONF_CERT: &str =
    "node/etc/kubernetes/kubelet.conf#users[system:node:node1].client-certificate-data";
const ROTATED_NEW: &str = "node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem";
const ROTATED_OLD: &str = "node/var/lib/kubelet/pki/kubelet-client-2026-11-20-10-00-00.pem";

/// (b) The kubelet with rotation on presents the rotated cert through the
/// kubelet-client-current.pem symlink; kubelet.conf's cert and the older rotated one were not.
#[test]
fn rotated_kubelet_cert_is_found_through_the_current_symlink() {
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--root", "node"]);
    let c = &v["connections"][0];
    assert_eq!(c["role"], "kubelet-client");
    assert_eq!(c["server_role"], "kube-apiserver");
    let client = leaf(c, "client_certificates");
    assert_eq!(s(&client["sha256"]), sha_of(ROTATED_NEW));
    let m = local(client);
    assert_eq!(m[0].0, format!("{ROTATED_NEW}"));
    assert_eq!(m[0].2, "exact");
    assert!(
        m[0].3
            .contains(&"symlink:node/var/lib/kubelet/pki/kubelet-client-current.pem".to_string()),
        "{m:?}"
    );
    let not = candidates(c, "client");
    let shas: Vec<&str> = not.iter().map(|x| x.2.as_str()).collect();
    assert!(
        shas.contains(&sha_of(KUBELET_CONF_CERT).as_str()),
        "{not:?}"
    );
    assert!(shas.contains(&sha_of(ROTATED_OLD).as_str()), "{not:?}");
    assert!(!shas.contains(&sha_of(ROTATED_NEW).as_str()));
    let conf = not
        .iter()
        .find(|x| x.1.as_deref() == Some("users[system:node:node1].client-certificate-data"))
        .unwrap();
    assert_eq!(conf.0, "node/etc/kubernetes/kubelet.conf");
    assert!(conf.3.contains("same subject, different key"), "{conf:?}");
    // The server side: apiserver.crt, named by the apiserver's --tls-cert-file.
    let server = leaf(c, "server_certificates");
    assert_eq!(
        s(&server["sha256"]),
        sha_of("node/etc/kubernetes/pki/apiserver.crt")
    );
    let m = local(server);
    assert_eq!(m[0].0, "node/etc/kubernetes/pki/apiserver.crt");
    assert!(
        m[0].3
            .contains(&"flag:kube-apiserver --tls-cert-file".to_string()),
        "{m:?}"
    );
}

/// (a) With rotation off the kubelet presents the cert embedded in kubelet.conf.
#[test]
fn kubeconfig_embedded_cert_is_named_with_its_entry() {
    let v = analyze(&[
        "kubeconfig-go-sll2.pcap",
        "--certs",
        "node/etc/kubernetes",
        "--certs",
        "node/var/lib/kubelet/pki",
        "--root",
        "node",
    ]);
    let c = &v["connections"][0];
    let client = leaf(c, "client_certificates");
    assert_eq!(s(&client["sha256"]), sha_of(KUBELET_CONF_CERT));
    let m = local(client);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].0, "node/etc/kubernetes/kubelet.conf");
    assert_eq!(
        m[0].1.as_deref(),
        Some("users[system:node:node1].client-certificate-data")
    );
    assert!(m[0].3.contains(&format!("kubeconfig:{KUBELET_CONF_CERT}")));
    let not: Vec<String> = candidates(c, "client").into_iter().map(|x| x.2).collect();
    assert!(
        not.contains(&sha_of(ROTATED_NEW)) && not.contains(&sha_of(ROTATED_OLD)),
        "{not:?}"
    );
    assert!(!not.contains(&sha_of(KUBELET_CONF_CERT)));
    assert_eq!(
        v["local_certificates"]["searched"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// (c) A client cert from a rogue CA with the same name: no local twin in the node tree;
/// the node's own kubelet certs are listed as not presented, and the difference is the CA.
#[test]
fn rogue_ca_client_cert_has_no_local_twin() {
    let v = analyze(&["rogue-ca-sll.pcap", "--root", "node"]);
    let c = &v["connections"][0];
    let client = leaf(c, "client_certificates");
    assert_eq!(s(&client["sha256"]), sha_of("pki-extra/rogue-client.crt"));
    assert!(local(client).is_empty());
    let not = candidates(c, "client");
    let conf = not
        .iter()
        .find(|x| x.2 == sha_of(KUBELET_CONF_CERT))
        .expect("kubelet.conf cert listed");
    assert!(
        // Neutral about which same-name CA is wrong: the node's own file is not the rogue one.
        conf.3
            .contains("is not the presented certificate's issuer of that name")
            && !conf.3.contains("different CA"),
        "{conf:?}"
    );
    // With the rogue files searched too, the presented cert is found.
    let v = analyze(&["rogue-ca-sll.pcap", "--certs", "pki-extra"]);
    let m = local(leaf(&v["connections"][0], "client_certificates"));
    assert_eq!(m[0].0, "pki-extra/rogue-client.crt");
    assert_eq!(m[0].2, "exact");
}

/// Matching strength: identical bytes, same issuer+serial with other bytes, same key.
#[test]
fn same_serial_and_same_key_matches_are_told_apart() {
    let v = analyze(&[
        "kubelet-rotated-tls12.pcap",
        "--certs",
        "pki-variants",
        "--certs",
        "node/etc/kubernetes/pki/apiserver.crt",
    ]);
    let server = leaf(&v["connections"][0], "server_certificates");
    let m = local(server);
    let kinds: Vec<(&str, &str)> = m.iter().map(|x| (x.0.as_str(), x.2.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            ("node/etc/kubernetes/pki/apiserver.crt", "exact"),
            ("pki-variants/apiserver-same-serial.crt", "same-serial"),
            ("pki-variants/apiserver-reissued.crt", "same-key"),
        ]
    );
    // openssl agrees on what makes them so.
    let f = files();
    let api = &f["node/etc/kubernetes/pki/apiserver.crt"];
    assert_eq!(
        f["pki-variants/apiserver-same-serial.crt"]["serial"],
        api["serial"]
    );
    assert_ne!(
        f["pki-variants/apiserver-same-serial.crt"]["sha256"],
        api["sha256"]
    );
    assert_ne!(
        f["pki-variants/apiserver-reissued.crt"]["serial"],
        api["serial"]
    );
}

/// Broken local files are listed with the reason; the run goes on; keys are never read out.
#[test]
fn bad_local_files_are_reported_and_keys_never_printed() {
    let dir = std::env::temp_dir().join(format!("certwire-local-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("garbage.crt"), b"not a certificate at all").unwrap();
    std::fs::write(
        dir.join("bad.conf"),
        "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: bm90IHBlbQ==\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "apiVersion: v1\nkind: Config\nclusters: [\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink(
            "/nonexistent/kubelet-client-2020.pem",
            dir.join("dangling.pem"),
        )
        .unwrap();
    }
    let key_pem = std::fs::read_to_string(root().join(ROTATED_NEW)).unwrap();
    std::fs::copy(
        root().join(ROTATED_NEW),
        dir.join("kubelet-client-current.pem"),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    for format in ["json", "table", "markdown", "jsonl"] {
        let out = certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--certs",
            d,
            "--format",
            format,
        ]);
        assert_eq!(out.status.code(), Some(0), "{format}");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("PRIVATE KEY"),
            "{format} output mentions the key block"
        );
        for line in key_pem
            .lines()
            .skip_while(|l| !l.contains("PRIVATE KEY"))
            .skip(1)
        {
            if line.len() > 16 && !line.starts_with("-----") {
                assert!(
                    !text.contains(line),
                    "{format} output contains private key bytes"
                );
            }
        }
    }
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--certs", d]);
    let problems: Vec<String> = v["local_certificates"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", s(&p["path"]), s(&p["reason"])))
        .collect();
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("garbage.crt not a certificate"), "{problems:?}");
    assert!(
        has("failed to find any PEM data in certificate input"),
        "{problems:?}"
    );
    assert!(has("broken.yaml cannot parse kubeconfig"), "{problems:?}");
    #[cfg(unix)]
    assert!(has("dangling.pem symlink to /nonexistent"), "{problems:?}");
    // The cert+key file was read for its certificate.
    let m = local(leaf(&v["connections"][0], "client_certificates"));
    assert!(m[0].0.ends_with("kubelet-client-current.pem"), "{m:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without --certs the standard locations are searched (under --root here), and the report
/// says which; --no-default-certs turns that off.
#[test]
fn default_locations_are_searched_and_reported() {
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--root", "node"]);
    let searched: Vec<String> = v["local_certificates"]["searched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| s(&x["path"]))
        .collect();
    assert_eq!(
        searched,
        [
            "node/etc/kubernetes",
            "node/var/lib/kubelet/pki",
            "node/var/lib/kubelet/config.yaml",
            // The kubeconfig kubectl would use there (node/ has no home/).
            "node/root/.kube/config"
        ]
    );
    let v = analyze(&["kubelet-rotated-tls12.pcap", "--no-default-certs"]);
    assert!(v["local_certificates"].is_null());
    assert!(v["connections"][0]["client_certificates"][0]["local_files"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// The table and Markdown say the same, compactly.
#[test]
fn table_and_markdown_name_the_file_and_the_candidates() {
    for format in ["table", "markdown"] {
        let out = certwire(&[
            "analyze",
            "kubelet-rotated-tls12.pcap",
            "--root",
            "node",
            "--format",
            format,
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(
                "client[0] = node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem"
            ),
            "{format}:\n{text}"
        );
        assert!(
            text.contains("symlink:node/var/lib/kubelet/pki/kubelet-client-current.pem"),
            "{format}"
        );
        assert!(text.contains("NOT presented by the client: node/etc/kubernetes/kubelet.conf#users[system:node:node1].client-certificate-data"), "{format}");
        assert!(text.contains("kubelet-client → kube-apiserver"), "{format}");
    }
}
