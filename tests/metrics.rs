//! Prometheus metrics (`--metrics-listen`): the exposition text through `promtool check
//! metrics` (Debian's prometheus package; without it that check says SKIPPED), label values
//! from hostile file names, the HTTP endpoint's answers and bounds, and `analyze --live
//! --metrics-listen` on loopback (root and openssl; SKIPPED otherwise).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certwire::metrics::{self, Metrics};

fn visible(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `promtool check metrics` on `text`: None when promtool is not installed.
fn promtool(text: &str, what: &str) -> Option<()> {
    if !have("promtool") {
        visible(&format!(
            "{what}: promtool check SKIPPED: promtool not installed (Debian package prometheus)"
        ));
        return None;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{what}: promtool check metrics refused it ({}):\n{said}\n--- the text:\n{text}",
        out.status
    );
    visible(&format!("{what}: promtool check metrics: ok"));
    Some(())
}

const HOSTILE: &str = "/etc/kubernetes/pki/a\"b\\c\nd} 1\n# TYPE x counter\nevil{";

fn filled() -> Metrics {
    let m = Metrics::new();
    m.set_certificates(&[
        (
            "kube-apiserver".into(),
            "/etc/kubernetes/pki/apiserver.crt".into(),
            1_900_000_000,
        ),
        ("etcd-server".into(), HOSTILE.into(), 1_800_000_000),
        (
            "role\"with\\quote\n".into(),
            "/ünïcode/päth €.crt".into(),
            -5,
        ),
    ]);
    m.set_findings(&[
        ("CERT_EXPIRED".into(), "error".into(), 2),
        ("KEY_MISMATCH".into(), "warning".into(), 1),
    ]);
    m.handshake("kubelet-client", "completed");
    m.handshake("kubelet-client", "completed");
    m.handshake("unknown", "failed");
    m.set_last_audit(1_790_000_000);
    m
}

#[test]
fn exposition_text_is_valid_and_escapes_file_names() {
    let m = filled();
    let text = m.encode();
    // Every line is a comment or a sample of certwire's: no label value broke out.
    for line in text.lines() {
        assert!(
            line.starts_with("# HELP certwire_")
                || line.starts_with("# TYPE certwire_")
                || line.starts_with("certwire_"),
            "a line of its own: {line:?}\n{text}"
        );
    }
    assert!(text.contains(
        r#"certwire_certificate_not_after_seconds{role="etcd-server",path="/etc/kubernetes/pki/a\"b\\c\nd} 1\n# TYPE x counter\nevil{"} 1800000000"#
    ), "{text}");
    assert!(text.contains(r#"path="/ünïcode/päth €.crt"} -5"#), "{text}");
    assert!(
        text.contains(r#"certwire_handshakes_total{role="kubelet-client",outcome="completed"} 2"#)
    );
    assert!(text.contains(r#"certwire_node_findings{code="CERT_EXPIRED",severity="error"} 2"#));
    assert!(text.contains("certwire_last_audit_timestamp_seconds 1790000000"));
    assert!(text.contains("certwire_build_info{version="));
    promtool(&text, "exposition_text_is_valid_and_escapes_file_names");
    // A replaced set leaves nothing of the previous one.
    m.set_certificates(&[]);
    m.set_findings(&[]);
    let text = m.encode();
    assert!(
        !text.contains("not_after") && !text.contains("node_findings"),
        "{text}"
    );
    promtool(
        &text,
        "exposition_text_is_valid_and_escapes_file_names (emptied)",
    );
}

#[test]
fn at_most_max_series_per_family() {
    let m = Metrics::new();
    let many: Vec<(String, String, i64)> = (0..metrics::MAX_SERIES + 100)
        .map(|i| {
            (
                "kubelet-serving".to_string(),
                format!("/var/lib/kubelet/pki/{i}.crt"),
                1,
            )
        })
        .collect();
    m.set_certificates(&many);
    for i in 0..metrics::MAX_SERIES + 50 {
        m.handshake(&format!("role{i}"), "completed");
    }
    let text = m.encode();
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count("certwire_certificate_not_after_seconds{"),
        metrics::MAX_SERIES
    );
    assert_eq!(count("certwire_handshakes_total{"), metrics::MAX_SERIES);
    assert!(text.contains(
        r#"certwire_metrics_series_dropped_total{metric="certwire_certificate_not_after_seconds"} 100"#
    ));
    assert!(text.contains(
        r#"certwire_metrics_series_dropped_total{metric="certwire_handshakes_total"} 50"#
    ));
}

/// One request, the whole answer (the server closes); "" when it closed without one.
fn request(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

#[test]
fn endpoint_answers_get_metrics_and_refuses_the_rest() {
    let m = filled();
    let endpoint = metrics::bind("127.0.0.1:0").unwrap();
    let addr = endpoint.local_addr().unwrap();
    endpoint.spawn(&m).unwrap();

    let a = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&a), "HTTP/1.1 200 OK", "{a}");
    assert!(
        a.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{a}"
    );
    let body = a.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body, m.encode());
    let len: usize = a
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    promtool(body, "endpoint_answers_get_metrics_and_refuses_the_rest");
    // Counters move between scrapes.
    m.handshake("kubelet-client", "completed");
    let a = request(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert!(
        a.contains(r#"{role="kubelet-client",outcome="completed"} 3"#),
        "{a}"
    );
    // OpenMetrics to a scraper that asks for it.
    let a = request(
        addr,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
    );
    assert!(
        a.contains("Content-Type: application/openmetrics-text"),
        "{a}"
    );
    assert!(a.ends_with("# EOF\n"), "{a}");
    // HEAD: the head alone.
    let a = request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status(&a), "HTTP/1.1 200 OK");
    assert!(a.ends_with("\r\n\r\n"), "{a}");
    assert_eq!(
        status(&request(addr, b"GET / HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(&request(addr, b"GET /metricsX HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 404 Not Found"
    );
    // A body is never read: a gigabyte announced is answered at once.
    let started = Instant::now();
    let a = request(
        addr,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\nxxxx",
    );
    assert_eq!(status(&a), "HTTP/1.1 405 Method Not Allowed", "{a}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        status(&request(addr, b"\x16\x03\x01\x00\x05hello\r\n\r\n")),
        "HTTP/1.1 400 Bad Request"
    );
    // A head over the limit, or too many headers.
    let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', metrics::MAX_HEAD));
    big.extend(b"\r\n\r\n");
    assert_eq!(
        status(&request(addr, &big)),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
    for i in 0..=metrics::MAX_HEADERS {
        many.extend(format!("X-{i}: 1\r\n").as_bytes());
    }
    many.extend(b"\r\n");
    assert_eq!(
        status(&request(addr, &many)),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[test]
fn endpoint_is_bounded_against_slow_clients() {
    let m = filled();
    let endpoint = metrics::bind("127.0.0.1:0").unwrap();
    let addr = endpoint.local_addr().unwrap();
    endpoint.spawn(&m).unwrap();
    // MAX_CONNECTIONS clients that never finish their request hold every slot...
    let started = Instant::now();
    let slow: Vec<TcpStream> = (0..metrics::MAX_CONNECTIONS)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // ...so another is closed unanswered, at once...
    let a = request(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(a, "", "answered beyond the cap");
    // ...until the deadline closes the slow ones.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.is_empty(), "a slow client got an answer");
    }
    let waited = started.elapsed();
    assert!(
        waited >= metrics::REQUEST_DEADLINE - Duration::from_millis(500)
            && waited < metrics::REQUEST_DEADLINE + Duration::from_secs(5),
        "slow clients closed after {waited:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        status(&request(addr, b"GET /metrics HTTP/1.1\r\n\r\n")),
        "HTTP/1.1 200 OK"
    );
}

#[test]
fn bind_errors() {
    let taken = metrics::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_eq!(
        metrics::bind(&addr).unwrap_err().kind(),
        std::io::ErrorKind::AddrInUse
    );
    for bad in ["9723", ":", ":99999", "no such host name.invalid:80", ""] {
        assert!(metrics::bind(bad).is_err(), "{bad}");
    }
}

/// `analyze --live lo --metrics-listen`: handshakes counted by role and outcome, served
/// while capturing, as nobody.
#[test]
fn live_capture_serves_metrics() {
    if !is_root() || !have("openssl") {
        visible(
            "live_capture_serves_metrics: SKIPPED: needs root and openssl (CI runs it as root)",
        );
        return;
    }
    let root = common::root();
    // A bad address is refused before the capture starts.
    let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(["analyze", "--live", "lo", "--metrics-listen", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-listen nonsense"));

    let port = "36443";
    let mut server = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-www"])
        .args(["-cert", "node/etc/kubernetes/pki/apiserver.crt"])
        .args(["-key", "node/etc/kubernetes/pki/apiserver.key"])
        .args(["-CAfile", "node/etc/kubernetes/pki/ca.crt", "-Verify", "1"])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect_timeout(&server_addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut live = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args([
            "analyze", "--live", "lo", "--ports", port, "--format", "jsonl",
        ])
        .args(["--duration", "60s", "--metrics-listen", "127.0.0.1:0"])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(live.stderr.take().unwrap()).lines();
    let mut metrics_addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        visible(&line);
        if let Some(a) = line.strip_prefix("certwire: metrics at http://") {
            metrics_addr = a
                .strip_suffix("/metrics")
                .map(|a| a.parse::<SocketAddr>().unwrap());
        }
        if line.contains("capturing on") {
            break;
        }
    }
    let metrics_addr = metrics_addr.expect("certwire said where the metrics are");
    std::thread::spawn(move || lines.for_each(|l| visible(&l.unwrap_or_default())));
    // The serving thread runs as nobody with no capability, like the capture.
    let pid = live.id();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let field = |f: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
        if field("Name:").starts_with("certwire-metric") {
            assert!(field("Uid:").starts_with("65534") || field("Uid:").starts_with('0'));
        }
    }
    let client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-tls1_2",
            "-quiet",
        ])
        .args([
            "-cert",
            "node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem",
        ])
        .args([
            "-key",
            "node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem",
        ])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    client
        .stdin
        .as_ref()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    let client = client.wait_with_output();
    assert!(client.is_ok());
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let a = request(metrics_addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        if a.contains("certwire_handshakes_total{") || Instant::now() > deadline {
            break a
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or(a);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = live.wait();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        text.contains(r#"certwire_handshakes_total{role="kubelet-client",outcome="completed"} 1"#),
        "{text}"
    );
    assert!(text.contains("certwire_build_info"), "{text}");
    assert!(
        !text.contains("certwire_last_audit"),
        "no audit in analyze: {text}"
    );
    promtool(&text, "live_capture_serves_metrics");
}

/// `certwire node --metrics-listen`: the audit of the shipped node tree, served, through
/// promtool (the labels are real file names and roles).
#[test]
fn node_command_serves_its_audit() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut node = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args([
            "node",
            "--root",
            "node",
            "--format",
            "jsonl",
            "--interval",
            "1h",
        ])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .current_dir(common::root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let a = if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            request(addr, b"GET /metrics HTTP/1.1\r\n\r\n")
        } else {
            String::new()
        };
        if a.contains("certwire_last_audit_timestamp_seconds ") || Instant::now() > deadline {
            break a
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or(a);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = node.kill();
    let _ = node.wait();
    assert!(
        text.contains("certwire_certificate_not_after_seconds{role=\"kube-apiserver\",path=\""),
        "{text}"
    );
    assert!(text.contains("apiserver.crt\"} "), "{text}");
    assert!(
        text.contains("certwire_last_audit_timestamp_seconds "),
        "{text}"
    );
    promtool(&text, "node_command_serves_its_audit");
}
