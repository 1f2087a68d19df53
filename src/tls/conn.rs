//! The TLS state of one TCP connection: what each side said, as far as the capture shows.
//!
//! Directions are indices 0 and 1 (as the flow table assigns them); which one is the client
//! is learned from the ClientHello (or, for a capture that starts later, the ServerHello)
//! and only applied when the connection is reported.

use super::handshake::{HandshakeEvent, HandshakeJoiner};
use super::messages::{self, ClientHello, ServerHello};
use std::sync::Arc;

use super::decrypt::{tls12_keys, RecordKeys, Suite, Tls12Keys};
use super::held::Held;
use super::http_status::{HttpStatus, StatusReader};
use super::keylog::KeyLog;
use super::record::{self, RecordEvent, RecordReader};
use crate::x509::der_name_to_rfc2253_cached;

/// Encrypted record lengths kept per direction: enough for both TLS 1.3 flights and the
/// records that show how the handshake ended.
const MAX_ENCRYPTED_RECORDS: usize = 16;
/// Alerts kept per connection; a peer looping on alerts must not grow memory.
const MAX_ALERTS: usize = 16;
const MAX_NOTES: usize = 16;
/// Gaps listed per connection; more are counted, not listed.
const MAX_GAPS: usize = 64;
/// Records followed after a TLS 1.2 handshake completed, when it can be decrypted.
const TLS12_FOLLOW_RECORDS: u32 = 16;
/// Server application records read, at most, looking for the first HTTP status.
const STATUS_RECORDS: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFact {
    pub dir: usize,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub encrypted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFact {
    pub ders: Vec<Vec<u8>>,
    /// Set when the message was cut by a capture gap: (declared body length, bytes seen).
    pub truncated: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequestFact {
    pub dir: usize,
    pub certificate_types: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    /// RFC 2253 strings; a name that does not parse is kept as `#` + hex of its DER.
    pub ca_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapFact {
    pub dir: usize,
    pub offset: u64,
    pub len: u64,
    /// The gap came before this direction's part of the handshake was over: it may have
    /// taken handshake messages.
    pub during_handshake: bool,
}

/// Everything learned about the handshake, in direction indices.
#[derive(Debug, Default, Clone)]
pub struct TlsFacts {
    pub client_dir: Option<usize>,
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    pub hello_retry: bool,
    /// The group a HelloRetryRequest asked for.
    pub hello_retry_group: Option<u16>,
    pub certificates: [Option<CertificateFact>; 2],
    pub certificate_request: Option<CertificateRequestFact>,
    pub alerts: Vec<AlertFact>,
    pub gaps: Vec<GapFact>,
    /// Gaps beyond [`MAX_GAPS`]: how many, and how many bytes they lost.
    pub gaps_not_listed: u64,
    pub missing_not_listed: u64,
    /// Per direction: lengths of the encrypted records seen (TLS 1.3 handshakes and what
    /// follows them), for later inference about their contents.
    pub encrypted_records: [Vec<u16>; 2],
    pub encrypted_record_count: [u64; 2],
    /// Per direction: ChangeCipherSpec seen and (TLS ≤ 1.2) its Finished.
    pub ccs: [bool; 2],
    pub finished: [bool; 2],
    pub app_data: [bool; 2],
    /// Parse problems worth showing to the user (malformed messages, oversize messages).
    pub notes: Vec<String>,
    /// Some bytes of this direction did not look like TLS at all.
    pub not_tls: [bool; 2],
    /// A handshake record arrived in this direction (framing trusted).
    pub handshake_seen: [bool; 2],
    /// TLS 1.3: the server sent a record after the client's first encrypted record (its
    /// answer to the client's flight: a ticket, an alert or data), and how many records
    /// followed that.
    pub server_reacted: bool,
    pub records_after_reaction: u32,
    /// TLS 1.3 with keys: records of this direction were decrypted.
    pub decrypted: [bool; 2],
    /// TLS 1.3 with keys: after the client's Finished the server sent a ticket or data
    /// (it accepted the client's flight), not an alert.
    pub server_accepted: bool,
    /// TLS ≤ 1.2 with a master secret: records after ChangeCipherSpec are read (alerts), so
    /// the connection is followed a little past its handshake to see how it ends.
    pub tls12_decrypting: bool,
    pub records_after_completion: u32,
    /// With application keys: the status of the server's first HTTP response.
    pub http_status: Option<HttpStatus>,
}

impl TlsFacts {
    /// Direction `d` has sent all of its handshake: its Finished (TLS ≤ 1.2, or TLS 1.3
    /// decrypted), or, TLS 1.3 without keys, the server reacted to the client's flight.
    /// Reassembly reports gaps in stream order, so this is the state before the gap.
    pub fn handshake_over(&self, d: usize) -> bool {
        if self.tls13() && !self.decrypted[d] {
            return self.server_reacted;
        }
        self.finished[d] || (!self.tls13() && self.app_data[d])
    }

    pub fn tls13(&self) -> bool {
        self.server_hello
            .as_ref()
            .is_some_and(|sh| sh.version() == 0x0304 && !sh.is_hello_retry_request)
    }

    pub fn server_dir(&self) -> Option<usize> {
        self.client_dir.map(|c| 1 - c)
    }

    pub fn fatal_alert(&self) -> bool {
        self.alerts.iter().any(|a| a.level == Some(2))
    }

    pub(crate) fn note(&mut self, s: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(s);
        }
    }
}

/// Record protection state of one direction (TLS 1.3 with keys).
#[derive(Debug, Default)]
enum Protection {
    /// No encrypted record yet (or TLS ≤ 1.2, or no key log at all).
    #[default]
    Unset,
    Handshake(RecordKeys),
    Application(RecordKeys),
    /// No keys yet (live, from processes): the records wait for them in the connection's
    /// [`Held`] queue.
    Waiting,
    /// Decryption stopped: why (said once in the notes).
    Stopped,
}

/// Per-direction state above the record layer.
#[derive(Debug, Default)]
struct DirState {
    joiner: HandshakeJoiner,
    protection: Protection,
    /// TLS ≤ 1.2 with a CLIENT_RANDOM master secret: this side's write keys.
    tls12: Option<Tls12Keys>,
    /// Server side with application keys: looking for the first HTTP status.
    http: StatusReader,
    /// Application records opened for it.
    app_records_read: u32,
}

#[derive(Debug)]
pub struct TlsConnection {
    framing: [RecordReader; 2],
    dirs: [DirState; 2],
    keylog: Option<Arc<KeyLog>>,
    /// Keys may arrive after the records they open: hold records instead of giving up.
    wait_for_keys: bool,
    held: Held,
    pub facts: TlsFacts,
}

impl TlsConnection {
    /// `at_record_boundary[d]`: direction d is known to start at its first byte (SYN seen).
    /// `keylog`: session secrets to decrypt TLS 1.3 handshakes with, if any were given.
    pub fn new(at_record_boundary: [bool; 2], keylog: Option<Arc<KeyLog>>) -> Self {
        TlsConnection {
            framing: [
                RecordReader::new(at_record_boundary[0]),
                RecordReader::new(at_record_boundary[1]),
            ],
            dirs: [DirState::default(), DirState::default()],
            keylog,
            wait_for_keys: false,
            held: Held::default(),
            facts: TlsFacts::default(),
        }
    }

    /// Secrets come from processes, a moment after the records they open.
    pub fn wait_for_keys(&mut self) {
        self.wait_for_keys = true;
    }

    /// A direction holds records for keys that have not arrived.
    pub fn waiting(&self) -> bool {
        self.dirs
            .iter()
            .any(|d| matches!(d.protection, Protection::Waiting))
    }

    /// Open the held records, in capture order, of every direction whose keys are now
    /// known.
    pub fn retry_keys(&mut self) {
        let Self {
            dirs,
            keylog,
            facts,
            held,
            ..
        } = self;
        let Some(keylog) = keylog.as_deref() else {
            return;
        };
        for (d, dir) in dirs.iter_mut().enumerate() {
            if matches!(dir.protection, Protection::Waiting) {
                let client = d == facts.client_dir.unwrap_or(0);
                if let Ok(k) = start_protection(facts, keylog, client) {
                    dir.protection = Protection::Handshake(k);
                }
            }
        }
        // In capture order; a record of a direction still waiting blocks those after it.
        let mut blocked = false;
        for (d, header, payload) in held.take() {
            blocked |= matches!(dirs[d].protection, Protection::Waiting);
            if blocked {
                held.push(d, &header, &payload);
            } else {
                open_record(facts, &mut dirs[d], keylog, d, &header, &payload);
            }
        }
    }

    /// Report without the keys that did not come (after a last try).
    pub fn stop_waiting(&mut self) {
        self.retry_keys();
        let client = self.facts.client_dir.unwrap_or(0);
        for (d, dir) in self.dirs.iter_mut().enumerate() {
            if matches!(dir.protection, Protection::Waiting) {
                dir.protection = Protection::Stopped;
                let side = if d == client { "client" } else { "server" };
                self.facts.note(format!(
                    "not decrypted ({side}): no secrets for this client random arrived from the probed processes"
                ));
            }
        }
        // What the other direction held behind them is opened now.
        self.retry_keys();
    }

    pub fn buffered_bytes(&self) -> usize {
        self.framing
            .iter()
            .map(RecordReader::buffered_bytes)
            .sum::<usize>()
            + self
                .dirs
                .iter()
                .map(|d| d.joiner.buffered_bytes())
                .sum::<usize>()
            + self.held.bytes()
    }

    /// Direction `d` did not start with a SYN: its first bytes may be anywhere in a record.
    pub fn start_midstream(&mut self, d: usize) {
        self.framing[d] = RecordReader::new(false);
    }

    pub fn on_data(&mut self, d: usize, bytes: &[u8], segment_start: bool) {
        let Self {
            framing,
            dirs,
            keylog,
            wait_for_keys,
            held,
            facts,
        } = self;
        let keys = Keys {
            log: keylog.as_deref(),
            wait: *wait_for_keys,
        };
        framing[d].on_data(bytes, segment_start, &mut |ev| {
            on_record(facts, &mut dirs[d], keys, held, d, ev)
        });
        if framing[d].not_tls {
            facts.not_tls[d] = true;
        }
        if !self.held.is_empty() {
            self.retry_keys();
        }
    }

    pub fn on_gap(&mut self, d: usize, offset: u64, len: u64) {
        if self.facts.gaps.len() < MAX_GAPS {
            let during_handshake = !self.facts.handshake_over(d);
            self.facts.gaps.push(GapFact {
                dir: d,
                offset,
                len,
                during_handshake,
            });
        } else {
            self.facts.gaps_not_listed += 1;
            self.facts.missing_not_listed += len;
        }
        let Self {
            framing,
            dirs,
            keylog,
            wait_for_keys,
            held,
            facts,
        } = self;
        let keys = Keys {
            log: keylog.as_deref(),
            wait: *wait_for_keys,
        };
        framing[d].on_gap(len, &mut |ev| {
            on_record(facts, &mut dirs[d], keys, held, d, ev)
        });
    }

    /// True once the capture can tell nothing more about this handshake that matters: it
    /// completed (TLS ≤ 1.2), failed with a fatal alert, or (TLS 1.3) both flights and the
    /// server's reaction to the client's flight have been seen.
    pub fn is_done(&self) -> bool {
        let f = &self.facts;
        if f.fatal_alert() {
            return true;
        }
        if self.waiting() || self.reading_status() {
            return false;
        }
        if f.tls13() {
            return (f.server_accepted && f.finished[0] && f.finished[1])
                || (f.server_reacted && f.records_after_reaction >= 1);
        }
        // With TLS 1.2 keys, follow a few records past completion: the alerts that end
        // the connection are readable.
        f.server_hello.is_some()
            && f.finished[0]
            && f.finished[1]
            && (!f.tls12_decrypting || f.records_after_completion >= TLS12_FOLLOW_RECORDS)
    }

    /// The server's application data is being read for the first HTTP status.
    fn reading_status(&self) -> bool {
        let Some(s) = self.facts.server_dir() else {
            return false;
        };
        let dir = &self.dirs[s];
        let decrypting =
            matches!(dir.protection, Protection::Application(_)) || dir.tls12.is_some();
        decrypting && dir.http.pending() && dir.app_records_read < STATUS_RECORDS
    }

    /// Free the buffers and keys; the facts stay.
    pub fn release(&mut self) {
        for f in &mut self.framing {
            f.release();
        }
        for d in &mut self.dirs {
            d.joiner.release();
            d.protection = Protection::Stopped;
            d.http = StatusReader::default();
        }
    }
}

/// An application data record: in TLS 1.3 the encrypted handshake (counted for what its
/// lengths tell, and opened with keys); in TLS ≤ 1.2 data after the handshake.
fn on_application_data(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    keys: Keys<'_>,
    held: &mut Held,
    d: usize,
    version: u16,
    payload: &[u8],
) {
    if !facts.tls13() {
        // Application data is only sent encrypted: this direction is past its
        // ChangeCipherSpec even if the capture lost it.
        facts.app_data[d] = true;
        facts.ccs[d] = true;
        if facts.finished[0] && facts.finished[1] {
            facts.records_after_completion += 1;
        }
        tls12_app_data(facts, dir, d, version, payload);
        return;
    }
    let c = facts.client_dir.unwrap_or(0);
    let client_flight_started = facts.encrypted_record_count[c] > 0;
    facts.encrypted_record_count[d] += 1;
    if facts.encrypted_records[d].len() < MAX_ENCRYPTED_RECORDS {
        facts.encrypted_records[d].push(payload.len() as u16);
    }
    if facts.server_reacted {
        facts.records_after_reaction += 1;
    } else if client_flight_started && d != c {
        facts.server_reacted = true;
    }
    let len = payload.len();
    let header = [
        record::CT_APPLICATION_DATA,
        (version >> 8) as u8,
        version as u8,
        (len >> 8) as u8,
        len as u8,
    ];
    decrypt_record(facts, dir, keys, held, d, &header, payload);
}

/// The key store, and whether to wait for keys that are not there yet.
#[derive(Clone, Copy)]
struct Keys<'a> {
    log: Option<&'a KeyLog>,
    wait: bool,
}

fn on_record(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    keys: Keys<'_>,
    held: &mut Held,
    d: usize,
    ev: RecordEvent<'_>,
) {
    let keylog = keys.log;
    let joiner = &mut dir.joiner;
    match ev {
        RecordEvent::Record {
            content_type,
            version,
            payload,
        } => match content_type {
            record::CT_HANDSHAKE => {
                facts.handshake_seen[d] = true;
                if facts.ccs[d] && !facts.tls13() {
                    // TLS ≤ 1.2: the first handshake record after ChangeCipherSpec is the
                    // encrypted Finished.
                    facts.finished[d] = true;
                    tls12_record(facts, dir, d, content_type, version, payload);
                    return;
                }
                joiner.on_record(payload, &mut |hev| on_handshake(facts, d, hev));
            }
            record::CT_CHANGE_CIPHER_SPEC
                // In TLS 1.3 this is only middlebox camouflage (RFC 8446 §D.4), also
                // between a HelloRetryRequest and the second ClientHello.
                if !facts.tls13() && !facts.server_hello.as_ref().is_some_and(|sh| sh.is_hello_retry_request) => {
                    facts.ccs[d] = true;
                    start_tls12(facts, dir, keylog, d);
                }
            record::CT_ALERT => {
                if facts.alerts.len() >= MAX_ALERTS {
                    return;
                }
                // A plaintext alert is exactly level + description; anything longer is an
                // encrypted one (AEAD adds at least 16 bytes), even when the ChangeCipherSpec
                // before it was not captured. TLS 1.3 encrypts alerts as application data,
                // so there an alert record is always plaintext.
                let plain = payload.len() == 2 && matches!(payload[0], 1 | 2) && (facts.tls13() || !facts.ccs[d]);
                if !plain && tls12_record(facts, dir, d, content_type, version, payload) {
                    return;
                }
                facts.alerts.push(if plain {
                    AlertFact { dir: d, level: Some(payload[0]), description: Some(payload[1]), encrypted: false }
                } else {
                    AlertFact { dir: d, level: None, description: None, encrypted: true }
                });
            }
            record::CT_APPLICATION_DATA => {
                on_application_data(facts, dir, keys, held, d, version, payload)
            }
            _ => {}
        },
        RecordEvent::Damaged {
            content_type,
            prefix,
            ..
        } => {
            if content_type == record::CT_HANDSHAKE && !facts.ccs[d] && !facts.tls13() {
                joiner.on_damaged(prefix, &mut |hev| on_handshake(facts, d, hev));
            } else {
                joiner.on_lost(&mut |hev| on_handshake(facts, d, hev));
            }
            // One protected record is lost: count it, so the next ones still open with
            // the right sequence number.
            if content_type == record::CT_APPLICATION_DATA && facts.tls13() {
                match &mut dir.protection {
                    Protection::Handshake(k) | Protection::Application(k) => k.skip(),
                    // The sequence numbers of held records would be wrong from here on.
                    Protection::Waiting => dir.protection = Protection::Stopped,
                    _ => {}
                }
            } else if facts.ccs[d] {
                if let Some(k) = dir.tls12.as_mut() {
                    k.skip();
                }
            }
        }
        RecordEvent::Lost => {
            joiner.on_lost(&mut |hev| on_handshake(facts, d, hev));
            // An unknown number of records is gone: the sequence number is unknown too.
            if matches!(
                dir.protection,
                Protection::Handshake(_) | Protection::Application(_) | Protection::Waiting
            ) || dir.tls12.is_some()
            {
                facts.note(format!(
                    "decryption stopped in direction {d}: bytes are missing and the record count is unknown"
                ));
                dir.protection = Protection::Stopped;
                dir.tls12 = None;
            }
        }
    }
}

/// A Certificate message (sent as is, or decompressed): its chain, or what is wrong.
fn on_certificate(
    facts: &mut TlsFacts,
    d: usize,
    body: &[u8],
    tls13: bool,
    partial_of: Option<usize>,
) {
    match messages::parse_certificate(body, tls13) {
        Ok(list) => {
            let truncated = partial_of.map(|declared| (declared, body.len()));
            facts.certificates[d] = Some(CertificateFact {
                ders: list.certificates.iter().map(|c| c.to_vec()).collect(),
                // Only bytes missing from the capture make a message "truncated"; a whole
                // message whose list runs short is malformed, and said so.
                truncated,
            });
            if list.truncated && partial_of.is_none() {
                facts.note("malformed Certificate message: its certificate list is shorter than it declares".into());
            }
        }
        Err(e) => facts.note(e.to_string()),
    }
}

fn on_handshake(facts: &mut TlsFacts, d: usize, ev: HandshakeEvent<'_>) {
    match ev {
        HandshakeEvent::Message { msg_type, body } => on_message(facts, d, msg_type, body, None),
        HandshakeEvent::Partial {
            msg_type,
            declared_len,
            have,
        } => on_message(facts, d, msg_type, have, Some(declared_len)),
        HandshakeEvent::Oversize {
            msg_type,
            declared_len,
        } => facts.note(format!(
            "{} message of {declared_len} bytes exceeds the {} byte cap and was skipped",
            super::names::handshake_type_name(msg_type),
            super::handshake::MAX_MESSAGE_LEN
        )),
    }
}

/// One handshake message (whole, or partial with its declared length). Public to the
/// crate so that decrypted TLS 1.3 handshake bytes reach the same code.
pub(crate) fn on_message(
    facts: &mut TlsFacts,
    d: usize,
    msg_type: u8,
    body: &[u8],
    partial_of: Option<usize>,
) {
    let tls13 = facts.tls13();
    match msg_type {
        messages::HT_CLIENT_HELLO if partial_of.is_none() => {
            match messages::parse_client_hello(body) {
                Ok(ch) => {
                    facts.client_dir = Some(d);
                    // After a HelloRetryRequest the second ClientHello replaces the first.
                    facts.client_hello = Some(ch);
                }
                Err(e) => facts.note(e.to_string()),
            }
        }
        messages::HT_SERVER_HELLO if partial_of.is_none() => {
            match messages::parse_server_hello(body) {
                Ok(sh) => {
                    if facts.client_dir.is_none() {
                        facts.client_dir = Some(1 - d);
                    }
                    if sh.is_hello_retry_request {
                        facts.hello_retry = true;
                        facts.hello_retry_group = sh.group;
                    }
                    facts.server_hello = Some(sh);
                }
                Err(e) => facts.note(e.to_string()),
            }
        }
        messages::HT_CERTIFICATE => on_certificate(facts, d, body, tls13, partial_of),
        // RFC 8879: the Certificate message, compressed. Only a whole one can be opened.
        super::compressed::HT_COMPRESSED_CERTIFICATE if partial_of.is_none() => {
            match super::compressed::decompress(body) {
                Ok(c) => {
                    facts.note(format!(
                        "the Certificate message was compressed (RFC 8879, {}): {} bytes, {} decompressed",
                        c.algorithm,
                        c.compressed_length,
                        c.certificate.len()
                    ));
                    on_certificate(facts, d, &c.certificate, tls13, None);
                }
                Err(e) => facts.note(e),
            }
        }
        messages::HT_CERTIFICATE_REQUEST if partial_of.is_none() => {
            match messages::parse_certificate_request(body, tls13) {
                Ok(cr) => {
                    facts.certificate_request = Some(CertificateRequestFact {
                        dir: d,
                        certificate_types: cr.certificate_types,
                        signature_algorithms: cr.signature_algorithms,
                        ca_names: cr
                            .ca_names
                            .iter()
                            .map(|n| {
                                der_name_to_rfc2253_cached(n)
                                    .unwrap_or_else(|| format!("#{}", crate::x509::sha256_hex(n)))
                            })
                            .collect(),
                    })
                }
                Err(e) => facts.note(e.to_string()),
            }
        }
        messages::HT_ENCRYPTED_EXTENSIONS if partial_of.is_none() => {
            if let Ok(Some(alpn)) = messages::parse_encrypted_extensions(body) {
                if let Some(sh) = facts.server_hello.as_mut() {
                    sh.alpn = Some(alpn);
                }
            }
        }
        messages::HT_FINISHED if partial_of.is_none() => facts.finished[d] = true,
        _ => {
            if let Some(declared) = partial_of {
                facts.note(format!(
                    "{} message cut by missing bytes ({} of {declared} bytes seen)",
                    super::names::handshake_type_name(msg_type),
                    body.len()
                ));
            }
        }
    }
}

/// TLS 1.3 with keys: open the record and hand its content to the same layers as plaintext.
/// Without keys yet, and waiting for them, the record is held.
fn decrypt_record(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    keys: Keys<'_>,
    held: &mut Held,
    d: usize,
    header: &[u8; 5],
    payload: &[u8],
) {
    let Some(keylog) = keys.log else { return };
    let side = side_name(facts, d);
    if let Protection::Unset = dir.protection {
        let client = d == facts.client_dir.unwrap_or(0);
        dir.protection = match start_protection(facts, keylog, client) {
            Ok(k) => Protection::Handshake(k),
            Err(_) if keys.wait => Protection::Waiting,
            Err(why) => {
                facts.note(format!("not decrypted ({side}): {why}"));
                Protection::Stopped
            }
        };
    }
    // Behind held records (of either direction) a record waits its turn, even when its own
    // keys are known: the order of what both sides said is kept.
    if matches!(dir.protection, Protection::Waiting) || !held.is_empty() {
        if !held.push(d, header, payload) {
            facts.note(format!(
                "not decrypted ({side}): its secrets did not arrive before {} bytes of records were held",
                held.bytes()
            ));
            dir.protection = Protection::Stopped;
        }
        return;
    }
    open_record(facts, dir, keylog, d, header, payload);
}

fn side_name(facts: &TlsFacts, d: usize) -> &'static str {
    if d == facts.client_dir.unwrap_or(0) {
        "client"
    } else {
        "server"
    }
}

