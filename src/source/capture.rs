//! Streaming pcap / pcapng reader on top of pcap-parser, with a bounded buffer.
//!
//! pcap-parser detects the format and byte order; this module adds what an analyzer needs
//! on top: per-interface link types and timestamp resolution for pcapng, packet numbering,
//! byte offsets for error messages, and the rule that a file cut off mid-record is a
//! warning (everything before the cut is kept), not an error.

use std::io::BufRead;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::{Packet, Timestamp};
use crate::error::InputError;

/// Initial reader buffer. Records larger than this grow it, up to [`MAX_RECORD`].
const INITIAL_BUFFER: usize = 1 << 20;
/// Largest single record accepted. tcpdump's default snaplen is 262144 bytes; a record
/// claiming far more than that is corruption, and refusing it keeps memory bounded.
const MAX_RECORD: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

/// What a source yields besides packets: pcapng Decryption Secrets Blocks carry TLS key
/// logs, which the TLS layer needs before the handshakes they decrypt.
pub enum Event<'a> {
    Packet(Packet<'a>),
    TlsKeyLog(&'a [u8]),
}

/// Facts about one input once it has been read (as far as it could be).
#[derive(Debug, Clone, Default)]
pub struct CaptureStats {
    pub format: Option<CaptureFormat>,
    pub nanosecond: bool,
    pub big_endian: bool,
    /// Link types seen (pcap: one; pcapng: one per interface), LINKTYPE_* values.
    pub link_types: Vec<u16>,
    pub packets: u64,
    /// Bytes of the (decompressed) capture consumed.
    pub bytes: u64,
    /// Set when the file ended in the middle of a record: the offset where that record began.
    pub truncated_at: Option<u64>,
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: u16,
    /// Units per second of this interface's timestamps.
    resolution: u64,
    offset_secs: i64,
}

/// Read every block of `reader`, calling `on_event` for each packet and key log.
///
/// Returns the statistics, or an error if the input is not a capture at all. A malformed
/// record in the middle is an error too, but everything before it has already been handed
/// to `on_event`, and `stats` (passed in so the caller keeps it either way) says how far
/// the read got.
pub fn read_capture<R: BufRead + Send>(
    name: &str,
    mut reader: R,
    stats: &mut CaptureStats,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<(), InputError> {
    let magic = match reader.fill_buf() {
        Ok(head) => head
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        Err(source) => {
            return Err(InputError::Read {
                input: name.to_string(),
                offset: 0,
                source,
            })
        }
    };
    let mut rdr = match pcap_parser::create_reader(INITIAL_BUFFER, reader) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return Err(InputError::Empty {
                input: name.to_string(),
            })
        }
        Err(PcapError::ReadError) => {
            return Err(InputError::Read {
                input: name.to_string(),
                offset: 0,
                source: std::io::Error::other("read failed"),
            })
        }
        Err(_) => {
            return Err(InputError::NotACapture {
                input: name.to_string(),
                magic,
            })
        }
    };
    let mut capacity = INITIAL_BUFFER;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy: Option<Interface> = None;
    let mut snaplen = 0u32;
    loop {
        let next = rdr.next();
        match next {
            Ok((size, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        stats.format = Some(CaptureFormat::Pcap);
                        stats.nanosecond = h.is_nanosecond_precision();
                        stats.big_endian =
                            h.magic_number == 0xd4c3_b2a1 || h.magic_number == 0x4d3c_b2a1;
                        let linktype = h.network.0 as u16;
                        stats.link_types.push(linktype);
                        snaplen = h.snaplen;
                        legacy = Some(Interface {
                            linktype,
                            resolution: if stats.nanosecond {
                                1_000_000_000
                            } else {
                                1_000_000
                            },
                            offset_secs: 0,
                        });
                    }
                    PcapBlockOwned::Legacy(b) => {
                        if let Some(ifc) = legacy {
                            stats.packets += 1;
                            let caplen = (b.caplen as usize).min(b.data.len());
                            on_event(Event::Packet(Packet {
                                number: stats.packets,
                                ts: Timestamp {
                                    secs: i64::from(b.ts_sec),
                                    nanos: frac_to_nanos(u64::from(b.ts_usec), ifc.resolution),
                                },
                                linktype: ifc.linktype,
                                data: &b.data[..caplen],
                                orig_len: b.origlen,
                            }));
                        }
                    }
                    PcapBlockOwned::NG(block) => match block {
                        Block::SectionHeader(shb) => {
                            stats.format = Some(CaptureFormat::Pcapng);
                            stats.big_endian = shb.big_endian();
                            // Interface ids are per section.
                            interfaces.clear();
                        }
                        Block::InterfaceDescription(idb) => {
                            let linktype = idb.linktype.0 as u16;
                            if !stats.link_types.contains(&linktype) {
                                stats.link_types.push(linktype);
                            }
                            let resolution = idb.ts_resolution().unwrap_or(1_000_000);
                            if resolution >= 1_000_000_000 {
                                stats.nanosecond = true;
                            }
                            interfaces.push(Interface {
                                linktype,
                                resolution,
                                offset_secs: idb.ts_offset(),
                            });
                        }
                        Block::EnhancedPacket(epb) => {
                            stats.packets += 1;
                            if let Some(ifc) = interfaces.get(epb.if_id as usize) {
                                let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                let caplen = (epb.caplen as usize).min(epb.data.len());
                                on_event(Event::Packet(Packet {
                                    number: stats.packets,
                                    ts: Timestamp {
                                        secs: (ts / ifc.resolution) as i64 + ifc.offset_secs,
                                        nanos: frac_to_nanos(ts % ifc.resolution, ifc.resolution),
                                    },
                                    linktype: ifc.linktype,
                                    data: &epb.data[..caplen],
                                    orig_len: epb.origlen,
                                }));
                            }
                        }
                        Block::SimplePacket(spb) => {
                            stats.packets += 1;
                            if let Some(ifc) = interfaces.first() {
                                let caplen = (spb.origlen as usize).min(spb.data.len());
                                on_event(Event::Packet(Packet {
                                    number: stats.packets,
                                    ts: Timestamp::default(),
                                    linktype: ifc.linktype,
                                    data: &spb.data[..caplen],
                                    orig_len: spb.origlen,
                                }));
                            }
                        }
                        Block::DecryptionSecrets(dsb) => {
                            if dsb.secrets_type == pcap_parser::pcapng::SecretsType::TlsKeyLog {
                                let len = (dsb.secrets_len as usize).min(dsb.data.len());
                                on_event(Event::TlsKeyLog(&dsb.data[..len]));
                            }
                        }
                        _ => {}
                    },
                }
                rdr.consume(size);
                stats.bytes = rdr.consumed() as u64;
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                refill(&mut *rdr, name, stats)?;
            }
            Err(PcapError::UnexpectedEof) => {
                if let Some(detail) = implausible_record(rdr.data(), stats, snaplen) {
                    return Err(malformed(name, &*rdr, stats, detail));
                }
                stats.truncated_at = Some(rdr.consumed() as u64);
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                if let Some(detail) = implausible_record(rdr.data(), stats, snaplen) {
                    return Err(malformed(name, &*rdr, stats, detail));
                }
                if capacity >= MAX_RECORD {
                    return Err(InputError::Malformed {
                        input: name.to_string(),
                        offset: rdr.consumed() as u64,
                        packet: stats.packets,
                        detail: format!("record larger than {} bytes", MAX_RECORD),
                    });
                }
                capacity *= 2;
                rdr.grow(capacity);
                refill(&mut *rdr, name, stats)?;
            }
            Err(e) => {
                let detail = match e {
                    PcapError::HeaderNotRecognized => "unrecognised block".to_string(),
                    PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                        format!("cannot parse record ({kind:?})")
                    }
                    PcapError::ReadError => "read error".to_string(),
                    other => format!("{other:?}"),
                };
                return Err(InputError::Malformed {
                    input: name.to_string(),
                    offset: rdr.consumed() as u64,
                    packet: stats.packets,
                    detail,
                });
            }
        }
    }
    Ok(())
}

