//! JSON Lines connection records, written field by field.
//!
//! The default form is byte for byte what serde_json writes for
//! [`super::json::write_jsonl_connection`] (tests/jsonl.rs compares the two on every
//! shipped capture), at a fraction of the cost on handshake-dense traffic:
//! - each distinct certificate's fields are serialized once and kept by SHA-256 (bounded),
//!   so per connection only its local matches are serialized;
//! - text known to need no escaping (SHA-256 and other hex, times, addresses, protocol and
//!   cipher suite names) is copied as it is, and other text is checked eight bytes at a
//!   time before falling back to serde_json's escaping;
//! - findings, the CertificateRequest and the TCP counters are written by hand too; the
//!   rest (alerts, candidates, local matches, tunnels, …) still goes through serde.
//!
//! The compact form (`--jsonl-compact`, docs/report-schema.md) writes each distinct
//! certificate once as a record of its own, before the first connection that names it,
//! and the connections name certificates by SHA-256.

use std::io::Write;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::correlate::LocalMatch;
use crate::diagnose::{Finding, Layer, Observed, Severity};
use crate::error::OutputError;
use crate::model::{
    CertificateRequestReport, ConnectionReport, Handshake, PresentedCert, TcpReport, Visibility,
};

/// Distinct certificates whose serialized fields are kept; past it the cache starts over.
const CERT_JSON_CAP: usize = 4096;
/// Bytes of serialized certificate fields kept (a certificate is about 1 KB of JSON).
const CERT_JSON_BYTES_CAP: usize = 8 << 20;
/// Largest `local_files` JSON kept for one certificate (a node with many copies of one
/// certificate); all of them together stay under `CERT_JSON_BYTES_CAP` (counting the JSON,
/// which the kept lists about equal).
const LOCAL_JSON_MAX: usize = 16 << 10;
/// Compact form: certificates remembered as written; past it the set starts over, and a
/// certificate seen again is written again (consumers key certificate records by SHA-256).
pub const COMPACT_SEEN_CAP: usize = 65_536;

/// Writes connection records; holds what is kept between them.
pub struct JsonlWriter {
    /// SHA-256 → the certificate's fields as serde_json writes them, without the braces.
    cert_json: FxHashMap<String, Box<[u8]>>,
    cert_json_bytes: usize,
    /// SHA-256 → the certificate's local files and their JSON: the same certificate has
    /// the same local files in every connection (they depend on the node's files only),
    /// and comparing them costs less than writing them again (issue 17).
    local_json: FxHashMap<String, (Vec<LocalMatch>, Box<[u8]>)>,
    local_json_bytes: usize,
    /// `Some` in the compact form: the SHA-256 of the certificates already written.
    compact: Option<FxHashSet<[u8; 32]>>,
    compact_cap: usize,
    /// The line being built, reused.
    line: Vec<u8>,
    /// Flush after every connection (a live capture or a pipe, followed as it goes);
    /// otherwise lines leave in the output's buffer-sized writes.
    pub flush_each: bool,
}

impl Default for JsonlWriter {
    fn default() -> Self {
        JsonlWriter {
            cert_json: FxHashMap::default(),
            cert_json_bytes: 0,
            local_json: FxHashMap::default(),
            local_json_bytes: 0,
            compact: None,
            compact_cap: COMPACT_SEEN_CAP,
            line: Vec::new(),
            flush_each: true,
        }
    }
}

impl JsonlWriter {
    /// The compact form: certificate records once, connections naming them by SHA-256.
    pub fn compact() -> JsonlWriter {
        JsonlWriter {
            compact: Some(FxHashSet::default()),
            compact_cap: COMPACT_SEEN_CAP,
            ..Default::default()
        }
    }

    /// Tests: a smaller cap on the certificates remembered in the compact form.
    pub fn with_compact_cap(mut self, cap: usize) -> JsonlWriter {
        self.compact_cap = cap;
        self
    }

