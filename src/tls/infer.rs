//! What encrypted TLS 1.3 record lengths still tell, without keys.
//!
//! OpenSSL and Go put each TLS 1.3 handshake message in its own record without padding,
//! so record length = message length + 17 (inner content type + 16-byte AEAD tag). The
//! Finished messages have a known length (hash length + 4), which anchors each flight:
//! server EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify,
//! Finished; client [Certificate, [CertificateVerify]], Finished. When the pattern does
//! not hold (several messages in one record, padding), nothing is inferred.

use serde::Serialize;

/// Inner content type byte + AEAD tag.
pub const OVERHEAD: usize = 17;
/// An empty client Certificate (context, empty list): 4 + 1 + 3 bytes.
pub const EMPTY_CERTIFICATE_LEN: usize = 8;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InferredMessage {
    pub message: &'static str,
    pub length: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct FlightInference {
    /// The records fit one handshake message per record; when false nothing else is set.
    pub one_message_per_record: bool,
    pub server_messages: Vec<InferredMessage>,
    pub client_messages: Vec<InferredMessage>,
    pub certificate_requested: Option<bool>,
    /// `present`, `empty` (an empty Certificate message) or `none` (not requested).
    pub client_certificate: Option<&'static str>,
    /// `failed` (the server's first record after the client's flight is alert-sized) or
    /// `completed` (it is not: a session ticket or data).
    pub outcome: Option<&'static str>,
    pub resumed: bool,
}

impl FlightInference {
    pub fn certificate_length(&self, server: bool) -> Option<usize> {
        let msgs = if server {
            &self.server_messages
        } else {
            &self.client_messages
        };
        msgs.iter()
            .find(|m| m.message == "Certificate")
            .map(|m| m.length)
            .filter(|&l| l != EMPTY_CERTIFICATE_LEN || server)
    }
}

/// Hash length of a TLS 1.3 cipher suite.
fn hash_len(suite: u16) -> Option<usize> {
    match suite {
        0x1301 | 0x1303 | 0x1304 | 0x1305 => Some(32),
        0x1302 => Some(48),
        _ => None,
    }
}

/// Infer the flights from the encrypted record lengths of each side, in order.
pub fn infer(suite: u16, server_records: &[u16], client_records: &[u16]) -> FlightInference {
    let mut out = FlightInference::default();
    let Some(h) = hash_len(suite) else { return out };
    let fin = h + 4 + OVERHEAD;
    let s: Vec<usize> = server_records.iter().map(|&l| l as usize).collect();
    let c: Vec<usize> = client_records.iter().map(|&l| l as usize).collect();
    let Some(si) = s.iter().position(|&l| l == fin) else {
        return out;
    };
    let names: &[&'static str] = match si {
        1 => &["EncryptedExtensions"],
        3 => &["EncryptedExtensions", "Certificate", "CertificateVerify"],
        4 => &[
            "EncryptedExtensions",
            "CertificateRequest",
            "Certificate",
            "CertificateVerify",
        ],
        _ => return out,
    };
    let mut server_messages: Vec<InferredMessage> = names
        .iter()
        .zip(&s[..si])
        .map(|(n, &l)| InferredMessage {
            message: n,
            length: l.saturating_sub(OVERHEAD),
        })
        .collect();
    server_messages.push(InferredMessage {
        message: "Finished",
        length: h + 4,
    });
    let requested = si == 4;
    let Some(ci) = c.iter().position(|&l| l == fin) else {
        // The server's flight alone is consistent; the client's is not (or not captured).
        out.one_message_per_record = true;
        out.server_messages = server_messages;
        out.resumed = si == 1;
        out.certificate_requested = Some(requested);
        return out;
    };
    let client_names: &[&'static str] = match (requested, ci) {
        (false, 0) => &[],
        (true, 1) if c[0] == EMPTY_CERTIFICATE_LEN + OVERHEAD => &["Certificate"],
        (true, 2) => &["Certificate", "CertificateVerify"],
        _ => return out,
    };
    let mut client_messages: Vec<InferredMessage> = client_names
        .iter()
        .zip(&c[..ci])
        .map(|(n, &l)| InferredMessage {
            message: n,
            length: l.saturating_sub(OVERHEAD),
        })
        .collect();
    client_messages.push(InferredMessage {
        message: "Finished",
        length: h + 4,
    });
    out.one_message_per_record = true;
    out.server_messages = server_messages;
    out.client_messages = client_messages;
    out.resumed = si == 1;
    out.certificate_requested = Some(requested);
    out.client_certificate = Some(match (requested, ci) {
        (false, _) => "none",
        (true, 1) => "empty",
        _ => "present",
    });
    // The server's first record after its flight comes after the client's Finished: an
    // alert (2 bytes + 17) is a rejection; a ticket or data is an acceptance.
    out.outcome = s.get(si + 1).map(|&l| {
        if l == 2 + OVERHEAD {
            "failed"
        } else {
            "completed"
        }
    });
    out
}

/// The TLS 1.3 Certificate message length for a chain of DER lengths (empty context,
/// no per-certificate extensions): 4 + 1 + 3 + Σ(3 + DER + 2).
pub fn certificate_message_len(ders: &[usize]) -> usize {
    4 + 1 + 3 + ders.iter().map(|d| d + 5).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flights_with_a_client_certificate() {
        // SHA-256 suite: Finished 36 → record 53.
        let server = [27, 75, 1500, 281, 53, 300];
        let client = [878, 281, 53, 40];
        let i = infer(0x1301, &server, &client);
        assert!(i.one_message_per_record);
        assert_eq!(i.certificate_requested, Some(true));
        assert_eq!(i.client_certificate, Some("present"));
        assert_eq!(i.certificate_length(false), Some(861));
        assert_eq!(i.certificate_length(true), Some(1483));
        assert_eq!(i.outcome, Some("completed"));
    }

    #[test]
    fn empty_client_certificate_then_alert() {
        let i = infer(0x1302, &[27, 75, 1500, 281, 69, 19], &[25, 69]);
        assert_eq!(i.client_certificate, Some("empty"));
        assert_eq!(i.outcome, Some("failed"));
        assert_eq!(i.certificate_length(false), None);
    }

    #[test]
    fn other_patterns_infer_nothing() {
        // Several messages in one record: no Finished-sized record.
        assert!(!infer(0x1301, &[1800], &[900]).one_message_per_record);
        assert!(!infer(0x1301, &[27, 53], &[878, 53]).one_message_per_record);
        assert!(!infer(0xc02f, &[27, 53], &[53]).one_message_per_record);
        assert_eq!(certificate_message_len(&[500]), 513);
    }
}
