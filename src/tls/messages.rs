//! Handshake message bodies → borrowed views.
//!
//! tls-parser handles ClientHello, ServerHello and the TLS 1.2 Certificate and
//! CertificateRequest. It reads TLS 1.3 Certificate and CertificateRequest with the 1.2
//! layout and returns Ok with garbage, and it rejects EncryptedExtensions, so those three
//! TLS 1.3 layouts (RFC 8446 §4.3.1, §4.3.2, §4.4.2) are parsed here with a small cursor.

use tls_parser::{TlsExtension, TlsMessageHandshake};

pub const HT_CLIENT_HELLO: u8 = 1;
pub const HT_SERVER_HELLO: u8 = 2;
pub const HT_NEW_SESSION_TICKET: u8 = 4;
pub const HT_ENCRYPTED_EXTENSIONS: u8 = 8;
pub const HT_CERTIFICATE: u8 = 11;
pub const HT_SERVER_KEY_EXCHANGE: u8 = 12;
pub const HT_CERTIFICATE_REQUEST: u8 = 13;
pub const HT_SERVER_HELLO_DONE: u8 = 14;
pub const HT_CERTIFICATE_VERIFY: u8 = 15;
pub const HT_CLIENT_KEY_EXCHANGE: u8 = 16;
pub const HT_FINISHED: u8 = 20;

/// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub random: [u8; 32],
    pub legacy_version: u16,
    pub supported_versions: Vec<u16>,
    pub cipher_suites: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Option<Vec<String>>,
    pub signature_algorithms: Vec<u16>,
    pub session_id: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub legacy_version: u16,
    /// From the supported_versions extension (TLS 1.3), if present.
    pub selected_version: Option<u16>,
    pub cipher_suite: u16,
    pub alpn: Option<String>,
    pub is_hello_retry_request: bool,
    /// TLS 1.3: the server accepted a pre-shared key (a resumption: no certificates follow).
    pub pre_shared_key: bool,
    /// TLS ≤ 1.2: the session id, to tell a resumption (same id as the client offered).
    pub session_id: Vec<u8>,
    /// TLS 1.3 key_share: the group of the server's share, or, in a HelloRetryRequest, the
    /// group the server asks the client to use.
    pub group: Option<u16>,
}

impl ServerHello {
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// A Certificate message: the DER of each entry, in order, borrowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateList<'a> {
    pub certificates: Vec<&'a [u8]>,
    /// True when the body ended before the declared list did (a partial message): the
    /// certificates listed are the whole ones.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateRequest<'a> {
    pub certificate_types: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    /// DER-encoded DistinguishedNames.
    pub ca_names: Vec<&'a [u8]>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed {message}: {detail}")]
pub struct MessageError {
    pub message: &'static str,
    pub detail: String,
}

/// A nom error without the input slice it carries (which can be a whole message).
fn nom_error(e: &tls_parser::nom::Err<tls_parser::nom::error::Error<&[u8]>>) -> String {
    match e {
        tls_parser::nom::Err::Incomplete(_) => "the message ends before its fields do".to_string(),
        tls_parser::nom::Err::Error(e) | tls_parser::nom::Err::Failure(e) => format!(
            "{}, {} bytes before the message's end",
            crate::error::plain_parse_error(&format!("{:?}", e.code)),
            e.input.len()
        ),
    }
}

fn err(message: &'static str, detail: impl Into<String>) -> MessageError {
    MessageError {
        message,
        detail: detail.into(),
    }
}

pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, MessageError> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body)
        .map_err(|e| err("ClientHello", nom_error(&e)))?;
    let mut random = [0u8; 32];
    if ch.random.len() == 32 {
        random.copy_from_slice(ch.random);
    }
    let mut out = ClientHello {
        random,
        legacy_version: ch.version.0,
        supported_versions: Vec::new(),
        cipher_suites: ch.ciphers.iter().map(|c| c.0).collect(),
        sni: None,
        alpn: None,
        signature_algorithms: Vec::new(),
        session_id: ch.session_id.map(<[u8]>::to_vec).unwrap_or_default(),
    };
    if let Some(ext) = ch.ext {
        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ext)
            .map_err(|e| err("ClientHello extensions", nom_error(&e)))?;
        for e in exts {
            match e {
                TlsExtension::SNI(names) => {
                    out.sni = names
                        .iter()
                        .find(|(t, _)| t.0 == 0)
                        .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                }
                TlsExtension::ALPN(protos) => {
                    out.alpn = Some(
                        protos
                            .iter()
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect(),
                    );
                }
                TlsExtension::SupportedVersions(v) => {
                    out.supported_versions = v
                        .iter()
                        .map(|v| v.0)
                        .filter(|v| v & 0x0f0f != 0x0a0a)
                        .collect();
                }
                TlsExtension::SignatureAlgorithms(v) => out.signature_algorithms = v,
                _ => {}
            }
        }
    }
    Ok(out)
}

pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, MessageError> {
    let (_, sh) = tls_parser::parse_tls_handshake_server_hello(body)
        .map_err(|e| err("ServerHello", nom_error(&e)))?;
    let mut random = [0u8; 32];
    if sh.random.len() == 32 {
        random.copy_from_slice(sh.random);
    }
    let mut out = ServerHello {
        random,
        legacy_version: sh.version.0,
        selected_version: None,
        cipher_suite: sh.cipher.0,
        alpn: None,
        is_hello_retry_request: random == HRR_RANDOM,
        pre_shared_key: false,
        session_id: sh.session_id.map(<[u8]>::to_vec).unwrap_or_default(),
        group: None,
    };
    if let Some(ext) = sh.ext {
        // Walk the extensions by hand: in a ServerHello supported_versions is a single u16,
        // not the ClientHello's list.
        let mut r = Reader::new(ext);
        while !r.is_empty() {
            let (Some(t), Some(data)) = (r.u16(), r.vec16()) else {
                return Err(err("ServerHello extensions", "truncated extension"));
            };
            match t {
                43 if data.len() == 2 => {
                    out.selected_version = Some(u16::from_be_bytes([data[0], data[1]]))
                }
                16 => out.alpn = parse_alpn_single(data),
                41 => out.pre_shared_key = true,
                51 if data.len() >= 2 => out.group = Some(u16::from_be_bytes([data[0], data[1]])),
                _ => {}
            }
        }
    }
    Ok(out)
}

fn parse_alpn_single(data: &[u8]) -> Option<String> {
    let mut r = Reader::new(data);
    let mut list = Reader::new(r.vec16()?);
    let p = list.vec8()?;
    Some(String::from_utf8_lossy(p).into_owned())
}

/// EncryptedExtensions (TLS 1.3): only the selected ALPN protocol matters here.
pub fn parse_encrypted_extensions(body: &[u8]) -> Result<Option<String>, MessageError> {
    let mut r = Reader::new(body);
    let exts = r
        .vec16()
        .ok_or_else(|| err("EncryptedExtensions", "truncated"))?;
    let mut r = Reader::new(exts);
    let mut alpn = None;
    while !r.is_empty() {
        let (Some(t), Some(data)) = (r.u16(), r.vec16()) else {
            return Err(err("EncryptedExtensions", "truncated extension"));
        };
        if t == 16 {
            alpn = parse_alpn_single(data);
        }
    }
    Ok(alpn)
}

/// Certificate message, TLS ≤ 1.2 (`tls13 == false`) or TLS 1.3 layout. A body cut short
/// (partial message after a capture gap) yields the certificates that are whole, with
/// `truncated` set, instead of an error.
pub fn parse_certificate(body: &[u8], tls13: bool) -> Result<CertificateList<'_>, MessageError> {
    if !tls13 {
        // Use tls-parser for the whole-message case; the prefix walker below is the same
        // layout and handles partial bodies.
        if let Ok((_, TlsMessageHandshake::Certificate(c))) =
            tls_parser::parse_tls_handshake_msg_certificate(body)
        {
            let declared = body.len() >= 3 && u24(&body[..3]) + 3 == body.len();
            if declared {
                return Ok(CertificateList {
                    certificates: c.cert_chain.iter().map(|c| c.data).collect(),
                    truncated: false,
                });
            }
        }
    }
    let mut r = Reader::new(body);
    if tls13 {
        r.vec8()
            .ok_or_else(|| err("Certificate", "truncated request context"))?;
    }
    let declared = r
        .u24()
        .ok_or_else(|| err("Certificate", "truncated list length"))?;
    let mut list = CertificateList::default();
    let avail = r.remaining();
    let mut entries = Reader::new(&avail[..declared.min(avail.len())]);
    let short = declared > avail.len();
    while !entries.is_empty() {
        let Some(der) = entries.vec24() else {
            list.truncated = true;
            break;
        };
        list.certificates.push(der);
        if tls13 && entries.vec16().is_none() {
            list.truncated = true;
            break;
        }
    }
    if short {
        list.truncated = true;
    }
    if !short && declared < avail.len() {
        return Err(err(
            "Certificate",
            format!("{} bytes after the list", avail.len() - declared),
        ));
    }
    Ok(list)
}

