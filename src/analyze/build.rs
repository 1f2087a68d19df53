//! From a finished flow's facts to the owned [`ConnectionReport`].

use crate::correlate::{self, candidates_not_presented};
use crate::flow::{Flow, TcpEnd};
use crate::local::Inventory;
use crate::model::*;
use crate::tls::conn::TlsFacts;
use crate::tls::names;
use crate::x509::{CertCache, CertKeys};

/// Which direction index is the client: the ClientHello says so; failing that the SYN; failing
/// that the side not on a followed port.
pub fn client_dir(flow: &Flow, is_server_port: impl Fn(u16) -> bool) -> usize {
    if let Some(c) = flow.tls.facts.client_dir {
        return c;
    }
    if let Some(c) = flow.syn_from {
        return c;
    }
    if is_server_port(flow.endpoints[1].port()) {
        0
    } else if is_server_port(flow.endpoints[0].port()) {
        1
    } else {
        0
    }
}

/// What depends on nothing but the node's files and the presented certificates, which
/// stay the same for an analyzer, so that each distinct case is worked out once:
/// - the candidates not presented by one side, per (side, roles, presented chain)
///   (`correlate::candidates_not_presented` compares every local certificate: 300 K
///   instructions a connection with a node's files, issue 17);
/// - the local files of a presented certificate, per certificate.
///
/// Bounded: each map is cleared past 4,096 cases.
#[derive(Default)]
pub struct FilesMemo {
    map: rustc_hash::FxHashMap<CandidateCase, Vec<correlate::Candidate>>,
    local: rustc_hash::FxHashMap<[u8; 32], Vec<correlate::LocalMatch>>,
}

/// Side, role, server role, and the presented chain by SHA-256 (None: no Certificate
/// message; an entry None: a certificate that does not parse).
type CandidateCase = (
    Side,
    Option<correlate::Role>,
    Option<correlate::Role>,
    Option<Vec<Option<[u8; 32]>>>,
);

impl FilesMemo {
    fn get(
        &mut self,
        inv: &Inventory,
        side: Side,
        role: Option<correlate::Role>,
        server_role: Option<correlate::Role>,
        chain: Option<&[Option<CertKeys>]>,
    ) -> Vec<correlate::Candidate> {
        let case = (
            side,
            role,
            server_role,
            chain.map(|c| c.iter().map(|k| k.as_ref().map(|k| k.sha256)).collect()),
        );
        if let Some(found) = self.map.get(&case) {
            return found.clone();
        }
        let found = candidates_not_presented(inv, side, role, server_role, chain);
        if self.map.len() >= 4096 {
            self.map.clear();
        }
        self.map.insert(case, found.clone());
        found
    }

    /// `correlate::local_matches`, once per presented certificate (its keys are the
    /// DER's, so its SHA-256 names the case).
    fn local_matches(&mut self, inv: &Inventory, keys: &CertKeys) -> Vec<correlate::LocalMatch> {
        if let Some(found) = self.local.get(&keys.sha256) {
            return found.clone();
        }
        let found = correlate::local_matches(inv, keys);
        if self.local.len() >= 4096 {
            self.local.clear();
        }
        self.local.insert(keys.sha256, found.clone());
        found
    }
}

/// A Certificate message cut before its first certificate was whole says nothing about
/// the chain: null (with a truncated_certificate_messages entry), never `[]`, which means
/// an empty Certificate message.
fn chain_ders(f: &TlsFacts, d: usize) -> Option<&Vec<Vec<u8>>> {
    f.certificates[d]
        .as_ref()
        .filter(|c| !(c.ders.is_empty() && c.truncated.is_some()))
        .map(|c| &c.ders)
}

/// Both sides' chains as reported, and their correlation keys (only with local files to
/// compare against), indexed by direction.
struct Chains {
    keys: [Option<Vec<Option<CertKeys>>>; 2],
    presented: [Option<Vec<PresentedCert>>; 2],
}