fn open_record(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    keylog: &KeyLog,
    d: usize,
    header: &[u8; 5],
    payload: &[u8],
) {
    let client = facts.client_dir.unwrap_or(0);
    let side = side_name(facts, d);
    let keys = match &mut dir.protection {
        Protection::Handshake(k) | Protection::Application(k) => k,
        _ => return,
    };
    match keys.open(header, payload) {
        Ok((inner, plain)) => {
            facts.decrypted[d] = true;
            let was_finished = facts.finished[d];
            match inner {
                record::CT_HANDSHAKE => {
                    if d != client && facts.finished[client] {
                        facts.server_accepted = true; // NewSessionTicket after the client's flight
                    }
                    dir.joiner
                        .on_record(&plain, &mut |hev| on_handshake(facts, d, hev));
                }
                record::CT_ALERT if plain.len() == 2 && facts.alerts.len() < MAX_ALERTS => {
                    facts.alerts.push(AlertFact {
                        dir: d,
                        level: Some(plain[0]),
                        description: Some(plain[1]),
                        encrypted: true,
                    });
                }
                record::CT_APPLICATION_DATA => {
                    facts.app_data[d] = true;
                    if d != client {
                        if facts.finished[client] {
                            facts.server_accepted = true;
                        }
                        read_status(facts, dir, &plain);
                    }
                }
                _ => {}
            }
            // After its Finished a side switches to its application traffic keys.
            if !was_finished && facts.finished[d] {
                dir.protection = application_keys(facts, keylog, d == client);
            }
        }
        Err(e) => {
            let stage = if matches!(dir.protection, Protection::Handshake(_)) {
                "handshake"
            } else {
                "application"
            };
            facts.note(format!("decryption of {side} {stage} records stopped: {e}"));
            dir.protection = Protection::Stopped;
        }
    }
}

