//! PEM blocks, split without decoding anything but certificates.
//!
//! x509-parser's PEM iterator base64-decodes every block, private keys included. Here a
//! key block is only recognised by its label and skipped: its bytes are never decoded,
//! stored or printed.

/// What a PEM text holds.
#[derive(Debug, Default)]
pub struct PemContents {
    /// DER of each CERTIFICATE block, in file order.
    pub certificates: Vec<Vec<u8>>,
    /// A private key block was present (label only; its contents were not read).
    pub has_private_key: bool,
    /// Labels of blocks that are neither certificates nor private keys.
    pub other_labels: Vec<String>,
    /// CERTIFICATE blocks whose base64 did not decode.
    pub bad_blocks: usize,
}

pub fn looks_like_pem(text: &[u8]) -> bool {
    text.windows(11).any(|w| w == b"-----BEGIN ")
}

pub fn split(text: &str) -> PemContents {
    let mut out = PemContents::default();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].trim().to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_start.find(&end_marker) else {
            break;
        };
        let body = &body_start[..body_end];
        rest = &body_start[body_end + end_marker.len()..];
        if label.contains("PRIVATE KEY") {
            out.has_private_key = true;
            continue;
        }
        if label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE" {
            let b64: String = body
                .lines()
                // Skip RFC 1421 headers ("Proc-Type: ...") if any.
                .filter(|l| !l.contains(':'))
                .flat_map(|l| l.chars())
                .filter(|c| !c.is_whitespace())
                .collect();
            match data_encoding::BASE64.decode(b64.as_bytes()) {
                Ok(der) => out.certificates.push(der),
                Err(_) => out.bad_blocks += 1,
            }
        } else {
            out.other_labels.push(label);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_blocks_are_recognised_not_decoded() {
        // A "key" whose body is not even base64: it must not matter.
        let text = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n\
                    -----BEGIN EC PRIVATE KEY-----\n!!not base64!!\n-----END EC PRIVATE KEY-----\n";
        let p = split(text);
        assert_eq!(p.certificates, vec![vec![0x30, 3, 2, 1, 1]]);
        assert!(p.has_private_key);
        assert_eq!(p.bad_blocks, 0);
    }

    #[test]
    fn truncated_and_garbage_pem_do_not_panic() {
        let text = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        for cut in 0..text.len() {
            let _ = split(&text[..cut]);
        }
        assert_eq!(
            split("-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----").bad_blocks,
            1
        );
    }
}
