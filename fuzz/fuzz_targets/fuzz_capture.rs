//! A whole capture file (pcap, pcapng, or either gzip-compressed) through the analyzer, as
//! `certwire FILE` reads it: framing, link/IP/TCP, flows, reassembly, TLS (decrypted with
//! the sample key logs where the fuzzer kept a known ClientHello random), certificate
//! summaries, correlation with the sample node's files, diagnosis, and every renderer.
#![no_main]

use std::io::{BufRead, BufReader, Cursor};
use std::sync::{Arc, OnceLock};

use certwire::analyze::{Analyzer, Options};
use certwire::local::{scan, ScanOptions};
use certwire::report::{html, json, markdown, table};
use libfuzzer_sys::fuzz_target;

fn captures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures")
}

/// Configured once (local files scanned, key logs read); each input gets a fresh fork.
fn prototype() -> &'static Analyzer {
    static PROTO: OnceLock<Analyzer> = OnceLock::new();
    PROTO.get_or_init(|| {
        let mut a = Analyzer::new(&Options {
            any_port: true,
            ..Options::default()
        });
        // In line: a reader thread per input would only slow fuzzing down.
        a.read_ahead = false;
        let node = captures().join("node");
        a.set_inventory(Arc::new(scan(&ScanOptions {
            paths: vec![node.clone(), captures().join("pki-extra")],
            root: Some(node),
            defaults: false,
        })));
        if let Ok(dir) = std::fs::read_dir(captures().join("keylogs")) {
            let mut files: Vec<_> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            for f in files {
                if let Ok(text) = std::fs::read_to_string(f) {
                    a.add_keylog_text(&text);
                }
            }
        }
        a
    })
}

fuzz_target!(|data: &[u8]| {
    let mut analyzer = prototype().fork();
    // What `source::open_input` does: gzip recognised by its magic, never by a name.
    let bytes = Cursor::new(data.to_vec());
    let reader: Box<dyn BufRead + Send> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(bytes)))
    } else {
        Box::new(bytes)
    };
    let mut sink = std::io::sink();
    // Narrow (one block per certificate, lines fitted) and wide, grouped and not.
    let narrow = certwire::report::Layout {
        with_local: true,
        grouped: true,
        summary_only: false,
        width: Some(60),
        several_inputs: true,
    };
    let wide = certwire::report::Layout {
        grouped: false,
        width: None,
        ..narrow
    };
    let mut groups = certwire::report::groups::Groups::default();
    analyzer.analyze_reader("fuzz", reader, &mut |c| {
        for layout in [&narrow, &wide] {
            let mut fitted = certwire::report::fit::Fit::new(&mut sink, 60);
            let _ = table::write_connection(&c, layout, &mut fitted);
            let _ = markdown::write_connection(&c, layout, &mut sink);
            let _ = html::write_connection(&c, layout, &mut sink);
        }
        let _ = markdown::write_overview_row(&c, &mut sink);
        let _ = html::write_overview_row(&c, &mut sink);
        let _ = json::write_jsonl_connection(&c, &mut sink);
        let _ = certwire::report::diagram::mermaid(&c);
        let _ = certwire::report::diagram::svg(&c);
        if let Some(g) = groups.add(&c).group() {
            groups.add_id(g, c.id);
        }
    });
});