/// Server plaintext to the status reader; only the status comes out.
fn read_status(facts: &mut TlsFacts, dir: &mut DirState, plain: &[u8]) {
    if !dir.http.pending() {
        return;
    }
    dir.app_records_read += 1;
    dir.http.feed(plain);
    if let Some(s) = dir.http.result() {
        facts.http_status = Some(s);
    }
}

fn application_keys(facts: &mut TlsFacts, keylog: &KeyLog, client: bool) -> Protection {
    let random = facts
        .client_hello
        .as_ref()
        .map(|c| c.random)
        .unwrap_or_default();
    let secret = keylog.get(&random).and_then(|s| {
        if client {
            s.client_traffic_0
        } else {
            s.server_traffic_0
        }
    });
    let suite = facts
        .server_hello
        .as_ref()
        .and_then(|sh| Suite::from_id(sh.cipher_suite).ok());
    match (secret, suite) {
        (Some(secret), Some(suite)) => {
            Protection::Application(RecordKeys::from_secret(suite, &secret))
        }
        _ => {
            let (side, label) = if client {
                ("client", "CLIENT_TRAFFIC_SECRET_0")
            } else {
                ("server", "SERVER_TRAFFIC_SECRET_0")
            };
            facts.note(format!(
                "{side} records after its Finished not decrypted: no {label} in the key log"
            ));
            Protection::Stopped
        }
    }
}

