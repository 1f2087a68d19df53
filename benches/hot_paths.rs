//! Micro-benchmarks of the hot paths, over bytes from the committed real captures:
//! `cargo bench --bench hot_paths`.

use certwire::flow::Reassembler;
use certwire::source::{read_capture, CaptureStats, Event};
use certwire::tls::record::RecordReader;
use certwire::wire::{decode, linktype};
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

fn frames(name: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = Vec::new();
    read_capture(
        name,
        std::io::Cursor::new(bytes),
        &mut CaptureStats::default(),
        false,
        |ev| {
            if let Event::Packet(p) = ev {
                out.push(p.data.to_vec());
            }
        },
    )
    .unwrap();
    out
}

/// Link/IP/TCP decoding of every frame of a real Ethernet capture.
#[divan::bench]
fn decode_frames(b: Bencher) {
    let frames = frames("kubelet-rotated-tls12.pcap");
    b.counter(divan::counter::ItemsCount::new(frames.len()))
        .bench(|| {
            let mut n = 0usize;
            for f in &frames {
                if let Ok(s) = decode(linktype::ETHERNET, black_box(f)) {
                    n += s.payload.len();
                }
            }
            n
        });
}

/// Framing and record parsing of a whole capture held in memory, read in line and with
/// the read-ahead thread (whose hand-offs cost more than they save on a file this small).
#[divan::bench(args = [false, true])]
fn frame_records(b: Bencher, read_ahead: bool) {
    let bytes: std::sync::Arc<[u8]> = std::fs::read(format!(
        "{}/captures/any-multi.pcapng",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .into();
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut n = 0usize;
            let input = std::io::Cursor::new(bytes.clone());
            read_capture("b", input, &mut CaptureStats::default(), read_ahead, |ev| {
                if let Event::Packet(p) = ev {
                    n += p.data.len();
                }
            })
            .unwrap();
            n
        });
}

/// The server's stream of the first connection: (seq, payload) in capture order.
fn server_segments() -> Vec<(u32, Vec<u8>)> {
    let segs: Vec<(u16, u16, u32, Vec<u8>)> = frames("kubelet-rotated-tls12.pcap")
        .iter()
        .filter_map(|f| {
            decode(linktype::ETHERNET, f)
                .ok()
                .map(|s| (s.src_port, s.dst_port, s.seq, s.payload.to_vec()))
        })
        .collect();
    let client_port = segs.iter().find(|s| s.1 == 6443).map(|s| s.0).unwrap();
    segs.into_iter()
        .filter(|(sp, dp, _, p)| *sp == 6443 && *dp == client_port && !p.is_empty())
        .map(|(_, _, seq, p)| (seq, p))
        .collect()
}

/// TCP reassembly of a server flight, delivered in order.
#[divan::bench]
fn reassemble_in_order(b: Bencher) {
    let segs = server_segments();
    b.bench(|| {
        let mut r = Reassembler::default();
        let mut n = 0usize;
        for (seq, p) in &segs {
            r.on_segment(*seq, p, false, &mut |c| {
                if let certwire::flow::Chunk::Data { bytes, .. } = c {
                    n += bytes.len();
                }
            });
        }
        n
    });
}

/// TLS record framing of the same stream.
#[divan::bench]
fn scan_records(b: Bencher) {
    let stream: Vec<u8> = server_segments().into_iter().flat_map(|(_, p)| p).collect();
    b.counter(divan::counter::BytesCount::new(stream.len()))
        .bench(|| {
            let mut r = RecordReader::new(true);
            let mut n = 0usize;
            for chunk in stream.chunks(1448) {
                r.on_data(black_box(chunk), true, &mut |_| n += 1);
            }
            n
        });
}

/// A certificate summary from its DER (done once per distinct certificate).
#[divan::bench]
fn summarize_certificate(b: Bencher) {
    let pem = std::fs::read_to_string(format!(
        "{}/captures/node/etc/kubernetes/pki/apiserver.crt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = data_encoding::BASE64.decode(b64.as_bytes()).unwrap();
    b.bench(|| certwire::x509::summarize(black_box(&der)));
}

/// The connections of a mutual-TLS capture (leaf + CA from both sides), as reported with
/// the node's files: what the report path of issue 17 works on.
fn mutual_tls_reports() -> Vec<certwire::model::ConnectionReport> {
    let dir = format!("{}/captures", env!("CARGO_MANIFEST_DIR"));
    let mut analyzer = certwire::analyze::Analyzer::new(&Default::default());
    analyzer.set_inventory(std::sync::Arc::new(certwire::local::scan(
        &certwire::local::ScanOptions {
            paths: Vec::new(),
            root: Some(format!("{dir}/node").into()),
            defaults: true,
        },
    )));
    let bytes = std::fs::read(format!("{dir}/kubelet-rotated-tls12.pcap")).unwrap();
    let mut reports = Vec::new();
    analyzer.analyze_reader("bench", std::io::Cursor::new(bytes), &mut |c| {
        reports.push(c)
    });
    reports
}

/// One connection's JSON Lines record: serde_json's generic path (the reference), the
/// writer analyze uses (each certificate's JSON kept, no escaping of plain text), and its
/// compact form (certificates by SHA-256, records written once).
#[divan::bench(args = ["serde", "writer", "compact"])]
fn jsonl_connection(b: Bencher, how: &str) {
    let reports = mutual_tls_reports();
    let mut writer = match how {
        "compact" => certwire::report::jsonl::JsonlWriter::compact(),
        _ => certwire::report::jsonl::JsonlWriter::default(),
    };
    let mut out = Vec::with_capacity(1 << 16);
    b.counter(divan::counter::ItemsCount::new(reports.len()))
        .bench_local(|| {
            out.clear();
            for c in &reports {
                match how {
                    "serde" => certwire::report::json::write_jsonl_connection(c, &mut out).unwrap(),
                    _ => writer.render(black_box(c), &mut out).unwrap(),
                }
            }
            out.len()
        });
}

/// Grouping one connection: a hash of its own fields and a comparison in place.
#[divan::bench]
fn group_connection(b: Bencher) {
    let reports = mutual_tls_reports();
    let mut groups = certwire::report::groups::Groups::default();
    b.counter(divan::counter::ItemsCount::new(reports.len()))
        .bench_local(|| {
            for c in &reports {
                black_box(groups.add(black_box(c)));
            }
        });
}
