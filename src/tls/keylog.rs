//! NSS key log files (SSLKEYLOGFILE), from `--keylog` files and pcapng Decryption Secrets
//! Blocks, indexed by ClientHello random.

use std::collections::{HashMap, VecDeque};
use std::sync::RwLock;

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
    /// Where the secrets came from (a few at most: a key log, or both ends' processes).
    pub sources: Vec<KeySource>,
}

/// Where a connection's secrets came from, for the report (`key_sources`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A `--keylog` file.
    KeylogFile,
    /// A Decryption Secrets Block of the capture itself.
    Pcapng,
    /// The uprobe on Go's writeKeyLog in a running process.
    Process {
        pid: u32,
        command: String,
        binary: String,
    },
}

/// Sources remembered per session.
const MAX_SOURCES: usize = 4;

/// Sessions kept at most. A key log (or an endless stream of Decryption Secrets Blocks)
/// beyond this forgets its oldest sessions first: about 200 bytes each, so the store stays
/// under about 20 MB whatever the input.
pub const MAX_SESSIONS: usize = 100_000;

/// One store per analyzer, shared by every flow: a Decryption Secrets Block adds to it in
/// place (no copy per open flow, which made such blocks cost the square of their count),
/// and a flow looks its secrets up when it needs them, so a block that arrives after a
/// session's ClientHello still serves it.
#[derive(Default)]
pub struct KeyLog {
    store: RwLock<Store>,
}

#[derive(Default, Clone)]
struct Store {
    map: HashMap<[u8; 32], Secrets>,
    /// Client randoms in insertion order, to forget the oldest first.
    order: VecDeque<[u8; 32]>,
    /// Lines that were neither comments, blank, nor a known label with hex fields.
    bad_lines: usize,
    /// Lines that gave a secret.
    good_lines: usize,
    /// Sessions forgotten to stay under MAX_SESSIONS.
    evicted: u64,
    /// Secrets added, ever.
    generation: u64,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .field("client_traffic_0", &self.client_traffic_0.is_some())
            .field("server_traffic_0", &self.server_traffic_0.is_some())
            .field("master", &self.master.is_some())
            .field("sources", &self.sources)
            .finish()
    }
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLog")
            .field("sessions", &self.sessions())
            .field("bad_lines", &self.bad_lines())
            .finish()
    }
}

impl KeyLog {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        // A panic elsewhere while holding the lock leaves a store that is still whole.
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.read().map.is_empty()
    }

    pub fn sessions(&self) -> usize {
        self.read().map.len()
    }

    pub fn bad_lines(&self) -> usize {
        self.read().bad_lines
    }

    /// Lines that gave a secret, over everything added.
    pub fn good_lines(&self) -> usize {
        self.read().good_lines
    }

    pub fn evicted(&self) -> u64 {
        self.read().evicted
    }

    /// A copy with its own store, for an analyzer on another thread.
    pub fn snapshot(&self) -> KeyLog {
        KeyLog {
            store: RwLock::new(self.read().clone()),
        }
    }

    /// The secrets for this client random; a later line overrides an earlier one secret
    /// by secret.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        self.read().map.get(client_random).cloned()
    }

    /// Bumped by every secret added: a flow waiting for keys retries when it changes.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// One secret, as a process's probe reported it.
    pub fn add_secret(&self, label: &str, random: [u8; 32], secret: Vec<u8>, source: KeySource) {
        let mut store = self.write();
        store.good_lines += 1;
        store.set(label, random, secret, &source);
    }

    /// The NSS key log lines of one session: its handshake secrets, and with
    /// `application` its traffic secrets and TLS 1.2 master secret too. Used only to write
    /// the Decryption Secrets Block of a `--write` evidence file. `server_rejected`: the
    /// server ended the handshake with a fatal alert, which a TLS 1.3 server sends under
    /// its application traffic secret once its Finished is out: that one secret is
    /// written too, so the evidence shows the alert. It opens nothing else: a server that
    /// rejects the handshake sends no application data (the client's secret, which would
    /// open a request the client sent early, stays out).
    pub fn lines_for(&self, random: &[u8; 32], application: bool, server_rejected: bool) -> String {
        let Some(s) = self.get(random) else {
            return String::new();
        };
        let mut out = String::new();
        let r = hex(random);
        let mut line = |label: &str, v: &Option<Vec<u8>>| {
            if let Some(v) = v {
                out.push_str(&format!("{label} {r} {}\n", hex(v)));
            }
        };
        line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &s.client_handshake);
        line("SERVER_HANDSHAKE_TRAFFIC_SECRET", &s.server_handshake);
        if application {
            line("CLIENT_TRAFFIC_SECRET_0", &s.client_traffic_0);
        }
        if application || server_rejected {
            line("SERVER_TRAFFIC_SECRET_0", &s.server_traffic_0);
        }
        if application {
            line("CLIENT_RANDOM", &s.master);
        }
        out
    }

    /// Add the lines of an NSS key log. Unknown labels (EXPORTER_SECRET, early traffic)
    /// are ignored; malformed lines are counted, never fatal.
    pub fn add_text(&self, text: &str, source: KeySource) {
        let mut store = self.write();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some((label, random, secret)) => {
                    store.good_lines += 1;
                    store.set(label, random, secret, &source);
                }
                None => store.bad_lines += 1,
            }
        }
    }
}

