//! Streaming pcap / pcapng reader: records parsed in place in the read-ahead blocks.
//!
//! pcap-parser parses the file header and every record; this module frames records across
//! block boundaries and adds what an analyzer needs on top: per-interface link types and
//! timestamp resolution for pcapng, packet numbering, byte offsets for error messages, and
//! the rule that a file cut off mid-record is a warning (everything before the cut is
//! kept), not an error.
//!
//! pcap-parser's own readers own their buffer and fill it with `read()` on the calling
//! thread; parsing the blocks of [`Blocks`] in place instead lets a second thread do the
//! reading without a second copy. Only a record that straddles two blocks is copied.

use std::io::BufRead;

use pcap_parser::nom;
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};
use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, parse_sectionheaderblock, Block, SHB_MAGIC,
};
use pcap_parser::{LegacyPcapBlock, PcapBlockOwned, PcapError};

use super::readahead::Blocks;
use super::{Packet, Timestamp};
use crate::error::InputError;
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
/// the read got. With `read_ahead`, the input is read on a second thread.
pub fn read_capture<R: BufRead + Send + 'static>(
    name: &str,
    reader: R,
    stats: &mut CaptureStats,
    read_ahead: bool,
    on_event: impl FnMut(Event<'_>),
) -> Result<(), InputError> {
    read_capture_file(name, reader, None, stats, read_ahead, on_event)
}

/// [`read_capture`], with the regular, uncompressed file `reader` reads from, if it is
/// one: read in line (`read_ahead` false), it is mapped and parsed in place instead.
pub fn read_capture_file<R: BufRead + Send + 'static>(
    name: &str,
    mut reader: R,
    file: Option<std::fs::File>,
    stats: &mut CaptureStats,
    read_ahead: bool,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<(), InputError> {
    // The header is read here, blocking only until it has arrived, so that a pipe is
    // recognised (or refused) at once; the records after it are read ahead.
    let (format, head) = read_head(name, &mut reader)?;
    let mut dec = Decoder::default();
    let mut framer = Framer::new(name, format, &head, stats, &mut dec, &mut on_event)?;
    #[cfg(target_os = "linux")]
    let mapped = file
        .filter(|_| !read_ahead)
        .and_then(|f| Blocks::mapped(&f, head.len()).ok());
    #[cfg(not(target_os = "linux"))]
    let mapped: Option<Blocks> = {
        let _ = file;
        None
    };
    // Only blocks read on the other core, or mapped, need fetching; in line, the copy
    // left them here.
    let prefetch_lead = if read_ahead || mapped.is_some() {
        PREFETCH_LEAD
    } else {
        0
    };
    let mut blocks = match mapped {
        Some(m) => m,
        None if read_ahead => Blocks::ahead(reader),
        None => Blocks::inline(reader),
    };
    // A record that straddles two blocks, completed from the next one.
    let mut carry: Vec<u8> = Vec::new();
    while let Some(filled) = blocks.next() {
        let filled = filled.map_err(|source| InputError::Read {
            input: name.to_string(),
            offset: framer.offset + carry.len() as u64,
            source,
        })?;
        let data = filled.data();
        let mut pos = 0;
        if !carry.is_empty() {
            // Complete the straddling record: its length field first, then its bytes.
            loop {
                let want = framer.record_len(&carry, stats)?;
                if let Some(len) = want.filter(|&len| carry.len() >= len) {
                    framer.record(&carry[..len], stats, &mut dec, &mut on_event)?;
                    carry.clear();
                    break;
                }
                if pos == data.len() {
                    break;
                }
                let want = want.unwrap_or_else(|| framer.min_record());
                let take = (want - carry.len()).min(data.len() - pos);
                carry.extend_from_slice(&data[pos..pos + take]);
                pos += take;
            }
        }
        if carry.is_empty() {
            let mut fetched = pos;
            while let Some(len) = framer.record_len(&data[pos..], stats)? {
                if data.len() - pos < len {
                    break;
                }
                let lead = (pos + prefetch_lead).min(data.len());
                while fetched < lead {
                    prefetch(data, fetched);
                    fetched += 64;
                }
                framer.record(&data[pos..pos + len], stats, &mut dec, &mut on_event)?;
                pos += len;
            }
            carry.extend_from_slice(&data[pos..]);
        }
        blocks.recycle(filled);
    }
    if !carry.is_empty() {
        if let Some(detail) = framer.implausible(&carry) {
            return Err(framer.malformed(stats, detail));
        }
        stats.truncated_at = Some(framer.offset);
    }
    Ok(())
}

/// How far ahead of the record being parsed the block is fetched into this core's cache.
/// The read-ahead thread wrote the block on the other core, and the first touch of every
/// record header there was the parsing thread's hottest instruction (an eighth of all
/// samples); fetching the stream ahead, as a hardware prefetcher would for a plain
/// sequential read, takes it out of the profile. Reading in line, the prefetches only
/// cost (5 % slower), so they are not issued.
const PREFETCH_LEAD: usize = 32 << 10;