fn chains(
    f: &TlsFacts,
    cache: &mut CertCache,
    memo: &mut FilesMemo,
    inv: Option<&Inventory>,
) -> Chains {
    let keys = [0, 1].map(|d| {
        inv?;
        chain_ders(f, d).map(|ders| ders.iter().map(|der| cache.keys(der)).collect::<Vec<_>>())
    });
    let presented = [0, 1].map(|d| {
        chain_ders(f, d).map(|ders| {
            ders.iter()
                .enumerate()
                .map(|(i, der)| {
                    let (cert, der) = cache.get_with_der(der);
                    PresentedCert {
                        cert,
                        local_files: match (inv, keys[d].as_ref().and_then(|k| k[i].as_ref())) {
                            (Some(inv), Some(k)) => memo.local_matches(inv, k),
                            _ => Vec::new(),
                        },
                        der,
                        der_base64: None,
                    }
                })
                .collect::<Vec<_>>()
        })
    });
    Chains { keys, presented }
}

/// How the handshake went, and what could be seen of it.
struct Session {
    resumed: bool,
    /// TLS 1.3 without keys: what the encrypted record lengths say, computed once for the
    /// outcome's reason and the report.
    flights: Option<crate::tls::infer::FlightInference>,
    handshake: Handshake,
    outcome_reason: String,
    visibility: Visibility,
}

fn session(flow: &Flow, client: usize, has_server_hello: bool, alerts: &[AlertReport]) -> Session {
    let f = &flow.tls.facts;
    let tls13 = f.tls13();
    let decrypted = tls13 && (f.decrypted[0] || f.decrypted[1]);
    let completed = is_completed(f, has_server_hello, decrypted);
    let flights = (tls13 && !decrypted).then(|| {
        crate::tls::infer::infer(
            f.server_hello.as_ref().map(|s| s.cipher_suite).unwrap_or(0),
            &f.encrypted_records[1 - client],
            &f.encrypted_records[client],
        )
    });
    let (handshake, outcome_reason) = outcome(flow, f, client, completed, flights.as_ref(), alerts);
    Session {
        resumed: is_resumed(f, client, completed),
        flights,
        handshake,
        outcome_reason,
        visibility: match (tls13, decrypted) {
            (false, _) => Visibility::Plaintext,
            (true, true) => Visibility::Decrypted,
            (true, false) => Visibility::Encrypted,
        },
    }
}

