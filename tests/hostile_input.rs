//! Hostile captures, generated here (never committed as large files): inputs shaped to
//! make certwire slow, deaf or hungry. Each checks what the issue that found it measured,
//! with the peak RSS of the real binary (wait4), never with time.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

/// Run certwire with `stdin`, returning its output and peak RSS in MiB, as certwire
/// itself reads it from /proc at exit (CERTWIRE_PEAK_RSS): a parent's getrusage would
/// count the test process's own memory, shared with the child until exec.
fn run_measured(args: &[&str], stdin: Vec<u8>) -> (Output, u64) {
    run_measured_env(args, stdin, &[])
}

fn run_measured_env(args: &[&str], stdin: Vec<u8>, env: &[(&str, &str)]) -> (Output, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwire"))
        .args(args)
        .envs(env.iter().copied())
        .env("CERTWIRE_PEAK_RSS", "1")
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run certwire");
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("wait for certwire");
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("certwire: peak RSS "))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS line: {stderr}"));
    (output, kib / 1024)
}

/// Frames of a classic little-endian pcap, with their timestamps.
fn read_pcap(name: &str) -> (u32, Vec<(u32, u32, Vec<u8>)>) {
    let b = std::fs::read(root().join(name)).unwrap();
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{name}: little-endian usec pcap"
    );
    let linktype = u32::from_le_bytes(b[20..24].try_into().unwrap());
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let u = |o: usize| u32::from_le_bytes(b[at + o..at + o + 4].try_into().unwrap());
        let (sec, usec, incl) = (u(0), u(4), u(8) as usize);
        frames.push((sec, usec, b[at + 16..at + 16 + incl].to_vec()));
        at += 16 + incl;
    }
    (linktype, frames)
}

fn pcap(linktype: u32, frames: impl IntoIterator<Item = (u32, u32, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (sec, usec, f) in frames {
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f);
    }
    out
}

/// An Ethernet + IPv4 + TCP SYN from 10.x.y.z:port to 127.0.0.1:6443, a flow of its own.
fn syn(i: u32) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20];
    f[12] = 0x08; // IPv4
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = 10;
    ip[13..16].copy_from_slice(&(i >> 8).to_be_bytes()[1..]);
    ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&(1024 + (i & 0xff) as u16).to_be_bytes());
    tcp[2..4].copy_from_slice(&6443u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = 0x02; // SYN
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    f
}

fn connections(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    v["connections"].as_array().unwrap().clone()
}

/// Hole 2: 65,536 stale half-open flows (an hour old) filled the flow table, and every
/// later flow was dropped before the idle sweep could run: certwire went deaf. More
/// half-open flows than the table holds, arriving together, must not hide a handshake
/// either: the longest-idle flows make room.
#[test]
fn a_full_flow_table_does_not_hide_later_handshakes() {
    let (linktype, frames) = read_pcap("kubelet-rotated-tls12.pcap");
    let t0 = frames[0].0;
    for (flood, later) in [(65_536u32, 3600u32), (70_000, 1)] {
        let syns = (0..flood).map(|i| (t0, 0, syn(i)));
        let handshakes = frames.iter().map(|(s, u, f)| (s + later, *u, f.clone()));
        let input = pcap(linktype, syns.chain(handshakes));
        let (out, _) = run_measured(
            &["analyze", "-", "--format", "json", "--no-default-certs"],
            input,
        );
        let conns = connections(&out);
        let real = conns
            .iter()
            .filter(|c| c["handshake"] == "completed")
            .count();
        assert_eq!(
            real,
            2,
            "flood {flood}, handshakes {later}s later: {} connections",
            conns.len()
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let dropped = v["inputs"][0]["flows_dropped_by_cap"].as_u64().unwrap();
        // Counted in flows, never more than the flood's excess.
        assert!(dropped <= u64::from(flood), "{dropped}");
    }
}

/// Hole 1: every pcapng Decryption Secrets Block copied the whole key log into each open
/// flow's view: 20,000 small blocks between new flows took 1.7 GB. One shared store
/// keeps it small.
#[test]
fn secrets_blocks_cost_memory_linear_in_their_size() {
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len().next_multiple_of(4);
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (body.len().next_multiple_of(4) - body.len()), 0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    };
    // Section header (little-endian), one Ethernet interface.
    let mut shb = vec![];
    shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d0d0a, &shb);
    block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 4, 0]);
    for i in 0..20_000u32 {
        let line = format!("CLIENT_RANDOM {:064x} {}\n", i, "ab".repeat(48));
        let mut dsb = Vec::new();
        dsb.extend_from_slice(&0x544c534bu32.to_le_bytes()); // TLSK
        dsb.extend_from_slice(&(line.len() as u32).to_le_bytes());
        dsb.extend_from_slice(line.as_bytes());
        dsb.resize(dsb.len().next_multiple_of(4), 0);
        block(&mut out, 10, &dsb);
        let frame = syn(i);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&i.to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&frame);
        epb.resize(epb.len().next_multiple_of(4), 0);
        block(&mut out, 6, &epb);
    }
    let (output, rss) = run_measured(
        &["analyze", "-", "--format", "json", "--no-default-certs"],
        out,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(rss < 300, "peak RSS {rss} MiB for 20,000 secrets blocks");
}

