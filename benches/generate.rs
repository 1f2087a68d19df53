//! Generator of large, realistic captures for the performance work, deterministic from a
//! seed. `cargo bench --bench generate -- OUT.pcap SIZE_MIB [SEED]` writes OUT.pcap and
//! OUT.pcap.truth.json (the ground truth). The large files are not committed.
//!
//! Handshakes are not invented: real flows from the committed sample captures (made by
//! OpenSSL and Go on loopback) are the templates, re-addressed (new IPs, ports, ISNs,
//! timestamps) with their TLS bytes unchanged. Around them: bulk TLS application data on
//! the same ports (MSS-sized and 64 KiB GRO-sized segments), flows already open when the
//! capture starts (no SYN, starting mid-record), duplicate retransmissions, and noise on
//! other ports (TLS with certificates on 443, HTTP, DNS over UDP). Flows interleave.
//!
//! `--dense` (anywhere among the arguments) makes the handshake-dense profile instead:
//! nearly every flow is a mutual-TLS 1.2 handshake on 6443 or 10250 with a two-certificate
//! chain on both sides (the OpenSSL flows of kubelet-rotated-tls12.pcap and big-endian.pcap),
//! followed by a little application data (16–48 KiB), 2 % duplicate retransmissions, and
//! TLS with certificates on 443 as noise: about 10,000 handshakes per 512 MiB.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};

use certwire::source::{read_capture, CaptureStats, Event};
use certwire::wire::{decode, TcpFlags};
use etherparse::PacketBuilder;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

/// xorshift64*: small, deterministic, good enough for traffic shapes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

#[derive(Clone)]
struct TFrame {
    from_client: bool,
    flags: TcpFlags,
    rel_seq: u32,
    rel_ack: u32,
    payload: Vec<u8>,
}

#[derive(Clone)]
struct Template {
    server_port: u16,
    frames: Vec<TFrame>,
    /// Expected leaf SHA-256 of the server and client, from the template's expected file
    /// (tshark), when the handshake is in the clear.
    server_sha: Option<String>,
    client_sha: Option<String>,
    /// Every certificate of each side's chain, in order (empty when not in the clear).
    server_chain: Vec<String>,
    client_chain: Vec<String>,
    tls13: bool,
}

