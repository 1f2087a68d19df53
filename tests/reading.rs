//! The three ways of reading a capture give the same report: read ahead on a second
//! thread (the default), mapped and parsed in place (`--threads 1` on a regular file,
//! issue 17), and read in line (a pipe on stdin with `--threads 1`), on every shipped
//! capture and on files cut at every kind of place. The two ways of writing JSON Lines
//! too: rendered on a writing thread of their own (a file with more than one thread) and
//! in line (`--threads 1`, and a pipe on stdin), in both forms.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::root;

fn run(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(args)
        .current_dir(root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run certwire");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        stderr,
    )
}

/// The report of `path` (relative to captures/ or absolute) read the three ways; the
/// input's name is the same in each (stdin is named `-`, so its path is put back).
fn three_ways(path: &str) {
    let common = ["-f", "jsonl", "--root", "node"];
    let ahead = run(
        &[&["analyze", path, "--threads", "2"][..], &common].concat(),
        None,
    );
    let mapped = run(
        &[&["analyze", path, "--threads", "1"][..], &common].concat(),
        None,
    );
    let compact = |threads| {
        run(
            &[
                &["analyze", path, "--jsonl-compact", "--threads", threads][..],
                &common,
            ]
            .concat(),
            None,
        )
    };
    assert_eq!(
        compact("1"),
        compact("2"),
        "{path}: compact, in line and behind"
    );
    let bytes = std::fs::read(root().join(path)).unwrap();
    let piped = run(
        &[&["analyze", "-", "--threads", "1"][..], &common].concat(),
        Some(&bytes),
    );
    assert_eq!(mapped, ahead, "{path}: mapped against read ahead");
    let named = |s: &str| {
        s.replace(
            "\"input\":\"-\"",
            &format!("\"input\":{}", serde_json::json!(path)),
        )
        .replace(
            "\"path\":\"-\"",
            &format!("\"path\":{}", serde_json::json!(path)),
        )
        .replace("<stdin>", path)
    };
    assert_eq!(piped.0, ahead.0, "{path}: exit status, pipe");
    assert_eq!(named(&piped.1), ahead.1, "{path}: report, pipe");
}

#[test]
fn every_shipped_capture_reads_the_same_mapped_ahead_and_in_line() {
    let mut n = 0;
    for e in std::fs::read_dir(root()).unwrap() {
        let name = e.unwrap().file_name().to_str().unwrap().to_string();
        if name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".gz") {
            three_ways(&name);
            n += 1;
        }
    }
    assert!(n >= 40, "{n} captures");
}

#[test]
fn files_cut_anywhere_read_the_same_mapped_ahead_and_in_line() {
    let dir = std::env::temp_dir().join(format!("certwire-reading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for capture in ["kubelet-rotated-tls12.pcap", "any-multi.pcapng"] {
        let bytes = std::fs::read(root().join(capture)).unwrap();
        // In the file header, in a record header, in a record, on a record boundary, and
        // one byte short of the end.
        for cut in [
            10,
            24,
            30,
            40,
            100,
            1000,
            4096,
            5000,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let path = dir.join(format!("cut-{cut}-{capture}"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            three_ways(path.to_str().unwrap());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
