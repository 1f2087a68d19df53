//! The chain as Go's crypto/x509 `Verify` walks it: by signature up to a trusted CA, then
//! the constraints along the path (CA flag, path length, validity of every certificate,
//! extended key usage of every certificate).
//!
//! Names are not trust: a CA with the same subject but another key (what re-running
//! `kubeadm init` produces) must fail here, as it fails in Go.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::anchors::AnchorSet;
use super::verifiers::{Verifier, Verifiers};
use super::{side_name, Context, Finding, Severity};
use crate::local::LocalCert;
use crate::model::Side;
use crate::x509::{rfc2253, rfc3339, sha256_hex};

/// Chains longer than this are not followed (Go's limit is far larger; no Kubernetes
/// chain comes close).
const MAX_PATH: usize = 8;

/// A chain's verdict, the trusted CA named by `A`: the CA itself ([`Verdict`]), or its
/// place in the trusted set (as the memo keeps it, without the borrow).
#[derive(Clone)]
pub enum ChainVerdict<A> {
    /// The chain verifies up to this trusted CA, through the presented certificates at
    /// these positions (the leaf first).
    Trusted {
        anchor: A,
        path: Vec<usize>,
        /// What the checks along the path need of its certificates.
        facts: std::sync::Arc<PathFacts>,
    },
    /// It does not: the certificate where the walk stopped, and why.
    Unknown {
        stopped_at: String,
        issuer: String,
        evidence: Vec<String>,
        /// Go's UnknownAuthorityError hint: a trusted CA of the same name whose key does
        /// not verify the signature.
        hint: Option<String>,
    },
}

pub type Verdict<'a> = ChainVerdict<&'a LocalCert>;

impl<A> ChainVerdict<A> {
    fn map_anchor<B>(self, f: impl FnOnce(A) -> B) -> ChainVerdict<B> {
        match self {
            ChainVerdict::Trusted {
                anchor,
                path,
                facts,
            } => ChainVerdict::Trusted {
                anchor: f(anchor),
                path,
                facts,
            },
            ChainVerdict::Unknown {
                stopped_at,
                issuer,
                evidence,
                hint,
            } => ChainVerdict::Unknown {
                stopped_at,
                issuer,
                evidence,
                hint,
            },
        }
    }
}

/// What the checks along a verified path read of its certificates, taken while they are
/// parsed for the walk and kept with the verdict: parsing the path and its CA again for
/// every connection was a fifth of a handshake's cost with the node's files (issue 17).
pub struct PathFacts {
    /// The certificates after the leaf, in path order.
    intermediates: Vec<CertFacts>,
    /// The trusted CA.
    root: CertFacts,
}

struct CertFacts {
    name: String,
    /// basicConstraints CA:TRUE.
    ca: bool,
    path_len: Option<u32>,
    ekus: Option<Vec<String>>,
    validity: (i64, i64),
}

impl CertFacts {
    fn of(c: &X509Certificate<'_>) -> CertFacts {
        let bc = c
            .basic_constraints()
            .ok()
            .flatten()
            .map(|b| b.value.clone());
        CertFacts {
            name: rfc2253(c.subject()),
            ca: bc.as_ref().is_some_and(|b| b.ca),
            path_len: bc.and_then(|b| b.path_len_constraint),
            ekus: cert_ekus(c),
            validity: (
                c.validity().not_before.timestamp(),
                c.validity().not_after.timestamp(),
            ),
        }
    }
}

impl PathFacts {
    fn of(
        parsed: &[Option<X509Certificate<'_>>],
        path: &[usize],
        root: &X509Certificate<'_>,
    ) -> PathFacts {
        PathFacts {
            intermediates: path[1..]
                .iter()
                .filter_map(|&i| parsed[i].as_ref().map(CertFacts::of))
                .collect(),
            root: CertFacts::of(root),
        }
    }
}

fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    X509Certificate::from_der(der).ok().map(|(_, c)| c)
}

