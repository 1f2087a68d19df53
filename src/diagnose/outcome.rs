//! Each prediction reconciled with what the capture shows: a finding that says a verifier
//! rejects in the handshake is `confirmed` by that verifier's alert and `contradicted` by a
//! completed handshake (then it is a warning, and says that this client did not verify);
//! an authentication-layer finding after a completed handshake stays an error, `unknown`
//! while the 401 is inside encrypted application data, `confirmed` when the decrypted
//! first response is 401, `contradicted` (a warning) when the server answered otherwise.
//! A 401 or 403 that no finding explains is a finding of its own (`http-unauthorized`,
//! `http-forbidden`).

use super::verifiers::{Verifier, Verifiers, Verifies};
use super::{other, side_name, Context, Finding, Layer, Observed, Severity};
use crate::model::Side;

pub fn reconcile(ctx: &Context<'_>, verifiers: &Verifiers, out: &mut [Finding]) {
    for f in out.iter_mut() {
        let (Some(by), Some(layer)) = (f.verifier, f.layer) else {
            continue;
        };
        // The verifier of side X's chain is the other side.
        let v = verifiers.of(other(by));
        let alert = ctx.fatal_alert_from(by).is_some();
        match layer {
            Layer::Tls => tls_layer(ctx, v, by, alert, f),
            Layer::Authentication => authentication_layer(ctx, v, alert, f),
        }
        if let Verifies::No(why) = &v.verifies {
            if f.observed == Some(Observed::Confirmed) {
                f.evidence.push(format!(
                    "{} rejected it although the node's files say it does not verify ({why}): it is not this node's component, or its configuration differs",
                    side_name(by)
                ));
            } else {
                f.severity = f.severity.max(Severity::Warning);
                f.evidence.push(why.clone());
            }
        }
    }
}

fn tls_layer(ctx: &Context<'_>, v: &Verifier, by: Side, alert: bool, f: &mut Finding) {
    f.observed = Some(if alert {
        Observed::Confirmed
    } else if ctx.completed() {
        f.severity = f.severity.max(Severity::Warning);
        f.message.push_str(&format!(
            "; a verifying {} would reject it, but this {} completed the handshake: it did not verify",
            if by == Side::Client { "Go client dialing this address" } else { "server" },
            side_name(by)
        ));
        if let Verifies::Maybe(why) = &v.verifies {
            f.evidence.push(why.clone());
        }
        Observed::Contradicted
    } else {
        Observed::Unknown
    });
}

fn authentication_layer(ctx: &Context<'_>, v: &Verifier, alert: bool, f: &mut Finding) {
    if alert {
        // The server rejected in the handshake, which kube-apiserver and the kubelet never
        // do: whatever answers on this port verifies like etcd (or is a proxy).
        f.layer = Some(Layer::Tls);
        f.observed = Some(Observed::Confirmed);
        // What it logs is its own: the x509 error is what any Go verifier's message holds.
        if let Some(x509) = &f.x509 {
            f.logged_as = Some(x509.clone());
        }
        f.evidence.push(format!(
            "this server rejected it in the TLS handshake; {} (RequestClientCert) completes the handshake and answers 401, so the server on this port is another program or a proxy in front of it",
            v.name
        ));
        return;
    }
    f.observed = Some(Observed::Unknown);
    if let (true, Some(r)) = (ctx.completed(), ctx.conn.http_response) {
        seen_status(v, r.status, f);
        return;
    }
    if ctx.completed() {
        f.evidence.push(format!(
            "the handshake completed, as it always does with {} (RequestClientCert): the rejection is the 401 answer to every request on this connection, inside the encrypted application data",
            v.name
        ));
    }
}

/// The decrypted first response settles an authentication-layer prediction.
fn seen_status(v: &Verifier, status: u16, f: &mut Finding) {
    if status == 401 {
        f.observed = Some(Observed::Confirmed);
        f.evidence.push(format!(
            "{} answered the first request with 401 Unauthorized (seen in the decrypted application data)",
            v.name
        ));
        return;
    }
    f.observed = Some(Observed::Contradicted);
    f.severity = f.severity.max(Severity::Warning);
    f.message.push_str(&format!(
        "; but the server answered the first request with {status}{}",
        if status == 403 {
            ": the request was authenticated (then forbidden), by a bearer token or another authenticator"
        } else {
            ": the request was authenticated another way (a bearer token), or the server is configured otherwise"
        }
    ));
}

/// A 401 or 403 seen in the decrypted first response that no authentication-layer finding
/// explains: said as what it is.
pub fn unexplained_status(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(r) = ctx.conn.http_response else {
        return;
    };
    let explained = out
        .iter()
        .any(|f| f.layer == Some(Layer::Authentication) && f.observed == Some(Observed::Confirmed));
    if explained || !matches!(r.status, 401 | 403) {
        return;
    }
    let client_cert = ctx.presented(Side::Client).is_some_and(|c| !c.is_empty());
    let (code, message) = if r.status == 401 {
        (
            "http-unauthorized",
            if client_cert {
                "the server answered the first request with 401 Unauthorized: no authenticator accepted this client (the certificate is not trusted by its client CA, and no valid token)".to_string()
            } else {
                "the server answered the first request with 401 Unauthorized: the client sent no certificate and no valid token".to_string()
            },
        )
    } else {
        (
            "http-forbidden",
            "the server answered the first request with 403 Forbidden: the client was authenticated, and the authorizer denied the request (RBAC), not a certificate problem".to_string(),
        )
    };
    let mut f = Finding::new(
        code,
        if r.status == 401 {
            Severity::Error
        } else {
            Severity::Warning
        },
        "connection",
        message,
    )
    .evidence(format!(
        "first response: {} {} (decrypted application data; nothing else of it is read)",
        r.protocol, r.status
    ));
    f.layer = Some(Layer::Authentication);
    f.observed = Some(Observed::Confirmed);
    out.push(f);
}
