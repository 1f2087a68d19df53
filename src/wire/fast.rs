//! The common case, decoded without building etherparse's `LaxSlicedPacket`.
//!
//! Nearly every frame of a Kubernetes capture is a whole, unfragmented IPv4 or IPv6 packet
//! carrying TCP right after the IP header. For those, etherparse's header slices (thin
//! borrowed views) give the same facts as the lax slicer, which builds and moves a
//! several-hundred-byte value per frame: that move alone was about 5 % of a whole run
//! (benches/README.md). Anything else (truncated frames, fragments, IPv6 extension headers,
//! IP-in-IP, stacked VLAN tags, malformed headers) returns `None` and takes the general path,
//! so this module decides nothing the general path would decide differently; a test checks
//! both paths agree on every frame of every sample capture.

use std::net::IpAddr;

use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};

use super::{linktype, TcpSegment};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;

pub(super) fn decode(lt: u16, frame: &[u8]) -> Option<TcpSegment<'_>> {
    let be16 = |at: usize| -> Option<u16> {
        let b = frame.get(at..at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    let ip_start = match lt {
        linktype::ETHERNET => match be16(12)? {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => 14,
            ETHERTYPE_VLAN => match be16(16)? {
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => 18,
                _ => return None,
            },
            _ => return None,
        },
        linktype::LINUX_SLL => ether_ip(be16(14)?, 16)?,
        linktype::LINUX_SLL2 => ether_ip(be16(0)?, 20)?,
        linktype::NULL | linktype::LOOP => 4,
        linktype::RAW | linktype::RAW_OPENBSD | linktype::IPV4 | linktype::IPV6 => 0,
        _ => return None,
    };
    let ip = frame.get(ip_start..)?;
    let (src, dst, transport) = match ip.first()? >> 4 {
        4 => {
            let h = Ipv4HeaderSlice::from_slice(ip).ok()?;
            let header_len = usize::from(h.ihl()) * 4;
            let total = usize::from(h.total_len());
            if h.protocol() != IpNumber::TCP
                || h.is_fragmenting_payload()
                || total < header_len
                || total > ip.len()
            {
                return None;
            }
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                &ip[header_len..total],
            )
        }
        6 => {
            let h = Ipv6HeaderSlice::from_slice(ip).ok()?;
            let total = 40 + usize::from(h.payload_length());
            // A zero payload length is a jumbogram or a segmentation-offload capture: the
            // general path knows what to do with both.
            if h.next_header() != IpNumber::TCP || total == 40 || total > ip.len() {
                return None;
            }
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                &ip[40..total],
            )
        }
        _ => return None,
    };
    let tcp = TcpHeaderSlice::from_slice(transport).ok()?;
    let payload = &transport[tcp.slice().len()..];
    Some(TcpSegment::new(
        src,
        dst,
        &tcp,
        payload,
        payload.len() as u32,
    ))
}

/// The IP header's offset after a link header carrying an EtherType, if it is IP.
fn ether_ip(ethertype: u16, at: usize) -> Option<usize> {
    matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(at)
}
