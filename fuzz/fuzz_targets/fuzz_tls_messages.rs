//! One handshake message body through the parser the first byte picks (layout in
//! src/lib.rs): ClientHello, ServerHello, EncryptedExtensions, Certificate (TLS 1.2 and
//! 1.3 layouts), CertificateRequest (TLS 1.2 and 1.3 layouts, CA names rendered as the
//! connection code renders them).
#![no_main]

use certwire::tls::messages::{
    parse_certificate, parse_certificate_request, parse_client_hello, parse_encrypted_extensions,
    parse_server_hello,
};
use certwire::x509::der_name_to_rfc2253;
use certwire_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// `inner` lies within `outer`.
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    inner.is_empty() || (o.start <= i.start && i.end <= o.end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % MSG_PARSERS {
        MSG_CLIENT_HELLO => {
            let _ = parse_client_hello(body);
        }
        MSG_SERVER_HELLO => {
            if let Ok(sh) = parse_server_hello(body) {
                let _ = sh.version();
            }
        }
        MSG_ENCRYPTED_EXTENSIONS => {
            let _ = parse_encrypted_extensions(body);
        }
        sel @ (MSG_CERTIFICATE_12 | MSG_CERTIFICATE_13) => {
            if let Ok(list) = parse_certificate(body, sel == MSG_CERTIFICATE_13) {
                assert!(list.certificates.iter().all(|c| within(body, c)));
            }
        }
        sel => {
            if let Ok(req) = parse_certificate_request(body, sel == MSG_CERTIFICATE_REQUEST_13) {
                for name in &req.ca_names {
                    assert!(within(body, name));
                    let _ = der_name_to_rfc2253(name);
                }
            }
        }
    }
});
