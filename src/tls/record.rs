//! TLS record framing over one reassembled direction.
//!
//! tls-parser can parse a record that is already whole, but a TCP stream delivers records in
//! arbitrary pieces, with holes. This framer keeps at most one record's bytes, hands out
//! whole records, and turns holes into `Damaged` (a record whose header was seen but whose
//! body is partly missing) or `Lost` (framing unknown until a segment starts with a
//! plausible record header again).

/// RFC 8446 §5.2: TLSCiphertext fragments are at most 2^14 + 256 bytes; TLS 1.2 allows
/// 2^14 + 2048. Anything longer is not TLS.
pub const MAX_RECORD_LEN: usize = 16384 + 2048;
const HEADER: usize = 5;

pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_ALERT: u8 = 21;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;

#[derive(Debug, PartialEq, Eq)]
pub enum RecordEvent<'a> {
    Record {
        content_type: u8,
        version: u16,
        payload: &'a [u8],
    },
    /// A record of `len` bytes of which `prefix` arrived before `missing` bytes were lost.
    Damaged {
        content_type: u8,
        len: usize,
        prefix: &'a [u8],
    },
    /// Record framing is lost (a gap swallowed a record header, or the bytes are not TLS);
    /// nothing is delivered until a segment starts with a plausible header.
    Lost,
}

#[derive(Debug)]
pub struct RecordReader {
    buf: Vec<u8>,
    /// Bytes of a damaged record still to be discarded after its gap.
    skip: usize,
    resync: bool,
    /// Set once the stream is known not to be TLS (first bytes implausible after a SYN).
    pub not_tls: bool,
    pub records: u64,
}

impl RecordReader {
    /// `at_record_boundary`: the stream is known to start at a record (a SYN was seen).
    /// Otherwise the first segment must look like a record header to be trusted.
    pub fn new(at_record_boundary: bool) -> Self {
        RecordReader {
            buf: Vec::new(),
            skip: 0,
            resync: !at_record_boundary,
            not_tls: false,
            records: 0,
        }
    }

    pub fn buffered_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Release the buffer (the flow is done with TLS framing).
    pub fn release(&mut self) {
        self.buf = Vec::new();
    }

