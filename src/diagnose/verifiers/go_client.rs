//! Go crypto/tls clients (client-go, the kubelet dialing the apiserver, kube-apiserver
//! dialing etcd): `verifyServerCertificate` checks the chain against `RootCAs`, the
//! ExtKeyUsage serverAuth and the dialed name during the handshake, and aborts with alert
//! bad_certificate. kube-apiserver dialing a kubelet verifies only with
//! `--kubelet-certificate-authority` (otherwise `InsecureSkipVerify`).

use super::super::{Context, Finding, Severity};
use super::Verifies;
use crate::local::Inventory;

pub fn apiserver_verifies_kubelets(inv: Option<&Inventory>) -> Verifies {
    match inv {
        Some(inv) if !inv.flags.iter().any(|f| f.component == "kube-apiserver") => Verifies::Maybe(
            "the kube-apiserver manifest was not found: it verifies the kubelet's serving certificate only with --kubelet-certificate-authority".into(),
        ),
        None => Verifies::Maybe("no node files: kube-apiserver verifies the kubelet's serving certificate only with --kubelet-certificate-authority".into()),
        Some(inv) if inv.flag("kube-apiserver", "kubelet-certificate-authority").is_some() => Verifies::Yes,
        Some(_) => Verifies::No(
            "the apiserver manifest sets no --kubelet-certificate-authority, so the apiserver itself does not verify the kubelet's serving certificate; clients that do (metrics-server, kubectl port-forward through a proxy) fail".into(),
        ),
    }
}

/// The controller-manager and scheduler serve 10257/10259 with a self-signed certificate
/// made in memory at start (CN `localhost@<unix time>`) unless given --tls-cert-file:
/// nothing on disk holds it, and scrapers must skip verification or pin it.
pub fn self_signed_secure_port(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(leaf) = ctx.leaf(crate::model::Side::Server) else {
        return;
    };
    let self_signed = leaf.subject.is_some() && leaf.subject == leaf.issuer;
    let in_memory = leaf
        .subject
        .as_deref()
        .and_then(super::super::cn)
        .is_some_and(|n| n.starts_with("localhost@"));
    if self_signed && in_memory {
        out.push(Finding::new(
            "self-signed-serving",
            Severity::Info,
            "server[0]",
            "the serving certificate is the self-signed one the component makes in memory at start (no --tls-cert-file): it is in no file and changes at every restart".into(),
        ));
    }
}
