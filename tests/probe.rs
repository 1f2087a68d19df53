//! `certwire node --probe`'s TLS client (src/node/probe.rs) against real servers on
//! 127.0.0.1: `openssl s_server` with the sample node's certificates (TLS 1.2 and 1.3, with
//! and without a client certificate requested or required, SNI-selected certificates, keys
//! rustls cannot check), Go's crypto/tls (captures/scripts/goserver, RequireAndVerifyClientCert),
//! and plain TCP listeners that refuse, babble or say nothing.
//!
//! Without `openssl` or `go` on PATH the tests that need them print `SKIPPED: ...` on stderr
//! and pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use certwire::node::probe::{probe, Probed, POST_HANDSHAKE_WAIT};
use certwire::x509::sha256_hex;

const TIMEOUT: Duration = Duration::from_secs(5);

fn pki() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/node/etc/kubernetes/pki")
}

fn p(rel: &str) -> String {
    pki().join(rel).to_string_lossy().into_owned()
}

fn visible(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have_openssl(test: &str) -> bool {
    let ok = have("openssl", "version");
    if !ok {
        visible(&format!("SKIPPED: {test}: openssl not found on PATH"));
    }
    ok
}

/// `openssl x509 -outform DER | sha256sum`, done by openssl.
fn openssl_der_sha256(pem: &str) -> String {
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in", pem])
        .output()
        .expect("openssl x509");
    assert!(der.status.success());
    let mut dgst = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    dgst.stdin.take().unwrap().write_all(&der.stdout).unwrap();
    let out = dgst.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `openssl x509 -noout -subject -nameopt RFC2253`, without the "subject=".
fn openssl_subject(pem: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", pem,
        ])
        .output()
        .expect("openssl x509");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("subject=")
        .trim()
        .to_string()
}

/// A server process that announced its address; its output is collected by threads.
struct Server {
    child: Child,
    /// Held open: s_server shuts down when its stdin ends.
    _stdin: Option<std::process::ChildStdin>,
    addr: SocketAddr,
    out: mpsc::Receiver<String>,
}

