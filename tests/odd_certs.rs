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
