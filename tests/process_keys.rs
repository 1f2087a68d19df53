//! `certwire analyze --live lo --keys-from-processes` / `--keys-from`: TLS 1.3 secrets taken
//! from Go processes by an eBPF uprobe on `crypto/tls.(*Config).writeKeyLog`, against real Go
//! programs on loopback: captures/scripts/goserver + goclient (built three ways), Google Cloud
//! SDK's kubectl against captures/scripts/k8sserver -h2, and Debian's etcd + etcdctl.
//!
//! Needs root, a kernel with the uprobe PMU (/sys/bus/event_source/devices/uprobe) and the
//! programs; without them, or when certwire says the kernel refused the probe, each test
//! prints `SKIPPED: <reason>` on stderr and checks nothing else. The tests share `lo`, so they
//! run one at a time (a static Mutex), each on its own ports. Expected values never come from
//! certwire: certificate hashes and subjects from `openssl x509`, outcomes from what the
//! programs themselves logged, decrypted evidence from tshark.

// Every external command was first run by hand (Debian 12: go 1.19.8, etcd/etcdctl 3.4.23
// built with go1.19.8 and stripped, kubectl = /usr/bin/kubectl -> Google Cloud SDK's
// /usr/lib/google-cloud-sdk/bin/kubectl "v1.32.4-dispatcher", go1.23.8, stripped, static;
// tshark 4.0.17; OpenSSL 3.0). What they printed:
//
// * `go build -buildvcs=false [-ldflags=-s -w | -buildmode=pie -ldflags=-s -w] -o OUT .` in
//   captures/scripts/{goserver,goclient,k8sserver}, GOFLAGS=-mod=mod (CGO_ENABLED=0 except for
//   PIE, which then links dynamically with an ELF interpreter, like Debian's etcd): readelf
//   shows EXEC with .symtab, EXEC without .symtab, DYN without .symtab.
// * goserver -addr 127.0.0.1:P -cert node/var/lib/kubelet/pki/kubelet.crt -key ... -clientca
//   ca.crt -n 1 -max 1.3, then goclient -addr 127.0.0.1:P -cert apiserver-kubelet-client.crt
//   -key ... -ca ca.crt -max 1.3 -get /PATH:
//     `goserver: conn 1: handshake ok from 127.0.0.1:54144: version=0x0304
//      cipher=TLS_AES_128_GCM_SHA256 alpn="http/1.1" client certs=1
//      (CN=kube-apiserver-kubelet-client,O=system:masters)`
//     `goserver: conn 1: got "GET /PATH HTTP/1.1\r\n"`
//     `goclient: handshake ok: version=0x0304 cipher=TLS_AES_128_GCM_SHA256 alpn="http/1.1" peer certs=1`
//     `goclient: got "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n...ok\n"`
// * k8sserver -h2 -mode apiserver -addr 127.0.0.1:P -cert apiserver.crt -key apiserver.key
//   -clientca ca.crt,front-proxy-ca.crt, kubectl with HOME set to an empty directory:
//   - the kubectl "dispatcher" first sends GET <server path>/version?timeout=5s, on the same h2
//     connection as the command's own request. With a real apiserver's answer
//     ({"gitVersion":"v1.31.2",...}) it then EXECs /usr/lib/google-cloud-sdk/bin/kubectl.1.31
//     (strace: execve("/usr/lib/google-cloud-sdk/bin/kubectl.1.31", ...), same pid) and that
//     other file opens a second connection; k8sserver's /version answer has no gitVersion, so
//     here it never execs (strace: one execve). It caches /version under $HOME/.kube/cache/http
//     (across users: a cached 401 or 200 suppresses the next /version request), hence a
//     fresh HOME per run.
//   - kubeconfig with a client certificate issued by a rogue CA also named CN=kubernetes (and a
//     bearer token the server does not accept): exit status 1, stderr
//     `error: You must be logged in to the server (Unauthorized)`; k8sserver:
//     `E1129 10:46:21.114570 528 authentication.go:73] "Unable to authenticate the request"
//      err="[x509: certificate signed by unknown authority, verifying certificate SN=4243,
//      SKID=04:B0:..., AKID= failed: x509: certificate signed by unknown authority (possibly
//      because of \"crypto/rsa: verification error\" while trying to verify candidate authority
//      certificate \"kubernetes\"), invalid bearer token]"`
//     `k8sserver[apiserver]: request 2 (connection 1, 127.0.0.1:40006) GET /api/...: TLS 1.3
//      TLS_AES_128_GCM_SHA256, ALPN "h2", client certificates
//      ["CN=kubernetes-admin,O=system:masters"] -> not authenticated -> 401`
//   - admin.conf (server URL changed): exit 0, stdout `{"kind":"k8sserver.Authenticated",
//     "user":"kubernetes-admin","groups":["system:masters"],"authenticator":"x509","path":...}`,
//     k8sserver `... -> authenticated as user "kubernetes-admin" groups ["system:masters"] by
//     x509 -> 200`.
//   - kubectl (go1.23) offers X25519Kyber768Draft00 (0x6399) + x25519 key shares (a 1.5 KB
//     ClientHello); k8sserver (go1.19) picks x25519 without a HelloRetryRequest.
//   - `--raw PATH` ignores a path in the kubeconfig's server URL; the dispatcher's /version
//     request does not (`GET /certwire-canary-prefix/version`).
// * etcd --listen-client-urls https://127.0.0.1:P --client-cert-auth --trusted-ca-file
//   etcd/ca.crt --cert-file etcd/server.crt --key-file etcd/server.key (server.crt SANs: DNS:node1,
//   DNS:localhost, IP:127.0.0.1, IP:::1) logs `embed: serving client requests on 127.0.0.1:P`.
//   - `ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:P --cacert etcd/ca.crt --cert
//     etcd/healthcheck-client.crt --key ... put K V` prints `OK` (one connection; `endpoint
//     status` makes two). tshark: ServerHello supported_version 0x0304, TLS_AES_128_GCM_SHA256,
//     ClientHello ALPN h2 (gRPC), no SNI.
//   - the same with a client certificate from a rogue CA also named CN=etcd-ca (PrintableString,
//     as the real one): etcdctl retries (two connections a second) until --command-timeout and
//     exits 1 with `Error: context deadline exceeded` (the TLS error is not shown); etcd logs, once
//     per connection:
//     `embed: rejected connection from "127.0.0.1:49548" (error "tls: failed to verify client
//      certificate: x509: certificate signed by unknown authority (possibly because of
//      \"crypto/rsa: verification error\" while trying to verify candidate authority
//      certificate \"etcd-ca\")", ServerName "")`
//   - the alert, checked independently: goclient -max 1.3 -alpn h2 -keylog K with the same rogue
//     certificate against the same etcd, tshark -o tls.keylog_file:K: the server sends
//     `Alert (Level: Fatal, Description: Bad Certificate)` (42) after the client's Finished;
//     goclient: `goclient: read: remote error: tls: bad certificate`. With only the
//     *_HANDSHAKE_TRAFFIC_SECRET lines of K tshark shows that alert as "Application Data": Go's
//     server encrypts it with its APPLICATION traffic secret (it switched keys after sending its
//     Finished), so a handshake-secrets-only evidence file cannot show the rejection.
//   - Go clients that use tls.Config.Certificates (goclient) do not send a certificate whose
//     issuer is not in the CertificateRequest's CA list (etcd then logs `tls: client didn't
//     provide a certificate`); etcdctl and client-go use GetClientCertificate and always send
//     theirs. Hence rogue CAs with the real CA's exact name.
// * tshark -r FILE.pcapng -Y tls.handshake.type==11 -T fields -e tls.handshake.certificate gives
//   the DER in hex (comma-separated per chain) once the DSB has the handshake secrets; with only
//   those, `-Y "http || http2"` prints nothing; with the application secrets too it prints the
//   h2 HEADERS (:path, :status) even on a port tshark does not know (ALPN picks http2).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

