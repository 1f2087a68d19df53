//! Throughput of the whole offline pipeline over the shipped sample captures, in memory.
//!
//! `cargo bench --bench throughput` prints MB/s and packets/s. The samples are tiny and
//! handshake-dense, so this measures the per-handshake path (TLS parsing, certificate
//! summaries, report building), the expensive one per byte; bulk-data throughput on large
//! generated captures is measured by the benchmark script of the performance work.

use std::time::Instant;

use certwire::analyze::{Analyzer, Options};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
    let mut inputs: Vec<(String, std::sync::Arc<[u8]>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            (name.ends_with(".pcap") || name.ends_with(".pcapng"))
                .then(|| (name, std::fs::read(&p).unwrap().into()))
        })
        .collect();
    inputs.sort();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let opts = Options::default();
    let mut bytes = 0u64;
    let mut packets = 0u64;
    let mut connections = 0u64;
    let start = Instant::now();
    for _ in 0..rounds {
        // A fresh analyzer per round: certificate summaries are not cached across rounds.
        let mut analyzer = Analyzer::new(&opts);
        for (name, data) in &inputs {
            let r = analyzer.analyze_reader(name, std::io::Cursor::new(data.clone()), &mut |_| {
                connections += 1
            });
            bytes += r.bytes;
            packets += r.packets;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} captures x {rounds} rounds: {:.1} MB in {:.3} s = {:.1} MB/s, {:.0} packets/s, {:.0} handshakes/s",
        inputs.len(),
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs,
        packets as f64 / secs,
        connections as f64 / secs
    );
}
