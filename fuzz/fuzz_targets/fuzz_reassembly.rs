//! Both directions of one TCP connection through `flow::reassembly::Reassembler`, fed as
//! `Flow::on_segment` feeds them (SYN, peer ACK, payload, snaplen cut, FIN), then finished.
//! The input is a list of segments (layout in src/lib.rs). Checked on every chunk:
//! delivered offsets never go backwards and never skip (each chunk starts where the last
//! ended: data and gaps add up to `offset()`), chunks are never empty, the out-of-order
//! store stays under its cap; in consistent mode (every copy of a sequence number carries
//! the same byte) every delivered byte is the one its stream position says.
#![no_main]

use certwire::flow::reassembly::{Chunk, Reassembler, MAX_OOO_BYTES};
use certwire_fuzz::{consistent_byte, segments};
use libfuzzer_sys::fuzz_target;

/// What one direction's consumer has seen.
#[derive(Default)]
struct Seen {
    /// Bytes delivered plus bytes reported missing: the next chunk's offset.
    offset: u64,
    /// Sequence number of stream offset 0, as the reassembler fixes it.
    origin: Option<u32>,
    consistent: bool,
}

impl Seen {
    fn chunk(&mut self, c: Chunk<'_>) {
        match c {
            Chunk::Data { bytes, .. } => {
                assert!(!bytes.is_empty(), "empty data chunk");
                if self.consistent {
                    let origin = self.origin.expect("data before the stream origin");
                    for (i, &b) in bytes.iter().enumerate() {
                        let seq = origin.wrapping_add((self.offset + i as u64) as u32);
                        assert_eq!(
                            b,
                            consistent_byte(seq),
                            "byte at offset {} is not the one sent at seq {seq}",
                            self.offset + i as u64
                        );
                    }
                }
                self.offset += bytes.len() as u64;
            }
            Chunk::Gap { offset, len } => {
                assert_eq!(offset, self.offset, "gap offset is not the next offset");
                assert!(len > 0, "empty gap");
                self.offset += len;
            }
        }
    }
}

fn check(r: &Reassembler, seen: &Seen) {
    assert_eq!(
        r.offset(),
        seen.offset,
        "offset() is not data + gaps delivered"
    );
    assert!(
        r.buffered_bytes() <= MAX_OOO_BYTES,
        "out-of-order store over its cap"
    );
}

fuzz_target!(|data: &[u8]| {
    let segs = segments(data);
    let consistent = segs.consistent;
    let mut r: [Reassembler; 2] = Default::default();
    let mut seen: [Seen; 2] = Default::default();
    for s in &mut seen {
        s.consistent = consistent;
    }
    for seg in segs {
        let d = seg.dir;
        let o = 1 - d;
        if seg.syn {
            r[d].on_syn(seg.seq);
            seen[d].origin.get_or_insert(seg.seq.wrapping_add(1));
        }
        if let Some(ack) = seg.ack {
            let before = seen[o].offset;
            r[o].on_peer_ack(ack, &mut |c| seen[o].chunk(c));
            assert!(seen[o].offset >= before);
            check(&r[o], &seen[o]);
        }
        let before = seen[d].offset;
        if !seg.payload.is_empty() {
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            seen[d].origin.get_or_insert(seq);
            r[d].on_segment(seq, &seg.payload, seg.fin, &mut |c| seen[d].chunk(c));
            let end = seq.wrapping_add(seg.payload.len() as u32);
            r[d].on_snaplen_cut(end, u32::from(seg.cut), &mut |c| seen[d].chunk(c));
        } else if seg.fin {
            r[d].on_segment(seg.seq, &[], true, &mut |c| seen[d].chunk(c));
        }
        assert!(seen[d].offset >= before);
        check(&r[d], &seen[d]);
    }
    for d in 0..2 {
        r[d].finish(&mut |c| seen[d].chunk(c));
        check(&r[d], &seen[d]);
        assert_eq!(r[d].buffered_bytes(), 0, "bytes still held after finish");
        if consistent {
            assert_eq!(
                r[d].stats.overlap_conflicts, 0,
                "conflict among identical copies"
            );
        }
    }
});
