//! Go crypto/tls clients (client-go, the kubelet dialing the apiserver, kube-apiserver
//! dialing etcd): `verifyServerCertificate` checks the chain against `RootCAs`, the
//! ExtKeyUsage serverAuth and the dialed name during the handshake, and aborts with alert
//! bad_certificate. kube-apiserver dialing a kubelet verifies only with
//! `--kubelet-certificate-authority` (otherwise `InsecureSkipVerify`).

use super::Verifies;
use crate::local::Inventory;

pub fn apiserver_verifies_kubelets(inv: Option<&Inventory>) -> Verifies {
    match inv {
        Some(inv) if !inv.flags.iter().any(|f| f.component == "kube-apiserver") => Verifies::Maybe(
            "the kube-apiserver manifest was not found: it verifies the kubelet's serving certificate only with --kubelet-certificate-authority".into(),
        ),
        None => Verifies::Maybe("no node files: kube-apiserver verifies the kubelet's serving certificate only with --kubelet-certificate-authority".into()),
        Some(inv) if inv.flag("kube-apiserver", "kubelet-certificate-authority").is_some() => Verifies::Yes,
        Some(_) => Verifies::No(
            "the apiserver manifest sets no --kubelet-certificate-authority, so the apiserver itself does not verify the kubelet's serving certificate; clients that do (metrics-server, kubectl port-forward through a proxy) fail".into(),
        ),
    }
}
