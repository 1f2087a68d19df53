//! etcd's client (2379) and peer (2380) ports. Sources: etcd `pkg/transport` serves with
//! `tls.RequireAndVerifyClientCert` when `--client-cert-auth` / `--peer-client-cert-auth`
//! is set, so a bad client certificate fails the handshake; `--peer-cert-allowed-cn` (and
//! `--peer-cert-allowed-hostname`) add a check of the verified peer certificate
//! (`VerifyPeerCertificate`: "client certificate authentication failed"). etcd logs each
//! refused handshake as `rejected connection from "IP:PORT" (error "…", ServerName "…")`.

use super::super::{cn, Context, Finding, Severity};
use super::{Model, Verifier};
use crate::model::Side;

/// etcd's log line for a handshake it refused with `err` (etcd 3.4 `pkg/transport`
/// listener: `rejected connection from %q (error %q, ServerName %q, IPAddresses %q,
/// DNSNames %q)`, the last two being the client certificate's SANs). Go 1.19 (Debian's
/// etcd) words a failed client verification "tls: failed to verify client certificate:
/// x509: …"; Go ≥ 1.20 "tls: failed to verify certificate: x509: …".
pub fn rejected_connection(ctx: &Context<'_>, x509: &str) -> String {
    let err = if x509.starts_with("x509:") {
        format!("tls: failed to verify client certificate: {x509}")
    } else {
        x509.to_string()
    };
    let quoted = |prefix: &str| {
        let names: Vec<String> = ctx
            .leaf(Side::Client)
            .map(|l| {
                l.san
                    .iter()
                    .filter_map(|s| s.strip_prefix(prefix))
                    .map(|n| format!("{n:?}"))
                    .collect()
            })
            .unwrap_or_default();
        format!("[{}]", names.join(" "))
    };
    format!(
        "rejected connection from \"{}\" (error {:?}, ServerName {:?}, IPAddresses {}, DNSNames {})",
        ctx.conn.client,
        err,
        ctx.conn.sni.as_deref().unwrap_or(""),
        quoted("IP:"),
        quoted("DNS:")
    )
}

pub fn run(ctx: &Context<'_>, v: &Verifier, out: &mut Vec<Finding>) {
    if v.model == Model::EtcdPeer {
        allowed_cn(ctx, v, out);
    }
}

/// `peer-cn-not-allowed`: the peer's CN is not the one `--peer-cert-allowed-cn` names.
fn allowed_cn(ctx: &Context<'_>, v: &Verifier, out: &mut Vec<Finding>) {
    let Some(inv) = ctx.inventory else { return };
    let Some(flag) = inv.flag("etcd", "peer-cert-allowed-cn") else {
        return;
    };
    let Some(leaf) = ctx.leaf(Side::Client).filter(|l| l.error.is_none()) else {
        return;
    };
    let peer_cn = leaf.subject.as_deref().and_then(cn).unwrap_or("");
    if peer_cn == flag.value {
        return;
    }
    out.push(
        Finding::new(
            "peer-cn-not-allowed",
            Severity::Error,
            "client[0]",
            format!("the peer certificate's CN {peer_cn:?} is not the one etcd allows (--peer-cert-allowed-cn={})", flag.value),
        )
        .evidence(format!("{} sets --peer-cert-allowed-cn={}", flag.manifest, flag.value))
        .logged(rejected_connection(ctx, "client certificate authentication failed"))
        .rejected_by(Side::Server, v.layer),
    );
}