    /// One connection (preceded, in the compact form, by the records of the certificates
    /// not written yet), one write, flushed (with `flush_each`) so that a follower sees it
    /// at once.
    pub fn connection(
        &mut self,
        c: &ConnectionReport,
        out: &mut dyn Write,
    ) -> Result<(), OutputError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let r = self.render(c, &mut line);
        if r.is_ok() {
            out.write_all(&line)?;
            if self.flush_each {
                out.flush()?;
            }
        }
        // Keep a normal line's buffer, not an outsize one.
        if line.capacity() <= 1 << 16 {
            self.line = line;
        }
        r
    }

    /// The lines for one connection, appended to `out`.
    pub fn render(&mut self, c: &ConnectionReport, out: &mut Vec<u8>) -> Result<(), OutputError> {
        if self.compact.is_some() {
            self.certificate_records(c, out)?;
        }
        // Every field, so that a field added to the model does not compile until it is
        // written here too: by one of the parts below, whose patterns name the fields each
        // writes (a field named there and not written is an unused variable).
        let ConnectionReport {
            id: _,
            input: _,
            first_packet: _,
            client: _,
            server: _,
            first_seen: _,
            tls_version: _,
            sni: _,
            alpn: _,
            alpn_selected: _,
            cipher_suite: _,
            cipher_suite_id: _,
            offered_tls_versions: _,
            offered_cipher_suites: _,
            server_certificates: _,
            client_certificates: _,
            truncated_certificate_messages: _,
            certificate_request: _,
            alerts: _,
            role: _,
            server_role: _,
            candidates_not_presented: _,
            handshake: _,
            visibility: _,
            key_sources: _,
            http_response: _,
            resumed: _,
            gaps: _,
            tcp: _,
            hello_retry_request: _,
            tunnel: _,
            proxy: _,
            encrypted_records: _,
            inference: _,
            outcome_reason: _,
            findings: _,
            verdict: _,
            notes: _,
        } = c;
        hello_fields(out, c)?;
        self.certificate_fields(out, c)?;
        session_fields(out, c)?;
        diagnosis_fields(out, c)
    }

    /// Compact form: the records of the certificates not written yet, before the
    /// connection, so that a reader meets each certificate before a connection names it.
    #[inline]
    fn certificate_records(
        &mut self,
        c: &ConnectionReport,
        out: &mut Vec<u8>,
    ) -> Result<(), OutputError> {
        for p in chain(&c.server_certificates)
            .iter()
            .chain(chain(&c.client_certificates))
        {
            self.certificate_record(p, out)?;
        }
        Ok(())
    }

    /// `"server_certificates"` to `"candidates_not_presented"`: the certificates, where the
    /// cost is on handshake-dense traffic (through the cache, or by SHA-256 in the compact
    /// form), and what they were rejected with or matched to.
    #[inline]
    fn certificate_fields(
        &mut self,
        out: &mut Vec<u8>,
        c: &ConnectionReport,
    ) -> Result<(), OutputError> {
        let ConnectionReport {
            server_certificates,
            client_certificates,
            truncated_certificate_messages,
            certificate_request,
            alerts,
            role,
            server_role,
            candidates_not_presented,
            ..
        } = c;
        self.chain_field(out, "server", server_certificates)?;
        self.chain_field(out, "client", client_certificates)?;
        key(out, "truncated_certificate_messages");
        list(out, truncated_certificate_messages)?;
        key(out, "certificate_request");
        opt(out, certificate_request.as_ref(), certificate_request_json)?;
        key(out, "alerts");
        list(out, alerts)?;
        key(out, "role");
        opt(out, role.as_ref(), serde)?;
        key(out, "server_role");
        opt(out, server_role.as_ref(), serde)?;
        key(out, "candidates_not_presented");
        list(out, candidates_not_presented)?;
        Ok(())
    }

    /// A presented certificate's `local_files` (`[]` without serde when no local file
    /// holds it, or none were searched), from the JSON kept for its SHA-256 when they are
    /// the same as last time.
    fn local_files(&mut self, out: &mut Vec<u8>, p: &PresentedCert) -> Result<(), OutputError> {
        if p.local_files.is_empty() {
            out.extend_from_slice(b"[]");
            return Ok(());
        }
        if let Some((files, json)) = self.local_json.get(&p.sha256) {
            if *files == p.local_files {
                out.extend_from_slice(json);
                return Ok(());
            }
        }
        let start = out.len();
        list(out, &p.local_files)?;
        // An outsize list (a node with many copies of one certificate) is not kept.
        if out.len() - start > LOCAL_JSON_MAX {
            return Ok(());
        }
        let len = out.len() - start;
        if self.local_json.len() >= CERT_JSON_CAP
            || self.local_json_bytes + len > CERT_JSON_BYTES_CAP
        {
            self.local_json.clear();
            self.local_json_bytes = 0;
        }
        self.local_json_bytes += len;
        let json = out[start..].into();
        self.local_json
            .insert(p.sha256.clone(), (p.local_files.clone(), json));
        Ok(())
    }

    /// `"server_certificates": [...]` (and, compact, `"server_local_files": [...]`).
    fn chain_field(
        &mut self,
        out: &mut Vec<u8>,
        side: &str,
        certs: &Option<Vec<PresentedCert>>,
    ) -> Result<(), OutputError> {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(side.as_bytes());
        out.extend_from_slice(b"_certificates\":");
        let Some(certs) = certs else {
            out.extend_from_slice(b"null");
            if self.compact.is_some() {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(side.as_bytes());
                out.extend_from_slice(b"_local_files\":null");
            }
            return Ok(());
        };
        out.push(b'[');
        if self.compact.is_some() {
            for (i, p) in certs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                plain(out, &p.sha256);
            }
            out.extend_from_slice(b"],\"");
            out.extend_from_slice(side.as_bytes());
            out.extend_from_slice(b"_local_files\":[");
            for (i, p) in certs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self.local_files(out, p)?;
            }
        } else {
            for (i, p) in certs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                self.cert_fields(p, out)?;
                out.extend_from_slice(b",\"local_files\":");
                self.local_files(out, p)?;
                der_base64(out, p);
                out.push(b'}');
            }
        }
        out.push(b']');
        Ok(())
    }

    /// The certificate's own fields (`"sha256":…,…,"error":…`), from the cache.
    fn cert_fields(&mut self, p: &PresentedCert, out: &mut Vec<u8>) -> Result<(), OutputError> {
        if let Some(j) = self.cert_json.get(p.sha256.as_str()) {
            out.extend_from_slice(j);
            return Ok(());
        }
        let whole = serde_json::to_vec(&*p.cert)?;
        // `{…}` without its braces: the fields go inside the presented certificate's object.
        let fields: Box<[u8]> = whole[1..whole.len() - 1].into();
        out.extend_from_slice(&fields);
        if self.cert_json.len() >= CERT_JSON_CAP
            || self.cert_json_bytes + fields.len() > CERT_JSON_BYTES_CAP
        {
            self.cert_json.clear();
            self.cert_json_bytes = 0;
        }
        self.cert_json_bytes += fields.len();
        self.cert_json.insert(p.sha256.clone(), fields);
        Ok(())
    }

    /// Compact form: `{"record":"certificate",…}` unless written already.
    fn certificate_record(
        &mut self,
        p: &PresentedCert,
        out: &mut Vec<u8>,
    ) -> Result<(), OutputError> {
        let Some(seen) = &mut self.compact else {
            return Ok(());
        };
        let digest = sha_bytes(&p.sha256);
        if seen.contains(&digest) {
            return Ok(());
        }
        if seen.len() >= self.compact_cap {
            seen.clear();
        }
        seen.insert(digest);
        out.extend_from_slice(b"{\"record\":\"certificate\",");
        self.cert_fields(p, out)?;
        der_base64(out, p);
        out.extend_from_slice(b"}\n");
        Ok(())
    }
}