pub fn build(
    flow: &Flow,
    input: &str,
    client: usize,
    cache: &mut CertCache,
    memo: &mut FilesMemo,
    inv: Option<&Inventory>,
) -> ConnectionReport {
    let f = &flow.tls.facts;
    let server = 1 - client;
    let ch = f.client_hello.as_ref();
    let sh = f
        .server_hello
        .as_ref()
        .filter(|sh| !sh.is_hello_retry_request);
    let tls13 = f.tls13();
    let Chains {
        keys: [keys0, keys1],
        presented: [presented0, presented1],
    } = chains(f, cache, memo, inv);
    let (server_keys, client_keys, server_certificates, client_certificates) = if client == 0 {
        (keys1, keys0, presented1, presented0)
    } else {
        (keys0, keys1, presented0, presented1)
    };
    // Through a proxy, the component is the one at the port the client asked for.
    let proxy = flow.preamble.hop().cloned();
    let server_port = proxy
        .as_ref()
        .and_then(|h| h.target_port)
        .unwrap_or(flow.endpoints[server].port());
    let client_subject = client_certificates
        .as_ref()
        .and_then(|c| c.first())
        .and_then(|c| c.subject.clone());
    let role = correlate::client_role(client_subject.as_deref(), server_port);
    let server_role = correlate::server_role(server_port);
    let candidates = inv
        .map(|inv| {
            candidates(
                inv,
                memo,
                f,
                client,
                role,
                server_role,
                &client_keys,
                &server_keys,
            )
        })
        .unwrap_or_default();
    let truncated_certificate_messages = truncated_messages(f, client);
    let alerts = alert_reports(f, client);
    let gaps = gap_reports(f, client);

    let Session {
        resumed,
        flights,
        handshake,
        outcome_reason,
        visibility,
    } = session(flow, client, sh.is_some(), &alerts);
    let stats = [flow.reasm[0].stats, flow.reasm[1].stats];
    let mut report = ConnectionReport {
        id: 0,
        input: input.to_string(),
        first_packet: flow.first_packet,
        client: addr_string(flow.endpoints[client]),
        server: addr_string(flow.endpoints[server]),
        first_seen: flow.first_seen.to_rfc3339(),
        tls_version: sh.and_then(|sh| names::version_name(sh.version())),
        sni: ch.and_then(|c| c.sni.clone()),
        alpn: ch.and_then(|c| c.alpn.clone()),
        alpn_selected: sh.and_then(|s| s.alpn.clone()),
        cipher_suite: sh.map(|s| names::cipher_suite_name(s.cipher_suite)),
        cipher_suite_id: sh.map(|s| s.cipher_suite),
        offered_tls_versions: ch.map(offered_versions).unwrap_or_default(),
        offered_cipher_suites: ch.map(offered_suites).unwrap_or_default(),
        server_certificates,
        client_certificates,
        truncated_certificate_messages,
        certificate_request: f.certificate_request.as_ref().map(certificate_request),
        alerts,
        role,
        server_role,
        candidates_not_presented: candidates,
        handshake,
        visibility,
        key_sources: Vec::new(),
        http_response: f.http_status.map(|s| crate::model::HttpResponse {
            status: s.status,
            protocol: s.protocol,
        }),
        resumed,
        gaps,
        tcp: tcp_report(flow),
        hello_retry_request: f.hello_retry.then(|| HelloRetry {
            group: f.hello_retry_group.map(names::group_name),
            group_id: f.hello_retry_group,
        }),
        tunnel: flow.tunnel.map(|t| tunnel_report(t, client)),
        proxy,
        encrypted_records: tls13.then(|| EncryptedRecords {
            client: f.encrypted_records[client].clone(),
            server: f.encrypted_records[server].clone(),
        }),
        inference: flights.map(|flights| inference(flights, inv)),
        outcome_reason,
        findings: Vec::new(),
        verdict: String::new(),
        notes: notes(f, &stats),
    };
    let chains = [chain_ders(f, 0), chain_ders(f, 1)];
    judge(&mut report, flow, client, chains, inv);
    report
}

/// TLS 1.3 without keys: the flights the record lengths show, and which local chains fit
/// the Certificate messages' lengths.
fn inference(flights: crate::tls::infer::FlightInference, inv: Option<&Inventory>) -> Inference {
    let mut size_checks = Vec::new();
    if let Some(inv) = inv {
        for (side, is_server) in [(Side::Server, true), (Side::Client, false)] {
            if let Some(len) = flights.certificate_length(is_server) {
                size_checks.push(crate::correlate::size_check(inv, side, len));
            }
        }
    }
    Inference {
        flights,
        size_checks,
    }
}

/// The findings and the verdict, from the report and the chains as presented.
fn judge(
    report: &mut ConnectionReport,
    flow: &Flow,
    client: usize,
    chains: [Option<&Vec<Vec<u8>>>; 2],
    inv: Option<&Inventory>,
) {
    let f = &flow.tls.facts;
    let server = 1 - client;
    let ctx = crate::diagnose::Context {
        conn: report,
        client_chain: chains[client].map(|v| v.as_slice()),
        server_chain: chains[server].map(|v| v.as_slice()),
        inventory: inv,
        capture_time: flow.first_seen.secs,
        // What the client dialed: through a proxy, the target it named.
        server_ip: report
            .proxy
            .as_ref()
            .and_then(|h| h.target.as_deref())
            .and_then(|t| t.rsplit_once(':'))
            .and_then(|(host, _)| host.trim_matches(|c| c == '[' || c == ']').parse().ok())
            .unwrap_or(flow.endpoints[server].ip()),
        client_flight_seen: f.ccs[client] || f.finished[client] || f.certificates[client].is_some(),
        client_hello_seen: f.client_hello.is_some(),
    };
    let findings = crate::diagnose::diagnose(&ctx);
    report.verdict = crate::diagnose::verdict(report, &findings);
    report.findings = findings;
}

