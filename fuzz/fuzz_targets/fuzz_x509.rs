//! A DER blob as a certificate: the summary every report prints (`x509::summarize`), the
//! correlation keys (`x509::cert_keys`), and as a DistinguishedName
//! (`x509::der_name_to_rfc2253`, what CertificateRequest CA names go through).
#![no_main]

use certwire::x509::{cert_keys, der_name_to_rfc2253, summarize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = summarize(data);
    assert_eq!(s.der_length, data.len());
    let keys = cert_keys(data);
    // Whatever parses for its keys parses for its summary too.
    if let Some(k) = &keys {
        assert!(
            s.subject.is_some(),
            "cert_keys parsed what summarize rejected: {:?}",
            s.error
        );
        assert_eq!(s.subject.as_deref(), Some(k.subject.as_str()));
    }
    let _ = der_name_to_rfc2253(data);
});
