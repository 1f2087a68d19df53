//! TLS 1.3 record protection (RFC 8446 §5.2, §7.1, §7.3): traffic keys from a traffic
//! secret with HKDF-Expand-Label, and AEAD opening of records. ring (already in the tree
//! through x509-parser) provides HKDF and the AEADs.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecryptError {
    #[error("cipher suite 0x{0:04x} is not a TLS 1.3 AEAD suite certwire decrypts")]
    UnsupportedSuite(u16),
    #[error("the AEAD tag check failed (wrong key, or the record is not what it seems)")]
    BadTag,
    #[error("record too short to hold an AEAD tag")]
    Short,
    #[error("decrypted record holds no content type (all padding)")]
    NoContentType,
}

/// The AEAD and hash of a TLS 1.3 cipher suite.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    pub aead: &'static aead::Algorithm,
    pub hkdf: hkdf::Algorithm,
}

impl Suite {
    pub fn from_id(id: u16) -> Result<Suite, DecryptError> {
        match id {
            0x1301 => Ok(Suite {
                aead: &aead::AES_128_GCM,
                hkdf: hkdf::HKDF_SHA256,
            }),
            0x1302 => Ok(Suite {
                aead: &aead::AES_256_GCM,
                hkdf: hkdf::HKDF_SHA384,
            }),
            0x1303 => Ok(Suite {
                aead: &aead::CHACHA20_POLY1305,
                hkdf: hkdf::HKDF_SHA256,
            }),
            other => Err(DecryptError::UnsupportedSuite(other)),
        }
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(Secret, Label, Context, Length), RFC 8446 §7.1.
pub fn expand_label(
    alg: hkdf::Algorithm,
    secret: &[u8],
    label: &str,
    context: &[u8],
    len: usize,
) -> Vec<u8> {
    let full_label = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full_label.len() + context.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full_label.len() as u8);
    info.extend_from_slice(full_label.as_bytes());
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    let mut out = vec![0u8; len];
    // Lengths here are at most 48 bytes, far below HKDF's limit of 255 hash lengths.
    if let Ok(okm) = prk.expand(&[&info], Len(len)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// One direction's record protection: key, static IV, sequence number.
pub struct RecordKeys {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl std::fmt::Debug for RecordKeys {
    // Keys are secrets: never printed, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl RecordKeys {
    /// [sender]_write_key and _iv from a traffic secret (RFC 8446 §7.3).
    pub fn from_secret(suite: Suite, secret: &[u8]) -> RecordKeys {
        let key_len = suite.aead.key_len();
        let key = expand_label(suite.hkdf, secret, "key", &[], key_len);
        let iv_bytes = expand_label(suite.hkdf, secret, "iv", &[], 12);
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&iv_bytes);
        let key = LessSafeKey::new(
            UnboundKey::new(suite.aead, &key).expect("key length matches the AEAD"),
        );
        RecordKeys { key, iv, seq: 0 }
    }

    /// Open one TLSCiphertext (header: its 5 bytes, the AAD). Returns the inner content type
    /// and the plaintext with padding removed; the sequence number advances either way,
    /// as the peer's did.
    pub fn open(
        &mut self,
        header: &[u8; 5],
        payload: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let seq = self.seq;
        self.seq += 1;
        if payload.len() < self.key.algorithm().tag_len() {
            return Err(DecryptError::Short);
        }
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let mut buf = payload.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(*header),
                &mut buf,
            )
            .map_err(|_| DecryptError::BadTag)?;
        let end = plain
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(DecryptError::NoContentType)?;
        let content_type = plain[end];
        let len = end;
        buf.truncate(len);
        Ok((content_type, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake): traffic secrets → write keys and IVs.
    #[test]
    fn rfc8448_traffic_keys() {
        let cases = [
            // server handshake, client handshake, server application traffic secrets
            (
                "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
                "3fce516009c21727d0f2e4e86ee403bc",
                "5d313eb2671276ee13000b30",
            ),
            (
                "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
                "dbfaa693d1762c5b666af5d950258d01",
                "5bd3c71b836e0b76bb73265f",
            ),
            (
                "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
                "9f02283b6c9c07efc26bb9f2ac92e356",
                "cf782b88dd83549aadf1e984",
            ),
        ];
        for (secret, key, iv) in cases {
            assert_eq!(
                expand_label(hkdf::HKDF_SHA256, &h(secret), "key", &[], 16),
                h(key)
            );
            assert_eq!(
                expand_label(hkdf::HKDF_SHA256, &h(secret), "iv", &[], 12),
                h(iv)
            );
        }
    }

    /// RFC 8448 §3: the client's Finished record opens with the client handshake keys.
    #[test]
    fn rfc8448_client_finished_record() {
        let suite = Suite::from_id(0x1301).unwrap();
        let mut keys = RecordKeys::from_secret(
            suite,
            &h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"),
        );
        let record = h("170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546");
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let (ct, plain) = keys.open(&header, &record[5..]).unwrap();
        assert_eq!(ct, 22);
        assert_eq!(
            plain,
            h("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
        );
        // The same record again is sequence number 1: the tag no longer checks.
        assert_eq!(keys.open(&header, &record[5..]), Err(DecryptError::BadTag));
        // A wrong key fails cleanly; so does garbage of every length.
        let mut wrong = RecordKeys::from_secret(suite, &[7u8; 32]);
        assert_eq!(wrong.open(&header, &record[5..]), Err(DecryptError::BadTag));
        for cut in 0..record.len() - 5 {
            let _ = wrong.open(&header, &record[5..5 + cut]);
        }
    }
}
