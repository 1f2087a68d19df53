//! Proxy preambles: the plaintext exchange before TLS on a connection to a proxy — HTTP
//! `CONNECT host:port` (kubectl and client-go with `HTTPS_PROXY=http://…`, curl, openssl
//! `-proxy`), SOCKS5 (RFC 1928, with RFC 1929 username/password) and SOCKS4/4a. Once the
//! proxy says the tunnel is up, the rest of each direction is the TLS between the client
//! and the target the preamble named; the preamble's bytes never reach the TLS parser.

use serde::Serialize;

/// Preamble bytes kept per direction at most (headers of a CONNECT exchange are a few
/// hundred bytes).
const MAX_PREAMBLE: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    HttpConnect,
    Socks5,
    Socks4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The proxy opened the tunnel; TLS follows.
    Established,
    /// The proxy refused (a non-2xx status, a SOCKS error reply).
    Refused,
    /// The exchange was not seen to its end.
    Incomplete,
}

/// What the preamble said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyHop {
    pub protocol: Protocol,
    /// `host:port` as the client asked for it.
    pub target: Option<String>,
    pub target_port: Option<u16>,
    pub outcome: Outcome,
    /// The proxy's answer: the HTTP status line, or the SOCKS reply code.
    pub reply: Option<String>,
}

/// The protocol a client's first bytes start, if any.
pub fn detect(first: &[u8]) -> Option<Protocol> {
    if first.starts_with(b"CONNECT ") {
        Some(Protocol::HttpConnect)
    } else if first.len() >= 3
        && first[0] == 5
        && (1..=8).contains(&first[1])
        && first.len() == 2 + usize::from(first[1])
    {
        Some(Protocol::Socks5)
    } else if first.len() >= 9 && first[0] == 4 && first[1] == 1 && first.ends_with(&[0]) {
        Some(Protocol::Socks4)
    } else {
        None
    }
}

/// The target port a client's first bytes name, when they name it there (CONNECT,
/// SOCKS4); SOCKS5 names it only in its request, after the greeting.
pub fn early_target_port(first: &[u8]) -> Option<u16> {
    match detect(first)? {
        Protocol::HttpConnect => connect_target(first).and_then(|(_, p)| p),
        Protocol::Socks4 => Some(u16::from_be_bytes([first[2], first[3]])),
        Protocol::Socks5 => None,
    }
}

/// A connection's preamble, if its first bytes start one.
#[derive(Debug, Default)]
pub struct Watch {
    checked: bool,
    pub active: Option<Preamble>,
}

impl Watch {
    /// Look at the connection's first data: a client opening a proxy exchange.
    pub fn first_data(&mut self, d: usize, bytes: &[u8]) {
        if !self.checked {
            self.checked = true;
            self.active = detect(bytes).map(|p| Preamble::new(p, d));
        }
    }

    /// The exchange still lasts: bytes belong to it, not to TLS.
    pub fn ongoing(&mut self) -> Option<&mut Preamble> {
        self.active.as_mut().filter(|p| !p.is_over())
    }

    pub fn hop(&self) -> Option<&ProxyHop> {
        self.active.as_ref().map(|p| &p.hop)
    }
}

/// The preamble of one connection, consumed byte by byte from both directions.
#[derive(Debug)]
pub struct Preamble {
    client: usize,
    buf: [Vec<u8>; 2],
    /// Where each direction's preamble ends in its buffer, once known.
    ends: [Option<usize>; 2],
    pub hop: ProxyHop,
    done: bool,
}

impl Preamble {
    pub fn new(protocol: Protocol, client: usize) -> Preamble {
        Preamble {
            client,
            buf: [Vec::new(), Vec::new()],
            ends: [None, None],
            hop: ProxyHop {
                protocol,
                target: None,
                target_port: None,
                outcome: Outcome::Incomplete,
                reply: None,
            },
            done: false,
        }
    }

    /// The exchange is over (the proxy answered, or it was not a proxy exchange after
    /// all): every later byte goes straight to TLS.
    pub fn is_over(&self) -> bool {
        self.done
    }

