//! Presented certificates ↔ the node's files: which file each certificate came from (and by
//! which routes), and which of the component's other candidates were not presented.

mod role;
mod size;

use serde::Serialize;

pub use role::{client_role, server_role, Role};
pub use size::{size_check, SizeCandidate, SizeCheck};

use crate::local::{Inventory, LocalCert};
use crate::model::Side;
use crate::x509::CertKeys;

/// How strongly a local certificate matches a presented one, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// Identical DER (same SHA-256).
    Exact,
    /// Same issuer and serial, different bytes: re-encoded, or tampered with.
    SameSerial,
    /// Same public key, different certificate: re-issued for the same key.
    SameKey,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalMatch {
    pub path: String,
    /// Where in the file, when not the whole file (`#1`, `users[name].client-certificate-data`).
    pub entry: Option<String>,
    #[serde(rename = "match")]
    pub kind: MatchKind,
    pub via: Vec<String>,
}

/// A local certificate of the same identity or configured for the same role, which this
/// side did not present.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub side: Side,
    pub path: String,
    pub entry: Option<String>,
    pub serial: Option<String>,
    pub sha256: String,
    pub subject: Option<String>,
    pub public_key: Option<String>,
    pub not_after: Option<String>,
    /// Why it is a candidate and how it differs from what was presented.
    pub reason: String,
    pub via: Vec<String>,
}

/// Every local location of `presented`, strongest match first.
pub fn local_matches(inv: &Inventory, presented: &CertKeys) -> Vec<LocalMatch> {
    let mut out: Vec<LocalMatch> = inv
        .certs
        .iter()
        .filter_map(|c| {
            let kind = if c.keys.sha256 == presented.sha256 {
                MatchKind::Exact
            } else if c.keys.issuer_raw == presented.issuer_raw
                && c.keys.serial_raw == presented.serial_raw
            {
                MatchKind::SameSerial
            } else if c.keys.spki_sha256 == presented.spki_sha256 {
                MatchKind::SameKey
            } else {
                return None;
            };
            Some(LocalMatch {
                path: c.path.clone(),
                entry: c.entry.clone(),
                kind,
                via: c.via.clone(),
            })
        })
        .collect();
    // Strongest match first; among equals, a file of its own before data embedded in a
    // kubeconfig (the stable sort keeps the inventory's path order otherwise).
    out.sort_by_key(|m| {
        (
            m.kind,
            m.entry.as_deref().is_some_and(|e| !e.starts_with('#')),
        )
    });
    out
}

/// The local certificates that `side` could have presented but did not: same subject as
/// its leaf, or configured for its role, and never one that the node's configuration uses
/// only towards another server (no etcd certificate for a kubelet connection).
pub fn candidates_not_presented(
    inv: &Inventory,
    side: Side,
    role: Option<Role>,
    server_role: Option<Role>,
    chain: Option<&[Option<CertKeys>]>,
) -> Vec<Candidate> {
    let elsewhere = |c: &LocalCert| {
        let Some(server) = server_role else {
            return false;
        };
        let mut uses = Role::ALL.iter().filter(|r| r.is_configured(c)).peekable();
        uses.peek().is_some() && uses.all(|r| r.server() != Some(server))
    };
    let leaf = chain.and_then(|c| c.first()).and_then(|k| k.as_ref());
    let presented: Vec<[u8; 32]> = chain
        .unwrap_or(&[])
        .iter()
        .flatten()
        .map(|k| k.sha256)
        .collect();
    inv.certs
        .iter()
        .filter(|c| !c.keys.is_ca && !presented.contains(&c.keys.sha256) && !elsewhere(c))
        .filter(|c| {
            leaf.is_some_and(|l| l.subject == c.keys.subject)
                // A kubelet's certificate names its node: another node's kubelet could
                // not have presented this node's files.
                || (role.is_some_and(|r| r.is_configured(c))
                    && !(role == Some(Role::KubeletClient) && leaf.is_some()))
        })
        .map(|c| Candidate {
            side,
            path: c.path.clone(),
            entry: c.entry.clone(),
            serial: c.summary.serial.clone(),
            sha256: c.summary.sha256.clone(),
            subject: c.summary.subject.clone(),
            public_key: c.summary.public_key.clone(),
            not_after: c.summary.not_after.clone(),
            reason: difference(c, leaf, side, role),
            via: c.via.clone(),
        })
        .collect()
}

fn difference(c: &LocalCert, leaf: Option<&CertKeys>, side: Side, role: Option<Role>) -> String {
    let who = match side {
        Side::Client => "client",
        Side::Server => "server",
    };
    let Some(leaf) = leaf else {
        return match role {
            Some(r) => format!(
                "configured for {}; the {who} presented no certificate",
                r.describe()
            ),
            None => format!("the {who} presented no certificate"),
        };
    };
    let mut parts = Vec::new();
    if c.keys.spki_sha256 == leaf.spki_sha256 {
        parts.push("same key, different certificate (re-issued)".to_string());
    } else if c.keys.subject == leaf.subject {
        parts.push("same subject, different key".to_string());
    } else {
        parts.push(format!("different subject ({})", c.keys.subject));
    }
    if c.keys.issuer != leaf.issuer {
        parts.push(format!("issued by {}", c.keys.issuer));
    } else if c.keys.authority_key_id.is_some()
        && leaf.authority_key_id.is_some()
        && c.keys.authority_key_id != leaf.authority_key_id
    {
        // Neutral on purpose: which of the two same-name CAs is the wrong one is for the
        // chain check (diagnose) to say, against what the verifier trusts.
        parts.push(format!(
            "its issuer {} is not the presented certificate's issuer of that name (authority key ids differ)",
            c.keys.issuer
        ));
    }
    if let Some(r) = role.filter(|r| r.is_configured(c)) {
        parts.push(format!("configured for {}", r.describe()));
    }
    parts.join("; ")
}
