//! `certwire analyze --live lo` against real handshakes driven with openssl on loopback.
//! Needs root (CAP_NET_RAW) and openssl; CI runs it as root. Without them the test says
//! so on stderr and checks nothing else (the capability error itself is tested).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Start certwire live; returns once it says it is capturing, with its stdout lines.
fn start_live(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(["analyze", "--live", "lo"])
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            assert!(!line.contains("panicked"), "{line}");
            if line.contains("capturing on") {
                let _ = ready_tx.send(());
            }
            eprintln!("certwire: {line}");
        }
    });
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("certwire did not start capturing");
    (child, rx)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s_server(accept: &str, cert: &str, key: &str, extra: &[&str]) -> Server {
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            accept,
            "-cert",
            cert,
            "-key",
            key,
            "-CAfile",
            "node/etc/kubernetes/pki/ca.crt",
        ])
        .args(["-Verify", "1"])
        .args(extra)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it accepts connections (a probe connection is harmless: certwire is not
    // capturing while servers start).
    let addr: std::net::SocketAddr = accept.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "openssl s_server on {accept} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child)
}

/// One TLS 1.2 handshake (and an HTTP GET) with a client certificate; returns how many
/// bytes the server sent back.
fn s_client(connect: &str, cert: &str, key: &str, get: &str) -> usize {
    let mut c = Command::new("openssl")
        .args([
            "s_client", "-connect", connect, "-tls1_2", "-cert", cert, "-key", key, "-quiet",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("GET {get} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    let mut stdout = c.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        std::io::copy(&mut stdout, &mut std::io::sink()).unwrap_or(0) as usize
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap_or(0)
}

fn wait_exit(child: &mut Child, secs: u64) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("certwire did not stop within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A field of /proc/PID/status (`Uid`, `CapEff`, ...), as the kernel prints it.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether this process may change uid, gid and the bounding set (CAP_SETGID 6,
/// CAP_SETUID 7, CAP_SETPCAP 8): root in CI has them, a container's root may not.
fn can_drop_root() -> bool {
    u64::from_str_radix(&status_field(std::process::id(), "CapEff"), 16)
        .is_ok_and(|caps| caps & 0b111 << 6 == 0b111 << 6)
}

/// While certwire captures as root, it runs as nobody with no capability left: it gave
/// them up after opening the socket, the --write file and the node's files. The drop
/// happens before the "capturing on" line that start_live waits for.
fn assert_privileges_dropped(pid: u32) {
    let none = "0000000000000000";
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(pid, set), none, "{set} while capturing");
    }
    if !can_drop_root() {
        eprintln!("live_capture_on_loopback: uid/gid drop SKIPPED: this root lacks CAP_SETUID/CAP_SETGID/CAP_SETPCAP");
        return;
    }
    assert_eq!(status_field(pid, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Groups"), "");
    assert_eq!(status_field(pid, "CapBnd"), none);
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
}

const API_CRT: &str = "node/etc/kubernetes/pki/apiserver.crt";
const API_KEY: &str = "node/etc/kubernetes/pki/apiserver.key";
const KUBELET_CRT: &str = "node/var/lib/kubelet/pki/kubelet.crt";
const KUBELET_KEY: &str = "node/var/lib/kubelet/pki/kubelet.key";
const KUBELET_CLIENT: &str = "node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem";
const APISERVER_KUBELET_CRT: &str = "node/etc/kubernetes/pki/apiserver-kubelet-client.crt";
const APISERVER_KUBELET_KEY: &str = "node/etc/kubernetes/pki/apiserver-kubelet-client.key";

#[test]
fn live_capture_on_loopback() {
    if !is_root() || !have("openssl") {
        eprintln!("live_capture_on_loopback: SKIPPED: needs root and openssl (CI runs it as root)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("certwire-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let written = dir.join("handshakes.pcap");
    let _api = s_server("127.0.0.1:6443", API_CRT, API_KEY, &["-www"]);
    let _kubelet = s_server("[::1]:10250", KUBELET_CRT, KUBELET_KEY, &["-www"]);
    let _other = s_server("127.0.0.1:18443", API_CRT, API_KEY, &["-www"]);

    // --count stops it after four handshakes; the one on 18443 is not among them.
    let (mut live, lines) = start_live(&[
        "--format",
        "jsonl",
        "--count",
        "4",
        "--write",
        written.to_str().unwrap(),
    ]);
    assert_privileges_dropped(live.id());
    s_client("127.0.0.1:18443", KUBELET_CLIENT, KUBELET_CLIENT, "/");
    s_client("127.0.0.1:6443", KUBELET_CLIENT, KUBELET_CLIENT, "/");
    s_client(
        "[::1]:10250",
        APISERVER_KUBELET_CRT,
        APISERVER_KUBELET_KEY,
        "/",
    );
    s_client("127.0.0.1:6443", KUBELET_CLIENT, KUBELET_CLIENT, "/");
    s_client(
        "[::1]:10250",
        APISERVER_KUBELET_CRT,
        APISERVER_KUBELET_KEY,
        "/",
    );
    assert_eq!(wait_exit(&mut live, 30), 0);
    let lines: Vec<Value> = lines
        .try_iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    let conns: Vec<&Value> = lines
        .iter()
        .filter(|l| l["record"] == "connection")
        .collect();
    assert_eq!(conns.len(), 4, "{lines:?}");
    assert_eq!(lines.last().unwrap()["record"], "summary");
    let sha = |f: &str| sha_of(f);
    for c in &conns {
        assert_eq!(c["handshake"], "completed", "{c}");
        let server = s(&c["server"]);
        assert!(
            !server.ends_with(":18443"),
            "a port outside --ports was reported"
        );
        let (server_file, client_file) = if server == "127.0.0.1:6443" {
            (API_CRT, KUBELET_CLIENT)
        } else {
            assert_eq!(server, "[::1]:10250");
            (KUBELET_CRT, APISERVER_KUBELET_CRT)
        };
        assert_eq!(s(&c["server_certificates"][0]["sha256"]), sha(server_file));
        assert_eq!(s(&c["client_certificates"][0]["sha256"]), sha(client_file));
    }
    // The written file re-analyzes to the same handshakes.
    let again = analyze(&[written.to_str().unwrap(), "--no-default-certs"]);
    let key = |c: &Value| {
        (
            s(&c["client"]),
            s(&c["server"]),
            s(&c["server_certificates"][0]["sha256"]),
            s(&c["client_certificates"][0]["sha256"]),
        )
    };
    let mut a: Vec<_> = conns.iter().map(|c| key(c)).collect();
    let mut b: Vec<_> = again["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Loopback shows each packet going out and coming in; only one copy is kept.
    for c in again["connections"].as_array().unwrap() {
        assert_eq!(
            c["tcp"]["retransmitted_segments"], 0,
            "duplicates in the written file: {c}"
        );
    }

    // --duration stops it, with the summary (and the kernel's counters).
    let (mut live, lines) = start_live(&["--format", "json", "--duration", "1s"]);
    assert_eq!(wait_exit(&mut live, 20), 0);
    std::thread::sleep(Duration::from_millis(200));
    let doc: Value =
        serde_json::from_str(&lines.try_iter().collect::<Vec<_>>().join("\n")).unwrap();
    assert!(doc["inputs"][0]["kernel_drops"].is_u64(), "{doc}");

    // Ctrl-C (SIGINT) stops it cleanly: the summary is printed and --write is flushed.
    let sigint_file = dir.join("sigint.pcap");
    let (mut live, lines) = start_live(&[
        "--format",
        "jsonl",
        "--write",
        sigint_file.to_str().unwrap(),
    ]);
    s_client("127.0.0.1:6443", KUBELET_CLIENT, KUBELET_CLIENT, "/");
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-INT", &live.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(wait_exit(&mut live, 20), 0);
    std::thread::sleep(Duration::from_millis(200));
    let lines: Vec<Value> = lines
        .try_iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    assert_eq!(
        lines.last().map(|l| l["record"].clone()),
        Some(Value::from("summary")),
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l["record"] == "connection").count(),
        1
    );
    let again = analyze(&[sigint_file.to_str().unwrap(), "--no-default-certs"]);
    assert_eq!(again["connections"].as_array().unwrap().len(), 1);

    // Bulk data after a handshake does not grow memory: 32 MiB over 6443 after one
    // handshake costs one hash lookup per packet and no buffering.
    let big = root().join("node").join("certwire-live-bulk.bin");
    std::fs::write(&big, vec![0x5au8; 32 << 20]).unwrap();
    let _bulk = s_server("127.0.0.1:16443", API_CRT, API_KEY, &["-WWW"]);
    drop(_api);
    let _api = s_server("127.0.0.1:6443", API_CRT, API_KEY, &["-WWW"]);
    let (mut live, _lines) = start_live(&["--format", "jsonl", "--duration", "20s"]);
    let pid = live.id();
    s_client(
        "127.0.0.1:6443",
        KUBELET_CLIENT,
        KUBELET_CLIENT,
        "/node/etc/kubernetes/pki/ca.crt",
    );
    let before = rss_kib(pid);
    let received = s_client(
        "127.0.0.1:6443",
        KUBELET_CLIENT,
        KUBELET_CLIENT,
        "/node/certwire-live-bulk.bin",
    );
    let after = rss_kib(pid);
    assert!(
        received >= 32 << 20,
        "the bulk transfer did not happen ({received} bytes)"
    );
    let _ = std::fs::remove_file(&big);
    let _ = live.kill();
    let _ = live.wait();
    assert!(before > 0 && after > 0);
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB during bulk data"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without CAP_NET_RAW the error says what is missing, with exit status 5.
#[test]
fn live_without_the_capability_says_what_is_missing() {
    if !is_root() || !have("setpriv") {
        eprintln!("live_without_the_capability_says_what_is_missing: SKIPPED: needs root and setpriv to drop privileges");
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_certwire"))
        .args(["analyze", "--live", "lo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    // An unknown interface lists the ones there are.
    let out = certwire(&["analyze", "--live", "nosuch0"]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown interface nosuch0") && err.contains("lo"),
        "{err}"
    );
}
