//! IANA names for the numbers on the wire, as reports and the components' logs spell them.

use std::borrow::Cow;

/// RFC 8446 §6 / RFC 5246 §7.2 AlertDescription, in the snake_case the RFCs (and Go's
/// "remote error: tls: bad certificate" style messages, with spaces) use.
pub fn alert_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// "1.0" … "1.3" for the report; SSL 3.0 as "ssl3".
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "ssl3",
        0x0301 => "1.0",
        0x0302 => "1.1",
        0x0303 => "1.2",
        0x0304 => "1.3",
        _ => return None,
    })
}

/// IANA cipher suite name (tls-parser's table), or the hex code when unknown.
/// A name from a fixed table, or a number formatted for the rare value outside it: no
/// allocation per name in the common case (a ClientHello offers ~30 cipher suites, and a
/// busy capture has tens of thousands of them).
pub type Name = Cow<'static, str>;

pub fn cipher_suite_name(id: u16) -> Name {
    // tls-parser's table is a phf map hashed with SipHash, about 200 instructions a
    // lookup, 30 times per ClientHello: copied once into an FxHash map.
    static NAMES: std::sync::OnceLock<rustc_hash::FxHashMap<u16, &'static str>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        tls_parser::CIPHERS
            .entries()
            .map(|(id, cs)| (*id, cs.name))
            .collect()
    });
    match names.get(&id) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(format!("0x{id:04x}")),
    }
}

/// IANA TLS SignatureScheme names (RFC 8446 §4.2.3) and the TLS 1.2 hash/signature pairs
/// that do not coincide with one.
pub fn signature_scheme_name(v: u16) -> Name {
    let s = match v {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x0301 => "rsa_sha224",
        0x0302 => "dsa_sha224",
        0x0303 => "ecdsa_sha224",
        0x0202 => "dsa_sha1",
        0x0402 => "dsa_sha256",
        0x0502 => "dsa_sha384",
        0x0602 => "dsa_sha512",
        0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
        _ => return Cow::Owned(format!("0x{v:04x}")),
    };
    Cow::Borrowed(s)
}

/// RFC 5246 §7.4.4 ClientCertificateType.
/// TLS supported groups (IANA "TLS Supported Groups"), as OpenSSL and Wireshark name them.
pub fn group_name(v: u16) -> Name {
    Cow::Borrowed(match v {
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        29 => "x25519",
        30 => "x448",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        0x11ec => "X25519MLKEM768",
        0x6399 => "X25519Kyber768Draft00",
        _ => return Cow::Owned(format!("0x{v:04x}")),
    })
}

pub fn certificate_type_name(v: u8) -> Name {
    Cow::Borrowed(match v {
        1 => "rsa_sign",
        2 => "dss_sign",
        3 => "rsa_fixed_dh",
        4 => "dss_fixed_dh",
        64 => "ecdsa_sign",
        65 => "rsa_fixed_ecdh",
        66 => "ecdsa_fixed_ecdh",
        other => return Cow::Owned(format!("{other}")),
    })
}

pub fn handshake_type_name(t: u8) -> &'static str {
    match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(alert_name(48), Some("unknown_ca"));
        assert_eq!(alert_name(42), Some("bad_certificate"));
        assert_eq!(alert_name(255), None);
        assert_eq!(version_name(0x0304), Some("1.3"));
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_suite_name(0xeeee), "0xeeee");
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
    }

    #[test]
    fn cipher_suite_names_are_tls_parsers() {
        for id in 0..=u16::MAX {
            let theirs = tls_parser::TlsCipherSuite::from_id(id).map(|cs| cs.name);
            assert_eq!(
                cipher_suite_name(id),
                theirs.map_or_else(|| format!("0x{id:04x}"), str::to_string)
            );
        }
    }
}
