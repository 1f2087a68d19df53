//! The rules. Each says where its behaviour comes from, so that a reader can check it
//! against upstream: Go's crypto/x509 and crypto/tls (what every Kubernetes component
//! runs), and the Kubernetes documentation pages "PKI certificates and requirements",
//! "Authenticating", "Using Node Authorization" and "Configure the Aggregation Layer".

use std::net::IpAddr;

use super::trust::{self, Verdict};
use super::{Context, Finding, Severity};
use crate::correlate::Role;
use crate::local::LocalCert;
use crate::report::model::{Handshake, PresentedCert, Side, Visibility};
use crate::x509::rfc3339;

/// Days before expiry (at capture time) from which `expires-soon` warns (when less than
/// 30 % of the lifetime is left, too). kubeadm renews control-plane certificates on
/// upgrade; the kubelet rotates its own at 70–90 % of their lifetime.
const EXPIRES_SOON_DAYS: i64 = 30;

pub fn run(ctx: &Context<'_>) -> Vec<Finding> {
    let mut f = Vec::new();
    validity(ctx, &mut f);
    key_usage(ctx, &mut f);
    server_name(ctx, &mut f);
    trust_rule(ctx, &mut f);
    ca_announced(ctx, &mut f);
    identity(ctx, &mut f);
    client_certificate(ctx, &mut f);
    configured_file(ctx, &mut f);
    visibility(ctx, &mut f);
    alerts(ctx, &mut f);
    f
}

fn finding(
    code: &'static str,
    severity: Severity,
    subject: impl Into<String>,
    message: String,
) -> Finding {
    Finding {
        code,
        severity,
        subject: subject.into(),
        message,
        evidence: Vec::new(),
        logged_as: None,
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Client => "client",
        Side::Server => "server",
    }
}

fn chains<'a>(ctx: &'a Context<'_>) -> [(Side, &'a Option<Vec<PresentedCert>>); 2] {
    [
        (Side::Server, &ctx.conn.server_certificates),
        (Side::Client, &ctx.conn.client_certificates),
    ]
}

fn leaf(certs: &Option<Vec<PresentedCert>>) -> Option<&PresentedCert> {
    certs.as_ref().and_then(|v| v.first())
}

fn cn(subject: &str) -> Option<&str> {
    subject.split(',').find_map(|p| p.strip_prefix("CN="))
}

fn orgs(subject: &str) -> Vec<&str> {
    subject
        .split(',')
        .filter_map(|p| p.strip_prefix("O="))
        .collect()
}

/// `expired`, `not-yet-valid`, `expires-soon`: validity judged at the capture time.
/// Source: Go crypto/x509 `Certificate.isValid` (CertificateInvalidError, reason Expired),
/// message "x509: certificate has expired or is not yet valid: current time %s is after
/// %s" / "is before %s", times in RFC 3339.
fn validity(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let t = ctx.capture_time;
    // Formatted once per connection, and only when some certificate needs it.
    let mut now: Option<String> = None;
    for (side, certs) in chains(ctx) {
        for (i, c) in certs.iter().flatten().enumerate() {
            let Some((nb, na)) = c.validity_unix else {
                continue;
            };
            let expires_soon = na.saturating_sub(t) < EXPIRES_SOON_DAYS * 86400
                // Short-lived certificates (the kubelet's, 10 days in tests, a year by
                // default) are rotated at 70–90 % of their life: warn only when less than
                // 30 % is left as well.
                && na.saturating_sub(t).saturating_mul(10) < na.saturating_sub(nb).saturating_mul(3);
            if t <= na && t >= nb && !expires_soon {
                continue;
            }
            let now = now.get_or_insert_with(|| rfc3339(t)).as_str();
            let subject = format!("{}[{i}]", side_name(side));
            let name = c.subject.as_deref().unwrap_or_default();
            // The summary's own RFC 3339 strings, as the findings quote them.
            let not_after = c.not_after.as_deref().unwrap_or_default();
            let not_before = c.not_before.as_deref().unwrap_or_default();
            if t > na {
                let mut f = finding(
                    "expired",
                    Severity::Error,
                    subject,
                    format!(
                        "{name} had expired at capture time ({} days after its notAfter {not_after})",
                        (t - na) / 86400,
                    ),
                );
                f.evidence
                    .push(format!("capture time {now}, notAfter {not_after}"));
                f.logged_as = Some(format!(
                    "x509: certificate has expired or is not yet valid: current time {now} is after {not_after}"
                ));
                out.push(f);
            } else if t < nb {
                let mut f = finding(
                    "not-yet-valid",
                    Severity::Error,
                    subject,
                    format!(
                        "{name} was not yet valid at capture time (notBefore {not_before}); check the clocks"
                    ),
                );
                f.evidence
                    .push(format!("capture time {now}, notBefore {not_before}"));
                f.logged_as = Some(format!(
                    "x509: certificate has expired or is not yet valid: current time {now} is before {not_before}"
                ));
                out.push(f);
            } else {
                let days = na.saturating_sub(t) / 86400;
                let mut f = finding(
                    "expires-soon",
                    Severity::Warning,
                    subject,
                    format!("{name} expires in {days} day(s) after the capture ({not_after})"),
                );
                f.evidence
                    .push(format!("capture time {now}, notAfter {not_after}"));
                out.push(f);
            }
        }
    }
}

