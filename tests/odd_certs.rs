//! Certificates that are odd, not broken: an EC key with explicit curve parameters (the
//! CurveBall shape) and subject attributes of EV certificates. Made here with openssl, and
//! compared with what openssl prints of them.

use std::process::Command;

fn openssl(args: &[&str], dir: &std::path::Path) -> Option<std::process::Output> {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
}

#[test]
fn explicit_curve_keys_and_ev_attributes_read_as_openssl_reads_them() {
    let dir = std::env::temp_dir().join(format!("certwire-odd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(k) = openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-param_enc",
            "explicit",
            "-genkey",
            "-out",
            "k.pem",
        ],
        &dir,
    ) else {
        println!("SKIPPED: openssl is not installed");
        return;
    };
    assert!(k.status.success(), "{}", String::from_utf8_lossy(&k.stderr));
    let subject = "/CN=curveball/businessCategory=Private Organization/jurisdictionC=DE/organizationIdentifier=PSDDE-BAFIN-123456/serialNumber=HRB 12345";
    let c = openssl(
        &[
            "req", "-new", "-x509", "-key", "k.pem", "-subj", subject, "-days", "30", "-outform",
            "DER", "-out", "c.der",
        ],
        &dir,
    )
    .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    let text = openssl(
        &[
            "x509", "-inform", "DER", "-in", "c.der", "-noout", "-subject", "-nameopt", "RFC2253",
            "-text",
        ],
        &dir,
    )
    .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let want = text
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("subject=")
        .to_string();
    assert!(
        text.contains("Field Type: prime-field"),
        "openssl sees explicit parameters:\n{text}"
    );
    let der = std::fs::read(dir.join("c.der")).unwrap();
    let s = certwire::x509::summarize(&der);
    assert_eq!(s.subject.as_deref(), Some(want.as_str()));
    assert_eq!(
        s.public_key.as_deref(),
        Some(certwire::x509::EXPLICIT_CURVE)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// RFC 8879 compressed certificates: no TLS stack here serves them (OpenSSL 3.0 has no
/// RFC 8879, Go's crypto/tls does not implement it), so the decompression path is tested on
/// the RFC's structure over a real chain (captures/tools/compressed_fixture.py: Python's
/// zlib, brotli and zstandard compressors): each decompresses to the TLS 1.3 Certificate
/// message whose certificates are exactly apiserver.crt and ca.crt.
#[test]
fn compressed_certificates_decompress_to_the_real_chain() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let der = |p: &str| {
        let pem = std::fs::read_to_string(root.join(p)).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        data_encoding::BASE64.decode(b64.as_bytes()).unwrap()
    };
    let want = [
        der("node/etc/kubernetes/pki/apiserver.crt"),
        der("node/etc/kubernetes/pki/ca.crt"),
    ];
    for alg in ["zlib", "brotli", "zstd"] {
        let msg =
            std::fs::read(root.join(format!("compressed/apiserver-chain.{alg}.bin"))).unwrap();
        let d =
            certwire::tls::compressed::decompress(&msg).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(d.algorithm, alg);
        let list = certwire::tls::messages::parse_certificate(&d.certificate, true).unwrap();
        assert_eq!(
            list.certificates,
            want.iter().map(|d| d.as_slice()).collect::<Vec<_>>(),
            "{alg}"
        );
        // A byte of the compressed data changed: an error, never a panic or a wrong chain.
        let mut bad = msg.clone();
        let n = bad.len();
        bad[n / 2] ^= 0x55;
        if let Ok(d) = certwire::tls::compressed::decompress(&bad) {
            assert_ne!(
                d.certificate,
                certwire::tls::compressed::decompress(&msg)
                    .unwrap()
                    .certificate
            );
        }
    }
}
