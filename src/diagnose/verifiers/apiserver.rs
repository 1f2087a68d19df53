//! kube-apiserver's secure port (6443). Sources: kube-apiserver serves with
//! `tls.RequestClientCert` and its `--client-ca-file` pool (k8s.io/apiserver
//! `SecureServingInfo`), so the handshake completes whatever the client sends; the x509
//! authenticator (k8s.io/apiserver pkg/authentication/request/x509) verifies the chain per
//! request, and `WithAuthentication` answers 401 and logs `"Unable to authenticate the
//! request" err="verifying certificate SN=…, SKID=…, AKID=… failed: x509: …"`. Identity:
//! user = CN, groups = O ("Authenticating"); the Node authorizer needs CN
//! `system:node:<name>` and O `system:nodes` ("Using Node Authorization"); front-proxy
//! certificates are checked against `--requestheader-client-ca-file` and
//! `--requestheader-allowed-names` ("Configure the Aggregation Layer").

use super::super::chain::{verify, Verdict};
use super::super::{cn, orgs, Context, Finding, Layer, Severity};
use super::Verifier;
use crate::local::{Inventory, LocalCert};
use crate::model::{PresentedCert, Side};

/// The line `WithAuthentication` logs. With a requestheader (front-proxy) CA configured,
/// the union authenticator tries the front-proxy verifier first and aggregates both errors:
/// `[<front-proxy verification error>, verifying certificate … failed: …]`.
pub fn unable_to_authenticate(
    ctx: &Context<'_>,
    leaf: Option<&PresentedCert>,
    x509: &str,
) -> String {
    let err = format!(
        "verifying certificate {} failed: {x509}",
        super::certificate_identifier(leaf)
    );
    let err = match front_proxy_error(ctx) {
        Some(proxy) => format!("[{proxy}, {err}]"),
        None => err,
    };
    format!(
        "\"Unable to authenticate the request\" err=\"{}\"",
        err.replace('"', "\\\"")
    )
}

/// What the front-proxy (requestheader) verifier says of a client chain that is not the
/// proxy's, when the apiserver has one: configured by flag, or announced in the
/// CertificateRequest (the apiserver announces the union of both CAs).
fn front_proxy_error(ctx: &Context<'_>) -> Option<String> {
    let inv = ctx.inventory?;
    let configured = inv
        .flag("kube-apiserver", "requestheader-client-ca-file")
        .is_some();
    let announced = ctx
        .conn
        .certificate_request
        .as_ref()
        .is_some_and(|cr| cr.ca_names.iter().any(|n| cn(n) == Some("front-proxy-ca")));
    if !(configured || announced) {
        return None;
    }
    let proxy_cas: Vec<&LocalCert> = inv
        .certs
        .iter()
        .filter(|c| {
            c.has_route("flag:kube-apiserver --requestheader-client-ca-file")
                || (c.keys.is_ca && cn(&c.keys.subject) == Some("front-proxy-ca"))
        })
        .collect();
    match verify(ctx.client_chain?, &proxy_cas)? {
        Verdict::Trusted { .. } => None,
        Verdict::Unknown { hint, .. } => Some(format!(
            "x509: certificate signed by unknown authority{}",
            hint.unwrap_or_default()
        )),
    }
}

pub fn run(ctx: &Context<'_>, v: &Verifier, out: &mut Vec<Finding>) {
    // Who the apiserver takes the client to be matters only once the handshake is through.
    if ctx.fatal_alert_from(Side::Server).is_some() || ctx.fatal_alert_from(Side::Client).is_some()
    {
        return;
    }
    let Some(c) = ctx.leaf(Side::Client) else {
        return;
    };
    let Some(subject) = c.subject.as_deref().filter(|_| c.error.is_none()) else {
        return;
    };
    let user = cn(subject).unwrap_or("");
    let groups = orgs(subject);
    node_identity(ctx, user, &groups, subject, out);
    if let Some(inv) = ctx.inventory {
        front_proxy(ctx, inv, user, out);
    }
    // Who the client is taken for, only when nothing stops its authentication.
    let rejected = out.iter().any(|f| {
        f.verifier == Some(Side::Server)
            && f.layer == Some(Layer::Authentication)
            && f.severity == Severity::Error
    });
    if rejected || !ctx.completed() {
        return;
    }
    let mut info = Finding::new(
        "identity",
        Severity::Info,
        "client[0]",
        format!(
            "{} authenticates this client as user \"{user}\", groups [{}]",
            v.name,
            groups.join(", ")
        ),
    );
    if groups.contains(&"system:masters") {
        info.evidence
            .push("member of system:masters: bound to cluster-admin, bypasses RBAC".into());
    }
    out.push(info);
}

