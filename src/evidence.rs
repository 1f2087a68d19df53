//! The `--write` evidence file: the packets of the reported handshakes, as a classic pcap
//! of raw IP packets, or, for a name ending in `.pcapng`, a pcapng whose Decryption
//! Secrets Blocks carry the handshake secrets of those connections (Wireshark and certwire
//! then show the certificates of TLS 1.3 handshakes; the application data stays sealed
//! unless application secrets were asked for). Written with pcap-parser's serializer.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use pcap_parser::{
    DecryptionSecretsBlock, EnhancedPacketBlock, InterfaceDescriptionBlock, LegacyPcapBlock,
    Linktype, PcapHeader, SectionHeaderBlock, ToVec,
};

use crate::error::OutputError;
use crate::output;
use crate::source::Timestamp;
use crate::wire::linktype;

/// `TLSK`: an NSS key log in a Decryption Secrets Block.
const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

pub struct Evidence {
    out: BufWriter<File>,
    path: PathBuf,
    pcapng: bool,
}

impl Evidence {
    /// `snaplen`: the capture's. The format follows the name's extension.
    pub fn create(path: &Path, snaplen: u32) -> Result<Self, OutputError> {
        let pcapng = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
        let out = BufWriter::new(output::create(path, output::CAPTURE_MODE)?);
        let mut e = Evidence {
            out,
            path: path.to_path_buf(),
            pcapng,
        };
        let header = if pcapng {
            let mut shb = SectionHeaderBlock {
                block_type: 0,
                block_len1: 0,
                bom: 0,
                major_version: 1,
                minor_version: 0,
                section_len: -1,
                options: Vec::new(),
                block_len2: 0,
            };
            let mut idb = InterfaceDescriptionBlock {
                block_type: 0,
                block_len1: 0,
                linktype: Linktype(i32::from(linktype::RAW)),
                reserved: 0,
                snaplen,
                options: Vec::new(),
                block_len2: 0,
                if_tsresol: 9,
                if_tsoffset: 0,
            };
            let mut v = e.gen(shb.to_vec())?;
            v.extend(e.gen(idb.to_vec())?);
            v
        } else {
            e.gen(
                PcapHeader {
                    magic_number: 0xa1b2_3c4d,
                    version_major: 2,
                    version_minor: 4,
                    thiszone: 0,
                    sigfigs: 0,
                    snaplen,
                    network: Linktype(i32::from(linktype::RAW)),
                }
                .to_vec_raw(),
            )?
        };
        e.put(&header)?;
        Ok(e)
    }

    /// Whether secrets can go into this file (pcapng).
    pub fn takes_secrets(&self) -> bool {
        self.pcapng
    }

    fn gen(&self, r: Result<Vec<u8>, impl std::fmt::Debug>) -> Result<Vec<u8>, OutputError> {
        r.map_err(|e| self.error(io::Error::other(format!("{e:?}"))))
    }

    fn error(&self, source: io::Error) -> OutputError {
        OutputError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        self.out.write_all(bytes).map_err(|e| OutputError::Write {
            path: self.path.clone(),
            source: e,
        })
    }

    /// Secrets first (a reader opens the packets after them with them), then the packets.
    pub fn write(
        &mut self,
        secrets: &str,
        packets: &[(Timestamp, Vec<u8>)],
    ) -> Result<(), OutputError> {
        if self.pcapng && !secrets.is_empty() {
            let mut dsb = DecryptionSecretsBlock {
                block_type: 0,
                block_len1: 0,
                secrets_type: pcap_parser::SecretsType(SECRETS_TLS_KEY_LOG),
                secrets_len: secrets.len() as u32,
                data: secrets.as_bytes(),
                options: Vec::new(),
                block_len2: 0,
            };
            let bytes = self.gen(dsb.to_vec())?;
            self.put(&bytes)?;
        }
        for (ts, data) in packets {
            let bytes = if self.pcapng {
                let nanos = (ts.secs as u64).wrapping_mul(1_000_000_000) + u64::from(ts.nanos);
                self.gen(
                    EnhancedPacketBlock {
                        block_type: 0,
                        block_len1: 0,
                        if_id: 0,
                        ts_high: (nanos >> 32) as u32,
                        ts_low: nanos as u32,
                        caplen: data.len() as u32,
                        origlen: data.len() as u32,
                        data,
                        options: Vec::new(),
                        block_len2: 0,
                    }
                    .to_vec(),
                )?
            } else {
                self.gen(
                    LegacyPcapBlock {
                        ts_sec: ts.secs as u32,
                        ts_usec: ts.nanos,
                        caplen: data.len() as u32,
                        origlen: data.len() as u32,
                        data,
                    }
                    .to_vec_raw(),
                )?
            };
            self.put(&bytes)?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(|e| OutputError::Write {
            path: self.path.clone(),
            source: e,
        })
    }
}