/// The record's opening, `"id"` to `"offered_cipher_suites"`: the endpoints and what the
/// hellos said, on every connection, mostly text that needs no escaping and so is copied
/// as it is.
#[inline]
fn hello_fields(out: &mut Vec<u8>, c: &ConnectionReport) -> Result<(), OutputError> {
    let ConnectionReport {
        id,
        input,
        first_packet,
        client,
        server,
        first_seen,
        tls_version,
        sni,
        alpn,
        alpn_selected,
        cipher_suite,
        cipher_suite_id,
        offered_tls_versions,
        offered_cipher_suites,
        ..
    } = c;
    out.extend_from_slice(b"{\"record\":\"connection\",\"id\":");
    num(out, *id as u64);
    key(out, "input");
    text(out, input)?;
    key(out, "first_packet");
    num(out, *first_packet);
    key(out, "client");
    text(out, client)?;
    key(out, "server");
    text(out, server)?;
    key(out, "first_seen");
    plain(out, first_seen);
    key(out, "tls_version");
    opt_plain(out, *tls_version);
    key(out, "sni");
    opt(out, sni.as_ref(), |o, v| text(o, v))?;
    key(out, "alpn");
    opt(out, alpn.as_ref(), |o, v| texts(o, v))?;
    key(out, "alpn_selected");
    opt(out, alpn_selected.as_ref(), |o, v| text(o, v))?;
    key(out, "cipher_suite");
    opt_plain(out, cipher_suite.as_deref());
    key(out, "cipher_suite_id");
    opt_plain_num(out, cipher_suite_id.map(u64::from));
    key(out, "offered_tls_versions");
    plains(out, offered_tls_versions.iter().copied());
    key(out, "offered_cipher_suites");
    plains(out, offered_cipher_suites.iter().map(|n| &**n));
    Ok(())
}

