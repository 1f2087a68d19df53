//! RFC 8879 certificate compression: a CompressedCertificate message (handshake type 25)
//! carries the Certificate message compressed with zlib (1), brotli (2) or zstd (3).
//! Chrome and Cloudflare send brotli. Decompressed with maintained pure-Rust decoders,
//! never past the declared length, which may not exceed the handshake message cap.

use std::io::Read;

pub const HT_COMPRESSED_CERTIFICATE: u8 = 25;

/// The largest Certificate message accepted decompressed (the handshake message cap).
pub const MAX_UNCOMPRESSED: usize = 256 * 1024;

/// A decompressed Certificate message body, and how it came.
#[derive(Debug)]
pub struct Decompressed {
    pub algorithm: &'static str,
    pub compressed_length: usize,
    pub certificate: Vec<u8>,
}

/// `algorithm(2) uncompressed_length(3) compressed<1..2^24-1>(3-byte length)`.
pub fn decompress(body: &[u8]) -> Result<Decompressed, String> {
    if body.len() < 8 {
        return Err(
            "malformed CompressedCertificate: the message ends before its fields do".into(),
        );
    }
    let alg = u16::from_be_bytes([body[0], body[1]]);
    let declared = usize::from(body[2]) << 16 | usize::from(body[3]) << 8 | usize::from(body[4]);
    let len = usize::from(body[5]) << 16 | usize::from(body[6]) << 8 | usize::from(body[7]);
    let data = body
        .get(8..8 + len)
        .ok_or("malformed CompressedCertificate: shorter than its compressed length")?;
    if declared > MAX_UNCOMPRESSED {
        return Err(format!(
            "CompressedCertificate declares {declared} bytes uncompressed, over the {MAX_UNCOMPRESSED}-byte cap: skipped"
        ));
    }
    let (algorithm, reader): (&'static str, Box<dyn Read + '_>) = match alg {
        1 => ("zlib", Box::new(flate2::read::ZlibDecoder::new(data))),
        2 => (
            "brotli",
            Box::new(brotli_decompressor::Decompressor::new(data, 4096)),
        ),
        3 => (
            "zstd",
            Box::new(
                ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|e| format!("CompressedCertificate (zstd): cannot start: {e}"))?,
            ),
        ),
        other => {
            return Err(format!(
                "CompressedCertificate with unknown algorithm {other}"
            ))
        }
    };
    let mut certificate = Vec::with_capacity(declared);
    reader
        .take(declared as u64 + 1)
        .read_to_end(&mut certificate)
        .map_err(|e| format!("CompressedCertificate ({algorithm}) does not decompress: {e}"))?;
    if certificate.len() != declared {
        return Err(format!(
            "CompressedCertificate ({algorithm}) decompresses to {} bytes, not the {declared} it declares (RFC 8879: bad_certificate)",
            certificate.len().min(declared + 1)
        ));
    }
    Ok(Decompressed {
        algorithm,
        compressed_length: len,
        certificate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn message(alg: u16, plain: &[u8], compressed: &[u8]) -> Vec<u8> {
        let mut m = alg.to_be_bytes().to_vec();
        m.extend_from_slice(&(plain.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(&(compressed.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(compressed);
        m
    }

    #[test]
    fn zlib_round_trip_and_lies_about_the_length_are_refused() {
        let plain = b"certificate message bytes".repeat(40);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&plain).unwrap();
        let compressed = z.finish().unwrap();
        let d = decompress(&message(1, &plain, &compressed)).unwrap();
        assert_eq!(
            (d.algorithm, d.certificate.as_slice()),
            ("zlib", plain.as_slice())
        );
        // Declared shorter or longer than the data decompresses to: refused.
        let mut lie = message(1, &plain, &compressed);
        lie[4] ^= 1;
        assert!(decompress(&lie).is_err());
        // Over the cap: refused before decompressing.
        let mut big = message(1, &plain, &compressed);
        big[2] = 0x10;
        assert!(decompress(&big).unwrap_err().contains("cap"));
    }

    #[test]
    fn truncated_or_garbage_input_is_an_error_never_a_panic() {
        for alg in 0..5u16 {
            for n in 0..64 {
                let junk: Vec<u8> = (0..n).map(|i| (i * 71 + 3) as u8).collect();
                let _ = decompress(&message(alg, &[0; 16], &junk));
                let _ = decompress(&junk);
            }
        }
    }
}
