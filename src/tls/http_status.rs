//! The status of the server's first HTTP response, from decrypted application data, and
//! nothing else: kube-apiserver and the kubelet complete the handshake whatever client
//! certificate they get and refuse it afterwards with 401, so the status is the only
//! evidence of that refusal on the wire.
//!
//! HTTP/1.x: the three digits of the status line. HTTP/2: the first HEADERS frame's first
//! field, which RFC 9113 §8.3 requires to be `:status` in a response; it is decoded by
//! hand, as far as that field only (HPACK static-table entries 8–14, or a literal whose
//! value is Huffman-coded or plain digits), instead of running a whole HPACK decoder over
//! headers certwire must not read. Everything else is skipped unread and no byte is kept
//! after the status is known.

/// Server plaintext kept while looking for the status: a status line or a HEADERS frame
/// comes first or after a SETTINGS frame, well within this.
const MAX_BUFFER: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus {
    pub status: u16,
    /// "h2" or "http/1.1" (or "http/1.0").
    pub protocol: &'static str,
}

/// Reads server→client plaintext until the status is known or cannot be.
#[derive(Debug, Default)]
pub struct StatusReader {
    buf: Vec<u8>,
    /// HTTP/2 frame bytes still to skip (frames before HEADERS are not kept).
    skip: usize,
    state: State,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Reading,
    Found(HttpStatus),
    /// Not HTTP, or no status within the bounds.
    GaveUp,
}

impl StatusReader {
    pub fn result(&self) -> Option<HttpStatus> {
        match self.state {
            State::Found(s) => Some(s),
            _ => None,
        }
    }

    /// Still looking (more server data would help).
    pub fn pending(&self) -> bool {
        self.state == State::Reading
    }

    /// Feed the next decrypted server application bytes.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.state != State::Reading {
            return;
        }
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        data = &data[skipped..];
        if self.buf.len() + data.len() > MAX_BUFFER {
            return self.finish(State::GaveUp);
        }
        self.buf.extend_from_slice(data);
        match parse(&self.buf) {
            Parse::Need => {}
            Parse::Skip(n) => {
                // A whole frame before HEADERS: drop it, and what is left of it.
                let have = self.buf.len().min(n);
                self.buf.drain(..have);
                self.skip = n - have;
                if self.skip == 0 && !self.buf.is_empty() {
                    let rest = std::mem::take(&mut self.buf);
                    self.feed(&rest);
                }
            }
            Parse::Done(s) => self.finish(s.map_or(State::GaveUp, State::Found)),
        }
    }

    fn finish(&mut self, state: State) {
        self.state = state;
        self.buf = Vec::new();
        self.skip = 0;
    }
}

enum Parse {
    Need,
    /// HTTP/2: skip a frame of this many bytes (header included).
    Skip(usize),
    Done(Option<HttpStatus>),
}

const H2_HEADERS: u8 = 0x1;

