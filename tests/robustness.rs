//! Garbage in, no panic out: every committed capture with bytes flipped, cut short or
//! spliced, through the whole pipeline in-process (with local files, so correlation and
//! diagnosis run too). Deterministic: the mutations come from a fixed seed.

mod common;

use certwire::analyze::{Analyzer, Options};
use certwire::local::{scan, ScanOptions};
use common::root;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_captures_never_panic() {
    let inv = std::sync::Arc::new(scan(&ScanOptions {
        paths: vec![root().join("node"), root().join("pki-extra")],
        root: Some(root().join("node")),
        defaults: false,
    }));
    let mut captures: Vec<Vec<u8>> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let n = p.file_name()?.to_str()?.to_string();
            (n.ends_with(".pcap") || n.ends_with(".pcapng")).then(|| std::fs::read(&p).unwrap())
        })
        .collect();
    captures.sort();
    assert!(captures.len() >= 20);
    let keys = std::fs::read_to_string(root().join("keylogs/tls13-openssl.pcap.keys")).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    for original in &captures {
        for round in 0..12 {
            let mut data = original.clone();
            match round % 4 {
                // Flip bytes anywhere (headers included).
                0 | 1 => {
                    for _ in 0..(1 + rng.below(64)) {
                        let i = rng.below(data.len());
                        data[i] ^= 1 << rng.below(8);
                    }
                }
                // Overwrite a run of payload with random bytes.
                2 => {
                    let start = 24 + rng.below(data.len().saturating_sub(24));
                    let len = rng.below(512).min(data.len() - start);
                    for b in &mut data[start..start + len] {
                        *b = rng.next() as u8;
                    }
                }
                // Cut anywhere.
                _ => data.truncate(rng.below(data.len())),
            }
            let mut analyzer = Analyzer::new(&Options::default());
            analyzer.set_inventory(inv.clone());
            analyzer.add_keylog_text(&keys);
            let mut n = 0;
            let report =
                analyzer.analyze_reader("mutated", std::io::Cursor::new(data.clone()), &mut |_| {
                    n += 1
                });
            // It either read something or said why not.
            assert!(
                report.packets > 0
                    || report.error.is_some()
                    || report.truncated_at.is_some()
                    || data.len() < 24
            );
            runs += 1;
        }
    }
    assert!(runs >= 240);
}
