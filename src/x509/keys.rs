//! The identities of a certificate that correlation compares: its bytes, its issuer and
//! serial, its public key, its subject.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::dn::rfc2253;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKeys {
    pub sha256: [u8; 32],
    /// DER of the issuer name and the serial's content octets: equal pairs name the same
    /// certificate whatever its encoding.
    pub issuer_raw: Vec<u8>,
    pub serial_raw: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    pub spki_der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub authority_key_id: Option<Vec<u8>>,
    pub subject_key_id: Option<Vec<u8>>,
    pub is_ca: bool,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, b).as_ref());
    out
}

/// None when the DER is not a certificate.
pub fn cert_keys(der: &[u8]) -> Option<CertKeys> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut aki = None;
    let mut ski = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                ski = Some(id.0.to_vec())
            }
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => {}
        }
    }
    Some(CertKeys {
        sha256: sha256(der),
        issuer_raw: cert.issuer().as_raw().to_vec(),
        serial_raw: cert.raw_serial().to_vec(),
        spki_sha256: sha256(cert.public_key().raw),
        spki_der: cert.public_key().raw.to_vec(),
        subject: rfc2253(cert.subject()),
        issuer: rfc2253(cert.issuer()),
        authority_key_id: aki,
        subject_key_id: ski,
        is_ca: cert.is_ca(),
    })
}