    /// Take bytes of direction `d` while the exchange lasts.
    pub fn feed(&mut self, d: usize, bytes: &[u8]) {
        if self.done {
            return;
        }
        let room = MAX_PREAMBLE.saturating_sub(self.buf[d].len());
        self.buf[d].extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.ends[d].is_none() {
            self.ends[d] = match self.hop.protocol {
                Protocol::HttpConnect => self.http(d),
                Protocol::Socks5 => self.socks5(d),
                Protocol::Socks4 => self.socks4(d),
            };
        }
        if self.buf[d].len() >= MAX_PREAMBLE {
            self.done = true; // not a proxy exchange after all
        }
    }

    /// Once over: what each direction sent after its preamble (a client may send its
    /// ClientHello before the proxy's answer is captured), for the TLS parser.
    pub fn take_pending(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for d in 0..2 {
            if let Some(end) = self.ends[d] {
                let rest = self.buf[d].split_off(end.min(self.buf[d].len()));
                if !rest.is_empty() {
                    out.push((d, rest));
                }
            }
            self.buf[d] = Vec::new();
        }
        out
    }

    /// Gaps end the preamble: its bytes are missing, the rest cannot be placed.
    pub fn on_gap(&mut self) {
        self.done = true;
    }

    /// HTTP: the client's request ends with an empty line; the proxy's answer too, and
    /// its status decides. Returns the preamble length of direction `d` once known.
    fn http(&mut self, d: usize) -> Option<usize> {
        let end = find(&self.buf[d], b"\r\n\r\n")? + 4;
        if d == self.client {
            if self.hop.target.is_none() {
                let (target, port) = connect_target(&self.buf[d])?;
                self.hop.target = Some(target);
                self.hop.target_port = port;
            }
            return Some(end);
        }
        let line = self.buf[d].split(|b| *b == b'\r').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line).into_owned();
        let ok = line
            .split_whitespace()
            .nth(1)
            .is_some_and(|c| c.starts_with('2'));
        self.hop.outcome = if ok {
            Outcome::Established
        } else {
            Outcome::Refused
        };
        self.hop.reply = Some(line);
        self.done = true;
        Some(end)
    }

    /// SOCKS5: greeting and choice; optional RFC 1929 sub-negotiation; request and reply.
    fn socks5(&mut self, d: usize) -> Option<usize> {
        if d == self.client {
            let b = &self.buf[d];
            let mut at = 2 + usize::from(*b.get(1)?);
            if b.get(at) == Some(&1) {
                // username/password: 1, ulen, user, plen, pass
                let ulen = usize::from(*b.get(at + 1)?);
                let plen = usize::from(*b.get(at + 2 + ulen)?);
                at += 3 + ulen + plen;
            }
            let (target, port, len) = socks5_address(b.get(at + 3..)?)?;
            self.hop.target = Some(target);
            self.hop.target_port = Some(port);
            return Some(at + 3 + len);
        }
        let b = &self.buf[d];
        let mut at = 2; // 05, method
        if b.get(1) == Some(&2) {
            at += 2; // 01, status of the sub-negotiation
        }
        let rep = *b.get(at + 1)?;
        let (_, _, len) = socks5_address(b.get(at + 3..)?)?;
        self.hop.outcome = if rep == 0 {
            Outcome::Established
        } else {
            Outcome::Refused
        };
        self.hop.reply = Some(format!("SOCKS5 reply {rep}"));
        self.done = true;
        Some(at + 3 + len)
    }

    /// SOCKS4/4a: `04 01 port ip user\0 [host\0]`; reply `00 5A port ip` (8 bytes).
    fn socks4(&mut self, d: usize) -> Option<usize> {
        let b = &self.buf[d];
        if d == self.client {
            let user_end = 8 + b.get(8..)?.iter().position(|x| *x == 0)? + 1;
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = &b[4..8];
            let (host, end) = if ip[..3] == [0, 0, 0] && ip[3] != 0 {
                let host_end = user_end + b.get(user_end..)?.iter().position(|x| *x == 0)? + 1;
                (
                    String::from_utf8_lossy(&b[user_end..host_end - 1]).into_owned(),
                    host_end,
                )
            } else {
                (format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]), user_end)
            };
            self.hop.target = Some(format!("{host}:{port}"));
            self.hop.target_port = Some(port);
            return Some(end);
        }
        let code = *b.get(1)?;
        b.get(7)?;
        self.hop.outcome = if code == 0x5a {
            Outcome::Established
        } else {
            Outcome::Refused
        };
        self.hop.reply = Some(format!("SOCKS4 reply {code:#04x}"));
        self.done = true;
        Some(8)
    }
}

