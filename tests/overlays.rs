//! What a node's capture holds around and before the TLS (captures/scripts/capture-tunnels.sh):
//! overlays and tunnels, proxy preambles, connections that never connected, handshakes on
//! ports not followed. The certificates inside are compared with tshark's by
//! tests/captures.rs (every expected/<capture>.json); here the context: the tunnel as
//! tshark dissects it (expected/<capture>.tunnels.json, tools/tunnels.py), and packet
//! counts read from the capture itself.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

#[test]
fn every_tunnel_is_opened_and_named_as_tshark_names_it() {
    for capture in [
        "tunnel-vxlan.pcap",
        "tunnel-geneve.pcap",
        "tunnel-gre.pcap",
        "tunnel-erspan.pcap",
        "tunnel-ipip-nested.pcap",
    ] {
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join(format!("expected/{capture}.tunnels.json")))
                .unwrap(),
        )
        .unwrap();
        let v = analyze(&[capture, "--root", "node"]);
        let conns = v["connections"].as_array().unwrap();
        assert_eq!(conns.len(), expected.as_array().unwrap().len(), "{capture}");
        for e in expected.as_array().unwrap() {
            let c = conns
                .iter()
                .find(|c| c["client"] == e["client"])
                .unwrap_or_else(|| panic!("{capture}: no connection from {}", e["client"]));
            let t = &c["tunnel"];
            assert!(
                s(&t["kind"]).starts_with(&s(&e["kind"])),
                "{capture}: {t} vs {e}"
            );
            for field in ["id", "outer_client", "outer_server", "layers"] {
                assert_eq!(t[field], e[field], "{capture} {field}: {t} vs {e}");
            }
            assert_eq!(c["server"], e["server"], "{capture}");
        }
        assert_eq!(
            v["inputs"][0]["frames_unsupported_encapsulation"], 0,
            "{capture}"
        );
    }
}

/// An IPv4 packet: protocol, source, destination, payload.
type Ipv4Packet = (u8, [u8; 4], [u8; 4], Vec<u8>);

/// The IPv4 packets of a classic little-endian Ethernet pcap.
fn ipv4_payloads(capture: &str) -> Vec<Ipv4Packet> {
    let b = std::fs::read(root().join(capture)).unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = &b[at + 16..at + 16 + incl];
        at += 16 + incl;
        if f.len() < 34 || f[12..14] != [8, 0] {
            continue;
        }
        let ihl = usize::from(f[14] & 15) * 4;
        let total = usize::from(u16::from_be_bytes([f[16], f[17]])).min(f.len() - 14);
        out.push((
            f[23],
            f[26..30].try_into().unwrap(),
            f[30..34].try_into().unwrap(),
            f[14 + ihl..14 + total].to_vec(),
        ));
    }
    out
}