#[inline(always)]
fn prefetch(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < data.len() {
        // SAFETY: in bounds; a prefetch reads nothing architecturally and cannot fault.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                data.as_ptr().add(at).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}

type FrameParser = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

/// Where records begin and end, and which of pcap-parser's parsers reads them.
struct Framer<'n> {
    name: &'n str,
    format: CaptureFormat,
    /// pcap: the record parser for this file's byte order and variant.
    frame: FrameParser,
    /// pcap: bytes of record header before the packet data (16, or 24 in the "modified"
    /// format of old Red Hat tcpdumps).
    frame_header: usize,
    /// pcapng: the byte order of the current section.
    big_endian: bool,
    snaplen: u32,
    /// Bytes of the input consumed: the offset of the next record, for error messages.
    offset: u64,
}

impl<'n> Framer<'n> {
    /// Parse the file header (pcap) or first section header (pcapng) and announce it.
    fn new<'a>(
        name: &'n str,
        format: CaptureFormat,
        head: &'a [u8],
        stats: &mut CaptureStats,
        dec: &mut Decoder,
        on_event: &mut impl FnMut(Event<'a>),
    ) -> Result<Framer<'n>, InputError> {
        let bad_header = |e: nom::Err<PcapError<&[u8]>>| InputError::Malformed {
            input: name.to_string(),
            offset: 0,
            packet: 0,
            detail: format!("bad file header ({})", nom_detail(e)),
        };
        let mut framer = Framer {
            name,
            format,
            frame: parse_pcap_frame,
            frame_header: 16,
            big_endian: false,
            snaplen: 0,
            offset: head.len() as u64,
        };
        match format {
            CaptureFormat::Pcap => {
                let (_, h) = pcap_parser::pcap::parse_pcap_header(head).map_err(bad_header)?;
                if h.is_modified_format() {
                    framer.frame = parse_pcap_frame_modified;
                    framer.frame_header = 24;
                } else if h.is_bigendian() {
                    framer.frame = parse_pcap_frame_be;
                }
                framer.big_endian = h.is_bigendian();
                framer.snaplen = h.snaplen;
                dec.block(PcapBlockOwned::LegacyHeader(h), 0, stats, on_event);
            }
            CaptureFormat::Pcapng => {
                let (_, shb) = parse_sectionheaderblock(head).map_err(bad_header)?;
                framer.big_endian = shb.big_endian();
                dec.block(
                    PcapBlockOwned::NG(Block::SectionHeader(shb)),
                    0,
                    stats,
                    on_event,
                );
            }
        }
        stats.bytes = framer.offset;
        Ok(framer)
    }

    /// Bytes needed to read a record's length.
    fn min_record(&self) -> usize {
        match self.format {
            CaptureFormat::Pcap => self.frame_header,
            // The section header's own byte-order magic is at 8..12.
            CaptureFormat::Pcapng => 12,
        }
    }

    fn word(&self, d: &[u8], at: usize, big_endian: bool) -> u32 {
        let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The length of the record at the start of `d`, `None` if `d` is too short to tell.
    /// A length no capture tool would write is corruption: an error, before anything is
    /// buffered for it.
    fn record_len(&self, d: &[u8], stats: &CaptureStats) -> Result<Option<usize>, InputError> {
        if d.len() < self.min_record() {
            return Ok(None);
        }
        match self.format {
            CaptureFormat::Pcap => {
                let caplen = self.word(d, 8, self.big_endian) as usize;
                if caplen > MAX_RECORD {
                    return Err(self.malformed(stats, self.too_long(caplen)));
                }
                Ok(Some(self.frame_header + caplen))
            }
            CaptureFormat::Pcapng => {
                let big_endian = if self.word(d, 0, false) == SHB_MAGIC {
                    // A new section says its own byte order.
                    self.word(d, 8, false) != 0x1a2b_3c4d
                } else {
                    self.big_endian
                };
                let len = self.word(d, 4, big_endian) as usize;
                if !(12..=MAX_RECORD).contains(&len) || !len.is_multiple_of(4) {
                    return Err(
                        self.malformed(stats, format!("block claims a length of {len} bytes"))
                    );
                }
                Ok(Some(len))
            }
        }
    }

    fn too_long(&self, caplen: usize) -> String {
        format!(
            "record claims {caplen} captured bytes, more than the snaplen ({})",
            self.snaplen
        )
    }

    /// A record cut off by the end of the input: corruption rather than truncation when its
    /// length is more than any snaplen tcpdump uses.
    fn implausible(&self, d: &[u8]) -> Option<String> {
        if self.format != CaptureFormat::Pcap || d.len() < self.min_record() {
            return None;
        }
        let caplen = self.word(d, 8, self.big_endian) as usize;
        (caplen > self.snaplen.max(262_144) as usize).then(|| self.too_long(caplen))
    }

    /// Parse one whole record with pcap-parser and hand it to the decoder.
    fn record<'a>(
        &mut self,
        rec: &'a [u8],
        stats: &mut CaptureStats,
        dec: &mut Decoder,
        on_event: &mut impl FnMut(Event<'a>),
    ) -> Result<(), InputError> {
        let block = match self.format {
            CaptureFormat::Pcap => (self.frame)(rec).map(|(_, b)| PcapBlockOwned::Legacy(b)),
            CaptureFormat::Pcapng => {
                let parsed = if self.big_endian {
                    parse_block_be(rec)
                } else {
                    parse_block_le(rec)
                };
                parsed.map(|(_, b)| {
                    if let Block::SectionHeader(shb) = &b {
                        self.big_endian = shb.big_endian();
                    }
                    PcapBlockOwned::NG(b)
                })
            }
        };
        let block = block.map_err(|e| {
            let detail = match e {
                nom::Err::Error(PcapError::HeaderNotRecognized)
                | nom::Err::Failure(PcapError::HeaderNotRecognized) => {
                    "unrecognised block".to_string()
                }
                other => format!(
                    "the record cannot be read: {}",
                    crate::error::plain_parse_error(&nom_detail(other))
                ),
            };
            self.malformed(stats, detail)
        })?;
        dec.block(block, self.offset, stats, on_event);
        self.offset += rec.len() as u64;
        stats.bytes = self.offset;
        Ok(())
    }

    fn malformed(&self, stats: &CaptureStats, detail: String) -> InputError {
        InputError::Malformed {
            input: self.name.to_string(),
            offset: self.offset,
            packet: stats.packets,
            detail,
        }
    }
}

fn nom_detail(e: nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "truncated".to_string(),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                format!("{kind:?}")
            }
            PcapError::Incomplete(_) | PcapError::UnexpectedEof => "truncated".to_string(),
            PcapError::HeaderNotRecognized => "unrecognised".to_string(),
            other => format!("{other:?}"),
        },
    }
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

