//! One connection's TLS handshake as a sequence diagram: Mermaid for Markdown (GitHub and
//! GitLab render it) and a self-contained inline SVG for HTML (no scripts, no external
//! references, no foreignObject).
//!
//! Both are drawn from one [`Sequence`], built from the report's fields only: the flights
//! in wire order as far as the report tells, each side's leaf certificate, the
//! CertificateRequest, the alerts by side, the HTTP status when application data was
//! decrypted, how the connection ended and the verdict. A message the capture did not show
//! is never drawn; what the TLS 1.3 record lengths suggest is labelled as inferred. Values
//! from the capture (subjects, SNI, ALPN, CA names, proxy replies) are cleaned of control
//! and bidirectional-formatting characters, shortened with "…" (the full values are
//! elsewhere in the report), and escaped for each form, so a hostile certificate subject can
//! neither break the diagram nor inject markup.

use std::fmt::Write as _;

use super::model::*;
use super::text::outcome_label;
use crate::diagnose::Severity;

/// Longest message label, in characters (about 560 px of 12 px text in the SVG).
const LABEL_MAX: usize = 80;
/// Longest value from the capture inside a label (a CN, an SNI).
const VALUE_MAX: usize = 40;
/// Longest note (the verdict, the outcome): two lines in the SVG.
const NOTE_MAX: usize = 170;
/// Characters per note line in the SVG.
const NOTE_LINE: usize = 100;
/// `encrypted_records` keeps the first 16 records of each side.
const RECORDS_KEPT: usize = 16;

/// How a step is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A handshake message, or a note without a severity.
    Plain,
    /// A TLS alert: red, with a cross.
    Alert,
    /// A proxy's refusal, an HTTP error status: red.
    Refusal,
    /// A note: an error verdict, or a capture gap that hides messages.
    Error,
    /// A note: a warning verdict.
    Warning,
    /// A note: the OK verdict.
    Ok,
}

/// One row of the diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An arrow from one side to the other. `encrypted`: records that could not be read,
    /// or what their lengths suggest (drawn dashed).
    Message {
        from: Side,
        text: String,
        tone: Tone,
        encrypted: bool,
    },
    /// A note across both lifelines.
    Note { text: String, tone: Tone },
}

/// One end of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// `client`, `server`, or `proxy` (the server is a proxy the client tunnelled through).
    pub name: &'static str,
    /// `ip:port` as the report gives it.
    pub address: String,
    /// The component role, when known ("kubelet-client"; for a proxy, the target's).
    pub role: Option<String>,
    /// A proxy's target, `host:port` as the client asked for it.
    pub target: Option<String>,
}

impl Participant {
    /// "client 10.0.0.5:41234 (kubelet-client)", "proxy 10.0.0.9:3128 (to api:6443,
    /// kube-apiserver)".
    pub fn label(&self) -> String {
        let what: Vec<String> = self
            .target
            .iter()
            .map(|t| format!("to {t}"))
            .chain(self.role.clone())
            .collect();
        if what.is_empty() {
            format!("{} {}", self.name, self.address)
        } else {
            format!("{} {} ({})", self.name, self.address, what.join(", "))
        }
    }
}

/// What both diagram forms draw; the labels are plain text, already cleaned and shortened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub client: Participant,
    pub server: Participant,
    pub steps: Vec<Step>,
}

/// Is this connection worth a diagram: a failed handshake, a fatal alert, an error or
/// warning finding, or an HTTP 401/403.
pub fn worth_drawing(c: &ConnectionReport) -> bool {
    c.handshake == Handshake::Failed
        || c.alerts.iter().any(|a| a.level == Some("fatal"))
        || c.findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
        || c.http_response
            .is_some_and(|r| r.status == 401 || r.status == 403)
}

/// The steps of the connection, in wire order as far as the report tells.
pub fn sequence(c: &ConnectionReport) -> Sequence {
    let mut b = Builder::default();
    if let Some(p) = &c.proxy {
        proxy_steps(p, &mut b);
    }
    hello_steps(c, &mut b);
    if c.visibility == Visibility::Encrypted {
        encrypted_steps(c, &mut b);
    } else {
        readable_steps(c, &mut b);
    }
    // Alerts end a handshake that did not complete; after a completed one they come after
    // the application data (the HTTP response among it).
    let completed = c.handshake == Handshake::Completed;
    if !completed {
        for a in &c.alerts {
            alert_step(a, false, &mut b);
        }
    }
    if let Some(r) = c.http_response {
        http_step(r, &mut b);
    }
    if completed {
        for a in &c.alerts {
            alert_step(a, true, &mut b);
        }
    }
    gap_notes(c, &mut b);
    ending_notes(c, &mut b);
    let (client, server) = participants(c);
    Sequence {
        client,
        server,
        steps: b.steps,
    }
}

/// The ClientHello, and the ServerHello when the report has one: the hellos are in the
/// clear in every TLS version, so they are drawn even when nothing after them is. A
/// HelloRetryRequest adds the round trip it costs.
fn hello_steps(c: &ConnectionReport, b: &mut Builder) {
    if client_hello_seen(c) {
        b.msg(Side::Client, client_hello(c), Tone::Plain);
    } else {
        b.note("ClientHello not captured", Tone::Plain);
    }
    let server_hello = c.tls_version.is_some() || c.cipher_suite.is_some();
    if let Some(h) = &c.hello_retry_request {
        b.msg(
            Side::Server,
            match &h.group {
                Some(g) => format!("HelloRetryRequest (key share group {})", value(g)),
                None => "HelloRetryRequest".into(),
            },
            Tone::Plain,
        );
        // A ServerHello after a HelloRetryRequest answers the second ClientHello.
        if server_hello {
            b.msg(Side::Client, "ClientHello (second)".into(), Tone::Plain);
        }
    }
    if server_hello {
        b.msg(Side::Server, server_hello_label(c), Tone::Plain);
    }
}

/// The server's first HTTP response, when application data was decrypted: a 401 or 403
/// there is the rejection a completed handshake can still end in.
fn http_step(r: HttpResponse, b: &mut Builder) {
    let version = match r.protocol {
        "h2" => "HTTP/2".to_string(),
        p => p.to_ascii_uppercase(),
    };
    let tone = if r.status >= 400 {
        Tone::Refusal
    } else {
        Tone::Plain
    };
    b.msg(
        Side::Server,
        format!(
            "{} {} (first response, decrypted)",
            value(&version),
            r.status
        ),
        tone,
    );
}

