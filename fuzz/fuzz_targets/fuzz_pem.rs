//! PEM text split into blocks as the local file scan splits every PEM file
//! (`local::split_pem`): certificates decoded, private key blocks recognised by their label
//! only, other labels listed; each certificate then keyed (`x509::cert_keys`).
#![no_main]

use certwire::local::split_pem;
use certwire::x509::cert_keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As the scan reads a PEM file.
    let text = String::from_utf8_lossy(data);
    let p = split_pem(&text);
    let begins = text.matches("-----BEGIN ").count();
    assert!(p.certificates.len() + p.bad_blocks + p.other_labels.len() <= begins);
    for der in &p.certificates {
        let _ = cert_keys(der);
    }
});
