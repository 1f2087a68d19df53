//! NSS key log files (SSLKEYLOGFILE), from `--keylog` files and pcapng Decryption Secrets
//! Blocks, indexed by ClientHello random.

use std::collections::HashMap;
use std::sync::Arc;

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

/// Flows keep the key log as it was when they started (an `Arc`), and a pcapng file can
/// carry a Decryption Secrets Block before every session: adding one must not copy the
/// secrets read so far, or such a file costs time quadratic in its sessions. So each
/// addition is a map of its own, shared between the copies; a copy costs a pointer per
/// addition, and a lookup merges the additions in order.
#[derive(Clone, Default)]
pub struct KeyLog {
    additions: Vec<Arc<HashMap<[u8; 32], Secrets>>>,
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
            .field("additions", &self.additions.len())
            .field("bad_lines", &self.bad_lines)
            .finish()
    }
}

impl KeyLog {
    pub fn is_empty(&self) -> bool {
        self.additions.iter().all(|a| a.is_empty())
    }

    /// The secrets for this client random, a later line overriding an earlier one
    /// secret by secret, as if the key logs had been read into one map.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        let mut found: Option<Secrets> = None;
        for s in self.additions.iter().filter_map(|a| a.get(client_random)) {
            let f = found.get_or_insert_with(Secrets::default);
            for (into, from) in [
                (&mut f.client_handshake, &s.client_handshake),
                (&mut f.server_handshake, &s.server_handshake),
                (&mut f.client_traffic_0, &s.client_traffic_0),
                (&mut f.server_traffic_0, &s.server_traffic_0),
                (&mut f.master, &s.master),
            ] {
                if from.is_some() {
                    into.clone_from(from);
                }
            }
        }
        found
    }

    /// Add the lines of an NSS key log. Unknown labels (EXPORTER_SECRET, early traffic)
    /// are ignored; malformed lines are counted, never fatal.
    pub fn add_text(&mut self, text: &str) {
        let mut map: HashMap<[u8; 32], Secrets> = HashMap::new();
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
            let e = map.entry(random).or_default();
            match label {
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => e.client_handshake = Some(secret),
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => e.server_handshake = Some(secret),
                "CLIENT_TRAFFIC_SECRET_0" => e.client_traffic_0 = Some(secret),
                "SERVER_TRAFFIC_SECRET_0" => e.server_traffic_0 = Some(secret),
                "CLIENT_RANDOM" if secret.len() == 48 => e.master = Some(secret),
                _ => {}
            }
        }
        if !map.is_empty() {
            self.additions.push(Arc::new(map));
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

    #[test]
    fn later_additions_override_secret_by_secret_and_copies_keep_their_view() {
        let r = "cd".repeat(32);
        let mut k = KeyLog::default();
        k.add_text(&format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n",
            "01".repeat(32),
            "02".repeat(32)
        ));
        let before = k.clone();
        k.add_text(&format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\nCLIENT_TRAFFIC_SECRET_0 {r} {}\n",
            "03".repeat(32),
            "04".repeat(32)
        ));
        let s = k.get(&[0xcd; 32]).unwrap();
        assert_eq!(s.client_handshake.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(s.server_handshake.as_deref(), Some(&[3u8; 32][..]));
        assert_eq!(s.client_traffic_0.as_deref(), Some(&[4u8; 32][..]));
        // A flow that took its copy before the second block sees only the first.
        let old = before.get(&[0xcd; 32]).unwrap();
        assert_eq!(old.server_handshake.as_deref(), Some(&[2u8; 32][..]));
        assert!(old.client_traffic_0.is_none());
        assert!(k.get(&[0; 32]).is_none());
    }
}