fn has_eku(c: &PresentedCert, eku: &str) -> bool {
    // No extendedKeyUsage extension means any usage (RFC 5280 §4.2.1.12; Go agrees).
    c.extended_key_usage.is_empty()
        || c.extended_key_usage
            .iter()
            .any(|e| e == eku || e == "anyExtendedKeyUsage")
}

/// `incompatible-key-usage`. Source: Go crypto/x509 `Verify` with
/// `KeyUsages: [ExtKeyUsageClientAuth]` (crypto/tls server verifying a client) or
/// `[ExtKeyUsageServerAuth]` (client verifying a server): "x509: certificate specifies an
/// incompatible key usage". The kubelet's certificate on 10250 used as its client
/// certificate too needs both. Go ignores keyUsage bits; OpenSSL and RFC 5246 §7.4.2 do
/// not, so a keyUsage that forbids the key exchange is a warning.
fn key_usage(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    const LOGGED: &str = "x509: certificate specifies an incompatible key usage";
    if let Some(c) = leaf(&ctx.conn.client_certificates) {
        if !has_eku(c, "clientAuth") {
            let mut f = finding(
                "incompatible-key-usage",
                Severity::Error,
                "client[0]",
                format!(
                    "client certificate {} lacks extended key usage clientAuth",
                    c.subject.clone().unwrap_or_default()
                ),
            );
            f.evidence.push(format!(
                "extendedKeyUsage: {}",
                c.extended_key_usage.join(", ")
            ));
            f.logged_as = Some(LOGGED.into());
            out.push(f);
        }
    }
    if let Some(c) = leaf(&ctx.conn.server_certificates) {
        let both = ctx.conn.server_role == Some(Role::KubeletServing)
            && c.subject
                .as_deref()
                .and_then(cn)
                .is_some_and(|n| n.starts_with("system:node:"));
        let mut missing = Vec::new();
        if !has_eku(c, "serverAuth") {
            missing.push("serverAuth");
        }
        if both && !has_eku(c, "clientAuth") {
            missing.push("clientAuth (the kubelet's certificate is also its client certificate)");
        }
        if !missing.is_empty() {
            let mut f = finding(
                "incompatible-key-usage",
                Severity::Error,
                "server[0]",
                format!(
                    "server certificate {} lacks extended key usage {}",
                    c.subject.clone().unwrap_or_default(),
                    missing.join(" and ")
                ),
            );
            f.evidence.push(format!(
                "extendedKeyUsage: {}",
                c.extended_key_usage.join(", ")
            ));
            f.logged_as = Some(LOGGED.into());
            out.push(f);
        }
        // keyUsage against the key exchange (TLS 1.2) / signature (TLS 1.3).
        if !c.key_usage.is_empty() {
            let suite = ctx.conn.cipher_suite.as_deref().unwrap_or("");
            let needs = if suite.starts_with("TLS_RSA_") {
                "keyEncipherment"
            } else {
                "digitalSignature"
            };
            if !suite.is_empty() && !c.key_usage.iter().any(|k| k == needs) {
                let mut f = finding(
                    "incompatible-key-usage",
                    Severity::Warning,
                    "server[0]",
                    format!("server certificate keyUsage lacks {needs}, which {suite} needs (Go ignores keyUsage; OpenSSL rejects it)"),
                );
                f.evidence
                    .push(format!("keyUsage: {}", c.key_usage.join(", ")));
                out.push(f);
            }
        }
    }
}