/// The SHA-256 of every certificate of one side's chain in an expected connection.
fn chain(conn: Option<&serde_json::Value>, side: &str) -> Vec<String> {
    conn.and_then(|c| c[side].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c["sha256"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Flows that start with a SYN in an Ethernet capture, as templates.
fn templates(dir: &str, name: &str) -> Vec<Template> {
    let bytes = std::fs::read(format!("{dir}/{name}")).expect("template capture");
    let exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/expected/{name}.json")).unwrap(),
    )
    .unwrap();
    type Key = (IpAddr, u16, IpAddr, u16);
    type Seen = (bool, u32, u32, TcpFlags, Vec<u8>);
    let mut flows: BTreeMap<Key, Vec<Seen>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut stats = CaptureStats::default();
    read_capture(name, std::io::Cursor::new(bytes), &mut stats, true, |ev| {
        let Event::Packet(p) = ev else { return };
        let Ok(s) = decode(p.linktype, p.data) else {
            return;
        };
        let fwd = (s.src, s.src_port, s.dst, s.dst_port);
        let rev = (s.dst, s.dst_port, s.src, s.src_port);
        let (key, from_client) = if flows.contains_key(&rev) {
            (rev, false)
        } else {
            (fwd, true)
        };
        if !flows.contains_key(&key) {
            if !s.flags.syn || s.flags.ack {
                return;
            }
            order.push(key);
        }
        flows.entry(key).or_default().push((
            from_client,
            s.seq,
            s.ack,
            s.flags,
            s.payload.to_vec(),
        ));
    })
    .unwrap();
    let mut out = Vec::new();
    for (i, key) in order.iter().enumerate() {
        let pkts = &flows[key];
        let cisn = pkts[0].1;
        let Some(sisn) = pkts.iter().find(|p| !p.0 && p.3.syn).map(|p| p.1) else {
            continue;
        };
        let frames = pkts
            .iter()
            .map(|(fc, seq, ack, flags, payload)| TFrame {
                from_client: *fc,
                flags: *flags,
                rel_seq: seq.wrapping_sub(if *fc { cisn } else { sisn }),
                rel_ack: ack.wrapping_sub(if *fc { sisn } else { cisn }),
                payload: payload.clone(),
            })
            .collect();
        let conn = exp["connections"].get(i);
        out.push(Template {
            server_port: key.3,
            frames,
            server_sha: conn
                .and_then(|c| c["server_certificates"][0]["sha256"].as_str())
                .map(str::to_string),
            client_sha: conn
                .and_then(|c| c["client_certificates"][0]["sha256"].as_str())
                .map(str::to_string),
            server_chain: chain(conn, "server_certificates"),
            client_chain: chain(conn, "client_certificates"),
            tls13: conn.is_some_and(|c| c["tls_version"] == "1.3"),
        });
    }
    out
}

enum Kind {
    Handshake(Template, u16),
    Midstream(u16),
    Http,
    Dns,
}

/// A frame waiting to be sent: (from_client, flags, seq, ack, payload).
type Queued = (bool, TcpFlags, u32, u32, Vec<u8>);

struct Flow {
    client: Ipv4Addr,
    server: Ipv4Addr,
    cport: u16,
    sport: u16,
    queue: std::collections::VecDeque<Queued>,
    udp: bool,
}

fn tls_record(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 5);
    v.extend_from_slice(&[0x17, 0x03, 0x03, (len >> 8) as u8, len as u8]);
    v.extend((0..len).map(|_| rng.next() as u8));
    v
}

/// Bulk application data after a handshake: a few large server responses and small
/// client requests, cut into MSS or GRO segments.
fn bulk(
    rng: &mut Rng,
    bytes: usize,
    cseq: &mut u32,
    sseq: &mut u32,
    q: &mut std::collections::VecDeque<Queued>,
) {
    let ack = TcpFlags {
        ack: true,
        ..Default::default()
    };
    let mut left = bytes;
    while left > 0 {
        let req_len = 100 + rng.below(300) as usize;
        let req = tls_record(rng, req_len);
        q.push_back((true, ack, *cseq, *sseq, req.clone()));
        *cseq = cseq.wrapping_add(req.len() as u32);
        let n = left.min(16_384 * (1 + rng.below(8) as usize));
        let mut stream = Vec::new();
        let mut rem = n;
        while rem > 0 {
            let r = rem.min(16_384);
            stream.extend(tls_record(rng, r));
            rem -= r;
        }
        let seg = if rng.chance(20) { 65_160 } else { 1448 };
        for chunk in stream.chunks(seg) {
            q.push_back((false, ack, *sseq, *cseq, chunk.to_vec()));
            *sseq = sseq.wrapping_add(chunk.len() as u32);
        }
        left -= n;
    }
}

/// The command line.
struct Args {
    out_path: String,
    /// Size of the capture to write, in bytes.
    target: u64,
    rng: Rng,
    dense: bool,
}

/// The command line, or the usage and exit status 2. `cargo bench` passes `--bench`, which
/// is not ours; `--dense` may be anywhere.
fn args() -> Args {
    let dense = std::env::args().any(|a| a == "--dense");
    let args: Vec<String> = std::env::args()
        .filter(|a| a != "--bench" && a != "--dense")
        .collect();
    if args.len() < 3 {
        eprintln!("usage: cargo bench --bench generate -- OUT.pcap SIZE_MIB [SEED] [--dense]");
        std::process::exit(2);
    }
    let target: u64 = args[2].parse::<u64>().expect("size in MiB") << 20;
    let rng = Rng(args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de)
        | 1);
    Args {
        out_path: args[1].clone(),
        target,
        rng,
        dense,
    }
}

/// The templates of both profiles.
struct Templates {
    tls12: Vec<Template>,
    tls13: Vec<Template>,
    /// The handshake-dense profile's templates: mutual TLS 1.2, leaf + CA from both sides.
    mutual: Vec<Template>,
}

impl Templates {
    /// From the committed sample captures; a missing mutual template on 6443 or 10250
    /// fails here rather than as a dense capture short of a port.
    fn load() -> Templates {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut tls12 = templates(dir, "kubelet-rotated-tls12.pcap");
        tls12.extend(templates(dir, "nanosecond.pcap"));
        let tls13 = templates(dir, "tls13-go.pcap");
        let mut mutual = templates(dir, "kubelet-rotated-tls12.pcap");
        mutual.extend(templates(dir, "big-endian.pcap"));
        mutual.retain(|t| !t.tls13 && t.server_chain.len() == 2 && t.client_chain.len() == 2);
        assert!(
            mutual.iter().any(|t| t.server_port == 6443)
                && mutual.iter().any(|t| t.server_port == 10250),
            "mutual TLS templates on 6443 and 10250"
        );
        Templates {
            tls12,
            tls13,
            mutual,
        }
    }

