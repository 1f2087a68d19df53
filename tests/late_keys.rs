//! Secrets taken from processes reach certwire a moment after the records they open (and,
//! with only the client probed, after the server's whole encrypted flight). A flow waiting
//! for keys holds its records and opens them when the keys come: the result is the same as
//! with the key log given up front. Real captures (Go crypto/tls and openssl TLS 1.3) and
//! their key logs, fed packet by packet through the library.

mod common;

use certwire::analyze::{Analyzer, Options};
use certwire::model::ConnectionReport;
use certwire::source::{Packet, Timestamp};
use certwire::tls::keylog::KeySource;
use common::root;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};

/// (timestamp, bytes) of every packet, and the link type.
fn packets(name: &str) -> (u16, Vec<(Timestamp, Vec<u8>)>) {
    let file = std::fs::File::open(root().join(name)).unwrap();
    let mut reader = LegacyPcapReader::new(65536, file).unwrap();
    let mut out = Vec::new();
    let mut linktype = 0;
    loop {
        match reader.next() {
            Ok((used, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => linktype = h.network.0 as u16,
                    PcapBlockOwned::Legacy(b) => out.push((
                        Timestamp {
                            secs: i64::from(b.ts_sec),
                            nanos: b.ts_usec * 1000,
                        },
                        b.data.to_vec(),
                    )),
                    _ => {}
                }
                reader.consume(used);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
    (linktype, out)
}

/// Feed the capture; the key log text is added to the live store just before packet
/// `keys_at` (0-based; past the end: after every packet, before the input ends; None:
/// never).
fn run(name: &str, keys_at: Option<usize>) -> Vec<ConnectionReport> {
    let keys = std::fs::read_to_string(root().join(format!("keylogs/{name}.keys"))).unwrap();
    let (linktype, pkts) = packets(name);
    let mut analyzer = Analyzer::new(&Options {
        ports: vec![443, 2379, 6443, 10250, 4433, 8443],
        any_port: true,
    });
    let store = analyzer.wait_for_process_keys();
    let mut run = analyzer.begin(name);
    let mut reports = Vec::new();
    for (i, (ts, data)) in pkts.iter().enumerate() {
        if keys_at == Some(i) {
            store.add_text(&keys, KeySource::KeylogFile);
        }
        let p = Packet {
            number: i as u64 + 1,
            ts: *ts,
            linktype,
            data,
            orig_len: data.len() as u32,
            offset: 0,
        };
        analyzer.feed(&mut run, &p, &mut |c| reports.push(c));
    }
    if keys_at.is_some_and(|k| k >= pkts.len()) {
        store.add_text(&keys, KeySource::KeylogFile);
    }
    analyzer.end(run, &mut |c| reports.push(c));
    reports
}

fn fingerprints(c: &ConnectionReport) -> Vec<String> {
    c.server_certificates
        .iter()
        .chain(c.client_certificates.iter())
        .flatten()
        .map(|p| p.sha256.clone())
        .collect()
}

#[test]
fn keys_that_arrive_late_open_the_held_records() {
    for name in ["tls13-go.pcap", "tls13-openssl.pcap"] {
        let up_front = run(name, Some(0));
        assert!(up_front.len() >= 2, "{name}");
        // For each connection: its keys come after both encrypted flights went by (the
        // connection's first 8 packets); the connections before it never get theirs.
        for (k, a) in up_front.iter().enumerate() {
            let keys_at = a.first_packet as usize - 1 + 8;
            let late = run(name, Some(keys_at));
            assert_eq!(late.len(), up_front.len(), "{name}");
            let b = &late[k];
            let what = format!("{name} {} (keys at packet {})", a.client, keys_at + 1);
            assert_eq!(
                format!("{:?}", b.visibility),
                "Decrypted",
                "{what}: {:?}",
                b.notes
            );
            assert!(!fingerprints(b).is_empty(), "{what}");
            assert_eq!(fingerprints(a), fingerprints(b), "{what}");
            assert_eq!(
                format!("{:?}", a.handshake),
                format!("{:?}", b.handshake),
                "{what}: {:?} {:?} / {:?} {:?}",
                a.alerts,
                a.notes,
                b.alerts,
                b.notes
            );
            assert_eq!(a.verdict, b.verdict, "{what}");
            for earlier in &late[..k] {
                assert_eq!(format!("{:?}", earlier.visibility), "Encrypted", "{what}");
            }
        }
        // Keys that never come: reported encrypted, saying that none arrived.
        for c in run(name, None) {
            assert_eq!(format!("{:?}", c.visibility), "Encrypted", "{name}");
            assert!(
                c.notes
                    .iter()
                    .any(|n| n.contains("no secrets for this client random arrived")),
                "{name}: {:?}",
                c.notes
            );
        }
    }
}
