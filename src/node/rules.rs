//! One rule per requirement a component has of a file. The finding codes are `analyze`'s
//! where the meaning is the same (`expired`, `unknown-authority`, `no-ip-san`, …) and the
//! node's own otherwise (`key-mismatch`, `front-proxy-ca`, `kubeconfig-ca`,
//! `sa-key-mismatch`, `ca-expires-first`); each finding's subject is the file (and the
//! kubeconfig user) it is about.

use crate::correlate::Role;
use crate::diagnose::chain::{self, Verdict};
use crate::diagnose::{Finding, Severity};
use crate::local::{Inventory, LocalCert};
use crate::x509::rfc3339;

use super::audit::{subject_of, Cas};
use super::keys::{self, KeyPublic};

/// Days before notAfter from which `expires-soon` warns (as `analyze` does, when less
/// than 30 % of the lifetime is left too).
const EXPIRES_SOON_DAYS: i64 = 30;

pub fn validity(c: &LocalCert, subject: &str, at: i64, out: &mut Vec<Finding>) {
    let Some((nb, na)) = c.summary.validity_unix else {
        return;
    };
    let name = c.summary.subject.as_deref().unwrap_or_default();
    let left = na.saturating_sub(at);
    if at > na {
        out.push(
            Finding::new(
                "expired",
                Severity::Error,
                subject,
                format!(
                    "{name} expired {} day(s) before {}",
                    (at - na) / 86400,
                    rfc3339(at)
                ),
            )
            .evidence(format!("notAfter {}", rfc3339(na)))
            .logged(format!(
                "x509: certificate has expired or is not yet valid: current time {} is after {}",
                rfc3339(at),
                rfc3339(na)
            )),
        );
    } else if at < nb {
        out.push(
            Finding::new(
                "not-yet-valid",
                Severity::Error,
                subject,
                format!("{name} is not valid before {}", rfc3339(nb)),
            )
            .logged(format!(
                "x509: certificate has expired or is not yet valid: current time {} is before {}",
                rfc3339(at),
                rfc3339(nb)
            )),
        );
    } else if left < EXPIRES_SOON_DAYS * 86400
        && left.saturating_mul(10) < na.saturating_sub(nb).saturating_mul(3)
    {
        out.push(Finding::new(
            "expires-soon",
            Severity::Warning,
            subject,
            format!(
                "{name} expires in {} day(s) ({})",
                left / 86400,
                rfc3339(na)
            ),
        ));
    }
}

/// Chain, usage, names and identity for one role.
pub fn role_rules(
    c: &LocalCert,
    role: Role,
    subject: &str,
    cas: &Cas<'_>,
    inv: &Inventory,
    out: &mut Vec<Finding>,
) {
    chain_to_verifier(c, role, subject, cas, inv, out);
    key_usage(c, role, subject, out);
    names(c, role, subject, inv, out);
    identity(c, role, subject, inv, out);
}

fn chain_to_verifier(
    c: &LocalCert,
    role: Role,
    subject: &str,
    cas: &Cas<'_>,
    inv: &Inventory,
    out: &mut Vec<Finding>,
) {
    let Some(anchors) = cas.for_role(role, inv) else {
        return;
    };
    if anchors.is_empty() {
        return;
    }
    let Some(Verdict::Unknown {
        stopped_at,
        issuer,
        evidence,
        ..
    }) = chain::verify(std::slice::from_ref(&c.der), anchors)
    else {
        return;
    };
    let verifier = role
        .server()
        .map(|r| r.describe())
        .unwrap_or("its verifier");
    let trusted: Vec<String> = anchors.iter().map(|a| a.location()).collect();
    // The front-proxy client signed by the cluster CA: the classic mix-up.
    if role == Role::FrontProxy
        && matches!(
            chain::verify(std::slice::from_ref(&c.der), &cas.cluster),
            Some(Verdict::Trusted { .. })
        )
    {
        out.push(
            Finding::new(
                "front-proxy-ca",
                Severity::Error,
                subject,
                format!("the front-proxy client certificate is signed by the cluster CA, not by the --requestheader-client-ca-file CA ({})", trusted.join(", ")),
            )
            .evidence("kube-apiserver verifies front-proxy clients with --requestheader-client-ca-file only: aggregated API requests are refused")
            .logged("x509: certificate signed by unknown authority"),
        );
        return;
    }
    let mut f = Finding::new(
        "unknown-authority",
        Severity::Error,
        subject,
        format!(
            "{stopped_at} (issued by {issuer}) does not chain to the CA {verifier} trusts ({})",
            trusted.join(", ")
        ),
    )
    .logged("x509: certificate signed by unknown authority");
    f.evidence = evidence;
    out.push(f);
}