// ------------------------------------------------------------------ preconditions

static LO: Mutex<()> = Mutex::new(());

/// One scenario at a time on `lo` (a failed one must not block the others).
fn serial() -> MutexGuard<'static, ()> {
    LO.lock().unwrap_or_else(|e| e.into_inner())
}

fn skipped(test: &str, why: &str) {
    eprintln!("{test}: SKIPPED: {why}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn which(cmd: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && p.starts_with('/')).then(|| PathBuf::from(p))
}

/// Why this test cannot run here, if it cannot: root, the uprobe PMU, the tools.
fn cannot_run(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root (uprobes and CAP_NET_RAW); CI runs it as root".into());
    }
    if !Path::new("/sys/bus/event_source/devices/uprobe").exists() {
        return Some(
            "the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe is missing)".into(),
        );
    }
    for t in tools {
        if which(t).is_none() {
            return Some(format!("{t} is not installed"));
        }
    }
    None
}

// ------------------------------------------------------------------ files and tools

fn pki(rel: &str) -> PathBuf {
    root().join("node/etc/kubernetes/pki").join(rel)
}

fn ps(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// bash -c SCRIPT with $1... = args (pipefail on); stdout, or the test fails.
fn bash(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -eo pipefail; {script}"))
        .arg("bash")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash -c {script:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn first_word(s: &str) -> String {
    let w = s.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(w.len(), 64, "not a SHA-256: {s:?}");
    w
}

/// SHA-256 of a PEM certificate's DER, by openssl and sha256sum.
fn der_sha256(pem: &Path) -> String {
    first_word(&bash(
        "openssl x509 -in \"$1\" -outform DER | sha256sum",
        &[ps(pem)],
    ))
}

/// SHA-256 of the DER of a kubeconfig's (first) client-certificate-data.
fn kubeconfig_client_sha256(kubeconfig: &Path) -> String {
    first_word(&bash(
        "sed -n 's/^ *client-certificate-data: *//p' \"$1\" | head -n 1 | base64 -d | openssl x509 -outform DER | sha256sum",
        &[ps(kubeconfig)],
    ))
}

/// sha256sum of some bytes.
fn sha256sum(bytes: &[u8]) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = c.wait_with_output().unwrap();
    first_word(&String::from_utf8_lossy(&out.stdout))
}

/// The subject of a PEM certificate as `openssl x509 -noout -subject -nameopt RFC2253`.
fn subject_rfc2253(pem: &Path) -> String {
    bash(
        "openssl x509 -in \"$1\" -noout -subject -nameopt RFC2253",
        &[ps(pem)],
    )
    .trim()
    .strip_prefix("subject=")
    .expect("openssl prints subject=...")
    .to_string()
}

/// A CA named exactly like `real_ca` (same subject, PrintableString as Go and kubeadm encode
/// it, so Go clients that filter by the CertificateRequest's CA names still send the leaf),
/// with a new key, and a clientAuth leaf `subj` issued by it: what a stale or foreign PKI
/// looks like. Returns (cert, key) of the leaf.
fn rogue_client(dir: &Path, name: &str, real_ca: &Path, subj: &str) -> (PathBuf, PathBuf) {
    let ca_subject = format!("/{}", subject_rfc2253(real_ca).replace(',', "/"));
    let cnf = dir.join("rogue-ca.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name=dn\nstring_mask=pkix\nprompt=no\n[dn]\n",
    )
    .unwrap();
    let ext = dir.join("client-ext.cnf");
    std::fs::write(
        &ext,
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    )
    .unwrap();
    let ca = dir.join(format!("{name}-ca.crt"));
    let ca_key = dir.join(format!("{name}-ca.key"));
    let crt = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    bash(
        "openssl req -x509 -config \"$1\" -newkey rsa:2048 -nodes -keyout \"$2\" -out \"$3\" -subj \"$4\" -days 3650 2>/dev/null",
        &[ps(&cnf), ps(&ca_key), ps(&ca), &ca_subject],
    );
    bash(
        "openssl req -new -newkey rsa:2048 -nodes -keyout \"$1\" -subj \"$2\" 2>/dev/null | openssl x509 -req -CA \"$3\" -CAkey \"$4\" -set_serial 4242 -days 365 -extfile \"$5\" -out \"$6\" 2>/dev/null",
        &[ps(&key), subj, ps(&ca), ps(&ca_key), ps(&ext), ps(&crt)],
    );
    // The same issuer name as the real CA, another key.
    assert_eq!(
        bash(
            "openssl x509 -in \"$1\" -noout -issuer -nameopt RFC2253",
            &[ps(&crt)]
        )
        .trim(),
        format!("issuer={}", subject_rfc2253(real_ca))
    );
    (crt, key)
}

// ------------------------------------------------------------------ Go programs

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// CGO_ENABLED=0 go build: static, with .symtab.
    Normal,
    /// -ldflags=-s -w: no .symtab, no DWARF (only .gopclntab names functions).
    Stripped,
    /// -buildmode=pie -ldflags=-s -w (cgo on: dynamically linked, ELF type DYN).
    Pie,
}

impl Variant {
    fn suffix(self) -> &'static str {
        match self {
            Variant::Normal => "",
            Variant::Stripped => "-stripped",
            Variant::Pie => "-pie",
        }
    }
    fn flags(self) -> &'static [&'static str] {
        match self {
            Variant::Normal => &[],
            Variant::Stripped => &["-ldflags=-s -w"],
            Variant::Pie => &["-buildmode=pie", "-ldflags=-s -w"],
        }
    }
}

struct GoBins {
    dir: PathBuf,
}

impl GoBins {
    fn path(&self, prog: &str, v: Variant) -> PathBuf {
        self.dir.join(format!("{prog}{}", v.suffix()))
    }
}