/// A gap during the handshake: a message missing from the diagram may be in the bytes the
/// capture lost, so its absence is no evidence.
fn gap_notes(c: &ConnectionReport, b: &mut Builder) {
    for g in c.gaps.iter().filter(|g| g.during_handshake) {
        b.note(
            &format!(
                "capture gap: {} bytes missing {} during the handshake (messages may be missing)",
                g.missing_bytes,
                match g.direction {
                    "client_to_server" => "client → server",
                    "server_to_client" => "server → client",
                    d => d,
                }
            ),
            Tone::Warning,
        );
    }
}

/// How the handshake and the TCP connection ended, then the verdict: the diagram is read
/// for its conclusion, which the report states elsewhere in full.
fn ending_notes(c: &ConnectionReport, b: &mut Builder) {
    let tcp = match c.tcp.end {
        "fin" => "TCP: FIN",
        "reset" => "TCP: RST",
        "open" => "TCP: open when the capture ended",
        _ => "TCP: end unknown",
    };
    // The reason's first clause (the rest, and the full text, are in the report).
    let reason = c.outcome_reason.split("; ").next().unwrap_or_default();
    let outcome = match c.handshake {
        Handshake::Completed => "handshake completed".to_string(),
        Handshake::Unknown => "handshake outcome unknown (encrypted)".to_string(),
        h => format!("handshake {}: {reason}", outcome_label(h)),
    };
    b.note(&format!("{outcome} · {tcp}"), Tone::Plain);
    let tone = if c.verdict == "OK" {
        Tone::Ok
    } else if c.verdict.starts_with("ERROR") {
        Tone::Error
    } else if c.verdict.starts_with("WARNING") {
        Tone::Warning
    } else {
        Tone::Plain
    };
    b.note(&format!("verdict: {}", c.verdict), tone);
}

