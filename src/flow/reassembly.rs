//! One direction of a TCP connection, put back in sequence order.
//!
//! Bytes are delivered as soon as they are contiguous; segments beyond a hole wait in a
//! small, capped out-of-order store. A hole becomes a reported gap only when the capture
//! proves the bytes are not coming: the peer acknowledged past it (so the sender will never
//! retransmit them), the out-of-order store is full, or the flow ends. Gaps are delivered to
//! the consumer as such, so that the TLS layer can say "missing" instead of guessing.
//!
//! Overlapping segments are resolved as the Linux receiver resolves them, one policy
//! everywhere: bytes already delivered in order are never replaced; among segments held
//! out of order, the one that starts earlier provides the bytes they share, and at the
//! same start the longer one replaces the shorter (`tcp_data_queue_ofo`: a new segment
//! covering a held one drops it; one inside a held one is dropped). Overlaps whose bytes
//! differ are counted (`overlap_conflicts`): a capture showing them was tampered with,
//! or shows two different senders.

use std::collections::BTreeMap;

/// Per-direction cap on bytes held out of order. A handshake flight is a few KiB; this
/// leaves room for large chains and reordering while bounding memory per flow.
pub const MAX_OOO_BYTES: usize = 256 * 1024;
/// What one held segment costs beyond its payload (map node, Vec header), counted against
/// the cap so that a flood of tiny segments cannot hold more than the cap says.
const OOO_ENTRY_OVERHEAD: usize = 64;
/// A segment starting further than this past the next expected byte is not reordering but
/// a different stream position (or garbage); it is not buffered.
const MAX_AHEAD: u32 = 16 * 1024 * 1024;

/// What the reassembler hands to its consumer, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Contiguous bytes. `segment_start` is true when they begin a captured segment, which
    /// is where a consumer that lost its framing may look for a record boundary.
    Data {
        bytes: &'a [u8],
        segment_start: bool,
    },
    /// `len` bytes that were sent but are not in the capture.
    Gap { offset: u64, len: u64 },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DirStats {
    pub segments: u64,
    /// Segments carrying only bytes that were already sent: delivered ones (a
    /// retransmission after the fact), or an identical copy of a held segment.
    pub retransmitted: u64,
    pub out_of_order: u64,
    /// Held segments made redundant by others that overlapped them (not retransmissions:
    /// their bytes may never have been delivered as sent).
    pub overlapping: u64,
    /// Segments whose bytes differ from held bytes they overlap.
    pub overlap_conflicts: u64,
    /// Segments not buffered because a cap was hit.
    pub dropped_by_cap: u64,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver; `None` until the first SYN or data.
    next: Option<u32>,
    /// Stream offset (bytes since ISN+1, or since the first byte seen for SYN-less flows).
    offset: u64,
    pub syn_seen: bool,
    pub fin_seen: bool,
    /// Highest acknowledgement the peer sent for this direction.
    peer_ack: Option<u32>,
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    pub stats: DirStats,
}

