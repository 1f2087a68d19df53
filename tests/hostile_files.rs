//! certwire runs as root on production nodes and reads files an attacker may have shaped:
//! a copy of a node (`--root`), certificate directories (`--certs`), key logs, and the
//! paths it writes to. Each test builds its hostile tree in a temporary directory, runs the
//! binary with a memory limit and a deadline (so that the holes of issue 12 — reading
//! /dev/zero, blocking on a FIFO — fail the test instead of the machine), and checks that
//! nothing outside what the user named is read or written.
#![cfg(target_os = "linux")]

mod common;

use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The capture used throughout: a kubelet (client certificate ROTATED) talking to the
/// apiserver, whose certificate is `APISERVER`.
const CAPTURE: &str = "kubelet-rotated-tls12.pcap";
const APISERVER: &str = "node/etc/kubernetes/pki/apiserver.crt";
const CA: &str = "node/etc/kubernetes/pki/ca.crt";

/// A fresh directory for one test.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("certwire-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkdirs(dir: &Path, sub: &str) -> PathBuf {
    let p = dir.join(sub);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn copy_in(from_captures: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(root().join(from_captures), to).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {path:?}"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Run certwire in captures/ with 2 GiB of address space and a deadline: reading
/// /dev/zero makes it abort, blocking on a FIFO makes the test fail, not hang.
fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certwire"));
    cmd.args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("run certwire");
    let mut pipes = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = pipes.0.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = pipes.1.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("certwire {args:?} did not finish within 60 s (blocked on a file?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "certwire {args:?}:\n{stderr}");
    out
}

/// `analyze CAPTURE ARGS --format json`, which must succeed.
fn report(args: &[&str]) -> Value {
    let mut all = vec!["analyze", CAPTURE, "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out, &format!("{all:?}"))
}

/// (path, reason) of every local file problem.
fn problems(v: &Value) -> Vec<(String, String)> {
    v["local_certificates"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (s(&p["path"]), s(&p["reason"])))
        .collect()
}

/// Some problem whose path or reason mentions `path` and whose reason says `what`.
fn has_problem(v: &Value, path: &str, what: &str) -> bool {
    problems(v)
        .iter()
        .any(|(p, r)| (p.contains(path) || r.contains(path)) && r.contains(what))
}

/// The local files matched to the apiserver's certificate in the capture.
fn apiserver_files(v: &Value) -> Vec<String> {
    let cert = &v["connections"][0]["server_certificates"][0];
    assert_eq!(s(&cert["sha256"]), sha_of(APISERVER));
    cert["local_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| s(&m["path"]))
        .collect()
}

fn certificates(v: &Value) -> u64 {
    v["local_certificates"]["certificates"].as_u64().unwrap()
}

// ---- hole 3: FIFOs, sockets, directories where a file was expected ----

/// A FIFO behind a symlink, or named by a kubeconfig, is reported (by path and kind)
/// instead of blocking certwire forever; so are a socket and a directory named as a file.
#[test]
fn fifo_behind_a_symlink_or_a_kubeconfig_path_is_reported_not_read() {
    let dir = tempdir("fifo");
    let certs = mkdirs(&dir, "certs");
    mkfifo(&dir.join("pipe"));
    mkfifo(&dir.join("pipe2"));
    symlink("../pipe", certs.join("ca.crt")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(certs.join("kubelet.sock")).unwrap();
    mkdirs(&dir, "a-directory");
    std::fs::write(
        certs.join("admin.conf"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    client-certificate: {}\n",
            dir.join("pipe2").display(),
            dir.join("a-directory").display()
        ),
    )
    .unwrap();
    copy_in(APISERVER, &certs.join("apiserver.crt"));
    let v = report(&["--certs", certs.to_str().unwrap()]);
    let all = problems(&v);
    assert!(has_problem(&v, "certs/ca.crt", "FIFO"), "{all:?}");
    assert!(has_problem(&v, "/pipe2", "FIFO"), "{all:?}");
    assert!(has_problem(&v, "kubelet.sock", "socket"), "{all:?}");
    assert!(
        has_problem(&v, "a-directory", "directory where a file was expected"),
        "{all:?}"
    );
    // The regular file beside them is still read.
    assert_eq!(certificates(&v), 1);
    assert_eq!(apiserver_files(&v).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same under --root: a FIFO reached through an absolute symlink (re-rooted) and
/// through a kubeconfig path.
#[test]
fn fifo_under_root_is_reported_not_read() {
    let dir = tempdir("fifo-root");
    let node = mkdirs(&dir, "node");
    let pki = mkdirs(&node, "etc/kubernetes/pki");
    mkdirs(&node, "run");
    mkfifo(&node.join("run/pipe"));
    symlink("/run/pipe", pki.join("ca.crt")).unwrap();
    std::fs::write(
        node.join("etc/kubernetes/admin.conf"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority: /run/pipe\n",
    )
    .unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    let all = problems(&v);
    assert!(has_problem(&v, "pki/ca.crt", "FIFO"), "{all:?}");
    assert!(has_problem(&v, "/run/pipe", "FIFO"), "{all:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- hole 4: devices and oversized files ----

/// /dev/zero behind a `.pem` symlink or named as a kubeconfig's CA is never read (it
/// used to be read until memory ran out: its size is 0).
#[test]
fn dev_zero_behind_a_symlink_or_a_kubeconfig_path_is_not_read() {
    let dir = tempdir("zero");
    let certs = mkdirs(&dir, "certs");
    symlink("/dev/zero", certs.join("zero.pem")).unwrap();
    std::fs::write(
        certs.join("admin.conf"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority: /dev/zero\n",
    )
    .unwrap();
    let v = report(&["--certs", certs.to_str().unwrap()]);
    let all = problems(&v);
    assert!(has_problem(&v, "zero.pem", "character device"), "{all:?}");
    assert!(has_problem(&v, "admin.conf", "character device"), "{all:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file over the 4 MiB limit is skipped visibly, not silently.
#[test]
fn files_over_4_mib_are_reported() {
    let dir = tempdir("big");
    let certs = mkdirs(&dir, "certs");
    std::fs::write(certs.join("big.crt"), vec![b'A'; (4 << 20) + 1]).unwrap();
    std::fs::write(certs.join("exact.crt"), vec![b'A'; 4 << 20]).unwrap();
    let v = report(&["--certs", certs.to_str().unwrap()]);
    let all = problems(&v);
    assert!(
        has_problem(&v, "big.crt", "larger than 4 MiB: skipped"),
        "{all:?}"
    );
    // Exactly 4 MiB is read (and is no certificate).
    assert!(has_problem(&v, "exact.crt", "not a certificate"), "{all:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- hole 5: --root is a chroot ----

/// A temp dir with `outside/` (the apiserver's certificate and a secret, as on the host)
/// and `node/` (the copy given to --root). Returns (dir, node).
fn outside_and_node(name: &str) -> (PathBuf, PathBuf) {
    let dir = tempdir(name);
    copy_in(APISERVER, &dir.join("outside/apiserver.crt"));
    std::fs::write(
        dir.join("outside/shadow"),
        "root:$6$secret:19000:0:99999:7:::\n",
    )
    .unwrap();
    // A user's kubeconfig with the certificate embedded, for home/ links.
    let pem = std::fs::read(root().join(APISERVER)).unwrap();
    std::fs::create_dir_all(dir.join("outside/alice/.kube")).unwrap();
    std::fs::write(
        dir.join("outside/alice/.kube/config"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority-data: {}\n",
            data_encoding::BASE64.encode(&pem)
        ),
    )
    .unwrap();
    let node = mkdirs(&dir, "node");
    (dir, node)
}

/// Nothing of outside/ made it into the report: the apiserver's certificate is in no
/// local file, no certificate was loaded but `expected` ones, and no problem speaks of
/// the content of a file outside (such as "not a certificate" for the secret).
fn assert_nothing_from_outside(v: &Value, expected: u64) {
    assert!(apiserver_files(v).is_empty(), "{:?}", apiserver_files(v));
    assert_eq!(certificates(v), expected, "{:?}", problems(v));
    for (p, r) in problems(v) {
        assert!(!p.contains("outside"), "a file outside the root: {p} {r}");
        assert!(
            !r.contains("not a certificate") && !r.contains("PEM"),
            "content of a file outside the root: {p} {r}"
        );
    }
}

fn says_not_in_root(v: &Value, path_end: &str) {
    let all = problems(v);
    assert!(
        all.iter()
            .any(|(p, r)| p.ends_with(path_end) && r.contains("inside the root")),
        "no problem for {path_end} saying the target is not inside the root: {all:?}"
    );
}

/// A relative symlink that climbs out of the root to a file resolves inside the root,
/// as a chroot would (`..` stops at the root); one that stays inside still works.
#[test]
fn relative_symlink_climbing_out_of_the_root_to_a_file() {
    let (dir, node) = outside_and_node("climb-file");
    let pki = mkdirs(&node, "etc/kubernetes/pki");
    symlink(
        "../../../../outside/apiserver.crt",
        pki.join("apiserver.crt"),
    )
    .unwrap();
    symlink("../../../../outside/shadow", pki.join("shadow.crt")).unwrap();
    // Inside the root: ../../../srv/ca.crt from etc/kubernetes/pki is node/srv/ca.crt.
    copy_in(CA, &node.join("srv/ca.crt"));
    symlink("../../../srv/ca.crt", pki.join("ca.crt")).unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    assert_nothing_from_outside(&v, 1);
    says_not_in_root(&v, "pki/apiserver.crt");
    says_not_in_root(&v, "pki/shadow.crt");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A relative symlink that climbs out of the root to a directory.
#[test]
fn relative_symlink_climbing_out_of_the_root_to_a_directory() {
    let (dir, node) = outside_and_node("climb-dir");
    mkdirs(&node, "etc/kubernetes");
    symlink("../../../outside", node.join("etc/kubernetes/pki")).unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    assert_nothing_from_outside(&v, 0);
    says_not_in_root(&v, "etc/kubernetes/pki");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An absolute directory symlink in the middle of a path (node/etc/kubernetes/pki ->
/// /tmp/.../outside, as /etc/ssl/certs links are) named by a manifest flag and by the
/// kubelet's config, and a standard location below such a link.
#[test]
fn absolute_directory_symlink_in_the_middle_of_a_path() {
    let (dir, node) = outside_and_node("abs-dir");
    let outside = dir.join("outside");
    mkdirs(&node, "etc/kubernetes/manifests");
    symlink(&outside, node.join("etc/kubernetes/pki")).unwrap();
    std::fs::write(
        node.join("etc/kubernetes/manifests/kube-apiserver.yaml"),
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command:\n    - kube-apiserver\n    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt\n",
    )
    .unwrap();
    mkdirs(&node, "var/lib/kubelet");
    symlink(&outside, node.join("var/lib/kubelet/pki")).unwrap();
    std::fs::write(
        node.join("var/lib/kubelet/config.yaml"),
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ntlsCertFile: /var/lib/kubelet/pki/apiserver.crt\nauthentication:\n  x509:\n    clientCAFile: /var/lib/kubelet/pki/shadow\n",
    )
    .unwrap();
    // A whole standard location behind an absolute link: home/ -> the outside dir.
    symlink(&outside, node.join("home")).unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    assert_nothing_from_outside(&v, 0);
    says_not_in_root(&v, "kube-apiserver.yaml");
    says_not_in_root(&v, "config.yaml");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A kubeconfig's relative `certificate-authority: ../../../outside/apiserver.crt`.
#[test]
fn kubeconfig_relative_path_climbing_out_of_the_root() {
    let (dir, node) = outside_and_node("kubeconfig-climb");
    mkdirs(&node, "etc/kubernetes");
    std::fs::write(
        node.join("etc/kubernetes/admin.conf"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority: ../../../outside/apiserver.crt\nusers:\n- name: u\n  user:\n    client-certificate: ../../../outside/shadow\n",
    )
    .unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    assert_nothing_from_outside(&v, 0);
    says_not_in_root(&v, "admin.conf");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A manifest flag `--client-ca-file=/etc/kubernetes/pki/outside/apiserver.crt` where
/// node/etc/kubernetes/pki is a symlink to `../../..` (the parent of the root).
#[test]
fn manifest_flag_through_a_symlink_to_the_roots_parent() {
    let (dir, node) = outside_and_node("flag-up");
    mkdirs(&node, "etc/kubernetes/manifests");
    symlink("../../..", node.join("etc/kubernetes/pki")).unwrap();
    std::fs::write(
        node.join("etc/kubernetes/manifests/kube-apiserver.yaml"),
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command:\n    - kube-apiserver\n    - --client-ca-file=/etc/kubernetes/pki/outside/apiserver.crt\n    - --tls-cert-file=/etc/kubernetes/pki/outside/shadow\n",
    )
    .unwrap();
    let v = report(&["--root", node.to_str().unwrap()]);
    assert_nothing_from_outside(&v, 0);
    says_not_in_root(&v, "kube-apiserver.yaml");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without --root the paths are the host's own: a relative link out of a --certs
/// directory is followed as before.
#[test]
fn without_root_host_paths_are_followed_as_before() {
    let (dir, _node) = outside_and_node("host");
    let certs = mkdirs(&dir, "certs");
    symlink("../outside/apiserver.crt", certs.join("apiserver.crt")).unwrap();
    let v = report(&["--certs", certs.to_str().unwrap()]);
    let files = apiserver_files(&v);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("outside/apiserver.crt"), "{files:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- hole 6: output paths ----

fn out_args(path: &Path) -> Vec<String> {
    [
        "analyze",
        CAPTURE,
        "--no-default-certs",
        "--format",
        "json",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([path.to_str().unwrap().to_string()])
    .collect()
}

fn run_strings(args: &[String]) -> Output {
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `-o` naming a planted symlink: refused, naming the path; the target is untouched.
#[test]
fn output_symlink_is_refused_and_its_target_untouched() {
    let dir = tempdir("out-link");
    let target = dir.join("precious");
    std::fs::write(&target, "do not truncate me\n").unwrap();
    let link = dir.join("report.json");
    symlink(&target, &link).unwrap();
    let out = run_strings(&out_args(&link));
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(link.to_str().unwrap()) && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "do not truncate me\n"
    );
    // A dangling symlink is not created through either.
    let dangling = dir.join("dangling.json");
    symlink(dir.join("created-through-link"), &dangling).unwrap();
    let out = run_strings(&out_args(&dangling));
    assert_ne!(out.status.code(), Some(0));
    assert!(!dir.join("created-through-link").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-o` naming an existing regular file overwrites it (truncated: longer old contents
/// do not survive); a new file is created with mode 0644.
#[test]
fn output_regular_file_is_overwritten() {
    let dir = tempdir("out-file");
    let file = dir.join("report.json");
    std::fs::write(&file, vec![b'x'; 1 << 20]).unwrap();
    let out = run_strings(&out_args(&file));
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(!v["connections"].as_array().unwrap().is_empty());
    let new = dir.join("new.json");
    let out = run_strings(&out_args(&new));
    assert_eq!(out.status.code(), Some(0));
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "new report mode {mode:o}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-o` naming a FIFO is refused at once (it used to block until a reader came), as is a
/// directory; `-o -` is stdout.
#[test]
fn output_fifo_is_refused_without_blocking() {
    let dir = tempdir("out-fifo");
    let fifo = dir.join("report.json");
    mkfifo(&fifo);
    let out = run_strings(&out_args(&fifo));
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(fifo.to_str().unwrap()) && err.contains("FIFO"),
        "{err}"
    );
    let out = run_strings(&out_args(&dir));
    assert_ne!(out.status.code(), Some(0));
    // -o - writes to stdout, and no file named "-" appears.
    let out = run(&[
        "analyze",
        CAPTURE,
        "--no-default-certs",
        "--format",
        "json",
        "-o",
        "-",
    ]);
    let dash = root().join("-");
    let created = dash.exists();
    let _ = std::fs::remove_file(&dash);
    assert!(!created, "-o - created a file named -");
    assert_eq!(out.status.code(), Some(0));
    json_of(&out, "-o -");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--write` (live capture) refuses a symlink too, and creates its pcap, which holds
/// traffic, readable by its owner only.
#[test]
fn write_pcap_refuses_a_symlink_and_is_private() {
    if !is_root() {
        eprintln!("write_pcap_refuses_a_symlink_and_is_private: SKIPPED: needs root for --live (CAP_NET_RAW)");
        return;
    }
    let dir = tempdir("write");
    let target = dir.join("precious");
    std::fs::write(&target, "do not truncate me\n").unwrap();
    let link = dir.join("handshakes.pcap");
    symlink(&target, &link).unwrap();
    let live = |write: &Path| {
        run(&[
            "analyze",
            "--live",
            "lo",
            "--duration",
            "1s",
            "--no-default-certs",
            "--format",
            "jsonl",
            "--write",
            write.to_str().unwrap(),
        ])
    };
    let out = live(&link);
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(5) {
        eprintln!(
            "write_pcap_refuses_a_symlink_and_is_private: SKIPPED: no live capture here: {err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(link.to_str().unwrap()) && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "do not truncate me\n"
    );
    let new = dir.join("new.pcap");
    let out = live(&new);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "--write mode {mode:o}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- key logs ----

const FAKE_KEY_LINE: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";

/// A --keylog file with no key log line in it (a private key here) gets a warning that
/// says so, without printing a byte of it.
#[test]
fn keylog_without_a_valid_line_is_a_warning() {
    let dir = tempdir("keylog");
    let key = dir.join("key.pem");
    std::fs::write(
        &key,
        format!("-----BEGIN PRIVATE KEY-----\n{FAKE_KEY_LINE}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let out = run(&[
        "analyze",
        CAPTURE,
        "--no-default-certs",
        "--format",
        "json",
        "--keylog",
        key.to_str().unwrap(),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains(FAKE_KEY_LINE), "key bytes printed:\n{text}");
    let v = json_of(&out, "keylog");
    let warnings: Vec<String> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{} {}", s(&w["input"]), s(&w["message"])))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("key.pem") && w.contains("no valid key log line")),
        "{warnings:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A --keylog that is /dev/zero or a FIFO is refused (it used to be read until memory ran
/// out, or to block), with exit status 3 like any unreadable key log.
#[test]
fn keylog_device_or_fifo_is_refused() {
    let dir = tempdir("keylog-special");
    let fifo = dir.join("keys.fifo");
    mkfifo(&fifo);
    for (path, kind) in [
        (Path::new("/dev/zero"), "character device"),
        (fifo.as_path(), "FIFO"),
    ] {
        let out = run(&[
            "analyze",
            CAPTURE,
            "--no-default-certs",
            "--format",
            "json",
            "--keylog",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(3), "{path:?}");
        let v = json_of(&out, "keylog");
        let warnings = v["warnings"].to_string();
        assert!(
            warnings.contains("cannot read key log") && warnings.contains(kind),
            "{warnings}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
