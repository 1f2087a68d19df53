//! Prometheus metrics (`--metrics-listen ADDR`): certificate expiry by role and file and
//! findings by code and severity (`certwire node`), handshakes by role and outcome
//! (`analyze --live`), in the Prometheus text exposition format (version 0.0.4; the
//! OpenMetrics text format to a scraper that asks for it).
//!
//! The registry and the encoding are the Prometheus org's client (`prometheus-client`),
//! which escapes label values (`\`, `"`, newlines): paths and roles come from files on a
//! node. The endpoint is a small server of certwire's own around `httparse`: it reads one
//! request head (at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] headers, within
//! [`REQUEST_DEADLINE`]), never a body, answers `GET /metrics` (`HEAD` too) and 404
//! elsewhere, and closes; at most [`MAX_CONNECTIONS`] requests are served at once.
//!
//! Cardinality is bounded: each labelled family keeps at most [`MAX_SERIES`] series; what
//! goes beyond is left out and counted in `certwire_metrics_series_dropped_total{metric}`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::model::ConnectionReport;

/// Series kept per labelled family; more are left out (and counted).
pub const MAX_SERIES: usize = 10_000;
/// Requests served at the same time; a connection beyond them is closed unanswered.
pub const MAX_CONNECTIONS: usize = 4;
/// The request line and headers: at most this many bytes...
pub const MAX_HEAD: usize = 8 * 1024;
/// ...and this many headers.
pub const MAX_HEADERS: usize = 32;
/// The whole request head must arrive within this time.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Writing the answer: each write may wait this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

type Labels = Vec<(String, String)>;

/// The metrics of one certwire process. Cheap to clone (shared); Send + Sync.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    /// Held for writing while a family is replaced, for reading while encoding: a scrape
    /// never sees half a replacement.
    swap: RwLock<()>,
    not_after: Capped<Gauge>,
    findings: Capped<Gauge>,
    handshakes: Capped<Counter>,
    connection_findings: Capped<Counter>,
    /// Without labels; a family so that it shows only once set (not in `analyze --live`).
    last_audit: Family<Labels, Gauge<i64, AtomicI64>>,
    dropped: Family<Labels, Counter<u64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// A labelled family and how many series it holds (at most [`MAX_SERIES`]).
struct Capped<M> {
    family: Family<Labels, M>,
    series: AtomicUsize,
    /// Its exported name, for `certwire_metrics_series_dropped_total`.
    name: &'static str,
}

impl<M: prometheus_client::metrics::TypedMetric + Default + Clone> Capped<M> {
    fn new(name: &'static str) -> Self {
        Capped {
            family: Family::default(),
            series: AtomicUsize::new(0),
            name,
        }
    }

    fn clear(&self) {
        self.family.clear();
        self.series.store(0, Ordering::SeqCst);
    }

