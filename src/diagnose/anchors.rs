//! Which CAs a verifier trusts: configured (flags, kubeconfigs, the kubelet's config), or,
//! when the node's configuration is not on hand, inferred, and the evidence says from what.
//!
//! A verifier may have several candidate sets (kubectl may have used admin.conf or
//! `~/.kube/config`); the chain rule verifies against each and says which one fails.

use super::verifiers::Model;
use super::Context;
use crate::correlate::Role;
use crate::local::{Inventory, LocalCert};
use crate::model::Side;

/// One set of trusted CAs, as one configuration names it.
#[derive(Debug, Clone)]
pub struct AnchorSet {
    /// Indices into the inventory's certificates.
    pub certs: Vec<usize>,
    /// Where it comes from ("kube-apiserver --client-ca-file", "root/.kube/config").
    pub source: String,
    /// Not configured for this verifier: inferred, and from what.
    pub inferred: Option<String>,
}

pub type Anchors = Vec<AnchorSet>;

impl AnchorSet {
    pub fn resolve<'a>(&self, inv: &'a Inventory) -> Vec<&'a LocalCert> {
        self.certs
            .iter()
            .filter_map(|&i| inv.certs.get(i))
            .collect()
    }
}

fn routed(inv: &Inventory, route: &str) -> Vec<usize> {
    inv.routed(route)
}

fn set(certs: Vec<usize>, source: impl Into<String>) -> Option<AnchorSet> {
    (!certs.is_empty()).then(|| AnchorSet {
        certs,
        source: source.into(),
        inferred: None,
    })
}

/// The CAs the server trusts for client certificates.
pub fn of_server(ctx: &Context<'_>, model: Model) -> Anchors {
    let Some(inv) = ctx.inventory else {
        return Vec::new();
    };
    let configured = match model {
        Model::Apiserver => set(
            routed(inv, "flag:kube-apiserver --client-ca-file"),
            "kube-apiserver --client-ca-file",
        ),
        Model::Kubelet => set(
            routed(inv, "#authentication.x509.clientCAFile"),
            "the kubelet's authentication.x509.clientCAFile",
        ),
        Model::Etcd => set(routed(inv, "flag:etcd --trusted-ca-file"), "etcd --trusted-ca-file"),
        Model::EtcdPeer => set(
            routed(inv, "flag:etcd --peer-trusted-ca-file"),
            "etcd --peer-trusted-ca-file",
        ),
        // Delegated authentication: the client CA the apiserver publishes in the
        // extension-apiserver-authentication ConfigMap, which is its --client-ca-file.
        Model::SecurePort => set(
            routed(inv, "flag:kube-apiserver --client-ca-file"),
            "kube-apiserver --client-ca-file (delegated authentication)",
        )
        .map(|mut s| {
            s.inferred = Some("the extension-apiserver-authentication ConfigMap carries the apiserver's --client-ca-file".into());
            s
        }),
        _ => None,
    };
    match configured {
        Some(s) => vec![s],
        None => from_certificate_request(ctx, inv).into_iter().collect(),
    }
}

/// The CertificateRequest names the CAs the server accepts: local CA certificates of the
/// same subject are the likely anchors. kube-apiserver announces the union of its client CA
/// and its requestheader (front-proxy) CA, so a name is a hint, not a configuration.
fn from_certificate_request(ctx: &Context<'_>, inv: &Inventory) -> Option<AnchorSet> {
    let cr = ctx.conn.certificate_request.as_ref()?;
    let named: Vec<usize> = inv
        .certs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.keys.is_ca && cr.ca_names.contains(&c.keys.subject))
        // The front-proxy CA verifies only the aggregator's proxy certificate.
        .filter(|(_, c)| !c.has_route("--requestheader-client-ca-file") && !is_front_proxy_ca(c))
        .map(|(i, _)| i)
        .collect();
    // Of several same-name CAs, the node's own CA files (its PKI directory) first, then
    // the CAs its components' kubeconfigs carry; a user's kubeconfig or a stray copy last.
    let tier = |i: &usize| {
        let c = &inv.certs[*i];
        if c.path.contains("/pki/") && c.entry.as_deref().is_none_or(|e| e.starts_with('#')) {
            0
        } else if c.path.contains("etc/kubernetes/") {
            1
        } else {
            2
        }
    };
    let best = named.iter().map(tier).min();
    let certs: Vec<usize> = named
        .iter()
        .copied()
        .filter(|i| Some(tier(i)) == best)
        .collect();
    let mut s = set(certs, "the CertificateRequest's CA names")?;
    s.inferred = Some(format!(
        "inferred: no configuration of this server was found; local CA certificates named in its CertificateRequest ({})",
        cr.ca_names.join("; ")
    ));
    Some(s)
}

fn is_front_proxy_ca(c: &LocalCert) -> bool {
    super::cn(&c.keys.subject) == Some("front-proxy-ca")
}