/// Local certificates the sides could have presented but did not; only where the capture
/// shows what was presented: a chain, or (a client asked for one, in the clear or
/// decrypted) none at all. An encrypted or uncaptured Certificate message says nothing
/// about what was not presented.
#[allow(clippy::too_many_arguments)]
fn candidates(
    inv: &Inventory,
    memo: &mut FilesMemo,
    f: &TlsFacts,
    client: usize,
    role: Option<correlate::Role>,
    server_role: Option<correlate::Role>,
    client_keys: &Option<Vec<Option<CertKeys>>>,
    server_keys: &Option<Vec<Option<CertKeys>>>,
) -> Vec<correlate::Candidate> {
    let mut out = Vec::new();
    let client_known = client_keys.is_some()
        || (f.certificate_request.is_some()
            && (!f.tls13() || f.decrypted[client])
            && f.ccs[client] | f.finished[client]
            // A gap in the client's bytes may have taken its Certificate.
            && f.gaps.iter().all(|g| g.dir != client));
    if client_known {
        out.extend(memo.get(inv, Side::Client, role, server_role, client_keys.as_deref()));
    }
    if server_keys.is_some() {
        out.extend(memo.get(
            inv,
            Side::Server,
            server_role,
            server_role,
            server_keys.as_deref(),
        ));
    }
    out
}

fn side_of(d: usize, client: usize) -> Side {
    if d == client {
        Side::Client
    } else {
        Side::Server
    }
}

fn truncated_messages(f: &TlsFacts, client: usize) -> Vec<TruncatedMessage> {
    [client, 1 - client]
        .iter()
        .filter_map(|&d| {
            let c = f.certificates[d].as_ref()?;
            let (declared, seen) = c.truncated?;
            Some(TruncatedMessage {
                from: side_of(d, client),
                message: "Certificate",
                declared_length: declared,
                seen_bytes: seen,
                whole_certificates: c.ders.len(),
            })
        })
        .collect()
}

fn alert_reports(f: &TlsFacts, client: usize) -> Vec<AlertReport> {
    f.alerts
        .iter()
        .map(|a| AlertReport {
            from: side_of(a.dir, client),
            level: a.level.map(|l| match l {
                1 => "warning",
                2 => "fatal",
                _ => "unknown",
            }),
            description: a.description.and_then(names::alert_name),
            code: a.description,
            encrypted: a.encrypted,
        })
        .collect()
}

fn gap_reports(f: &TlsFacts, client: usize) -> Vec<GapReport> {
    f.gaps
        .iter()
        .map(|g| GapReport {
            direction: if g.dir == client {
                "client_to_server"
            } else {
                "server_to_client"
            },
            offset: g.offset,
            missing_bytes: g.len,
            during_handshake: g.during_handshake,
        })
        .collect()
}

/// TLS ≤ 1.2 peers send application data only after the handshake: data both ways proves
/// it completed even when a capture gap swallowed a Finished. TLS 1.3 needs the keys: both
/// Finished, and the server went on after the client's flight (a ticket or data, not an
/// alert), or data flowed both ways.
fn is_completed(f: &TlsFacts, server_hello: bool, decrypted: bool) -> bool {
    if f.tls13() {
        decrypted
            && f.finished[0]
            && f.finished[1]
            && (f.server_accepted || (f.app_data[0] && f.app_data[1]))
    } else {
        server_hello && ((f.finished[0] && f.finished[1]) || (f.app_data[0] && f.app_data[1]))
    }
}

fn is_resumed(f: &TlsFacts, client: usize, completed: bool) -> bool {
    let server = 1 - client;
    match f
        .server_hello
        .as_ref()
        .filter(|sh| !sh.is_hello_retry_request)
    {
        Some(sh) if f.tls13() => sh.pre_shared_key,
        Some(sh) => {
            completed
                && f.certificates[server].is_none()
                && f.gaps.iter().all(|g| g.dir != server)
                && !sh.session_id.is_empty()
                && f.client_hello
                    .as_ref()
                    .is_some_and(|ch| ch.session_id == sh.session_id)
        }
        None => false,
    }
}