/// SYNs, RSTs and ICMP unreachables counted from the capture's own packets, compared with
/// certwire's groups of connections that never connected.
#[test]
fn connections_that_never_connected_are_grouped_with_their_findings() {
    let packets = ipv4_payloads("never-connected.pcap");
    // Per destination port: client SYNs, server RSTs without a SYN-ACK, ICMP unreachables.
    let mut syns: BTreeMap<u16, u64> = BTreeMap::new();
    let mut synacks: BTreeMap<u16, u64> = BTreeMap::new();
    let mut rsts: BTreeMap<u16, u64> = BTreeMap::new();
    let mut icmp: BTreeMap<u16, u64> = BTreeMap::new();
    for (proto, _, _, p) in &packets {
        match proto {
            6 => {
                let (sport, dport, flags) = (
                    u16::from_be_bytes([p[0], p[1]]),
                    u16::from_be_bytes([p[2], p[3]]),
                    p[13],
                );
                if flags & 0x12 == 0x02 {
                    *syns.entry(dport).or_default() += 1;
                } else if flags & 0x12 == 0x12 {
                    *synacks.entry(sport).or_default() += 1;
                } else if flags & 0x04 != 0 {
                    *rsts.entry(sport).or_default() += 1;
                }
            }
            1 if p[0] == 3 => {
                let q = &p[8..];
                let ihl = usize::from(q[0] & 15) * 4;
                *icmp
                    .entry(u16::from_be_bytes([q[ihl + 2], q[ihl + 3]]))
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    let v = analyze(&["never-connected.pcap", "--root", "node"]);
    let groups = v["inputs"][0]["connection_attempts"].as_array().unwrap();
    let port = |g: &Value| {
        s(&g["server"])
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    let sum = |outcome: &str, p: u16, field: &str| -> u64 {
        groups
            .iter()
            .filter(|g| g["outcome"] == outcome && port(g) == p)
            .map(|g| g[field].as_u64().unwrap())
            .sum()
    };
    for (p, n) in &rsts {
        assert_eq!(sum("refused", *p, "attempts"), *n, "RSTs from port {p}");
    }
    for (p, n) in &icmp {
        assert_eq!(
            sum("unreachable", *p, "attempts"),
            *n,
            "ICMP about port {p}"
        );
    }
    for (p, n) in &syns {
        if synacks.contains_key(p) {
            continue; // the successful connection
        }
        let counted: u64 = ["refused", "unreachable", "no-answer"]
            .iter()
            .map(|o| sum(o, *p, "syn_packets"))
            .sum();
        assert_eq!(counted, *n, "SYNs to port {p}");
    }
    assert!(
        sum("no-answer", 10250, "syn_packets") > 1,
        "the dropped SYN was retransmitted"
    );
    let retry = groups
        .iter()
        .find(|g| g["attempts"].as_u64() > Some(1))
        .expect("the retrying client");
    assert!(retry["interval_seconds"].as_f64().unwrap() > 0.5);
    for g in groups {
        let f = &g["finding"];
        assert_eq!(f["severity"], "error");
        let code = if g["outcome"] == "refused" {
            "tcp-refused"
        } else {
            "tcp-no-answer"
        };
        assert_eq!(f["code"], code, "{g}");
    }
    assert_eq!(
        v["summary"]["findings"]["tcp-refused"].as_u64(),
        Some(groups.iter().filter(|g| g["outcome"] == "refused").count() as u64)
    );
    // The one connection that did connect is reported as usual, not as an attempt.
    assert_eq!(v["connections"].as_array().unwrap().len(), 1);
    for format in ["table", "markdown", "html"] {
        let text =
            String::from_utf8(certwire(&["analyze", "never-connected.pcap", "-f", format]).stdout)
                .unwrap();
        assert!(
            text.contains("tcp-refused") && text.contains("tcp-no-answer"),
            "{format}"
        );
    }
}

/// ClientHellos on ports not followed, counted from the capture's packets, are what the
/// report says it skipped, in every format with the way to include them.
#[test]
fn handshakes_on_ports_not_followed_are_counted_and_explained() {
    let mut hellos: BTreeMap<u16, u64> = BTreeMap::new();
    for (proto, _, _, p) in ipv4_payloads("other-ports.pcap") {
        let off = usize::from(p.get(12).copied().unwrap_or(0) >> 4) * 4;
        let data = p.get(off..).unwrap_or(&[]);
        if proto == 6 && data.len() > 5 && data[0] == 22 && data[5] == 1 {
            *hellos.entry(u16::from_be_bytes([p[2], p[3]])).or_default() += 1;
        }
    }
    hellos.remove(&6443);
    assert!(!hellos.is_empty());
    let v = analyze(&["other-ports.pcap", "--root", "node"]);
    let skipped = &v["inputs"][0]["tls_handshakes_not_followed"];
    for (port, n) in &hellos {
        assert_eq!(
            skipped[port.to_string()].as_u64(),
            Some(*n),
            "port {port}: {skipped}"
        );
    }
    for format in ["table", "markdown", "html"] {
        let text =
            String::from_utf8(certwire(&["analyze", "other-ports.pcap", "-f", format]).stdout)
                .unwrap();
        assert!(
            text.contains("--any-port") && text.contains("443"),
            "{format}"
        );
    }
    // With the ports added, they are followed.
    let v = analyze(&[
        "other-ports.pcap",
        "--ports",
        "6443,443,8443",
        "--no-default-certs",
    ]);
    assert_eq!(
        v["connections"].as_array().unwrap().len() as u64,
        1 + hellos.values().sum::<u64>()
    );
}

/// TLS after an HTTP CONNECT or SOCKS exchange on the proxy's port (not followed) is found
/// through the port the preamble names, and the hop is reported.
#[test]
fn tls_behind_a_proxy_preamble_is_followed_to_its_target() {
    for (capture, protocols) in [
        ("proxy-connect.pcap", &["http-connect"][..]),
        ("proxy-socks5.pcap", &["socks5", "socks4"][..]),
    ] {
        let v = analyze(&[capture, "--root", "node"]);
        let conns = v["connections"].as_array().unwrap();
        assert!(!conns.is_empty(), "{capture}");
        for c in conns {
            let p = &c["proxy"];
            assert!(
                protocols.contains(&s(&p["protocol"]).as_str()),
                "{capture}: {p}"
            );
            assert_eq!(p["outcome"], "established", "{capture}");
            assert_eq!(p["target_port"], 6443, "{capture}");
            // Judged for the target: the apiserver's role, its certificate's file.
            assert_eq!(c["server_role"], "kube-apiserver", "{capture}");
            assert_eq!(c["handshake"], "completed", "{capture}");
        }
    }
}

/// A HelloRetryRequest is reported with the group it asked for, as tshark reads it.
#[test]
fn hello_retry_requests_are_reported_as_tshark_reads_them() {
    let mut seen = 0;
    for capture in ["tls13-hrr.pcap", "tls13-openssl-variants.pcap"] {
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join(format!("expected/{capture}.json"))).unwrap(),
        )
        .unwrap();
        let v = analyze(&[capture, "--no-default-certs"]);
        let (got, want) = (
            v["connections"].as_array().unwrap(),
            exp["connections"].as_array().unwrap(),
        );
        assert_eq!(got.len(), want.len(), "{capture}");
        for (g, w) in got.iter().zip(want) {
            let w = &w["hello_retry_request"];
            if w.is_null() {
                assert!(g["hello_retry_request"].is_null(), "{capture}: {g}");
                continue;
            }
            seen += 1;
            assert_eq!(
                g["hello_retry_request"]["group_id"], w["selected_group"],
                "{capture}"
            );
            assert_eq!(
                g["hello_retry_request"]["group"], w["selected_group_name"],
                "{capture}"
            );
        }
    }
    assert_eq!(seen, 2);
}

/// WireGuard cannot be opened: its frames are counted (as many as tshark dissects as
/// WireGuard) and the report says handshakes may be inside them.
#[test]
fn wireguard_is_counted_and_said_to_hide_handshakes() {
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("expected/wireguard.pcap.wg.json")).unwrap(),
    )
    .unwrap();
    let v = analyze(&["wireguard.pcap", "--no-default-certs"]);
    assert_eq!(v["inputs"][0]["frames_encrypted_tunnel"], exp["wg_frames"]);
    assert!(v["connections"].as_array().unwrap().is_empty());
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .any(|w| s(&w["message"]).contains("handshakes may be inside it")),
        "{w:?}"
    );
}