/// TLS ≤ 1.2 application data: the server's first records are opened for the HTTP status
/// (when the master secret is known); the rest only advance the sequence number.
fn tls12_app_data(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    d: usize,
    version: u16,
    payload: &[u8],
) {
    let Some(keys) = dir.tls12.as_mut() else {
        return;
    };
    let server = facts.client_dir.is_some_and(|c| c != d);
    if !(server && dir.http.pending() && dir.app_records_read < STATUS_RECORDS) {
        keys.skip();
        return;
    }
    match keys.open(record::CT_APPLICATION_DATA, version, payload) {
        Ok(plain) => read_status(facts, dir, &plain),
        Err(e) => {
            facts.note(format!("decryption of server TLS 1.2 records stopped: {e}"));
            dir.tls12 = None;
        }
    }
}

fn start_protection(facts: &TlsFacts, keylog: &KeyLog, client: bool) -> Result<RecordKeys, String> {
    let ch = facts
        .client_hello
        .as_ref()
        .ok_or("no ClientHello in the capture to match a key log entry by")?;
    let sh = facts
        .server_hello
        .as_ref()
        .ok_or("no ServerHello in the capture")?;
    let suite = Suite::from_id(sh.cipher_suite).map_err(|e| e.to_string())?;
    let secrets = keylog.get(&ch.random).ok_or_else(|| {
        format!(
            "no key for this client random ({}) in the key log",
            crate::x509::hex(&ch.random)
        )
    })?;
    let secret = if client {
        &secrets.client_handshake
    } else {
        &secrets.server_handshake
    };
    let secret = secret.as_ref().ok_or_else(|| {
        format!(
            "the key log has no {}_HANDSHAKE_TRAFFIC_SECRET for this client random",
            if client { "CLIENT" } else { "SERVER" }
        )
    })?;
    Ok(RecordKeys::from_secret(suite, secret))
}

