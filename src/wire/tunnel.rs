//! Overlays and tunnels a node's capture holds, opened down to the inner packet: what the
//! CNI wraps pod and node traffic in (VXLAN, Geneve, IP-in-IP), what taps and port mirrors
//! deliver (GRE, ERSPAN II/III), and what cannot be opened (WireGuard, IPsec ESP), which
//! is counted so that the report can say handshakes may be inside it.
//!
//! Header layouts: VXLAN RFC 7348 (UDP 4789, and 8472, the Linux default that Flannel and
//! Cilium use); Geneve RFC 8926 (UDP 6081); GRE RFC 2784/2890 (IP protocol 47, with the
//! checksum, key and sequence options); ERSPAN type II and III as the Linux `erspan` driver
//! writes them (GRE protocol 0x88be / 0x22eb); IP-in-IP RFC 2003 / 6in4 RFC 4213.

use std::net::IpAddr;

use serde::Serialize;

/// Tunnel layers opened at most, outermost first; deeper frames are counted as
/// unsupported (a loop of nested headers is not followed forever).
pub const MAX_DEPTH: u8 = 8;

pub const VXLAN_PORTS: [u16; 2] = [4789, 8472];
pub const GENEVE_PORT: u16 = 6081;
const WIREGUARD_PORT: u16 = 51820;
const IPSEC_NAT_T_PORT: u16 = 4500;

/// The outermost tunnel a segment came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Encap {
    /// `vxlan`, `geneve`, `gre`, `erspan-ii`, `erspan-iii`, `ipip`.
    pub kind: &'static str,
    /// VNI (VXLAN, Geneve), key (GRE) or session id (ERSPAN), when the header has one.
    pub id: Option<u32>,
    /// The outer addresses of this frame (sender, receiver).
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    /// Tunnel layers around the segment (2 for IP-in-IP in IP-in-IP).
    pub layers: u8,
}

/// What the tunnel header says comes next.
pub enum Inner<'a> {
    Ethernet(&'a [u8]),
    Ip(&'a [u8]),
}

/// A tunnel this frame is in, opened: its kind, id and the inner bytes.
pub struct Opened<'a> {
    pub kind: &'static str,
    pub id: Option<u32>,
    pub inner: Inner<'a>,
}

/// Why a tunnel frame gave no inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Encrypted (WireGuard, ESP): handshakes may be inside, certwire cannot see them.
    Encrypted(&'static str),
    /// A tunnel header certwire does not decode (an unknown GRE or Geneve protocol, a
    /// malformed header).
    Unsupported(&'static str),
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) << 16 | u32::from(s[1]) << 8 | u32::from(s[2]))
}

/// The UDP payload sent to `dst_port` (or from `src_port`), opened if it is a tunnel.
/// `Ok(None)`: ordinary UDP.
pub fn udp<'a>(
    src_port: u16,
    dst_port: u16,
    payload: &'a [u8],
) -> Result<Option<Opened<'a>>, Closed> {
    let port = |p: u16| src_port == p || dst_port == p;
    if VXLAN_PORTS.contains(&dst_port) {
        return vxlan(payload).map(Some);
    }
    if dst_port == GENEVE_PORT {
        return geneve(payload).map(Some);
    }
    if port(WIREGUARD_PORT) && wireguard_shape(payload) {
        return Err(Closed::Encrypted("wireguard"));
    }
    if port(IPSEC_NAT_T_PORT) && payload.len() > 8 && payload[..4] != [0, 0, 0, 0] {
        // Non-ESP marker (four zero bytes) is IKE; anything else on 4500 is ESP (RFC 3948).
        return Err(Closed::Encrypted("ipsec-esp"));
    }
    Ok(None)
}

/// WireGuard messages start with a type byte 1–4 and three zero bytes.
fn wireguard_shape(p: &[u8]) -> bool {
    p.len() >= 32 && (1..=4).contains(&p[0]) && p[1..4] == [0, 0, 0]
}

/// RFC 7348: flags (I bit 0x08 set), 3 reserved, VNI (24 bits), 1 reserved; then Ethernet.
fn vxlan(p: &[u8]) -> Result<Opened<'_>, Closed> {
    if p.len() < 8 + 14 || p[0] & 0x08 == 0 {
        return Err(Closed::Unsupported("vxlan"));
    }
    Ok(Opened {
        kind: "vxlan",
        id: be24(p, 4),
        inner: Inner::Ethernet(&p[8..]),
    })
}

/// RFC 8926: version (2 bits, 0) and option length (6 bits, in 4-byte words), flags,
/// protocol type, VNI (24 bits), reserved; options; then the protocol's payload.
fn geneve(p: &[u8]) -> Result<Opened<'_>, Closed> {
    let bad = Closed::Unsupported("geneve");
    if p.len() < 8 || p[0] >> 6 != 0 {
        return Err(bad);
    }
    let start = 8 + usize::from(p[0] & 0x3f) * 4;
    let payload = p.get(start..).ok_or(bad)?;
    let inner = by_ethertype(be16(p, 2).ok_or(bad)?, payload).ok_or(bad)?;
    Ok(Opened {
        kind: "geneve",
        id: be24(p, 4),
        inner,
    })
}

fn by_ethertype(t: u16, payload: &[u8]) -> Option<Inner<'_>> {
    match t {
        0x6558 => Some(Inner::Ethernet(payload)),
        0x0800 | 0x86dd => Some(Inner::Ip(payload)),
        _ => None,
    }
}