/// Signed distance from `b` to `a` in sequence space (RFC 793 arithmetic).
#[inline]
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Reassembler {
    pub fn buffered_bytes(&self) -> usize {
        self.ooo_bytes
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The frame of the segment just delivered was cut by the snaplen: `missing` bytes
    /// after `end` were sent but not captured. When they were next in line they are a gap
    /// at once (waiting for the peer's ACK would only delay the same conclusion).
    pub fn on_snaplen_cut(&mut self, end: u32, missing: u32, out: &mut impl FnMut(Chunk<'_>)) {
        if missing == 0 || self.next != Some(end) {
            return;
        }
        self.skip(u64::from(missing), out);
        self.drain(out);
    }

    /// A SYN fixes the stream's origin at ISN + 1.
    pub fn on_syn(&mut self, isn: u32) {
        if self.next.is_none() {
            self.next = Some(isn.wrapping_add(1));
            self.syn_seen = true;
        }
    }

    /// Feed one segment's payload. Calls `out` for each chunk that becomes deliverable.
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        out: &mut impl FnMut(Chunk<'_>),
    ) {
        if fin {
            self.fin_seen = true;
        }
        if payload.is_empty() {
            return;
        }
        self.stats.segments += 1;
        let next = *self.next.get_or_insert(seq);
        let d = seq_diff(seq, next);
        if d <= 0 {
            let skip = (-d) as usize;
            if skip >= payload.len() {
                self.stats.retransmitted += 1;
                return;
            }
            if skip > 0 {
                self.stats.retransmitted += 1;
            }
            self.deliver(&payload[skip..], skip == 0, out);
            self.drain(out);
        } else if d as u64 > u64::from(MAX_AHEAD) {
            self.stats.dropped_by_cap += 1;
        } else {
            self.stats.out_of_order += 1;
            let at = self.offset + d as u64;
            let cost = payload.len() + OOO_ENTRY_OVERHEAD;
            if self.ooo_bytes + cost > MAX_OOO_BYTES {
                self.stats.dropped_by_cap += 1;
                // Make room the only honest way: give up on the oldest hole.
                self.force_gap(out);
                let cost = payload.len() + OOO_ENTRY_OVERHEAD;
                if self.ooo_bytes + cost > MAX_OOO_BYTES {
                    return;
                }
            }
            let conflict = self.conflicts_with_held(at, payload);
            if conflict {
                self.stats.overlap_conflicts += 1;
            }
            let end = at + payload.len() as u64;
            let inside_held = self
                .ooo
                .range(..at)
                .next_back()
                .is_some_and(|(&start, held)| start + held.len() as u64 >= end);
            match self.ooo.get(&at) {
                Some(existing) if existing.len() >= payload.len() => {
                    if !conflict {
                        self.stats.retransmitted += 1;
                    }
                }
                // Inside a segment held from an earlier start: Linux drops it.
                _ if inside_held => self.stats.overlapping += 1,
                _ => {
                    if let Some(old) = self.ooo.insert(at, payload.to_vec()) {
                        self.ooo_bytes -= old.len() + OOO_ENTRY_OVERHEAD;
                    }
                    self.ooo_bytes += cost;
                }
            }
            self.gap_to_peer_ack(out);
        }
    }

    /// The peer acknowledged `ack` for this direction.
    pub fn on_peer_ack(&mut self, ack: u32, out: &mut impl FnMut(Chunk<'_>)) {
        let newer = match self.peer_ack {
            Some(prev) => seq_diff(ack, prev) > 0,
            None => true,
        };
        if newer {
            self.peer_ack = Some(ack);
        }
        self.gap_to_peer_ack(out);
    }

    /// While segments are held behind a hole, the peer's acknowledgement proves the bytes
    /// it covers were sent and the capture missed them: those become a gap. Only those:
    /// bytes beyond the acknowledgement may still arrive later in the capture (two
    /// interfaces, reordering) and are waited for.
    fn gap_to_peer_ack(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        let (Some(ack), Some(next), Some((&first_held, _))) =
            (self.peer_ack, self.next, self.ooo.iter().next())
        else {
            return;
        };
        let d = seq_diff(ack, next);
        if d <= 0 || d > i64::from(MAX_AHEAD) {
            return;
        }
        let end = first_held.min(self.offset + d as u64);
        if end > self.offset {
            let len = end - self.offset;
            self.skip(len, out);
        }
        self.drain(out);
    }

    /// The flow is over (FIN/RST/end of capture): everything still held is delivered with
    /// its holes reported, and bytes the peer acknowledged but the capture never showed are
    /// reported as a trailing gap.
    pub fn finish(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while !self.ooo.is_empty() {
            self.force_gap(out);
        }
        if let (Some(ack), Some(next)) = (self.peer_ack, self.next) {
            let mut d = seq_diff(ack, next);
            // The peer's ACK of our FIN counts one sequence number that carries no byte.
            if self.fin_seen && d > 0 {
                d -= 1;
            }
            if d > 0 && d <= i64::from(MAX_AHEAD) {
                self.skip(d as u64, out);
            }
        }
    }

    fn force_gap(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        let Some((&at, _)) = self.ooo.iter().next() else {
            return;
        };
        if at > self.offset {
            let len = at - self.offset;
            self.skip(len, out);
        }
        self.drain(out);
    }

    /// Report the next `len` bytes as missing and move past them.
    fn skip(&mut self, len: u64, out: &mut impl FnMut(Chunk<'_>)) {
        out(Chunk::Gap {
            offset: self.offset,
            len,
        });
        self.advance(len);
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(next) = self.next.as_mut() {
            *next = next.wrapping_add(n as u32);
        }
    }

    fn deliver(&mut self, bytes: &[u8], segment_start: bool, out: &mut impl FnMut(Chunk<'_>)) {
        out(Chunk::Data {
            bytes,
            segment_start,
        });
        self.advance(bytes.len() as u64);
    }

    /// Deliver held segments that are now contiguous.
    fn drain(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let Some(entry) = self.ooo.first_entry() {
            let at = *entry.key();
            if at > self.offset {
                break;
            }
            let seg = entry.remove();
            self.ooo_bytes -= seg.len() + OOO_ENTRY_OVERHEAD;
            let skip = (self.offset - at) as usize;
            if skip < seg.len() {
                self.deliver(&seg[skip..], skip == 0, out);
            } else {
                self.stats.overlapping += 1;
            }
        }
    }

    /// Some held segment overlaps `[at, at + len)` with other bytes.
    fn conflicts_with_held(&self, at: u64, payload: &[u8]) -> bool {
        let end = at + payload.len() as u64;
        self.ooo.range(..end).rev().any(|(&start, held)| {
            let held_end = start + held.len() as u64;
            if held_end <= at {
                return false;
            }
            let (from, to) = (start.max(at), held_end.min(end));
            held[(from - start) as usize..(to - start) as usize]
                != payload[(from - at) as usize..(to - at) as usize]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reassembler, seq: u32, data: &[u8], log: &mut Vec<String>) {
        r.on_segment(seq, data, false, &mut |c| log.push(show(c)));
    }

    fn show(c: Chunk<'_>) -> String {
        match c {
            Chunk::Data { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
            Chunk::Gap { offset, len } => format!("<gap {offset}+{len}>"),
        }
    }

    #[test]
    fn in_order_out_of_order_and_retransmission() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(999);
        run(&mut r, 1000, b"abc", &mut log);
        run(&mut r, 1006, b"ghi", &mut log); // ahead: held
        run(&mut r, 1000, b"abc", &mut log); // full retransmission: dropped
        run(&mut r, 1002, b"cdef", &mut log); // overlap: trimmed, then the held one follows
        assert_eq!(log, ["abc", "def", "ghi"]);
        assert_eq!(r.stats.retransmitted, 2);
        assert_eq!(r.stats.out_of_order, 1);
        assert_eq!(r.offset(), 9);
    }

    #[test]
    fn sequence_wraps() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(u32::MAX - 2);
        run(&mut r, u32::MAX - 1, b"ab", &mut log);
        run(&mut r, 2, b"de", &mut log);
        run(&mut r, 0, b"cd", &mut log);
        assert_eq!(log, ["ab", "cd", "de"]);
    }

    #[test]
    fn hole_becomes_gap_when_peer_acked_past_it() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"aaaa", &mut log);
        run(&mut r, 9, b"cccc", &mut log);
        assert_eq!(log, ["aaaa"]);
        r.on_peer_ack(13, &mut |c| log.push(show(c)));
        assert_eq!(log, ["aaaa", "<gap 4+4>", "cccc"]);
    }

    #[test]
    fn bytes_beyond_the_peer_ack_are_waited_for_not_swallowed() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"aa", &mut log);
        run(&mut r, 7, b"dd", &mut log);
        // The peer acknowledged up to offset 4: bytes 2..4 were missed by the capture.
        r.on_peer_ack(5, &mut |c| log.push(show(c)));
        assert_eq!(log, ["aa", "<gap 2+2>"]);
        // Bytes 4..6 were not acknowledged yet; when they show up they are data.
        run(&mut r, 5, b"cc", &mut log);
        assert_eq!(log, ["aa", "<gap 2+2>", "cc", "dd"]);
        assert_eq!(r.stats.retransmitted, 0);
    }

    #[test]
    fn hole_waits_while_unacknowledged_and_is_reported_at_finish() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"aa", &mut log);
        r.on_peer_ack(3, &mut |c| log.push(show(c)));
        run(&mut r, 5, b"cc", &mut log);
        assert_eq!(log, ["aa"]);
        r.finish(&mut |c| log.push(show(c)));
        assert_eq!(log, ["aa", "<gap 2+2>", "cc"]);
    }

    #[test]
    fn trailing_bytes_acked_but_never_captured_are_a_gap() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"aa", &mut log);
        r.on_peer_ack(11, &mut |c| log.push(show(c)));
        r.finish(&mut |c| log.push(show(c)));
        assert_eq!(log, ["aa", "<gap 2+8>"]);
    }

    #[test]
    fn snaplen_cut_is_a_gap_at_once() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"ab", &mut log); // a 6-byte segment of which 2 were captured
        r.on_snaplen_cut(3, 4, &mut |c| log.push(show(c)));
        run(&mut r, 7, b"gh", &mut log);
        assert_eq!(log, ["ab", "<gap 2+4>", "gh"]);
        // Not next in line (a retransmission of old bytes): nothing.
        r.on_snaplen_cut(3, 4, &mut |c| log.push(show(c)));
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn synless_flow_starts_at_first_byte_seen() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        run(&mut r, 5000, b"xy", &mut log);
        assert_eq!(log, ["xy"]);
        assert!(!r.syn_seen);
    }

    /// Distinct segments inside a held one behind a hole are never delivered, and are not
    /// retransmissions: they were all counted as retransmitted before.
    #[test]
    fn overlapping_segments_are_not_counted_as_retransmissions() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 11, &[b'x'; 100], &mut log); // offsets 10..110, held
        for i in 0..80u32 {
            run(&mut r, 12 + i, b"xxxxxxxx", &mut log); // inside it
        }
        run(&mut r, 1, b"0123456789", &mut log);
        assert_eq!(r.stats.retransmitted, 0);
        assert_eq!(r.stats.overlap_conflicts, 0);
        assert_eq!(r.stats.overlapping, 80);
        assert_eq!(r.offset(), 110);
    }

    /// Conflicting overlaps are counted, and resolved as Linux resolves them: the held
    /// segment that starts earlier keeps the shared bytes; at the same start the longer
    /// replaces the shorter; delivered bytes are never replaced.
    #[test]
    fn conflicting_overlaps_follow_the_linux_receiver() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        run(&mut r, 1, b"ab", &mut log);
        run(&mut r, 1, b"XY", &mut log); // delivered bytes stay
        run(&mut r, 11, b"AAAA", &mut log); // offsets 10..14, held
        run(&mut r, 13, b"BBBB", &mut log); // 12..16: shares 12..14 with other bytes
        run(&mut r, 17, b"CC", &mut log); // 16..18, held
        run(&mut r, 17, b"DDDD", &mut log); // same start, longer: replaces
        run(&mut r, 3, b"cdefghij", &mut log); // fills the hole
        assert_eq!(log.concat(), "abcdefghijAAAABBDDDD");
        assert_eq!(r.stats.overlap_conflicts, 2);
    }

    #[test]
    fn out_of_order_store_is_capped() {
        let mut r = Reassembler::default();
        let mut log = vec![];
        r.on_syn(0);
        let big = vec![b'z'; 100 * 1024];
        for i in 0..5u32 {
            run(&mut r, 1000 + i * 200 * 1024, &big, &mut log);
        }
        assert!(r.buffered_bytes() <= MAX_OOO_BYTES);
        assert!(r.stats.dropped_by_cap > 0);
    }
}