fn offered_versions(c: &crate::tls::messages::ClientHello) -> Vec<&'static str> {
    if c.supported_versions.is_empty() {
        names::version_name(c.legacy_version).into_iter().collect()
    } else {
        c.supported_versions
            .iter()
            .filter_map(|v| names::version_name(*v))
            .collect()
    }
}

/// Without GREASE values (RFC 8701).
fn offered_suites(c: &crate::tls::messages::ClientHello) -> Vec<names::Name> {
    c.cipher_suites
        .iter()
        .filter(|cs| *cs & 0x0f0f != 0x0a0a)
        .map(|cs| names::cipher_suite_name(*cs))
        .collect()
}

fn certificate_request(cr: &crate::tls::conn::CertificateRequestFact) -> CertificateRequestReport {
    CertificateRequestReport {
        ca_names: cr.ca_names.clone(),
        signature_algorithms: cr
            .signature_algorithms
            .iter()
            .map(|s| names::signature_scheme_name(*s))
            .collect(),
        certificate_types: cr
            .certificate_types
            .iter()
            .map(|t| names::certificate_type_name(*t))
            .collect(),
    }
}

/// `ip:port` as `SocketAddr`'s Display writes it; IPv4 without the formatting machinery
/// (two per connection).
fn addr_string(a: std::net::SocketAddr) -> String {
    let std::net::SocketAddr::V4(v4) = a else {
        return a.to_string();
    };
    // "255.255.255.255:65535" is 21 bytes.
    let mut buf = [0u8; 21];
    let mut n = 0;
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        n += decimal(&mut buf[n..], u32::from(octet));
    }
    buf[n] = b':';
    n += 1;
    n += decimal(&mut buf[n..], u32::from(v4.port()));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `n` in decimal at the start of `out`; the digits written.
fn decimal(out: &mut [u8], n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    out[..len].copy_from_slice(&digits[i..]);
    len
}

/// The tunnel seen on the flow's first packet, oriented by the client's direction.
fn tunnel_report(t: crate::wire::tunnel::Encap, client: usize) -> TunnelReport {
    let (c, s) = if client == 0 {
        (t.outer_src, t.outer_dst)
    } else {
        (t.outer_dst, t.outer_src)
    };
    TunnelReport {
        kind: t.kind,
        id: t.id,
        outer_client: c.to_string(),
        outer_server: s.to_string(),
        layers: t.layers,
    }
}

fn tcp_report(flow: &Flow) -> TcpReport {
    let [a, b] = [flow.reasm[0].stats, flow.reasm[1].stats];
    TcpReport {
        syn_seen: flow.reasm[0].syn_seen || flow.reasm[1].syn_seen,
        end: match flow.tcp_end() {
            TcpEnd::Fin => "fin",
            TcpEnd::Reset => "reset",
            TcpEnd::Open => "open",
        },
        retransmitted_segments: a.retransmitted + b.retransmitted,
        out_of_order_segments: a.out_of_order + b.out_of_order,
        overlapping_segments: a.overlapping + b.overlapping,
        overlap_conflicts: a.overlap_conflicts + b.overlap_conflicts,
        dropped_segments: a.dropped_by_cap + b.dropped_by_cap,
    }
}

fn notes(f: &TlsFacts, stats: &[crate::flow::reassembly::DirStats; 2]) -> Vec<String> {
    let mut notes = f.notes.clone();
    let conflicts = stats[0].overlap_conflicts + stats[1].overlap_conflicts;
    if conflicts > 0 {
        notes.push(format!(
            "{conflicts} overlapping TCP segment(s) carried bytes that differ from those they overlap: the capture was altered or mixes two senders; the bytes kept are those the Linux receiver keeps"
        ));
    }
    if f.gaps_not_listed > 0 {
        notes.push(format!(
            "{} more gap(s), {} bytes in all, are not listed",
            f.gaps_not_listed, f.missing_not_listed
        ));
    }
    notes
}