/// CertificateRequest, TLS 1.2 (RFC 5246 §7.4.4) or TLS 1.3 (RFC 8446 §4.3.2) layout.
pub fn parse_certificate_request(
    body: &[u8],
    tls13: bool,
) -> Result<CertificateRequest<'_>, MessageError> {
    if !tls13 {
        let (_, cr) = tls_parser::parse_tls_handshake_certificaterequest(body)
            .map_err(|e| err("CertificateRequest", nom_error(&e)))?;
        return Ok(CertificateRequest {
            certificate_types: cr.cert_types,
            signature_algorithms: cr.sig_hash_algs.unwrap_or_default(),
            ca_names: cr.unparsed_ca,
        });
    }
    let mut r = Reader::new(body);
    r.vec8()
        .ok_or_else(|| err("CertificateRequest", "truncated request context"))?;
    let exts = r
        .vec16()
        .ok_or_else(|| err("CertificateRequest", "truncated extensions"))?;
    let mut out = CertificateRequest::default();
    let mut r = Reader::new(exts);
    while !r.is_empty() {
        let (Some(t), Some(data)) = (r.u16(), r.vec16()) else {
            return Err(err("CertificateRequest", "truncated extension"));
        };
        let mut d = Reader::new(data);
        match t {
            13 => {
                let mut algs = Reader::new(
                    d.vec16()
                        .ok_or_else(|| err("CertificateRequest", "signature_algorithms"))?,
                );
                while let Some(a) = algs.u16() {
                    out.signature_algorithms.push(a);
                }
            }
            47 => {
                let mut names = Reader::new(
                    d.vec16()
                        .ok_or_else(|| err("CertificateRequest", "certificate_authorities"))?,
                );
                while !names.is_empty() {
                    out.ca_names.push(names.vec16().ok_or_else(|| {
                        err("CertificateRequest", "certificate_authorities entry")
                    })?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// A bounds-checked cursor: every read returns None instead of panicking on short input.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u24(&mut self) -> Option<usize> {
        self.take(3).map(u24)
    }
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_msg(certs: &[&[u8]], tls13: bool) -> Vec<u8> {
        let mut entries = vec![];
        for c in certs {
            entries.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            entries.extend_from_slice(c);
            if tls13 {
                entries.extend_from_slice(&[0, 0]);
            }
        }
        let mut body = vec![];
        if tls13 {
            body.push(0);
        }
        body.extend_from_slice(&(entries.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&entries);
        body
    }

    #[test]
    fn certificate_12_and_13_layouts() {
        let a: &[u8] = &[0x30, 1, 2, 3];
        let b: &[u8] = &[0x30, 9];
        for tls13 in [false, true] {
            let body = cert_msg(&[a, b], tls13);
            let l = parse_certificate(&body, tls13).unwrap();
            assert_eq!(l.certificates, vec![a, b]);
            assert!(!l.truncated);
        }
        // An empty Certificate (client had nothing to send).
        let l = parse_certificate(&[0, 0, 0], false).unwrap();
        assert!(l.certificates.is_empty());
        let l = parse_certificate(&[0, 0, 0, 0], true).unwrap();
        assert!(l.certificates.is_empty());
    }

    #[test]
    fn tls13_certificate_is_not_read_as_tls12() {
        // What tls-parser gets wrong: with the 1.3 layout, a 1.2 reading is garbage.
        let a: &[u8] = &[0x30, 1, 2, 3];
        let body = cert_msg(&[a], true);
        assert_eq!(
            parse_certificate(&body, true).unwrap().certificates,
            vec![a]
        );
        assert_ne!(
            parse_certificate(&body, false).ok().map(|l| l.certificates),
            Some(vec![a])
        );
    }

    #[test]
    fn every_truncation_of_a_certificate_message_keeps_whole_entries_only() {
        let a: &[u8] = &[0x30, 1, 2, 3];
        let b: &[u8] = &[0x30, 9, 9, 9, 9];
        for tls13 in [false, true] {
            let body = cert_msg(&[a, b], tls13);
            for cut in 0..body.len() {
                match parse_certificate(&body[..cut], tls13) {
                    Ok(l) => {
                        assert!(l.truncated, "cut {cut}");
                        // Only whole DER entries, in order (a TLS 1.3 entry whose
                        // extensions were cut still has its whole certificate).
                        assert!(l.certificates.len() <= 2);
                        for (got, want) in l.certificates.iter().zip([a, b]) {
                            assert_eq!(*got, want, "cut {cut}");
                        }
                    }
                    Err(_) => assert!(cut < 4 + usize::from(tls13)),
                }
            }
        }
    }

    #[test]
    fn certificate_request_13_layout() {
        // context "", extensions: signature_algorithms [0x0403, 0x0804],
        // certificate_authorities [DN 0x30 0x00]
        let body = [
            0, 0, 20, //
            0, 13, 0, 6, 0, 4, 4, 3, 8, 4, //
            0, 47, 0, 6, 0, 4, 0, 2, 0x30, 0,
        ];
        let cr = parse_certificate_request(&body, true).unwrap();
        assert_eq!(cr.signature_algorithms, vec![0x0403, 0x0804]);
        assert_eq!(cr.ca_names, vec![&[0x30u8, 0][..]]);
        for cut in 0..body.len() {
            let _ = parse_certificate_request(&body[..cut], true);
            let _ = parse_certificate_request(&body[..cut], false);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for cut in 0..junk.len() {
            let b = &junk[..cut];
            let _ = parse_client_hello(b);
            let _ = parse_server_hello(b);
            let _ = parse_encrypted_extensions(b);
            let _ = parse_certificate(b, false);
            let _ = parse_certificate(b, true);
            let _ = parse_certificate_request(b, false);
            let _ = parse_certificate_request(b, true);
        }
    }
}
