//! NSS key log files (SSLKEYLOGFILE), from `--keylog` files and pcapng Decryption Secrets
//! Blocks, indexed by ClientHello random.

use std::collections::HashMap;

/// The secrets of one connection (one client random). Never printed: the Debug impls
/// below say only which secrets are present.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic_0: Option<Vec<u8>>,
    pub server_traffic_0: Option<Vec<u8>>,
    /// TLS ≤ 1.2 master secret (`CLIENT_RANDOM`).
    pub master: Option<Vec<u8>>,
}

#[derive(Clone, Default)]
pub struct KeyLog {
    map: HashMap<[u8; 32], Secrets>,
    /// Lines that were neither comments, blank, nor a known label with hex fields.
    pub bad_lines: usize,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .field("client_traffic_0", &self.client_traffic_0.is_some())
            .field("server_traffic_0", &self.server_traffic_0.is_some())
            .field("master", &self.master.is_some())
            .finish()
    }
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLog")
            .field("connections", &self.map.len())
            .field("bad_lines", &self.bad_lines)
            .finish()
    }
}

impl KeyLog {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.map.get(client_random)
    }

    /// Add the lines of an NSS key log. Unknown labels (EXPORTER_SECRET, early traffic)
    /// are ignored; malformed lines are counted, never fatal.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(label), Some(random), Some(secret)) =
                (parts.next(), parts.next(), parts.next())
            else {
                self.bad_lines += 1;
                continue;
            };
            let (Some(random), Some(secret)) = (unhex(random), unhex(secret)) else {
                self.bad_lines += 1;
                continue;
            };
            let Ok(random) = <[u8; 32]>::try_from(random.as_slice()) else {
                self.bad_lines += 1;
                continue;
            };
            let e = self.map.entry(random).or_default();
            match label {
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => e.client_handshake = Some(secret),
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => e.server_handshake = Some(secret),
                "CLIENT_TRAFFIC_SECRET_0" => e.client_traffic_0 = Some(secret),
                "SERVER_TRAFFIC_SECRET_0" => e.server_traffic_0 = Some(secret),
                "CLIENT_RANDOM" if secret.len() == 48 => e.master = Some(secret),
                _ => {}
            }
        }
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nss_lines_and_counts_garbage() {
        let r = "ab".repeat(32);
        let text = format!(
            "# comment\n\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\nCLIENT_RANDOM {r} {}\nEXPORTER_SECRET {r} 00\nnonsense\nCLIENT_TRAFFIC_SECRET_0 zz 00\n",
            "01".repeat(32),
            "02".repeat(48)
        );
        let mut k = KeyLog::default();
        k.add_text(&text);
        let s = k.get(&[0xab; 32]).unwrap();
        assert_eq!(s.server_handshake.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(s.master.as_deref(), Some(&[2u8; 48][..]));
        assert_eq!(k.bad_lines, 2);
    }
}
