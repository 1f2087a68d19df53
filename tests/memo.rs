//! What an analyzer keeps between connections (certificate summaries and keys, and since
//! issue 17 the candidates not presented per presented chain) gives the same reports as
//! working it out afresh: every shipped capture, with the node's files, analyzed by one
//! analyzer after all the others (everything kept) and by a fresh one.

mod common;

use certwire::analyze::{Analyzer, Options};
use certwire::local::{scan, ScanOptions};
use certwire::report::json::write_jsonl_connection;
use common::root;

fn reports(analyzer: &mut Analyzer, capture: &str) -> Vec<String> {
    let bytes = std::fs::read(root().join(capture)).unwrap();
    let mut out = Vec::new();
    analyzer.analyze_reader(capture, std::io::Cursor::new(bytes), &mut |c| {
        let mut line = Vec::new();
        write_jsonl_connection(&c, &mut line).unwrap();
        out.push(String::from_utf8(line).unwrap());
    });
    out
}

#[test]
fn kept_results_are_the_fresh_ones() {
    let inventory = std::sync::Arc::new(scan(&ScanOptions {
        paths: Vec::new(),
        root: Some(root().join("node")),
        defaults: true,
    }));
    let mut captures: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    captures.sort();
    let mut warm = Analyzer::new(&Options::default());
    warm.set_inventory(inventory.clone());
    // Twice over, so that the second round finds everything kept.
    for round in 0..2 {
        for capture in &captures {
            let mut fresh = Analyzer::new(&Options::default());
            fresh.set_inventory(inventory.clone());
            assert_eq!(
                reports(&mut warm, capture),
                reports(&mut fresh, capture),
                "{capture}, round {round}"
            );
        }
    }
}
