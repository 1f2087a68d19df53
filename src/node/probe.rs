//! `certwire node --probe`: connect to one of the node's own TLS endpoints as a client and
//! record what it serves — the chain as presented, the TLS version, and, when the server asks
//! for a client certificate, the CA names it says it accepts — without sending any credential
//! and without sending application data.
//!
//! This is what tells "renewed but not restarted" apart from a good rotation: the file on
//! disk has the new certificate, the process still serves the old one.
//!
//! How the probe behaves, and why:
//!
//! - **Any server certificate is accepted** (nothing is trusted or judged here; the audit
//!   compares the chain with the files). The chain is recorded the moment the server's
//!   Certificate message has been parsed, so it is reported even when the handshake fails
//!   afterwards.
//! - **The handshake signature is still checked** (ServerKeyExchange in TLS 1.2,
//!   CertificateVerify in TLS 1.3) with the ring provider's algorithms: a server that merely
//!   replays a certificate it does not hold the key of is not reported as serving it. When
//!   the check cannot be made (an RSA key under 2048 bits, ECDSA P-521, a SHA-1 signature:
//!   ring does not verify these) or fails, the chain is still reported and `error` says which.
//!   To get the chain in those cases the probe also *offers* ecdsa_secp521r1_sha512 and the
//!   SHA-1 schemes, last, so that a server whose key can only make such signatures still goes
//!   as far as sending its Certificate.
//! - **No client certificate, ever**: when the server sends a CertificateRequest the probe
//!   records its acceptable CA names and answers with an empty Certificate message. A server
//!   that requires one (etcd) then fails the handshake — in TLS 1.2 before its Finished, in
//!   TLS 1.3 with an alert after the client's Finished, which the probe waits for (until a
//!   session ticket arrives, which servers send only after accepting the client, the server
//!   closes, or [`POST_HANDSHAKE_WAIT`]).
//! - **No ALPN**: no application data is sent, so no protocol needs choosing, and a Go
//!   server (1.17+) whose NextProtos do not include what a client offers aborts with
//!   no_application_protocol — offering none can never trigger that. The ClientHello is
//!   otherwise rustls's: TLS 1.3 and 1.2, ECDHE with AEAD suites only.
//! - **Bounded**: one deadline (`timeout`) covers connect and handshake; every read and
//!   write gets what is left of it; at most [`MAX_READ`] bytes are read; after the handshake
//!   a close_notify is sent and the connection closed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionStore, ResolvesClientCert, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, Error, NamedGroup,
    PeerMisbehaved, ProtocolVersion, SignatureScheme,
};

/// The most the probe reads from one server (a kubeadm chain is 1–3 KB; rustls caps a
/// handshake message at 64 KiB).
pub const MAX_READ: usize = 256 * 1024;

/// How long, at most, the probe waits after a TLS 1.3 handshake in which the server asked
/// for a client certificate, for the server's verdict on the empty one (an alert, or a
/// session ticket meaning it accepted the connection). Also bounded by the deadline.
pub const POST_HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

/// What one endpoint served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// The address connected to, e.g. "127.0.0.1:6443".
    pub endpoint: String,
    /// The server name sent in the ClientHello (never an IP address: TLS sends none then).
    pub sni: Option<String>,
    /// "1.3" / "1.2", once the server has chosen.
    pub tls_version: Option<String>,
    /// The certificates as presented (DER), leaf first; empty if the server never sent them.
    pub chain: Vec<Vec<u8>>,
    /// Acceptable CA names from the server's CertificateRequest, RFC 2253; empty if none
    /// requested (or the request named none).
    pub ca_names: Vec<String>,
    /// The server sent a CertificateRequest.
    pub requested_client_cert: bool,
    /// Why the probe did not complete a handshake, in words; `None` when it did (even when
    /// the server asked for a client certificate and accepted the connection without one).
    pub error: Option<String>,
}

