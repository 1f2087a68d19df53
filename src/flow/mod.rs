//! TCP flows: the table of connections being followed, and per-direction reassembly.
//!
//! A flow holds only what its handshake needs. Once the handshake's outcome is known the
//! flow's buffers are freed and a tombstone remains, so that the bulk data that follows is
//! rejected by one hash lookup.

pub mod preamble;
pub mod reassembly;

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use crate::source::Timestamp;
use crate::tls::conn::TlsConnection;
use crate::wire::TcpSegment;
pub use reassembly::{Chunk, DirStats, Reassembler};

/// Active flows followed at once. Beyond this, new flows are counted and not followed, so a
/// SYN flood or a port scan in the capture cannot exhaust memory.
pub const MAX_FLOWS: usize = 65_536;
/// Bytes buffered across all flows (out-of-order segments, partial records and messages).
/// A flow that would push the total past it is given up and reported as incomplete.
pub const MAX_BUFFERED_BYTES: usize = 48 * 1024 * 1024;
/// Frames kept per flow for --write.
pub const MAX_KEPT_BYTES: usize = 512 * 1024;
/// A flow idle this long (capture time) is finished as it stands.
pub const IDLE_TIMEOUT_SECS: f64 = 300.0;
/// A flow that started before the capture gets this many data segments to show a TLS
/// handshake record before it is given up as established (bulk data only).
pub const MIDSTREAM_BUDGET: u32 = 8;

/// Unordered pair of endpoints: both directions of a connection map to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Ports first: cheapest to mix and the most discriminating on a busy node.
        state.write_u32((u32::from(self.lo.1) << 16) | u32::from(self.hi.1));
        self.lo.0.hash(state);
        self.hi.0.hash(state);
    }
}

impl FlowKey {
    pub fn new(a: (IpAddr, u16), b: (IpAddr, u16)) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// How the TCP connection ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEnd {
    Fin,
    Reset,
    Open,
}

#[derive(Debug)]
pub struct Flow {
    /// `endpoints[d]` sends the packets of direction d.
    pub endpoints: [SocketAddr; 2],
    pub first_packet: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub reasm: [Reassembler; 2],
    pub tls: TlsConnection,
    /// Direction that sent a SYN without ACK (the TCP client), and its ISN.
    pub syn_from: Option<usize>,
    pub syn_isn: Option<u32>,
    pub fin: [bool; 2],
    pub rst_from: Option<usize>,
    started: [bool; 2],
    midstream_segments: u32,
    /// Set when the flow was cut short by a memory cap or the idle timeout.
    pub abandoned: Option<&'static str>,
    /// The flow's frames as captured, while its handshake is undecided (for --write).
    pub kept_packets: Option<Vec<(Timestamp, Vec<u8>)>>,
    kept_bytes: usize,
    /// The tunnel the first packet came through (its outer source sent direction 0).
    pub tunnel: Option<crate::wire::tunnel::Encap>,
    /// A proxy exchange (HTTP CONNECT, SOCKS) before the TLS, if the client opened one.
    pub preamble: preamble::Watch,
    /// Followed only for the port its proxy exchange names (its own ports are not).
    pub via_proxy: bool,
    /// SYNs the client sent (retransmissions included), whether the server answered with
    /// SYN-ACK, and the code of an ICMP destination unreachable about this connection.
    pub syn_packets: u32,
    pub syn_ack_seen: bool,
    pub icmp_unreachable: Option<u8>,
    /// That exchange named a port not followed: not reported.
    pub not_followed: bool,
}

impl Flow {
    pub fn new(
        src: SocketAddr,
        dst: SocketAddr,
        number: u64,
        ts: Timestamp,
        keylog: Option<std::sync::Arc<crate::tls::keylog::KeyLog>>,
    ) -> Self {
        Flow {
            endpoints: [src, dst],
            first_packet: number,
            first_seen: ts,
            last_seen: ts,
            reasm: [Reassembler::default(), Reassembler::default()],
            tls: TlsConnection::new([true, true], keylog),
            syn_from: None,
            syn_isn: None,
            fin: [false, false],
            rst_from: None,
            started: [false, false],
            midstream_segments: 0,
            abandoned: None,
            kept_packets: None,
            kept_bytes: 0,
            tunnel: None,
            preamble: preamble::Watch::default(),
            via_proxy: false,
            not_followed: false,
            syn_packets: 0,
            syn_ack_seen: false,
            icmp_unreachable: None,
        }
    }