/// `no-ip-san` / `name-mismatch`. Source: Go crypto/x509 `Certificate.VerifyHostname` and
/// `HostnameError.Error`: a client that dialed an IP address (Go then sends no SNI) needs
/// that IP in the IP SANs ("x509: cannot validate certificate for %s because it doesn't
/// contain any IP SANs", or "x509: certificate is valid for %s, not %s"); a host name must
/// match a DNS SAN (Go ignores the CN since 1.15: "x509: certificate relies on legacy Common
/// Name field, use SANs instead").
fn server_name(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(c) = leaf(&ctx.conn.server_certificates) else {
        return;
    };
    let dns: Vec<&str> = c
        .san
        .iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .collect();
    let ips: Vec<&str> = c.san.iter().filter_map(|s| s.strip_prefix("IP:")).collect();
    let sni = ctx
        .conn
        .sni
        .as_deref()
        .filter(|s| s.parse::<IpAddr>().is_err());
    let mut f = match sni {
        None => {
            let ip = ctx.server_ip;
            if ips.iter().any(|s| s.parse::<IpAddr>().ok() == Some(ip)) {
                return;
            }
            if ips.is_empty() {
                let mut f = finding(
                    "no-ip-san",
                    Severity::Error,
                    "server[0]",
                    format!("the client dialed {ip} (no SNI), and the server certificate has no IP SANs"),
                );
                f.logged_as = Some(format!("x509: cannot validate certificate for {ip} because it doesn't contain any IP SANs"));
                f
            } else {
                let mut f = finding(
                    "name-mismatch",
                    Severity::Error,
                    "server[0]",
                    format!("the client dialed {ip} (no SNI), which is not among the server certificate's IP SANs"),
                );
                f.logged_as = Some(format!(
                    "x509: certificate is valid for {}, not {ip}",
                    ips.join(", ")
                ));
                f
            }
        }
        Some(name) => {
            if dns.iter().any(|d| host_matches(d, name)) {
                return;
            }
            let mut f = finding(
                "name-mismatch",
                Severity::Error,
                "server[0]",
                format!("the client asked for {name} (SNI), which no DNS SAN of the server certificate covers"),
            );
            f.logged_as = Some(if c.san.is_empty() {
                "x509: certificate relies on legacy Common Name field, use SANs instead".into()
            } else if dns.is_empty() {
                format!(
                    "x509: certificate is valid for {}, not {name}",
                    c.subject.as_deref().and_then(cn).unwrap_or("")
                )
            } else {
                format!(
                    "x509: certificate is valid for {}, not {name}",
                    dns.join(", ")
                )
            });
            f
        }
    };
    f.evidence.push(format!(
        "SANs: {}",
        if c.san.is_empty() {
            "none".to_string()
        } else {
            c.san.join(", ")
        }
    ));
    f.evidence.push(format!(
        "dialed {} as captured (a Service IP or NAT in between changes what the client dialed)",
        ctx.conn.server
    ));
    let client_rejected = ctx
        .conn
        .alerts
        .iter()
        .any(|a| a.from == Side::Client && a.level == Some("fatal"));
    if ctx.conn.role == Some(Role::ApiserverToKubelet) && !client_rejected {
        if let Some(inv) = ctx.inventory.filter(|i| !i.flags.is_empty()) {
            if inv
                .flag("kube-apiserver", "kubelet-certificate-authority")
                .is_none()
            {
                f.severity = Severity::Warning;
                f.evidence.push(
                    "the apiserver manifest sets no --kubelet-certificate-authority, so the apiserver itself does not verify the kubelet's serving certificate; clients that do (metrics-server, kubectl port-forward through a proxy) fail"
                        .into(),
                );
            }
        }
    }
    out.push(f);
}