/// The CAs the client trusts for the server's certificate.
pub fn of_client(ctx: &Context<'_>, model: Model) -> Anchors {
    let Some(inv) = ctx.inventory else {
        return Vec::new();
    };
    let kubeconfig = |file: &str| {
        inv.kubeconfigs
            .iter()
            .filter(|k| k.path.ends_with(&format!("/{file}")) || k.path == file)
            .filter_map(|k| kubeconfig_set(inv, k, None))
            .collect::<Vec<_>>()
    };
    let mut sets: Anchors = match ctx.conn.role {
        Some(Role::KubeletClient) => kubeconfig("kubelet.conf"),
        Some(Role::ControllerManager) => kubeconfig("controller-manager.conf"),
        Some(Role::Scheduler) => kubeconfig("scheduler.conf"),
        Some(Role::Admin) => [kubeconfig("admin.conf"), kubeconfig("super-admin.conf")].concat(),
        Some(Role::ApiserverToKubelet) => set(
            routed(inv, "flag:kube-apiserver --kubelet-certificate-authority"),
            "kube-apiserver --kubelet-certificate-authority",
        )
        .into_iter()
        .collect(),
        Some(Role::ApiserverToEtcd) => set(
            routed(inv, "flag:kube-apiserver --etcd-cafile"),
            "kube-apiserver --etcd-cafile",
        )
        .into_iter()
        .collect(),
        Some(Role::EtcdHealthcheck) => set(
            routed(inv, "flag:etcd --trusted-ca-file"),
            "etcd --trusted-ca-file",
        )
        .into_iter()
        .collect(),
        Some(Role::EtcdPeer) => set(
            routed(inv, "flag:etcd --peer-trusted-ca-file"),
            "etcd --peer-trusted-ca-file",
        )
        .into_iter()
        .collect(),
        _ => Vec::new(),
    };
    // A component uses its own kubeconfig; only kubectl-like clients (and clients certwire
    // cannot name) may have used another one, such as a stale ~/.kube/config.
    let kubectl_like = matches!(ctx.conn.role, Some(Role::Admin) | None);
    if model == Model::ApiserverToKubelet || !(kubectl_like || sets.is_empty()) {
        return sets;
    }
    // Kubeconfigs that hold the client certificate presented, or whose server is the one
    // dialed: what a kubectl-like client used (e.g. a stale ~/.kube/config).
    for k in &inv.kubeconfigs {
        if sets.iter().any(|s| s.source == k.path) {
            continue;
        }
        let holds_leaf = ctx.leaf(Side::Client).is_some_and(|l| {
            l.local_files
                .iter()
                .any(|m| m.path == k.path || m.via.iter().any(|v| v.starts_with(&k.user_route())))
        });
        let why = if holds_leaf {
            Some(format!(
                "inferred: {} holds the client certificate presented",
                k.path
            ))
        } else {
            dialed_cluster(ctx, k).map(|(name, server)| {
                format!(
                    "inferred: {} names the dialed server ({server}) in cluster {name}",
                    k.path
                )
            })
        };
        let Some(why) = why else { continue };
        if let Some(s) = kubeconfig_set(inv, k, Some(why)) {
            sets.push(s);
        }
    }
    sets
}

fn kubeconfig_set(
    inv: &Inventory,
    k: &crate::local::Kubeconfig,
    inferred: Option<String>,
) -> Option<AnchorSet> {
    let certs: Vec<usize> = k
        .clusters
        .iter()
        .flat_map(|(name, _)| routed(inv, &k.ca_route(name)))
        .collect();
    let mut s = set(certs, k.path.clone())?;
    s.inferred = inferred;
    Some(s)
}

/// The cluster of `k` whose `server:` is what the client dialed: the captured address and
/// port, or the SNI host name and the port.
fn dialed_cluster<'k>(
    ctx: &Context<'_>,
    k: &'k crate::local::Kubeconfig,
) -> Option<(&'k str, &'k str)> {
    let dialed: std::net::SocketAddr = ctx.conn.server.parse().ok()?;
    k.clusters.iter().find_map(|(name, server)| {
        let server = server.as_deref()?;
        let (host, port) = server_host_port(server)?;
        let same_ip = host.parse::<std::net::IpAddr>().ok() == Some(dialed.ip());
        let same_name = ctx
            .conn
            .sni
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(host));
        ((same_ip || same_name) && port == dialed.port()).then_some((name.as_str(), server))
    })
}

/// Host and port of a kubeconfig `server:` URL (`https://host[:port][/path]`, IPv6 in
/// brackets; the port defaults to 443).
fn server_host_port(url: &str) -> Option<(&str, u16)> {
    let rest = url.strip_prefix("https://")?;
    let hostport = rest.split('/').next()?;
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 443,
            None => return None,
        };
        return Some((host, port));
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Some((host, p.parse().ok()?)),
        None => Some((hostport, 443)),
    }
}

#[cfg(test)]
mod tests {
    use super::server_host_port;

    #[test]
    fn kubeconfig_server_urls() {
        assert_eq!(
            server_host_port("https://127.0.0.1:6443"),
            Some(("127.0.0.1", 6443))
        );
        assert_eq!(server_host_port("https://[::1]:6443/"), Some(("::1", 6443)));
        assert_eq!(
            server_host_port("https://[fd00::1]"),
            Some(("fd00::1", 443))
        );
        assert_eq!(
            server_host_port("https://api.example.com/prefix"),
            Some(("api.example.com", 443))
        );
        assert_eq!(server_host_port("http://127.0.0.1:8080"), None);
        assert_eq!(server_host_port("https://[::1"), None);
    }
}
