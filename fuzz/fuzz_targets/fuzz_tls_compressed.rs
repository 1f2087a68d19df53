//! An RFC 8879 CompressedCertificate message body through `tls::compressed::decompress`
//! (zlib, brotli, zstd: bounded by the declared length and the message cap), and what it
//! decompresses to through the TLS 1.3 Certificate parser, as the connection code does.
#![no_main]

use certwire::tls::compressed::{decompress, MAX_UNCOMPRESSED};
use certwire::tls::messages::parse_certificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decompress(data) {
        // What it declared, and no more than the cap; from no more bytes than it has.
        let declared =
            usize::from(data[2]) << 16 | usize::from(data[3]) << 8 | usize::from(data[4]);
        assert_eq!(d.certificate.len(), declared);
        assert!(d.certificate.len() <= MAX_UNCOMPRESSED);
        assert!(d.compressed_length <= data.len() - 8);
        let _ = parse_certificate(&d.certificate, true);
    }
});