/// `CONNECT host:port HTTP/1.1` → ("host:port", port).
fn connect_target(b: &[u8]) -> Option<(String, Option<u16>)> {
    let line = b.split(|x| *x == b'\r' || *x == b'\n').next()?;
    let target = String::from_utf8_lossy(line.split(|x| *x == b' ').nth(1)?).into_owned();
    let port = target.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    Some((target, port))
}

/// A SOCKS5 address (`atyp` then IPv4, a length-prefixed name, or IPv6) and port, and
/// the bytes it took.
fn socks5_address(b: &[u8]) -> Option<(String, u16, usize)> {
    let (host, len) = match *b.first()? {
        1 => {
            let a = b.get(1..5)?;
            (format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]), 5)
        }
        3 => {
            let n = usize::from(*b.get(1)?);
            (
                String::from_utf8_lossy(b.get(2..2 + n)?).into_owned(),
                2 + n,
            )
        }
        4 => {
            let a: [u8; 16] = b.get(1..17)?.try_into().ok()?;
            (format!("[{}]", std::net::Ipv6Addr::from(a)), 17)
        }
        _ => return None,
    };
    let p = b.get(len..len + 2)?;
    Some((
        format!("{host}:{}", u16::from_be_bytes([p[0], p[1]])),
        u16::from_be_bytes([p[0], p[1]]),
        len + 2,
    ))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_connect_then_tls() {
        let req = b"CONNECT api.example:6443 HTTP/1.1\r\nHost: api.example:6443\r\n\r\n";
        assert_eq!(detect(req), Some(Protocol::HttpConnect));
        assert_eq!(early_target_port(req), Some(6443));
        let mut p = Preamble::new(Protocol::HttpConnect, 0);
        p.feed(0, &req[..10]);
        // The client's ClientHello, sent before the proxy's answer is captured.
        p.feed(0, &[&req[10..], &[0x16, 3, 1][..]].concat());
        assert!(!p.is_over());
        p.feed(
            1,
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03",
        );
        assert!(p.is_over());
        assert_eq!(
            p.take_pending(),
            vec![(0, vec![0x16, 3, 1]), (1, vec![0x16, 3, 3])]
        );
        assert_eq!(p.hop.outcome, Outcome::Established);
        assert_eq!(p.hop.target.as_deref(), Some("api.example:6443"));
    }

    #[test]
    fn socks5_with_a_name_and_a_refusal() {
        let mut p = Preamble::new(Protocol::Socks5, 0);
        assert_eq!(detect(&[5, 1, 0]), Some(Protocol::Socks5));
        p.feed(0, &[5, 1, 0]);
        p.feed(1, &[5, 0]);
        let mut req = vec![5, 1, 0, 3, 4];
        req.extend_from_slice(b"node");
        req.extend_from_slice(&10250u16.to_be_bytes());
        p.feed(0, &req);
        assert_eq!(p.hop.target.as_deref(), Some("node:10250"));
        p.feed(1, &[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.hop.outcome, Outcome::Refused);
    }

    #[test]
    fn truncated_or_garbage_preambles_never_panic() {
        for proto in [Protocol::HttpConnect, Protocol::Socks5, Protocol::Socks4] {
            for n in 0..40 {
                let junk: Vec<u8> = (0..n).map(|i| (i * 53 + 7) as u8).collect();
                let mut p = Preamble::new(proto, 0);
                p.feed(0, &junk);
                p.feed(1, &junk);
                p.feed(0, &junk);
            }
        }
    }
}
