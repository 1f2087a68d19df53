//! Chain verification by signature, against the CAs a peer is configured to trust.
//!
//! Names are not trust: a CA with the same subject but another key (what re-running
//! `kubeadm init` produces) must fail here, as it fails in Go's crypto/x509.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::local::LocalCert;
use crate::x509::sha256_hex;

pub enum Verdict<'a> {
    /// The chain verifies up to this trusted CA.
    Trusted(&'a LocalCert),
    /// It does not: the certificate where the walk stopped, and why.
    Unknown {
        stopped_at: String,
        issuer: String,
        evidence: Vec<String>,
    },
}

fn spki_sha256(c: &X509Certificate<'_>) -> String {
    sha256_hex(c.public_key().raw)
}

/// Walk from the leaf through the presented intermediates to a trusted CA, checking each
/// signature (x509-parser with ring: RSA PKCS#1/PSS, ECDSA P-256/P-384, Ed25519).
pub fn verify<'a>(chain: &[Vec<u8>], anchors: &[&'a LocalCert]) -> Option<Verdict<'a>> {
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let leaf = parsed.first()?;
    let anchor_ders: Vec<Vec<u8>> = anchors.iter().map(|a| a.der.clone()).collect();
    let anchor_certs: Vec<X509Certificate<'_>> = anchor_ders
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let mut cur = leaf;
    let mut used = vec![false; parsed.len()];
    used[0] = true;
    for _ in 0..8 {
        for (i, a) in anchor_certs.iter().enumerate() {
            if a.subject().as_raw() == cur.issuer().as_raw()
                && cur.verify_signature(Some(a.public_key())).is_ok()
            {
                return Some(Verdict::Trusted(anchors[i]));
            }
        }
        let next = parsed.iter().enumerate().find(|(i, p)| {
            !used[*i]
                && p.subject().as_raw() == cur.issuer().as_raw()
                && cur.verify_signature(Some(p.public_key())).is_ok()
        });
        match next {
            Some((i, p)) => {
                used[i] = true;
                cur = p;
            }
            None => break,
        }
    }
    let issuer = crate::x509::rfc2253(cur.issuer());
    let mut evidence = vec![format!(
        "{} is issued by {issuer}{}",
        crate::x509::rfc2253(cur.subject()),
        authority_key_id(cur)
            .map(|k| format!(" (authority key id {k})"))
            .unwrap_or_default()
    )];
    // The presented issuer, if the peer sent it, and its key.
    if let Some(p) = parsed
        .iter()
        .find(|p| p.subject().as_raw() == cur.issuer().as_raw())
    {
        evidence.push(format!(
            "the presented {issuer} has key sha256 {}",
            spki_sha256(p)
        ));
    }
    for (i, a) in anchor_certs.iter().enumerate() {
        let same_name = a.subject().as_raw() == cur.issuer().as_raw();
        evidence.push(format!(
            "trusted CA {} ({}) has key sha256 {}{}{}",
            crate::x509::rfc2253(a.subject()),
            anchors[i].location(),
            spki_sha256(a),
            anchors[i].summary.subject_key_id.as_ref().map(|k| format!(" (subject key id {k})")).unwrap_or_default(),
            if same_name { ": same name, but the signature does not verify with its key (a different CA with the same name)" } else { "" }
        ));
    }
    Some(Verdict::Unknown {
        stopped_at: crate::x509::rfc2253(cur.subject()),
        issuer,
        evidence,
    })
}

fn authority_key_id(c: &X509Certificate<'_>) -> Option<String> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| crate::x509::hex(k.0))
            }
            _ => None,
        })
}