fn key_usage(c: &LocalCert, role: Role, subject: &str, out: &mut Vec<Finding>) {
    let ekus = &c.summary.extended_key_usage;
    if ekus.is_empty() || ekus.iter().any(|e| e == "any") {
        return; // no EKU extension: any usage (Go)
    }
    let client = matches!(
        role,
        Role::KubeletClient
            | Role::Admin
            | Role::ControllerManager
            | Role::Scheduler
            | Role::ApiserverToKubelet
            | Role::ApiserverToEtcd
            | Role::EtcdHealthcheck
            | Role::EtcdPeer
            | Role::FrontProxy
    );
    let server = matches!(
        role,
        Role::KubeApiserver | Role::KubeletServing | Role::EtcdServer | Role::EtcdPeer
    );
    for (needed, want) in [(client, "clientAuth"), (server, "serverAuth")] {
        if needed && !ekus.iter().any(|e| e == want) {
            out.push(
                Finding::new(
                    "incompatible-key-usage",
                    Severity::Error,
                    subject,
                    format!(
                        "{} lacks extended key usage {want}, which {} needs",
                        c.summary.subject.as_deref().unwrap_or("the certificate"),
                        role.describe()
                    ),
                )
                .evidence(format!("extended key usage: {}", ekus.join(", ")))
                .logged("x509: certificate specifies an incompatible key usage"),
            );
        }
    }
}