fn parse(b: &[u8]) -> Parse {
    if b.len() < 9 {
        return if b.is_empty() || b"HTTP/1."[..b.len().min(7)] == b[..b.len().min(7)] || b[0] == 0 {
            Parse::Need
        } else {
            Parse::Done(None)
        };
    }
    if b.starts_with(b"HTTP/1.") {
        return status_line(b);
    }
    let len = (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
    let (kind, flags) = (b[3], b[4]);
    let stream = u32::from_be_bytes([b[5] & 0x7f, b[6], b[7], b[8]]);
    if kind == H2_HEADERS && stream != 0 {
        return match b.get(9..9 + len) {
            Some(block) => Parse::Done(first_status(flags, block)),
            None if 9 + len > MAX_BUFFER => Parse::Done(None),
            None => Parse::Need,
        };
    }
    // A server's first frame is SETTINGS on stream 0 (RFC 9113 §3.4); other frames may
    // precede HEADERS. Anything else at the start is not HTTP/2.
    if kind > 0x9 || (stream == 0 && kind == H2_HEADERS) {
        return Parse::Done(None);
    }
    Parse::Skip(9 + len)
}

/// `HTTP/1.1 401 Unauthorized`.
fn status_line(b: &[u8]) -> Parse {
    if b.len() < 12 {
        return Parse::Need;
    }
    let protocol = match &b[..8] {
        b"HTTP/1.1" => "http/1.1",
        b"HTTP/1.0" => "http/1.0",
        _ => return Parse::Done(None),
    };
    if b[8] != b' ' {
        return Parse::Done(None);
    }
    Parse::Done(digits(&b[9..12]).map(|status| HttpStatus { status, protocol }))
}

fn digits(d: &[u8]) -> Option<u16> {
    if d.len() != 3 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(d)
        .ok()?
        .parse()
        .ok()
        .filter(|s| (100..600).contains(s))
}

/// The `:status` field at the start of a HEADERS frame's header block fragment.
fn first_status(flags: u8, mut block: &[u8]) -> Option<HttpStatus> {
    const PADDED: u8 = 0x8;
    const PRIORITY: u8 = 0x20;
    if flags & PADDED != 0 {
        let pad = usize::from(*block.first()?);
        block = block.get(1..block.len().checked_sub(pad)?)?;
    }
    if flags & PRIORITY != 0 {
        block = block.get(5..)?;
    }
    // Dynamic table size updates (001xxxxx) may come first.
    loop {
        let b = *block.first()?;
        if b & 0xe0 != 0x20 {
            break;
        }
        let (_, used) = integer(block, 5)?;
        block = &block[used..];
    }
    let status = hpack_status(block)?;
    Some(HttpStatus {
        status,
        protocol: "h2",
    })
}

/// Static table (RFC 7541 Appendix A) entries 8–14: `:status` with a value.
const STATIC_STATUS: [u16; 7] = [200, 204, 206, 304, 400, 404, 500];

fn hpack_status(block: &[u8]) -> Option<u16> {
    let b = *block.first()?;
    if b & 0x80 != 0 {
        let (index, _) = integer(block, 7)?;
        return STATIC_STATUS.get(index.checked_sub(8)? as usize).copied();
    }
    // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
    let prefix = if b & 0xc0 == 0x40 {
        6
    } else if b & 0xe0 == 0 {
        4
    } else {
        return None;
    };
    let (name_index, used) = integer(block, prefix)?;
    let mut rest = &block[used..];
    if name_index == 0 {
        let (name, used) = string(rest)?;
        if name != b":status" {
            return None;
        }
        rest = &rest[used..];
    } else if !(8..=14).contains(&name_index) {
        return None;
    }
    let (value, _) = string(rest)?;
    digits(&value)
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1): (value, bytes used).
fn integer(b: &[u8], prefix: u32) -> Option<(u64, usize)> {
    let max = (1u64 << prefix) - 1;
    let v = u64::from(*b.first()?) & max;
    if v < max {
        return Some((v, 1));
    }
    let mut v = max;
    for (i, &byte) in b.iter().enumerate().skip(1).take(4) {
        v += u64::from(byte & 0x7f) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// An HPACK string literal (RFC 7541 §5.2), at most 16 bytes: a status or its name.
fn string(b: &[u8]) -> Option<(Vec<u8>, usize)> {
    let huffman = *b.first()? & 0x80 != 0;
    let (len, used) = integer(b, 7)?;
    let len = usize::try_from(len).ok().filter(|&l| l <= 16)?;
    let raw = b.get(used..used + len)?;
    let value = if huffman {
        huffman_digits(raw)?
    } else {
        raw.to_vec()
    };
    Some((value, used + len))
}

/// Huffman-coded digits (RFC 7541 Appendix B: '0'–'2' are 5-bit codes 0–2, '3'–'9' 6-bit
/// codes 0x19–0x1f) followed by at most 7 bits of EOS padding (all ones). Anything else is
/// not a status and gives None.
fn huffman_digits(raw: &[u8]) -> Option<Vec<u8>> {
    let total = raw.len() * 8;
    let bits = |at: usize, n: usize| -> Option<u32> {
        (at + n <= total).then(|| {
            (at..at + n).fold(0u32, |v, i| {
                (v << 1) | u32::from((raw[i / 8] >> (7 - i % 8)) & 1)
            })
        })
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < total {
        let left = total - at;
        if left < 8 && bits(at, left)? == (1 << left) - 1 {
            break; // padding
        }
        match bits(at, 5) {
            Some(v @ 0..=2) => {
                out.push(b'0' + v as u8);
                at += 5;
            }
            _ => match bits(at, 6)? {
                v @ 0x19..=0x1f => {
                    out.push(b'3' + (v - 0x19) as u8);
                    at += 6;
                }
                _ => return None,
            },
        }
        if out.len() > 3 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H2_SETTINGS: u8 = 0x4;

    fn read(chunks: &[&[u8]]) -> Option<HttpStatus> {
        let mut r = StatusReader::default();
        for c in chunks {
            r.feed(c);
        }
        r.result()
    }

    #[test]
    fn http1_status_lines_in_pieces() {
        let s = read(&[b"HTTP/1.", b"1 401 Unauthorized\r\nContent-Type: x\r\n"]);
        assert_eq!(
            s,
            Some(HttpStatus {
                status: 401,
                protocol: "http/1.1"
            })
        );
        assert_eq!(read(&[b"SSH-2.0-OpenSSH\r\n"]), None);
        assert_eq!(read(&[b"HTTP/1.1 4x1 nope\r\n"]), None);
    }

    /// RFC 7541 C.6.1 and C.6.2: `:status: 302` as 48 82 64 02, `:status: 307` as
    /// 48 83 64 0e ff (Huffman, literal with incremental indexing, indexed name 8).
    #[test]
    fn rfc7541_response_examples() {
        assert_eq!(hpack_status(&[0x48, 0x82, 0x64, 0x02]), Some(302));
        assert_eq!(hpack_status(&[0x48, 0x83, 0x64, 0x0e, 0xff]), Some(307));
        assert_eq!(hpack_status(&[0x88]), Some(200));
        assert_eq!(hpack_status(&[0x8d]), Some(404));
        assert_eq!(hpack_status(&[0x08, 0x03, b'4', b'0', b'1']), Some(401));
        // Not :status first: nothing.
        assert_eq!(hpack_status(&[0x82]), None);
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let l = payload.len();
        let mut f = vec![(l >> 16) as u8, (l >> 8) as u8, l as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn http2_settings_then_headers_with_padding_split_anywhere() {
        let mut wire = frame(H2_SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
        wire.extend(frame(0x8, 0, 0, &[0, 0, 0, 1])); // WINDOW_UPDATE
        wire.extend(frame(
            H2_HEADERS,
            0x4 | 0x8,
            1,
            &[2, 0x48, 0x82, 0x64, 0x02, 0, 0],
        ));
        wire.extend(frame(0x0, 0x1, 1, b"the body must never be read"));
        for cut in 0..wire.len() {
            let s = read(&[&wire[..cut], &wire[cut..]]);
            assert_eq!(
                s,
                Some(HttpStatus {
                    status: 302,
                    protocol: "h2"
                }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn the_buffer_is_bounded_and_gives_up() {
        let mut r = StatusReader::default();
        let big = frame(H2_HEADERS, 0, 1, &vec![0x82; MAX_BUFFER]);
        r.feed(&big);
        assert!(!r.pending());
        assert_eq!(r.result(), None);
    }
}