/// DNS name matching as Go's `matchHostnames`: case-insensitive, a leading `*.` matches
/// exactly one label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => p == h,
    }
}

/// The CAs a verifier is configured to trust, from the node's files.
fn anchors<'a>(ctx: &Context<'a>, verifier: Role) -> Vec<&'a LocalCert> {
    let Some(inv) = ctx.inventory else {
        return Vec::new();
    };
    let kubeconfig_ca = |file: &str, c: &LocalCert| {
        (c.path.ends_with(&format!("/{file}"))
            && c.entry
                .as_deref()
                .is_some_and(|e| e.starts_with("clusters[")))
            || c.has_route(&format!("{file}#clusters["))
    };
    inv.certs
        .iter()
        .filter(|c| match verifier {
            Role::KubeApiserver => c.has_route("flag:kube-apiserver --client-ca-file"),
            Role::KubeletServing => c.has_route("#authentication.x509.clientCAFile"),
            Role::EtcdServer => c.has_route("flag:etcd --trusted-ca-file"),
            Role::EtcdPeer => c.has_route("flag:etcd --peer-trusted-ca-file"),
            Role::KubeletClient => kubeconfig_ca("kubelet.conf", c),
            Role::Admin => kubeconfig_ca("admin.conf", c) || kubeconfig_ca("super-admin.conf", c),
            Role::ControllerManager => kubeconfig_ca("controller-manager.conf", c),
            Role::Scheduler => kubeconfig_ca("scheduler.conf", c),
            Role::ApiserverToKubelet => {
                c.has_route("flag:kube-apiserver --kubelet-certificate-authority")
            }
            Role::ApiserverToEtcd => c.has_route("flag:kube-apiserver --etcd-cafile"),
            Role::EtcdHealthcheck => c.has_route("flag:etcd --trusted-ca-file"),
            _ => false,
        })
        .collect()
}

/// `unknown-authority`: the chain, verified by signature, does not lead to a CA the peer
/// trusts. Source: Go crypto/x509 `UnknownAuthorityError` ("x509: certificate signed by
/// unknown authority"); crypto/tls then sends alert bad_certificate, which the other side
/// logs as "remote error: tls: bad certificate" (kube-apiserver: "http: TLS handshake
/// error from ADDR: ..."). Trust comes from the local files: kubeconfig
/// certificate-authority(-data) for clients, --client-ca-file for the apiserver,
/// clientCAFile for the kubelet, --trusted-ca-file for etcd.
fn trust_rule(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let sides = [
        (Side::Client, ctx.client_chain, ctx.conn.server_role),
        (Side::Server, ctx.server_chain, ctx.conn.role),
    ];
    for (side, chain, verifier) in sides {
        let (Some(chain), Some(verifier)) = (chain, verifier) else {
            continue;
        };
        if chain.is_empty() {
            continue;
        }
        let anchors = anchors(ctx, verifier);
        if anchors.is_empty() {
            continue;
        }
        let Some(Verdict::Unknown {
            stopped_at,
            issuer,
            mut evidence,
        }) = trust::verify(chain, &anchors)
        else {
            continue;
        };
        // A CA among the local files that does sign it (e.g. the rogue one), if any.
        if let Some(inv) = ctx.inventory {
            let all: Vec<&LocalCert> = inv.certs.iter().filter(|c| c.keys.is_ca).collect();
            if let Some(Verdict::Trusted(ca)) = trust::verify(chain, &all) {
                evidence.push(format!(
                    "it verifies with {} (key sha256 {}; found locally, not trusted by the {})",
                    ca.location(),
                    crate::x509::sha256_hex(&ca.keys.spki_der),
                    verifier_word(side)
                ));
            }
        }
        let peer = side_name(side);
        let mut f = finding(
            "unknown-authority",
            Severity::Error,
            format!("{peer}[0]"),
            format!(
                "the {peer}'s chain ({stopped_at}, issued by {issuer}) does not verify against the CA the {} trusts ({})",
                verifier_word(side),
                anchors.iter().map(|a| a.location()).collect::<Vec<_>>().join(", ")
            ),
        );
        f.evidence = evidence;
        f.logged_as = Some(match side {
            Side::Server => format!(
                "x509: certificate signed by unknown authority / http: TLS handshake error from {}: remote error: tls: bad certificate",
                ctx.conn.client
            ),
            Side::Client => format!(
                "http: TLS handshake error from {}: tls: failed to verify certificate: x509: certificate signed by unknown authority / remote error: tls: bad certificate",
                ctx.conn.client
            ),
        });
        out.push(f);
    }
}