/// `"handshake"` to `"inference"`: how the handshake ended and what the capture showed of
/// the session around it; most are absent or empty on a healthy connection, and then go
/// out as `null` or `[]` without serde.
#[inline]
fn session_fields(out: &mut Vec<u8>, c: &ConnectionReport) -> Result<(), OutputError> {
    let ConnectionReport {
        handshake,
        visibility,
        key_sources,
        http_response,
        resumed,
        gaps,
        tcp,
        hello_retry_request,
        tunnel,
        proxy,
        encrypted_records,
        inference,
        ..
    } = c;
    key(out, "handshake");
    plain(out, handshake_name(*handshake));
    key(out, "visibility");
    plain(out, visibility_name(*visibility));
    key(out, "key_sources");
    list(out, key_sources)?;
    key(out, "http_response");
    opt(out, http_response.as_ref(), serde)?;
    key(out, "resumed");
    out.extend_from_slice(if *resumed { b"true" } else { b"false" });
    key(out, "gaps");
    list(out, gaps)?;
    key(out, "tcp");
    tcp_json(out, tcp);
    key(out, "hello_retry_request");
    opt(out, hello_retry_request.as_ref(), serde)?;
    key(out, "tunnel");
    opt(out, tunnel.as_ref(), serde)?;
    key(out, "proxy");
    opt(out, proxy.as_ref(), serde)?;
    key(out, "encrypted_records");
    opt(out, encrypted_records.as_ref(), serde)?;
    key(out, "inference");
    opt(out, inference.as_ref(), serde)?;
    Ok(())
}

/// The record's close, `"outcome_reason"` to `"notes"`: the diagnosis, free text (the
/// messages quote certificate names) checked before it is copied, and the findings by hand.
#[inline]
fn diagnosis_fields(out: &mut Vec<u8>, c: &ConnectionReport) -> Result<(), OutputError> {
    let ConnectionReport {
        outcome_reason,
        findings,
        verdict,
        notes,
        ..
    } = c;
    key(out, "outcome_reason");
    text(out, outcome_reason)?;
    key(out, "findings");
    out.push(b'[');
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        finding(out, f)?;
    }
    out.push(b']');
    key(out, "verdict");
    text(out, verdict)?;
    key(out, "notes");
    texts(out, notes)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

fn chain(v: &Option<Vec<PresentedCert>>) -> &[PresentedCert] {
    v.as_deref().unwrap_or_default()
}

/// The 32 bytes of a lowercase hex SHA-256, as the summaries spell it (any other string:
/// hashed to 32 bytes, so still a key of its own).
fn sha_bytes(hex: &str) -> [u8; 32] {
    let b = hex.as_bytes();
    let mut d = [0u8; 32];
    if b.len() == 64 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        // '0'..'9' are 0x30..0x39, 'a'..'f' 0x61..0x66: the low nibble, plus 9 for letters.
        let nibble = |c: u8| (c & 0x0f) + 9 * (c >> 6);
        for (i, pair) in b.chunks_exact(2).enumerate() {
            d[i] = nibble(pair[0]) << 4 | nibble(pair[1]);
        }
        return d;
    }
    d.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, b).as_ref());
    d
}

