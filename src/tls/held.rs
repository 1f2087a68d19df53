//! Encrypted records kept until their keys arrive. Secrets taken from a process reach
//! certwire through a ring buffer, a moment after the process derived them; when only the
//! client is probed, the server's encrypted flight is on the wire before the client has
//! even derived the keys for it. A direction therefore keeps its protected records, within
//! bounds, and opens them when the keys come.

/// Records kept per direction: both TLS 1.3 flights fit in a few.
pub const MAX_HELD_RECORDS: usize = 32;
/// Bytes kept per direction (certificate chains included).
pub const MAX_HELD_BYTES: usize = 96 * 1024;
/// Capture seconds a connection waits for its keys before it is reported without them.
pub const KEY_WAIT_SECS: f64 = 5.0;

#[derive(Debug, Default)]
pub struct Held {
    records: Vec<([u8; 5], Vec<u8>)>,
    bytes: usize,
}

impl Held {
    /// Keep one record; false (and nothing kept) when the bounds are reached.
    pub fn push(&mut self, header: &[u8; 5], payload: &[u8]) -> bool {
        if self.records.len() >= MAX_HELD_RECORDS || self.bytes + payload.len() > MAX_HELD_BYTES {
            return false;
        }
        self.bytes += payload.len();
        self.records.push((*header, payload.to_vec()));
        true
    }

    pub fn take(&mut self) -> Vec<([u8; 5], Vec<u8>)> {
        self.bytes = 0;
        std::mem::take(&mut self.records)
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut h = Held::default();
        let big = vec![0u8; MAX_HELD_BYTES / 2];
        assert!(h.push(&[23, 3, 3, 0, 0], &big));
        assert!(h.push(&[23, 3, 3, 0, 0], &big));
        assert!(!h.push(&[23, 3, 3, 0, 0], &[1]));
        assert_eq!(h.take().len(), 2);
        assert_eq!(h.bytes(), 0);
        for _ in 0..MAX_HELD_RECORDS {
            assert!(h.push(&[23, 3, 3, 0, 1], &[0]));
        }
        assert!(!h.push(&[23, 3, 3, 0, 1], &[0]));
    }
}
