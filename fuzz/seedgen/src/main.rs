//! Seed corpora for the fuzz targets, from the sample captures, through certwire's own
//! public API: `seedgen CAPTURES_DIR CORPUS_DIR`.
//!
//! Per capture: every frame (fuzz_wire), every TCP connection's segments (fuzz_reassembly),
//! what reassembly makes of each connection (fuzz_tls_records), each plaintext handshake
//! message with TLS 1.3 layouts built from them (fuzz_tls_messages), every certificate
//! presented (fuzz_x509). Plus the certificates of the sample node's PEM files (fuzz_x509),
//! split by certwire's PEM splitter, which never decodes a private key block. The files
//! copied as they are (captures, key logs, YAML, PEM) are seed.sh's part.
//!
//! Seeds are named by a hash of their contents, so a rerun adds nothing twice.

#[path = "../../src/lib.rs"]
#[allow(dead_code)]
mod format;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use certwire::flow::reassembly::{Chunk, Reassembler};
use certwire::source::{read_capture, CaptureStats, Event};
use certwire::tls::handshake::{HandshakeEvent, HandshakeJoiner};
use certwire::tls::messages;
use certwire::tls::record::{RecordEvent, RecordReader, CT_HANDSHAKE};
use certwire::wire::decode;
use format::*;

/// Frames kept per capture for fuzz_wire (cmin keeps the ones that matter).
const FRAMES_PER_CAPTURE: usize = 400;

struct Out {
    root: PathBuf,
    written: BTreeMap<&'static str, usize>,
}