    /// The next flow's kind, in the profile's proportions (a handshake moved to 443 is
    /// noise: TLS with certificates, off the target ports).
    fn pick(&self, rng: &mut Rng, dense: bool) -> Kind {
        let pick = |rng: &mut Rng, v: &[Template]| v[rng.below(v.len() as u64) as usize].clone();
        if dense {
            match rng.below(100) {
                0..=86 => Kind::Handshake(pick(rng, &self.mutual), 0),
                87..=96 => Kind::Handshake(pick(rng, &self.mutual), 443),
                97 => Kind::Http,
                _ => Kind::Dns,
            }
        } else {
            match rng.below(100) {
                0..=54 => Kind::Handshake(pick(rng, &self.tls12), 0),
                55..=64 => Kind::Handshake(pick(rng, &self.tls13), 0),
                65..=76 => Kind::Midstream([6443, 10250, 2379][rng.below(3) as usize]),
                77..=86 => Kind::Handshake(pick(rng, &self.tls12), 443),
                87..=93 => Kind::Http,
                _ => Kind::Dns,
            }
        }
    }
}

/// What was generated, counted as it is: the ground truth an analysis of the capture is
/// checked against.
#[derive(Default)]
struct Truth {
    flows: u64,
    handshakes: u64,
    by_server: BTreeMap<String, u64>,
    by_client: BTreeMap<String, u64>,
    server_chain: BTreeMap<String, u64>,
    client_chain: BTreeMap<String, u64>,
    by_port: BTreeMap<u16, u64>,
    tls13: u64,
    midstream: u64,
    noise: u64,
}

impl Truth {
    /// A handshake on its template's own (target) port: the analysis must report it and
    /// every certificate of its chains.
    fn handshake(&mut self, t: &Template) {
        self.handshakes += 1;
        if t.tls13 {
            self.tls13 += 1;
        }
        if let Some(sha) = &t.server_sha {
            *self.by_server.entry(sha.clone()).or_default() += 1;
        }
        if let Some(sha) = &t.client_sha {
            *self.by_client.entry(sha.clone()).or_default() += 1;
        }
        for sha in &t.server_chain {
            *self.server_chain.entry(sha.clone()).or_default() += 1;
        }
        for sha in &t.client_chain {
            *self.client_chain.entry(sha.clone()).or_default() += 1;
        }
        *self.by_port.entry(t.server_port).or_default() += 1;
    }

    /// OUT.pcap.truth.json, beside the capture: it says what the file holds, so that a
    /// benchmark run can check the report as well as time it.
    fn write(&self, out_path: &str, written: u64, packets: u64, dense: bool) {
        let truth = serde_json::json!({
            "file": out_path,
            "bytes": written,
            "packets": packets,
            "flows": self.flows,
            "handshakes_on_target_ports": self.handshakes,
            "tls13_handshakes": self.tls13,
            "midstream_flows": self.midstream,
            "noise_flows": self.noise,
            "server_leaf_sha256_counts": self.by_server,
            "client_leaf_sha256_counts": self.by_client,
            "server_chain_sha256_counts": self.server_chain,
            "client_chain_sha256_counts": self.client_chain,
            "handshakes_by_port": self.by_port,
            "profile": if dense { "handshake-dense" } else { "bulk" },
            "templates": if dense {
                "kubelet-rotated-tls12.pcap, big-endian.pcap (mutual TLS 1.2, leaf + CA both sides); certificates' sha256 from their expected/*.json (tshark)"
            } else {
                "kubelet-rotated-tls12.pcap, nanosecond.pcap (TLS 1.2), tls13-go.pcap (TLS 1.3); certificates' sha256 from their expected/*.json (tshark)"
            },
        });
        std::fs::write(
            format!("{out_path}.truth.json"),
            serde_json::to_string_pretty(&truth).unwrap(),
        )
        .unwrap();
    }
}