fn malformed(name: &str, rdr: &dyn PcapReaderIterator, stats: &CaptureStats, detail: String) -> InputError {
    InputError::Malformed { input: name.to_string(), offset: rdr.consumed() as u64, packet: stats.packets, detail }
}

/// A record whose declared length no capture tool would write is corruption, not a file
/// cut short: say so instead of reporting a truncation.
fn implausible_record(data: &[u8], stats: &CaptureStats, snaplen: u32) -> Option<String> {
    let word = |off: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
        Some(if stats.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    match stats.format? {
        CaptureFormat::Pcap => {
            let caplen = word(8)?;
            let limit = snaplen.max(262_144);
            (caplen > limit).then(|| format!("record claims {caplen} captured bytes, more than the snaplen ({snaplen})"))
        }
        CaptureFormat::Pcapng => {
            let len = word(4)?;
            (len as usize > MAX_RECORD || len < 12 || len % 4 != 0)
                .then(|| format!("block claims a length of {len} bytes"))
        }
    }
}

fn refill(
    rdr: &mut dyn PcapReaderIterator,
    name: &str,
    stats: &CaptureStats,
) -> Result<(), InputError> {
    let offset = rdr.consumed() as u64;
    rdr.refill().map_err(|_| InputError::Read {
        input: name.to_string(),
        offset,
        source: std::io::Error::other(format!("read failed after packet {}", stats.packets)),
    })
}

fn frac_to_nanos(frac: u64, resolution: u64) -> u32 {
    if resolution == 1_000_000_000 {
        frac as u32
    } else if resolution == 1_000_000 {
        (frac * 1000) as u32
    } else {
        ((u128::from(frac) * 1_000_000_000u128) / u128::from(resolution.max(1))) as u32
    }
}