/// The payload of an IP packet of protocol `proto`, opened if it is a tunnel.
/// `Ok(None)`: not a tunnel protocol.
pub fn ip(proto: u8, payload: &[u8]) -> Result<Option<Opened<'_>>, Closed> {
    match proto {
        4 | 41 => Ok(Some(Opened {
            kind: "ipip",
            id: None,
            inner: Inner::Ip(payload),
        })),
        47 => gre(payload).map(Some),
        50 => Err(Closed::Encrypted("ipsec-esp")),
        _ => Ok(None),
    }
}

/// RFC 2784/2890: flags and version, protocol type; checksum + reserved (C), key (K),
/// sequence number (S), 4 bytes each, in that order.
fn gre(p: &[u8]) -> Result<Opened<'_>, Closed> {
    let bad = Closed::Unsupported("gre");
    let flags = be16(p, 0).ok_or(bad)?;
    if flags & 0x0007 != 0 {
        return Err(bad); // version 1 is PPTP's enhanced GRE
    }
    let proto = be16(p, 2).ok_or(bad)?;
    let mut at = 4;
    if flags & 0x8000 != 0 {
        at += 4;
    }
    let key = if flags & 0x2000 != 0 {
        let k = p.get(at..at + 4).ok_or(bad)?;
        at += 4;
        Some(u32::from_be_bytes(k.try_into().map_err(|_| bad)?))
    } else {
        None
    };
    if flags & 0x1000 != 0 {
        at += 4;
    }
    let payload = p.get(at..).ok_or(bad)?;
    match proto {
        0x88be => erspan_ii(payload),
        0x22eb => erspan_iii(payload),
        t => Ok(Opened {
            kind: "gre",
            id: key,
            inner: by_ethertype(t, payload).ok_or(bad)?,
        }),
    }
}

/// ERSPAN type II: version (4 bits, 1), VLAN, COS/En/T, session id (10 bits), reserved,
/// index: 8 bytes, then the mirrored Ethernet frame.
fn erspan_ii(p: &[u8]) -> Result<Opened<'_>, Closed> {
    let bad = Closed::Unsupported("erspan-ii");
    if p.len() < 8 || p[0] >> 4 != 1 {
        return Err(bad);
    }
    Ok(Opened {
        kind: "erspan-ii",
        id: be16(p, 2).map(|s| u32::from(s & 0x03ff)),
        inner: Inner::Ethernet(&p[8..]),
    })
}

/// ERSPAN type III: version (2), VLAN, COS/BSO/T, session id; timestamp; SGT, P/FT/HW ID/
/// D/Gra/O: 12 bytes, then an 8-byte platform subheader when O is set.
fn erspan_iii(p: &[u8]) -> Result<Opened<'_>, Closed> {
    let bad = Closed::Unsupported("erspan-iii");
    if p.len() < 12 || p[0] >> 4 != 2 {
        return Err(bad);
    }
    let optional = p[11] & 0x01 != 0;
    let start = if optional { 20 } else { 12 };
    Ok(Opened {
        kind: "erspan-iii",
        id: be16(p, 2).map(|s| u32::from(s & 0x03ff)),
        inner: Inner::Ethernet(p.get(start..).ok_or(bad)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_or_garbage_headers_are_unsupported_never_a_panic() {
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let _ = udp(1, 4789, &junk);
            let _ = udp(1, 6081, &junk);
            for proto in [4, 41, 47, 50] {
                let _ = ip(proto, &junk);
            }
        }
        assert!(matches!(
            udp(1, 4789, &[0; 4]),
            Err(Closed::Unsupported("vxlan"))
        ));
        assert!(matches!(ip(47, &[0, 0]), Err(Closed::Unsupported("gre"))));
    }

    #[test]
    fn headers_are_read_as_the_rfcs_lay_them_out() {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&[0u8; 14]);
        let o = udp(40000, 4789, &vx).unwrap().unwrap();
        assert_eq!((o.kind, o.id), ("vxlan", Some(42)));
        let mut gv = vec![0x01, 0, 0x65, 0x58, 0, 0x13, 0x88, 0, 9, 9, 9, 9];
        gv.extend_from_slice(&[0u8; 14]);
        let o = udp(1, 6081, &gv).unwrap().unwrap();
        assert_eq!((o.kind, o.id), ("geneve", Some(5000)));
        assert!(matches!(o.inner, Inner::Ethernet(b) if b.len() == 14));
        let gre_key = [0x20, 0, 0x08, 0, 0, 0, 0, 7, 0x45];
        let o = ip(47, &gre_key).unwrap().unwrap();
        assert_eq!((o.kind, o.id), ("gre", Some(7)));
        assert!(matches!(o.inner, Inner::Ip(b) if b == [0x45]));
        let mut er2 = vec![0, 0, 0x88, 0xbe, 0x10, 0, 0x00, 0x64, 0, 0, 0, 0];
        er2.extend_from_slice(&[0u8; 14]);
        let o = ip(47, &er2).unwrap().unwrap();
        assert_eq!((o.kind, o.id), ("erspan-ii", Some(100)));
        assert!(matches!(
            ip(50, &[1, 2, 3]),
            Err(Closed::Encrypted("ipsec-esp"))
        ));
        let wg = [&[1u8, 0, 0, 0][..], &[0u8; 40]].concat();
        assert!(matches!(
            udp(51820, 5555, &wg),
            Err(Closed::Encrypted("wireguard"))
        ));
    }
}