fn verifier_word(presenter: Side) -> &'static str {
    match presenter {
        Side::Client => "server",
        Side::Server => "client",
    }
}

/// `ca-not-announced`: the client's issuer is not among the CertificateRequest's
/// certificate_authorities (RFC 5246 §7.4.4, RFC 8446 §4.2.4). Go clients with one
/// configured certificate send it anyway; other clients may send none.
fn ca_announced(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(cr) = &ctx.conn.certificate_request else {
        return;
    };
    let Some(c) = leaf(&ctx.conn.client_certificates) else {
        return;
    };
    let Some(issuer) = &c.issuer else { return };
    if cr.ca_names.is_empty() || cr.ca_names.contains(issuer) {
        return;
    }
    let mut f = finding(
        "ca-not-announced",
        Severity::Warning,
        "client[0]",
        format!(
            "the client certificate's issuer {issuer} is not among the CAs the server announced"
        ),
    );
    f.evidence.push(format!(
        "CertificateRequest CA names: {}",
        cr.ca_names.join("; ")
    ));
    out.push(f);
}

/// `identity`: what the apiserver takes the client to be. Sources: Kubernetes
/// "Authenticating" (X509 client certs: user = CN, groups = O), "Using Node Authorization"
/// (CN system:node:<name> and O system:nodes), the system:masters group bound to
/// cluster-admin, and "Configure the Aggregation Layer" (front-proxy CN in
/// --requestheader-allowed-names: "x509: subject with cn=%s is not in the allowed list").
fn identity(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.conn.server_role != Some(Role::KubeApiserver) {
        return;
    }
    let Some(c) = leaf(&ctx.conn.client_certificates) else {
        return;
    };
    let Some(subject) = &c.subject else { return };
    let user = cn(subject).unwrap_or("");
    let groups = orgs(subject);
    let mut info = finding(
        "identity",
        Severity::Info,
        "client[0]",
        format!(
            "the apiserver authenticates this client as user \"{user}\", groups [{}]",
            groups.join(", ")
        ),
    );
    if groups.contains(&"system:masters") {
        info.evidence
            .push("member of system:masters: bound to cluster-admin, bypasses RBAC".into());
    }
    out.push(info);
    let node_user = user.starts_with("system:node:");
    if node_user != groups.contains(&"system:nodes") {
        let mut f = finding(
            "identity",
            Severity::Error,
            "client[0]",
            if node_user {
                format!("{user} is a node identity but its groups lack system:nodes: the Node authorizer will deny it (and the kubelet cannot rotate its certificate)")
            } else {
                format!("in group system:nodes but the user {user} is not system:node:<name>: the Node authorizer will deny it")
            },
        );
        f.evidence.push(format!("subject {subject}"));
        f.logged_as = Some(format!("is forbidden: User \"{user}\" cannot"));
        out.push(f);
    }
    if let (true, Some(inv)) = (node_user, ctx.inventory) {
        let this_node: Vec<String> = inv
            .certs
            .iter()
            .filter(|l| Role::KubeletClient.is_configured(l))
            .filter_map(|l| cn(&l.keys.subject).map(str::to_string))
            .filter(|n| n.starts_with("system:node:"))
            .collect();
        if !this_node.is_empty() && !this_node.iter().any(|n| n == user) {
            let mut f = finding(
                "identity",
                Severity::Warning,
                "client[0]",
                format!(
                    "{user} does not name this node ({}), per the kubelet's files",
                    this_node[0]
                ),
            );
            f.evidence.push(
                "the Node authorizer only lets a kubelet read and write its own Node object".into(),
            );
            out.push(f);
        }
    }
    // Front proxy: checked against --requestheader-client-ca-file and allowed names.
    let Some(inv) = ctx.inventory else { return };
    let proxy_cas: Vec<&LocalCert> = inv
        .certs
        .iter()
        .filter(|c| c.has_route("flag:kube-apiserver --requestheader-client-ca-file"))
        .collect();
    let client_cas: Vec<&LocalCert> = inv
        .certs
        .iter()
        .filter(|c| c.has_route("flag:kube-apiserver --client-ca-file"))
        .collect();
    if proxy_cas
        .iter()
        .any(|p| client_cas.iter().any(|c| c.keys.sha256 == p.keys.sha256))
    {
        let mut f = finding(
            "identity",
            Severity::Warning,
            "connection",
            "--client-ca-file and --requestheader-client-ca-file name the same CA: ordinary client certificates are taken for front-proxy certificates".into(),
        );
        f.logged_as = Some(format!(
            "x509: subject with cn={user} is not in the allowed list"
        ));
        out.push(f);
    }
    if let (Some(chain), false) = (ctx.client_chain, proxy_cas.is_empty()) {
        if let Some(Verdict::Trusted(_)) = trust::verify(chain, &proxy_cas) {
            let allowed: Vec<&str> = inv
                .flag("kube-apiserver", "requestheader-allowed-names")
                .map(|f| f.value.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            if !allowed.is_empty() && !allowed.contains(&user) {
                let mut f = finding(
                    "identity",
                    Severity::Error,
                    "client[0]",
                    format!("front-proxy client certificate CN {user} is not in --requestheader-allowed-names ({})", allowed.join(",")),
                );
                f.logged_as = Some(format!(
                    "x509: subject with cn={user} is not in the allowed list"
                ));
                out.push(f);
            }
        }
    }
}

/// `no-client-certificate`: the server asked and the client sent none. Source: Go
/// crypto/tls with ClientAuth RequireAndVerifyClientCert: "tls: client didn't provide a
/// certificate" (TLS 1.3 alert certificate_required). The kubelet (10250) and etcd
/// (2379/2380, --client-cert-auth) require one; the apiserver (6443) also accepts tokens.
fn client_certificate(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let c = ctx.conn;
    if c.certificate_request.is_none() || c.visibility == Visibility::Encrypted {
        return;
    }
    let sent_none = match &c.client_certificates {
        Some(v) => v.is_empty(),
        // Not seen: only meaningful when nothing is missing and the client went on with its
        // flight (a client that rejected the server's certificate never sends one).
        None => c.gaps.is_empty() && ctx.client_flight_seen,
    };
    if !sent_none {
        return;
    }
    let required = matches!(
        c.server_role,
        Some(Role::KubeletServing | Role::EtcdServer | Role::EtcdPeer)
    );
    let severity = if c.handshake == Handshake::Failed || required {
        Severity::Error
    } else {
        Severity::Info
    };
    let mut f = finding(
        "no-client-certificate",
        severity,
        "client",
        if required {
            "the server asked for a client certificate, which this port requires, and the client sent none".into()
        } else {
            "the server asked for a client certificate and the client sent none (it must authenticate another way, e.g. a token)".into()
        },
    );
    f.logged_as = Some("tls: client didn't provide a certificate".into());
    out.push(f);
}

/// `wrong-file` and `stale-rotation`: the certificate presented is not the one the
/// component's configuration names. Source: kubelet client certificate rotation
/// (RotateKubeletClientCertificate; `rotateCertificates` in config.yaml): with rotation on
/// the kubelet uses kubelet-client-current.pem, a symlink to the newest
/// kubelet-client-<timestamp>.pem; with it off, the certificate in kubelet.conf.
fn configured_file(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(inv) = ctx.inventory else { return };
    for (side, role) in [
        (Side::Client, ctx.conn.role),
        (Side::Server, ctx.conn.server_role),
    ] {
        let Some(role) = role else { continue };
        let certs = if side == Side::Client {
            &ctx.conn.client_certificates
        } else {
            &ctx.conn.server_certificates
        };
        let Some(presented) = leaf(certs) else {
            continue;
        };
        let configured: Vec<&LocalCert> = if role == Role::KubeletClient {
            let current: Vec<&LocalCert> = inv
                .certs
                .iter()
                .filter(|c| c.has_route("kubelet-client-current.pem"))
                .collect();
            let conf: Vec<&LocalCert> = inv
                .certs
                .iter()
                .filter(|c| {
                    c.path.ends_with("kubelet.conf")
                        && c.entry.as_deref().is_some_and(|e| e.starts_with("users["))
                })
                .collect();
            if inv.kubelet_rotate_certificates.unwrap_or(true) && !current.is_empty() {
                current
            } else {
                conf
            }
        } else {
            inv.certs
                .iter()
                .filter(|c| !c.keys.is_ca && role.is_configured(c))
                .collect()
        };
        if configured.is_empty()
            || configured
                .iter()
                .any(|c| c.summary.sha256 == presented.sha256)
        {
            continue;
        }
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
        let mut f = finding(
            "wrong-file",
            Severity::Warning,
            format!("{}[0]", side_name(side)),
            format!(
                "{} presented {what}, but its configuration names {}",
                side_name(side),
                configured
                    .iter()
                    .map(|c| c.location())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        for c in &configured {
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
        out.push(f);
    }
    if ctx.conn.role == Some(Role::KubeletClient) {
        stale_rotation(inv, out);
    }
}

fn stale_rotation(inv: &crate::local::Inventory, out: &mut Vec<Finding>) {
    let rotated = |c: &&LocalCert| {
        let name = c.path.rsplit('/').next().unwrap_or("");
        name.starts_with("kubelet-client-2") && name.ends_with(".pem")
    };
    let newest = inv
        .certs
        .iter()
        .filter(rotated)
        .max_by(|a, b| a.path.cmp(&b.path));
    let current = inv
        .certs
        .iter()
        .filter(rotated)
        .find(|c| c.has_route("kubelet-client-current.pem"));
    if let (Some(newest), Some(current)) = (newest, current) {
        if newest.path != current.path {
            let mut f = finding(
                "stale-rotation",
                Severity::Warning,
                "client",
                format!(
                    "kubelet-client-current.pem points at {}, older than the newest rotated {}",
                    current.path, newest.path
                ),
            );
            f.evidence.push(format!(
                "current: serial {} until {}; newest: serial {} until {}",
                current.summary.serial.as_deref().unwrap_or("?"),
                current.summary.not_after.as_deref().unwrap_or("?"),
                newest.summary.serial.as_deref().unwrap_or("?"),
                newest.summary.not_after.as_deref().unwrap_or("?")
            ));
            out.push(f);
        }
    }
}

/// `capture-incomplete` and `encrypted-handshake`: what could not be judged, and what would
/// let it be judged.
fn visibility(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let c = ctx.conn;
    if !c.gaps.is_empty() || !c.truncated_certificate_messages.is_empty() {
        let missing: u64 = c.gaps.iter().map(|g| g.missing_bytes).sum();
        let mut f = finding(
            "capture-incomplete",
            Severity::Warning,
            "connection",
            format!(
                "{missing} bytes of this connection are missing from the capture{}",
                if c.truncated_certificate_messages.is_empty() {
                    ""
                } else {
                    "; a certificate chain is incomplete and was not judged whole"
                }
            ),
        );
        for g in &c.gaps {
            f.evidence.push(format!(
                "{} bytes missing {} at offset {}",
                g.missing_bytes, g.direction, g.offset
            ));
        }
        f.evidence.push(
            "capture with the full snaplen (tcpdump -s 0) and without the tcp[...] = 0x16 filter, and check tcpdump's \"packets dropped by kernel\""
                .into(),
        );
        out.push(f);
    }
    if c.visibility == Visibility::Encrypted {
        let mut f = finding(
            "encrypted-handshake",
            Severity::Info,
            "connection",
            "TLS 1.3: the certificates and the outcome are encrypted and were not judged".into(),
        );
        f.evidence.push(
            "certwire needs the handshake secrets (an SSLKEYLOGFILE key log, or a pcapng with a decryption secrets block) to read them, or a TLS 1.2 handshake of the same client"
                .into(),
        );
        out.push(f);
    }
}

/// Go crypto/tls `alert.String()`: what the peer that receives an alert logs, after
/// "remote error: tls: ".
fn go_alert_text(code: u8) -> &'static str {
    match code {
        0 => "close notify",
        10 => "unexpected message",
        20 => "bad record MAC",
        21 => "decryption failed",
        22 => "record overflow",
        30 => "decompression failure",
        40 => "handshake failure",
        42 => "bad certificate",
        43 => "unsupported certificate",
        44 => "revoked certificate",
        45 => "expired certificate",
        46 => "unknown certificate",
        47 => "illegal parameter",
        48 => "unknown certificate authority",
        49 => "access denied",
        50 => "error decoding message",
        51 => "error decrypting message",
        70 => "protocol version not supported",
        71 => "insufficient security level",
        80 => "internal error",
        86 => "inappropriate fallback",
        90 => "user canceled",
        100 => "no renegotiation",
        109 => "missing extension",
        110 => "unsupported extension",
        112 => "unrecognized name",
        116 => "certificate required",
        120 => "no application protocol",
        _ => "alert",
    }
}

/// `tls-alert`: every fatal alert, with the most likely cause among the other findings.
/// Source: RFC 8446 §6.2 / RFC 5246 §7.2.2 for the alert meanings; Go's alert strings.
fn alerts(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut new = Vec::new();
    for a in ctx.conn.alerts.iter().filter(|a| a.level == Some("fatal")) {
        let Some(code) = a.code else { continue };
        let from = side_name(a.from);
        let other = side_name(match a.from {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
        let cert_codes = [
            "unknown-authority",
            "incompatible-key-usage",
            "expired",
            "not-yet-valid",
            "no-ip-san",
            "name-mismatch",
        ];
        let cause = match code {
            42..=46 | 48 => out.iter().find(|f| {
                cert_codes.contains(&f.code)
                    && f.subject.starts_with(other)
                    && f.severity != Severity::Info
            }),
            40 | 116 => out.iter().find(|f| f.code == "no-client-certificate"),
            _ => None,
        };
        let name = a.description.unwrap_or("unknown");
        let mut f = finding(
            "tls-alert",
            Severity::Error,
            from,
            match cause {
                Some(c) => format!("{from} sent fatal alert {name} ({code}); most likely cause: {} ({})", c.code, c.message),
                None => format!(
                    "{from} sent fatal alert {name} ({code}); no finding explains it from the files searched (the {from}'s trust store or configuration may differ)"
                ),
            },
        );
        f.logged_as = Some(format!("remote error: tls: {}", go_alert_text(code)));
        new.push(f);
    }
    out.extend(new);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_matching_like_go() {
        assert!(host_matches(
            "kubernetes.default.svc",
            "KUBERNETES.default.svc."
        ));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
    }
}