    pub fn on_data(
        &mut self,
        mut bytes: &[u8],
        segment_start: bool,
        out: &mut impl FnMut(RecordEvent<'_>),
    ) {
        if self.skip > 0 {
            let n = self.skip.min(bytes.len());
            self.skip -= n;
            bytes = &bytes[n..];
            if bytes.is_empty() {
                return;
            }
            // The damaged record ended inside this chunk: what follows is a record start.
        } else if self.resync {
            if !(segment_start && plausible_header(bytes)) {
                return;
            }
            self.resync = false;
        }
        while !bytes.is_empty() {
            if self.buf.is_empty() && bytes.len() >= HEADER {
                // Fast path: whole records straight from the segment, no copy.
                let Some(len) = self.header_len(&bytes[..HEADER], out) else {
                    return;
                };
                if bytes.len() >= HEADER + len {
                    self.records += 1;
                    out(RecordEvent::Record {
                        content_type: bytes[0],
                        version: u16::from_be_bytes([bytes[1], bytes[2]]),
                        payload: &bytes[HEADER..HEADER + len],
                    });
                    bytes = &bytes[HEADER + len..];
                    continue;
                }
            }
            // Slow path: accumulate a record that spans chunks.
            if self.buf.len() < HEADER {
                let need = HEADER - self.buf.len();
                let n = need.min(bytes.len());
                self.buf.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.buf.len() < HEADER {
                    return;
                }
                let hdr: [u8; HEADER] = self.buf[..HEADER].try_into().unwrap_or_default();
                if self.header_len(&hdr, out).is_none() {
                    self.buf.clear();
                    return;
                }
            }
            let len = usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
            let need = HEADER + len - self.buf.len();
            // The whole record at once (its length is checked): a certificate flight
            // spread over segments no longer grows the buffer a segment at a time.
            self.buf.reserve(need);
            let n = need.min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == HEADER + len {
                self.records += 1;
                out(RecordEvent::Record {
                    content_type: self.buf[0],
                    version: u16::from_be_bytes([self.buf[1], self.buf[2]]),
                    payload: &self.buf[HEADER..],
                });
                self.buf.clear();
            }
        }
    }

    /// Validate a header; on garbage, report `Lost` and enter resync.
    fn header_len(&mut self, hdr: &[u8], out: &mut impl FnMut(RecordEvent<'_>)) -> Option<usize> {
        if plausible_header(hdr) {
            Some(usize::from(u16::from_be_bytes([hdr[3], hdr[4]])))
        } else {
            if self.records == 0 {
                self.not_tls = true;
            }
            self.resync = true;
            out(RecordEvent::Lost);
            None
        }
    }

    /// `len` bytes of the stream were not captured.
    pub fn on_gap(&mut self, len: u64, out: &mut impl FnMut(RecordEvent<'_>)) {
        if self.skip > 0 {
            if len <= self.skip as u64 {
                // Still inside (or exactly at the end of) the damaged record: framing holds.
                self.skip -= len as usize;
                return;
            }
            self.skip = 0;
            self.resync = true;
            out(RecordEvent::Lost);
            return;
        }
        if self.resync {
            return;
        }
        if self.buf.len() >= HEADER {
            let rec_len = usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
            let remaining = (HEADER + rec_len - self.buf.len()) as u64;
            out(RecordEvent::Damaged {
                content_type: self.buf[0],
                len: rec_len,
                prefix: &self.buf[HEADER..],
            });
            self.buf.clear();
            if len < remaining {
                self.skip = (remaining - len) as usize;
                return;
            }
            if len == remaining {
                return;
            }
        } else {
            self.buf.clear();
        }
        self.resync = true;
        out(RecordEvent::Lost);
    }
}

/// A record header certwire is willing to trust when framing is uncertain.
pub fn plausible_header(b: &[u8]) -> bool {
    b.len() >= HEADER
        && (CT_CHANGE_CIPHER_SPEC..=24).contains(&b[0])
        && b[1] == 3
        && b[2] <= 4
        && usize::from(u16::from_be_bytes([b[3], b[4]])) <= MAX_RECORD_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &mut RecordReader, chunks: &[(&[u8], bool)]) -> Vec<String> {
        let mut v = vec![];
        for (c, start) in chunks {
            r.on_data(c, *start, &mut |e| v.push(format!("{e:?}")));
        }
        v
    }

    #[test]
    fn records_split_across_chunks_and_several_per_chunk() {
        let mut r = RecordReader::new(true);
        let stream = [22u8, 3, 3, 0, 2, 0xaa, 0xbb, 21, 3, 3, 0, 2, 2, 40];
        let v = collect(
            &mut r,
            &[
                (&stream[..3], true),
                (&stream[3..6], true),
                (&stream[6..], false),
            ],
        );
        assert_eq!(v.len(), 2);
        assert!(v[0].contains("content_type: 22") && v[0].contains("[170, 187]"));
        assert!(v[1].contains("content_type: 21") && v[1].contains("[2, 40]"));
    }

    #[test]
    fn garbage_is_lost_not_parsed() {
        let mut r = RecordReader::new(true);
        let v = collect(&mut r, &[(b"GET / HTTP/1.1\r\n", true)]);
        assert_eq!(v, ["Lost"]);
        assert!(r.not_tls);
    }

    #[test]
    fn gap_inside_record_is_damage_then_framing_continues() {
        let mut r = RecordReader::new(true);
        let mut v = vec![];
        r.on_data(&[22, 3, 3, 0, 6, 1, 2], true, &mut |e| {
            v.push(format!("{e:?}"))
        });
        r.on_gap(2, &mut |e| v.push(format!("{e:?}")));
        // two bytes of the damaged record remain, then a whole alert record
        r.on_data(&[5, 6, 21, 3, 3, 0, 2, 2, 42], true, &mut |e| {
            v.push(format!("{e:?}"))
        });
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("Damaged { content_type: 22, len: 6, prefix: [1, 2]"));
        assert!(v[1].contains("content_type: 21"));
    }

    #[test]
    fn gap_ending_exactly_at_a_damaged_records_end_keeps_framing() {
        let mut r = RecordReader::new(true);
        let mut v = vec![];
        // A 6-byte record: 2 bytes seen, a 2-byte gap, then 2 more bytes and a new gap of
        // exactly the remaining 2: the next byte is a record start.
        r.on_data(&[22, 3, 3, 0, 6, 1, 2], true, &mut |e| {
            v.push(format!("{e:?}"))
        });
        r.on_gap(2, &mut |e| v.push(format!("{e:?}")));
        r.on_gap(2, &mut |e| v.push(format!("{e:?}")));
        r.on_data(&[21, 3, 3, 0, 2, 2, 42], false, &mut |e| {
            v.push(format!("{e:?}"))
        });
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[1].contains("content_type: 21"), "{v:?}");
    }

    #[test]
    fn gap_over_header_resyncs_at_plausible_segment_start() {
        let mut r = RecordReader::new(true);
        let mut v = vec![];
        r.on_gap(100, &mut |e| v.push(format!("{e:?}")));
        r.on_data(&[9, 9, 9], true, &mut |e| v.push(format!("{e:?}")));
        r.on_data(&[21, 3, 3, 0, 2, 2, 48], false, &mut |e| {
            v.push(format!("{e:?}"))
        });
        r.on_data(&[21, 3, 3, 0, 2, 2, 48], true, &mut |e| {
            v.push(format!("{e:?}"))
        });
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0], "Lost");
        assert!(v[1].contains("payload: [2, 48]"));
    }

    #[test]
    fn every_truncation_of_a_record_yields_nothing_or_the_record() {
        let rec = [22u8, 3, 1, 0, 4, 1, 0, 0, 0];
        for cut in 0..rec.len() {
            let mut r = RecordReader::new(true);
            let v = collect(&mut r, &[(&rec[..cut], true)]);
            assert!(v.is_empty(), "cut {cut}: {v:?}");
            let v = collect(&mut r, &[(&rec[cut..], false)]);
            assert_eq!(v.len(), 1, "cut {cut}: {v:?}");
        }
    }
}
