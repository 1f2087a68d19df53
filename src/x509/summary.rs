//! DER → [`CertSummary`], with the fields formatted as openssl prints them.

use std::sync::Arc;

use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use super::dn::rfc2253;

/// An owned summary of one certificate. Field names and forms are the public JSON schema
/// (docs/report-schema.md).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertSummary {
    pub sha256: String,
    pub serial: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub public_key: Option<String>,
    pub san: Vec<String>,
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    pub is_ca: Option<bool>,
    pub signature_algorithm: Option<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    pub der_length: usize,
    /// Set when the DER could not be parsed; every other field but `sha256` and
    /// `der_length` is then empty.
    pub error: Option<String>,
    /// Unix seconds of the validity bounds, for rules that compare with capture time.
    #[serde(skip)]
    pub validity_unix: Option<(i64, i64)>,
}

pub fn sha256_hex(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub fn summarize(der: &[u8]) -> CertSummary {
    let mut s = CertSummary {
        sha256: sha256_hex(der),
        serial: None,
        subject: None,
        issuer: None,
        not_before: None,
        not_after: None,
        public_key: None,
        san: Vec::new(),
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        is_ca: None,
        signature_algorithm: None,
        subject_key_id: None,
        authority_key_id: None,
        der_length: der.len(),
        error: None,
        validity_unix: None,
    };
    let cert = match X509Certificate::from_der(der) {
        Ok((rest, c)) => {
            if !rest.is_empty() {
                s.error = Some(format!(
                    "{} trailing bytes after the certificate",
                    rest.len()
                ));
            }
            c
        }
        Err(e) => {
            s.error = Some(format!(
                "not a valid X.509 certificate: {}; it is reported by its SHA-256 and length only",
                crate::error::plain_parse_error(&format!("{e:?}"))
            ));
            return s;
        }
    };
    s.serial = Some(openssl_serial(cert.raw_serial()));
    s.subject = Some(rfc2253(cert.subject()));
    s.issuer = Some(rfc2253(cert.issuer()));
    let v = cert.validity();
    s.not_before = Some(rfc3339(v.not_before.timestamp()));
    s.not_after = Some(rfc3339(v.not_after.timestamp()));
    s.validity_unix = Some((v.not_before.timestamp(), v.not_after.timestamp()));
    s.public_key = Some(public_key_desc(&cert));
    s.signature_algorithm = Some(signature_algorithm_name(
        &cert.signature_algorithm.algorithm.to_id_string(),
    ));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        s.san = san.value.general_names.iter().map(general_name).collect();
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        let k = ku.value;
        let names = [
            (k.digital_signature(), "digitalSignature"),
            (k.non_repudiation(), "nonRepudiation"),
            (k.key_encipherment(), "keyEncipherment"),
            (k.data_encipherment(), "dataEncipherment"),
            (k.key_agreement(), "keyAgreement"),
            (k.key_cert_sign(), "keyCertSign"),
            (k.crl_sign(), "cRLSign"),
            (k.encipher_only(), "encipherOnly"),
            (k.decipher_only(), "decipherOnly"),
        ];
        s.key_usage = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .collect();
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        let names = [
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
            (e.time_stamping, "timeStamping"),
            (e.ocsp_signing, "OCSPSigning"),
            (e.any, "anyExtendedKeyUsage"),
        ];
        s.extended_key_usage = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .collect();
        s.extended_key_usage
            .extend(e.other.iter().map(|o| o.to_id_string()));
    }
    s.is_ca = Some(cert.is_ca());
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                s.subject_key_id = Some(hex(id.0));
            }
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                s.authority_key_id = aki.key_identifier.as_ref().map(|k| hex(k.0));
            }
            _ => {}
        }
    }
    s
}

/// `openssl x509 -serial` prints the INTEGER's magnitude, two hex digits per byte, without
/// the sign-padding zero; negative serials (invalid but seen) get a leading '-'.
fn openssl_serial(raw: &[u8]) -> String {
    if raw.is_empty() {
        return "00".into();
    }
    if raw[0] & 0x80 != 0 {
        // Two's complement magnitude.
        let mut mag: Vec<u8> = raw.iter().map(|b| !b).collect();
        for b in mag.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        let start = mag.iter().position(|&b| b != 0).unwrap_or(mag.len() - 1);
        return format!("-{}", hex(&mag[start..]));
    }
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len() - 1);
    hex(&raw[start..])
}

pub fn rfc3339(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{unix}"),
    }
}