    pub fn dir_of(&self, src: SocketAddr) -> usize {
        usize::from(src != self.endpoints[0])
    }

    pub fn buffered_bytes(&self) -> usize {
        self.reasm[0].buffered_bytes()
            + self.reasm[1].buffered_bytes()
            + self.tls.buffered_bytes()
            + self.kept_bytes
    }

    /// Keep a frame for --write, up to a per-flow cap (a handshake is a few dozen frames;
    /// bulk data after it is never kept because the flow is done by then).
    pub fn keep_packet(&mut self, ts: Timestamp, data: &[u8]) {
        if self.kept_bytes + data.len() > MAX_KEPT_BYTES {
            return;
        }
        self.kept_bytes += data.len();
        self.kept_packets
            .get_or_insert_with(Vec::new)
            .push((ts, data.to_vec()));
    }

    pub fn tcp_end(&self) -> TcpEnd {
        if self.rst_from.is_some() {
            TcpEnd::Reset
        } else if self.fin[0] || self.fin[1] {
            TcpEnd::Fin
        } else {
            TcpEnd::Open
        }
    }

    /// Feed one segment of direction `d`.
    pub fn on_segment(&mut self, d: usize, ts: Timestamp, seg: &TcpSegment<'_>) {
        let (seq, payload, flags) = (seg.seq, seg.payload, seg.flags);
        let ack = flags.ack.then_some(seg.ack);
        let (syn, fin, rst) = (flags.syn, flags.fin, flags.rst);
        self.last_seen = ts;
        if syn {
            self.reasm[d].on_syn(seq);
            if ack.is_none() {
                self.syn_from = Some(d);
                self.syn_isn = Some(seq);
                self.syn_packets = self.syn_packets.saturating_add(1);
            } else {
                self.syn_ack_seen = true;
            }
        }
        let Flow {
            reasm,
            tls,
            started,
            preamble,
            ..
        } = self;
        let mut to = Deliver {
            tls,
            started,
            preamble,
        };
        if let Some(ack) = ack {
            let o = 1 - d;
            reasm[o].on_peer_ack(ack, &mut |c| to.deliver(o, c, false));
        }
        if !payload.is_empty() {
            let syn_seen = reasm[d].syn_seen;
            // Data in a SYN (TCP Fast Open) starts after the SYN's own sequence number.
            let seq = if syn { seq.wrapping_add(1) } else { seq };
            reasm[d].on_segment(seq, payload, fin, &mut |c| to.deliver(d, c, syn_seen));
            // A frame cut by the snaplen: the rest of its payload is a gap right away.
            let missing = seg.payload_len.saturating_sub(payload.len() as u32);
            let end = seq.wrapping_add(payload.len() as u32);
            reasm[d].on_snaplen_cut(end, missing, &mut |c| to.deliver(d, c, syn_seen));
            if !reasm[0].syn_seen && !reasm[1].syn_seen {
                self.midstream_segments += 1;
            }
        } else if fin {
            reasm[d].on_segment(seq, payload, fin, &mut |_| {});
        }
        if fin {
            self.fin[d] = true;
        }
        if rst {
            self.rst_from = Some(d);
        }
    }

    /// The client's SYN was never answered with SYN-ACK and no byte flowed: refused
    /// (RST), unreachable (ICMP) or unanswered.
    pub fn never_connected(&self) -> bool {
        self.syn_from.is_some()
            && !self.syn_ack_seen
            && self.reasm[0].offset() == 0
            && self.reasm[1].offset() == 0
    }

    /// Nothing more about this handshake can be learned from further packets.
    pub fn is_done(&self) -> bool {
        self.tls.is_done()
            || self.rst_from.is_some()
            || (self.fin[0] && self.fin[1])
            || self.is_not_tls()
    }

    /// The flow carries no TLS handshake worth reporting: its bytes are not TLS, or it was
    /// established before the capture and shows only bulk data.
    pub fn is_not_tls(&self) -> bool {
        let f = &self.tls.facts;
        let any_hs = f.handshake_seen[0] || f.handshake_seen[1];
        !any_hs && (f.not_tls[0] || f.not_tls[1] || self.midstream_segments >= MIDSTREAM_BUDGET)
    }

