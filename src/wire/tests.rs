//! Decoding real frames from the sample captures: every link type, and every truncation.

use super::*;
use crate::source::{read_capture, CaptureStats, Event};

/// (capture, TCP frames, sum of TCP payload lengths), both counted by
/// `tshark -r CAPTURE -Y tcp` and `-Y 'tcp.len>0' -T fields -e tcp.len`.
const TSHARK_COUNTS: &[(&str, usize, u64)] = &[
    ("kubelet-rotated-tls12.pcap", 44, 10815),
    ("vlan-qinq.pcap", 55, 28784),
    ("rogue-ca-sll.pcap", 28, 7374),
    ("kubeconfig-go-sll2.pcap", 37, 8024),
    ("null-loopback.pcap", 55, 28806),
    ("rawip.pcap", 55, 28806),
    ("ipv6-exthdr.pcap", 52, 22933),
    ("any-multi.pcapng", 83, 42372),
    ("big-endian.pcap", 55, 28782),
];

fn frames(name: &str) -> Vec<(u16, Vec<u8>)> {
    let path = format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    let mut out = Vec::new();
    let mut stats = CaptureStats::default();
    read_capture(name, std::io::Cursor::new(bytes), &mut stats, true, |ev| {
        if let Event::Packet(p) = ev {
            out.push((p.linktype, p.data.to_vec()));
        }
    })
    .unwrap();
    out
}

#[test]
fn tcp_frames_and_payload_bytes_match_tshark() {
    for &(name, tcp_frames, payload) in TSHARK_COUNTS {
        let mut n = 0;
        let mut sum = 0u64;
        for (lt, f) in frames(name) {
            if let Ok(seg) = decode(lt, &f) {
                n += 1;
                sum += seg.payload.len() as u64;
            }
        }
        assert_eq!((n, sum), (tcp_frames, payload), "{name}");
    }
}

#[test]
fn every_truncation_of_real_frames_is_safe() {
    for &(name, _, _) in TSHARK_COUNTS {
        for (lt, f) in frames(name).into_iter().take(12) {
            let whole = decode(lt, &f)
                .ok()
                .map(|s| (s.src_port, s.dst_port, s.seq, s.payload.len()));
            for cut in 0..f.len() {
                if let Ok(seg) = decode(lt, &f[..cut]) {
                    // A cut frame keeps its headers' facts and as much payload as there is.
                    let (sp, dp, seq, len) =
                        whole.expect("a prefix decodes only if the frame does");
                    assert_eq!((seg.src_port, seg.dst_port, seg.seq), (sp, dp, seq));
                    assert!(seg.payload.len() <= len);
                    assert!(seg.payload_len as usize >= seg.payload.len());
                }
            }
        }
    }
}

#[test]
fn unknown_link_type_is_reported_not_guessed() {
    let (_, f) = frames("kubelet-rotated-tls12.pcap").remove(0);
    assert_eq!(decode(147, &f).unwrap_err(), Skip::UnsupportedLink);
}

/// The fast path must never decide differently from the general one: on every frame of
/// every sample (whole, and cut at every length for the first frames), it either declines
/// or yields exactly what etherparse's lax slicer yields.
#[test]
fn fast_path_agrees_with_the_general_path() {
    let dir = format!("{}/captures", env!("CARGO_MANIFEST_DIR"));
    let mut taken = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let path = format!("{dir}/{name}");
        let bytes = std::fs::read(&path).unwrap();
        let mut all = Vec::new();
        let mut stats = CaptureStats::default();
        let _ = read_capture(&name, std::io::Cursor::new(bytes), &mut stats, true, |ev| {
            if let Event::Packet(p) = ev {
                all.push((p.linktype, p.data.to_vec()));
            }
        });
        for (i, (lt, f)) in all.iter().enumerate() {
            let cuts: Vec<usize> = if i < 4 {
                (0..=f.len()).collect()
            } else {
                vec![f.len()]
            };
            for cut in cuts {
                let frame = &f[..cut];
                if let Some(fast) = fast::decode(*lt, frame) {
                    taken += 1;
                    let lax = decode_lax(*lt, frame).expect("general path decodes it too");
                    assert_eq!(
                        format!("{fast:?}"),
                        format!("{lax:?}"),
                        "{name} frame {i} cut {cut}"
                    );
                }
            }
        }
    }
    assert!(taken > 1000, "the fast path took only {taken} frames");
}
