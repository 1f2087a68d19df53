//! Who verifies each side's certificate on a connection, when, and what it logs: one model
//! per component, told from the ports and the client's role.
//!
//! | verifier | checks | when | source |
//! |---|---|---|---|
//! | Go client (client-go, kubelet → apiserver, apiserver → etcd) | server chain, EKU serverAuth, dialed name | handshake (alert bad_certificate) | crypto/tls `verifyServerCertificate` |
//! | kube-apiserver → kubelet | the kubelet's serving chain only with `--kubelet-certificate-authority` | handshake | kube-apiserver `KubeletConfig.TLSClientConfig` |
//! | kube-apiserver (6443) | client chain, EKU clientAuth | after the handshake: 401 | `tls.RequestClientCert`; k8s.io/apiserver x509 authenticator |
//! | kubelet (10250) | client chain, EKU clientAuth | after the handshake: 401 | kubelet `server.go`, same authenticator |
//! | controller-manager / scheduler (10257/10259) | client chain (delegated) | after the handshake: 401 | `SecureServingInfo`, delegated authentication |
//! | etcd client and peer ports (2379/2380) | client chain, `--peer-cert-allowed-cn` | handshake | `tls.RequireAndVerifyClientCert`; etcd `pkg/transport` |

pub(super) mod apiserver;
mod etcd;
mod go_client;
mod kubelet;
mod secure_port;

use super::anchors::{self, Anchors};
use super::{Context, Finding, Layer};
use crate::correlate::Role;
use crate::model::Side;

/// The component whose behaviour a verifier follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// A Go crypto/tls client verifying the server (client-go and every Go component).
    GoClient,
    /// kube-apiserver dialing a kubelet: verifies only with --kubelet-certificate-authority.
    ApiserverToKubelet,
    /// A client the ports do not name: it may or may not verify.
    UnknownClient,
    /// kube-apiserver's secure port: RequestClientCert, then the x509 authenticator.
    Apiserver,
    /// The kubelet's port 10250: the same.
    Kubelet,
    /// The controller-manager's and scheduler's secure ports: delegated authentication.
    SecurePort,
    /// etcd's client port with --client-cert-auth.
    Etcd,
    /// etcd's peer port with --peer-client-cert-auth.
    EtcdPeer,
    /// A server the ports do not name.
    UnknownServer,
}

/// Does the verifier check the chain at all?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifies {
    Yes,
    /// It does not, and why (a configuration the node's files show).
    No(String),
    /// It may (its configuration is not known).
    Maybe(String),
}

#[derive(Debug, Clone)]
pub struct Verifier {
    pub model: Model,
    /// Who it is, in the report's words ("kube-apiserver", "a Go client").
    pub name: &'static str,
    pub verifies: Verifies,
    pub layer: Layer,
    /// A missing certificate is rejected (etcd); otherwise the client may use a token.
    pub requires_certificate: bool,
    /// The extended key usage Go's Verify asks of the chain.
    pub eku: &'static str,
    /// The CAs it trusts (configured, or inferred and saying from what).
    pub anchors: Anchors,
}

/// The verifier of each side's chain: `of(Side::Client)` is the server, which checks the
/// client's chain.
pub struct Verifiers {
    pub of_client: Verifier,
    pub of_server: Verifier,
}

impl Verifiers {
    pub fn of(&self, presenter: Side) -> &Verifier {
        match presenter {
            Side::Client => &self.of_client,
            Side::Server => &self.of_server,
        }
    }
}

pub fn for_connection(ctx: &Context<'_>) -> Verifiers {
    Verifiers {
        of_client: server_model(ctx),
        of_server: client_model(ctx),
    }
}

/// The server, as the verifier of the client's chain.
fn server_model(ctx: &Context<'_>) -> Verifier {
    let (model, name, layer, requires) = match ctx.conn.server_role {
        Some(Role::KubeApiserver) => (
            Model::Apiserver,
            "kube-apiserver",
            Layer::Authentication,
            false,
        ),
        Some(Role::KubeletServing) => (Model::Kubelet, "the kubelet", Layer::Authentication, false),
        Some(Role::ControllerManagerServing) => (
            Model::SecurePort,
            "kube-controller-manager",
            Layer::Authentication,
            false,
        ),
        Some(Role::SchedulerServing) => (
            Model::SecurePort,
            "kube-scheduler",
            Layer::Authentication,
            false,
        ),
        Some(Role::EtcdServer) => (Model::Etcd, "etcd", Layer::Tls, true),
        Some(Role::EtcdPeer) => (Model::EtcdPeer, "etcd (peer port)", Layer::Tls, true),
        _ => (Model::UnknownServer, "the server", Layer::Tls, false),
    };
    Verifier {
        model,
        name,
        verifies: if ctx.conn.certificate_request.is_some() {
            Verifies::Yes
        } else {
            Verifies::No("it sent no CertificateRequest".into())
        },
        layer,
        requires_certificate: requires,
        eku: "clientAuth",
        anchors: anchors::of_server(ctx, model),
    }
}

