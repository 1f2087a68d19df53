//! `wrong-file` and `stale-rotation`: the certificate presented is not the one the
//! component's configuration on this node names. Source: kubelet client certificate
//! rotation (RotateKubeletClientCertificate; `rotateCertificates` in config.yaml): with
//! rotation on the kubelet uses kubelet-client-current.pem, a symlink to the newest
//! kubelet-client-<timestamp>.pem; with it off, the certificate in kubelet.conf.
//!
//! Only this node's own components are judged: a kubelet of another node (seen from a
//! control-plane node) holds certificates that are in none of this node's files.

use super::verifiers::apiserver::remote_node;
use super::{cn, side_name, Context, Finding, Severity};
use crate::correlate::Role;
use crate::local::{Inventory, LocalCert};
use crate::model::Side;

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(inv) = ctx.inventory else { return };
    for (side, role) in [
        (Side::Client, ctx.conn.role),
        (Side::Server, ctx.conn.server_role),
    ] {
        let Some(role) = role else { continue };
        let Some(presented) = ctx.leaf(side).filter(|l| l.error.is_none()) else {
            continue;
        };
        let user = presented.subject.as_deref().and_then(cn).unwrap_or("");
        if side == Side::Client && remote_node(ctx, user).is_some() {
            continue;
        }
        let Some(configured) = configured(inv, role) else {
            continue;
        };
        if configured.is_empty()
            || configured
                .iter()
                .any(|c| c.summary.sha256 == presented.sha256)
        {
            continue;
        }
        out.push(wrong_file(inv, side, role, presented, &configured));
    }
    if ctx.conn.role == Some(Role::KubeletClient) {
        stale_rotation(inv, out);
    }
}

/// The local certificates `role`'s configuration names; None when the configuration is
/// known to be unresolved (a dangling kubelet-client-current.pem: a copy of a node read
/// without --root), so that nothing is judged against a guess.
fn configured(inv: &Inventory, role: Role) -> Option<Vec<&LocalCert>> {
    if role != Role::KubeletClient {
        return Some(
            inv.certs
                .iter()
                .filter(|c| !c.keys.is_ca && role.is_configured(c))
                .collect(),
        );
    }
    let current: Vec<&LocalCert> = inv
        .routed("kubelet-client-current.pem")
        .into_iter()
        .map(|i| &inv.certs[i])
        .collect();
    let conf: Vec<&LocalCert> = inv
        .certs
        .iter()
        .filter(|c| {
            c.path.ends_with("kubelet.conf")
                && c.entry.as_deref().is_some_and(|e| e.starts_with("users["))
        })
        .collect();
    let rotation = inv.kubelet_rotate_certificates.unwrap_or(true);
    let current_unresolved = inv
        .problems
        .iter()
        .any(|p| p.path.ends_with("kubelet-client-current.pem"));
    if rotation && current.is_empty() && current_unresolved {
        return None;
    }
    Some(if rotation && !current.is_empty() {
        current
    } else {
        conf
    })
}

fn wrong_file(
    inv: &Inventory,
    side: Side,
    role: Role,
    presented: &crate::model::PresentedCert,
    configured: &[&LocalCert],
) -> Finding {
    let what = match presented.local_files.first() {
        Some(m) => format!(
            "{}{}",
            m.path,
            m.entry
                .as_ref()
                .map(|e| format!("#{e}"))
                .unwrap_or_default()
        ),
        None => "a certificate in none of the searched files".into(),
    };
    let mut f = Finding::new(
        "wrong-file",
        Severity::Warning,
        format!("{}[0]", side_name(side)),
        format!(
            "{} presented {what}, but its configuration on this node names {}",
            side_name(side),
            configured
                .iter()
                .map(|c| c.location())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    for c in configured {
        f.evidence.push(format!(
            "configured: {} serial {} ({})",
            c.location(),
            c.summary.serial.as_deref().unwrap_or("?"),
            c.via.join(", ")
        ));
    }
    if role == Role::KubeletClient {
        f.evidence.push(format!(
            "rotateCertificates: {}",
            inv.kubelet_rotate_certificates
                .map(|b| b.to_string())
                .unwrap_or_else(|| "unknown (config.yaml not found)".into())
        ));
    }
    f
}

/// The rotated kubelet client certificate `kubelet-client-current.pem` points at, and the
/// newest rotated one, when they differ (a stale rotation). Shared with `certwire node`.
pub(crate) fn stale_kubelet_rotation(inv: &Inventory) -> Option<(&LocalCert, &LocalCert)> {
    let rotated = |c: &&LocalCert| {
        let name = c.path.rsplit('/').next().unwrap_or("");
        name.starts_with("kubelet-client-2") && name.ends_with(".pem")
    };
    let newest = inv
        .certs
        .iter()
        .filter(rotated)
        .max_by(|a, b| a.path.cmp(&b.path))?;
    let current = inv
        .certs
        .iter()
        .filter(rotated)
        .find(|c| c.has_route("kubelet-client-current.pem"))?;
    (newest.path != current.path).then_some((current, newest))
}

fn stale_rotation(inv: &Inventory, out: &mut Vec<Finding>) {
    let Some((current, newest)) = stale_kubelet_rotation(inv) else {
        return;
    };
    out.push(
        Finding::new(
            "stale-rotation",
            Severity::Warning,
            "client",
            format!(
                "kubelet-client-current.pem points at {}, older than the newest rotated {}",
                current.path, newest.path
            ),
        )
        .evidence(format!(
            "current: serial {} until {}; newest: serial {} until {}",
            current.summary.serial.as_deref().unwrap_or("?"),
            current.summary.not_after.as_deref().unwrap_or("?"),
            newest.summary.serial.as_deref().unwrap_or("?"),
            newest.summary.not_after.as_deref().unwrap_or("?")
        )),
    );
}
