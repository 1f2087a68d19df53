//! Who is talking: the component role of each side, told from the client certificate's
//! subject and the server port, and which local files are configured for that role.

use serde::Serialize;

use crate::local::LocalCert;

/// Roles from the kubeadm PKI layout (Kubernetes "PKI certificates and requirements").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    // Clients.
    KubeletClient,
    Admin,
    ControllerManager,
    Scheduler,
    ApiserverToKubelet,
    ApiserverToEtcd,
    EtcdHealthcheck,
    EtcdPeer,
    FrontProxy,
    // Servers.
    KubeApiserver,
    KubeletServing,
    EtcdServer,
    ControllerManagerServing,
    SchedulerServing,
}

impl Role {
    pub const ALL: [Role; 14] = [
        Role::KubeletClient,
        Role::Admin,
        Role::ControllerManager,
        Role::Scheduler,
        Role::ApiserverToKubelet,
        Role::ApiserverToEtcd,
        Role::EtcdHealthcheck,
        Role::EtcdPeer,
        Role::FrontProxy,
        Role::KubeApiserver,
        Role::KubeletServing,
        Role::EtcdServer,
        Role::ControllerManagerServing,
        Role::SchedulerServing,
    ];

    /// The server a certificate of this role is presented to (client roles), or the
    /// server itself (server roles); None for the front proxy (aggregated servers).
    pub fn server(self) -> Option<Role> {
        match self {
            Role::KubeletClient | Role::Admin | Role::ControllerManager | Role::Scheduler => {
                Some(Role::KubeApiserver)
            }
            Role::ApiserverToKubelet => Some(Role::KubeletServing),
            Role::ApiserverToEtcd | Role::EtcdHealthcheck => Some(Role::EtcdServer),
            Role::FrontProxy => None,
            server => Some(server),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Role::KubeletClient => "the kubelet's client certificate",
            Role::Admin => "kubectl (admin.conf)",
            Role::ControllerManager => "the controller-manager's client certificate",
            Role::Scheduler => "the scheduler's client certificate",
            Role::ApiserverToKubelet => "the apiserver's kubelet client certificate",
            Role::ApiserverToEtcd => "the apiserver's etcd client certificate",
            Role::EtcdHealthcheck => "the etcd health-check client certificate",
            Role::EtcdPeer => "etcd peer certificates",
            Role::FrontProxy => "the front-proxy client certificate",
            Role::KubeApiserver => "the apiserver's serving certificate",
            Role::KubeletServing => "the kubelet's serving certificate",
            Role::EtcdServer => "etcd's serving certificate",
            Role::ControllerManagerServing => "the controller-manager's serving certificate",
            Role::SchedulerServing => "the scheduler's serving certificate",
        }
    }

    /// The local certificate is the one this role's configuration names (worked out
    /// for every role at the first question, and kept with the certificate).
    pub fn is_configured(self, c: &LocalCert) -> bool {
        let bits = *c.configured_roles.get_or_init(|| {
            Role::ALL
                .iter()
                .enumerate()
                .filter(|(_, r)| r.names(c))
                .fold(0, |bits, (i, _)| bits | 1 << i)
        });
        bits & 1 << self as usize != 0
    }

    /// The configuration of this role names `c`: by the routes to it, or by its file name.
    fn names(self, c: &LocalCert) -> bool {
        let via = |needle: &str| c.via.iter().any(|v| v.contains(needle));
        let name = c.path.rsplit('/').next().unwrap_or("");
        let entry = c.entry.as_deref().unwrap_or("");
        // Without building "/{file}" or "{file}#users[": this runs for every local
        // certificate in every handshake's diagnosis (issue 17).
        let kubeconfig_user = |file: &str| {
            let named = c
                .path
                .strip_suffix(file)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('/'));
            let routed = c.via.iter().any(|v| {
                v.match_indices(file)
                    .any(|(i, _)| v[i + file.len()..].starts_with("#users["))
            });
            named && entry.starts_with("users[") || routed
        };
        match self {
            Role::KubeletClient => {
                kubeconfig_user("kubelet.conf") || name.starts_with("kubelet-client")
            }
            Role::Admin => kubeconfig_user("admin.conf") || kubeconfig_user("super-admin.conf"),
            Role::ControllerManager => kubeconfig_user("controller-manager.conf"),
            Role::Scheduler => kubeconfig_user("scheduler.conf"),
            Role::ApiserverToKubelet => via("--kubelet-client-certificate"),
            Role::ApiserverToEtcd => via("--etcd-certfile"),
            Role::EtcdHealthcheck => name.contains("healthcheck-client"),
            Role::EtcdPeer => via("--peer-cert-file"),
            Role::FrontProxy => via("--proxy-client-cert-file"),
            Role::KubeApiserver => via("flag:kube-apiserver --tls-cert-file"),
            // tlsCertFile, the self-signed kubelet.crt, or (serverTLSBootstrap) the
            // kubelet-server-current.pem symlink to kubelet-server-<timestamp>.pem.
            Role::KubeletServing => {
                via("#tlsCertFile") || name == "kubelet.crt" || name.starts_with("kubelet-server-")
            }
            Role::EtcdServer => via("flag:etcd --cert-file"),
            Role::ControllerManagerServing | Role::SchedulerServing => false,
        }
    }
}

/// The client's role from its certificate's subject (RFC 2253: most specific first), or
/// from the port where only one component dials it.
pub fn client_role(subject: Option<&str>, server_port: u16) -> Option<Role> {
    if let Some(s) = subject {
        let cn = s
            .split(',')
            .find_map(|p| p.strip_prefix("CN="))
            .unwrap_or("");
        let masters = s.split(',').any(|p| p == "O=system:masters");
        let r = match cn {
            _ if cn.starts_with("system:node:") => Some(Role::KubeletClient),
            "kubernetes-admin" | "kubernetes-super-admin" => Some(Role::Admin),
            "system:kube-controller-manager" => Some(Role::ControllerManager),
            "system:kube-scheduler" => Some(Role::Scheduler),
            "kube-apiserver-kubelet-client" => Some(Role::ApiserverToKubelet),
            "kube-apiserver-etcd-client" => Some(Role::ApiserverToEtcd),
            "kube-etcd-healthcheck-client" => Some(Role::EtcdHealthcheck),
            "front-proxy-client" => Some(Role::FrontProxy),
            _ if masters && server_port == 6443 => Some(Role::Admin),
            _ => None,
        };
        if r.is_some() {
            return r;
        }
    }
    match server_port {
        10250 => Some(Role::ApiserverToKubelet),
        2380 => Some(Role::EtcdPeer),
        _ => None,
    }
}

pub fn server_role(port: u16) -> Option<Role> {
    match port {
        6443 => Some(Role::KubeApiserver),
        10250 => Some(Role::KubeletServing),
        2379 => Some(Role::EtcdServer),
        2380 => Some(Role::EtcdPeer),
        10257 => Some(Role::ControllerManagerServing),
        10259 => Some(Role::SchedulerServing),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_configured` keeps one bit per role at the role's place in `ALL`, found by `as
    /// usize`: the two orders must agree.
    #[test]
    fn all_is_in_declaration_order() {
        for (i, r) in Role::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r:?}");
        }
        assert!(Role::ALL.len() <= 16, "the bits fit a u16");
    }
}