/// Connect to `addr` and perform a TLS handshake as a client without credentials; see the
/// module documentation. `sni` is sent as the server name when it is a host name (an IP
/// address, or `None`, sends no SNI). Never panics on what the server sends.
pub fn probe(addr: SocketAddr, sni: Option<&str>, timeout: Duration) -> Probed {
    let mut out = Probed {
        endpoint: addr.to_string(),
        ..Probed::default()
    };
    let deadline = Instant::now() + timeout;

    let (server_name, sent_sni) = match server_name(addr, sni) {
        Ok(v) => v,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.sni = sent_sni;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = match client_config(&seen) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("could not set up the TLS client: {e}"));
            return out;
        }
    };
    let mut conn = match ClientConnection::new(Arc::new(config), server_name) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("could not set up the TLS client: {e}"));
            return out;
        }
    };

    let sock = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(connect_error(&e, timeout));
            return out;
        }
    };
    let _ = sock.set_nodelay(true);
    let mut wire = Wire {
        sock,
        deadline,
        read: 0,
        first: Vec::new(),
    };

    let result = handshake(&mut conn, &mut wire);
    let tls13 = conn.protocol_version() == Some(ProtocolVersion::TLSv1_3);
    let error = match result {
        Err(f) => Some(describe(f, &lock(&seen), &wire, timeout, Phase::Handshake)),
        Ok(()) => {
            // In TLS 1.3 the client's Finished ends the handshake on this side before the
            // server has looked at the (empty) client Certificate: wait for its verdict.
            let requested = lock(&seen).requested_client_cert;
            let verdict = if tls13 && requested {
                wire.deadline = deadline.min(Instant::now() + POST_HANDSHAKE_WAIT);
                after_handshake(&mut conn, &mut wire, &seen)
            } else {
                Ok(())
            };
            match verdict {
                Ok(()) => {
                    conn.send_close_notify();
                    wire.deadline = Instant::now() + Duration::from_millis(500);
                    let _ = flush(&mut conn, &mut wire);
                    None
                }
                Err(f) => Some(describe(f, &lock(&seen), &wire, timeout, Phase::After)),
            }
        }
    };
    let _ = wire.sock.shutdown(Shutdown::Both);

    out.tls_version = conn.protocol_version().and_then(version_str);
    let seen = lock(&seen);
    out.chain = seen.chain.clone();
    out.ca_names = seen.ca_names.clone();
    out.requested_client_cert = seen.requested_client_cert;
    out.error = error;
    out
}

/// What the rustls callbacks observed, shared with [`probe`].
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<Vec<u8>>,
    requested_client_cert: bool,
    ca_names: Vec<String>,
    /// Set when the handshake signature check failed or could not be made: the words for it.
    signature_problem: Option<String>,
    /// A TLS 1.3 NewSessionTicket arrived (the server accepted the client's flight).
    ticket: bool,
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}

fn version_str(v: ProtocolVersion) -> Option<String> {
    Some(
        match v {
            ProtocolVersion::TLSv1_3 => "1.3",
            ProtocolVersion::TLSv1_2 => "1.2",
            ProtocolVersion::TLSv1_1 => "1.1",
            ProtocolVersion::TLSv1_0 => "1.0",
            other => return Some(format!("0x{:04x}", u16::from(other))),
        }
        .to_string(),
    )
}

fn server_name(
    addr: SocketAddr,
    sni: Option<&str>,
) -> Result<(ServerName<'static>, Option<String>), String> {
    match sni {
        None => Ok((ServerName::IpAddress(addr.ip().into()), None)),
        Some(s) => {
            let bare = s.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                return Ok((ServerName::IpAddress(ip.into()), None));
            }
            match ServerName::try_from(s.to_string()) {
                Ok(n) => Ok((n, Some(s.to_string()))),
                Err(_) => Err(format!("{s:?} is not a host name that can be sent as SNI")),
            }
        }
    }
}

fn client_config(seen: &Arc<Mutex<Seen>>) -> Result<ClientConfig, Error> {
    let provider = rustls::crypto::ring::default_provider();
    let algs = provider.signature_verification_algorithms;
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordChain {
            seen: seen.clone(),
            algs,
        }))
        .with_client_cert_resolver(Arc::new(NoClientCert { seen: seen.clone() }));
    config.resumption = Resumption::store(Arc::new(TicketSeen { seen: seen.clone() }));
    config.alpn_protocols = Vec::new();
    config.enable_sni = true;
    Ok(config)
}

/// Accepts any server certificate, recording the chain; checks the handshake signature.
#[derive(Debug)]
struct RecordChain {
    seen: Arc<Mutex<Seen>>,
    algs: WebPkiSupportedAlgorithms,
}

impl RecordChain {
    fn checked(
        &self,
        result: Result<HandshakeSignatureValid, Error>,
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        result.inspect_err(|e| {
            let verifiable = self.algs.supported_schemes().contains(&dss.scheme);
            lock(&self.seen).signature_problem =
                Some(signature_problem(cert, dss.scheme, verifiable, e));
        })
    }
}