/// This run's scratch directory; those of earlier runs whose process is gone are removed.
fn scratch_root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("certwire-process-keys-") {
                    if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = tmp.join(format!("certwire-process-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
    .clone()
}

/// A fresh directory for one scenario (removed by the scenario when it passes).
fn scratch(name: &str) -> PathBuf {
    let d = scratch_root().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// goserver, goclient (three variants each) and k8sserver, built once per test run.
fn go_bins() -> Result<&'static GoBins, String> {
    static BINS: OnceLock<Result<GoBins, String>> = OnceLock::new();
    BINS.get_or_init(|| {
        if which("go").is_none() {
            return Err("go is not installed (captures/scripts are built with it)".into());
        }
        let dir = scratch_root().join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        let all = [Variant::Normal, Variant::Stripped, Variant::Pie];
        for (prog, variants) in [
            ("goserver", &all[..]),
            ("goclient", &all[..]),
            ("k8sserver", &all[..1]),
        ] {
            for &v in variants {
                let out_path = dir.join(format!("{prog}{}", v.suffix()));
                let mut cmd = Command::new("go");
                cmd.args(["build", "-buildvcs=false"])
                    .args(v.flags())
                    .arg("-o")
                    .arg(&out_path)
                    .arg(".")
                    .current_dir(root().join("scripts").join(prog))
                    .env("GOFLAGS", "-mod=mod");
                if v != Variant::Pie {
                    cmd.env("CGO_ENABLED", "0");
                }
                let out = cmd.output().unwrap();
                assert!(
                    out.status.success(),
                    "go build {prog} {v:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(GoBins { dir })
    })
    .as_ref()
    .map_err(|e| e.clone())
}

// ------------------------------------------------------------------ processes

/// A background program with its output in a log file; killed when dropped.
struct Bg {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bg {
    fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Bg {
        let f = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Bg {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Wait until the log says `needle` (the program is ready).
    fn wait_for(&mut self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.log().contains(needle) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({st}) before saying {needle:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not say {needle:?} within {secs}s:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for the program to exit by itself (e.g. goserver -n 1); false if it did not.
    fn wait_exit(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// A client program run to its end.
struct Ran {
    pid: u32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(name: &str, cmd: &mut Command, secs: u64) -> Ran {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let pid = child.id();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let r = Ran {
        pid,
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    eprintln!(
        "    [{name} pid {pid} exit {:?}]\n    stdout: {}\n    stderr: {}",
        r.code,
        r.stdout.trim_end(),
        r.stderr.trim_end()
    );
    r
}

// ------------------------------------------------------------------ certwire live

struct Live {
    child: Child,
    out: Option<JoinHandle<Vec<String>>>,
    err: Option<JoinHandle<Vec<String>>>,
    /// The `certwire: keys: ` lines printed before capturing started.
    keys: Vec<String>,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one certwire run printed.
struct Report {
    records: Vec<Value>,
    stdout: String,
    stderr: String,
}

/// Start `certwire analyze --live lo --format jsonl --no-default-certs ARGS`; returns once it
/// says it is capturing. Err(reason) when the kernel refused the probes (the test is skipped).
fn start_live(args: &[String]) -> Result<Live, String> {
    eprintln!("    [certwire analyze --live lo {}]", args.join(" "));
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args([
            "analyze",
            "--live",
            "lo",
            "--format",
            "jsonl",
            "--no-default-certs",
            "--duration",
            "120s",
        ])
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("    [certwire stderr] {line}");
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut live = Live {
        child,
        out: Some(out),
        err: None,
        keys: Vec::new(),
    };
    // Reading a 57 MB kubectl's symbol table in a debug build takes a while.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                assert!(!line.contains("panicked"), "{line}");
                if line.starts_with("certwire: keys: ") {
                    live.keys.push(line.clone());
                }
                if line.contains("capturing on") {
                    break;
                }
            }
            Err(_) => {
                let _ = live.child.kill();
                let status = live.child.wait();
                let lines = err.join().unwrap_or_default();
                panic!(
                    "certwire did not start capturing ({status:?}):\n{}",
                    lines.join("\n")
                );
            }
        }
    }
    live.err = Some(err);
    let refused = live
        .keys
        .iter()
        .find(|l| l.contains("kernel refused") || l.contains("cannot be taken from processes"))
        .cloned();
    match refused {
        Some(line) => Err(format!("the kernel refused the uprobe: {line}")),
        None => Ok(live),
    }
}

impl Live {
    /// The result part of the `certwire: keys: PATH ...` line for this executable (the path
    /// printed may be the one given or the file it resolves to).
    fn keys_line_for(&self, binary: &Path) -> Option<&String> {
        let want = std::fs::canonicalize(binary).unwrap();
        self.keys.iter().find(|l| {
            let path = l["certwire: keys: ".len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':');
            std::fs::canonicalize(path).is_ok_and(|p| p == want)
        })
    }

    fn assert_attached(&self, binary: &Path) {
        let line = self.keys_line_for(binary).unwrap_or_else(|| {
            panic!(
                "no `certwire: keys: {}` line in:\n{}",
                binary.display(),
                self.keys.join("\n")
            )
        });
        assert!(line.contains("attached"), "{line}");
    }

    /// SIGINT (after a moment for the last packets and secrets), then everything it printed.
    fn stop(mut self) -> Report {
        std::thread::sleep(Duration::from_millis(700));
        assert!(Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("certwire did not stop within 30s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.out.take().unwrap().join().unwrap();
        let stderr = self.err.take().unwrap().join().unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "certwire's exit status; stderr:\n{}",
            stderr.join("\n")
        );
        for l in &stdout {
            eprintln!("    [certwire stdout] {l}");
        }
        let records = stdout
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        Report {
            records,
            stdout: stdout.join("\n"),
            stderr: stderr.join("\n"),
        }
    }
}

impl Report {
    fn connections_to(&self, server: &str) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["record"] == "connection" && r["server"] == server)
            .collect()
    }

    /// Nothing of the application data reaches certwire's output.
    fn assert_free_of<S: AsRef<str>>(&self, canaries: &[S]) {
        for c in canaries.iter().map(AsRef::as_ref) {
            assert!(
                !self.stdout.contains(c),
                "application data {c:?} in certwire's stdout"
            );
            assert!(
                !self.stderr.contains(c),
                "application data {c:?} in certwire's stderr"
            );
        }
    }
}

fn sha_at(c: &Value, side: &str, i: usize) -> String {
    s(&c[format!("{side}_certificates")][i]["sha256"])
}

/// The connection's key_sources name processes, each one of `procs` (pid, executable).
fn assert_process_sources(c: &Value, procs: &[(u32, &Path)]) {
    let sources = c["key_sources"]
        .as_array()
        .unwrap_or_else(|| panic!("no key_sources: {c}"));
    let processes: Vec<&Value> = sources.iter().filter(|k| k["kind"] == "process").collect();
    assert!(!processes.is_empty(), "no process among key_sources: {c}");
    for k in processes {
        let pid = k["pid"].as_u64().unwrap_or_else(|| panic!("pid: {k}")) as u32;
        let (_, exe) = procs
            .iter()
            .find(|(p, _)| *p == pid)
            .unwrap_or_else(|| panic!("key source {k}: pid {pid} is none of {procs:?}"));
        let shown = std::fs::canonicalize(s(&k["binary"]))
            .unwrap_or_else(|e| panic!("key source {k}: binary: {e}"));
        assert_eq!(shown, std::fs::canonicalize(exe).unwrap(), "{k}");
        // The kernel's comm: the file name the program was exec'd as, cut at 15 bytes.
        let name = exe.file_name().unwrap().to_string_lossy().to_string();
        let comm: String = name.chars().take(15).collect();
        assert_eq!(s(&k["command"]), comm, "{k}");
    }
}

fn assert_no_fatal_alert(c: &Value) {
    for a in c["alerts"].as_array().unwrap_or(&Vec::new()) {
        assert_ne!(a["level"], "fatal", "{c}");
    }
}

// ------------------------------------------------------------------ a. Go mutual TLS 1.3

const AKC_CRT: &str = "apiserver-kubelet-client.crt";
const AKC_KEY: &str = "apiserver-kubelet-client.key";

/// kube-apiserver -> kubelet: goserver serving the kubelet's kubelet.crt, requiring a client
/// certificate from ca.crt; goclient as the apiserver with apiserver-kubelet-client.crt; TLS
/// 1.3 and one HTTP/1.1 GET. `discover`: the server runs before certwire starts and only
/// socket discovery (--keys-from-processes) finds it; the client is named.
fn go_mutual_tls(test: &str, v: Variant, port: u16, discover: bool) {
    let _lo = serial();
    if let Some(why) = cannot_run(&["go", "openssl"]) {
        return skipped(test, &why);
    }
    let bins = match go_bins() {
        Ok(b) => b,
        Err(why) => return skipped(test, &why),
    };
    let dir = scratch(test);
    let (server_bin, client_bin) = (bins.path("goserver", v), bins.path("goclient", v));
    let kubelet_crt = root().join("node/var/lib/kubelet/pki/kubelet.crt");
    let kubelet_key = root().join("node/var/lib/kubelet/pki/kubelet.key");
    let addr = format!("127.0.0.1:{port}");
    let canary = format!("/certwire-canary-{}-{port}", std::process::id());
    let server_cmd = |bin: &Path| {
        let mut c = Command::new(bin);
        c.args(["-addr", &addr, "-n", "1", "-max", "1.3"])
            .args(["-cert", ps(&kubelet_crt), "-key", ps(&kubelet_key)])
            .args(["-clientca", ps(&pki("ca.crt"))]);
        c
    };

    let mut args: Vec<String> = vec!["--ports".into(), port.to_string()];
    let mut server = None;
    if discover {
        let mut srv = Bg::spawn(
            "goserver",
            &mut server_cmd(server_bin.as_path()),
            &dir.join("server.log"),
        );
        srv.wait_for("listening on", 10);
        server = Some(srv);
        args.push("--keys-from-processes".into());
    } else {
        args.extend(["--keys-from".into(), ps(&server_bin).to_string()]);
    }
    args.extend(["--keys-from".into(), ps(&client_bin).to_string()]);
    let live = match start_live(&args) {
        Ok(l) => l,
        Err(why) => return skipped(test, &why),
    };
    live.assert_attached(&server_bin);
    live.assert_attached(&client_bin);
    let mut server = server.unwrap_or_else(|| {
        let mut srv = Bg::spawn(
            "goserver",
            &mut server_cmd(server_bin.as_path()),
            &dir.join("server.log"),
        );
        srv.wait_for("listening on", 10);
        srv
    });
    let client = run(
        "goclient",
        Command::new(&client_bin)
            .args(["-addr", &addr, "-max", "1.3", "-get", &canary])
            .args(["-cert", ps(&pki(AKC_CRT)), "-key", ps(&pki(AKC_KEY))])
            .args(["-ca", ps(&pki("ca.crt"))]),
        20,
    );
    assert!(
        server.wait_exit(10),
        "goserver did not exit after its connection"
    );
    let report = live.stop();
    let server_log = server.log();
    eprintln!("    [goserver log]\n{server_log}");

    // What the programs say happened.
    assert_eq!(client.code, Some(0), "goclient failed");
    assert!(
        client
            .stderr
            .contains("goclient: handshake ok: version=0x0304"),
        "{}",
        client.stderr
    );
    assert!(client.stderr.contains("HTTP/1.1 200 OK"));
    let ok_line = server_log
        .lines()
        .find(|l| l.contains("handshake ok from "))
        .unwrap_or_else(|| panic!("goserver: no handshake: {server_log}"));
    assert!(
        ok_line.contains("version=0x0304")
            && ok_line
                .contains("client certs=1 (CN=kube-apiserver-kubelet-client,O=system:masters)"),
        "{ok_line}"
    );
    let client_addr = ok_line
        .split("handshake ok from ")
        .nth(1)
        .unwrap()
        .split(": version=")
        .next()
        .unwrap()
        .to_string();
    let cipher = ok_line
        .split("cipher=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    // What certwire says.
    let conns = report.connections_to(&addr);
    assert_eq!(conns.len(), 1, "{:?}", report.records);
    let c = conns[0];
    assert_eq!(c["client"], client_addr.as_str(), "{c}");
    assert_eq!(c["visibility"], "decrypted", "{c}");
    assert_eq!(c["tls_version"], "1.3", "{c}");
    assert_eq!(c["cipher_suite"], cipher.as_str(), "{c}");
    assert_eq!(c["handshake"], "completed", "{c}");
    assert_eq!(c["alpn_selected"], "http/1.1", "{c}");
    assert_no_fatal_alert(c);
    // Go sends the leaf only.
    assert_eq!(
        c["server_certificates"].as_array().map(Vec::len),
        Some(1),
        "{c}"
    );
    assert_eq!(
        c["client_certificates"].as_array().map(Vec::len),
        Some(1),
        "{c}"
    );
    assert_eq!(sha_at(c, "server", 0), der_sha256(&kubelet_crt));
    assert_eq!(sha_at(c, "client", 0), der_sha256(&pki(AKC_CRT)));
    assert_eq!(
        c["certificate_request"]["ca_names"],
        json!([subject_rfc2253(&pki("ca.crt"))]),
        "{c}"
    );
    assert_eq!(
        c["http_response"],
        json!({"status": 200, "protocol": "http/1.1"}),
        "{c}"
    );
    assert_process_sources(
        c,
        &[
            (server.pid(), server_bin.as_path()),
            (client.pid, client_bin.as_path()),
        ],
    );
    report.assert_free_of(&[canary.as_str(), "hello from goclient"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn go_mutual_tls13_static_binaries() {
    go_mutual_tls(
        "go_mutual_tls13_static_binaries",
        Variant::Normal,
        26441,
        false,
    );
}

#[test]
fn go_mutual_tls13_stripped_binaries() {
    go_mutual_tls(
        "go_mutual_tls13_stripped_binaries",
        Variant::Stripped,
        26442,
        false,
    );
}

#[test]
fn go_mutual_tls13_stripped_pie_binaries() {
    go_mutual_tls(
        "go_mutual_tls13_stripped_pie_binaries",
        Variant::Pie,
        26443,
        false,
    );
}

#[test]
fn go_mutual_tls13_server_found_by_its_socket() {
    go_mutual_tls(
        "go_mutual_tls13_server_found_by_its_socket",
        Variant::Pie,
        26444,
        true,
    );
}

// ------------------------------------------------------------------ b. kubectl, HTTP/2

struct K8s {
    dir: PathBuf,
    kubectl: PathBuf,
    server: Bg,
    server_bin: PathBuf,
    /// kubeconfig with a rogue-CA client certificate (files) and a bearer token.
    rogue: PathBuf,
    rogue_crt: PathBuf,
    /// admin.conf with the server URL changed (embedded data).
    admin: PathBuf,
    canaries: Vec<String>,
    runs: usize,
}

/// k8sserver -h2 as kube-apiserver (ca.crt + front-proxy-ca.crt announced, x509 then token
/// authentication) on `port`, started before certwire, and two kubeconfigs for it.
fn k8s_setup(test: &str, port: u16, conns: usize) -> Result<K8s, String> {
    if let Some(why) = cannot_run(&["go", "openssl", "kubectl"]) {
        return Err(why);
    }
    let bins = go_bins()?;
    let kubectl = which("kubectl").unwrap();
    let dir = scratch(test);
    let server_bin = bins.path("k8sserver", Variant::Normal);
    let pid = std::process::id();
    let prefix = format!("certwire-canary-prefix-{pid}");
    let token = format!("certwire-canary-token-{pid}");
    let url = format!("https://127.0.0.1:{port}/{prefix}");
    let (rogue_crt, rogue_key) = rogue_client(
        &dir,
        "rogue-admin",
        &pki("ca.crt"),
        "/O=system:masters/CN=kubernetes-admin",
    );
    let rogue = dir.join("rogue.kubeconfig");
    std::fs::write(
        &rogue,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n    server: {url}\n    certificate-authority: {}\nusers:\n- name: rogue-admin\n  user:\n    client-certificate: {}\n    client-key: {}\n    token: {token}\ncontexts:\n- name: rogue\n  context: {{cluster: kubernetes, user: rogue-admin}}\ncurrent-context: rogue\n",
            ps(&pki("ca.crt")),
            ps(&rogue_crt),
            ps(&rogue_key),
        ),
    )
    .unwrap();
    let admin = dir.join("admin.kubeconfig");
    let admin_conf =
        std::fs::read_to_string(root().join("node/etc/kubernetes/admin.conf")).unwrap();
    assert!(admin_conf.contains("server: https://127.0.0.1:6443\n"));
    std::fs::write(
        &admin,
        admin_conf.replace(
            "server: https://127.0.0.1:6443\n",
            &format!("server: {url}\n"),
        ),
    )
    .unwrap();
    let mut server = Bg::spawn(
        "k8sserver",
        Command::new(&server_bin)
            .args([
                "-h2",
                "-mode",
                "apiserver",
                "-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "-cert",
                ps(&pki("apiserver.crt")),
                "-key",
                ps(&pki("apiserver.key")),
            ])
            .args([
                "-clientca",
                &format!("{},{}", ps(&pki("ca.crt")), ps(&pki("front-proxy-ca.crt"))),
            ])
            .args(["-n", &conns.to_string(), "-duration", "90s"]),
        &dir.join("k8sserver.log"),
    );
    server.wait_for("Serving securely on", 10);
    Ok(K8s {
        dir,
        kubectl,
        server,
        server_bin,
        rogue,
        rogue_crt,
        admin,
        canaries: vec![
            prefix,
            token,
            // the bodies: k8sserver's 200 JSON and the 401 Status object
            "k8sserver.Authenticated".into(),
            "\"status\":\"Failure\"".into(),
        ],
        runs: 0,
    })
}

impl K8s {
    /// kubectl get --raw PATH with this kubeconfig and a fresh HOME (no discovery cache).
    fn run_kubectl(&mut self, kubeconfig: &Path, raw_path: &str) -> Ran {
        self.runs += 1;
        let home = self.dir.join(format!("home-{}", self.runs));
        std::fs::create_dir_all(&home).unwrap();
        run(
            "kubectl",
            Command::new(&self.kubectl)
                .args(["get", "--raw", raw_path])
                .env("KUBECONFIG", kubeconfig)
                .env("HOME", &home),
            30,
        )
    }

    /// k8sserver's outcome per client address: the HTTP statuses of its requests.
    fn statuses(&self) -> BTreeMap<String, BTreeSet<u16>> {
        let mut out: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
        for l in self.server.log().lines() {
            if !l.starts_with("k8sserver[apiserver]: request ") {
                continue;
            }
            // request N (connection M, ADDR) GET PATH: ... -> 401
            let addr = l.split(", ").nth(1).unwrap().split(')').next().unwrap();
            let status: u16 = l.rsplit("-> ").next().unwrap().trim().parse().unwrap();
            out.entry(addr.to_string()).or_default().insert(status);
        }
        out
    }
}

#[test]
fn kubectl_h2_unauthorized_then_authorized() {
    let test = "kubectl_h2_unauthorized_then_authorized";
    let _lo = serial();
    let port = 26450;
    let mut k = match k8s_setup(test, port, 2) {
        Ok(k) => k,
        Err(why) => return skipped(test, &why),
    };
    // Discovery: k8sserver owns the socket on the port, kubectl is on the PATH.
    let live = match start_live(&[
        "--ports".into(),
        port.to_string(),
        "--keys-from-processes".into(),
    ]) {
        Ok(l) => l,
        Err(why) => return skipped(test, &why),
    };
    let kubectl_line = live.keys_line_for(&k.kubectl).cloned();
    if let Some(l) = kubectl_line.filter(|l| l.contains("not a Go binary")) {
        return skipped(
            test,
            &format!("the kubectl on the PATH is not a Go binary: {l}"),
        );
    }
    live.assert_attached(&k.kubectl);
    live.assert_attached(&k.server_bin);
    let raw = format!("/api/certwire-canary-raw-{}", std::process::id());
    let rogue_run = k.run_kubectl(&k.rogue.clone(), &raw);
    let admin_run = k.run_kubectl(&k.admin.clone(), &raw);
    assert!(
        k.server.wait_exit(15),
        "k8sserver did not exit after 2 connections"
    );
    let report = live.stop();
    eprintln!("    [k8sserver log]\n{}", k.server.log());

    // What the programs say.
    assert_eq!(rogue_run.code, Some(1));
    assert!(
        rogue_run
            .stderr
            .contains("error: You must be logged in to the server (Unauthorized)"),
        "{}",
        rogue_run.stderr
    );
    assert_eq!(admin_run.code, Some(0), "{}", admin_run.stderr);
    assert!(admin_run.stdout.contains("\"user\":\"kubernetes-admin\""));
    assert!(admin_run.stdout.contains(&raw));
    let statuses = k.statuses();
    assert_eq!(statuses.len(), 2, "{statuses:?}");

    // What certwire says.
    let conns = report.connections_to(&format!("127.0.0.1:{port}"));
    assert_eq!(conns.len(), 2, "{:?}", report.records);
    let rogue_sha = der_sha256(&k.rogue_crt);
    let admin_sha = kubeconfig_client_sha256(&k.admin);
    let ca_names = json!([
        subject_rfc2253(&pki("ca.crt")),
        subject_rfc2253(&pki("front-proxy-ca.crt"))
    ]);
    for (sha, status, ran) in [
        (&rogue_sha, 401u16, &rogue_run),
        (&admin_sha, 200, &admin_run),
    ] {
        let c = conns
            .iter()
            .find(|c| sha_at(c, "client", 0) == *sha)
            .unwrap_or_else(|| panic!("no connection with client certificate {sha}: {conns:?}"));
        assert_eq!(c["visibility"], "decrypted", "{c}");
        assert_eq!(c["tls_version"], "1.3", "{c}");
        assert_eq!(c["handshake"], "completed", "{c}");
        assert_eq!(c["alpn_selected"], "h2", "{c}");
        assert_no_fatal_alert(c);
        assert_eq!(
            sha_at(c, "server", 0),
            der_sha256(&pki("apiserver.crt")),
            "{c}"
        );
        assert_eq!(c["certificate_request"]["ca_names"], ca_names, "{c}");
        // k8sserver answered every request of this connection with `status`.
        let logged = statuses
            .get(&s(&c["client"]))
            .unwrap_or_else(|| panic!("k8sserver logged no request from {}", c["client"]));
        assert_eq!(logged, &BTreeSet::from([status]), "{c}");
        assert_eq!(
            c["http_response"],
            json!({"status": status, "protocol": "h2"}),
            "{c}"
        );
        assert_process_sources(
            c,
            &[
                (k.server.pid(), k.server_bin.as_path()),
                (ran.pid, k.kubectl.as_path()),
            ],
        );
    }
    let mut canaries = k.canaries.clone();
    canaries.push(raw);
    report.assert_free_of(&canaries);
    std::fs::remove_dir_all(&k.dir).unwrap();
}

// ------------------------------------------------------------------ d. the evidence file

/// The Decryption Secrets Blocks of a pcapng file: (secrets type, data).
fn pcapng_secrets(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let b = std::fs::read(path).unwrap();
    assert!(
        b.len() >= 28 && b[..4] == [0x0a_u8, 0x0d, 0x0d, 0x0a],
        "{} is not a pcapng file",
        path.display()
    );
    let mut out = Vec::new();
    let mut off = 0usize;
    let mut le = true;
    while off + 12 <= b.len() {
        if b[off..off + 4] == [0x0a_u8, 0x0d, 0x0d, 0x0a] {
            // Section Header Block: its byte-order magic 0x1A2B3C4D sets the endianness
            le = b[off + 8..off + 12] == [0x4d_u8, 0x3c, 0x2b, 0x1a];
        }
        let u32at = |o: usize| {
            let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        };
        let ty = u32at(off);
        let len = u32at(off + 4) as usize;
        assert!(
            len >= 12 && len.is_multiple_of(4) && off + len <= b.len(),
            "pcapng block at offset {off}: length {len}"
        );
        assert_eq!(
            u32at(off + len - 4) as usize,
            len,
            "block at {off}: trailing length"
        );
        if ty == 0x0000_000a {
            let stype = u32at(off + 8);
            let slen = u32at(off + 12) as usize;
            assert!(16 + slen <= len, "DSB at {off}: secrets length {slen}");
            out.push((stype, b[off + 16..off + 16 + slen].to_vec()));
        }
        off += len;
    }
    assert_eq!(off, b.len(), "trailing bytes in {}", path.display());
    out
}

/// label -> client randoms, from the DSBs (NSS key log text, type TLSK).
fn dsb_labels(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let blocks = pcapng_secrets(path);
    assert!(
        !blocks.is_empty(),
        "no Decryption Secrets Block in {}",
        path.display()
    );
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (ty, data) in blocks {
        assert_eq!(
            ty, 0x544c_534b,
            "secrets type {ty:#x} (TLS key log is 0x544c534b)"
        );
        for line in String::from_utf8(data).unwrap().lines() {
            let line = line.trim_end_matches('\0').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 3, "key log line {line:?}");
            out.entry(f[0].to_string())
                .or_default()
                .insert(f[1].to_ascii_lowercase());
        }
    }
    out
}

/// tshark -r FILE (port forced to TLS) with a display filter and fields; stdout lines.
fn tshark(file: &Path, port: u16, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-d", &format!("tcp.port=={port},tls"), "-Y", filter]);
    if !fields.is_empty() {
        cmd.args(["-T", "fields"]);
        for f in fields {
            cmd.args(["-e", f]);
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn unhex(h: &str) -> Vec<u8> {
    let h: String = h.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The SHA-256 of every certificate tshark shows in the file's (decrypted) handshakes.
fn tshark_certificate_hashes(file: &Path, port: u16) -> BTreeSet<String> {
    tshark(
        file,
        port,
        "tls.handshake.type==11",
        &["tls.handshake.certificate"],
    )
    .iter()
    .flat_map(|l| {
        l.split(',')
            .map(|h| sha256sum(&unhex(h)))
            .collect::<Vec<_>>()
    })
    .collect()
}

fn client_randoms(file: &Path, port: u16) -> BTreeSet<String> {
    tshark(
        file,
        port,
        "tls.handshake.type==1",
        &["tls.handshake.random"],
    )
    .iter()
    .map(|l| l.replace(':', "").to_ascii_lowercase())
    .collect()
}

#[test]
fn evidence_file_holds_handshake_secrets_only() {
    let test = "evidence_file_holds_handshake_secrets_only";
    let _lo = serial();
    if let Some(why) = cannot_run(&["tshark"]) {
        return skipped(test, &why);
    }
    let port = 26460;
    let mut k = match k8s_setup(test, port, 2) {
        Ok(k) => k,
        Err(why) => return skipped(test, &why),
    };
    let raw = format!("/api/certwire-canary-raw-{}", std::process::id());
    let server_sha = der_sha256(&pki("apiserver.crt"));
    let admin_sha = kubeconfig_client_sha256(&k.admin);

    // 1. --write without application secrets; k8sserver named by PID, kubectl by path.
    let written = k.dir.join("evidence.pcapng");
    let live = match start_live(&[
        "--ports".into(),
        port.to_string(),
        "--keys-from".into(),
        k.server.pid().to_string(),
        "--keys-from".into(),
        ps(&k.kubectl).to_string(),
        "--write".into(),
        ps(&written).to_string(),
    ]) {
        Ok(l) => l,
        Err(why) => return skipped(test, &why),
    };
    live.assert_attached(&k.server_bin);
    live.assert_attached(&k.kubectl);
    let run1 = k.run_kubectl(&k.admin.clone(), &raw);
    assert_eq!(run1.code, Some(0), "{}", run1.stderr);
    let report = live.stop();
    let conns = report.connections_to(&format!("127.0.0.1:{port}"));
    assert_eq!(conns.len(), 1, "{:?}", report.records);
    assert_eq!(conns[0]["visibility"], "decrypted", "{}", conns[0]);

    // tshark, with nothing but the file, sees both certificates...
    let hashes = tshark_certificate_hashes(&written, port);
    assert!(hashes.contains(&server_sha), "{hashes:?}");
    assert!(hashes.contains(&admin_sha), "{hashes:?}");
    // ...and no HTTP of any version.
    let http = tshark(&written, port, "http || http2", &[]);
    assert!(
        http.is_empty(),
        "tshark decrypted application data: {http:?}"
    );
    // The DSB: both handshake secrets of the reported connection, nothing else.
    let labels = dsb_labels(&written);
    let randoms = client_randoms(&written, port);
    assert_eq!(randoms.len(), 1, "{randoms:?}");
    assert_eq!(
        labels.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET"
        ],
        "{labels:?}"
    );
    for (label, r) in &labels {
        assert_eq!(
            r, &randoms,
            "{label}: secrets of connections not in the file"
        );
    }
    // e. nothing of the application data in any output.
    let bytes = std::fs::read(&written).unwrap();
    let mut canaries = k.canaries.clone();
    canaries.push(raw.clone());
    for c in &canaries {
        assert!(
            !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
            "{c:?} in the --write file"
        );
    }
    report.assert_free_of(&canaries);

    // 2. --write-application-secrets: the same file now opens the HTTP/2 exchange too.
    let written2 = k.dir.join("with-application-secrets.pcapng");
    let live = match start_live(&[
        "--ports".into(),
        port.to_string(),
        "--keys-from".into(),
        ps(&k.server_bin).to_string(),
        "--keys-from".into(),
        ps(&k.kubectl).to_string(),
        "--write".into(),
        ps(&written2).to_string(),
        "--write-application-secrets".into(),
    ]) {
        Ok(l) => l,
        Err(why) => return skipped(test, &why),
    };
    let run2 = k.run_kubectl(&k.admin.clone(), &raw);
    assert_eq!(run2.code, Some(0), "{}", run2.stderr);
    assert!(
        k.server.wait_exit(15),
        "k8sserver did not exit after 2 connections"
    );
    let report = live.stop();
    report.assert_free_of(&canaries);
    let labels = dsb_labels(&written2);
    for l in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert!(labels.contains_key(l), "{l} missing: {labels:?}");
    }
    // Whether tshark can show HTTP/2 depends on the file holding records after the
    // handshake (README: --write keeps the handshake's packets, not the bulk data).
    let app_records = tshark(&written2, port, "tls.app_data", &["frame.number"]);
    let h2 = tshark(
        &written2,
        port,
        "http2.header",
        &["http2.header.name", "http2.header.value"],
    );
    if app_records.is_empty() {
        eprintln!("{test}: note: the --write file holds no TLS application data records: the HTTP/2 check with application secrets does not apply");
    } else {
        assert!(
            h2.iter().any(|l| l.contains(":status")),
            "application secrets written, yet tshark sees no HTTP/2 headers: {h2:?}"
        );
    }
    std::fs::remove_dir_all(&k.dir).unwrap();
}

// ------------------------------------------------------------------ c. etcd and etcdctl

#[test]
fn etcd_accepts_and_rejects_etcdctl() {
    let test = "etcd_accepts_and_rejects_etcdctl";
    let _lo = serial();
    if let Some(why) = cannot_run(&["etcd", "etcdctl", "openssl"]) {
        return skipped(test, &why);
    }
    let (etcd_bin, etcdctl_bin) = (which("etcd").unwrap(), which("etcdctl").unwrap());
    let dir = scratch(test);
    let port = 22379;
    let endpoint = format!("https://127.0.0.1:{port}");
    let peer = "http://127.0.0.1:22380";
    let etcd_ca = pki("etcd/ca.crt");
    let server_crt = pki("etcd/server.crt");
    let hc_crt = pki("etcd/healthcheck-client.crt");
    let hc_key = pki("etcd/healthcheck-client.key");
    // etcd's serving certificate must name the address etcdctl dials.
    assert!(
        bash(
            "openssl x509 -in \"$1\" -noout -ext subjectAltName",
            &[ps(&server_crt)]
        )
        .contains("IP Address:127.0.0.1"),
        "etcd/server.crt has no IP:127.0.0.1"
    );
    let (rogue_crt, rogue_key) = rogue_client(
        &dir,
        "rogue-etcd-client",
        &etcd_ca,
        "/O=system:masters/CN=kube-apiserver-etcd-client",
    );
    let mut etcd = Bg::spawn(
        "etcd",
        Command::new(&etcd_bin)
            .args(["--name", "node1", "--data-dir", ps(&dir.join("data"))])
            .args([
                "--listen-client-urls",
                &endpoint,
                "--advertise-client-urls",
                &endpoint,
            ])
            .args([
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
            ])
            .args(["--initial-cluster", &format!("node1={peer}")])
            .args(["--client-cert-auth", "--trusted-ca-file", ps(&etcd_ca)])
            .args([
                "--cert-file",
                ps(&server_crt),
                "--key-file",
                ps(&pki("etcd/server.key")),
            ]),
        &dir.join("etcd.log"),
    );
    etcd.wait_for(&format!("serving client requests on 127.0.0.1:{port}"), 30);

    // Discovery: etcd owns the socket (and is named like a component), etcdctl is on the PATH.
    let evidence = dir.join("etcd-evidence.pcapng");
    let live = match start_live(&[
        "--ports".into(),
        port.to_string(),
        "--keys-from-processes".into(),
        "--write".into(),
        ps(&evidence).into(),
    ]) {
        Ok(l) => l,
        Err(why) => return skipped(test, &why),
    };
    live.assert_attached(&etcd_bin);
    live.assert_attached(&etcdctl_bin);
    let log_mark = etcd.log().len();
    let pid = std::process::id();
    let (key, value) = (
        format!("certwire-canary-key-{pid}"),
        format!("certwire-canary-value-{pid}"),
    );
    let etcdctl = |cert: &Path, key_file: &Path, args: &[&str]| {
        let mut c = Command::new(&etcdctl_bin);
        c.env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "--cacert", ps(&etcd_ca)])
            .args(["--cert", ps(cert), "--key", ps(key_file)])
            .args(["--dial-timeout=1s", "--command-timeout=2s"])
            .args(args);
        c
    };
    let put = run(
        "etcdctl put",
        &mut etcdctl(hc_crt.as_path(), hc_key.as_path(), &["put", &key, &value]),
        20,
    );
    let get = run(
        "etcdctl get",
        &mut etcdctl(hc_crt.as_path(), hc_key.as_path(), &["get", &key]),
        20,
    );
    let rejected = run(
        "etcdctl put (rogue)",
        &mut etcdctl(
            rogue_crt.as_path(),
            rogue_key.as_path(),
            &["put", &key, "x"],
        ),
        20,
    );
    let report = live.stop();
    let etcd_log = etcd.log()[log_mark..].to_string();
    eprintln!("    [etcd log since certwire started]\n{etcd_log}");

    // What the programs say.
    assert_eq!(put.code, Some(0), "{}", put.stderr);
    assert_eq!(put.stdout.trim(), "OK");
    assert_eq!(get.code, Some(0), "{}", get.stderr);
    assert!(get.stdout.contains(&value));
    assert_ne!(rejected.code, Some(0));
    assert!(
        rejected.stderr.contains("context deadline exceeded"),
        "{}",
        rejected.stderr
    );
    let rejected_from: BTreeSet<String> = etcd_log
        .lines()
        .filter(|l| {
            l.contains("rejected connection from")
                && l.contains("tls: failed to verify client certificate: x509: certificate signed by unknown authority")
        })
        .map(|l| {
            l.split("rejected connection from \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        !rejected_from.is_empty(),
        "etcd rejected nothing:\n{etcd_log}"
    );

    // What certwire says.
    let conns = report.connections_to(&format!("127.0.0.1:{port}"));
    let server_sha = der_sha256(&server_crt);
    let ca_names = json!([subject_rfc2253(&etcd_ca)]);
    let clients = [
        (etcd.pid(), etcd_bin.as_path()),
        (put.pid, etcdctl_bin.as_path()),
        (get.pid, etcdctl_bin.as_path()),
        (rejected.pid, etcdctl_bin.as_path()),
    ];
    // (i) accepted: healthcheck-client.crt, both chains decrypted.
    let hc_sha = der_sha256(&hc_crt);
    let accepted: Vec<&&Value> = conns
        .iter()
        .filter(|c| sha_at(c, "client", 0) == hc_sha)
        .collect();
    assert!(accepted.len() >= 2, "put and get: {conns:?}");
    for c in &accepted {
        assert_eq!(c["visibility"], "decrypted", "{c}");
        assert_eq!(c["tls_version"], "1.3", "{c}");
        assert_eq!(c["handshake"], "completed", "{c}");
        assert_eq!(c["alpn_selected"], "h2", "{c}");
        assert_no_fatal_alert(c);
        assert_eq!(sha_at(c, "server", 0), server_sha, "{c}");
        assert_eq!(c["certificate_request"]["ca_names"], ca_names, "{c}");
        assert_process_sources(c, &clients);
        assert!(
            c["http_response"].is_null()
                || c["http_response"] == json!({"status": 200, "protocol": "h2"}),
            "{c}"
        );
    }
    assert!(
        accepted
            .iter()
            .any(|c| c["http_response"] == json!({"status": 200, "protocol": "h2"})),
        "no gRPC response (HTTP/2 :status 200) reported: {accepted:?}"
    );
    // (ii) rejected: the rogue certificate, and etcd's fatal bad_certificate alert, which Go
    // encrypts with the server's application traffic secret.
    let rogue_sha = der_sha256(&rogue_crt);
    let refused: Vec<&&Value> = conns
        .iter()
        .filter(|c| sha_at(c, "client", 0) == rogue_sha)
        .collect();
    let refused_from: BTreeSet<String> = refused.iter().map(|c| s(&c["client"])).collect();
    assert_eq!(
        refused_from, rejected_from,
        "the connections etcd said it rejected"
    );
    for c in &refused {
        assert_eq!(c["visibility"], "decrypted", "{c}");
        assert_eq!(c["tls_version"], "1.3", "{c}");
        assert_eq!(c["handshake"], "failed", "{c}");
        assert_eq!(sha_at(c, "server", 0), server_sha, "{c}");
        assert_eq!(c["certificate_request"]["ca_names"], ca_names, "{c}");
        let alerts = c["alerts"].as_array().unwrap();
        assert!(
            alerts.iter().any(|a| a["from"] == "server"
                && a["level"] == "fatal"
                && a["description"] == "bad_certificate"
                && a["code"] == 42
                // Sent inside an encrypted record, read with the keys.
                && a["encrypted"] == true),
            "no decrypted fatal bad_certificate from etcd: {c}"
        );
        assert!(c["http_response"].is_null(), "{c}");
        assert_process_sources(c, &clients);
    }
    report.assert_free_of(&[key.as_str(), value.as_str()]);
    drop(etcd);

    // The evidence file shows why the rejected connections failed: etcd (Go, TLS 1.3) sent
    // its alert under its application traffic secret, which is written for a connection
    // the server rejected, and only then. tshark reads it from the file alone.
    if which("tshark").is_some() {
        let alerts = tshark(
            &evidence,
            port,
            "tls.alert_message.desc == 42",
            &["tcp.srcport", "tcp.dstport"],
        );
        let alerted: BTreeSet<String> = alerts
            .iter()
            .filter_map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .map(|p| format!("127.0.0.1:{p}"))
            })
            .collect();
        assert_eq!(
            alerted, rejected_from,
            "bad_certificate alerts tshark decrypts from the evidence file"
        );
        let labels = dsb_labels(&evidence);
        eprintln!("    [evidence DSB labels] {labels:?}");
        assert!(
            !labels.contains_key("CLIENT_TRAFFIC_SECRET_0"),
            "a client application secret in the evidence file: {labels:?}"
        );
        // A server application secret for each rejected connection, and no other.
        assert_eq!(
            labels.get("SERVER_TRAFFIC_SECRET_0").map_or(0, |r| r.len()),
            rejected_from.len(),
            "{labels:?}"
        );
        let raw = std::fs::read(&evidence).unwrap();
        for canary in [key.as_bytes(), value.as_bytes()] {
            assert!(
                !raw.windows(canary.len()).any(|w| w == canary),
                "application bytes in the evidence file"
            );
        }
    } else {
        skipped(
            test,
            "tshark not installed: the evidence file's alerts are not checked",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Names of the BPF programs loaded in the kernel right now (bpf(2): PROG_GET_NEXT_ID,
/// PROG_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD; what `bpftool prog list` does).
fn loaded_bpf_programs() -> Vec<String> {
    #[repr(C)]
    struct NextId {
        start_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    #[repr(C)]
    struct Info {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let bpf = |cmd: i64, attr: *mut u8, size: usize| unsafe {
        libc::syscall(libc::SYS_bpf, cmd, attr, size) as i64
    };
    let mut names = Vec::new();
    let mut id = 0u32;
    loop {
        let mut a = NextId {
            start_id: id,
            next_id: 0,
            open_flags: 0,
        };
        if bpf(
            11,
            &mut a as *mut NextId as *mut u8,
            std::mem::size_of::<NextId>(),
        ) != 0
        {
            break;
        }
        id = a.next_id;
        let mut by_id = NextId {
            start_id: id,
            next_id: 0,
            open_flags: 0,
        };
        let fd = bpf(
            13,
            &mut by_id as *mut NextId as *mut u8,
            std::mem::size_of::<NextId>(),
        );
        if fd < 0 {
            continue;
        }
        // struct bpf_prog_info: name[16] at offset 64.
        let mut info = [0u8; 256];
        let mut attr = Info {
            bpf_fd: fd as u32,
            info_len: info.len() as u32,
            info: info.as_mut_ptr() as u64,
        };
        if bpf(
            15,
            &mut attr as *mut Info as *mut u8,
            std::mem::size_of::<Info>(),
        ) == 0
        {
            let name = &info[64..80];
            let end = name.iter().position(|&b| b == 0).unwrap_or(16);
            names.push(String::from_utf8_lossy(&name[..end]).into_owned());
        }
        unsafe { libc::close(fd as i32) };
    }
    names
}

fn certwire_programs() -> usize {
    loaded_bpf_programs()
        .iter()
        .filter(|n| *n == "certwire_keys")
        .count()
}

/// The uprobes are file descriptors of certwire's: whether it stops on SIGINT or SIGTERM or
/// is killed with SIGKILL, no program of it stays in the kernel (a stale uprobe would go on
/// costing every handshake of the probed program).
#[test]
fn probes_are_removed_however_certwire_ends() {
    let test = "probes_are_removed_however_certwire_ends";
    let _lo = serial();
    if let Some(why) = cannot_run(&[]) {
        return skipped(test, &why);
    }
    let bins = match go_bins() {
        Ok(b) => b,
        Err(why) => return skipped(test, &why),
    };
    let client = bins.path("goclient", Variant::Normal);
    assert_eq!(
        certwire_programs(),
        0,
        "programs of an earlier certwire are still loaded"
    );
    for signal in ["INT", "TERM", "KILL"] {
        let live = match start_live(&[
            "--ports".into(),
            "26470".into(),
            "--keys-from".into(),
            ps(&client).into(),
        ]) {
            Ok(l) => l,
            Err(why) => return skipped(test, &why),
        };
        live.assert_attached(&client);
        assert_eq!(certwire_programs(), 1, "one program per probed executable");
        let mut live = live;
        assert!(Command::new("kill")
            .args([&format!("-{signal}"), &live.child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = live.child.wait().unwrap();
        eprintln!("    [certwire after SIG{signal}: {status:?}]");
        // The kernel frees programs after an RCU grace period.
        let deadline = Instant::now() + Duration::from_secs(10);
        while certwire_programs() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            certwire_programs(),
            0,
            "a program left loaded after SIG{signal}"
        );
    }
}
