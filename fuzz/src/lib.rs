//! Input layouts shared by the fuzz targets (which decode them) and `seedgen` (which
//! encodes real traffic from captures/ in them). Everything here is total: any byte string
//! decodes to something, so the fuzzer never wastes inputs on a format error.

use certwire::wire::linktype;

/// A tiny cursor over fuzzer bytes: reads past the end give `None`.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take_exact(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take_exact(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn take_exact(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Some(a)
    }
    /// Up to `n` bytes (fewer when the input ends first).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

// ---------------------------------------------------------------------------------------
// fuzz_wire: [link type selector] [frame...]

/// The link types `wire::decode` knows, and one it does not.
pub const LINKTYPES: [u16; 10] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW_OPENBSD,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    147, // LINKTYPE_USER0: unsupported
];

pub fn linktype_of(selector: u8) -> u16 {
    LINKTYPES[usize::from(selector) % LINKTYPES.len()]
}

pub fn linktype_selector(lt: u16) -> Option<u8> {
    LINKTYPES.iter().position(|&l| l == lt).map(|i| i as u8)
}

// ---------------------------------------------------------------------------------------
// fuzz_reassembly: one TCP connection as a sequence of segments.
//
//   mode: u8            bit 0: "consistent" payloads (below)
//   base: u32 u32       sequence number origin of direction 0 and 1
//   then per segment:
//     ctrl: u8          bit 0 direction, 1 SYN, 2 FIN, 3 ACK, 4 wide (32-bit offsets),
//                       5 snaplen cut
//     seq:  u16 | u32   offset from base[direction]
//     ack:  u16 | u32   offset from base[other direction]     (ACK only)
//     cut:  u16         bytes sent past the captured payload  (snaplen cut only)
//     len:  u16         payload length
//     payload           raw mode: `len` bytes of the input (fewer at its end);
//                       consistent mode: none in the input, every copy of sequence
//                       number `s` carries the byte `consistent_byte(s)` (the input
//                       ends after MAX_CONSISTENT_BYTES of them).

pub const SEG_DIR: u8 = 1;
pub const SEG_SYN: u8 = 2;
pub const SEG_FIN: u8 = 4;
pub const SEG_ACK: u8 = 8;
pub const SEG_WIDE: u8 = 16;
pub const SEG_CUT: u8 = 32;

pub const MODE_CONSISTENT: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub dir: usize,
    pub syn: bool,
    pub fin: bool,
    pub seq: u32,
    pub ack: Option<u32>,
    /// Bytes the snaplen cut off after the payload.
    pub cut: u16,
    pub payload: Vec<u8>,
}

/// The byte every copy of sequence number `s` carries in consistent mode: any misplaced
/// byte (wrong offset after a gap, an overlap resolved in the wrong place) shows.
pub fn consistent_byte(s: u32) -> u8 {
    (s.wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Payload bytes made up in consistent mode, at most, per input: past the out-of-order
/// cap (256 KiB) with room to spare, and few enough to keep executions fast.
pub const MAX_CONSISTENT_BYTES: usize = 320 << 10;

pub struct Segments<'a> {
    pub consistent: bool,
    pub base: [u32; 2],
    b: Bytes<'a>,
    generated: usize,
}

pub fn segments(data: &[u8]) -> Segments<'_> {
    let mut b = Bytes::new(data);
    let mode = b.u8().unwrap_or(0);
    let base = [b.u32().unwrap_or(0), b.u32().unwrap_or(0)];
    Segments {
        consistent: mode & MODE_CONSISTENT != 0,
        base,
        b,
        generated: 0,
    }
}

impl Iterator for Segments<'_> {
    type Item = Segment;
    fn next(&mut self) -> Option<Segment> {
        let ctrl = self.b.u8()?;
        let dir = usize::from(ctrl & SEG_DIR);
        let wide = ctrl & SEG_WIDE != 0;
        let off = |b: &mut Bytes<'_>| {
            if wide {
                b.u32()
            } else {
                b.u16().map(u32::from)
            }
        };
        let seq = self.base[dir].wrapping_add(off(&mut self.b)?);
        let ack = if ctrl & SEG_ACK != 0 {
            Some(self.base[1 - dir].wrapping_add(off(&mut self.b)?))
        } else {
            None
        };
        let cut = if ctrl & SEG_CUT != 0 {
            self.b.u16()?
        } else {
            0
        };
        let len = usize::from(self.b.u16()?);
        let syn = ctrl & SEG_SYN != 0;
        let payload = if self.consistent {
            self.generated += len;
            if self.generated > MAX_CONSISTENT_BYTES {
                return None;
            }
            // Data in a SYN starts after the SYN's own sequence number.
            let first = if syn { seq.wrapping_add(1) } else { seq };
            (0..len)
                .map(|i| consistent_byte(first.wrapping_add(i as u32)))
                .collect()
        } else {
            self.b.take(len).to_vec()
        };
        Some(Segment {
            dir,
            syn,
            fin: ctrl & SEG_FIN != 0,
            seq,
            ack,
            cut,
            payload,
        })
    }
}