impl Server {
    /// Start `cmd` and wait (up to 30 s) for a line containing `marker` followed by the
    /// listening address, on stdout or stderr.
    fn start(mut cmd: Command, marker: &'static str) -> Server {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start server");
        let (addr_tx, addr_rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let addr_tx = addr_tx.clone();
            let out_tx = out_tx.clone();
            thread::spawn(move || {
                let mut all = String::new();
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split(marker).nth(1) {
                        if let Ok(a) = rest.trim().parse::<SocketAddr>() {
                            let _ = addr_tx.send(a);
                        }
                    }
                    all.push_str(&line);
                    all.push('\n');
                }
                let _ = out_tx.send(all);
            });
        }
        let addr = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let out: Vec<String> = out_rx.try_iter().collect();
                panic!("server did not announce its address: {}", out.join(""));
            }
        };
        Server {
            _stdin: child.stdin.take(),
            child,
            addr,
            out: out_rx,
        }
    }

    /// Wait (up to 10 s) for the server to exit by itself, then kill it; its output.
    fn finish(mut self) -> String {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut all = String::new();
        for _ in 0..2 {
            if let Ok(s) = self.out.recv_timeout(Duration::from_secs(5)) {
                all.push_str(&s);
            }
        }
        all
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` on 127.0.0.1, one connection, serving `cert`/`key`, plus `extra`.
fn s_server(cert: &str, key: &str, extra: &[&str]) -> Server {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1"])
        .args(["-cert", cert, "-key", key])
        .args(extra);
    Server::start(cmd, "ACCEPT ")
}

fn show(r: &Probed) -> String {
    format!(
        "endpoint={} sni={:?} version={:?} chain={} requested={} ca_names={:?} error={:?}",
        r.endpoint,
        r.sni,
        r.tls_version,
        r.chain.len(),
        r.requested_client_cert,
        r.ca_names,
        r.error
    )
}

fn served_apiserver_cert(version: &str) {
    let test = format!("openssl s_server {version}, no client certificate requested");
    if !have_openssl(&test) {
        return;
    }
    let srv = s_server(&p("apiserver.crt"), &p("apiserver.key"), &[version]);
    let r = probe(srv.addr, None, TIMEOUT);
    let out = srv.finish();
    assert_eq!(r.error, None, "{} / server: {out}", show(&r));
    assert_eq!(
        r.endpoint,
        format!("127.0.0.1:{}", r.endpoint.rsplit(':').next().unwrap())
    );
    assert_eq!(r.sni, None);
    let want = if version == "-tls1_3" { "1.3" } else { "1.2" };
    assert_eq!(r.tls_version.as_deref(), Some(want), "{}", show(&r));
    assert_eq!(r.chain.len(), 1, "{}", show(&r));
    assert_eq!(
        sha256_hex(&r.chain[0]),
        openssl_der_sha256(&p("apiserver.crt"))
    );
    assert!(!r.requested_client_cert);
    assert!(r.ca_names.is_empty());
}

#[test]
fn tls13_served_chain() {
    served_apiserver_cert("-tls1_3");
}

#[test]
fn tls12_served_chain() {
    served_apiserver_cert("-tls1_2");
}

/// `-Verify 1`: a client certificate is required. The probe sends none; the chain and the
/// acceptable CA names are still reported, and the server's failure says no certificate came.
fn required_client_cert(version: &str) {
    let test = format!("openssl s_server {version} -Verify 1");
    if !have_openssl(&test) {
        return;
    }
    let srv = s_server(
        &p("etcd/server.crt"),
        &p("etcd/server.key"),
        &[version, "-Verify", "1", "-CAfile", &p("etcd/ca.crt")],
    );
    let r = probe(srv.addr, None, TIMEOUT);
    let out = srv.finish();
    let want = if version == "-tls1_3" { "1.3" } else { "1.2" };
    assert_eq!(r.tls_version.as_deref(), Some(want), "{}", show(&r));
    // s_server completes the chain from -CAfile.
    assert_eq!(r.chain.len(), 2, "{}", show(&r));
    assert_eq!(
        sha256_hex(&r.chain[0]),
        openssl_der_sha256(&p("etcd/server.crt"))
    );
    assert_eq!(
        sha256_hex(&r.chain[1]),
        openssl_der_sha256(&p("etcd/ca.crt"))
    );
    assert!(r.requested_client_cert, "{}", show(&r));
    assert_eq!(r.ca_names, vec![openssl_subject(&p("etcd/ca.crt"))]);
    assert_eq!(r.ca_names, vec!["CN=etcd-ca".to_string()]);
    let err = r.error.as_deref().unwrap_or_default();
    assert!(
        err.contains("requires a client certificate"),
        "{} / server: {out}",
        show(&r)
    );
    assert!(
        out.contains("peer did not return a certificate"),
        "s_server should have seen no certificate: {out}"
    );
}

#[test]
fn tls13_required_client_cert() {
    required_client_cert("-tls1_3");
}

#[test]
fn tls12_required_client_cert() {
    required_client_cert("-tls1_2");
}

/// `-verify 1`: a client certificate is asked for but not required (kube-apiserver with
/// --client-ca-file). No error, and in TLS 1.3 the probe does not sit out the whole wait:
/// the session ticket says the server accepted the connection.
fn optional_client_cert(version: &str) {
    let test = format!("openssl s_server {version} -verify 1");
    if !have_openssl(&test) {
        return;
    }
    let srv = s_server(
        &p("apiserver.crt"),
        &p("apiserver.key"),
        &[version, "-verify", "1", "-CAfile", &p("ca.crt")],
    );
    let start = Instant::now();
    let r = probe(srv.addr, None, TIMEOUT);
    let took = start.elapsed();
    let out = srv.finish();
    assert_eq!(r.error, None, "{} / server: {out}", show(&r));
    assert!(r.requested_client_cert);
    assert_eq!(r.ca_names, vec![openssl_subject(&p("ca.crt"))]);
    assert_eq!(r.ca_names, vec!["CN=kubernetes".to_string()]);
    assert_eq!(
        sha256_hex(&r.chain[0]),
        openssl_der_sha256(&p("apiserver.crt"))
    );
    assert!(took < POST_HANDSHAKE_WAIT, "took {took:?}");
    assert!(
        !out.contains("BEGIN CERTIFICATE") && !out.contains("Client certificate"),
        "the probe must not send a certificate: {out}"
    );
}

#[test]
fn tls13_optional_client_cert() {
    optional_client_cert("-tls1_3");
}

#[test]
fn tls12_optional_client_cert() {
    optional_client_cert("-tls1_2");
}

/// The whole chain as presented, leaf first (s_server -cert_chain).
#[test]
fn chain_with_intermediate() {
    if !have_openssl("openssl s_server -cert_chain") {
        return;
    }
    let srv = s_server(
        &p("apiserver.crt"),
        &p("apiserver.key"),
        &["-cert_chain", &p("ca.crt")],
    );
    let r = probe(srv.addr, None, TIMEOUT);
    srv.finish();
    assert_eq!(r.error, None, "{}", show(&r));
    assert_eq!(r.tls_version.as_deref(), Some("1.3"));
    assert_eq!(r.chain.len(), 2, "{}", show(&r));
    assert_eq!(
        sha256_hex(&r.chain[0]),
        openssl_der_sha256(&p("apiserver.crt"))
    );
    assert_eq!(sha256_hex(&r.chain[1]), openssl_der_sha256(&p("ca.crt")));
}

/// SNI selects the certificate (s_server -servername/-cert2: the name given gets cert2).
#[test]
fn sni_selects_the_certificate() {
    if !have_openssl("openssl s_server -servername") {
        return;
    }
    for (sni, want, sent) in [
        (Some("node1"), "etcd/server.crt", Some("node1")),
        (None, "apiserver.crt", None),
        (Some("127.0.0.1"), "apiserver.crt", None),
    ] {
        let srv = s_server(
            &p("apiserver.crt"),
            &p("apiserver.key"),
            &[
                "-servername",
                "node1",
                "-cert2",
                &p("etcd/server.crt"),
                "-key2",
                &p("etcd/server.key"),
            ],
        );
        let r = probe(srv.addr, sni, TIMEOUT);
        srv.finish();
        assert_eq!(r.error, None, "{sni:?}: {}", show(&r));
        assert_eq!(r.sni.as_deref(), sent);
        assert_eq!(
            sha256_hex(&r.chain[0]),
            openssl_der_sha256(&p(want)),
            "{sni:?}"
        );
    }
}

#[test]
fn closed_port_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let r = probe(addr, None, TIMEOUT);
    assert_eq!(
        r.error.as_deref(),
        Some("connection refused"),
        "{}",
        show(&r)
    );
    assert!(r.chain.is_empty() && r.tls_version.is_none());
}

/// A listener that answers the ClientHello with `reply` and closes.
fn babbler(reply: &'static [u8]) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
            let _ = s.shutdown(std::net::Shutdown::Write);
            thread::sleep(Duration::from_millis(200));
        }
    });
    addr
}

#[test]
fn not_tls_is_an_error_not_a_panic() {
    let r = probe(babbler(b"garbage!\r\nmore garbage\r\n"), None, TIMEOUT);
    let err = r.error.as_deref().unwrap_or_default();
    assert!(err.contains("does not speak TLS"), "{}", show(&r));
    assert!(err.contains("67 61 72 62"), "{err}");
    assert!(r.chain.is_empty());

    let r = probe(
        babbler(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        ),
        None,
        TIMEOUT,
    );
    assert_eq!(
        r.error.as_deref(),
        Some("the server answered in plain HTTP, not TLS"),
        "{}",
        show(&r)
    );

    // A TLS-looking record header with nonsense inside.
    let r = probe(
        babbler(b"\x16\x03\x03\x00\x05\x02\x00\x00\xff\xff"),
        None,
        TIMEOUT,
    );
    assert!(r.error.is_some(), "{}", show(&r));

    // Accepts and closes without a word.
    let r = probe(babbler(b""), None, TIMEOUT);
    assert_eq!(
        r.error.as_deref(),
        Some("the server closed the connection without answering the ClientHello"),
        "{}",
        show(&r)
    );
}

#[test]
fn silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let conn = l.accept();
        let _ = rx.recv_timeout(Duration::from_secs(10));
        drop(conn);
    });
    let start = Instant::now();
    let r = probe(addr, None, Duration::from_millis(700));
    let took = start.elapsed();
    let _ = tx.send(());
    let err = r.error.as_deref().unwrap_or_default();
    assert!(err.contains("timed out after 700ms"), "{}", show(&r));
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

/// A throwaway certificate made with openssl in a temporary directory.
fn throwaway(dir: &Path, name: &str, newkey: &[&str]) -> (String, String) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ])
        .args(newkey)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl req");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

fn tmpdir(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("probe-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Keys ring cannot check a handshake signature with: the chain is still reported, and the
/// error says the signature could not be checked (not that it was bad).
#[test]
fn keys_rustls_cannot_check() {
    if !have_openssl("RSA-1024 and P-521 servers") {
        return;
    }
    let dir = tmpdir("weak");
    let (rsa_crt, rsa_key) = throwaway(&dir, "rsa1024", &["-newkey", "rsa:1024"]);
    let (ec_crt, ec_key) = throwaway(
        &dir,
        "p521",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
    );
    for (crt, key, version, why) in [
        (&rsa_crt, &rsa_key, "-tls1_2", "2048-bit keys only"),
        (&rsa_crt, &rsa_key, "-tls1_3", "2048-bit keys only"),
        (
            &ec_crt,
            &ec_key,
            "-tls1_3",
            "no verifier for ecdsa_secp521r1_sha512",
        ),
    ] {
        let srv = s_server(crt, key, &[version, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        let r = probe(srv.addr, None, TIMEOUT);
        let out = srv.finish();
        assert_eq!(r.chain.len(), 1, "{crt} {version}: {} / {out}", show(&r));
        assert_eq!(sha256_hex(&r.chain[0]), openssl_der_sha256(crt));
        let err = r.error.as_deref().unwrap_or_default();
        assert!(
            err.contains("cannot check the server's handshake signature") && err.contains(why),
            "{crt} {version}: {}",
            show(&r)
        );
    }
    // P-521 in TLS 1.2: the client's supported_groups must include the certificate's curve
    // (RFC 4492), and ring has no P-521, so the server finds no usable certificate and
    // refuses before sending one: no chain, the alert reported.
    let srv = s_server(&ec_crt, &ec_key, &["-tls1_2"]);
    let r = probe(srv.addr, None, TIMEOUT);
    let out = srv.finish();
    assert!(r.chain.is_empty(), "{}", show(&r));
    assert_eq!(
        r.error.as_deref(),
        Some("the server sent alert handshake_failure (40) during the TLS handshake"),
        "{} / {out}",
        show(&r)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Go's crypto/tls with RequireAndVerifyClientCert (etcd, or kube-apiserver without
/// anonymous auth): the chain is reported, the error says a certificate was required.
#[test]
fn go_server_requires_client_cert() {
    if !have("go", "version") {
        visible("SKIPPED: Go server (RequireAndVerifyClientCert): go not found on PATH");
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/scripts/goserver");
    let dir = tmpdir("go");
    let bin = dir.join("goserver");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", dir.join("gocache"))
        .env("CGO_ENABLED", "0")
        .output()
        .expect("go build");
    if !build.status.success() {
        visible(&format!(
            "SKIPPED: Go server: go build failed: {}",
            String::from_utf8_lossy(&build.stderr).trim()
        ));
        return;
    }
    for (max, version) in [("1.3", "1.3"), ("1.2", "1.2")] {
        let mut cmd = Command::new(&bin);
        cmd.args(["-addr", "127.0.0.1:0", "-n", "1", "-max", max])
            .args(["-cert", &p("apiserver.crt"), "-key", &p("apiserver.key")])
            .args(["-clientca", &p("ca.crt")]);
        let srv = Server::start(cmd, "listening on ");
        let r = probe(srv.addr, Some("kubernetes"), TIMEOUT);
        let out = srv.finish();
        assert_eq!(r.sni.as_deref(), Some("kubernetes"));
        assert_eq!(r.tls_version.as_deref(), Some(version), "{}", show(&r));
        assert_eq!(r.chain.len(), 1, "{} / {out}", show(&r));
        assert_eq!(
            sha256_hex(&r.chain[0]),
            openssl_or_ring_sha(&p("apiserver.crt"))
        );
        assert!(r.requested_client_cert);
        assert_eq!(r.ca_names, vec!["CN=kubernetes".to_string()]);
        let err = r.error.as_deref().unwrap_or_default();
        assert!(
            err.contains("requires a client certificate"),
            "{} / {out}",
            show(&r)
        );
        assert!(
            out.contains("TLS handshake error") && out.contains("didn't provide a certificate"),
            "goserver should have refused the missing certificate: {out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The served file's DER SHA-256: by openssl when present, else from the PEM here.
fn openssl_or_ring_sha(pem: &str) -> String {
    if have("openssl", "version") {
        return openssl_der_sha256(pem);
    }
    let text = std::fs::read_to_string(pem).unwrap();
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = data_encoding::BASE64.decode(b64.as_bytes()).unwrap();
    sha256_hex(&der)
}
