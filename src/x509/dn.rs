//! Distinguished names as RFC 4514 / RFC 2253 strings, the way
//! `openssl x509 -noout -subject -nameopt RFC2253` prints them, so that a reader can compare
//! certwire's output with openssl's character for character.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;

/// OpenSSL's short names (OBJ_nid2sn) for the attributes found in cluster PKI and in
/// public (EV) certificates.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.41" => "name",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.97" => "organizationIdentifier",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// RFC 2253 order (most specific RDN first), `+` between the attributes of one RDN.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = atv.attr_type().to_id_string();
            let value = atv.attr_value();
            match short_name(&oid) {
                Some(sn) => out.push_str(sn),
                None => out.push_str(&oid),
            }
            out.push('=');
            match decode_string(value.tag(), value.data) {
                Some(s) if short_name(&oid).is_some() => escape_into(&s, &mut out),
                _ => {
                    // Unknown attribute or non-string value: '#' and the DER in hex.
                    out.push('#');
                    push_hex(&mut out, &[value.tag().0 as u8]);
                    push_der_len(&mut out, value.data.len());
                    push_hex(&mut out, value.data);
                }
            }
        }
    }
    out
}

fn decode_string(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_string),
        // T61String: OpenSSL treats it as Latin-1.
        Tag::T61String => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// OpenSSL's ASN1_STRFLGS_RFC2253 escaping: RFC 2253 specials with a backslash, control
/// characters and every byte of a non-ASCII UTF-8 sequence as `\XX`.
fn escape_into(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == bytes.len();
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(b as char);
            }
            b'#' if first => out.push_str("\\#"),
            b' ' if first || last => out.push_str("\\ "),
            0..=0x1f | 0x7f..=0xff => {
                out.push('\\');
                push_hex_upper(out, b);
            }
            _ => out.push(b as char),
        }
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push_str(&format!("{b:02X}"));
    }
}

fn push_hex_upper(out: &mut String, b: u8) {
    out.push_str(&format!("{b:02X}"));
}

fn push_der_len(out: &mut String, len: usize) {
    if len < 0x80 {
        push_hex(out, &[len as u8]);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        push_hex(out, &[0x80 | (8 - skip) as u8]);
        push_hex(out, &bytes[skip..]);
    }
}

/// Parse a DER DistinguishedName (as CertificateRequest carries them) to its RFC 2253 form.
pub fn der_name_to_rfc2253(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    X509Name::from_der(der).ok().map(|(_, n)| rfc2253(&n))
}

/// [`der_name_to_rfc2253`], remembered per thread for the last 256 distinct names: a
/// server's CertificateRequest names the same CAs in every handshake.
pub fn der_name_to_rfc2253_cached(der: &[u8]) -> Option<String> {
    type Memo = rustc_hash::FxHashMap<Box<[u8]>, Option<String>>;
    thread_local! {
        static MEMO: std::cell::RefCell<Memo> = Default::default();
    }
    if der.len() > 1024 {
        return der_name_to_rfc2253(der);
    }
    MEMO.with_borrow_mut(|memo| {
        if let Some(name) = memo.get(der) {
            return name.clone();
        }
        let name = der_name_to_rfc2253(der);
        if memo.len() >= 256 {
            memo.clear();
        }
        memo.insert(der.into(), name.clone());
        name
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape_into(" a,b+c#", &mut s);
        assert_eq!(s, "\\ a\\,b\\+c#");
        let mut s = String::new();
        escape_into("é", &mut s);
        assert_eq!(s, "\\C3\\A9");
    }

    #[test]
    fn garbage_names_do_not_panic() {
        for cut in 0..40 {
            let junk: Vec<u8> = (0..cut).map(|i| (i * 13 + 0x30) as u8).collect();
            let _ = der_name_to_rfc2253(&junk);
        }
    }
}
