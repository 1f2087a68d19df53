//! The controller-manager's and scheduler's secure ports (10257/10259). Sources:
//! k8s.io/apiserver `SecureServingOptions.MaybeDefaultWithSelfSignedCerts`: without
//! `--tls-cert-file` (and with no `--cert-dir` files) they serve a certificate made at start
//! by client-go `cert.GenerateSelfSignedCertKeyWithFixtures("localhost", …)`: a CA
//! `localhost-ca@<unix time>` and a leaf `localhost@<unix time>` signed by it, kept in
//! memory. Client certificates are checked by delegated authentication (the apiserver's
//! client CA), after the handshake.

use super::super::{cn, Context, Finding, Severity};
use crate::model::Side;

/// A serving certificate made in memory at start: nothing on disk holds it, it changes
/// at every restart, and scrapers must skip verification or pin it.
pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(leaf) = ctx.leaf(Side::Server) else {
        return;
    };
    if !in_memory(leaf.subject.as_deref(), leaf.issuer.as_deref()) {
        return;
    }
    out.push(Finding::new(
        "self-signed-serving",
        Severity::Info,
        "server[0]",
        "the serving certificate is the one the component makes in memory at start (no --tls-cert-file): it is in no file, its CA is in no trust store, and it changes at every restart".into(),
    ));
}

fn in_memory(subject: Option<&str>, issuer: Option<&str>) -> bool {
    let (Some(leaf), Some(ca)) = (subject.and_then(cn), issuer.and_then(cn)) else {
        return false;
    };
    let stamped = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    };
    stamped(leaf, "localhost@") && (stamped(ca, "localhost-ca@") || ca == leaf)
}

#[cfg(test)]
mod tests {
    use super::in_memory;

    #[test]
    fn the_in_memory_serving_certificate_is_recognised() {
        assert!(in_memory(
            Some("CN=localhost@1732867200"),
            Some("CN=localhost-ca@1732867200")
        ));
        assert!(in_memory(
            Some("CN=localhost@1732867200"),
            Some("CN=localhost@1732867200")
        ));
        assert!(!in_memory(Some("CN=localhost"), Some("CN=kubernetes")));
        assert!(!in_memory(
            Some("CN=localhost@soon"),
            Some("CN=localhost-ca@1")
        ));
        assert!(!in_memory(
            Some("CN=kube-controller-manager"),
            Some("CN=kubernetes")
        ));
    }
}
