//! Does a private key belong to a certificate? Both public keys are compared: the one the
//! key implies (ring derives it from PKCS#8 and PKCS#1 RSA keys; SEC1 EC keys carry it)
//! and the certificate's. The key material itself never leaves this module: what comes
//! out is the public key, and callers print only its SHA-256.

use ring::signature::KeyPair;
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::parse_der;

/// What a key file gave.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyPublic {
    /// The public key, as a certificate's subjectPublicKey bits hold it (RSA: the
    /// RSAPublicKey DER; EC: the uncompressed point).
    Public(Vec<u8>),
    /// A key type or form not checked (Ed25519, encrypted keys); said, never judged.
    NotChecked(&'static str),
    /// No private key block in the file.
    NoKey,
}

/// The first private key in PEM `text`, by its public half.
pub fn public_of_pem(text: &str) -> KeyPublic {
    let Some((label, der)) = first_key_block(text) else {
        return KeyPublic::NoKey;
    };
    match label.as_str() {
        "RSA PRIVATE KEY" => ring::signature::RsaKeyPair::from_der(&der)
            .map(|k| KeyPublic::Public(k.public_key().as_ref().to_vec()))
            .unwrap_or(KeyPublic::NotChecked("RSA key not readable")),
        "EC PRIVATE KEY" => sec1_public(&der).map_or(
            KeyPublic::NotChecked("EC key without its public key"),
            KeyPublic::Public,
        ),
        "PRIVATE KEY" => pkcs8_public(&der),
        "ENCRYPTED PRIVATE KEY" => KeyPublic::NotChecked("encrypted key"),
        _ => KeyPublic::NotChecked("unknown key type"),
    }
}

/// A PUBLIC KEY PEM block (sa.pub): the subjectPublicKey bits of its SPKI.
pub fn public_key_pem(text: &str) -> Option<Vec<u8>> {
    let (label, der) = blocks(text).find(|(l, _)| l == "PUBLIC KEY" || l == "RSA PUBLIC KEY")?;
    if label == "RSA PUBLIC KEY" {
        return Some(der);
    }
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der).ok()?;
    Some(spki.subject_public_key.data.to_vec())
}

/// The subjectPublicKey bits of a certificate.
pub fn public_of_cert(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// SHA-256 of public key bits, for evidence (public, safe to print).
pub fn fingerprint(public: &[u8]) -> String {
    crate::x509::sha256_hex(public)
}

fn pkcs8_public(der: &[u8]) -> KeyPublic {
    if let Ok(k) = ring::signature::RsaKeyPair::from_pkcs8(der) {
        return KeyPublic::Public(k.public_key().as_ref().to_vec());
    }
    let rng = ring::rand::SystemRandom::new();
    for alg in [
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        if let Ok(k) = ring::signature::EcdsaKeyPair::from_pkcs8(alg, der, &rng) {
            return KeyPublic::Public(k.public_key().as_ref().to_vec());
        }
    }
    if let Ok(k) = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        return KeyPublic::Public(k.public_key().as_ref().to_vec());
    }
    KeyPublic::NotChecked("PKCS#8 key of a type not checked")
}

/// ECPrivateKey (RFC 5915): SEQUENCE { version, privateKey, [0] parameters, [1] publicKey }.
fn sec1_public(der: &[u8]) -> Option<Vec<u8>> {
    let (_, obj) = parse_der(der).ok()?;
    let items = obj.as_sequence().ok()?;
    for item in items {
        if item.header.raw_tag() == Some(&[0xa1]) {
            // [1] EXPLICIT BIT STRING
            if let BerObjectContent::Unknown(any) = &item.content {
                let (_, bits) = parse_der(any.data).ok()?;
                if let BerObjectContent::BitString(_, b) = bits.content {
                    return Some(b.data.to_vec());
                }
            }
        }
    }
    None
}

fn first_key_block(text: &str) -> Option<(String, Vec<u8>)> {
    blocks(text).find(|(label, _)| label.ends_with("PRIVATE KEY"))
}

/// (label, DER) of each PEM block.
fn blocks(text: &str) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let start = rest.find("-----BEGIN ")?;
        let after = &rest[start + 11..];
        let label_end = after.find("-----")?;
        let label = after[..label_end].to_string();
        let body_start = start + 11 + label_end + 5;
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[body_start..].find(&end_marker) else {
            rest = &rest[body_start..];
            continue;
        };
        let body: String = rest[body_start..body_start + end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        rest = &rest[body_start + end + end_marker.len()..];
        if let Ok(der) = data_encoding::BASE64.decode(body.as_bytes()) {
            return Some((label, der));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap()
    }

    #[test]
    fn keys_match_their_certificates_and_not_others() {
        let pki = "captures/node/etc/kubernetes/pki";
        let cert = |name: &str| {
            let text = read(&format!("{pki}/{name}"));
            let (_, der) = blocks(&text).next().unwrap();
            public_of_cert(&der).unwrap()
        };
        let key = |name: &str| public_of_pem(&read(&format!("{pki}/{name}")));
        assert_eq!(
            key("apiserver.key"),
            KeyPublic::Public(cert("apiserver.crt"))
        );
        assert_eq!(key("ca.key"), KeyPublic::Public(cert("ca.crt")));
        assert_ne!(key("ca.key"), KeyPublic::Public(cert("apiserver.crt")));
        // The service-account pair.
        let sa = public_key_pem(&read(&format!("{pki}/sa.pub"))).unwrap();
        assert_eq!(key("sa.key"), KeyPublic::Public(sa));
        assert_eq!(public_of_pem("no key here"), KeyPublic::NoKey);
    }

    #[test]
    fn kubelet_pem_with_an_ec_key_matches_its_certificate() {
        let text = read("captures/node/var/lib/kubelet/pki/kubelet-client-2026-11-27-09-30-00.pem");
        let (_, der) = blocks(&text).find(|(l, _)| l == "CERTIFICATE").unwrap();
        assert_eq!(
            public_of_pem(&text),
            KeyPublic::Public(public_of_cert(&der).unwrap())
        );
    }
}
