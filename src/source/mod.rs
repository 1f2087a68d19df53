//! Packet sources: where captured frames come from (files, stdin, later live sockets).
//!
//! A source hands out borrowed [`Packet`]s through a callback rather than an iterator: the
//! bytes live in a read-ahead block and are only valid until it is recycled, and a
//! callback keeps that contract without copying every frame.

mod capture;
mod input;
pub mod live;
mod readahead;

pub use capture::{read_capture, read_capture_file, CaptureFormat, CaptureStats, Event};
pub use input::{open_input, InputReader};

/// A timestamp as the capture recorded it, normalised to seconds and nanoseconds since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

/// `n` in `width` digits (zero-padded; `n` fits), then `then`.
fn push_padded(s: &mut String, n: u32, width: usize, then: char) {
    let mut digits = [b'0'; 10];
    let mut n = n;
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    s.extend(digits[..width].iter().map(|&d| char::from(d)));
    s.push(then);
}

impl Timestamp {
    /// RFC 3339 in UTC with the precision the capture had (micro- or nanoseconds), as the
    /// report schema documents.
    pub fn to_rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.secs) {
            // Without the formatting machinery for the common years (once per connection).
            Ok(t) if (0..=9999).contains(&t.year()) && self.nanos < 1_000_000_000 => {
                let mut s = String::with_capacity(30);
                push_padded(&mut s, t.year() as u32, 4, '-');
                push_padded(&mut s, u32::from(u8::from(t.month())), 2, '-');
                push_padded(&mut s, u32::from(t.day()), 2, 'T');
                push_padded(&mut s, u32::from(t.hour()), 2, ':');
                push_padded(&mut s, u32::from(t.minute()), 2, ':');
                push_padded(&mut s, u32::from(t.second()), 2, '.');
                if self.nanos.is_multiple_of(1000) {
                    push_padded(&mut s, self.nanos / 1000, 6, 'Z');
                } else {
                    push_padded(&mut s, self.nanos, 9, 'Z');
                }
                s
            }
            Ok(t) => {
                let frac = if self.nanos.is_multiple_of(1000) {
                    format!(".{:06}", self.nanos / 1000)
                } else {
                    format!(".{:09}", self.nanos)
                };
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                    frac
                )
            }
            Err(_) => format!("@{}.{:09}", self.secs, self.nanos),
        }
    }

    /// Seconds as a float, for idle-time arithmetic where nanoseconds do not matter.
    pub fn as_secs_f64(self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// 1-based packet number, as Wireshark and tshark count them (pcapng: only packet blocks).
    pub number: u64,
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub linktype: u16,
    /// The captured bytes (possibly fewer than `orig_len` when the snaplen cut the frame).
    pub data: &'a [u8],
    pub orig_len: u32,
    /// Where the packet's record starts in the (decompressed) input; bytes received so
    /// far on a live interface.
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_keeps_capture_precision() {
        let t = Timestamp {
            secs: 1_764_331_200,
            nanos: 123_456_000,
        };
        assert_eq!(t.to_rfc3339(), "2025-11-28T12:00:00.123456Z");
        let t = Timestamp {
            secs: 1_764_331_200,
            nanos: 123_456_789,
        };
        assert_eq!(t.to_rfc3339(), "2025-11-28T12:00:00.123456789Z");
    }

    /// The digits written by hand are what `format!` writes, over the years 0 to 9999.
    #[test]
    fn rfc3339_by_hand_is_formats() {
        let reference = |t: Timestamp| {
            let d = time::OffsetDateTime::from_unix_timestamp(t.secs).unwrap();
            let frac = if t.nanos.is_multiple_of(1000) {
                format!(".{:06}", t.nanos / 1000)
            } else {
                format!(".{:09}", t.nanos)
            };
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second(),
                frac
            )
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut secs = vec![
            0,
            1,
            59,
            86_399,
            951_782_400,
            -1,
            -62_167_219_200,
            253_402_300_799,
        ];
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            secs.push((x % 315_537_897_600) as i64 - 62_167_219_200);
        }
        for (i, s) in secs.into_iter().enumerate() {
            for nanos in [
                0,
                1_000,
                999_999_000,
                7,
                999_999_999,
                (i as u32 * 7919) % 1_000_000_000,
            ] {
                let t = Timestamp { secs: s, nanos };
                assert_eq!(t.to_rfc3339(), reference(t), "{t:?}");
            }
        }
    }
}