    /// Apply `f` to the series of `l`, made when there is room; false when there was not.
    fn with(&self, l: &Labels, f: impl FnOnce(&M)) -> bool {
        if let Some(m) = self.family.get(l) {
            f(&m);
            return true;
        }
        if self.series.fetch_add(1, Ordering::SeqCst) >= MAX_SERIES {
            self.series.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        f(&self.family.get_or_create(l));
        true
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let not_after = Capped::<Gauge>::new("certwire_certificate_not_after_seconds");
        registry.register(
            not_after.name,
            "The certificate's notAfter (Unix time) by component role and file, from the last node audit; \
             a file with several certificates (a CA bundle) has the earliest",
            not_after.family.clone(),
        );
        let findings = Capped::<Gauge>::new("certwire_node_findings");
        registry.register(
            findings.name,
            "Findings of the last node audit by code and severity",
            findings.family.clone(),
        );
        let handshakes = Capped::<Counter>::new("certwire_handshakes_total");
        registry.register(
            "certwire_handshakes",
            "TLS handshakes reported, by role (the client's component role, else the server's by port, else unknown) and outcome (completed, failed, incomplete, unknown)",
            handshakes.family.clone(),
        );
        let connection_findings = Capped::<Counter>::new("certwire_connection_findings_total");
        registry.register(
            "certwire_connection_findings",
            "Findings on the handshakes reported, by code and severity",
            connection_findings.family.clone(),
        );
        let last_audit = Family::<Labels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "certwire_last_audit_timestamp_seconds",
            "When the last node audit finished (Unix time); absent before the first",
            last_audit.clone(),
        );
        let dropped = Family::<Labels, Counter<u64, AtomicU64>>::default();
        registry.register(
            "certwire_metrics_series_dropped",
            "Series left out because their family holds its maximum (10000)",
            dropped.clone(),
        );
        registry.register(
            "certwire_build",
            "certwire's version",
            Info::new(labels(&[("version", env!("CARGO_PKG_VERSION"))])),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                swap: RwLock::new(()),
                not_after,
                findings,
                handshakes,
                connection_findings,
                last_audit,
                dropped,
            }),
        }
    }

    fn drop_one(&self, metric: &str) {
        self.inner
            .dropped
            .get_or_create(&labels(&[("metric", metric)]))
            .inc();
    }

    /// `certwire_certificate_not_after_seconds{role,path}`: (role, path, notAfter as Unix
    /// time) for each certificate; replaces the previous set. A (role, path) given twice
    /// keeps the earliest notAfter.
    pub fn set_certificates(&self, certs: &[(String, String, i64)]) {
        let _w = self.inner.swap.write().unwrap_or_else(|e| e.into_inner());
        let capped = &self.inner.not_after;
        capped.clear();
        for (role, path, not_after) in certs {
            let l = labels(&[("role", role), ("path", path)]);
            let fresh = capped.family.get(&l).is_none();
            let kept = capped.with(&l, |g| {
                if fresh || *not_after < g.get() {
                    g.set(*not_after);
                }
            });
            if !kept {
                self.drop_one(capped.name);
            }
        }
    }

    /// `certwire_node_findings{code,severity}`: (code, severity, count); replaces the
    /// previous set. Counts of the same pair add up.
    pub fn set_findings(&self, counts: &[(String, String, u64)]) {
        let _w = self.inner.swap.write().unwrap_or_else(|e| e.into_inner());
        let capped = &self.inner.findings;
        capped.clear();
        for (code, severity, n) in counts {
            let l = labels(&[("code", code), ("severity", severity)]);
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            if !capped.with(&l, |g| {
                g.set(g.get().saturating_add(n));
            }) {
                self.drop_one(capped.name);
            }
        }
    }

    /// `certwire_handshakes_total{role,outcome}` + 1.
    pub fn handshake(&self, role: &str, outcome: &str) {
        let l = labels(&[("role", role), ("outcome", outcome)]);
        self.count(&self.inner.handshakes, &l);
    }

    fn count(&self, capped: &Capped<Counter>, l: &Labels) {
        let _r = self.inner.swap.read().unwrap_or_else(|e| e.into_inner());
        if !capped.with(l, |c| {
            c.inc();
        }) {
            self.drop_one(capped.name);
        }
    }

    /// A connection `analyze --live` reported: `certwire_handshakes_total` by its role (the
    /// client's, else the server's, else `unknown`) and handshake outcome, and
    /// `certwire_connection_findings_total` for each of its findings.
    pub fn connection(&self, c: &ConnectionReport) {
        let role = c
            .role
            .or(c.server_role)
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        let outcome = serde_json::to_value(c.handshake)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        self.handshake(&role, &outcome);
        for f in &c.findings {
            let severity = serde_json::to_value(f.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let l = labels(&[("code", f.code), ("severity", &severity)]);
            self.count(&self.inner.connection_findings, &l);
        }
    }

    /// `certwire_last_audit_timestamp_seconds`: when the last node audit finished.
    pub fn set_last_audit(&self, unix: i64) {
        self.inner.last_audit.get_or_create(&Vec::new()).set(unix);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn encode(&self) -> String {
        let _r = self.inner.swap.read().unwrap_or_else(|e| e.into_inner());
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut s, &self.inner.registry);
        s
    }

    /// The OpenMetrics text format (with its `# EOF`).
    pub fn encode_openmetrics(&self) -> String {
        let _r = self.inner.swap.read().unwrap_or_else(|e| e.into_inner());
        let mut s = String::new();
        let _ = text::encode(&mut s, &self.inner.registry);
        s
    }

    /// Bind `addr` and answer scrapes on a thread of its own (see [`bind`]).
    pub fn serve(&self, addr: &str) -> io::Result<JoinHandle<()>> {
        bind(addr)?.spawn(self)
    }
}

/// A bound, not yet served, metrics socket: `analyze --live` binds before it gives up its
/// privileges (errors are told before the capture starts) and starts the serving thread
/// after (capabilities are per thread: a thread started before would keep them).
#[derive(Debug)]
pub struct Endpoint {
    listener: TcpListener,
}

/// Bind the metrics address: `HOST:PORT`, `[V6]:PORT`, or `:PORT` for every address (IPv6
/// and IPv4, or IPv4 alone where the node has no IPv6).
pub fn bind(addr: &str) -> io::Result<Endpoint> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr}: {why} (use HOST:PORT, [IPv6]:PORT or :PORT)"),
        )
    };
    let listener = if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| invalid("not a port"))?;
        TcpListener::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)))
            .or_else(|_| TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))))?
    } else {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| invalid(&e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(invalid("no address"));
        }
        TcpListener::bind(&addrs[..])?
    };
    Ok(Endpoint { listener })
}