/// TLS ≤ 1.2: after this side's ChangeCipherSpec, derive its write keys from the master
/// secret, if the key log has one for this client random.
fn start_tls12(facts: &mut TlsFacts, dir: &mut DirState, keylog: Option<&KeyLog>, d: usize) {
    let (Some(keylog), Some(ch), Some(sh)) = (
        keylog,
        facts.client_hello.as_ref(),
        facts.server_hello.as_ref(),
    ) else {
        return;
    };
    let Some(master) = keylog.get(&ch.random).and_then(|s| s.master) else {
        return;
    };
    match tls12_keys(sh.cipher_suite, &master, &ch.random, &sh.random) {
        Ok((client, server)) => {
            dir.tls12 = Some(if Some(d) == facts.client_dir {
                client
            } else {
                server
            });
            facts.tls12_decrypting = true;
        }
        Err(e) => facts.note(format!("TLS 1.2 records not decrypted: {e}")),
    }
}

/// TLS ≤ 1.2: open an encrypted handshake (Finished) or alert record with this side's keys.
/// Returns whether it was read.
fn tls12_record(
    facts: &mut TlsFacts,
    dir: &mut DirState,
    d: usize,
    content_type: u8,
    version: u16,
    payload: &[u8],
) -> bool {
    let Some(keys) = dir.tls12.as_mut() else {
        return false;
    };
    match keys.open(content_type, version, payload) {
        Ok(plain) => {
            facts.decrypted[d] = true;
            if content_type == record::CT_ALERT
                && plain.len() == 2
                && facts.alerts.len() < MAX_ALERTS
            {
                facts.alerts.push(AlertFact {
                    dir: d,
                    level: Some(plain[0]),
                    description: Some(plain[1]),
                    encrypted: true,
                });
            }
            true
        }
        Err(e) => {
            let side = if Some(d) == facts.client_dir {
                "client"
            } else {
                "server"
            };
            facts.note(format!("decryption of {side} TLS 1.2 records stopped: {e}"));
            dir.tls12 = None;
            false
        }
    }
}
