//! Joining handshake messages from handshake-record payloads of one direction.
//!
//! The same joiner takes plaintext record payloads (TLS ≤ 1.2, and TLS 1.3 up to
//! ServerHello) and decrypted TLS 1.3 handshake bytes, so that one message parser serves both.

/// Largest handshake message kept. Real certificate chains are a few KiB; 256 KiB leaves a
/// wide margin while bounding per-flow memory. Larger messages are reported, not buffered.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeEvent<'a> {
    Message {
        msg_type: u8,
        body: &'a [u8],
    },
    /// A message cut by missing bytes: `have` is the body prefix that arrived.
    Partial {
        msg_type: u8,
        declared_len: usize,
        have: &'a [u8],
    },
    /// A message longer than [`MAX_MESSAGE_LEN`], skipped.
    Oversize {
        msg_type: u8,
        declared_len: usize,
    },
}

#[derive(Debug, Default)]
pub struct HandshakeJoiner {
    buf: Vec<u8>,
    /// Bytes of an oversize message still to skip.
    skip: usize,
    /// Message framing lost after damage; the next record is taken as a fresh start.
    lost: bool,
}

impl HandshakeJoiner {
    pub fn buffered_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub fn release(&mut self) {
        self.buf = Vec::new();
    }

    /// The payload of one handshake record (or decrypted handshake bytes).
    pub fn on_record(&mut self, mut bytes: &[u8], out: &mut impl FnMut(HandshakeEvent<'_>)) {
        if self.lost {
            // After damage, trust a record start only if it looks like a message header.
            if bytes.len() < 4 || !plausible_message(bytes) {
                return;
            }
            self.lost = false;
            self.buf.clear();
            self.skip = 0;
        }
        if self.skip > 0 {
            let n = self.skip.min(bytes.len());
            self.skip -= n;
            bytes = &bytes[n..];
        }
        while !bytes.is_empty() {
            if self.buf.is_empty() && bytes.len() >= 4 {
                let len = u24(&bytes[1..4]);
                if len > MAX_MESSAGE_LEN {
                    out(HandshakeEvent::Oversize {
                        msg_type: bytes[0],
                        declared_len: len,
                    });
                    let n = (4 + len).min(bytes.len());
                    self.skip = 4 + len - n;
                    bytes = &bytes[n..];
                    continue;
                }
                if bytes.len() >= 4 + len {
                    out(HandshakeEvent::Message {
                        msg_type: bytes[0],
                        body: &bytes[4..4 + len],
                    });
                    bytes = &bytes[4 + len..];
                    continue;
                }
            }
            if self.buf.len() < 4 {
                let n = (4 - self.buf.len()).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.buf.len() < 4 {
                    return;
                }
                let len = u24(&self.buf[1..4]);
                if len > MAX_MESSAGE_LEN {
                    out(HandshakeEvent::Oversize {
                        msg_type: self.buf[0],
                        declared_len: len,
                    });
                    self.buf.clear();
                    let n = len.min(bytes.len());
                    self.skip = len - n;
                    bytes = &bytes[n..];
                    continue;
                }
            }
            let len = u24(&self.buf[1..4]);
            let n = (4 + len - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == 4 + len {
                out(HandshakeEvent::Message {
                    msg_type: self.buf[0],
                    body: &self.buf[4..],
                });
                self.buf.clear();
            }
        }
    }

    /// A handshake record was damaged: `prefix` arrived, the rest did not. The message in
    /// progress (if any) is reported as partial and framing restarts at the next record.
    pub fn on_damaged(&mut self, prefix: &[u8], out: &mut impl FnMut(HandshakeEvent<'_>)) {
        if !self.lost {
            // Whole messages inside the prefix are still good; `on_record` leaves the
            // incomplete one in `buf`.
            self.on_record(prefix, out);
            if self.buf.len() >= 4 && self.skip == 0 {
                let declared_len = u24(&self.buf[1..4]);
                out(HandshakeEvent::Partial {
                    msg_type: self.buf[0],
                    declared_len,
                    have: &self.buf[4..],
                });
            }
        }
        self.buf.clear();
        self.skip = 0;
        self.lost = true;
    }

    /// Framing was lost below (record layer): the message in progress is partial.
    pub fn on_lost(&mut self, out: &mut impl FnMut(HandshakeEvent<'_>)) {
        self.on_damaged(&[], out);
    }
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// RFC 8446 §4 handshake types plus the TLS 1.2 ones.
fn plausible_message(b: &[u8]) -> bool {
    matches!(b[0], 0..=2 | 4 | 5 | 8 | 11..=16 | 20 | 22 | 24) && u24(&b[1..4]) <= MAX_MESSAGE_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(j: &mut HandshakeJoiner, recs: &[&[u8]]) -> Vec<String> {
        let mut v = vec![];
        for r in recs {
            j.on_record(r, &mut |e| v.push(format!("{e:?}")));
        }
        v
    }

    #[test]
    fn message_split_across_records_and_two_in_one() {
        let mut j = HandshakeJoiner::default();
        let v = events(&mut j, &[&[11, 0, 0, 3, 1], &[2, 3, 14, 0, 0, 0]]);
        assert_eq!(
            v,
            [
                "Message { msg_type: 11, body: [1, 2, 3] }",
                "Message { msg_type: 14, body: [] }"
            ]
        );
    }

    #[test]
    fn damage_reports_partial_then_resumes_at_plausible_record() {
        let mut j = HandshakeJoiner::default();
        let mut v = vec![];
        j.on_record(&[2, 0, 0, 1, 9, 11, 0, 0, 10, 1], &mut |e| {
            v.push(format!("{e:?}"))
        });
        j.on_damaged(&[2, 3], &mut |e| v.push(format!("{e:?}")));
        j.on_record(&[0xff, 1, 2], &mut |e| v.push(format!("{e:?}")));
        j.on_record(&[14, 0, 0, 0], &mut |e| v.push(format!("{e:?}")));
        assert_eq!(
            v,
            [
                "Message { msg_type: 2, body: [9] }",
                "Partial { msg_type: 11, declared_len: 10, have: [1, 2, 3] }",
                "Message { msg_type: 14, body: [] }"
            ]
        );
    }

    #[test]
    fn oversize_message_is_skipped_and_reported() {
        let mut j = HandshakeJoiner::default();
        let len = MAX_MESSAGE_LEN + 1;
        let mut rec = vec![11, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        rec.extend(std::iter::repeat_n(0, 100));
        let v = events(&mut j, &[&rec]);
        assert_eq!(v.len(), 1);
        assert!(v[0].starts_with("Oversize"));
        assert!(j.buffered_bytes() < 1024);
    }
}