/// The client, as the verifier of the server's chain.
fn client_model(ctx: &Context<'_>) -> Verifier {
    let go = |name| (Model::GoClient, name, Verifies::Yes);
    let (model, name, verifies) = match ctx.conn.role {
        Some(Role::KubeletClient) => go("the kubelet"),
        Some(Role::Admin) => go("kubectl"),
        Some(Role::ControllerManager) => go("kube-controller-manager"),
        Some(Role::Scheduler) => go("kube-scheduler"),
        Some(Role::ApiserverToEtcd) => go("kube-apiserver"),
        Some(Role::EtcdHealthcheck) => go("the etcd health check"),
        Some(Role::EtcdPeer) => go("an etcd peer"),
        Some(Role::FrontProxy) => go("kube-apiserver (aggregator)"),
        Some(Role::ApiserverToKubelet) => (
            Model::ApiserverToKubelet,
            "kube-apiserver",
            go_client::apiserver_verifies_kubelets(ctx.inventory),
        ),
        _ => (
            Model::UnknownClient,
            "the client",
            Verifies::Maybe("the client is not known to be a Kubernetes component".into()),
        ),
    };
    Verifier {
        model,
        name,
        verifies,
        layer: Layer::Tls,
        requires_certificate: true,
        eku: "serverAuth",
        anchors: anchors::of_client(ctx, model),
    }
}

/// The checks only one component makes.
pub fn run_component_rules(ctx: &Context<'_>, v: &Verifiers, out: &mut Vec<Finding>) {
    match v.of_client.model {
        Model::Apiserver => apiserver::run(ctx, &v.of_client, out),
        Model::Kubelet => kubelet::run(ctx, &v.of_client, out),
        Model::Etcd | Model::EtcdPeer => etcd::run(ctx, &v.of_client, out),
        _ => {}
    }
    if matches!(v.of_client.model, Model::SecurePort) {
        secure_port::run(ctx, out);
    }
    no_client_certificate(ctx, &v.of_client, out);
    ca_announced(ctx, out);
}

/// `ca-not-announced`: the client's issuer is not among the CertificateRequest's
/// certificate_authorities (RFC 5246 §7.4.4, RFC 8446 §4.2.4). Go clients with one
/// configured certificate send it anyway; other clients may send none.
fn ca_announced(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(cr) = &ctx.conn.certificate_request else {
        return;
    };
    let Some(issuer) = ctx.leaf(Side::Client).and_then(|c| c.issuer.as_ref()) else {
        return;
    };
    // Go's SupportsCertificate: any certificate of the chain issued by an announced CA.
    let chain = ctx.presented(Side::Client).unwrap_or(&[]);
    let announced = |c: &crate::model::PresentedCert| {
        c.issuer.as_ref().is_some_and(|i| cr.ca_names.contains(i))
    };
    if cr.ca_names.is_empty() || chain.iter().any(announced) {
        return;
    }
    out.push(
        Finding::new(
            "ca-not-announced",
            super::Severity::Warning,
            "client[0]",
            format!("the client certificate's issuer {issuer} is not among the CAs the server announced"),
        )
        .evidence(format!("CertificateRequest CA names: {}", cr.ca_names.join("; "))),
    );
}