impl Endpoint {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answer scrapes of `metrics` on a new thread (and one short-lived thread per request,
    /// at most [`MAX_CONNECTIONS`] at once), for as long as the process runs.
    pub fn spawn(self, metrics: &Metrics) -> io::Result<JoinHandle<()>> {
        let metrics = metrics.clone();
        let busy = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("certwire-metrics".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    let Ok(stream) = stream else {
                        // EMFILE and the like: do not spin.
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                        busy.fetch_sub(1, Ordering::SeqCst);
                        continue; // dropped: closed unanswered
                    }
                    let (metrics, done) = (metrics.clone(), busy.clone());
                    let spawned = std::thread::Builder::new()
                        .name("certwire-scrape".into())
                        .spawn(move || {
                            let _ = answer(stream, &metrics);
                            done.fetch_sub(1, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        busy.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
    }
}

/// Read one request head, answer, close. The body (if any) is never read.
fn answer(mut stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let started = Instant::now();
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    let (method, path, openmetrics) = loop {
        let left = REQUEST_DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(()); // too slow: closed
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                let openmetrics = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("accept")
                        && String::from_utf8_lossy(h.value).contains("application/openmetrics-text")
                });
                break (
                    req.method.unwrap_or_default().to_string(),
                    req.path.unwrap_or_default().to_string(),
                    openmetrics,
                );
            }
            Ok(httparse::Status::Partial) if len < buf.len() => continue,
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return respond(
                    &mut stream,
                    "431 Request Header Fields Too Large",
                    "text/plain",
                    b"request head too large\n",
                    true,
                );
            }
            Err(_) => {
                return respond(
                    &mut stream,
                    "400 Bad Request",
                    "text/plain",
                    b"bad request\n",
                    true,
                );
            }
        }
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET /metrics\n",
            true,
        );
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path != "/metrics" {
        return respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"certwire: the metrics are at /metrics\n",
            !head_only,
        );
    }
    let (body, content_type) = if openmetrics {
        (
            metrics.encode_openmetrics(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (metrics.encode(), prometheus_text::CONTENT_TYPE)
    };
    respond(
        &mut stream,
        "200 OK",
        content_type,
        body.as_bytes(),
        !head_only,
    )
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_sets_and_escaping() {
        let m = Metrics::new();
        m.set_certificates(&[
            (
                "kube-apiserver".into(),
                "/etc/kubernetes/pki/apiserver.crt".into(),
                1_900_000_000,
            ),
            ("x".into(), "a\"b\\c\nd".into(), 5),
            ("x".into(), "a\"b\\c\nd".into(), 3),
        ]);
        let s = m.encode();
        assert!(
            s.contains(r#"certwire_certificate_not_after_seconds{role="x",path="a\"b\\c\nd"} 3"#),
            "{s}"
        );
        m.set_certificates(&[("etcd-server".into(), "/p".into(), 7)]);
        let s = m.encode();
        assert!(!s.contains("apiserver.crt"), "{s}");
        assert!(s.contains(r#"{role="etcd-server",path="/p"} 7"#), "{s}");
        m.set_findings(&[
            ("CODE".into(), "error".into(), 2),
            ("CODE".into(), "error".into(), 1),
        ]);
        assert!(m
            .encode()
            .contains(r#"certwire_node_findings{code="CODE",severity="error"} 3"#));
        m.handshake("kubelet-client", "completed");
        m.handshake("kubelet-client", "completed");
        assert!(m
            .encode()
            .contains(r#"certwire_handshakes_total{role="kubelet-client",outcome="completed"} 2"#));
        assert!(m.encode().contains(r#"certwire_build_info{version=""#));
        assert!(m.encode_openmetrics().ends_with("# EOF\n"));
    }

    #[test]
    fn series_are_capped() {
        let m = Metrics::new();
        let many: Vec<(String, String, i64)> = (0..MAX_SERIES + 5)
            .map(|i| ("r".to_string(), format!("/f{i}"), i as i64))
            .collect();
        m.set_certificates(&many);
        assert_eq!(m.inner.not_after.series.load(Ordering::SeqCst), MAX_SERIES);
        assert!(m.encode().contains(
            r#"certwire_metrics_series_dropped_total{metric="certwire_certificate_not_after_seconds"} 5"#
        ));
    }

    #[test]
    fn addresses() {
        assert!(bind("nonsense").is_err());
        assert!(bind(":notaport").is_err());
        let e = bind("127.0.0.1:0").unwrap();
        assert!(e.local_addr().unwrap().port() > 0);
    }
}
