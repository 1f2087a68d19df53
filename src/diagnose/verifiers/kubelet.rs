//! The kubelet's port 10250. Sources: the kubelet serves with `tls.RequestClientCert` and
//! its `authentication.x509.clientCAFile` (kubelet `server.go`, `InstallAuthFilter`): the
//! handshake completes, the same x509 authenticator as kube-apiserver verifies per request,
//! and the filter answers 401 and logs "Unable to authenticate the request due to an
//! error". Scrapers without a certificate authenticate with a bearer token (webhook token
//! review). With `serverTLSBootstrap: true` and its CSR not yet approved, the kubelet's
//! `GetCertificate` fails with "no serving certificate available for the kubelet" and Go
//! answers the ClientHello with alert internal_error (80).

use super::super::{Context, Finding, Layer, Severity};
use super::Verifier;
use crate::model::{PresentedCert, Side};

pub fn unable_to_authenticate(leaf: Option<&PresentedCert>, x509: &str) -> String {
    format!(
        "\"Unable to authenticate the request due to an error\" err=\"verifying certificate {} failed: {x509}\"",
        super::certificate_identifier(leaf)
    )
}

const INTERNAL_ERROR: u8 = 80;

pub fn run(ctx: &Context<'_>, _v: &Verifier, out: &mut Vec<Finding>) {
    no_serving_certificate(ctx, out);
}

/// `no-serving-certificate`: the kubelet answered the ClientHello with internal_error and
/// sent no certificate.
fn no_serving_certificate(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.fatal_alert_from(Side::Server) != Some(INTERNAL_ERROR)
        || ctx.chain(Side::Server).is_some_and(|c| !c.is_empty())
    {
        return;
    }
    out.push(
        Finding::new(
            "no-serving-certificate",
            Severity::Error,
            "server",
            "the kubelet has no serving certificate: it answered the ClientHello with internal_error (serverTLSBootstrap is on and its CSR is not approved yet, or the certificate could not be loaded)".into(),
        )
        .evidence("the kubelet sent no ServerHello, only alert internal_error (80)")
        .evidence("kubectl get csr: approve the node's pending kubernetes.io/kubelet-serving CSR")
        .logged("http: TLS handshake error from CLIENT: no serving certificate available for the kubelet".replace("CLIENT", &ctx.conn.client))
        .rejected_by(Side::Server, Layer::Tls),
    );
}