/// The IPs and names clients dial, from the configuration.
fn names(c: &LocalCert, role: Role, subject: &str, inv: &Inventory, out: &mut Vec<Finding>) {
    let (ips, dns): (Vec<String>, Vec<&str>) = match role {
        Role::KubeApiserver => (
            flag_values(inv, "kube-apiserver", "advertise-address"),
            vec!["kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        ),
        Role::EtcdServer => (url_ips(inv, "etcd", "advertise-client-urls"), Vec::new()),
        Role::EtcdPeer => (
            url_ips(inv, "etcd", "initial-advertise-peer-urls"),
            Vec::new(),
        ),
        _ => return,
    };
    let san = &c.summary.san;
    for ip in ips {
        if !san.iter().any(|s| s == &format!("IP:{ip}")) {
            out.push(
                Finding::new(
                    "no-ip-san",
                    Severity::Error,
                    subject,
                    format!(
                        "{} is dialed at {ip}, which its SANs do not include",
                        role.describe()
                    ),
                )
                .evidence(format!("SANs: {}", san.join(", ")))
                .logged(format!(
                    "x509: certificate is valid for {}, not {ip}",
                    san.join(", ")
                )),
            );
        }
    }
    let missing: Vec<&str> = dns
        .into_iter()
        .filter(|d| !san.iter().any(|s| s == &format!("DNS:{d}")))
        .collect();
    if !missing.is_empty() {
        out.push(
            Finding::new(
                "name-mismatch",
                Severity::Error,
                subject,
                format!(
                    "{} does not cover {} (in-cluster clients dial these names)",
                    role.describe(),
                    missing.join(", ")
                ),
            )
            .evidence(format!("SANs: {}", san.join(", ")))
            .logged(format!(
                "x509: certificate is valid for {}, not {}",
                san.join(", "),
                missing[0]
            )),
        );
    }
}

fn flag_values(inv: &Inventory, component: &str, name: &str) -> Vec<String> {
    inv.flag(component, name)
        .map(|f| vec![f.value.clone()])
        .unwrap_or_default()
}

/// The IP hosts of a flag's comma-separated URLs.
fn url_ips(inv: &Inventory, component: &str, name: &str) -> Vec<String> {
    let Some(f) = inv.flag(component, name) else {
        return Vec::new();
    };
    f.value
        .split(',')
        .filter_map(|u| {
            let host = u.split("://").nth(1)?.split('/').next()?;
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            let host = host.trim_matches(['[', ']']);
            host.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| ip.to_string())
        })
        .collect()
}

fn identity(c: &LocalCert, role: Role, subject: &str, inv: &Inventory, out: &mut Vec<Finding>) {
    let dn = c.summary.subject.as_deref().unwrap_or("");
    let cn = dn
        .split(',')
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or("");
    let orgs: Vec<&str> = dn.split(',').filter_map(|p| p.strip_prefix("O=")).collect();
    let admin_group = orgs.contains(&"system:masters") || orgs.contains(&"kubeadm:cluster-admins");
    let problem = match role {
        Role::KubeletClient if !cn.starts_with("system:node:") => {
            Some("the kubelet's client certificate needs CN system:node:<node name> (the Node authorizer)".to_string())
        }
        Role::KubeletClient if !orgs.contains(&"system:nodes") => {
            Some("the kubelet's client certificate needs O system:nodes (the Node authorizer)".to_string())
        }
        Role::ControllerManager if cn != "system:kube-controller-manager" => {
            Some("the controller-manager's user must be system:kube-controller-manager (its RBAC bindings)".to_string())
        }
        Role::Scheduler if cn != "system:kube-scheduler" => {
            Some("the scheduler's user must be system:kube-scheduler (its RBAC bindings)".to_string())
        }
        Role::Admin | Role::ApiserverToKubelet if !admin_group => Some(format!(
            "{} needs O system:masters or kubeadm:cluster-admins (its RBAC bindings)",
            role.describe()
        )),
        Role::FrontProxy => {
            let allowed = inv
                .flag("kube-apiserver", "requestheader-allowed-names")
                .map(|f| f.value.clone())
                .unwrap_or_default();
            (!allowed.is_empty() && !allowed.split(',').any(|a| a == cn)).then(|| {
                format!("CN {cn} is not in --requestheader-allowed-names ({allowed})")
            })
        }
        _ => None,
    };
    if let Some(message) = problem {
        out.push(
            Finding::new("identity", Severity::Error, subject, message)
                .evidence(format!("subject {dn}")),
        );
    }
}

/// The certificate's private key: beside it (`x.crt` → `x.key`), in the same file (the
/// kubelet's `.pem`), or the kubeconfig user's `client-key-data`. Returns the key's
/// location.
pub fn key_pair(
    c: &LocalCert,
    subject: &str,
    inv: &Inventory,
    out: &mut Vec<Finding>,
) -> Option<String> {
    let _ = inv;
    let (key_path, text) = key_text(c)?;
    let cert_public = keys::public_of_cert(&c.der)?;
    if let KeyPublic::Public(k) = keys::public_of_pem(&text) {
        if k != cert_public {
            out.push(
                Finding::new(
                    "key-mismatch",
                    Severity::Error,
                    subject,
                    format!(
                        "the private key {key_path} does not belong to this certificate: the component cannot load the pair"
                    ),
                )
                .evidence(format!(
                    "public key sha256: certificate {}, key {}",
                    keys::fingerprint(&cert_public),
                    keys::fingerprint(&k)
                ))
                .logged("tls: private key does not match public key"),
            );
        }
    }
    Some(key_path)
}

/// A node file as text: regular files only, bounded (local::read_named).
fn read_text(p: &str) -> Option<String> {
    crate::local::read_named(std::path::Path::new(p), crate::local::MAX_FILE)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn key_text(c: &LocalCert) -> Option<(String, String)> {
    let read = read_text;
    if let Some(e) = c.entry.as_deref().filter(|e| e.starts_with("users[")) {
        let user = e.strip_prefix("users[")?.split(']').next()?;
        let doc = crate::local::yaml::parse(&read(&c.path)?).ok()?;
        let data = doc
            .users
            .as_ref()?
            .iter()
            .find(|u| u.name == user)?
            .user
            .as_ref()?
            .client_key_data
            .clone()?;
        let pem = data_encoding::BASE64.decode(data.trim().as_bytes()).ok()?;
        return Some((
            format!("{}#users[{user}].client-key-data", c.path),
            String::from_utf8_lossy(&pem).into_owned(),
        ));
    }
    if c.entry.is_some() {
        return None;
    }
    if c.with_private_key {
        return Some((c.path.clone(), read(&c.path)?));
    }
    let key = c.path.strip_suffix(".crt").map(|p| format!("{p}.key"))?;
    Some((key.clone(), read(&key)?))
}

/// A CA whose notAfter comes before that of a certificate it signed: the leaf stops
/// verifying when the CA expires.
pub fn ca_expires_first(
    c: &LocalCert,
    roles: &[Role],
    cas: &Cas<'_>,
    inv: &Inventory,
    out: &mut Vec<Finding>,
) {
    let Some((_, leaf_na)) = c.summary.validity_unix else {
        return;
    };
    for &role in roles {
        let Some(anchors) = cas.for_role(role, inv) else {
            continue;
        };
        let Some(Verdict::Trusted { anchor, .. }) =
            chain::verify(std::slice::from_ref(&c.der), anchors)
        else {
            continue;
        };
        let Some((_, ca_na)) = anchor.summary.validity_unix else {
            continue;
        };
        if ca_na < leaf_na {
            out.push(
                Finding::new(
                    "ca-expires-first",
                    Severity::Warning,
                    subject_of(anchor),
                    format!(
                        "the CA {} expires ({}) before {} it signed ({}): that certificate stops verifying then",
                        anchor.summary.subject.as_deref().unwrap_or("?"),
                        rfc3339(ca_na),
                        subject_of(c),
                        rfc3339(leaf_na)
                    ),
                ),
            );
        }
    }
}

/// Every kubeconfig's cluster CA must be the cluster CA (a kubeconfig from a re-initialised
/// cluster carries the old one, and its client rejects the apiserver).
pub fn kubeconfig_cas(inv: &Inventory, cas: &Cas<'_>, out: &mut Vec<Finding>) {
    if cas.cluster.is_empty() {
        return;
    }
    for c in inv.certs.iter().filter(|c| {
        c.entry
            .as_deref()
            .is_some_and(|e| e.starts_with("clusters["))
    }) {
        let same = cas.cluster.iter().any(|ca| {
            ca.keys.spki_sha256 == c.keys.spki_sha256 && ca.summary.subject == c.summary.subject
        });
        if !same {
            out.push(
                Finding::new(
                    "kubeconfig-ca",
                    Severity::Error,
                    c.path.clone(),
                    format!(
                        "the kubeconfig's CA ({}) is not the cluster CA ({}): its client rejects the apiserver's certificate",
                        c.summary.subject.as_deref().unwrap_or("?"),
                        cas.cluster.iter().map(|a| a.location()).collect::<Vec<_>>().join(", ")
                    ),
                )
                .evidence(format!("kubeconfig CA sha256 {}", c.summary.sha256))
                .logged("x509: certificate signed by unknown authority"),
            );
        }
    }
}

/// `kubelet-client-current.pem` pointing at an older rotated certificate than the newest.
pub fn stale_rotation(inv: &Inventory, out: &mut Vec<Finding>) {
    let Some((current, newest)) = crate::diagnose::files::stale_kubelet_rotation(inv) else {
        return;
    };
    let link = current
        .via
        .iter()
        .find_map(|v| {
            v.strip_prefix("symlink:")
                .filter(|l| l.ends_with("kubelet-client-current.pem"))
        })
        .unwrap_or("kubelet-client-current.pem")
        .to_string();
    out.push(
        Finding::new(
            "stale-rotation",
            Severity::Warning,
            link,
            format!(
                "kubelet-client-current.pem points at {}, older than the newest rotated {}",
                current.path, newest.path
            ),
        )
        .evidence(format!(
            "current until {}; newest until {}",
            current.summary.not_after.as_deref().unwrap_or("?"),
            newest.summary.not_after.as_deref().unwrap_or("?")
        )),
    );
}

/// The service-account signing key and the public key the apiserver verifies tokens with
/// must be one pair: otherwise every token the controller-manager signs is refused.
pub fn service_account(inv: &Inventory, out: &mut Vec<Finding>) {
    let flag = |name: &str| inv.flag("kube-apiserver", name).map(|f| f.value.clone());
    let Some(root) = inv
        .searched
        .iter()
        .map(|s| s.path.clone())
        .find(|p| p.ends_with("etc/kubernetes"))
    else {
        return;
    };
    let base = root.trim_end_matches("etc/kubernetes").to_string();
    let locate = |p: Option<String>, default: &str| -> String {
        match p {
            Some(p) if p.starts_with('/') => format!("{base}{}", p.trim_start_matches('/')),
            Some(p) => p,
            None => format!("{root}/pki/{default}"),
        }
    };
    let public = locate(flag("service-account-key-file"), "sa.pub");
    let private = locate(flag("service-account-signing-key-file"), "sa.key");
    let (Some(pub_text), Some(key_text)) = (read_text(&public), read_text(&private)) else {
        return;
    };
    let (Some(pub_bits), KeyPublic::Public(key_bits)) = (
        keys::public_key_pem(&pub_text),
        keys::public_of_pem(&key_text),
    ) else {
        return;
    };
    if pub_bits != key_bits {
        out.push(
            Finding::new(
                "sa-key-mismatch",
                Severity::Error,
                public.clone(),
                format!(
                    "{public} is not the public key of {private}: the apiserver refuses every service-account token signed with it"
                ),
            )
            .evidence(format!(
                "public key sha256: {public} {}, {private} {}",
                keys::fingerprint(&pub_bits),
                keys::fingerprint(&key_bits)
            ))
            .logged("Unable to authenticate the request\" err=\"[invalid bearer token, square/go-jose: error in cryptographic primitive]"),
        );
    }
}