impl ServerCertVerifier for RecordChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        lock(&self.seen).chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs);
        self.checked(r, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs);
        self.checked(r, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algs.supported_schemes();
        // Offered last, never verified (ring has no P-521 nor SHA-1 ECDSA, and rustls maps
        // no SHA-1 scheme): only so that a server with such a key still sends its chain.
        for extra in [
            SignatureScheme::ECDSA_NISTP521_SHA512,
            SignatureScheme::RSA_PKCS1_SHA1,
            SignatureScheme::ECDSA_SHA1_Legacy,
        ] {
            if !schemes.contains(&extra) {
                schemes.push(extra);
            }
        }
        schemes
    }
}

/// Words for a handshake signature that did not verify or could not be checked.
fn signature_problem(
    cert: &[u8],
    scheme: SignatureScheme,
    verifiable: bool,
    err: &Error,
) -> String {
    let scheme = crate::tls::names::signature_scheme_name(u16::from(scheme));
    let key = crate::x509::summarize(cert).public_key;
    let key_words = key.as_deref().unwrap_or("unreadable");
    let small_rsa = key
        .as_deref()
        .and_then(|k| k.strip_prefix("RSA "))
        .and_then(|bits| bits.parse::<u32>().ok())
        .is_some_and(|bits| bits < 2048);
    let cannot = |why: &str| {
        format!(
            "the probe cannot check the server's handshake signature ({scheme}, {key_words} key): \
             {why}; the chain is as presented, the handshake was not completed"
        )
    };
    if small_rsa {
        return cannot("rustls (ring) verifies RSA signatures from 2048-bit keys only");
    }
    if !verifiable {
        return cannot(&format!(
            "rustls (ring) has no verifier for {scheme}, offered only so that such a server \
             would still present its chain"
        ));
    }
    match err {
        Error::InvalidCertificate(CertificateError::BadSignature) => format!(
            "the server's handshake signature ({scheme}) does not verify with the {key_words} key \
             of the certificate it presented: it may not hold that certificate's private key"
        ),
        Error::InvalidCertificate(CertificateError::BadEncoding) => {
            cannot("rustls (webpki) could not parse the certificate to take its public key")
        }
        Error::InvalidCertificate(CertificateError::Other(e)) => cannot(&e.to_string()),
        Error::InvalidCertificate(_)
        | Error::PeerMisbehaved(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)
        | Error::PeerIncompatible(_)
        | Error::General(_) => cannot(&format!(
            "rustls (ring) does not verify this scheme with this key ({err})"
        )),
        other => cannot(&other.to_string()),
    }
}

/// Never presents a certificate; records that one was asked for, and the CA names.
#[derive(Debug)]
struct NoClientCert {
    seen: Arc<Mutex<Seen>>,
}

impl ResolvesClientCert for NoClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let mut seen = lock(&self.seen);
        seen.requested_client_cert = true;
        seen.ca_names = root_hint_subjects.iter().map(|n| name_words(n)).collect();
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// A DistinguishedName from a CertificateRequest (a DER `Name`, SEQUENCE included; a few
/// old servers leave the SEQUENCE header off) in RFC 2253.
fn name_words(der: &[u8]) -> String {
    let parsed = match der.first() {
        Some(0x30) => crate::x509::der_name_to_rfc2253(der),
        Some(0x31) => {
            let mut wrapped = vec![0x30];
            let len = der.len();
            if len < 0x80 {
                wrapped.push(len as u8);
            } else if len <= 0xff {
                wrapped.extend([0x81, len as u8]);
            } else {
                wrapped.extend([0x82, (len >> 8) as u8, len as u8]);
            }
            wrapped.extend_from_slice(der);
            crate::x509::der_name_to_rfc2253(&wrapped)
        }
        _ => None,
    };
    match parsed {
        // x509-parser is lenient; an empty rendering of a non-empty Name is no rendering.
        Some(s) if !s.is_empty() || der.len() <= 2 => s,
        _ => format!(
            "(unparsable name, {} bytes: {})",
            der.len(),
            crate::x509::hex(&der[..der.len().min(32)])
        ),
    }
}

/// Stores no session; notes that a TLS 1.3 ticket arrived.
#[derive(Debug)]
struct TicketSeen {
    seen: Arc<Mutex<Seen>>,
}

impl ClientSessionStore for TicketSeen {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }
    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {
        lock(&self.seen).ticket = true;
    }
    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        None
    }
}