fn certificate_request_json(
    out: &mut Vec<u8>,
    r: &CertificateRequestReport,
) -> Result<(), OutputError> {
    let CertificateRequestReport {
        ca_names,
        signature_algorithms,
        certificate_types,
    } = r;
    out.extend_from_slice(b"{\"ca_names\":");
    texts(out, ca_names)?;
    key(out, "signature_algorithms");
    plains(out, signature_algorithms.iter().map(|n| &**n));
    key(out, "certificate_types");
    plains(out, certificate_types.iter().map(|n| &**n));
    out.push(b'}');
    Ok(())
}

fn tcp_json(out: &mut Vec<u8>, t: &TcpReport) {
    let TcpReport {
        syn_seen,
        end,
        retransmitted_segments,
        out_of_order_segments,
        overlapping_segments,
        overlap_conflicts,
        dropped_segments,
    } = t;
    out.extend_from_slice(if *syn_seen {
        b"{\"syn_seen\":true"
    } else {
        b"{\"syn_seen\":false"
    });
    key(out, "end");
    plain(out, end);
    for (name, n) in [
        ("retransmitted_segments", retransmitted_segments),
        ("out_of_order_segments", out_of_order_segments),
        ("overlapping_segments", overlapping_segments),
        ("overlap_conflicts", overlap_conflicts),
        ("dropped_segments", dropped_segments),
    ] {
        key(out, name);
        num(out, *n);
    }
    out.push(b'}');
}

fn der_base64(out: &mut Vec<u8>, p: &PresentedCert) {
    if let Some(b) = &p.der_base64 {
        out.extend_from_slice(b",\"der_base64\":");
        plain(out, b);
    }
}

/// A finding as serde writes it (`verifier` and `x509` are not part of the schema).
fn finding(out: &mut Vec<u8>, f: &Finding) -> Result<(), OutputError> {
    let Finding {
        code,
        severity,
        layer,
        observed,
        subject,
        message,
        evidence,
        logged_as,
        verifier: _,
        x509: _,
    } = f;
    out.extend_from_slice(b"{\"code\":");
    text(out, code)?;
    key(out, "severity");
    plain(out, severity_name(*severity));
    key(out, "layer");
    opt_plain(out, layer.map(layer_name));
    key(out, "observed");
    opt_plain(out, observed.map(observed_name));
    key(out, "subject");
    text(out, subject)?;
    key(out, "message");
    text(out, message)?;
    key(out, "evidence");
    texts(out, evidence)?;
    key(out, "logged_as");
    opt(out, logged_as.as_ref(), |o, v| text(o, v))?;
    out.push(b'}');
    Ok(())
}