/// The chain's verdict against `anchors`, as [`walk`] finds it.
///
/// The verdict depends on nothing but the chain's bytes and the trusted CAs, and the same
/// few chains come in every handshake: it is worked out once per (chain, trusted set) and
/// thread. Parsing the chain and every trusted CA again for each connection was most of
/// the cost of a handshake with the node's files (540 K instructions, issue 17).
pub fn verify<'a>(chain: &[Vec<u8>], anchors: &[&'a LocalCert]) -> Option<Verdict<'a>> {
    let chain = &chain[..chain.len().min(MAX_CHAIN_CONSIDERED)];
    if chain.iter().map(Vec::len).sum::<usize>() > MEMO_CHAIN_BYTES {
        return walk(chain, anchors);
    }
    let hash = memo_hash(chain, anchors);
    let found = VERDICTS.with(|m| {
        let m = m.borrow();
        let bucket = m.map.get(&hash)?;
        bucket
            .iter()
            .find(|(k, _)| k.matches(chain, anchors))
            .map(|(_, v)| v.clone())
    });
    if let Some(found) = found {
        // The anchors match the key: the same place names the same CA.
        return found.map(|v| v.map_anchor(|i| anchors[i]));
    }
    let verdict = walk(chain, anchors);
    let kept = verdict.clone().map(|v| {
        v.map_anchor(|anchor| {
            anchors
                .iter()
                .position(|a| std::ptr::eq(*a, anchor))
                .expect("the anchor is one of the set")
        })
    });
    VERDICTS.with(|m| {
        let mut m = m.borrow_mut();
        let bytes: usize = chain.iter().map(Vec::len).sum();
        if m.entries >= MEMO_ENTRIES || m.bytes + bytes > MEMO_BYTES {
            *m = Memo::default();
        }
        m.entries += 1;
        m.bytes += bytes;
        m.map
            .entry(hash)
            .or_default()
            .push((MemoKey::new(chain, anchors), kept));
    });
    verdict
}

fn memo_hash(chain: &[Vec<u8>], anchors: &[&LocalCert]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    chain.hash(&mut h);
    for a in anchors {
        (a.keys.sha256, &a.path, &a.entry).hash(&mut h);
    }
    h.finish()
}

/// Verdicts remembered per thread, and the chains' bytes kept with them; past either the
/// memo starts over.
const MEMO_ENTRIES: usize = 1024;
const MEMO_BYTES: usize = 4 << 20;
/// Chains bigger than this are verified each time, not kept (Kubernetes chains are a few
/// KB; the bytes are kept so that a hit is an exact match, never a hash collision).
const MEMO_CHAIN_BYTES: usize = 64 << 10;

/// A chain as presented and the trusted set: each CA by SHA-256 and by where it was found
/// (the evidence names its file), so that a hit is an exact match.
struct MemoKey {
    chain: Vec<Vec<u8>>,
    anchors: Vec<([u8; 32], String, Option<String>)>,
}

impl MemoKey {
    fn new(chain: &[Vec<u8>], anchors: &[&LocalCert]) -> MemoKey {
        MemoKey {
            chain: chain.to_vec(),
            anchors: anchors
                .iter()
                .map(|a| (a.keys.sha256, a.path.clone(), a.entry.clone()))
                .collect(),
        }
    }

    fn matches(&self, chain: &[Vec<u8>], anchors: &[&LocalCert]) -> bool {
        self.chain == chain
            && self.anchors.len() == anchors.len()
            && self
                .anchors
                .iter()
                .zip(anchors)
                .all(|((sha, path, entry), a)| {
                    *sha == a.keys.sha256 && *path == a.path && *entry == a.entry
                })
    }
}

/// A verdict without its borrow of the trusted CAs: the anchor by its place in the set.
type Kept = ChainVerdict<usize>;

/// The verdicts kept, by the hash of their key (almost always one per hash).
#[derive(Default)]
struct Memo {
    map: rustc_hash::FxHashMap<u64, Vec<(MemoKey, Option<Kept>)>>,
    entries: usize,
    bytes: usize,
}

thread_local! {
    static VERDICTS: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::default());
}