/// `no-client-certificate`: the server asked and the client sent none. Source: Go
/// crypto/tls with RequireAndVerifyClientCert ("tls: client didn't provide a
/// certificate"; TLS 1.3 alert certificate_required). etcd requires one; kube-apiserver and
/// the kubelet (RequestClientCert) accept a client without one, which then authenticates
/// with a token (Prometheus, metrics-server).
fn no_client_certificate(ctx: &Context<'_>, v: &Verifier, out: &mut Vec<Finding>) {
    let c = ctx.conn;
    if c.certificate_request.is_none() || ctx.chain(Side::Client).is_some_and(|ch| !ch.is_empty()) {
        return;
    }
    let sent_none = match &c.client_certificates {
        Some(v) => v.is_empty(),
        // Not seen: only meaningful when nothing is missing and the client went on with its
        // flight (a client that rejected the server's certificate never sends one).
        None => {
            c.visibility != crate::model::Visibility::Encrypted
                && c.gaps.is_empty()
                && ctx.client_flight_seen
        }
    };
    if !sent_none {
        return;
    }
    // A server that aborted the handshake required one, whatever component it claims to be.
    let rejected_in_handshake = ctx.fatal_alert_from(Side::Server).is_some();
    if v.requires_certificate || rejected_in_handshake {
        out.push(
            Finding::new(
                "no-client-certificate",
                super::Severity::Error,
                "client",
                if v.requires_certificate {
                    format!("{} requires a client certificate, and the client sent none", v.name)
                } else {
                    format!("the server required a client certificate and aborted the handshake without one ({} would accept the client and expect a token: the server on this port is another program or a proxy)", v.name)
                },
            )
            .logged("tls: client didn't provide a certificate")
            .rejected_by(Side::Server, Layer::Tls),
        );
    } else {
        out.push(
            Finding::new(
                "no-client-certificate",
                super::Severity::Info,
                "client",
                format!("{} asked for a client certificate and the client sent none: it must authenticate another way (a bearer token), or get 401", v.name),
            ),
        );
    }
}

impl Finding {
    /// The verifier's log line for rejecting `presenter`'s chain with the x509 error `x509`.
    pub fn rejection_logged(
        mut self,
        ctx: &Context<'_>,
        v: &Verifier,
        presenter: Side,
        x509: &str,
    ) -> Self {
        self.logged_as = Some(rejection_log(ctx, v, presenter, x509));
        self.x509 = Some(x509.to_string());
        self
    }
}

/// What the verifier logs when it rejects `presenter`'s chain with the x509 error `x509`.
pub fn rejection_log(ctx: &Context<'_>, v: &Verifier, presenter: Side, x509: &str) -> String {
    let leaf = ctx.leaf(presenter);
    match v.model {
        Model::Apiserver | Model::SecurePort => apiserver::unable_to_authenticate(ctx, leaf, x509),
        Model::Kubelet => kubelet::unable_to_authenticate(leaf, x509),
        Model::Etcd | Model::EtcdPeer => etcd::rejected_connection(ctx, x509),
        // Go clients: client-go and the components wrap it ("Get \"https://…\": x509: …";
        // Go ≥ 1.20 adds "tls: failed to verify certificate: "): the x509 text is what
        // every version has in common.
        Model::GoClient | Model::ApiserverToKubelet | Model::UnknownClient => x509.to_string(),
        Model::UnknownServer => format!("tls: failed to verify certificate: {x509}"),
    }
}

/// The x509 authenticator's `certificateIdentifier` (k8s.io/apiserver
/// pkg/authentication/request/x509): serial in decimal, key identifiers in colon-separated
/// upper-case hex, empty when absent.
pub fn certificate_identifier(c: Option<&crate::model::PresentedCert>) -> String {
    let Some(c) = c else {
        return "SN=?, SKID=, AKID=".into();
    };
    let colon = |h: &Option<String>| {
        h.as_deref()
            .unwrap_or("")
            .as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":")
    };
    format!(
        "SN={}, SKID={}, AKID={}",
        c.serial
            .as_deref()
            .map(hex_to_decimal)
            .unwrap_or_else(|| "?".into()),
        colon(&c.subject_key_id),
        colon(&c.authority_key_id)
    )
}

/// A hexadecimal serial (any length) in decimal, as Go's `%d` of a big.Int prints it.
fn hex_to_decimal(hex: &str) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base-10 digits
    for c in hex.chars().filter(|c| c.is_ascii_hexdigit()) {
        let mut carry = c.to_digit(16).unwrap_or(0);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 16 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

#[cfg(test)]
mod tests {
    use super::hex_to_decimal;

    #[test]
    fn serials_print_in_decimal_as_go_does() {
        assert_eq!(hex_to_decimal("00"), "0");
        assert_eq!(hex_to_decimal("ff"), "255");
        assert_eq!(hex_to_decimal("0100"), "256");
        // 2^64 + 1
        assert_eq!(hex_to_decimal("010000000000000001"), "18446744073709551617");
    }
}