/// A new flow of `kind` from client port `cport`, its whole exchange queued up front: the
/// main loop sends each packet from a flow picked at random, which interleaves them.
fn new_flow(rng: &mut Rng, kind: Kind, cport: u16, dense: bool, truth: &mut Truth) -> Flow {
    let client = Ipv4Addr::new(
        198,
        18,
        (rng.below(250) + 1) as u8,
        (rng.below(250) + 1) as u8,
    );
    let server = Ipv4Addr::new(198, 19, 0, (rng.below(8) + 1) as u8);
    let (cisn, sisn) = (rng.next() as u32, rng.next() as u32);
    let mut f = Flow {
        client,
        server,
        cport,
        sport: 0,
        queue: Default::default(),
        udp: false,
    };
    let bulk_bytes = if dense {
        (rng.below(3) as usize + 1) * 16 * 1024
    } else {
        (rng.below(10) as usize + 1) * 16 * 1024
    };
    let retransmit_pct = if dense { 2 } else { 1 };
    match kind {
        Kind::Handshake(t, port_override) => {
            f.sport = if port_override != 0 {
                port_override
            } else {
                t.server_port
            };
            if port_override == 0 {
                truth.handshake(&t);
            } else {
                truth.noise += 1;
            }
            f.replay(rng, &t, (cisn, sisn), bulk_bytes, retransmit_pct);
        }
        Kind::Midstream(port) => {
            truth.midstream += 1;
            f.sport = port;
            let (mut cseq, mut sseq) = (cisn, sisn);
            bulk(rng, bulk_bytes, &mut cseq, &mut sseq, &mut f.queue);
            // Join mid-record: drop the first few segments.
            for _ in 0..3 {
                f.queue.pop_front();
            }
        }
        Kind::Http => {
            truth.noise += 1;
            f.http(cisn, sisn);
        }
        Kind::Dns => {
            truth.noise += 1;
            f.dns(rng);
        }
    }
    f
}

impl Flow {
    /// The template's handshake on this flow's ISNs, its TLS bytes unchanged (real
    /// handshakes, not invented ones), some frames sent twice as a retransmission, then
    /// bulk data and the client's FIN in place of the template's own close.
    fn replay(
        &mut self,
        rng: &mut Rng,
        t: &Template,
        (cisn, sisn): (u32, u32),
        bulk_bytes: usize,
        retransmit_pct: u64,
    ) {
        let (mut cseq, mut sseq) = (cisn, sisn);
        let last_data = t
            .frames
            .iter()
            .rposition(|fr| !fr.payload.is_empty() && !fr.flags.fin)
            .unwrap_or(0);
        for (i, fr) in t.frames.iter().enumerate() {
            let (seq, ack) = if fr.from_client {
                (cisn.wrapping_add(fr.rel_seq), sisn.wrapping_add(fr.rel_ack))
            } else {
                (sisn.wrapping_add(fr.rel_seq), cisn.wrapping_add(fr.rel_ack))
            };
            if i > last_data {
                break; // the template's own close; bulk data comes first
            }
            self.queue
                .push_back((fr.from_client, fr.flags, seq, ack, fr.payload.clone()));
            let end = seq.wrapping_add(fr.payload.len() as u32 + u32::from(fr.flags.syn));
            if fr.from_client {
                cseq = end;
            } else {
                sseq = end;
            }
            if rng.chance(retransmit_pct) {
                self.queue
                    .push_back((fr.from_client, fr.flags, seq, ack, fr.payload.clone()));
            }
        }
        bulk(rng, bulk_bytes, &mut cseq, &mut sseq, &mut self.queue);
        let fin = TcpFlags {
            fin: true,
            ack: true,
            ..Default::default()
        };
        self.queue.push_back((true, fin, cseq, sseq, Vec::new()));
    }

    /// Noise on a port of no interest: a plaintext HTTP request and response on 80.
    fn http(&mut self, cisn: u32, sisn: u32) {
        self.sport = 80;
        let ack = TcpFlags {
            ack: true,
            ..Default::default()
        };
        self.queue.push_back((
            true,
            ack,
            cisn,
            sisn,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ));
        self.queue
            .push_back((false, ack, sisn, cisn.wrapping_add(35), vec![b'x'; 1200]));
    }

    /// Noise that is not TCP at all: a DNS-sized query and answer over UDP on 53.
    fn dns(&mut self, rng: &mut Rng) {
        self.udp = true;
        self.sport = 53;
        self.queue.push_back((
            true,
            TcpFlags::default(),
            0,
            0,
            (0..40).map(|_| rng.next() as u8).collect(),
        ));
        self.queue.push_back((
            false,
            TcpFlags::default(),
            0,
            0,
            (0..120).map(|_| rng.next() as u8).collect(),
        ));
    }