/// The client and the server (a proxy when the client tunnelled through one): the server
/// address is then the proxy's, so the target it was asked for is shown with it.
fn participants(c: &ConnectionReport) -> (Participant, Participant) {
    let role = |r: Option<crate::correlate::Role>| {
        r.and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let server = match &c.proxy {
        Some(p) => Participant {
            name: "proxy",
            address: clean(&c.server),
            role: role(c.server_role),
            target: Some(short(p.target.as_deref().unwrap_or("?"), 28)),
        },
        None => Participant {
            name: "server",
            address: clean(&c.server),
            role: role(c.server_role),
            target: None,
        },
    };
    let client = Participant {
        name: "client",
        address: clean(&c.client),
        role: role(c.role),
        target: None,
    };
    (client, server)
}

#[derive(Default)]
struct Builder {
    steps: Vec<Step>,
}

impl Builder {
    fn msg(&mut self, from: Side, text: String, tone: Tone) {
        self.steps.push(Step::Message {
            from,
            text: short(&text, LABEL_MAX),
            tone,
            encrypted: false,
        });
    }

    fn encrypted(&mut self, from: Side, text: String, tone: Tone) {
        self.steps.push(Step::Message {
            from,
            text: short(&text, LABEL_MAX),
            tone,
            encrypted: true,
        });
    }

    fn note(&mut self, text: &str, tone: Tone) {
        self.steps.push(Step::Note {
            text: short(text, NOTE_MAX),
            tone,
        });
    }
}

fn proxy_steps(p: &crate::flow::preamble::ProxyHop, b: &mut Builder) {
    use crate::flow::preamble::{Outcome, Protocol};
    let kind = match p.protocol {
        Protocol::HttpConnect => "HTTP CONNECT",
        Protocol::Socks5 => "SOCKS5 connect",
        Protocol::Socks4 => "SOCKS4 connect",
    };
    b.msg(
        Side::Client,
        format!(
            "{kind} {}",
            value(p.target.as_deref().unwrap_or("(target unreadable)"))
        ),
        Tone::Plain,
    );
    let tone = if p.outcome == Outcome::Refused {
        Tone::Refusal
    } else {
        Tone::Plain
    };
    match &p.reply {
        Some(r) => b.msg(Side::Server, format!("proxy reply: {}", value(r)), tone),
        None if p.outcome == Outcome::Refused => b.note("the proxy refused", Tone::Error),
        None => {}
    }
}

/// A ClientHello leaves at least one of these in the report.
fn client_hello_seen(c: &ConnectionReport) -> bool {
    !c.offered_tls_versions.is_empty()
        || !c.offered_cipher_suites.is_empty()
        || c.sni.is_some()
        || c.alpn.is_some()
}

/// "ClientHello · SNI kubernetes · TLS 1.3/1.2 · ALPN h2,http/1.1".
fn client_hello(c: &ConnectionReport) -> String {
    let mut s = String::from("ClientHello · ");
    match &c.sni {
        Some(n) => s += &format!("SNI {}", value(n)),
        None => s += "no SNI",
    }
    if !c.offered_tls_versions.is_empty() {
        s += &format!(" · TLS {}", c.offered_tls_versions.join("/"));
    }
    if let Some(alpn) = &c.alpn {
        s += &format!(" · ALPN {}", short(&alpn.join(","), 24));
    }
    s
}

/// "ServerHello · TLS 1.2 · TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 · ALPN h2".
fn server_hello_label(c: &ConnectionReport) -> String {
    let mut s = String::from("ServerHello");
    if let Some(v) = c.tls_version {
        s += &format!(" · TLS {v}");
    }
    if let Some(cs) = &c.cipher_suite {
        s += &format!(" · {cs}");
    }
    if c.resumed {
        s += " · resumed";
    }
    if let Some(a) = &c.alpn_selected {
        s += &format!(" · ALPN {}", short(a, 16));
    }
    s
}

/// The handshake messages of a plaintext (TLS ≤ 1.2) or decrypted (TLS 1.3) handshake.
fn readable_steps(c: &ConnectionReport, b: &mut Builder) {
    let tls13 = c.tls_version == Some("1.3");
    let completed = c.handshake == Handshake::Completed;
    let request = c.certificate_request.as_ref().map(certificate_request);
    // TLS 1.3: CertificateRequest before the server's Certificate; TLS ≤ 1.2: after.
    if tls13 {
        if let Some(r) = request.clone() {
            b.msg(Side::Server, r, Tone::Plain);
        }
    }
    if let Some(t) = certificate(c, Side::Server) {
        b.msg(Side::Server, t, Tone::Plain);
    }
    if !tls13 {
        if let Some(r) = request {
            b.msg(Side::Server, r, Tone::Plain);
        }
    }
    // Finished is drawn only when the report says the handshake completed (both sides'
    // Finished seen); a failed handshake's Finished messages are not in the report.
    if completed && tls13 {
        b.msg(Side::Server, "Finished".into(), Tone::Plain);
    }
    if completed && !tls13 && c.resumed {
        b.msg(
            Side::Server,
            "ChangeCipherSpec, Finished".into(),
            Tone::Plain,
        );
    }
    if let Some(t) = certificate(c, Side::Client) {
        b.msg(Side::Client, t, Tone::Plain);
    }
    if completed {
        if tls13 {
            b.msg(Side::Client, "Finished".into(), Tone::Plain);
        } else {
            b.msg(
                Side::Client,
                "ChangeCipherSpec, Finished".into(),
                Tone::Plain,
            );
            if !c.resumed {
                b.msg(
                    Side::Server,
                    "ChangeCipherSpec, Finished".into(),
                    Tone::Plain,
                );
            }
        }
    }
}

/// TLS 1.3 without keys: the encrypted records, and what their lengths suggest, labelled
/// as inferred. No message is named as seen.
fn encrypted_steps(c: &ConnectionReport, b: &mut Builder) {
    let (server, client) = match &c.encrypted_records {
        Some(r) => (r.server.len(), r.client.len()),
        None => (0, 0),
    };
    let count = |n: usize| match n {
        1 => "1 record".to_string(),
        n if n >= RECORDS_KEPT => format!("{n}+ records"),
        n => format!("{n} records"),
    };
    let flights = c
        .inference
        .as_ref()
        .map(|i| &i.flights)
        .filter(|f| f.one_message_per_record);
    let Some(f) = flights else {
        if server > 0 {
            b.encrypted(
                Side::Server,
                format!("encrypted ({})", count(server)),
                Tone::Plain,
            );
        }
        if client > 0 {
            b.encrypted(
                Side::Client,
                format!("encrypted ({})", count(client)),
                Tone::Plain,
            );
        }
        b.note(
            "TLS 1.3 without keys: the messages after ServerHello are encrypted and not shown",
            Tone::Plain,
        );
        return;
    };
    let names = |m: &[crate::tls::infer::InferredMessage], client: bool| {
        m.iter()
            .map(|m| match m.message {
                "Certificate" if client && f.client_certificate == Some("empty") => {
                    "empty Certificate".to_string()
                }
                "Certificate" => format!("Certificate ({}\u{a0}B)", m.length),
                n => n.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let n = f.server_messages.len();
    b.encrypted(
        Side::Server,
        format!("encrypted flight ({})", count(n)),
        Tone::Plain,
    );
    b.note(
        &format!(
            "inferred from record lengths: {}",
            names(&f.server_messages, false)
        ),
        Tone::Plain,
    );
    let m = f.client_messages.len();
    if m > 0 {
        b.encrypted(
            Side::Client,
            format!("encrypted flight ({})", count(m)),
            Tone::Plain,
        );
        b.note(
            &format!(
                "inferred from record lengths: {}",
                names(&f.client_messages, true)
            ),
            Tone::Plain,
        );
    } else if client > 0 {
        b.encrypted(
            Side::Client,
            format!("encrypted ({})", count(client)),
            Tone::Plain,
        );
    }
    let after = server.saturating_sub(n);
    match f.outcome {
        Some("failed") => b.encrypted(
            Side::Server,
            "alert-sized encrypted record (inferred: probably a fatal alert)".into(),
            Tone::Alert,
        ),
        Some(_) if after > 0 => b.encrypted(
            Side::Server,
            format!("then {} (inferred: session ticket or data)", count(after)),
            Tone::Plain,
        ),
        _ => {}
    }
}

/// `after`: the handshake had completed (an encrypted alert is then no sign of failure).
fn alert_step(a: &AlertReport, after: bool, b: &mut Builder) {
    if a.encrypted {
        let (text, tone) = if after {
            (
                "encrypted alert after the handshake (level and name unreadable)",
                Tone::Plain,
            )
        } else {
            ("encrypted alert (level and name unreadable)", Tone::Alert)
        };
        b.encrypted(a.from, text.into(), tone);
        return;
    }
    let mut s = String::from("alert");
    if let Some(l) = a.level {
        s += &format!(" {l}");
    }
    s += &format!(" {}", a.description.unwrap_or("unknown"));
    if let Some(code) = a.code {
        s += &format!(" ({code})");
    }
    let tone = if a.level == Some("warning") {
        Tone::Plain
    } else {
        Tone::Alert
    };
    b.msg(a.from, s, tone);
}

/// "Certificate (CN=kube-apiserver, +1 intermediate)", "empty Certificate (no client
/// certificate)"; None when the report has no Certificate message from that side.
fn certificate(c: &ConnectionReport, side: Side) -> Option<String> {
    let certs = match side {
        Side::Client => &c.client_certificates,
        Side::Server => &c.server_certificates,
    };
    let cut = c
        .truncated_certificate_messages
        .iter()
        .any(|t| t.from == side);
    let whose = match side {
        Side::Client => "client",
        Side::Server => "server",
    };
    let mut s = match certs.as_deref() {
        None if cut => {
            return Some(
                "Certificate (cut by missing bytes before any certificate was whole)".into(),
            )
        }
        None => return None,
        Some([]) => format!("empty Certificate (no {whose} certificate)"),
        Some([leaf, rest @ ..]) => {
            let who = match (&leaf.error, &leaf.subject) {
                (Some(_), _) => "leaf unparseable".to_string(),
                (None, Some(subject)) => match common_name(subject) {
                    Some(cn) => format!("CN={}", value(&cn)),
                    None => value(subject),
                },
                (None, None) => "leaf without subject".into(),
            };
            let more = match rest.len() {
                0 => String::new(),
                1 => ", +1 intermediate".into(),
                n => format!(", +{n} intermediates"),
            };
            format!("Certificate ({who}{more})")
        }
    };
    if cut {
        s += " · cut by missing bytes";
    }
    Some(s)
}

/// "CertificateRequest (CAs: CN=kubernetes, CN=front-proxy-ca)".
fn certificate_request(r: &CertificateRequestReport) -> String {
    if r.ca_names.is_empty() {
        return "CertificateRequest (no CA names: any CA)".into();
    }
    let shown: Vec<String> = r
        .ca_names
        .iter()
        .take(2)
        .map(|n| match common_name(n) {
            Some(cn) => format!("CN={}", short(&cn, 24)),
            None => short(n, 24),
        })
        .collect();
    let more = match r.ca_names.len() {
        0..=2 => String::new(),
        n => format!(", +{} more", n - 2),
    };
    format!("CertificateRequest (CAs: {}{more})", shown.join(", "))
}

/// The CN of an RFC 4514 string (most specific first), with its escapes undone.
fn common_name(dn: &str) -> Option<String> {
    let mut attrs = Vec::new();
    let mut cur = String::new();
    let mut chars = dn.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                cur.push(ch);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' | '+' => attrs.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    attrs.push(cur);
    let raw = attrs.iter().find_map(|a| {
        let (k, v) = a.split_once('=')?;
        k.trim().eq_ignore_ascii_case("CN").then_some(v)
    })?;
    // Undo \, \+ \" \\ … and \XX hex pairs (as bytes of UTF-8).
    let mut bytes = Vec::new();
    let src = raw.as_bytes();
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'\\' && i + 1 < src.len() {
            let hex = src
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    bytes.push(byte);
                    i += 3;
                }
                None => {
                    bytes.push(src[i + 1]);
                    i += 2;
                }
            }
        } else {
            bytes.push(src[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A value from the capture inside a label: cleaned and shortened.
fn value(s: &str) -> String {
    short(s, VALUE_MAX)
}

/// Cleaned (see [`clean`]) and cut to `max` characters, the last being "…".
fn short(s: &str, max: usize) -> String {
    let s = clean(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut o: String = s.chars().take(max.saturating_sub(1)).collect();
    o.push('…');
    o
}

/// Whitespace controls become spaces; other controls, bidirectional and invisible
/// formatting characters, and the XML non-characters become U+FFFD, so that what is shown
/// is what is there (no reordered or hidden text) and the SVG stays well-formed.
fn clean(s: &str) -> String {
    s.chars()
        .map(|ch| match ch {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{FFFE}'
            | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Mermaid text: everything but letters, digits, space and a few harmless signs becomes an
/// entity code (`#35;`), which Mermaid shows as the character. `;` and `#` would end the
/// text, `%%` start a comment or a directive (`%%{init: …}%%`, which could change the
/// security level), `<` `>` `&` `"` become markup, `$$` math, `{` `}` and `` ` `` belong
/// to other syntax; a newline cannot occur (cleaned before).
fn mermaid_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || " .,:/()[]@=+_'*?!~^|-·…→".contains(ch) {
            o.push(ch);
        } else {
            let _ = write!(o, "#{};", u32::from(ch));
        }
    }
    o
}

/// A fenced Mermaid block, ready to paste into Markdown: "```mermaid\nsequenceDiagram\n…```\n".
/// Alerts and the verdict are on tinted backgrounds (translucent, readable in light and
/// dark themes); alerts are drawn with a cross, encrypted records dashed.
pub fn mermaid(c: &ConnectionReport) -> String {
    let seq = sequence(c);
    let mut o = String::from("```mermaid\nsequenceDiagram\n");
    let _ = writeln!(
        o,
        "    participant C as {}",
        mermaid_text(&seq.client.label())
    );
    let _ = writeln!(
        o,
        "    participant S as {}",
        mermaid_text(&seq.server.label())
    );
    for step in &seq.steps {
        let (line, tone) = match step {
            Step::Message {
                from,
                text,
                tone,
                encrypted,
            } => {
                let (a, z) = match from {
                    Side::Client => ("C", "S"),
                    Side::Server => ("S", "C"),
                };
                let arrow = match (tone, encrypted) {
                    (Tone::Alert, false) => "-x",
                    (Tone::Alert, true) => "--x",
                    (_, true) => "-->>",
                    (_, false) => "->>",
                };
                (format!("{a}{arrow}{z}: {}", mermaid_text(text)), *tone)
            }
            Step::Note { text, tone } => {
                let lines: Vec<String> = mermaid_note_lines(&seq, text)
                    .iter()
                    .map(|l| mermaid_text(l))
                    .collect();
                (format!("Note over C,S: {}", lines.join("<br/>")), *tone)
            }
        };
        match tint(tone) {
            Some((r, g, b)) => {
                let _ = writeln!(o, "    rect rgba({r}, {g}, {b}, 0.15)\n    {line}\n    end");
            }
            None => {
                let _ = writeln!(o, "    {line}");
            }
        }
    }
    o.push_str("```\n");
    o
}

/// The background behind a step in Mermaid, by tone.
fn tint(t: Tone) -> Option<(u8, u8, u8)> {
    match t {
        Tone::Plain => None,
        Tone::Alert | Tone::Refusal | Tone::Error => Some((220, 0, 40)),
        Tone::Warning => Some((230, 140, 0)),
        Tone::Ok => Some((30, 160, 70)),
    }
}

/// Text for XML: the five markup characters escaped (the rest was cleaned before).
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A note's lines in the Mermaid form (joined with `<br/>`). Mermaid does not widen a note
/// over both participants to its text, so lines are at most as long as the longest
/// message or participant label, which set the distance between the lifelines.
pub fn mermaid_note_lines(seq: &Sequence, text: &str) -> Vec<String> {
    let longest = seq
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Message { text, .. } => Some(text.chars().count()),
            Step::Note { .. } => None,
        })
        .chain([
            seq.client.label().chars().count(),
            seq.server.label().chars().count(),
        ])
        .max()
        .unwrap_or(0);
    wrap(text, longest.clamp(40, NOTE_LINE))
}

/// Lines of at most `width` characters, broken at spaces where possible.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let mut word = word.to_string();
        loop {
            let len = cur.chars().count();
            let wlen = word.chars().count();
            if len == 0 && wlen > width {
                // A word longer than a line: cut it.
                lines.push(word.chars().take(width).collect());
                word = word.chars().skip(width).collect();
                continue;
            }
            if len > 0 && len + 1 + wlen > width {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            if len > 0 {
                cur.push(' ');
            }
            cur.push_str(&word);
            break;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

const SVG_WIDTH: u32 = 720;
const CLIENT_X: u32 = 145;
const SERVER_X: u32 = 575;
const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\"";
const RED: &str = "#b00020";
const GREY: &str = "#666666";

/// Note colours (fill, stroke, text) by tone.
fn note_colours(t: Tone) -> (&'static str, &'static str, &'static str) {
    match t {
        Tone::Plain => ("#f4f4f4", "#bbbbbb", "#222222"),
        Tone::Alert | Tone::Refusal | Tone::Error => ("#fde7ea", RED, RED),
        Tone::Warning => ("#fff3e0", "#a15c00", "#8a4d00"),
        Tone::Ok => ("#e6f4ea", "#1b7f3b", "#1b7f3b"),
    }
}
/// A self-contained inline `<svg>` of the sequence: two lifelines, arrows with labels
/// (alerts red, encrypted records dashed and grey), notes across both lifelines; at most
/// 720 px wide, as tall as its rows. No scripts, no external references, no ids (several
/// can sit in one page); all text XML-escaped.
pub fn svg(c: &ConnectionReport) -> String {
    let seq = sequence(c);
    // The rows first: their height sets the picture's, which its header states.
    let mut body = String::new();
    let mut y: u32 = 74;
    for step in &seq.steps {
        y += match step {
            Step::Message {
                from,
                text,
                tone,
                encrypted,
            } => svg_message(&mut body, y, *from, text, *tone, *encrypted),
            Step::Note { text, tone } => svg_note(&mut body, y, text, *tone),
        };
    }
    let bottom = y + 6;
    let height = bottom + 12;
    let mut o = String::new();
    let title = format!(
        "TLS handshake, {} → {}",
        seq.client.label(),
        seq.server.label()
    );
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_WIDTH}\" height=\"{height}\" viewBox=\"0 0 {SVG_WIDTH} {height}\" role=\"img\" {FONT}>"
    );
    let _ = writeln!(o, "<title>{}</title>", xml(&title));
    let _ = writeln!(
        o,
        "<rect x=\"0\" y=\"0\" width=\"{SVG_WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    for (p, x) in [(&seq.client, CLIENT_X), (&seq.server, SERVER_X)] {
        svg_participant(&mut o, p, x, bottom);
    }
    o.push_str(&body);
    o.push_str("</svg>\n");
    o
}

/// One message row at `y`, its label above its arrow; returns the row's height. The label
/// is haloed in white, so that it stays readable where it crosses a lifeline.
fn svg_message(o: &mut String, y: u32, from: Side, text: &str, tone: Tone, encrypted: bool) -> u32 {
    let (x1, x2) = match from {
        Side::Client => (CLIENT_X, SERVER_X),
        Side::Server => (SERVER_X, CLIENT_X),
    };
    let (colour, text_colour) = match (tone, encrypted) {
        (Tone::Alert | Tone::Refusal, _) => (RED, RED),
        (_, true) => ("#888888", GREY),
        _ => ("#333333", "#222222"),
    };
    let style = if encrypted {
        " font-style=\"italic\""
    } else {
        ""
    };
    let weight = if matches!(tone, Tone::Alert | Tone::Refusal) {
        " font-weight=\"bold\""
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{text_colour}\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\"{style}{weight}>{}</text>",
        SVG_WIDTH / 2,
        y + 12,
        xml(text)
    );
    svg_arrow(o, (x1, x2), y + 20, colour, encrypted, tone == Tone::Alert);
    34
}

/// The arrow from `x1` to `x2` at height `ly`, drawn as a line and a head rather than
/// with a marker, which would need an id (several diagrams can sit in one page).
fn svg_arrow(
    o: &mut String,
    (x1, x2): (u32, u32),
    ly: u32,
    colour: &str,
    encrypted: bool,
    alert: bool,
) {
    let dash = if encrypted {
        " stroke-dasharray=\"6 4\""
    } else {
        ""
    };
    // The line stops at the arrowhead's base.
    let end = if x2 > x1 { x2 - 9 } else { x2 + 9 };
    let _ = writeln!(
        o,
        "<line x1=\"{x1}\" y1=\"{ly}\" x2=\"{end}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash}/>"
    );
    let back = if x2 > x1 { x2 - 10 } else { x2 + 10 };
    let _ = writeln!(
        o,
        "<polygon points=\"{x2},{ly} {back},{} {back},{}\" fill=\"{colour}\"/>",
        ly - 5,
        ly + 5
    );
    if alert {
        // A cross by the arrowhead marks the alert, as Mermaid's -x arrows do.
        let cx = if x2 > x1 { x2 - 20 } else { x2 + 20 };
        let _ = writeln!(
            o,
            "<path d=\"M{} {} L{} {} M{} {} L{} {}\" stroke=\"{RED}\" stroke-width=\"2\"/>",
            cx - 5,
            ly - 5,
            cx + 5,
            ly + 5,
            cx - 5,
            ly + 5,
            cx + 5,
            ly - 5
        );
    }
}

/// One note row at `y`, across both lifelines; returns the row's height. Its text is
/// wrapped by hand, as SVG text does not wrap, so a long verdict grows the box downwards.
fn svg_note(o: &mut String, y: u32, text: &str, tone: Tone) -> u32 {
    let lines = wrap(text, NOTE_LINE);
    let (fill, stroke, ink) = note_colours(tone);
    let h = 10 + 15 * lines.len() as u32;
    let _ = writeln!(
        o,
        "<rect x=\"40\" y=\"{}\" width=\"{}\" height=\"{h}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/>",
        y + 4,
        SVG_WIDTH - 80
    );
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\">{}</text>",
            SVG_WIDTH / 2,
            y + 21 + 15 * i as u32,
            xml(line)
        );
    }
    h + 10
}

/// A participant's box over its lifeline, down to `bottom`: its name and role, and its
/// address (a proxy's with the target), so that each arrow's ends are named.
fn svg_participant(o: &mut String, p: &Participant, x: u32, bottom: u32) {
    let _ = writeln!(
        o,
        "<line x1=\"{x}\" y1=\"50\" x2=\"{x}\" y2=\"{bottom}\" stroke=\"#999999\" stroke-dasharray=\"3 3\"/>"
    );
    let _ = writeln!(
        o,
        "<rect x=\"{}\" y=\"8\" width=\"270\" height=\"42\" rx=\"4\" fill=\"#eef2f7\" stroke=\"#556677\"/>",
        x - 135
    );
    let head = match &p.role {
        Some(r) => format!("{} · {r}", p.name),
        None => p.name.to_string(),
    };
    let address = match &p.target {
        Some(t) => format!("{} → {t}", p.address),
        None => p.address.clone(),
    };
    let _ = writeln!(
        o,
        "<text x=\"{x}\" y=\"25\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
        xml(&head)
    );
    let _ = writeln!(
        o,
        "<text x=\"{x}\" y=\"42\" text-anchor=\"middle\">{}</text>",
        xml(&short(&address, 44))
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Finding;
    use crate::model::{
        ConnectionReport, EncryptedRecords, Handshake, HttpResponse, PresentedCert, Visibility,
    };
    use std::sync::Arc;

    /// A real connection (so that the test keeps up with fields added to the model),
    /// with every field the diagram reads set here.
    fn real() -> (ConnectionReport, PresentedCert) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/rogue-ca-sll.pcap");
        let mut analyzer = crate::analyze::Analyzer::new(&Default::default());
        let mut all = Vec::new();
        analyzer.analyze_input(path, &mut |c| all.push(c));
        let c = all.into_iter().next().expect("a connection");
        let cert = c.server_certificates.as_ref().unwrap()[0].clone();
        (c, cert)
    }

    fn cert(base: &PresentedCert, subject: &str) -> PresentedCert {
        let mut summary = (*base.cert).clone();
        summary.subject = Some(subject.to_string());
        summary.error = None;
        let mut p = base.clone();
        p.cert = Arc::new(summary);
        p
    }

    /// A TLS 1.2 handshake with a client certificate that the server rejected.
    fn rejected() -> ConnectionReport {
        let (mut c, base) = real();
        c.client = "127.0.0.1:41292".into();
        c.server = "127.0.0.1:6443".into();
        c.tls_version = Some("1.2");
        c.sni = Some("kubernetes".into());
        c.alpn = Some(vec!["h2".into(), "http/1.1".into()]);
        c.alpn_selected = Some("h2".into());
        c.cipher_suite = Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into());
        c.offered_tls_versions = vec!["1.3", "1.2"];
        c.offered_cipher_suites = vec!["TLS_AES_128_GCM_SHA256".into()];
        c.server_certificates = Some(vec![
            cert(&base, "CN=kube-apiserver"),
            cert(&base, "CN=kubernetes"),
        ]);
        c.client_certificates = Some(vec![cert(&base, "CN=system:node:node1,O=system:nodes")]);
        c.truncated_certificate_messages = Vec::new();
        c.certificate_request = Some(CertificateRequestReport {
            ca_names: vec!["CN=kubernetes".into()],
            signature_algorithms: Vec::new(),
            certificate_types: Vec::new(),
        });
        c.alerts = vec![AlertReport {
            from: Side::Server,
            level: Some("fatal"),
            description: Some("unknown_ca"),
            code: Some(48),
            encrypted: false,
        }];
        c.role = Some(crate::correlate::Role::KubeletClient);
        c.server_role = Some(crate::correlate::Role::KubeApiserver);
        c.handshake = Handshake::Failed;
        c.visibility = Visibility::Plaintext;
        c.http_response = None;
        c.resumed = false;
        c.gaps = Vec::new();
        c.tcp.end = "reset";
        c.hello_retry_request = None;
        c.proxy = None;
        c.encrypted_records = None;
        c.inference = None;
        c.outcome_reason = "server sent fatal alert unknown_ca (48)".into();
        c.findings = vec![Finding::new(
            "unknown-authority",
            Severity::Error,
            "client[0]",
            "not trusted".into(),
        )];
        c.verdict = "ERROR unknown-authority: the client's chain does not verify".into();
        c
    }

    fn texts(s: &Sequence) -> Vec<String> {
        s.steps
            .iter()
            .map(|st| match st {
                Step::Message { from, text, .. } => format!("{from:?}: {text}"),
                Step::Note { text, .. } => format!("note: {text}"),
            })
            .collect()
    }

    /// The label part of each Mermaid line (after the first ": "), entity codes undone.
    fn mermaid_labels(m: &str) -> Vec<String> {
        m.lines()
            .filter_map(|l| {
                let l = l.trim_start();
                if l.starts_with("participant ") {
                    return l.split_once(" as ").map(|(_, t)| t.to_string());
                }
                l.split_once(": ").map(|(_, t)| t.to_string())
            })
            .map(|t| undo_entities(&t.replace("<br/>", "\n")))
            .collect()
    }

    fn undo_entities(t: &str) -> String {
        let mut o = String::new();
        let mut rest = t;
        while let Some(i) = rest.find('#') {
            o.push_str(&rest[..i]);
            let j = rest[i..].find(';').unwrap() + i;
            let n: u32 = rest[i + 1..j].parse().unwrap();
            o.push(char::from_u32(n).unwrap());
            rest = &rest[j + 1..];
        }
        o + rest
    }

    #[test]
    fn messages_in_wire_order() {
        let s = sequence(&rejected());
        assert_eq!(s.client.label(), "client 127.0.0.1:41292 (kubelet-client)");
        assert_eq!(s.server.label(), "server 127.0.0.1:6443 (kube-apiserver)");
        assert_eq!(
            texts(&s),
            [
                "Client: ClientHello · SNI kubernetes · TLS 1.3/1.2 · ALPN h2,http/1.1",
                "Server: ServerHello · TLS 1.2 · TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 · ALPN h2",
                "Server: Certificate (CN=kube-apiserver, +1 intermediate)",
                "Server: CertificateRequest (CAs: CN=kubernetes)",
                "Client: Certificate (CN=system:node:node1)",
                "Server: alert fatal unknown_ca (48)",
                "note: handshake FAILED: server sent fatal alert unknown_ca (48) · TCP: RST",
                "note: verdict: ERROR unknown-authority: the client's chain does not verify",
            ]
        );
        assert!(worth_drawing(&rejected()));
        let m = mermaid(&rejected());
        assert!(m.starts_with("```mermaid\nsequenceDiagram\n"), "{m}");
        assert!(m.ends_with("\n```\n"), "{m}");
        assert!(
            m.contains("\n    S-xC: alert fatal unknown_ca (48)\n"),
            "{m}"
        );
        assert!(
            m.contains("\n    C->>S: ClientHello · SNI kubernetes"),
            "{m}"
        );
        let svg = svg(&rejected());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(">alert fatal unknown_ca (48)</text>"), "{svg}");
    }

    #[test]
    fn completed_tls12_and_tls13_order_finished_and_certificate_request() {
        let mut c = rejected();
        c.alerts.clear();
        c.handshake = Handshake::Completed;
        c.certificate_request = None;
        c.client_certificates = None;
        c.findings.clear();
        c.verdict = "OK".into();
        c.tcp.end = "fin";
        c.outcome_reason = "both Finished seen".into();
        c.http_response = Some(HttpResponse {
            status: 200,
            protocol: "h2",
        });
        assert!(!worth_drawing(&c));
        let t = texts(&sequence(&c));
        assert_eq!(
            t[2..],
            [
                "Server: Certificate (CN=kube-apiserver, +1 intermediate)",
                "Client: ChangeCipherSpec, Finished",
                "Server: ChangeCipherSpec, Finished",
                "Server: HTTP/2 200 (first response, decrypted)",
                "note: handshake completed · TCP: FIN",
                "note: verdict: OK",
            ]
        );
        // TLS 1.3, decrypted: CertificateRequest before the server's Certificate, the
        // server's Finished in its flight, an empty client Certificate, then a 401.
        c.tls_version = Some("1.3");
        c.visibility = Visibility::Decrypted;
        c.cipher_suite = Some("TLS_AES_128_GCM_SHA256".into());
        c.certificate_request = Some(CertificateRequestReport {
            ca_names: vec![
                "CN=kubernetes".into(),
                "CN=front-proxy-ca".into(),
                "O=Example\\, Inc.,C=DE".into(),
            ],
            signature_algorithms: Vec::new(),
            certificate_types: Vec::new(),
        });
        c.client_certificates = Some(Vec::new());
        c.http_response = Some(HttpResponse {
            status: 401,
            protocol: "http/1.1",
        });
        assert!(worth_drawing(&c));
        let t = texts(&sequence(&c));
        assert_eq!(
            t[1..8],
            [
                "Server: ServerHello · TLS 1.3 · TLS_AES_128_GCM_SHA256 · ALPN h2",
                "Server: CertificateRequest (CAs: CN=kubernetes, CN=front-proxy-ca, +1 more)",
                "Server: Certificate (CN=kube-apiserver, +1 intermediate)",
                "Server: Finished",
                "Client: empty Certificate (no client certificate)",
                "Client: Finished",
                "Server: HTTP/1.1 401 (first response, decrypted)",
            ]
        );
        let m = mermaid(&c);
        assert!(
            m.contains("    rect rgba(220, 0, 40, 0.15)\n    S->>C: HTTP/1.1 401"),
            "{m}"
        );
    }

    #[test]
    fn encrypted_tls13_is_shown_as_encrypted_flights() {
        let mut c = rejected();
        c.tls_version = Some("1.3");
        c.cipher_suite = Some("TLS_AES_128_GCM_SHA256".into());
        c.visibility = Visibility::Encrypted;
        c.handshake = Handshake::Unknown;
        c.server_certificates = None;
        c.client_certificates = None;
        c.certificate_request = None;
        c.alerts.clear();
        c.encrypted_records = Some(EncryptedRecords {
            server: vec![27, 75, 1500, 281, 53, 300],
            client: vec![878, 281, 53, 40],
        });
        let t = texts(&sequence(&c));
        assert_eq!(
            t[2..5],
            [
                "Server: encrypted (6 records)",
                "Client: encrypted (4 records)",
                "note: TLS 1.3 without keys: the messages after ServerHello are encrypted and not shown",
            ]
        );
        assert!(!t.iter().any(|l| l.contains("Certificate")), "{t:?}");
        // With the record lengths read: the flights, named as inferred.
        c.inference = Some(Inference {
            flights: crate::tls::infer::infer(0x1301, &[27, 75, 1500, 281, 53, 19], &[25, 53]),
            size_checks: Vec::new(),
        });
        let s = sequence(&c);
        let t = texts(&s);
        assert_eq!(
            t[2..7],
            [
                "Server: encrypted flight (5 records)",
                "note: inferred from record lengths: EncryptedExtensions, CertificateRequest, Certificate (1483\u{a0}B), CertificateVerify, Finished",
                "Client: encrypted flight (2 records)",
                "note: inferred from record lengths: empty Certificate, Finished",
                "Server: alert-sized encrypted record (inferred: probably a fatal alert)",
            ]
        );
        assert!(matches!(
            &s.steps[2],
            Step::Message {
                encrypted: true,
                ..
            }
        ));
        let m = mermaid(&c);
        assert!(
            m.contains("\n    S-->>C: encrypted flight (5 records)\n"),
            "{m}"
        );
        assert!(
            m.contains("\n    S--xC: alert-sized encrypted record"),
            "{m}"
        );
        assert!(svg(&c).contains("stroke-dasharray=\"6 4\""));
    }

    #[test]
    fn an_alert_from_each_side_and_an_encrypted_one() {
        let mut c = rejected();
        c.client_certificates = None;
        c.alerts = vec![
            AlertReport {
                from: Side::Client,
                level: Some("fatal"),
                description: Some("bad_certificate"),
                code: Some(42),
                encrypted: false,
            },
            AlertReport {
                from: Side::Server,
                level: None,
                description: None,
                code: None,
                encrypted: true,
            },
        ];
        let s = sequence(&c);
        let alerts: Vec<&Step> = s
            .steps
            .iter()
            .filter(|st| {
                matches!(
                    st,
                    Step::Message {
                        tone: Tone::Alert,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(
            alerts,
            [
                &Step::Message {
                    from: Side::Client,
                    text: "alert fatal bad_certificate (42)".into(),
                    tone: Tone::Alert,
                    encrypted: false
                },
                &Step::Message {
                    from: Side::Server,
                    text: "encrypted alert (level and name unreadable)".into(),
                    tone: Tone::Alert,
                    encrypted: true
                }
            ]
        );
        // The client's alert follows the server's flight; no client Certificate drawn.
        let t = texts(&s);
        assert_eq!(t[4], "Client: alert fatal bad_certificate (42)");
        let m = mermaid(&c);
        assert!(
            m.contains("\n    C-xS: alert fatal bad_certificate (42)\n"),
            "{m}"
        );
        assert!(m.contains("\n    S--xC: encrypted alert"), "{m}");
        let svg = svg(&c);
        assert_eq!(
            svg.matches("stroke=\"#b00020\" stroke-width=\"1.5\"")
                .count(),
            2
        );
    }

    const HOSTILE: &str = "evil;#x <script>alert(1)</script> -->> %%{init: {\"securityLevel\":\"loose\"}}%% } $$x$$ `a` & \"q\" 'a'\nS->>C: forged\u{202e}gnp.exe\u{0}";

    fn hostile() -> ConnectionReport {
        let mut c = rejected();
        c.sni = Some(HOSTILE.into());
        c.alpn = Some(vec![HOSTILE.into()]);
        let base = c.server_certificates.as_ref().unwrap()[0].clone();
        c.server_certificates = Some(vec![cert(&base, &format!("CN={HOSTILE}"))]);
        c.client_certificates = Some(vec![cert(&base, "O=x,CN=a\\,b\\+c\\3Cd\\\\e\n%%{init}%%")]);
        c.certificate_request = Some(CertificateRequestReport {
            ca_names: vec![HOSTILE.into(), format!("CN={HOSTILE}")],
            signature_algorithms: Vec::new(),
            certificate_types: Vec::new(),
        });
        c.outcome_reason = HOSTILE.into();
        c.verdict = format!("ERROR x: {HOSTILE}");
        c
    }

    #[test]
    fn hostile_values_are_escaped_in_mermaid() {
        let c = hostile();
        let m = mermaid(&c);
        let body: Vec<&str> = m.lines().collect();
        // Every line is one statement: the fence, the header, participants, messages,
        // notes and rect blocks; nothing from the capture made a line of its own.
        assert_eq!(body.first(), Some(&"```mermaid"));
        assert_eq!(body.last(), Some(&"```"));
        for line in &body[2..body.len() - 1] {
            let l = line.trim_start();
            let ok = l.starts_with("participant C as ")
                || l.starts_with("participant S as ")
                || l.starts_with("C->>S: ")
                || l.starts_with("S->>C: ")
                || l.starts_with("C-xS: ")
                || l.starts_with("S-xC: ")
                || l.starts_with("Note over C,S: ")
                || l.starts_with("rect rgba(")
                || l == "end";
            assert!(ok, "unexpected line {l:?} in\n{m}");
            // After the statement's own ": ", none of the characters that end, comment
            // or mark up Mermaid text.
            if let Some((_, text)) = l.split_once(": ") {
                // The only markup: certwire's own line breaks in notes.
                let text = text.replace("<br/>", "");
                for bad in [
                    ";", "<", ">", "%", "{", "}", "$", "`", "\"", "&", "\\", "\u{202e}",
                ] {
                    let without_entities = text
                        .split('#')
                        .enumerate()
                        .map(|(i, p)| {
                            if i == 0 {
                                p
                            } else {
                                p.split_once(';').map_or(p, |x| x.1)
                            }
                        })
                        .collect::<String>();
                    assert!(!without_entities.contains(bad), "{bad:?} in {l:?}");
                }
            }
        }
        assert!(!m.contains("%%"));
        assert!(!m.contains("<script"));
        assert!(!m.contains("-->>C"), "{m}");
        // The entity codes stand for exactly the cleaned, shortened labels.
        let s = sequence(&c);
        let mut want = vec![s.client.label(), s.server.label()];
        want.extend(s.steps.iter().map(|st| match st {
            Step::Message { text, .. } => text.clone(),
            Step::Note { text, .. } => mermaid_note_lines(&s, text).join("\n"),
        }));
        assert_eq!(mermaid_labels(&m), want);
        let want: Vec<String> = want.iter().map(|t| t.replace('\n', " ")).collect();
        // Cleaned: the newline is a space, the bidi override and NUL are U+FFFD; shortened.
        assert!(want[2].starts_with("ClientHello · SNI evil;#x <script>"));
        assert!(want
            .iter()
            .all(|t| !t.contains('\n') && !t.contains('\u{202e}')));
        assert!(want.iter().all(|t| t.chars().count() <= NOTE_MAX));
        assert!(want.iter().any(|t| t.contains('…')));
        assert!(
            want.contains(&"Certificate (CN=a,b+c<d\\e %%{init}%%)".to_string()),
            "{want:#?}"
        );
    }

    #[test]
    fn hostile_values_are_escaped_in_svg() {
        let svg = svg(&hostile());
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("\u{202e}"));
        assert!(!svg.contains('\0'));
        // Only the elements the renderer writes, and no event handler attributes.
        for tag in svg.split('<').skip(1) {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                ["svg", "title", "rect", "line", "text", "polygon", "path"]
                    .contains(&name.as_str()),
                "<{name} in {svg}"
            );
        }
        assert!(!svg.contains(" on"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("&quot;q&quot; &#39;a&#39;"));
        // 720 px wide; the title names both ends.
        assert!(svg.contains("width=\"720\""));
    }

    #[test]
    fn common_names_and_shortening() {
        assert_eq!(
            common_name("CN=system:node:node1,O=system:nodes").as_deref(),
            Some("system:node:node1")
        );
        assert_eq!(common_name("O=a\\,CN=b,CN=c").as_deref(), Some("c"));
        assert_eq!(common_name("cn=x\\2Cy+O=z").as_deref(), Some("x,y"));
        assert_eq!(common_name("O=only"), None);
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("a\tb\u{7}c", 10), "a b\u{FFFD}c");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
    }

    #[test]
    fn proxy_and_hello_retry() {
        use crate::flow::preamble::{Outcome, Protocol, ProxyHop};
        let mut c = rejected();
        c.proxy = Some(ProxyHop {
            protocol: Protocol::HttpConnect,
            target: Some("kubernetes:6443".into()),
            target_port: Some(6443),
            outcome: Outcome::Established,
            reply: Some("HTTP/1.1 200 Connection established".into()),
        });
        c.hello_retry_request = Some(HelloRetry {
            group: Some("secp256r1".into()),
            group_id: Some(23),
        });
        let s = sequence(&c);
        assert_eq!(
            s.server.label(),
            "proxy 127.0.0.1:6443 (to kubernetes:6443, kube-apiserver)"
        );
        let t = texts(&s);
        assert_eq!(
            t[..6],
            [
                "Client: HTTP CONNECT kubernetes:6443",
                "Server: proxy reply: HTTP/1.1 200 Connection established",
                "Client: ClientHello · SNI kubernetes · TLS 1.3/1.2 · ALPN h2,http/1.1",
                "Server: HelloRetryRequest (key share group secp256r1)",
                "Client: ClientHello (second)",
                "Server: ServerHello · TLS 1.2 · TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 · ALPN h2",
            ]
        );
        // No ClientHello in the report: said, not drawn.
        c.sni = None;
        c.alpn = None;
        c.offered_tls_versions.clear();
        c.offered_cipher_suites.clear();
        c.proxy = None;
        assert_eq!(texts(&sequence(&c))[0], "note: ClientHello not captured");
    }
}