fn public_key_desc(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.3.101.112" => return "Ed25519".into(),
        "1.3.101.113" => return "Ed448".into(),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let m = rsa.modulus;
            let start = m.iter().position(|&b| b != 0).unwrap_or(m.len());
            let m = &m[start..];
            let bits = if m.is_empty() {
                0
            } else {
                m.len() * 8 - m[0].leading_zeros() as usize
            };
            format!("RSA {bits}")
        }
        // Explicit curve parameters instead of a named curve: the CurveBall shape
        // (CVE-2020-0601); Go refuses such keys ("x509: unsupported elliptic curve").
        _ if spki.algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1"
            && spki
                .algorithm
                .parameters
                .as_ref()
                .is_some_and(|p| p.tag() != x509_parser::der_parser::asn1_rs::Tag::Oid) =>
        {
            EXPLICIT_CURVE.into()
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".into(),
                Some("1.3.132.0.34") => "ECDSA P-384".into(),
                Some("1.3.132.0.35") => "ECDSA P-521".into(),
                Some(other) => format!("ECDSA {other}"),
                None => "ECDSA".into(),
            }
        }
        Ok(PublicKey::DSA(_)) => "DSA".into(),
        _ => alg,
    }
}

/// The key description of an EC key with explicit curve parameters.
pub const EXPLICIT_CURVE: &str = "ECDSA (explicit curve parameters)";

fn signature_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        other => other,
    }
    .to_string()
}

fn general_name(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::DNSName(n) => format!("DNS:{n}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                format!("IP:{}", std::net::Ipv6Addr::from(a))
            }
            _ => format!("IP:#{}", hex(b)),
        },
        GeneralName::RFC822Name(n) => format!("email:{n}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::DirectoryName(n) => format!("DirName:{}", rfc2253(n)),
        GeneralName::RegisteredID(o) => format!("RID:{}", o.to_id_string()),
        GeneralName::OtherName(o, _) => format!("othername:{}", o.to_id_string()),
        other => format!("{other:?}"),
    }
}

/// Summaries (and correlation keys) per distinct DER, so each certificate is parsed once
/// however many handshakes present it. Looked up by a fast hash of the bytes and confirmed
/// by comparing them, so the per-handshake cost is one pass over the DER, not a SHA-256
/// and a parse. Bounded: when full it is cleared (a capture with more than this many
/// distinct certificates is not the common case worth an LRU).
#[derive(Default)]
pub struct CertCache {
    map: rustc_hash::FxHashMap<u64, Vec<CacheEntry>>,
    len: usize,
}

struct CacheEntry {
    /// Shared with the reports that present it (`PresentedCert::der`).
    der: Arc<[u8]>,
    summary: Arc<CertSummary>,
    keys: Option<Option<super::CertKeys>>,
}

const CACHE_CAP: usize = 4096;
/// Largest DER kept in the cache (bounds it to 64 MiB).
const MAX_CACHED_DER: usize = 16 * 1024;

impl CertCache {
    fn entry(&mut self, der: &[u8]) -> &mut CacheEntry {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        der.hash(&mut h);
        let key = h.finish();
        if self.len >= CACHE_CAP
            && !self
                .map
                .get(&key)
                .is_some_and(|v| v.iter().any(|e| &*e.der == der))
        {
            self.map.clear();
            self.len = 0;
        }
        let bucket = self.map.entry(key).or_default();
        let i = match bucket.iter().position(|e| &*e.der == der) {
            Some(i) => i,
            None => {
                bucket.push(CacheEntry {
                    der: der.into(),
                    summary: Arc::new(summarize(der)),
                    keys: None,
                });
                self.len += 1;
                bucket.len() - 1
            }
        };
        &mut bucket[i]
    }

    pub fn get(&mut self, der: &[u8]) -> Arc<CertSummary> {
        // Certificates are a few KiB; an outsize blob is summarized but not kept.
        if der.len() > MAX_CACHED_DER {
            return Arc::new(summarize(der));
        }
        self.entry(der).summary.clone()
    }

    /// The summary and the DER itself, both shared: a certificate repeated in every
    /// handshake is held once (an outsize blob is copied, not kept).
    pub fn get_with_der(&mut self, der: &[u8]) -> (Arc<CertSummary>, Arc<[u8]>) {
        if der.len() > MAX_CACHED_DER {
            return (Arc::new(summarize(der)), Arc::from(der));
        }
        let e = self.entry(der);
        (e.summary.clone(), e.der.clone())
    }

    /// The correlation keys of a DER (None when it is not a certificate), cached.
    pub fn keys(&mut self, der: &[u8]) -> Option<super::CertKeys> {
        if der.len() > MAX_CACHED_DER {
            return super::cert_keys(der);
        }
        let e = self.entry(der);
        e.keys.get_or_insert_with(|| super::cert_keys(der)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_like_openssl() {
        assert_eq!(openssl_serial(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(openssl_serial(&[0x0a]), "0a");
        assert_eq!(openssl_serial(&[0x00]), "00");
        assert_eq!(openssl_serial(&[0xff]), "-01");
    }

    #[test]
    fn garbage_der_is_reported_not_dropped() {
        for cut in 0..64usize {
            let junk: Vec<u8> = (0..cut).map(|i| (i * 7 + 0x30) as u8).collect();
            let s = summarize(&junk);
            assert_eq!(s.sha256.len(), 64);
            assert!(s.error.is_some());
        }
    }
}