fn outcome(
    flow: &Flow,
    f: &TlsFacts,
    client: usize,
    completed: bool,
    encrypted: Option<&crate::tls::infer::FlightInference>,
    alerts: &[AlertReport],
) -> (Handshake, String) {
    let who = |s: Side| match s {
        Side::Client => "client",
        Side::Server => "server",
    };
    if !completed {
        if let Some(a) = alerts.iter().find(|a| a.level == Some("fatal")) {
            return (
                Handshake::Failed,
                format!(
                    "{} sent fatal alert {} ({})",
                    who(a.from),
                    a.description.unwrap_or("unknown"),
                    a.code.map(|c| c.to_string()).unwrap_or_default()
                ),
            );
        }
        // An encrypted TLS ≤ 1.2 alert is a failure only while no application data has
        // flowed and the handshake is unfinished; after that it is the close_notify of a
        // connection whose handshake began before the capture did.
        let finished_both = f.finished[0] && f.finished[1];
        let app_data = f.app_data[0] || f.app_data[1];
        if !f.tls13() && !finished_both && !app_data {
            if let Some(a) = alerts.iter().find(|a| a.encrypted && a.level.is_none()) {
                return (
                    Handshake::Failed,
                    format!(
                        "{} sent an encrypted alert before the handshake completed",
                        who(a.from)
                    ),
                );
            }
        }
    }
    if completed {
        let reason = if f.tls13() {
            "decrypted: both Finished messages, and the server went on after the client's flight"
        } else if f.finished[0] && f.finished[1] {
            "both sides sent ChangeCipherSpec and Finished"
        } else {
            "application data flowed both ways (a Finished message was not captured whole)"
        };
        return (Handshake::Completed, reason.into());
    }
    if let Some(inferred) = encrypted {
        let mut reason = "TLS 1.3: everything after ServerHello is encrypted; give the key log (--keylog) to see certificates and outcome".to_string();
        match inferred.outcome {
            Some("failed") => reason.push_str(
                "; inferred from record lengths: the server answered the client's flight with an alert-sized record (rejected)",
            ),
            Some(_) => reason.push_str(
                "; inferred from record lengths: the server answered the client's flight with a session ticket or data (accepted)",
            ),
            None => {}
        }
        return (Handshake::Unknown, reason);
    }
    let missing: u64 = f.gaps.iter().map(|g| g.len).sum();
    let end = match flow.rst_from {
        Some(d) => format!(
            "connection reset by the {}",
            if d == client { "client" } else { "server" }
        ),
        None if flow.fin[0] || flow.fin[1] => "connection closed".to_string(),
        None if flow.abandoned.is_some() => {
            format!("flow given up: {}", flow.abandoned.unwrap_or(""))
        }
        None => "capture ended".to_string(),
    };
    let stage = if f.server_hello.is_none() && f.finished[0] && f.finished[1] {
        "; the capture began after the handshake started (no ClientHello/ServerHello), then both sides sent Finished"
    } else if f.client_hello.is_none() && f.server_hello.is_none() {
        "before any handshake message"
    } else if f.server_hello.is_none() {
        "after ClientHello, before ServerHello"
    } else {
        "before both Finished messages"
    };
    let mut reason = if stage.starts_with(';') {
        format!("{end}{stage}")
    } else {
        format!("{end} {stage}")
    };
    if missing > 0 {
        reason.push_str(&format!("; {missing} bytes missing from the capture"));
    }
    (Handshake::Incomplete, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_display_writes_them() {
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:6443",
            "255.255.255.255:65535",
            "198.18.166.101:20041",
            "10.0.10.9:10250",
            "[::1]:6443",
            "[2001:db8::2]:10250",
            "[::ffff:10.0.0.1]:443",
        ] {
            let sa: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(addr_string(sa), sa.to_string());
            assert_eq!(addr_string(sa), a);
        }
    }
}
