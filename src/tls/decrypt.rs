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

    /// Count a record that could not be opened (lost in a capture gap).
    pub fn skip(&mut self) {
        self.seq += 1;
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

/// TLS 1.2 AEAD record protection (RFC 5246 §6.3 key block, RFC 5288 AES-GCM, RFC 7905
/// ChaCha20-Poly1305) from a `CLIENT_RANDOM` master secret. Used to read the encrypted
/// Finished and alerts that decide a TLS 1.2 handshake's outcome.
pub struct Tls12Keys {
    key: LessSafeKey,
    fixed_iv: Vec<u8>,
    /// AES-GCM carries an 8-byte explicit nonce in each record; ChaCha20 does not.
    explicit_nonce: bool,
    seq: u64,
}

impl std::fmt::Debug for Tls12Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls12Keys")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// The PRF of RFC 5246 §5 (P_hash with the suite's HMAC).
fn prf(
    alg: ring::hmac::Algorithm,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Vec<u8> {
    let key = ring::hmac::Key::new(alg, secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = ring::hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = ring::hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// Client and server write keys for a TLS 1.2 AEAD suite.
pub fn tls12_keys(
    suite: u16,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<(Tls12Keys, Tls12Keys), DecryptError> {
    use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsPRF};
    let cs =
        tls_parser::TlsCipherSuite::from_id(suite).ok_or(DecryptError::UnsupportedSuite(suite))?;
    let (aead, iv_len, explicit) = match (cs.enc, cs.enc_mode, cs.enc_size) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => (&aead::AES_128_GCM, 4, true),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => (&aead::AES_256_GCM, 4, true),
        (TlsCipherEnc::Chacha20_Poly1305, _, _) => (&aead::CHACHA20_POLY1305, 12, false),
        _ => return Err(DecryptError::UnsupportedSuite(suite)),
    };
    let hmac = if cs.prf == TlsPRF::Sha384 {
        ring::hmac::HMAC_SHA384
    } else {
        ring::hmac::HMAC_SHA256
    };
    let k = aead.key_len();
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let block = prf(hmac, master, b"key expansion", &seed, 2 * k + 2 * iv_len);
    let make = |key: &[u8], iv: &[u8]| Tls12Keys {
        key: LessSafeKey::new(UnboundKey::new(aead, key).expect("key length matches the AEAD")),
        fixed_iv: iv.to_vec(),
        explicit_nonce: explicit,
        seq: 0,
    };
    Ok((
        make(&block[..k], &block[2 * k..2 * k + iv_len]),
        make(&block[k..2 * k], &block[2 * k + iv_len..]),
    ))
}

impl Tls12Keys {
    /// Count a record without opening it (application data is not read).
    pub fn skip(&mut self) {
        self.seq += 1;
    }

    pub fn open(
        &mut self,
        content_type: u8,
        version: u16,
        payload: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let seq = self.seq;
        self.seq += 1;
        let tag = self.key.algorithm().tag_len();
        let (nonce, ciphertext) = if self.explicit_nonce {
            if payload.len() < 8 + tag {
                return Err(DecryptError::Short);
            }
            let mut n = [0u8; 12];
            n[..4].copy_from_slice(&self.fixed_iv);
            n[4..].copy_from_slice(&payload[..8]);
            (n, &payload[8..])
        } else {
            if payload.len() < tag {
                return Err(DecryptError::Short);
            }
            let mut n = [0u8; 12];
            n.copy_from_slice(&self.fixed_iv);
            for (x, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
                *x ^= s;
            }
            (n, payload)
        };
        let plain_len = ciphertext.len() - tag;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&seq.to_be_bytes());
        aad[8] = content_type;
        aad[9..11].copy_from_slice(&version.to_be_bytes());
        aad[11..].copy_from_slice(&(plain_len as u16).to_be_bytes());
        let mut buf = ciphertext.to_vec();
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| DecryptError::BadTag)?;
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tls12_tests {
    use super::*;

    /// RFC 5246's PRF with SHA-256, against the widely used test vector (IETF TLS WG
    /// mailing list, "TLS 1.2 PRF test vectors").
    #[test]
    fn prf_sha256_vector() {
        let h = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let out = prf(
            ring::hmac::HMAC_SHA256,
            &h("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &h("a0ba9f936cda311827a6f796ffd5198c"),
            100,
        );
        assert_eq!(
            out,
            h("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
        );
    }
}