impl Out {
    fn put(&mut self, target: &'static str, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        let path = dir.join(format!("seed-{:016x}", fnv(data)));
        if !path.exists() {
            std::fs::write(&path, data).expect("write seed");
            *self.written.entry(target).or_default() += 1;
        }
    }
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

type Endpoint = (IpAddr, u16);

/// One TCP connection's segments, direction 0 being the sender of its first packet.
struct Conn {
    ends: [Endpoint; 2],
    segs: Vec<Segment>,
}

fn connections(packets: &[(u16, Vec<u8>)]) -> Vec<Conn> {
    let mut conns: Vec<Conn> = Vec::new();
    let mut index: BTreeMap<(Endpoint, Endpoint), usize> = BTreeMap::new();
    for (lt, frame) in packets {
        let Ok(seg) = decode(*lt, frame) else {
            continue;
        };
        let (src, dst) = ((seg.src, seg.src_port), (seg.dst, seg.dst_port));
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let i = *index.entry(key).or_insert_with(|| {
            conns.push(Conn {
                ends: [src, dst],
                segs: Vec::new(),
            });
            conns.len() - 1
        });
        let c = &mut conns[i];
        let dir = usize::from(c.ends[0] != src);
        c.segs.push(Segment {
            dir,
            syn: seg.flags.syn,
            fin: seg.flags.fin,
            seq: seg.seq,
            ack: seg.flags.ack.then_some(seg.ack),
            cut: seg
                .payload_len
                .saturating_sub(seg.payload.len() as u32)
                .min(0xffff) as u16,
            payload: seg.payload.to_vec(),
        });
    }
    conns
}

/// What reassembly hands the TLS layer for one connection (as `Flow::on_segment` feeds it).
fn stream(conn: &Conn) -> ([bool; 2], Vec<(usize, Chunk<'static>)>) {
    let mut r: [Reassembler; 2] = Default::default();
    let mut out: Vec<(usize, Chunk<'static>)> = Vec::new();
    let own = |d: usize, c: Chunk<'_>| -> (usize, Chunk<'static>) {
        match c {
            Chunk::Data {
                bytes,
                segment_start,
            } => (
                d,
                Chunk::Data {
                    bytes: Box::leak(bytes.to_vec().into_boxed_slice()),
                    segment_start,
                },
            ),
            Chunk::Gap { offset, len } => (d, Chunk::Gap { offset, len }),
        }
    };
    for s in &conn.segs {
        let (d, o) = (s.dir, 1 - s.dir);
        if s.syn {
            r[d].on_syn(s.seq);
        }
        if let Some(ack) = s.ack {
            r[o].on_peer_ack(ack, &mut |c| out.push(own(o, c)));
        }
        if !s.payload.is_empty() {
            let seq = if s.syn { s.seq.wrapping_add(1) } else { s.seq };
            r[d].on_segment(seq, &s.payload, s.fin, &mut |c| out.push(own(d, c)));
            let end = seq.wrapping_add(s.payload.len() as u32);
            r[d].on_snaplen_cut(end, u32::from(s.cut), &mut |c| out.push(own(d, c)));
        }
    }
    for (d, ra) in r.iter_mut().enumerate() {
        ra.finish(&mut |c| out.push(own(d, c)));
    }
    ([r[0].syn_seen, r[1].syn_seen], out)
}

/// Plaintext handshake messages of one direction's chunks: (type, body).
fn handshake_messages(boundary: bool, chunks: &[&Chunk<'_>]) -> Vec<(u8, Vec<u8>)> {
    let mut reader = RecordReader::new(boundary);
    let mut joiner = HandshakeJoiner::default();
    let mut msgs = Vec::new();
    let mut on_msg = |ev: HandshakeEvent<'_>| {
        if let HandshakeEvent::Message { msg_type, body } = ev {
            msgs.push((msg_type, body.to_vec()));
        }
    };
    for c in chunks {
        let mut on_rec = |ev: RecordEvent<'_>| match ev {
            RecordEvent::Record {
                content_type: CT_HANDSHAKE,
                payload,
                ..
            } => joiner.on_record(payload, &mut on_msg),
            RecordEvent::Lost => joiner.on_lost(&mut on_msg),
            _ => {}
        };
        match c {
            Chunk::Data {
                bytes,
                segment_start,
            } => reader.on_data(bytes, *segment_start, &mut on_rec),
            Chunk::Gap { len, .. } => reader.on_gap(*len, &mut on_rec),
        }
    }
    msgs
}

fn vec8(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}
fn vec16(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}
fn vec24(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(b);
}
fn with(sel: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(body);
    v
}

/// TLS 1.3 layouts (encrypted in every capture) built from what the TLS 1.2 messages and
/// the ClientHello carry: Certificate with per-entry extensions, CertificateRequest with
/// signature_algorithms and certificate_authorities, EncryptedExtensions with ALPN.
fn tls13_messages(out: &mut Out, msg_type: u8, body: &[u8]) {
    match msg_type {
        messages::HT_CERTIFICATE => {
            if let Ok(list) = messages::parse_certificate(body, false) {
                let mut entries = Vec::new();
                for der in &list.certificates {
                    vec24(&mut entries, der);
                    vec16(&mut entries, &[]);
                }
                let mut m = Vec::new();
                vec8(&mut m, &[]);
                vec24(&mut m, &entries);
                out.put("fuzz_tls_messages", &with(MSG_CERTIFICATE_13, &m));
                compressed_certificates(out, &m);
            }
        }
        messages::HT_CERTIFICATE_REQUEST => {
            if let Ok(req) = messages::parse_certificate_request(body, false) {
                let mut algs = Vec::new();
                for a in &req.signature_algorithms {
                    algs.extend_from_slice(&a.to_be_bytes());
                }
                let mut sig = Vec::new();
                vec16(&mut sig, &algs);
                let mut names = Vec::new();
                for n in &req.ca_names {
                    vec16(&mut names, n);
                }
                let mut cas = Vec::new();
                vec16(&mut cas, &names);
                let mut exts = Vec::new();
                exts.extend_from_slice(&13u16.to_be_bytes());
                vec16(&mut exts, &sig);
                exts.extend_from_slice(&47u16.to_be_bytes());
                vec16(&mut exts, &cas);
                let mut m = Vec::new();
                vec8(&mut m, &[]);
                vec16(&mut m, &exts);
                out.put("fuzz_tls_messages", &with(MSG_CERTIFICATE_REQUEST_13, &m));
            }
        }
        messages::HT_CLIENT_HELLO => {
            if let Ok(ch) = messages::parse_client_hello(body) {
                for proto in ch.alpn.iter().flatten() {
                    let mut list = Vec::new();
                    vec8(&mut list, proto.as_bytes());
                    let mut alpn = Vec::new();
                    vec16(&mut alpn, &list);
                    let mut exts = Vec::new();
                    exts.extend_from_slice(&16u16.to_be_bytes());
                    vec16(&mut exts, &alpn);
                    let mut m = Vec::new();
                    vec16(&mut m, &exts);
                    out.put("fuzz_tls_messages", &with(MSG_ENCRYPTED_EXTENSIONS, &m));
                }
            }
        }
        _ => {}
    }
}

/// RFC 8879 CompressedCertificate bodies carrying a TLS 1.3 Certificate message: zlib,
/// brotli (one stored meta-block) and zstd (a raw block), each checked by certwire's own
/// decompressor before it is kept.
fn compressed_certificates(out: &mut Out, certificate: &[u8]) {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(certificate).expect("zlib");
    let zlib = z.finish().expect("zlib");
    // Brotli stored meta-blocks: a header padded to a byte boundary, then the bytes.
    let mut stored = Vec::new();
    let mut first = true;
    for block in certificate.chunks(1 << 16) {
        let header: u32 = if first {
            // bit 0 WBITS=0, bit 1 ISLAST=0, bits 2-3 MNIBBLES=4, 4-19 MLEN-1, 20 ISUNCOMPRESSED
            ((block.len() as u32 - 1) << 4) | 1 << 20
        } else {
            // bit 0 ISLAST=0, bits 1-2 MNIBBLES=4, 3-18 MLEN-1, 19 ISUNCOMPRESSED
            ((block.len() as u32 - 1) << 3) | 1 << 19
        };
        stored.extend_from_slice(&header.to_le_bytes()[..3]);
        stored.extend_from_slice(block);
        first = false;
    }
    stored.push(0b11); // ISLAST=1, ISLASTEMPTY=1
    let zstd = ruzstd::encoding::compress_to_vec(
        certificate,
        ruzstd::encoding::CompressionLevel::Uncompressed,
    );
    for (alg, data) in [(1u16, zlib), (2, stored), (3, zstd)] {
        let mut m = alg.to_be_bytes().to_vec();
        m.extend_from_slice(&(certificate.len() as u32).to_be_bytes()[1..]);
        vec24(&mut m, &data);
        match certwire::tls::compressed::decompress(&m) {
            Ok(d) if d.certificate == certificate => out.put("fuzz_tls_compressed", &m),
            other => eprintln!("seedgen: algorithm {alg}: not a seed: {other:?}"),
        }
    }
}

fn capture(out: &mut Out, path: &Path) {
    let data = std::fs::read(path).expect("read capture");
    // Gzip copies are seeds for fuzz_capture only (seed.sh); their contents are here too.
    if data.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let mut packets: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut stats = CaptureStats::default();
    let _ = read_capture("seed", Cursor::new(data), &mut stats, false, |ev| {
        if let Event::Packet(p) = ev {
            packets.push((p.linktype, p.data.to_vec()));
        }
    });
    let mut frames = BTreeSet::new();
    for (lt, frame) in &packets {
        let Some(sel) = linktype_selector(*lt) else {
            continue;
        };
        if frames.len() < FRAMES_PER_CAPTURE {
            frames.insert(with(sel, frame));
        }
    }
    for f in &frames {
        out.put("fuzz_wire", f);
    }
    for conn in connections(&packets) {
        if conn.segs.iter().all(|s| s.payload.is_empty()) {
            continue;
        }
        let mut base = [0u32; 2];
        for (d, b) in base.iter_mut().enumerate() {
            if let Some(s) = conn.segs.iter().find(|s| s.dir == d) {
                *b = s.seq;
            }
        }
        out.put("fuzz_reassembly", &encode_segments(base, &conn.segs));
        let (boundary, chunks) = stream(&conn);
        let sc: Vec<StreamChunk<'_>> = chunks
            .iter()
            .map(|(d, c)| match c {
                Chunk::Data {
                    bytes,
                    segment_start,
                } => StreamChunk::Data {
                    dir: *d,
                    bytes,
                    segment_start: *segment_start,
                },
                Chunk::Gap { len, .. } => StreamChunk::Gap { dir: *d, len: *len },
            })
            .collect();
        out.put("fuzz_tls_records", &encode_chunks(boundary, &sc));
        for (d, &b) in boundary.iter().enumerate() {
            let mine: Vec<&Chunk<'_>> = chunks
                .iter()
                .filter(|(cd, _)| *cd == d)
                .map(|(_, c)| c)
                .collect();
            for (t, body) in handshake_messages(b, &mine) {
                let sel = match t {
                    messages::HT_CLIENT_HELLO => Some(MSG_CLIENT_HELLO),
                    messages::HT_SERVER_HELLO => Some(MSG_SERVER_HELLO),
                    messages::HT_CERTIFICATE => Some(MSG_CERTIFICATE_12),
                    messages::HT_CERTIFICATE_REQUEST => Some(MSG_CERTIFICATE_REQUEST_12),
                    _ => None,
                };
                if let Some(sel) = sel {
                    out.put("fuzz_tls_messages", &with(sel, &body));
                }
                tls13_messages(out, t, &body);
                if t == messages::HT_CERTIFICATE {
                    if let Ok(list) = messages::parse_certificate(&body, false) {
                        for der in list.certificates {
                            out.put("fuzz_x509", der);
                            // Its issuer and subject names, as CA names are sent.
                            if let Some(keys) = certwire::x509::cert_keys(der) {
                                out.put("fuzz_x509", &keys.issuer_raw);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Certificates of PEM files (never their key blocks, which the splitter does not decode).
fn pem_certificates(out: &mut Out, dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            pem_certificates(out, &p);
            continue;
        }
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.ends_with(".crt") || name.ends_with(".pem")) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for der in certwire::local::split_pem(&text).certificates {
            out.put("fuzz_x509", &der);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: seedgen CAPTURES_DIR CORPUS_DIR");
        std::process::exit(2);
    }
    let captures = PathBuf::from(&args[1]);
    let mut out = Out {
        root: PathBuf::from(&args[2]),
        written: BTreeMap::new(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&captures)
        .expect("captures directory")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    for f in &files {
        capture(&mut out, f);
    }
    for d in ["node", "pki-extra"] {
        pem_certificates(&mut out, &captures.join(d));
    }
    for (target, n) in &out.written {
        eprintln!("seedgen: {target}: {n} new seeds");
    }
}