impl Store {
    fn set(&mut self, label: &str, random: [u8; 32], secret: Vec<u8>, source: &KeySource) {
        self.generation += 1;
        if !self.map.contains_key(&random) {
            if self.map.len() >= MAX_SESSIONS {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                    self.evicted += 1;
                }
            }
            self.order.push_back(random);
        }
        let e = self.map.entry(random).or_default();
        match label {
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => e.client_handshake = Some(secret),
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => e.server_handshake = Some(secret),
            "CLIENT_TRAFFIC_SECRET_0" => e.client_traffic_0 = Some(secret),
            "SERVER_TRAFFIC_SECRET_0" => e.server_traffic_0 = Some(secret),
            "CLIENT_RANDOM" if secret.len() == 48 => e.master = Some(secret),
            _ => return,
        }
        if !e.sources.contains(source) && e.sources.len() < MAX_SOURCES {
            e.sources.push(source.clone());
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `LABEL <64 hex client random> <hex secret>`.
fn parse_line(line: &str) -> Option<(&str, [u8; 32], Vec<u8>)> {
    let mut parts = line.split_whitespace();
    let (label, random, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let random = <[u8; 32]>::try_from(unhex(random)?.as_slice()).ok()?;
    Some((label, random, unhex(secret)?))
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
        let k = KeyLog::default();
        k.add_text(&text, KeySource::KeylogFile);
        let s = k.get(&[0xab; 32]).unwrap();
        assert_eq!(s.server_handshake.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(s.master.as_deref(), Some(&[2u8; 48][..]));
        assert_eq!(k.bad_lines(), 2);
        assert_eq!(k.good_lines(), 3);
    }

    #[test]
    fn later_additions_override_secret_by_secret_and_reach_every_holder() {
        let r = "cd".repeat(32);
        let k = std::sync::Arc::new(KeyLog::default());
        k.add_text(
            &format!(
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n",
                "01".repeat(32),
                "02".repeat(32)
            ),
            KeySource::KeylogFile,
        );
        let flow_view = k.clone();
        let other_thread = k.snapshot();
        k.add_text(
            &format!(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\nCLIENT_TRAFFIC_SECRET_0 {r} {}\n",
                "03".repeat(32),
                "04".repeat(32)
            ),
            KeySource::Pcapng,
        );
        let s = flow_view.get(&[0xcd; 32]).unwrap();
        assert_eq!(s.client_handshake.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(s.server_handshake.as_deref(), Some(&[3u8; 32][..]));
        assert_eq!(s.client_traffic_0.as_deref(), Some(&[4u8; 32][..]));
        assert_eq!(s.sources, vec![KeySource::KeylogFile, KeySource::Pcapng]);
        // Only the handshake secrets are written unless application ones are asked for.
        let lines = k.lines_for(&[0xcd; 32], false, false);
        assert_eq!(lines.lines().count(), 2);
        assert!(
            lines.contains("SERVER_HANDSHAKE_TRAFFIC_SECRET")
                && !lines.contains("TRAFFIC_SECRET_0")
        );
        assert_eq!(k.lines_for(&[0xcd; 32], true, false).lines().count(), 3);
        // A rejected handshake: the server's application secret too (the alert is under
        // it), never the client's.
        k.add_text(
            &format!("SERVER_TRAFFIC_SECRET_0 {r} {}\n", "05".repeat(32)),
            KeySource::Pcapng,
        );
        let rejected = k.lines_for(&[0xcd; 32], false, true);
        assert!(rejected.contains("SERVER_TRAFFIC_SECRET_0"));
        assert!(!rejected.contains("CLIENT_TRAFFIC_SECRET_0"));
        assert_eq!(rejected.lines().count(), 3);
        // A snapshot for another thread keeps what it was given.
        let old = other_thread.get(&[0xcd; 32]).unwrap();
        assert_eq!(old.server_handshake.as_deref(), Some(&[2u8; 32][..]));
        assert!(k.get(&[0; 32]).is_none());
    }

    #[test]
    fn the_store_forgets_its_oldest_sessions_past_the_cap() {
        let k = KeyLog::default();
        let mut text = String::new();
        for i in 0..MAX_SESSIONS + 10 {
            text.push_str(&format!("CLIENT_RANDOM {:064x} {}\n", i, "02".repeat(48)));
        }
        k.add_text(&text, KeySource::KeylogFile);
        assert_eq!(k.sessions(), MAX_SESSIONS);
        assert_eq!(k.evicted(), 10);
        let mut first = [0u8; 32];
        first[31] = 0;
        assert!(k.get(&first).is_none(), "the oldest went first");
        let mut last = [0u8; 32];
        let n = (MAX_SESSIONS + 9) as u32;
        last[28..].copy_from_slice(&n.to_be_bytes());
        assert!(k.get(&last).is_some());
    }
}