/// Encode segments (raw mode) relative to `base`; the inverse of [`segments`].
pub fn encode_segments(base: [u32; 2], segs: &[Segment]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&base[0].to_be_bytes());
    out.extend_from_slice(&base[1].to_be_bytes());
    for s in segs {
        let seq_off = s.seq.wrapping_sub(base[s.dir]);
        let ack_off = s.ack.map(|a| a.wrapping_sub(base[1 - s.dir]));
        let wide = seq_off > 0xffff || ack_off.is_some_and(|a| a > 0xffff);
        let len = s.payload.len().min(0xffff);
        let mut ctrl = s.dir as u8;
        if s.syn {
            ctrl |= SEG_SYN;
        }
        if s.fin {
            ctrl |= SEG_FIN;
        }
        if ack_off.is_some() {
            ctrl |= SEG_ACK;
        }
        if wide {
            ctrl |= SEG_WIDE;
        }
        if s.cut > 0 {
            ctrl |= SEG_CUT;
        }
        out.push(ctrl);
        let mut put = |v: u32| {
            if wide {
                out.extend_from_slice(&v.to_be_bytes());
            } else {
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
        };
        put(seq_off);
        if let Some(a) = ack_off {
            put(a);
        }
        if s.cut > 0 {
            out.extend_from_slice(&s.cut.to_be_bytes());
        }
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&s.payload[..len]);
    }
    out
}

// ---------------------------------------------------------------------------------------
// fuzz_tls_records: what reassembly hands the TLS layer, per direction.
//
//   start: u8     bit 0/1: direction 0/1 starts at a record boundary (SYN seen);
//                 bit 2/3: direction 0/1 is then restarted midstream
//   then per chunk:
//     ctrl: u8    bit 0 direction, bit 1 gap (else data), bit 2 segment start
//     len:  u16   data: that many bytes of the input follow (fewer at its end);
//                 gap: `len` missing bytes (none follow)

pub const CHUNK_DIR: u8 = 1;
pub const CHUNK_GAP: u8 = 2;
pub const CHUNK_SEGMENT_START: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    Data {
        dir: usize,
        bytes: &'a [u8],
        segment_start: bool,
    },
    Gap {
        dir: usize,
        len: u64,
    },
}

pub struct Chunks<'a> {
    pub at_record_boundary: [bool; 2],
    pub midstream: [bool; 2],
    b: Bytes<'a>,
}

pub fn chunks(data: &[u8]) -> Chunks<'_> {
    let mut b = Bytes::new(data);
    let start = b.u8().unwrap_or(0);
    Chunks {
        at_record_boundary: [start & 1 != 0, start & 2 != 0],
        midstream: [start & 4 != 0, start & 8 != 0],
        b,
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = StreamChunk<'a>;
    fn next(&mut self) -> Option<StreamChunk<'a>> {
        let ctrl = self.b.u8()?;
        let dir = usize::from(ctrl & CHUNK_DIR);
        let len = self.b.u16()?;
        Some(if ctrl & CHUNK_GAP != 0 {
            StreamChunk::Gap {
                dir,
                len: u64::from(len),
            }
        } else {
            StreamChunk::Data {
                dir,
                bytes: self.b.take(usize::from(len)),
                segment_start: ctrl & CHUNK_SEGMENT_START != 0,
            }
        })
    }
}

pub fn encode_chunks(at_record_boundary: [bool; 2], chunks: &[StreamChunk<'_>]) -> Vec<u8> {
    // A direction that did not start at a record boundary is restarted midstream, as
    // `Flow` does for a direction whose SYN was not captured.
    let [a, b] = at_record_boundary;
    let mut out = vec![u8::from(a) | u8::from(b) << 1 | u8::from(!a) << 2 | u8::from(!b) << 3];
    for c in chunks {
        match *c {
            StreamChunk::Data {
                dir,
                bytes,
                segment_start,
            } => {
                for (i, piece) in bytes.chunks(0xffff).enumerate() {
                    let start = segment_start && i == 0;
                    out.push(dir as u8 | if start { CHUNK_SEGMENT_START } else { 0 });
                    out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
                    out.extend_from_slice(piece);
                }
            }
            StreamChunk::Gap { dir, mut len } => {
                while len > 0 {
                    let n = len.min(0xffff);
                    out.push(dir as u8 | CHUNK_GAP);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                    len -= n;
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// fuzz_tls_messages: [parser selector] [handshake message body...]

pub const MSG_CLIENT_HELLO: u8 = 0;
pub const MSG_SERVER_HELLO: u8 = 1;
pub const MSG_ENCRYPTED_EXTENSIONS: u8 = 2;
pub const MSG_CERTIFICATE_12: u8 = 3;
pub const MSG_CERTIFICATE_13: u8 = 4;
pub const MSG_CERTIFICATE_REQUEST_12: u8 = 5;
pub const MSG_CERTIFICATE_REQUEST_13: u8 = 6;
pub const MSG_PARSERS: u8 = 7;
