//! Packet sources: where captured frames come from (files, stdin, later live sockets).
//!
//! A source hands out borrowed [`Packet`]s through a callback rather than an iterator: the
//! bytes live in a read-ahead block and are only valid until it is recycled, and a
//! callback keeps that contract without copying every frame.

mod capture;
mod input;
pub mod live;
mod readahead;

pub use capture::{read_capture, CaptureFormat, CaptureStats, Event};
pub use input::{open_input, InputReader};

/// A timestamp as the capture recorded it, normalised to seconds and nanoseconds since the
/// Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// RFC 3339 in UTC with the precision the capture had (micro- or nanoseconds), as the
    /// report schema documents.
    pub fn to_rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.secs) {
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
}