/// Turns pcap-parser's blocks into events: per-interface link types and timestamp
/// resolution, packet numbering.
#[derive(Default)]
struct Decoder {
    interfaces: Vec<Interface>,
    legacy: Option<Interface>,
}

impl Decoder {
    fn block<'a>(
        &mut self,
        block: PcapBlockOwned<'a>,
        offset: u64,
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
                        offset,
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
                            offset,
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
                            offset,
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

#[cfg(test)]
mod tests {
    //! Framing across block boundaries, checked against reading the same file in one go:
    //! the reader is fed in pieces of every awkward size, so records (and their length
    //! fields) straddle every possible boundary.

    use super::*;
    use std::io::{BufReader, Read};

    /// A reader that returns at most `step` bytes per read, like a slow pipe.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    type Seen = (
        Vec<(u64, Timestamp, u16, Vec<u8>)>,
        u64,
        Option<u64>,
        Result<(), String>,
    );

    fn read(name: &str, data: Vec<u8>, step: usize) -> Seen {
        let mut stats = CaptureStats::default();
        let mut packets = Vec::new();
        let trickle = Trickle { data, at: 0, step };
        let result = read_capture(
            name,
            BufReader::with_capacity(step.min(1 << 16), trickle),
            &mut stats,
            step % 2 == 1,
            |ev| match ev {
                Event::Packet(p) => packets.push((p.number, p.ts, p.linktype, p.data.to_vec())),
                Event::TlsKeyLog(k) => packets.push((0, Timestamp::default(), 0, k.to_vec())),
            },
        );
        (
            packets,
            stats.bytes,
            stats.truncated_at,
            result.map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn records_straddling_blocks_are_framed_as_in_one_read() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        for name in [
            "kubelet-rotated-tls12.pcap",
            "big-endian.pcap",
            "nanosecond.pcap",
            "any-multi.pcapng",
            "tls13-openssl-dsb.pcapng",
            "kubelet-serving-ipv6.pcapng",
            "truncated.pcap",
        ] {
            let data = std::fs::read(format!("{dir}/{name}")).unwrap();
            let whole = read(name, data.clone(), usize::MAX >> 1);
            assert!(whole.0.len() > 10, "{name}");
            for step in [5, 7, 16, 25, 511, 4096] {
                let got = read(name, data.clone(), step);
                assert!(
                    got == whole,
                    "{name}: reads of {step} bytes differ from one read"
                );
            }
        }
    }

    #[test]
    fn a_pcapng_file_with_sections_of_both_byte_orders_is_framed() {
        // Two sections back to back, as `cat a.pcapng b.pcapng` makes them; the second one's
        // byte order is read from its own header.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let a = std::fs::read(format!("{dir}/any-multi.pcapng")).unwrap();
        let b = std::fs::read(format!("{dir}/kubelet-serving-ipv6.pcapng")).unwrap();
        let (pa, ..) = read("a", a.clone(), 1 << 20);
        let (pb, ..) = read("b", b.clone(), 1 << 20);
        let joined = [a, b].concat();
        for step in [5, 1 << 20] {
            let (p, bytes, truncated, result) = read("a+b", joined.clone(), step);
            assert_eq!(result, Ok(()));
            assert_eq!((bytes, truncated), (joined.len() as u64, None));
            assert_eq!(p.len(), pa.len() + pb.len());
            assert!(p[pa.len()..].iter().zip(&pb).all(|(x, y)| x.3 == y.3));
        }
    }
}