/// Walk from the leaf through the presented intermediates to a trusted CA, checking each
/// signature (x509-parser with ring: RSA PKCS#1/PSS, ECDSA P-256/P-384, Ed25519). Only the
/// first `MAX_CHAIN_CONSIDERED` certificates are looked at, and at most
/// `MAX_SIGNATURE_CHECKS` signatures are checked (Go's `maxChainSignatureChecks`): a chain
/// of hundreds of same-name certificates costs no more than a real one.
fn walk<'a>(chain: &[Vec<u8>], anchors: &[&'a LocalCert]) -> Option<Verdict<'a>> {
    let parsed: Vec<Option<X509Certificate<'_>>> = chain.iter().map(|d| parse(d)).collect();
    let leaf = parsed.first()?.as_ref()?;
    let anchor_certs: Vec<Option<X509Certificate<'_>>> =
        anchors.iter().map(|a| parse(&a.der)).collect();
    let mut budget = MAX_SIGNATURE_CHECKS;
    let mut signed_by = |child: &X509Certificate<'_>, parent: &X509Certificate<'_>| {
        if parent.subject().as_raw() != child.issuer().as_raw() || budget == 0 {
            return false;
        }
        budget -= 1;
        signature_ok(child, parent)
    };
    let mut cur = leaf;
    let mut path = vec![0];
    for _ in 0..MAX_PATH {
        let trusted = anchor_certs
            .iter()
            .position(|a| a.as_ref().is_some_and(|a| signed_by(cur, a)));
        if let Some((i, Some(root))) = trusted.map(|i| (i, anchor_certs[i].as_ref())) {
            return Some(Verdict::Trusted {
                anchor: anchors[i],
                facts: std::sync::Arc::new(PathFacts::of(&parsed, &path, root)),
                path,
            });
        }
        let next = parsed
            .iter()
            .enumerate()
            .find(|(i, p)| !path.contains(i) && p.as_ref().is_some_and(|p| signed_by(cur, p)));
        match next {
            Some((i, Some(p))) => {
                path.push(i);
                cur = p;
            }
            _ => break,
        }
    }
    Some(unknown(cur, &parsed, anchors, &anchor_certs))
}

/// Certificates of a presented chain looked at; Kubernetes chains have one to three.
pub const MAX_CHAIN_CONSIDERED: usize = 16;
/// Signature checks per chain verification, as Go's crypto/x509 allows.
const MAX_SIGNATURE_CHECKS: usize = 100;
/// Signature results remembered per thread, by (certificate, issuer key).
const SIGNATURE_CACHE: usize = 4096;

/// SHA-256 of a certificate and of its issuer's key.
type SignaturePair = ([u8; 32], [u8; 32]);

thread_local! {
    static VERIFIED: std::cell::RefCell<std::collections::HashMap<SignaturePair, bool>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `child`'s signature verifies with `parent`'s key; each (certificate, key) pair is
/// checked once per thread, whatever the number of connections presenting it.
fn signature_ok(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    let digest = |b: &[u8]| {
        let mut k = [0u8; 32];
        k.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, b).as_ref());
        k
    };
    let key = (digest(child.as_raw()), digest(parent.public_key().raw));
    if let Some(ok) = VERIFIED.with(|c| c.borrow().get(&key).copied()) {
        return ok;
    }
    let ok = child.verify_signature(Some(parent.public_key())).is_ok();
    VERIFIED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= SIGNATURE_CACHE {
            c.clear();
        }
        c.insert(key, ok);
    });
    ok
}