    /// Worth a connection report: a handshake record was seen, or the connection was seen
    /// being opened (a SYN; then even a refused or silent connection is a finding). A flow
    /// already open when the capture started that showed no handshake is not.
    pub fn is_reportable(&self) -> bool {
        let f = &self.tls.facts;
        let any_hs = f.handshake_seen[0] || f.handshake_seen[1];
        !self.not_followed
            && (any_hs
                || ((self.reasm[0].syn_seen || self.reasm[1].syn_seen)
                    && !(f.not_tls[0] || f.not_tls[1])))
    }

    /// Deliver everything still held, with holes reported, before reporting the flow.
    pub fn finish(&mut self) {
        let Flow {
            reasm,
            tls,
            started,
            preamble,
            ..
        } = self;
        let mut to = Deliver {
            tls,
            started,
            preamble,
        };
        for (d, r) in reasm.iter_mut().enumerate() {
            let syn_seen = r.syn_seen;
            r.finish(&mut |c| to.deliver(d, c, syn_seen));
        }
        tls.stop_waiting();
        tls.release();
    }
}

/// Where reassembled bytes go: through a proxy preamble while one lasts, then to TLS.
struct Deliver<'a> {
    tls: &'a mut TlsConnection,
    started: &'a mut [bool; 2],
    preamble: &'a mut preamble::Watch,
}

impl Deliver<'_> {
    fn deliver(&mut self, d: usize, c: Chunk<'_>, syn_seen: bool) {
        if let Chunk::Data { bytes, .. } = c {
            self.preamble.first_data(d, bytes);
        }
        if let Some(p) = self.preamble.ongoing() {
            match c {
                Chunk::Data { bytes, .. } => p.feed(d, bytes),
                Chunk::Gap { .. } => p.on_gap(),
            }
            if p.is_over() {
                // The TLS starts where the preamble ends: at a record boundary.
                *self.started = [true, true];
                for (dd, rest) in p.take_pending() {
                    self.tls.on_data(dd, &rest, true);
                }
            }
            return;
        }
        if !self.started[d] {
            self.started[d] = true;
            if !syn_seen && self.preamble.active.is_none() {
                self.tls.start_midstream(d);
            }
        }
        match c {
            Chunk::Data {
                bytes,
                segment_start,
            } => self.tls.on_data(d, bytes, segment_start),
            Chunk::Gap { offset, len } => self.tls.on_gap(d, offset, len),
        }
    }
}

/// What the table holds for a key.
#[derive(Debug)]
pub enum Slot {
    Active(Box<Flow>),
    /// Handshake reported (or flow given up); later packets are ignored. `syn_isn` is the
    /// client's initial sequence number: a SYN with the same one is a duplicate (the same
    /// packet captured on a second interface), not a new connection on a reused 4-tuple.
    Done {
        last_seen: Timestamp,
        syn_isn: Option<u32>,
    },
}

#[derive(Debug, Default)]
pub struct FlowTable {
    pub map: FxHashMap<FlowKey, Slot>,
    pub active: usize,
    /// Active flows followed through a proxy exchange (on ports not followed).
    pub proxied: usize,
    pub buffered: usize,
    pub last_sweep: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_in_a_syn_keeps_its_first_byte() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let mut f = Flow::new(a, b, 1, Timestamp::default(), None);
        // TCP Fast Open: a SYN carrying the start of a handshake record.
        let payload = [22, 3, 1, 0, 4, 1, 0, 0, 0];
        let seg = TcpSegment {
            src: a.ip(),
            dst: b.ip(),
            src_port: a.port(),
            dst_port: b.port(),
            seq: 1000,
            ack: 0,
            flags: crate::wire::TcpFlags {
                syn: true,
                ..Default::default()
            },
            payload: &payload,
            payload_len: payload.len() as u32,
            tunnel: None,
        };
        f.on_segment(0, Timestamp::default(), &seg);
        assert!(f.tls.facts.handshake_seen[0]);
        assert!(!f.tls.facts.not_tls[0]);
    }
}
