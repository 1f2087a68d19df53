//! What each component requires of each file, checked against the node's files: roles
//! from the configuration (`correlate::Role::is_configured`, the flags and kubeconfigs that
//! route to a file), then one rule per requirement (see [`super::rules`]).

use crate::correlate::Role;
use crate::diagnose::Finding;
use crate::local::{Inventory, LocalCert};

use super::model::NodeCert;
use super::rules;

/// Trusted CAs by what trusts them, found by the configuration's routes (else kubeadm's
/// file names).
pub struct Cas<'a> {
    /// kube-apiserver `--client-ca-file`, the kubelet's `clientCAFile`.
    pub cluster: Vec<&'a LocalCert>,
    /// etcd `--trusted-ca-file`, the apiserver's `--etcd-cafile`.
    pub etcd: Vec<&'a LocalCert>,
    /// etcd `--peer-trusted-ca-file`.
    pub etcd_peer: Vec<&'a LocalCert>,
    /// kube-apiserver `--requestheader-client-ca-file`.
    pub front_proxy: Vec<&'a LocalCert>,
}

impl<'a> Cas<'a> {
    pub fn of(inv: &'a Inventory) -> Cas<'a> {
        let routed = |needles: &[&str], name: &str| -> Vec<&'a LocalCert> {
            let by_route: Vec<&LocalCert> = inv
                .certs
                .iter()
                .filter(|c| c.summary.is_ca == Some(true))
                .filter(|c| needles.iter().any(|n| c.has_route(n)))
                .collect();
            if !by_route.is_empty() {
                return by_route;
            }
            inv.certs
                .iter()
                .filter(|c| c.entry.is_none() && c.path.ends_with(name))
                .collect()
        };
        Cas {
            cluster: routed(&["--client-ca-file", "clientCAFile"], "/pki/ca.crt"),
            etcd: routed(&["--trusted-ca-file", "--etcd-cafile"], "/pki/etcd/ca.crt"),
            etcd_peer: routed(&["--peer-trusted-ca-file"], "/pki/etcd/ca.crt"),
            front_proxy: routed(
                &["--requestheader-client-ca-file"],
                "/pki/front-proxy-ca.crt",
            ),
        }
    }

    /// The CAs `role`'s verifier trusts; None when nothing verifies it (the kubelet's
    /// serving certificate, without `--kubelet-certificate-authority`).
    pub fn for_role(&self, role: Role, inv: &Inventory) -> Option<&[&'a LocalCert]> {
        Some(match role {
            Role::KubeletClient
            | Role::Admin
            | Role::ControllerManager
            | Role::Scheduler
            | Role::ApiserverToKubelet
            | Role::KubeApiserver => &self.cluster,
            Role::ApiserverToEtcd | Role::EtcdHealthcheck | Role::EtcdServer => &self.etcd,
            Role::EtcdPeer => &self.etcd_peer,
            Role::FrontProxy => &self.front_proxy,
            Role::KubeletServing
                if inv
                    .flag("kube-apiserver", "kubelet-certificate-authority")
                    .is_some() =>
            {
                &self.cluster
            }
            _ => return None,
        })
    }

    /// The CA roles of `c`.
    fn roles_of(&self, c: &LocalCert) -> Vec<String> {
        let is = |set: &[&LocalCert]| set.iter().any(|x| std::ptr::eq(*x, c));
        let mut roles = Vec::new();
        if is(&self.cluster) {
            roles.push("cluster-ca".to_string());
        }
        if is(&self.etcd) || is(&self.etcd_peer) {
            roles.push("etcd-ca".to_string());
        }
        if is(&self.front_proxy) {
            roles.push("front-proxy-ca".to_string());
        }
        if c.entry
            .as_deref()
            .is_some_and(|e| e.starts_with("clusters["))
        {
            roles.push("kubeconfig-cluster-ca".to_string());
        }
        roles
    }
}

/// A rotated kubelet client certificate that `kubelet-client-current.pem` does not point
/// at: kept by the kubelet, used by nobody.
fn rotated_unused(c: &LocalCert) -> bool {
    let name = c.path.rsplit('/').next().unwrap_or("");
    name.starts_with("kubelet-client-2") && !c.has_route("kubelet-client-current.pem")
}

/// The component roles `c` is configured for.
pub fn roles(c: &LocalCert) -> Vec<Role> {
    if rotated_unused(c) || c.summary.is_ca == Some(true) {
        return Vec::new();
    }
    Role::ALL
        .into_iter()
        .filter(|r| r.is_configured(c))
        .collect()
}

pub fn role_name(r: Role) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Every certificate of the inventory with its roles and findings, and the findings
/// about the node as a whole.
pub fn audit(inv: &Inventory, at: i64) -> (Vec<NodeCert>, Vec<Finding>) {
    let cas = Cas::of(inv);
    let mut node_findings = Vec::new();
    let mut certs = Vec::new();
    for c in &inv.certs {
        let component_roles = roles(c);
        let mut names: Vec<String> = component_roles.iter().map(|r| role_name(*r)).collect();
        names.extend(cas.roles_of(c));
        let mut findings = Vec::new();
        let mut key_file = None;
        if !names.is_empty() {
            let subject = subject_of(c);
            rules::validity(c, &subject, at, &mut findings);
            for &role in &component_roles {
                rules::role_rules(c, role, &subject, &cas, inv, &mut findings);
            }
            if !component_roles.is_empty() {
                key_file = rules::key_pair(c, &subject, inv, &mut findings);
            }
        }
        rules::ca_expires_first(c, &component_roles, &cas, inv, &mut node_findings);
        certs.push(NodeCert {
            path: c.path.clone(),
            entry: c.entry.clone(),
            routes: c.via.clone(),
            roles: names,
            subject: c.summary.subject.clone(),
            issuer: c.summary.issuer.clone(),
            serial: c.summary.serial.clone(),
            sha256: c.summary.sha256.clone(),
            not_before: c.summary.not_before.clone(),
            not_after: c.summary.not_after.clone(),
            days_left: c
                .summary
                .validity_unix
                .map(|(_, na)| (na - at).div_euclid(86400)),
            is_ca: c.summary.is_ca == Some(true),
            key_file,
            findings,
        });
    }
    rules::kubeconfig_cas(inv, &cas, &mut node_findings);
    rules::stale_rotation(inv, &mut node_findings);
    rules::service_account(inv, &mut node_findings);
    dedupe(&mut node_findings);
    (certs, node_findings)
}

/// What a finding about `c` names: its file, and the kubeconfig user or cluster.
pub fn subject_of(c: &LocalCert) -> String {
    match c.entry.as_deref() {
        Some(e) if e.starts_with("users[") => {
            let user = e.split(".client-certificate").next().unwrap_or(e);
            format!("{}#{user}", c.path)
        }
        Some(e) if e.starts_with("clusters[") => c.path.clone(),
        _ => crate::local::location(&c.path, &c.entry),
    }
}

fn dedupe(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.code, f.subject.clone())));
}
