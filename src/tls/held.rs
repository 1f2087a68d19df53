//! Encrypted records kept until their keys arrive. Secrets taken from a process reach
//! certwire through a ring buffer, a moment after the process derived them; when only the
//! client is probed, the server's encrypted flight is on the wire before the client has
//! even derived the keys for it. A connection therefore keeps its protected records, both
//! directions in capture order (what a side sent after the other's alert must stay after
//! it), within bounds, and opens them when the keys come.

/// Records kept per connection: both TLS 1.3 flights fit in a few.
pub const MAX_HELD_RECORDS: usize = 32;
/// Bytes kept per connection (certificate chains included).
pub const MAX_HELD_BYTES: usize = 96 * 1024;
/// Capture seconds a connection waits for its keys before it is reported without them.
pub const KEY_WAIT_SECS: f64 = 5.0;

#[derive(Debug, Default)]
pub struct Held {
    records: Vec<(usize, [u8; 5], Vec<u8>)>,
    bytes: usize,
}

impl Held {
    /// Keep one record; false (and nothing kept) when the bounds are reached.
    pub fn push(&mut self, dir: usize, header: &[u8; 5], payload: &[u8]) -> bool {
        if self.records.len() >= MAX_HELD_RECORDS || self.bytes + payload.len() > MAX_HELD_BYTES {
            return false;
        }
        self.bytes += payload.len();
        self.records.push((dir, *header, payload.to_vec()));
        true
    }

    pub fn take(&mut self) -> Vec<(usize, [u8; 5], Vec<u8>)> {
        self.bytes = 0;
        std::mem::take(&mut self.records)
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut h = Held::default();
        let big = vec![0u8; MAX_HELD_BYTES / 2];
        assert!(h.push(0, &[23, 3, 3, 0, 0], &big));
        assert!(h.push(0, &[23, 3, 3, 0, 0], &big));
        assert!(!h.push(0, &[23, 3, 3, 0, 0], &[1]));
        assert_eq!(h.take().len(), 2);
        assert_eq!(h.bytes(), 0);
        for _ in 0..MAX_HELD_RECORDS {
            assert!(h.push(1, &[23, 3, 3, 0, 1], &[0]));
        }
        assert!(!h.push(1, &[23, 3, 3, 0, 1], &[0]));
    }
}
