//! Link, IP and TCP decoding: from a captured frame to a borrowed TCP segment view.
//!
//! etherparse's lax slicer does the IP and TCP work (it keeps the payload of frames cut by
//! the snaplen and walks IPv6 extension headers); this module adds the link layers it has
//! no entry point for (SLL2, BSD NULL/LOOP, raw IP), opens overlays and tunnels ([`tunnel`]:
//! VXLAN, Geneve, GRE, ERSPAN, IP-in-IP, any depth up to a bound), and flattens the result
//! into the few fields reassembly needs. Nothing here allocates.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TcpHeaderSlice, TransportSlice};

pub mod linktype {
    //! LINKTYPE_* values (tcpdump.org/linktypes.html) that certwire decodes.
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const RAW_OPENBSD: u16 = 12;
    pub const RAW: u16 = 101;
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;

    /// Name as tcpdump/pcap_datalink_val_to_name prints it, for reports.
    pub fn name(lt: u16) -> String {
        match lt {
            NULL => "NULL".into(),
            ETHERNET => "EN10MB".into(),
            RAW_OPENBSD | RAW => "RAW".into(),
            LOOP => "LOOP".into(),
            LINUX_SLL => "LINUX_SLL".into(),
            IPV4 => "IPV4".into(),
            IPV6 => "IPV6".into(),
            LINUX_SLL2 => "LINUX_SLL2".into(),
            other => format!("LINKTYPE_{other}"),
        }
    }
}

/// The TCP facts of one frame.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Payload bytes present in the capture (fewer than sent if the snaplen cut the frame).
    pub payload: &'a [u8],
    /// Payload bytes the sender actually sent, from the IP length fields; larger than
    /// `payload.len()` when the frame was truncated by the snaplen.
    pub payload_len: u32,
    /// The outermost tunnel the segment was carried in, if any.
    pub tunnel: Option<tunnel::Encap>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// Why a frame yielded no TCP segment. Only `UnsupportedLink` is worth a warning; the rest is
/// ordinary traffic (ARP, UDP, fragments) that certwire does not look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    UnsupportedLink,
    NotTcp,
    Malformed,
    /// Tunnel traffic certwire cannot open (WireGuard, IPsec ESP).
    Encrypted(&'static str),
    /// A tunnel header certwire does not decode, or tunnels nested deeper than the bound.
    UnsupportedEncapsulation(&'static str),
    /// An ICMP destination unreachable about a TCP segment: the connection it answers.
    Unreachable(Unreachable),
}

/// An ICMP (v4 type 3, v6 type 1) "destination unreachable" quoting a TCP segment's
/// headers: `src`/`dst` are the quoted segment's, i.e. the connection attempt it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// The ICMP code (v4: 1 host, 3 port, 13 administratively prohibited, ...).
    pub code: u8,
    pub v6: bool,
}

impl<'a> TcpSegment<'a> {
    fn new(
        src: IpAddr,
        dst: IpAddr,
        tcp: &TcpHeaderSlice<'_>,
        payload: &'a [u8],
        payload_len: u32,
    ) -> Self {
        TcpSegment {
            src,
            dst,
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: TcpFlags {
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            },
            payload,
            payload_len,
            tunnel: None,
        }
    }
}

/// Decode a frame of link type `linktype` down to TCP.
pub fn decode(linktype: u16, frame: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    if let Some(seg) = fast::decode(linktype, frame) {
        return Ok(seg);
    }
    decode_lax(linktype, frame)
}

/// The general path: every layout etherparse's lax slicer knows, truncated frames included.
fn decode_lax(linktype: u16, frame: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let sliced = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Malformed)?,
        linktype::LINUX_SLL => {
            // struct sll_header: 16 bytes, protocol (EtherType) in the last two.
            let (hdr, rest) = split(frame, 16)?;
            LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([hdr[14], hdr[15]])),
                rest,
            )
        }
        linktype::LINUX_SLL2 => {
            // struct sll2_header: 20 bytes, protocol (EtherType) in the first two.
            let (hdr, rest) = split(frame, 20)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([hdr[0], hdr[1]])), rest)
        }
        // The 4-byte address family is in the capturing host's byte order (NULL) or network
        // order (LOOP), and its value for IPv6 differs between systems; the IP version nibble
        // says the same thing without those ambiguities.
        linktype::NULL | linktype::LOOP => {
            let (_, rest) = split(frame, 4)?;
            LaxSlicedPacket::from_ip(rest).map_err(|_| Skip::Malformed)?
        }
        linktype::RAW | linktype::RAW_OPENBSD | linktype::IPV4 | linktype::IPV6 => {
            LaxSlicedPacket::from_ip(frame).map_err(|_| Skip::Malformed)?
        }
        _ => return Err(Skip::UnsupportedLink),
    };
    from_sliced(&sliced, 0)
}

fn split(frame: &[u8], n: usize) -> Result<(&[u8], &[u8]), Skip> {
    if frame.len() < n {
        Err(Skip::Malformed)
    } else {
        Ok(frame.split_at(n))
    }
}

