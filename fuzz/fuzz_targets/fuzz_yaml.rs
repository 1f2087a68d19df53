//! A kubeconfig, kubelet config.yaml or static pod manifest, as the local file scan reads
//! one: parsed (`local::parse_yaml`, with each container's flags), then each embedded
//! `*-data` entry base64-decoded, split as PEM and its certificates keyed, as the scan does.
#![no_main]

use certwire::local::{parse_yaml, split_pem};
use certwire::x509::cert_keys;
use libfuzzer_sys::fuzz_target;

fn embedded(data: &str) {
    let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(decoded) = data_encoding::BASE64.decode(cleaned.as_bytes()) {
        for der in split_pem(&String::from_utf8_lossy(&decoded)).certificates {
            let _ = cert_keys(&der);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The scan only parses files that are UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((doc, flags)) = parse_yaml(text) else {
        return;
    };
    let _ = (doc.is_kubeconfig(), doc.is_kubelet_config(), doc.is_pod(), flags);
    for c in doc.clusters.iter().flatten() {
        if let Some(d) = c
            .cluster
            .as_ref()
            .and_then(|c| c.certificate_authority_data.as_ref())
        {
            embedded(d);
        }
    }
    for u in doc.users.iter().flatten() {
        if let Some(d) = u
            .user
            .as_ref()
            .and_then(|u| u.client_certificate_data.as_ref())
        {
            embedded(d);
        }
    }
});
