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
const INITIAL_BUFFER: usize = 512 << 10;
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
    let (format, head) = read_head(name, &mut reader)?;
    // pcap-parser's readers read once when they are created and parse the file header from
    // that read alone. Handing them exactly the header (read here, blocking only until the
    // header has arrived) keeps a pipe streaming: packets are processed as they arrive,
    // not after the next buffer-full.
    let source = HeadThen {
        head: std::io::Cursor::new(head),
        inner: reader,
    };
    let created = match format {
        CaptureFormat::Pcap => pcap_parser::LegacyPcapReader::new(INITIAL_BUFFER, source)
            .map(|r| Box::new(r) as Box<dyn PcapReaderIterator + Send>),
        CaptureFormat::Pcapng => pcap_parser::PcapNGReader::new(INITIAL_BUFFER, source)
            .map(|r| Box::new(r) as Box<dyn PcapReaderIterator + Send>),
    };
    let mut rdr = created.map_err(|e| InputError::Malformed {
        input: name.to_string(),
        offset: 0,
        packet: 0,
        detail: format!(
            "bad file header ({})",
            match e {
                PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) =>
                    format!("{kind:?}"),
                PcapError::Incomplete(_) | PcapError::UnexpectedEof => "truncated".to_string(),
                _ => "unrecognised".to_string(),
            }
        ),
    })?;
    let mut capacity = INITIAL_BUFFER;
    let mut dec = Decoder::default();
    loop {
        let next = rdr.next();
        match next {
            Ok((size, block)) => {
                dec.block(block, stats, &mut on_event);
                // No shift here: refill() moves the (small) unparsed tail when it needs room,
                // instead of moving half the buffer every time half of it is consumed.
                rdr.consume_noshift(size);
                stats.bytes = rdr.consumed() as u64;
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                refill(&mut *rdr, name, stats)?;
            }
            Err(PcapError::UnexpectedEof) => {
                if let Some(detail) = implausible_record(rdr.data(), stats, dec.snaplen) {
                    return Err(malformed(name, &*rdr, stats, detail));
                }
                stats.truncated_at = Some(rdr.consumed() as u64);
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                if let Some(detail) = implausible_record(rdr.data(), stats, dec.snaplen) {
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

/// The file header's bytes, read whole: 24 bytes for pcap, the Section Header Block for
/// pcapng. Recognises the format from the magic number, whatever the file is called.
fn read_head<R: BufRead>(
    name: &str,
    reader: &mut R,
) -> Result<(CaptureFormat, Vec<u8>), InputError> {
    let mut head = Vec::with_capacity(64);
    fill_to(name, reader, &mut head, 4)?;
    if head.is_empty() {
        return Err(InputError::Empty {
            input: name.to_string(),
        });
    }
    let magic = |h: &[u8]| {
        h.iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let format = match head.get(..4) {
        Some(
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1],
        )
        | Some([0xa1, 0xb2, 0xcd, 0x34] | [0x34, 0xcd, 0xb2, 0xa1]) => CaptureFormat::Pcap,
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => CaptureFormat::Pcapng,
        _ => {
            return Err(InputError::NotACapture {
                input: name.to_string(),
                magic: magic(&head),
            })
        }
    };
    let need = match format {
        CaptureFormat::Pcap => 24,
        CaptureFormat::Pcapng => {
            fill_to(name, reader, &mut head, 12)?;
            let len = |b: [u8; 4]| match head.get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => u32::from_be_bytes(b),
                _ => u32::from_le_bytes(b),
            };
            let block = head
                .get(4..8)
                .map(|b| len([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0) as usize;
            if !(28..=MAX_RECORD).contains(&block) {
                return Err(InputError::Malformed {
                    input: name.to_string(),
                    offset: 0,
                    packet: 0,
                    detail: format!("section header block claims {block} bytes"),
                });
            }
            block
        }
    };
    fill_to(name, reader, &mut head, need)?;
    if head.len() < need {
        return Err(InputError::Malformed {
            input: name.to_string(),
            offset: head.len() as u64,
            packet: 0,
            detail: "file ends inside its header".to_string(),
        });
    }
    Ok((format, head))
}

/// Read from `reader` until `buf` holds `n` bytes or the input ends.
fn fill_to<R: BufRead>(
    name: &str,
    reader: &mut R,
    buf: &mut Vec<u8>,
    n: usize,
) -> Result<(), InputError> {
    while buf.len() < n {
        let avail = reader.fill_buf().map_err(|source| InputError::Read {
            input: name.to_string(),
            offset: buf.len() as u64,
            source,
        })?;
        if avail.is_empty() {
            break;
        }
        let take = avail.len().min(n - buf.len());
        buf.extend_from_slice(&avail[..take]);
        reader.consume(take);
    }
    Ok(())
}

/// The header bytes already read, then the rest of the input. A read never spans both, so
/// the first read returns the header without waiting for more input.
struct HeadThen<R> {
    head: std::io::Cursor<Vec<u8>>,
    inner: R,
}

impl<R: BufRead> std::io::Read for HeadThen<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if (self.head.position() as usize) < self.head.get_ref().len() {
            return self.head.read(buf);
        }
        self.inner.read(buf)
    }
}

/// Turns pcap-parser's blocks into events: per-interface link types and timestamp
/// resolution, packet numbering.
#[derive(Default)]
struct Decoder {
    interfaces: Vec<Interface>,
    legacy: Option<Interface>,
    snaplen: u32,
}

impl Decoder {
    fn block<'a>(
        &mut self,
        block: PcapBlockOwned<'a>,
        stats: &mut CaptureStats,
        on_event: &mut impl FnMut(Event<'a>),
    ) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                stats.format = Some(CaptureFormat::Pcap);
                stats.nanosecond = h.is_nanosecond_precision();
                stats.big_endian = h.magic_number == 0xd4c3_b2a1 || h.magic_number == 0x4d3c_b2a1;
                let linktype = h.network.0 as u16;
                stats.link_types.push(linktype);
                self.snaplen = h.snaplen;
                self.legacy = Some(Interface {
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
                if let Some(ifc) = self.legacy {
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
                    self.interfaces.clear();
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
                    self.interfaces.push(Interface {
                        linktype,
                        resolution,
                        offset_secs: idb.ts_offset(),
                    });
                }
                Block::EnhancedPacket(epb) => {
                    stats.packets += 1;
                    if let Some(ifc) = self.interfaces.get(epb.if_id as usize) {
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        on_event(Event::Packet(Packet {
                            number: stats.packets,
                            ts: Timestamp {
                                secs: ((ts / ifc.resolution) as i64)
                                    .saturating_add(ifc.offset_secs),
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
                    if let Some(ifc) = self.interfaces.first() {
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
                Block::DecryptionSecrets(dsb)
                    if dsb.secrets_type == pcap_parser::pcapng::SecretsType::TlsKeyLog =>
                {
                    let len = (dsb.secrets_len as usize).min(dsb.data.len());
                    on_event(Event::TlsKeyLog(&dsb.data[..len]));
                }
                _ => {}
            },
        }
    }
}

fn malformed(
    name: &str,
    rdr: &dyn PcapReaderIterator,
    stats: &CaptureStats,
    detail: String,
) -> InputError {
    InputError::Malformed {
        input: name.to_string(),
        offset: rdr.consumed() as u64,
        packet: stats.packets,
        detail,
    }
}

/// A record whose declared length no capture tool would write is corruption, not a file
/// cut short: say so instead of reporting a truncation.
fn implausible_record(data: &[u8], stats: &CaptureStats, snaplen: u32) -> Option<String> {
    let word = |off: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
        Some(if stats.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    match stats.format? {
        CaptureFormat::Pcap => {
            let caplen = word(8)?;
            let limit = snaplen.max(262_144);
            (caplen > limit).then(|| {
                format!("record claims {caplen} captured bytes, more than the snaplen ({snaplen})")
            })
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

/// The fraction of a second in nanoseconds; a fraction field out of range (a malformed
/// record) is clamped rather than carried.
fn frac_to_nanos(frac: u64, resolution: u64) -> u32 {
    let n = if resolution == 1_000_000_000 {
        frac
    } else if resolution == 1_000_000 {
        frac.saturating_mul(1000)
    } else {
        ((u128::from(frac) * 1_000_000_000u128) / u128::from(resolution.max(1)))
            .min(u128::from(u64::MAX)) as u64
    };
    n.min(999_999_999) as u32
}