fn from_sliced<'a>(p: &LaxSlicedPacket<'a>, depth: u8) -> Result<TcpSegment<'a>, Skip> {
    let (src, dst, payload) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                v4.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                v6.payload(),
            )
        }
        _ => return Err(Skip::NotTcp),
    };
    match &p.transport {
        Some(TransportSlice::Udp(udp)) => {
            match tunnel::udp(udp.source_port(), udp.destination_port(), udp.payload()) {
                Ok(Some(opened)) => open(opened, src, dst, depth),
                Ok(None) => Err(Skip::NotTcp),
                Err(closed) => Err(closed.into()),
            }
        }
        Some(TransportSlice::Icmpv4(icmp)) if icmp.type_u8() == 3 => {
            unreachable(icmp.payload(), icmp.code_u8(), false)
        }
        Some(TransportSlice::Icmpv6(icmp)) if icmp.type_u8() == 1 => {
            unreachable(icmp.payload(), icmp.code_u8(), true)
        }
        Some(TransportSlice::Tcp(tcp)) => {
            let hdr_len = tcp.header_slice().len() as u32;
            // Lax slicing cut the IP payload to the bytes present; the IP header still says
            // how many were sent.
            let payload_len = if payload.incomplete {
                match payload.len_source {
                    etherparse::LenSource::Slice => tcp.payload().len() as u32,
                    _ => expected_ip_payload(p).saturating_sub(hdr_len),
                }
            } else {
                tcp.payload().len() as u32
            };
            let header =
                TcpHeaderSlice::from_slice(tcp.header_slice()).map_err(|_| Skip::Malformed)?;
            Ok(TcpSegment::new(
                src,
                dst,
                &header,
                tcp.payload(),
                payload_len.max(tcp.payload().len() as u32),
            ))
        }
        None if !payload.fragmented => match tunnel::ip(payload.ip_number.0, payload.payload) {
            Ok(Some(opened)) => open(opened, src, dst, depth),
            Ok(None) => Err(Skip::NotTcp),
            Err(closed) => Err(closed.into()),
        },
        _ => Err(Skip::NotTcp),
    }
}

/// The quoted packet of an ICMP error: its IP header and the first 8 bytes of TCP.
fn unreachable<'a>(quoted: &[u8], code: u8, v6: bool) -> Result<TcpSegment<'a>, Skip> {
    let p = LaxSlicedPacket::from_ip(quoted).map_err(|_| Skip::NotTcp)?;
    let (src, dst, proto, transport) = match &p.net {
        Some(LaxNetSlice::Ipv4(h)) => (
            IpAddr::V4(h.header().source_addr()),
            IpAddr::V4(h.header().destination_addr()),
            h.payload().ip_number,
            h.payload().payload,
        ),
        Some(LaxNetSlice::Ipv6(h)) => (
            IpAddr::V6(h.header().source_addr()),
            IpAddr::V6(h.header().destination_addr()),
            h.payload().ip_number,
            h.payload().payload,
        ),
        _ => return Err(Skip::NotTcp),
    };
    if proto != etherparse::IpNumber::TCP || transport.len() < 4 {
        return Err(Skip::NotTcp);
    }
    Err(Skip::Unreachable(Unreachable {
        src,
        dst,
        src_port: u16::from_be_bytes([transport[0], transport[1]]),
        dst_port: u16::from_be_bytes([transport[2], transport[3]]),
        code,
        v6,
    }))
}

impl From<tunnel::Closed> for Skip {
    fn from(c: tunnel::Closed) -> Skip {
        match c {
            tunnel::Closed::Encrypted(kind) => Skip::Encrypted(kind),
            tunnel::Closed::Unsupported(kind) => Skip::UnsupportedEncapsulation(kind),
        }
    }
}

/// Decode what a tunnel carries; the segment remembers the outermost tunnel.
fn open<'a>(
    opened: tunnel::Opened<'a>,
    outer_src: IpAddr,
    outer_dst: IpAddr,
    depth: u8,
) -> Result<TcpSegment<'a>, Skip> {
    if depth >= tunnel::MAX_DEPTH {
        return Err(Skip::UnsupportedEncapsulation("nested deeper than 8"));
    }
    let inner = match opened.inner {
        tunnel::Inner::Ethernet(frame) => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Malformed)?
        }
        tunnel::Inner::Ip(packet) => {
            LaxSlicedPacket::from_ip(packet).map_err(|_| Skip::Malformed)?
        }
    };
    let mut seg = from_sliced(&inner, depth + 1)?;
    let layers = seg.tunnel.map_or(1, |t| t.layers.saturating_add(1));
    seg.tunnel = Some(tunnel::Encap {
        kind: opened.kind,
        id: opened.id,
        outer_src,
        outer_dst,
        layers,
    });
    Ok(seg)
}

fn expected_ip_payload(p: &LaxSlicedPacket<'_>) -> u32 {
    match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            u32::from(h.total_len()).saturating_sub(u32::from(h.ihl()) * 4)
        }
        Some(LaxNetSlice::Ipv6(v6)) => u32::from(v6.header().payload_length())
            .saturating_sub(v6.extensions().slice().len() as u32),
        _ => 0,
    }
}

mod fast;
#[cfg(test)]
mod tests;
pub mod tunnel;
