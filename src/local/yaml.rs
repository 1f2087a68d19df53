//! The few fields certwire reads from kubeconfigs, the kubelet's config.yaml and static pod
//! manifests. Typed and lenient: unknown fields are ignored, every field is optional.

use serde::Deserialize;

/// One YAML document that may be any of the three kinds.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Doc {
    pub kind: Option<String>,
    #[serde(rename = "apiVersion")]
    pub api_version: Option<String>,
    // kubeconfig
    pub clusters: Option<Vec<NamedCluster>>,
    pub users: Option<Vec<NamedUser>>,
    // KubeletConfiguration
    #[serde(rename = "tlsCertFile")]
    pub tls_cert_file: Option<String>,
    #[serde(rename = "rotateCertificates")]
    pub rotate_certificates: Option<bool>,
    pub authentication: Option<Authentication>,
    // Pod
    pub metadata: Option<Metadata>,
    pub spec: Option<PodSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Option<Cluster>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cluster {
    #[serde(rename = "certificate-authority-data")]
    pub certificate_authority_data: Option<String>,
    #[serde(rename = "certificate-authority")]
    pub certificate_authority: Option<String>,
    pub server: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedUser {
    pub name: String,
    pub user: Option<User>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(rename = "client-certificate-data")]
    pub client_certificate_data: Option<String>,
    #[serde(rename = "client-certificate")]
    pub client_certificate: Option<String>,
    /// Read only by `certwire node` to check that key and certificate belong together;
    /// never printed.
    #[serde(rename = "client-key-data")]
    pub client_key_data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Authentication {
    pub x509: Option<X509Auth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct X509Auth {
    #[serde(rename = "clientCAFile")]
    pub client_ca_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodSpec {
    pub containers: Vec<Container>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Container {
    pub name: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
}

impl Doc {
    pub fn is_kubeconfig(&self) -> bool {
        self.kind.as_deref() == Some("Config") || self.clusters.is_some() || self.users.is_some()
    }
    pub fn is_kubelet_config(&self) -> bool {
        self.kind.as_deref() == Some("KubeletConfiguration")
    }
    pub fn is_pod(&self) -> bool {
        self.kind.as_deref() == Some("Pod") && self.spec.is_some()
    }
}

pub fn parse(text: &str) -> Result<Doc, String> {
    serde_saphyr::from_str::<Doc>(text).map_err(|e| {
        // serde-saphyr's errors carry a source snippet; the first line is the message.
        e.to_string()
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .to_string()
    })
}

/// `--flag=value` and `--flag value` pairs of a container's command line.
pub fn flags(c: &Container) -> Vec<(String, String)> {
    let all: Vec<&String> = c.command.iter().chain(c.args.iter()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        if let Some(f) = all[i].strip_prefix("--") {
            if let Some((k, v)) = f.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            } else if let Some(v) = all.get(i + 1).filter(|v| !v.starts_with("--")) {
                out.push((f.to_string(), v.to_string()));
                i += 1;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_yaml_is_an_error_not_a_panic() {
        let text = "clusters:\n- name: a\n  cluster:\n    certificate-authority-data: [\n";
        for cut in 0..text.len() {
            let _ = parse(&text[..cut]);
        }
        assert!(parse("{{{{").is_err());
    }

    #[test]
    fn flags_both_forms() {
        let c = Container {
            name: "kube-apiserver".into(),
            command: vec![
                "kube-apiserver".into(),
                "--tls-cert-file=/a.crt".into(),
                "--client-ca-file".into(),
                "/ca.crt".into(),
            ],
            args: vec![],
        };
        assert_eq!(
            flags(&c),
            vec![
                ("tls-cert-file".into(), "/a.crt".into()),
                ("client-ca-file".into(), "/ca.crt".into())
            ]
        );
    }
}