/// The socket, with the deadline applied to every read and write, the read cap, and the
/// first bytes the server sent (to say what it spoke when it was not TLS).
struct Wire {
    sock: TcpStream,
    deadline: Instant,
    read: usize,
    first: Vec<u8>,
}

const READ_LIMIT: &str = "read limit";

impl Wire {
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::from(io::ErrorKind::TimedOut))
        } else {
            Ok(left)
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        if self.read >= MAX_READ {
            return Err(io::Error::other(READ_LIMIT));
        }
        self.sock.set_read_timeout(Some(left))?;
        let cap = buf.len().min(MAX_READ - self.read);
        let n = self.sock.read(&mut buf[..cap])?;
        if self.first.len() < 16 {
            let take = n.min(16 - self.first.len());
            self.first.extend_from_slice(&buf[..take]);
        }
        self.read += n;
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.remaining()?;
        self.sock.set_write_timeout(Some(left))?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Why the exchange stopped.
enum Failure {
    Io(io::Error),
    /// The server closed the connection (FIN) without a TLS alert.
    Eof,
    Tls(Error),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    After,
}

fn flush(conn: &mut ClientConnection, wire: &mut Wire) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(wire)?;
    }
    Ok(())
}

/// Drive the handshake until this side considers it complete, or it fails.
fn handshake(conn: &mut ClientConnection, wire: &mut Wire) -> Result<(), Failure> {
    loop {
        if let Err(e) = flush(conn, wire) {
            return Err(salvage(conn, wire).unwrap_or(Failure::Io(e)));
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        read_and_process(conn, wire)?;
    }
}

/// A write failed (EPIPE, ECONNRESET): typically the server sent an alert and closed while
/// the rest of the client's flight was on its way (Go refusing an empty client Certificate
/// in TLS 1.2). The alert may still be waiting in the receive queue: read what is there.
fn salvage(conn: &mut ClientConnection, wire: &mut Wire) -> Option<Failure> {
    wire.deadline = wire
        .deadline
        .min(Instant::now() + Duration::from_millis(500));
    loop {
        match conn.read_tls(wire) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    return Some(Failure::Tls(e));
                }
            }
        }
    }
}

fn read_and_process(
    conn: &mut ClientConnection,
    wire: &mut Wire,
) -> Result<rustls::IoState, Failure> {
    let n = conn.read_tls(wire).map_err(Failure::Io)?;
    if n == 0 {
        return Err(Failure::Eof);
    }
    match conn.process_new_packets() {
        Ok(state) => Ok(state),
        Err(e) => {
            // Send the alert rustls queued, as a well-behaved client does; best effort.
            let _ = flush(conn, wire);
            Err(Failure::Tls(e))
        }
    }
}

/// After a TLS 1.3 handshake in which a client certificate was requested: read until the
/// server rejects the empty certificate (alert, or closing), accepts it (a session ticket),
/// or the wait ends (taken as accepted: the server said nothing against it).
fn after_handshake(
    conn: &mut ClientConnection,
    wire: &mut Wire,
    seen: &Mutex<Seen>,
) -> Result<(), Failure> {
    loop {
        if lock(seen).ticket {
            return Ok(());
        }
        match read_and_process(conn, wire) {
            Ok(state) => {
                if state.peer_has_closed() {
                    return Err(Failure::Eof);
                }
                // Application data the server volunteered: not wanted, discarded.
                let mut sink = [0u8; 4096];
                while matches!(conn.reader().read(&mut sink), Ok(n) if n > 0) {}
            }
            Err(Failure::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(());
            }
            Err(f) => return Err(f),
        }
    }
}

fn connect_error(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("connect timed out after {}", duration_words(timeout))
        }
        _ => format!("connect failed: {e}"),
    }
}

fn duration_words(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Alerts with which servers refuse a missing client certificate (Go: bad_certificate in
/// TLS 1.2 and before 1.21 in TLS 1.3, then certificate_required; OpenSSL:
/// handshake_failure in TLS 1.2, certificate_required in TLS 1.3).
fn refuses_missing_cert(code: u8) -> bool {
    matches!(code, 40 | 41 | 42 | 43 | 46 | 48 | 49 | 116)
}

fn alert_words(code: u8) -> String {
    match crate::tls::names::alert_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => format!("{code}"),
    }
}

/// Whether the first bytes could begin a TLS record (content type 20..=24, version 3.x).
fn looks_like_tls(first: &[u8]) -> bool {
    match first {
        [t, 3, ..] => (20..=24).contains(t),
        [t] => (20..=24).contains(t),
        [] => true,
        _ => false,
    }
}

fn not_tls_words(first: &[u8]) -> String {
    if first.starts_with(b"HTTP/") {
        return "the server answered in plain HTTP, not TLS".into();
    }
    let shown: Vec<String> = first.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "the server does not speak TLS (it sent {}{})",
        shown.join(" "),
        if first.len() > 8 { " …" } else { "" }
    )
}