/// A node identity must have both halves; a kubelet of another node is judged for its CA,
/// validity and identity, never as a wrong file of this node.
fn node_identity(
    ctx: &Context<'_>,
    user: &str,
    groups: &[&str],
    subject: &str,
    out: &mut Vec<Finding>,
) {
    let node_user = user.starts_with("system:node:");
    if node_user != groups.contains(&"system:nodes") {
        out.push(
            Finding::new(
                "identity",
                Severity::Error,
                "client[0]",
                if node_user {
                    format!("{user} is a node identity but its groups lack system:nodes: the Node authorizer will deny it (and the kubelet cannot rotate its certificate)")
                } else {
                    format!("in group system:nodes but the user {user} is not system:node:<name>: the Node authorizer will deny it")
                },
            )
            .evidence(format!("subject {subject}"))
            .logged(format!("is forbidden: User \"{user}\" cannot"))
            .rejected_by(Side::Server, Layer::Authentication),
        );
    }
    if let Some(node) = remote_node(ctx, user) {
        out.push(Finding::new(
            "remote-node",
            Severity::Info,
            "client[0]",
            format!("a kubelet of another node ({user}; this node is {node}): judged for its CA, validity and identity, not against this node's files"),
        ));
    }
}

/// The node name of this node's kubelet, when `user` is another node's kubelet.
pub fn remote_node(ctx: &Context<'_>, user: &str) -> Option<String> {
    if !user.starts_with("system:node:") {
        return None;
    }
    let inv = ctx.inventory?;
    // Asked on every connection to the apiserver: no list built.
    let mut this = inv
        .certs
        .iter()
        .filter(|l| crate::correlate::Role::KubeletClient.is_configured(l))
        .filter_map(|l| cn(&l.keys.subject))
        .filter(|n| n.starts_with("system:node:"));
    let first = this.clone().next()?;
    (!this.any(|n| n == user)).then(|| first.to_string())
}

fn front_proxy(ctx: &Context<'_>, inv: &Inventory, user: &str, out: &mut Vec<Finding>) {
    let by_route =
        |r: &str| -> Vec<&LocalCert> { inv.routed(r).into_iter().map(|i| &inv.certs[i]).collect() };
    let proxy_cas = by_route("flag:kube-apiserver --requestheader-client-ca-file");
    let client_cas = by_route("flag:kube-apiserver --client-ca-file");
    if proxy_cas
        .iter()
        .any(|p| client_cas.iter().any(|c| c.keys.sha256 == p.keys.sha256))
    {
        out.push(
            Finding::new(
                "identity",
                Severity::Warning,
                "connection",
                "--client-ca-file and --requestheader-client-ca-file name the same CA: ordinary client certificates are taken for front-proxy certificates".into(),
            )
            .logged(format!("x509: subject with cn={user} is not in the allowed list")),
        );
    }
    let (Some(chain), false) = (ctx.client_chain, proxy_cas.is_empty()) else {
        return;
    };
    if let Some(Verdict::Trusted { .. }) = verify(chain, &proxy_cas) {
        let allowed: Vec<&str> = inv
            .flag("kube-apiserver", "requestheader-allowed-names")
            .map(|f| f.value.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        if !allowed.is_empty() && !allowed.contains(&user) {
            out.push(
                Finding::new(
                    "identity",
                    Severity::Error,
                    "client[0]",
                    format!("front-proxy client certificate CN {user} is not in --requestheader-allowed-names ({})", allowed.join(",")),
                )
                .logged(format!("x509: subject with cn={user} is not in the allowed list"))
                .rejected_by(Side::Server, Layer::Authentication),
            );
        }
    }
}