/// `,"name":` (every field but a record's first follows another).
fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn num(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A plain string (see [`plain`]) or `null`.
fn opt_plain(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => plain(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A number or `null`.
fn opt_plain_num(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(n) => num(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt<T: ?Sized>(
    out: &mut Vec<u8>,
    v: Option<&T>,
    f: impl FnOnce(&mut Vec<u8>, &T) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    match v {
        Some(v) => f(out, v),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A list of objects: `[]` without serde when empty (the common case: no alerts, gaps,
/// candidates…).
fn list<T: Serialize>(out: &mut Vec<u8>, v: &[T]) -> Result<(), OutputError> {
    if v.is_empty() {
        out.extend_from_slice(b"[]");
        Ok(())
    } else {
        serde(out, &v)
    }
}

// The enums' names as their serde renames spell them (checked against serde below).
fn handshake_name(h: Handshake) -> &'static str {
    match h {
        Handshake::Completed => "completed",
        Handshake::Failed => "failed",
        Handshake::Incomplete => "incomplete",
        Handshake::Unknown => "unknown",
    }
}

fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::Plaintext => "plaintext",
        Visibility::Decrypted => "decrypted",
        Visibility::Encrypted => "encrypted",
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Tls => "tls",
        Layer::Authentication => "authentication",
    }
}

fn observed_name(o: Observed) -> &'static str {
    match o {
        Observed::Confirmed => "confirmed",
        Observed::Contradicted => "contradicted",
        Observed::Unknown => "unknown",
    }
}

fn serde(out: &mut Vec<u8>, v: &impl Serialize) -> Result<(), OutputError> {
    serde_json::to_writer(&mut *out, v)?;
    Ok(())
}

/// A string known to need no escaping (hex, times, addresses, protocol names), as it is.
fn plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!needs_escape(s.as_bytes()), "not plain: {s:?}");
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn plains<'a>(out: &mut Vec<u8>, v: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (i, s) in v.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        plain(out, s);
    }
    out.push(b']');
}

/// Any other string: as it is when nothing in it needs escaping, else escaped by serde.
fn text(out: &mut Vec<u8>, s: &str) -> Result<(), OutputError> {
    if needs_escape(s.as_bytes()) {
        serde(out, &s)
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    }
}

fn texts(out: &mut Vec<u8>, v: &[String]) -> Result<(), OutputError> {
    out.push(b'[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text(out, s)?;
    }
    out.push(b']');
    Ok(())
}

/// Whether serde_json escapes anything in `b`: a control character, `"` or `\`. Eight
/// bytes at a time.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // A byte below 0x20: (x - 0x20…) borrows into its high bit where the byte itself
        // has none set.
        let control = x.wrapping_sub(0x2020_2020_2020_2020) & !x & HIGH;
        if control | has_zero(x ^ (b'"' as u64 * ONES)) | has_zero(x ^ (b'\\' as u64 * ONES)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_escape_agrees_with_serde_json() {
        let mut samples: Vec<Vec<u8>> =
            vec![b"".to_vec(), b"plain text, 0123456789abcdef".to_vec()];
        for special in [
            b'"', b'\\', 0u8, 0x1f, b'\n', 0x7f, 0x20, 0x21, 0x5b, 0x5d, 0xc3,
        ] {
            for pos in 0..20 {
                let mut s = vec![b'a'; 20];
                s[pos] = special;
                samples.push(s);
            }
        }
        samples.push("CN=Zoë,O=système".as_bytes().to_vec());
        for s in samples {
            let Ok(text) = std::str::from_utf8(&s) else {
                continue;
            };
            let escaped = serde_json::to_string(text).unwrap();
            assert_eq!(
                needs_escape(&s),
                escaped.len() != text.len() + 2,
                "{text:?} → {escaped}"
            );
        }
    }

    #[test]
    fn enum_names_as_serde_writes_them() {
        let same = |mine: &str, theirs: String| assert_eq!(format!("\"{mine}\""), theirs);
        for h in [
            Handshake::Completed,
            Handshake::Failed,
            Handshake::Incomplete,
            Handshake::Unknown,
        ] {
            same(handshake_name(h), serde_json::to_string(&h).unwrap());
        }
        for v in [
            Visibility::Plaintext,
            Visibility::Decrypted,
            Visibility::Encrypted,
        ] {
            same(visibility_name(v), serde_json::to_string(&v).unwrap());
        }
        for s in [Severity::Error, Severity::Warning, Severity::Info] {
            same(severity_name(s), serde_json::to_string(&s).unwrap());
        }
        for l in [Layer::Tls, Layer::Authentication] {
            same(layer_name(l), serde_json::to_string(&l).unwrap());
        }
        for o in [
            Observed::Confirmed,
            Observed::Contradicted,
            Observed::Unknown,
        ] {
            same(observed_name(o), serde_json::to_string(&o).unwrap());
        }
    }

    #[test]
    fn numbers_as_serde_writes_them() {
        for n in [0u64, 1, 9, 10, 65_535, u64::MAX] {
            let mut out = Vec::new();
            num(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn sha_bytes_of_hex_and_of_anything_else() {
        let hex = "00ff".repeat(16);
        assert_eq!(sha_bytes(&hex)[..2], [0x00, 0xff]);
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            sha_bytes(&hex)[..8],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        assert_ne!(sha_bytes(&hex), sha_bytes(&hex.to_uppercase()));
        assert_ne!(sha_bytes("not hex"), sha_bytes("not hex either"));
    }
}