fn describe(f: Failure, seen: &Seen, wire: &Wire, timeout: Duration, phase: Phase) -> String {
    let during = match phase {
        Phase::Handshake => "during the TLS handshake",
        Phase::After => "right after the TLS handshake",
    };
    let asked = seen.requested_client_cert && !seen.ticket;
    if !looks_like_tls(&wire.first) {
        return not_tls_words(&wire.first);
    }
    match f {
        Failure::Io(e) => match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
                "timed out after {} waiting for the server {during}",
                duration_words(timeout)
            ),
            io::ErrorKind::ConnectionReset if asked => format!(
                "the server reset the connection {during}; it had asked for a client \
                 certificate and the probe sent none: it requires one"
            ),
            io::ErrorKind::ConnectionReset => format!("the server reset the connection {during}"),
            _ if e.to_string() == READ_LIMIT => format!(
                "the server sent more than {} KiB without completing the handshake",
                MAX_READ / 1024
            ),
            _ => format!("connection error {during}: {e}"),
        },
        Failure::Eof if asked => format!(
            "the server closed the connection {during} without an alert; it had asked for a \
             client certificate and the probe sent none: it requires one"
        ),
        Failure::Eof if wire.read == 0 => {
            "the server closed the connection without answering the ClientHello".into()
        }
        Failure::Eof => format!("the server closed the connection {during} without an alert"),
        Failure::Tls(e) => {
            if let Some(words) = &seen.signature_problem {
                return words.clone();
            }
            match e {
                Error::AlertReceived(alert) => {
                    let code = u8::from(alert);
                    if asked && refuses_missing_cert(code) {
                        format!(
                            "the server requires a client certificate: it asked for one, the \
                             probe sent none, and it answered with alert {}",
                            alert_words(code)
                        )
                    } else {
                        format!("the server sent alert {} {during}", alert_words(code))
                    }
                }
                Error::InvalidMessage(m) => {
                    format!("the server's TLS messages could not be parsed {during}: {m:?}")
                }
                other => format!("TLS handshake failed: {other}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_the_sequence_header() {
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "kubernetes" } } }
        let inner: &[u8] = &[
            0x31, 0x15, 0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x0c, b'e', b't', b'c',
            b'd', b'-', b'c', b'a', b'-', b'r', b'o', b'o', b't',
        ];
        let mut full = vec![0x30, inner.len() as u8];
        full.extend_from_slice(inner);
        assert_eq!(name_words(&full), "CN=etcd-ca-root");
        assert_eq!(name_words(inner), "CN=etcd-ca-root");
        assert!(
            name_words(&[0x04, 0x01, 0x00]).starts_with("(unparsable name"),
            "{}",
            name_words(&[0x04, 0x01, 0x00])
        );
        assert!(name_words(&[0x30, 0x03, 0x04, 0x01, 0x00]).starts_with("(unparsable name"));
    }

    #[test]
    fn first_bytes() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x03, 0x00, 0x7a]));
        assert!(looks_like_tls(&[0x15, 0x03, 0x01]));
        assert!(!looks_like_tls(b"HTTP/1.0 400"));
        assert_eq!(
            not_tls_words(b"HTTP/1.0 400 Bad Request"),
            "the server answered in plain HTTP, not TLS"
        );
        assert!(not_tls_words(b"garbage!\r\nmore").contains("67 61 72 62 61 67 65 21 …"));
    }

    #[test]
    fn sni_is_a_host_name_or_nothing() {
        let a: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        assert_eq!(server_name(a, None).unwrap().1, None);
        assert_eq!(server_name(a, Some("10.0.0.1")).unwrap().1, None);
        assert_eq!(server_name(a, Some("[::1]")).unwrap().1, None);
        assert_eq!(
            server_name(a, Some("kubernetes.default"))
                .unwrap()
                .1
                .as_deref(),
            Some("kubernetes.default")
        );
        assert!(server_name(a, Some("bad name!")).is_err());
    }
}