/// The TCP payload each side of the first connection of a capture sent, in order
/// (Ethernet, IPv4, no retransmissions: the sample captures made on loopback).
fn streams(frames: &[(u32, u32, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let (mut client, mut server) = (Vec::new(), Vec::new());
    let mut client_port = None;
    for (_, _, f) in frames {
        let ihl = usize::from(f[14] & 0x0f) * 4;
        let tcp = &f[14 + ihl..];
        let (sport, dport) = (
            u16::from_be_bytes([tcp[0], tcp[1]]),
            u16::from_be_bytes([tcp[2], tcp[3]]),
        );
        let cp = *client_port.get_or_insert(sport);
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let payload = &f[14 + ihl + usize::from(tcp[12] >> 4) * 4..14 + total];
        if sport == cp {
            client.extend_from_slice(payload);
        } else if dport == cp {
            server.extend_from_slice(payload);
        }
    }
    (client, server)
}

/// The handshake messages (type, body) of a plaintext TLS record stream.
fn handshake_messages(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut hs = Vec::new();
    let mut at = 0;
    while at + 5 <= stream.len() && stream[at] == 22 {
        let len = usize::from(u16::from_be_bytes([stream[at + 3], stream[at + 4]]));
        hs.extend_from_slice(&stream[at + 5..at + 5 + len]);
        at += 5 + len;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= hs.len() {
        let len =
            (usize::from(hs[i + 1]) << 16) | (usize::from(hs[i + 2]) << 8) | usize::from(hs[i + 3]);
        out.push((hs[i], hs[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    out
}

fn records(messages: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut hs = Vec::new();
    for (t, body) in messages {
        hs.push(*t);
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(body);
    }
    let mut out = Vec::new();
    for chunk in hs.chunks(16384) {
        out.extend_from_slice(&[22, 3, 3]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Ethernet frames carrying `payload` from one endpoint to the other, in segments.
fn segments(template: &[u8], seq: &mut u32, payload: &[u8]) -> Vec<Vec<u8>> {
    let ihl = usize::from(template[14] & 0x0f) * 4;
    let thl = usize::from(template[14 + ihl + 12] >> 4) * 4;
    let head = &template[..14 + ihl + thl];
    payload
        .chunks(32_000)
        .map(|chunk| {
            let mut f = head.to_vec();
            f.extend_from_slice(chunk);
            let total = (ihl + thl + chunk.len()) as u16;
            f[16..18].copy_from_slice(&total.to_be_bytes());
            f[14 + ihl + 4..14 + ihl + 8].copy_from_slice(&seq.to_be_bytes());
            f[14 + ihl + 13] = 0x18; // PSH, ACK
            *seq = seq.wrapping_add(chunk.len() as u32);
            f
        })
        .collect()
}

/// Hole 7: chains of hundreds of same-name certificates made the chain checks cost
/// without bound (every one's signature verified) and gave a finding per certificate.
/// Now a chain is looked at up to a cap, signature checks are budgeted and cached, and
/// findings per connection are capped with a count of the rest.
#[test]
fn a_chain_of_hundreds_of_expired_same_name_certificates_is_one_story() {
    let (linktype, frames) = read_pcap("kubelet-rotated-tls12.pcap");
    let (client, server) = streams(&frames);
    let client_hello = handshake_messages(&client).into_iter().next().unwrap();
    let mut flight = handshake_messages(&server);
    // The server's leaf: a certificate no trusted CA signed; then 300 distinct, expired
    // certificates all named like its issuer (copies of the rogue CA with other bytes; as
    // many as fit under the 256 KiB cap on a Certificate message).
    let der = |name: &str| {
        let pem = std::fs::read_to_string(root().join(name)).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        data_encoding::BASE64.decode(b64.as_bytes()).unwrap()
    };
    let leaf = der("pki-extra/rogue-client.crt");
    let ca = der("pki-extra/rogue-ca.crt");
    let times: Vec<usize> = ca
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == &[0x17, 0x0d])
        .map(|(i, _)| i)
        .collect();
    let mut chain = vec![leaf];
    for i in 0..300u32 {
        let mut c = ca.clone();
        c[times[0] + 2..times[0] + 15].copy_from_slice(b"190101000000Z");
        c[times[1] + 2..times[1] + 15].copy_from_slice(b"200101000000Z");
        let n = c.len();
        c[n - 2..].copy_from_slice(&(i as u16).to_be_bytes());
        chain.push(c);
    }
    let mut body = Vec::new();
    for c in &chain {
        body.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(c);
    }
    let mut list = (body.len() as u32).to_be_bytes()[1..].to_vec();
    list.extend_from_slice(&body);
    for m in flight.iter_mut().filter(|m| m.0 == 11) {
        m.1 = list.clone();
    }
    // SYN, SYN-ACK, ACK as captured; then the ClientHello and the rewritten flight.
    let has_payload = |f: &[u8]| {
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        total > 20 + usize::from(f[14 + 20 + 12] >> 4) * 4
    };
    let first_data = |port_at: usize| {
        frames
            .iter()
            .find(|f| has_payload(&f.2) && f.2[port_at..port_at + 2] == 6443u16.to_be_bytes())
            .unwrap()
            .2
            .clone()
    };
    let (client_frame, server_frame) = (first_data(14 + 20 + 2), first_data(14 + 20));
    let seq_of = |f: &[u8]| u32::from_be_bytes(f[14 + 20 + 4..14 + 20 + 8].try_into().unwrap());
    let (mut cseq, mut sseq) = (seq_of(&client_frame), seq_of(&server_frame));
    let mut out: Vec<(u32, u32, Vec<u8>)> = frames[..3].to_vec();
    let t = frames[3].0;
    for f in segments(&client_frame, &mut cseq, &records(&[client_hello])) {
        out.push((t, 1, f));
    }
    for f in segments(&server_frame, &mut sseq, &records(&flight)) {
        out.push((t, 2, f));
    }
    let (output, _) = run_measured(
        &["analyze", "-", "--format", "json", "--root", "node"],
        pcap(linktype, out),
    );
    let conns = connections(&output);
    let c = &conns[0];
    assert_eq!(
        c["server_certificates"].as_array().unwrap().len(),
        301,
        "all presented certificates are reported"
    );
    let findings = c["findings"].as_array().unwrap();
    assert!(findings.len() <= 32, "{} findings", findings.len());
    let rest = findings
        .iter()
        .find(|f| f["code"] == "findings-truncated")
        .expect("the rest counted");
    assert!(s(&rest["message"]).contains("expired"), "{rest}");
}

/// Documents spill their connections to a temporary file past a memory cap and merge
/// them back in order: with a cap of one byte every connection is a run of its own, and
/// every format must come out byte for byte as when all stayed in memory.
#[test]
fn spilled_documents_are_identical_to_documents_kept_in_memory() {
    for format in ["json", "table", "markdown", "html"] {
        let args = [
            "analyze",
            "retransmit-reorder.pcap",
            "broken-certs.pcap",
            "rogue-ca-sll.pcap",
            "--root",
            "node",
            "-f",
            format,
        ];
        let kept = certwire(&args);
        let spilled = Command::new(env!("CARGO_BIN_EXE_certwire"))
            .args(args)
            .current_dir(root())
            .env("CERTWIRE_SPOOL_BYTES", "1")
            .output()
            .unwrap();
        assert!(
            kept.status.success() && spilled.status.success(),
            "{format}"
        );
        assert!(kept.stdout.len() > 1000, "{format}");
        assert!(
            kept.stdout == spilled.stdout,
            "{format}: spilled output differs"
        );
    }
    // And the ids are the document positions, in input then first-packet order.
    let v = analyze(&["retransmit-reorder.pcap", "broken-certs.pcap"]);
    let ids: Vec<u64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
}

/// The two handshakes of kubelet-rotated-tls12.pcap, `copies` times over, each copy from
/// another client address and port and a second later: an endless-looking stream of
/// handshakes.
fn handshake_stream(copies: u32) -> Vec<u8> {
    let (linktype, frames) = read_pcap("kubelet-rotated-tls12.pcap");
    let mut out = Vec::new();
    for k in 0..copies {
        for (sec, usec, f) in &frames {
            let mut f = f.clone();
            let t = 14 + usize::from(f[14] & 0x0f) * 4;
            let from_client = u16::from_be_bytes([f[t], f[t + 1]]) != 6443;
            let (port_at, ip_at) = if from_client {
                (t, 14 + 12)
            } else {
                (t + 2, 14 + 16)
            };
            f[port_at..port_at + 2].copy_from_slice(&(10_000 + (k % 50_000) as u16).to_be_bytes());
            f[ip_at + 1] = (k >> 8) as u8;
            f[ip_at + 2] = k as u8;
            out.push((sec + k, *usec, f));
        }
    }
    pcap(linktype, out)
}

/// Every document format keeps memory bounded on a stream of handshakes read from stdin:
/// doubling the stream must not grow the peak RSS (it grew by about 6 KB per connection
/// with the node's files, the whole document being held until the end: 3,000 more
/// connections, 18 MB more). The spool's cap is set to 4 MiB so that both runs spill.
#[test]
fn documents_keep_memory_bounded_on_a_stream_of_handshakes() {
    let (small, large) = (handshake_stream(1_500), handshake_stream(3_000));
    // Every connection in full (--no-group), and grouped (the default: the group's id
    // lists and counts must not grow memory either).
    for (format, group) in [
        ("json", "--no-group"),
        ("table", "--no-group"),
        ("markdown", "--no-group"),
        ("html", "--no-group"),
        ("table", ""),
        ("html", ""),
    ] {
        let measure = |input: Vec<u8>| {
            let mut args = vec!["analyze", "-", "--root", "node", "-f", format];
            if !group.is_empty() {
                args.push(group);
            }
            run_measured_env(&args, input, &[("CERTWIRE_SPOOL_BYTES", "4194304")])
        };
        let (out_s, rss_s) = measure(small.clone());
        let (out_l, rss_l) = measure(large.clone());
        assert!(
            out_s.status.success() && out_l.status.success(),
            "{format} {group}"
        );
        // Output that grows shows the larger stream was read (grouped documents other than
        // JSON say it in a few lines).
        if group == "--no-group" || format == "table" {
            assert!(
                out_l.stdout.len() > out_s.stdout.len() * 3 / 2,
                "{format} {group}: the larger stream gave more output"
            );
        }
        assert!(
            rss_l <= rss_s + 8,
            "{format} {group}: peak RSS {rss_s} MiB for 3,000 connections, {rss_l} MiB for 6,000"
        );
    }
}