fn unknown<'a>(
    cur: &X509Certificate<'_>,
    parsed: &[Option<X509Certificate<'_>>],
    anchors: &[&'a LocalCert],
    anchor_certs: &[Option<X509Certificate<'_>>],
) -> Verdict<'a> {
    let issuer = rfc2253(cur.issuer());
    let mut evidence = vec![format!(
        "{} is issued by {issuer}{}",
        rfc2253(cur.subject()),
        authority_key_id(cur)
            .map(|k| format!(" (authority key id {k})"))
            .unwrap_or_default()
    )];
    if let Some(p) = parsed
        .iter()
        .flatten()
        .find(|p| p.subject().as_raw() == cur.issuer().as_raw())
    {
        evidence.push(format!(
            "the presented {issuer} has key sha256 {}",
            sha256_hex(p.public_key().raw)
        ));
    }
    let mut hint = None;
    for (i, a) in anchor_certs.iter().enumerate() {
        let Some(a) = a else { continue };
        let same_name = a.subject().as_raw() == cur.issuer().as_raw();
        if same_name && hint.is_none() {
            hint = Some(go_hint(a));
        }
        evidence.push(format!(
            "trusted CA {} ({}) has key sha256 {}{}{}",
            rfc2253(a.subject()),
            anchors[i].location(),
            sha256_hex(a.public_key().raw),
            anchors[i].summary.subject_key_id.as_ref().map(|k| format!(" (subject key id {k})")).unwrap_or_default(),
            if same_name { ": same name, but the signature does not verify with its key (a different CA with the same name)" } else { "" }
        ));
    }
    Verdict::Unknown {
        stopped_at: rfc2253(cur.subject()),
        issuer,
        evidence,
        hint,
    }
}

/// Go's `UnknownAuthorityError.Error()` suffix when a candidate CA of the right name failed
/// the signature check: ` (possibly because of "ERR" while trying to verify candidate
/// authority certificate "NAME")`, NAME being its CN, else its first O, else its serial.
fn go_hint(ca: &X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    let err = match ca.public_key().parsed() {
        Ok(PublicKey::RSA(_)) => "crypto/rsa: verification error",
        Ok(PublicKey::EC(_)) => "x509: ECDSA verification failure",
        _ => "x509: signature verification failure",
    };
    let subject = rfc2253(ca.subject());
    let name = super::cn(&subject)
        .map(str::to_string)
        .or_else(|| super::orgs(&subject).first().map(|o| o.to_string()))
        .unwrap_or_else(|| format!("serial:{}", ca.raw_serial_as_string()));
    format!(" (possibly because of \"{err}\" while trying to verify candidate authority certificate \"{name}\")")
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

/// `unknown-authority`, `incompatible-key-usage`, `ca-constraints`, and `expired` /
/// `not-yet-valid` of the trusted CA itself, for each side's chain against the CAs its
/// verifier trusts.
pub fn run(ctx: &Context<'_>, verifiers: &Verifiers, out: &mut Vec<Finding>) {
    for side in [Side::Server, Side::Client] {
        let v = verifiers.of(side);
        let Some(chain) = ctx.chain(side).filter(|c| !c.is_empty()) else {
            continue;
        };
        // An unparseable leaf says nothing about its chain or its usages.
        if ctx.leaf(side).is_some_and(|l| l.error.is_some()) {
            continue;
        }
        key_usage_of_leaf(ctx, side, v, out);
        explicit_curves(ctx, side, out);
        let Some(inv) = ctx.inventory else { continue };
        let mut failing = Vec::new();
        let mut passing = Vec::new();
        for set in &v.anchors {
            match verify(chain, &set.resolve(inv)) {
                Some(Verdict::Trusted {
                    anchor,
                    path,
                    facts,
                }) => {
                    passing.push(set);
                    along_path(ctx, side, v, &path, &facts, anchor, set, out);
                }
                Some(u @ Verdict::Unknown { .. }) => failing.push((set, u)),
                None => {}
            }
        }
        if let Some((
            set,
            Verdict::Unknown {
                stopped_at,
                issuer,
                evidence,
                hint,
            },
        )) = failing.into_iter().next()
        {
            out.push(unknown_authority(
                ctx, side, v, set, &passing, stopped_at, issuer, evidence, hint,
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn unknown_authority(
    ctx: &Context<'_>,
    side: Side,
    v: &Verifier,
    set: &AnchorSet,
    passing: &[&AnchorSet],
    stopped_at: String,
    issuer: String,
    mut evidence: Vec<String>,
    hint: Option<String>,
) -> Finding {
    let peer = side_name(side);
    let inv = ctx.inventory.expect("anchors come from an inventory");
    // A CA among the local files that does sign it (e.g. the rogue one), if any.
    let all: Vec<&LocalCert> = inv.certs.iter().filter(|c| c.keys.is_ca).collect();
    if let Some(Verdict::Trusted { anchor: ca, .. }) = verify(ctx.chain(side).unwrap_or(&[]), &all)
    {
        evidence.push(format!(
            "it verifies with {} (key sha256 {}; found locally, not trusted by {})",
            ca.location(),
            sha256_hex(&ca.keys.spki_der),
            v.name
        ));
    }
    if let Some(why) = &set.inferred {
        evidence.push(why.clone());
    }
    for p in passing {
        evidence.push(format!(
            "it does verify against {} ({}): a client configured with that one accepts it",
            p.source,
            p.resolve(inv)
                .iter()
                .map(|c| c.location())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let anchors = set
        .resolve(inv)
        .iter()
        .map(|a| a.location())
        .collect::<Vec<_>>()
        .join(", ");
    let whose = if passing.is_empty() {
        String::new()
    } else {
        format!(" if it used {}", set.source)
    };
    let x509 = format!(
        "x509: certificate signed by unknown authority{}",
        hint.unwrap_or_default()
    );
    Finding::new(
        "unknown-authority",
        Severity::Error,
        format!("{peer}[0]"),
        format!("the {peer}'s chain ({stopped_at}, issued by {issuer}) does not verify against the CA {} trusts{whose} ({anchors})", v.name),
    )
    .rejection_logged(ctx, v, side, &x509)
    .rejected_by(super::other(side), v.layer)
    .with_evidence(evidence)
}

impl Finding {
    fn with_evidence(mut self, e: Vec<String>) -> Self {
        self.evidence.extend(e);
        self
    }
}

/// `explicit-curve-parameters`: an EC key given by explicit curve parameters rather than
/// a named curve (the CurveBall shape, CVE-2020-0601). Go's crypto/x509 cannot parse it
/// ("x509: unsupported elliptic curve"), and crypto/tls parses every presented
/// certificate during the handshake, whatever its ClientAuth: the handshake fails.
fn explicit_curves(ctx: &Context<'_>, side: Side, out: &mut Vec<Finding>) {
    for (i, c) in ctx.presented(side).into_iter().flatten().enumerate() {
        if c.public_key.as_deref() != Some(crate::x509::EXPLICIT_CURVE) {
            continue;
        }
        let peer = side_name(side);
        out.push(
            Finding::new(
                "explicit-curve-parameters",
                Severity::Error,
                format!("{peer}[{i}]"),
                format!("{peer}[{i}] has an EC key with explicit curve parameters instead of a named curve (the CurveBall shape, CVE-2020-0601): Go cannot parse it"),
            )
            .logged(match side {
                Side::Server => "tls: failed to parse certificate from server: x509: unsupported elliptic curve",
                Side::Client => "tls: failed to parse client certificate #0: x509: unsupported elliptic curve",
            })
            .rejected_by(super::other(side), super::Layer::Tls),
        );
    }
}

fn has_eku(ekus: &[String], eku: &str) -> bool {
    // No extendedKeyUsage extension means any usage (RFC 5280 §4.2.1.12; Go agrees).
    ekus.is_empty() || ekus.iter().any(|e| e == eku || e == "anyExtendedKeyUsage")
}

/// `incompatible-key-usage` of the leaf. Source: Go crypto/x509 `Verify` with `KeyUsages`
/// ClientAuth (a server verifying a client) or ServerAuth (a client verifying a server):
/// "x509: certificate specifies an incompatible key usage". Go ignores keyUsage bits, and so
/// does OpenSSL for an ECDHE key exchange; a keyUsage at odds with the key exchange is noted
/// as info.
fn key_usage_of_leaf(ctx: &Context<'_>, side: Side, v: &Verifier, out: &mut Vec<Finding>) {
    let Some(c) = ctx.leaf(side) else { return };
    if !has_eku(&c.extended_key_usage, v.eku) {
        out.push(
            Finding::new(
                "incompatible-key-usage",
                Severity::Error,
                format!("{}[0]", side_name(side)),
                format!(
                    "{} certificate {} lacks extended key usage {}",
                    side_name(side),
                    c.subject.clone().unwrap_or_default(),
                    v.eku
                ),
            )
            .evidence(format!(
                "extendedKeyUsage: {}",
                c.extended_key_usage.join(", ")
            ))
            .rejection_logged(
                ctx,
                v,
                side,
                "x509: certificate specifies an incompatible key usage",
            )
            .rejected_by(super::other(side), v.layer),
        );
    }
    if side == Side::Server && !c.key_usage.is_empty() {
        let suite = ctx.conn.cipher_suite.as_deref().unwrap_or("");
        let needs = if suite.starts_with("TLS_RSA_") {
            "keyEncipherment"
        } else {
            "digitalSignature"
        };
        if !suite.is_empty() && !c.key_usage.iter().any(|k| k == needs) {
            out.push(
                Finding::new(
                    "incompatible-key-usage",
                    Severity::Info,
                    "server[0]",
                    format!("server certificate keyUsage lacks {needs}, which {suite} uses (RFC 5246 §7.4.2); Go and OpenSSL do not check it, stricter TLS stacks may"),
                )
                .evidence(format!("keyUsage: {}", c.key_usage.join(", "))),
            );
        }
    }
}

/// Along a verified path: the intermediates' CA flag and path length, every certificate's
/// validity (the trusted CA's too), and every certificate's extended key usage (Go checks
/// the whole chain: an intermediate restricted to serverAuth cannot issue client
/// certificates).
#[allow(clippy::too_many_arguments)]
fn along_path(
    ctx: &Context<'_>,
    side: Side,
    v: &Verifier,
    path: &[usize],
    facts: &PathFacts,
    anchor: &LocalCert,
    set: &AnchorSet,
    out: &mut Vec<Finding>,
) {
    let peer = side_name(side);
    let push = |out: &mut Vec<Finding>,
                code,
                subject: String,
                message: String,
                x509: String,
                evidence: String| {
        out.push(
            Finding::new(code, Severity::Error, subject, message)
                .evidence(evidence)
                .rejection_logged(ctx, v, side, &x509)
                .rejected_by(super::other(side), v.layer),
        );
    };
    // Intermediates: CA flag and path length (crypto/x509 `isValid`).
    for (n, (cert, &pos)) in facts.intermediates.iter().zip(&path[1..]).enumerate() {
        let name = &cert.name;
        if !cert.ca {
            push(out, "ca-constraints", format!("{peer}[{pos}]"), format!("{name} signs the {peer}'s certificate but is not a CA (basicConstraints CA:FALSE or missing)"), "x509: certificate is not authorized to sign other certificates".into(), format!("{peer}[{pos}] is used as an intermediate"));
        } else if let Some(len) = cert.path_len {
            // Intermediates below this one (n: its place among the intermediates).
            let below = n as u32;
            if below > len {
                push(
                    out,
                    "ca-constraints",
                    format!("{peer}[{pos}]"),
                    format!("{name} allows {len} intermediate(s) below it, the chain has {below}"),
                    "x509: too many intermediates for path length constraint".into(),
                    format!("pathLenConstraint {len}"),
                );
            }
        }
        if let Some(eku) = cert.ekus.as_ref().filter(|e| !has_eku(e, v.eku)) {
            push(out, "incompatible-key-usage", format!("{peer}[{pos}]"), format!("the intermediate {name} restricts extended key usage to {}, so it cannot issue {} certificates (Go checks the whole chain)", eku.join(", "), v.eku), "x509: certificate specifies an incompatible key usage".into(), format!("extendedKeyUsage of {name}: {}", eku.join(", ")));
        }
    }
    // The trusted CA itself.
    let t = ctx.capture_time;
    let (nb, na) = facts.root.validity;
    let ca = || format!("trusted CA {} ({})", facts.root.name, anchor.location());
    if t > na || t < nb {
        let (ca, now) = (ca(), rfc3339(t));
        let (code, when, bound) = if t > na {
            ("expired", "after", na)
        } else {
            ("not-yet-valid", "before", nb)
        };
        push(out, code, "trusted-ca".into(), format!("the {ca} that {} trusts is {} at capture time", v.name, if t > na { "expired" } else { "not yet valid" }), format!("x509: certificate has expired or is not yet valid: current time {now} is {when} {}", rfc3339(bound)), format!("{} from {}", set.source, anchor.location()));
    }
    if let Some(eku) = facts.root.ekus.as_ref().filter(|e| !has_eku(e, v.eku)) {
        push(
            out,
            "incompatible-key-usage",
            "trusted-ca".into(),
            format!(
                "the {} restricts extended key usage to {}",
                ca(),
                eku.join(", ")
            ),
            "x509: certificate specifies an incompatible key usage".into(),
            format!("{} from {}", set.source, anchor.location()),
        );
    }
}

fn cert_ekus(c: &X509Certificate<'_>) -> Option<Vec<String>> {
    let eku = c.extended_key_usage().ok().flatten()?.value;
    let mut out = Vec::new();
    if eku.any {
        out.push("anyExtendedKeyUsage".to_string());
    }
    if eku.server_auth {
        out.push("serverAuth".into());
    }
    if eku.client_auth {
        out.push("clientAuth".into());
    }
    if eku.code_signing {
        out.push("codeSigning".into());
    }
    if eku.email_protection {
        out.push("emailProtection".into());
    }
    if eku.time_stamping {
        out.push("timeStamping".into());
    }
    if eku.ocsp_signing {
        out.push("OCSPSigning".into());
    }
    for o in &eku.other {
        out.push(o.to_id_string());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(path: &str) -> Vec<u8> {
        let pem = std::fs::read(format!("{}/captures/{path}", env!("CARGO_MANIFEST_DIR")))
            .expect("shipped certificate");
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
        pem.contents
    }

    fn local(path: &str, der: &[u8]) -> LocalCert {
        LocalCert {
            path: path.into(),
            entry: None,
            via: Vec::new(),
            keys: crate::x509::cert_keys(der).expect("a certificate"),
            der: der.to_vec(),
            summary: std::sync::Arc::new(crate::x509::summarize(der)),
            with_private_key: false,
            configured_roles: Default::default(),
        }
    }

    /// What a verdict says, anchors by location.
    fn said(v: Option<Verdict<'_>>) -> String {
        match v {
            None => "none".into(),
            Some(Verdict::Trusted { anchor, path, .. }) => {
                format!("trusted by {} via {path:?}", anchor.location())
            }
            Some(Verdict::Unknown {
                stopped_at,
                issuer,
                evidence,
                hint,
            }) => format!("unknown at {stopped_at} by {issuer}: {evidence:?} {hint:?}"),
        }
    }

    /// The facts kept for the checks along a path are the path's: the intermediate
    /// restricted to serverAuth and the cluster CA, in order, read as openssl shows them.
    #[test]
    fn path_facts_are_read_from_the_path() {
        let cluster = der("node/etc/kubernetes/pki/ca.crt");
        let chain = vec![
            der("pki-extra/restricted-eku-client.crt"),
            der("pki-extra/serverauth-intermediate-ca.crt"),
        ];
        let set = [local("a/ca.crt", &cluster)];
        let anchors: Vec<&LocalCert> = set.iter().collect();
        let Some(Verdict::Trusted { path, facts, .. }) = verify(&chain, &anchors) else {
            panic!("the chain verifies to the cluster CA");
        };
        assert_eq!(path, [0, 1]);
        let [i] = &facts.intermediates[..] else {
            panic!("one intermediate")
        };
        assert_eq!(i.name, "CN=serverauth-intermediate-ca");
        assert!(i.ca && i.path_len == Some(0));
        assert_eq!(i.ekus.as_deref(), Some(&["serverAuth".to_string()][..]));
        assert_eq!(facts.root.name, "CN=kubernetes");
        assert!(facts.root.ca && facts.root.validity.0 < facts.root.validity.1);
    }

    /// The memo answers exactly what the walk answers, for the same chain against sets
    /// that hold the same CA in other files or another order: the evidence names each
    /// set's own files, and the trusted anchor is the set's own.
    #[test]
    fn remembered_verdicts_are_the_walks_own() {
        let cluster = der("node/etc/kubernetes/pki/ca.crt");
        let rogue = der("pki-extra/rogue-ca.crt");
        let chain = vec![der("pki-extra/rogue-client.crt")];
        let sets = [
            vec![local("a/ca.crt", &cluster)],
            vec![local("b/ca.crt", &cluster)],
            vec![local("r/rogue.crt", &rogue)],
            vec![local("a/ca.crt", &cluster), local("r/rogue.crt", &rogue)],
            vec![local("r2/rogue.crt", &rogue), local("a/ca.crt", &cluster)],
        ];
        for round in 0..2 {
            for set in &sets {
                let anchors: Vec<&LocalCert> = set.iter().collect();
                let want = said(walk(&chain, &anchors));
                assert_eq!(said(verify(&chain, &anchors)), want, "round {round}");
            }
        }
        let anchors: Vec<&LocalCert> = sets[1].iter().collect();
        let b = said(verify(&chain, &anchors));
        assert!(b.contains("b/ca.crt") && !b.contains("a/ca.crt"), "{b}");
        let anchors: Vec<&LocalCert> = sets[4].iter().collect();
        assert_eq!(
            said(verify(&chain, &anchors)),
            "trusted by r2/rogue.crt via [0]"
        );
    }
}
