//! `certwire node --probe` catches a server that serves something other than its
//! configured file ("renewed on disk, never restarted"): openssl s_server plays
//! kube-apiserver on 127.0.0.1:6443 inside a network namespace made for the test (so no
//! other test's listener is in the way), once with a re-issued certificate (served-differs)
//! and once with the configured file (no finding). Needs root and iproute2; SKIPPED
//! visibly otherwise.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

struct Netns(String);

impl Netns {
    fn new(name: &str) -> Option<Netns> {
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .ok()?
            .success()
            && Command::new("ip")
                .args(["netns", "exec", name, "ip", "link", "set", "lo", "up"])
                .status()
                .ok()?
                .success();
        ok.then(|| Netns(name.to_string()))
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Serve `cert` as kube-apiserver (127.0.0.1:6443 in the namespace) and audit the node.
fn probe_with(ns: &Netns, cert: &str) -> Value {
    let mut server = ns
        .cmd("openssl")
        .args(["s_server", "-accept", "127.0.0.1:6443", "-cert", cert])
        .args(["-key", "node/etc/kubernetes/pki/apiserver.key", "-quiet"])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let up = ns
            .cmd("bash")
            .args(["-c", "exec 3<>/dev/tcp/127.0.0.1/6443"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if up || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ns
        .cmd(env!("CARGO_BIN_EXE_certwire"))
        .args([
            "node",
            "--root",
            "node",
            "--at",
            "2026-11-29T12:00:00Z",
            "--probe",
            "-f",
            "json",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_renewed_but_not_restarted_apiserver_is_caught() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to make a network namespace");
        return;
    }
    let Some(ns) = Netns::new("certwire-node-probe") else {
        eprintln!("SKIPPED: `ip netns` is not available");
        return;
    };
    let differs = |v: &Value| -> Vec<Value> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "served-differs")
            .cloned()
            .collect()
    };
    // The re-issued certificate (same subject and key, another serial) is served.
    let v = probe_with(&ns, "pki-variants/apiserver-reissued.crt");
    let found = differs(&v);
    assert_eq!(found.len(), 1, "{:#}", v["findings"]);
    assert!(s(&found[0]["subject"]).ends_with("etc/kubernetes/pki/apiserver.crt"));
    assert_eq!(found[0]["severity"], "error");
    let probe = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["endpoint"] == "127.0.0.1:6443")
        .unwrap();
    // The served SHA-256 is the file's that openssl served (computed independently).
    let der = Command::new("openssl")
        .args([
            "x509",
            "-in",
            "pki-variants/apiserver-reissued.crt",
            "-outform",
            "DER",
        ])
        .current_dir(root())
        .output()
        .unwrap()
        .stdout;
    let sha = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&der)?;
            c.wait_with_output()
        })
        .unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(s(&probe["served_sha256"]), sha);
    // The configured file served: nothing to say.
    let v = probe_with(&ns, "node/etc/kubernetes/pki/apiserver.crt");
    assert!(differs(&v).is_empty(), "{:#}", v["findings"]);
}
