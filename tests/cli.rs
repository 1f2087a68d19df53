//! Command-line habits (issue 15): tcpdump's -r/-i/-w, kubectl's `-o json` refused with
//! a way out, options of a live capture refused without one, and the completion scripts
//! and man page generated from the parser's definitions.

mod common;

use std::process::Command;

use common::{certwire, root};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn dash_o_with_a_format_name_is_refused_with_the_way_out() {
    for format in ["table", "json", "jsonl", "markdown", "html"] {
        let out = certwire(&["analyze", "kubelet-rotated-tls12.pcap", "-o", format]);
        assert_eq!(out.status.code(), Some(2), "-o {format}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("-f/--format {format}"))
                && err.contains(&format!("-o ./{format}")),
            "{err}"
        );
        assert!(!root().join(format).exists(), "no file named {format}");
    }
    // `-o ./json` really writes a file of that name; so does a longer path.
    let dir = std::env::temp_dir().join(format!("certwire-cli-o-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args([
            "analyze",
            "-f",
            "json",
            "--no-default-certs",
            "-o",
            "./json",
        ])
        .arg(root().join("kubelet-rotated-tls12.pcap"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("json")).unwrap()).unwrap();
    assert_eq!(v["connections"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
    // --help says so.
    let help = String::from_utf8(certwire(&["analyze", "--help"]).stdout).unwrap();
    assert!(
        help.contains("-o ./json") && help.contains("-f json"),
        "{help}"
    );
}

#[test]
fn dash_r_reads_captures_like_the_positional_arguments() {
    let plain = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "-f",
        "json",
        "--root",
        "node",
    ]);
    let with_r = certwire(&[
        "analyze",
        "-r",
        "kubelet-rotated-tls12.pcap",
        "-f",
        "json",
        "--root",
        "node",
    ]);
    assert_eq!(with_r.status.code(), Some(0), "{}", stderr(&with_r));
    assert_eq!(plain.stdout, with_r.stdout);
    // Mixed with CAPTURE arguments: read in command-line order.
    let out = certwire(&[
        "analyze",
        "rogue-ca-sll.pcap",
        "-r",
        "kubelet-rotated-tls12.pcap",
        "nanosecond.pcap",
        "--read",
        "kubeconfig-go-sll2.pcap",
        "-f",
        "json",
        "--no-default-certs",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "rogue-ca-sll.pcap",
            "kubelet-rotated-tls12.pcap",
            "nanosecond.pcap",
            "kubeconfig-go-sll2.pcap"
        ]
    );
    // -r and a live capture do not mix; no capture at all is still an error.
    assert_eq!(
        certwire(&["analyze", "-r", "x.pcap", "-i", "lo"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(certwire(&["analyze"]).status.code(), Some(2));
}

#[test]
fn dash_i_is_live_and_dash_w_is_write() {
    // -i starts a live capture: an interface that does not exist is status 5 (or, without
    // CAP_NET_RAW, the same status for that), never a usage error.
    let out = certwire(&[
        "analyze",
        "-i",
        "certwire-no-such-if0",
        "--count",
        "1",
        "-w",
        "/nonexistent/x.pcap",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("certwire-no-such-if0") || err.contains("CAP_NET_RAW"),
        "{err}"
    );
    // -w is --write: a live-only option.
    let out = certwire(&[
        "analyze",
        "kubelet-rotated-tls12.pcap",
        "-w",
        "/tmp/never.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--write only applies to a live capture"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn live_only_options_are_refused_without_live() {
    let cases: [&[&str]; 9] = [
        &["--duration", "2s"],
        &["--count", "1"],
        &["--write", "/tmp/never.pcap"],
        &["-w", "/tmp/never.pcap"],
        &["--promisc"],
        &["--keys-from-processes"],
        &["--keys-from", "1"],
        &["--write-application-secrets"],
        &["--metrics-listen", "127.0.0.1:9724"],
    ];
    for extra in cases {
        let mut args = vec!["analyze", "kubelet-rotated-tls12.pcap"];
        args.extend_from_slice(extra);
        let out = certwire(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("only applies to a live capture") || err.contains("--live <INTERFACE>"),
            "{extra:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{extra:?}: no report");
    }
    assert!(!std::path::Path::new("/tmp/never.pcap").exists());
}

#[test]
fn completions_and_manpage_come_from_the_definitions() {
    let bash = certwire(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let bash = String::from_utf8(bash.stdout).unwrap();
    assert!(
        bash.contains("_certwire()") && bash.contains("complete -F"),
        "not a bash completion script"
    );
    assert!(bash.contains("analyze") && bash.contains("--export-certs"));
    let zsh = String::from_utf8(certwire(&["completions", "zsh"]).stdout).unwrap();
    assert!(
        zsh.starts_with("#compdef certwire"),
        "{}",
        &zsh[..40.min(zsh.len())]
    );
    let fish = String::from_utf8(certwire(&["completions", "fish"]).stdout).unwrap();
    assert!(fish.contains("complete -c certwire"));
    assert_eq!(
        certwire(&["completions", "powershell"]).status.code(),
        Some(2)
    );

    let man = certwire(&["manpage"]);
    assert_eq!(man.status.code(), Some(0));
    let man = String::from_utf8(man.stdout).unwrap();
    assert!(
        man.starts_with(".TH") || man.starts_with(".ie"),
        "{}",
        &man[..40]
    );
    assert!(man.contains("\n.TH certwire 1"));
    for section in [
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH COMMANDS",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(man.contains(section), "{section}");
    }
    assert!(man.contains(r"\-\-export\-certs"));
}

/// A report that cannot be written (a full disk) is an error with the system's reason,
/// whether it was written in line or on the writing thread (JSON Lines rendered there
/// too, issue 17), in every format.
#[test]
fn a_full_disk_is_an_error_in_line_and_behind() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("SKIPPED: no /dev/full on this machine");
        return;
    };
    for threads in ["1", "2"] {
        for format in ["jsonl", "json", "table", "markdown", "html"] {
            let out = Command::new(env!("CARGO_BIN_EXE_certwire"))
                .args(["analyze", "kubelet-rotated-tls12.pcap", "--root", "node"])
                .args(["-f", format, "--threads", threads])
                .current_dir(root())
                .stdout(full.try_clone().unwrap())
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{format}, {threads}: {err}");
            assert!(
                err.contains("No space left on device") && !err.contains("panicked"),
                "{format}, {threads}: {err}"
            );
        }
    }
}