    /// One queued frame as an Ethernet frame on the wire, in the direction it goes.
    fn frame(&self, (from_client, flags, seq, ack, payload): Queued) -> Vec<u8> {
        let (src, dst, sp, dp) = if from_client {
            (self.client, self.server, self.cport, self.sport)
        } else {
            (self.server, self.client, self.sport, self.cport)
        };
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(
            src.octets(),
            dst.octets(),
            64,
        );
        let mut frame = Vec::with_capacity(payload.len() + 66);
        if self.udp {
            eth.udp(sp, dp).write(&mut frame, &payload).unwrap();
        } else {
            let mut b = eth.tcp(sp, dp, seq, 65_000);
            if flags.ack {
                b = b.ack(ack);
            }
            if flags.syn {
                b = b.syn();
            }
            if flags.fin {
                b = b.fin();
            }
            if flags.rst {
                b = b.rst();
            }
            b.write(&mut frame, &payload).unwrap();
        }
        frame
    }
}

/// The capture being written, with its clock.
struct Capture {
    out: BufWriter<std::fs::File>,
    /// Bytes written so far, the file header included: the size the capture is grown to.
    written: u64,
    packets: u64,
    ts_sec: u32,
    ts_usec: u32,
}

impl Capture {
    /// Classic pcap of Ethernet frames with microsecond timestamps, as tcpdump writes by
    /// default: the usual input.
    fn create(path: &str) -> Capture {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
        let header = PcapHeader {
            magic_number: 0xa1b2_c3d4,
            version_major: 2,
            version_minor: 4,
            thiszone: 0,
            sigfigs: 0,
            snaplen: 262_144,
            network: Linktype::ETHERNET,
        };
        out.write_all(&header.to_vec_raw().unwrap()).unwrap();
        // 2026-11-28 10:00 UTC, the templates' own capture day: their certificates are
        // valid then, as most are in an incident capture, so the report carries the
        // findings a healthy connection has, not a validity finding on every certificate.
        let (ts_sec, ts_usec) = (1_795_860_000u32, 0u32);
        Capture {
            out,
            written: 24,
            packets: 0,
            ts_sec,
            ts_usec,
        }
    }

    /// One frame, a few microseconds after the previous one (a busy link).
    fn packet(&mut self, rng: &mut Rng, frame: &[u8]) {
        self.ts_usec += 5 + rng.below(60) as u32;
        if self.ts_usec >= 1_000_000 {
            self.ts_usec -= 1_000_000;
            self.ts_sec += 1;
        }
        let block = LegacyPcapBlock {
            ts_sec: self.ts_sec,
            ts_usec: self.ts_usec,
            caplen: frame.len() as u32,
            origlen: frame.len() as u32,
            data: frame,
        };
        let bytes = block.to_vec_raw().unwrap();
        self.out.write_all(&bytes).unwrap();
        self.written += bytes.len() as u64;
        self.packets += 1;
    }
}

fn main() {
    let Args {
        out_path,
        target,
        mut rng,
        dense,
    } = args();
    let templates = Templates::load();
    let mut capture = Capture::create(&out_path);
    let mut active: Vec<Flow> = Vec::new();
    let mut truth = Truth::default();
    let mut next_port = 20_000u16;
    while capture.written < target || !active.is_empty() {
        while active.len() < 48 && capture.written < target {
            truth.flows += 1;
            let kind = templates.pick(&mut rng, dense);
            next_port = if next_port >= 60_000 {
                20_000
            } else {
                next_port + 1
            };
            active.push(new_flow(&mut rng, kind, next_port, dense, &mut truth));
        }
        let i = rng.below(active.len() as u64) as usize;
        let Some(queued) = active[i].queue.pop_front() else {
            active.swap_remove(i);
            continue;
        };
        let frame = active[i].frame(queued);
        capture.packet(&mut rng, &frame);
    }
    capture.out.flush().unwrap();
    let Capture {
        written, packets, ..
    } = capture;
    truth.write(&out_path, written, packets, dense);
    eprintln!(
        "{out_path}: {written} bytes, {packets} packets, {} handshakes on target ports",
        truth.handshakes
    );
}
