//! Which local certificates are consistent with an encrypted Certificate message's length.
//! An inference, never a match: the report says how many candidates fit.

use serde::Serialize;

use crate::local::{location, Inventory, LocalCert};
use crate::model::Side;
use crate::tls::infer::certificate_message_len;

#[derive(Debug, Clone, Serialize)]
pub struct SizeCandidate {
    pub path: String,
    pub entry: Option<String>,
    pub subject: Option<String>,
    pub public_key: Option<String>,
    /// `leaf only`, or `leaf + <issuer>` when the issuing CA is sent along (OpenSSL does
    /// when the CA is in its CAfile; Go sends the leaf only).
    pub chain: String,
    pub length: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeCheck {
    pub side: Side,
    pub message_length: usize,
    pub consistent: Vec<SizeCandidate>,
    pub inconsistent: Vec<SizeCandidate>,
    pub summary: String,
}

fn usable(c: &LocalCert, eku: &str) -> bool {
    let e = &c.summary.extended_key_usage;
    !c.keys.is_ca && (e.is_empty() || e.iter().any(|x| x == eku || x == "anyExtendedKeyUsage"))
}

/// Compare `message_length` with every local leaf that could serve as `side`'s certificate.
pub fn size_check(inv: &Inventory, side: Side, message_length: usize) -> SizeCheck {
    let eku = match side {
        Side::Client => "clientAuth",
        Side::Server => "serverAuth",
    };
    let mut seen: Vec<[u8; 32]> = Vec::new();
    let mut consistent = Vec::new();
    let mut inconsistent = Vec::new();
    for leaf in inv.certs.iter().filter(|c| usable(c, eku)) {
        if seen.contains(&leaf.keys.sha256) {
            continue;
        }
        seen.push(leaf.keys.sha256);
        let issuer = inv.certs.iter().find(|ca| {
            ca.keys.is_ca
                && ca.keys.subject == leaf.keys.issuer
                && (leaf.keys.authority_key_id.is_none()
                    || ca.keys.subject_key_id == leaf.keys.authority_key_id)
        });
        let mut variants = vec![(
            "leaf only".to_string(),
            certificate_message_len(&[leaf.der.len()]),
        )];
        if let Some(ca) = issuer {
            variants.push((
                format!("leaf + {}", ca.keys.subject),
                certificate_message_len(&[leaf.der.len(), ca.der.len()]),
            ));
        }
        let fits: Vec<&(String, usize)> = variants
            .iter()
            .filter(|(_, l)| *l == message_length)
            .collect();
        let candidate = |chain: &str, length: usize| SizeCandidate {
            path: leaf.path.clone(),
            entry: leaf.entry.clone(),
            subject: leaf.summary.subject.clone(),
            public_key: leaf.summary.public_key.clone(),
            chain: chain.to_string(),
            length,
        };
        match fits.first() {
            Some((chain, length)) => consistent.push(candidate(chain, *length)),
            None => {
                let lengths: Vec<String> = variants.iter().map(|(_, l)| l.to_string()).collect();
                let mut c = candidate(
                    &variants
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(" / "),
                    variants[0].1,
                );
                c.chain = format!("{} ({} bytes)", c.chain, lengths.join(" / "));
                inconsistent.push(c);
            }
        }
    }
    let who = match side {
        Side::Client => "client",
        Side::Server => "server",
    };
    let describe = |c: &SizeCandidate| {
        format!(
            "{} ({}, {})",
            location(&c.path, &c.entry),
            c.public_key.as_deref().unwrap_or("?"),
            c.chain
        )
    };
    let fit: Vec<String> = consistent.iter().map(describe).collect();
    let not: Vec<String> = inconsistent.iter().take(6).map(describe).collect();
    let summary = format!(
        "inferred: the {who} Certificate message is {message_length} bytes: {} of {} local candidate(s) fit{}{}",
        consistent.len(),
        consistent.len() + inconsistent.len(),
        if fit.is_empty() { String::new() } else { format!(": consistent with {}", fit.join("; ")) },
        if not.is_empty() {
            format!("; not with {}{}", not.join("; "), if inconsistent.len() > not.len() { ", ..." } else { "" })
        } else {
            String::new()
        }
    );
    SizeCheck {
        side,
        message_length,
        consistent,
        inconsistent,
        summary,
    }
}
