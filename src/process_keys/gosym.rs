//! Where a Go function starts in an executable file: the file offset a uprobe is placed at.
//!
//! The ELF symbol table answers when it is there; stripped binaries (`-ldflags=-s -w`,
//! Debian's dh_strip, distribution packages of etcd and kubectl) have none, but every Go
//! binary keeps its own function table, `.gopclntab`, because the runtime needs it for
//! stack traces. Its layout is Go's (runtime/symtab.go): a header, a table of
//! (entry, _func offset) pairs sorted by entry, and a name table. object reads the ELF;
//! the Go table is read here, as debug/gosym does, bounds-checked at every step.

use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol};

/// A located function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoFunction {
    /// Virtual address of the function's first instruction.
    pub address: u64,
    /// Offset of that instruction in the file (what the uprobe PMU takes).
    pub file_offset: u64,
    /// Which table named it: `.symtab` or `.gopclntab`.
    pub found_in: &'static str,
    /// `go1.19.8`, from the binary's build information, when it has one.
    pub go_version: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LocateError {
    #[error("not an ELF executable ({0})")]
    NotElf(String),
    #[error("not an x86-64 binary ({0}): only the x86-64 register ABI is supported")]
    NotX86_64(String),
    #[error("not a Go binary (no Go function table or build information)")]
    NotGo,
    #[error("{0} passes arguments on the stack (before Go 1.17): not supported")]
    StackAbi(String),
    #[error("symbol not found")]
    SymbolNotFound,
    #[error("the Go function table is malformed: {0}")]
    Malformed(&'static str),
    #[error("the bytes at file offset 0x{0:x} are not the start of a Go function (no stack-bound check): no probe is placed there")]
    NoPrologue(u64),
}

/// Find `name` (a Go symbol name such as `crypto/tls.(*Config).writeKeyLog`) in `data`,
/// the bytes of an ELF executable.
pub fn locate(data: &[u8], name: &str) -> Result<GoFunction, LocateError> {
    let elf = ElfFile64::<object::Endianness>::parse(data)
        .map_err(|e| LocateError::NotElf(e.to_string()))?;
    let arch = elf.architecture();
    if arch != object::Architecture::X86_64 {
        return Err(LocateError::NotX86_64(format!("{arch:?}")));
    }
    let go_version = build_version(&elf);
    let pclntab = find_pclntab(&elf);
    if go_version.is_none() && pclntab.is_none() {
        return Err(LocateError::NotGo);
    }
    if let Some(v) = go_version.as_deref() {
        if stack_abi(v) {
            return Err(LocateError::StackAbi(v.to_string()));
        }
    }
    let (address, found_in) = match symtab_address(&elf, name) {
        Some(a) => (a, ".symtab"),
        None => {
            let (addr, bytes) = pclntab.ok_or(LocateError::NotGo)?;
            let table = Pclntab::parse(bytes, addr, &elf)?;
            (
                table.find(name)?.ok_or(LocateError::SymbolNotFound)?,
                ".gopclntab",
            )
        }
    };
    let file_offset = file_offset(&elf, address).ok_or(LocateError::Malformed(
        "the function's address is in no section of the file",
    ))?;
    // A uprobe in the middle of an instruction would corrupt the probed program: the
    // address must open with Go's stack-bound check.
    let start = usize::try_from(file_offset).ok();
    let code = start.and_then(|s| data.get(s..s.checked_add(16)?));
    if !code.is_some_and(go_prologue) {
        return Err(LocateError::NoPrologue(file_offset));
    }
    Ok(GoFunction {
        address,
        file_offset,
        found_in,
        go_version,
    })
}

/// Go ≥ 1.17 on amd64 opens every function that may grow its stack with a comparison of
/// the stack pointer against the goroutine's bound, `g.stackguard0` at 16(R14):
/// `cmp 0x10(%r14),%rsp` (49 3b 66 10), or for large frames `lea -N(%rsp),%r12` then
/// `cmp 0x10(%r14),%r12` (4d 3b 66 10). writeKeyLog is such a function.
fn go_prologue(code: &[u8]) -> bool {
    code.starts_with(&[0x49, 0x3b, 0x66, 0x10])
        || (code.starts_with(&[0x4c, 0x8d, 0x64, 0x24])
            && code[5..].starts_with(&[0x4d, 0x3b, 0x66, 0x10]))
        || (code.starts_with(&[0x4c, 0x8d, 0xa4, 0x24])
            && code[8..].starts_with(&[0x4d, 0x3b, 0x66, 0x10]))
}

fn symtab_address(elf: &ElfFile64<'_, object::Endianness>, name: &str) -> Option<u64> {
    elf.symbols()
        .find(|s| s.name_bytes().ok() == Some(name.as_bytes()) && s.address() != 0)
        .map(|s| s.address())
}

/// Virtual address → file offset, through the section that holds it.
fn file_offset(elf: &ElfFile64<'_, object::Endianness>, address: u64) -> Option<u64> {
    elf.sections().find_map(|s| {
        let (start, size) = s.file_range()?;
        let rel = address.checked_sub(s.address())?;
        (rel < size).then(|| start.checked_add(rel)).flatten()
    })
}

/// "go1.16.15" and older pass arguments on the stack; "go1.17" and later in registers on
/// amd64 (the internal ABI, cmd/compile/abi-internal.md).
fn stack_abi(version: &str) -> bool {
    let Some(rest) = version.strip_prefix("go1.") else {
        return false;
    };
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    minor.parse::<u32>().is_ok_and(|m| m < 17)
}

/// The Go version recorded in `.go.buildinfo` (runtime/debug.ReadBuildInfo's source).
/// Go ≥ 1.18 stores it inline; older releases store a pointer to a string header.
fn build_version(elf: &ElfFile64<'_, object::Endianness>) -> Option<String> {
    let data = elf.section_by_name(".go.buildinfo")?.data().ok()?;
    if data.len() < 32 || !data.starts_with(b"\xff Go buildinf:") {
        return None;
    }
    let (ptr_size, flags) = (data[14] as usize, data[15]);
    if flags & 2 != 0 {
        let (len, used) = uvarint(data.get(32..)?)?;
        let start = 32 + used;
        let s = data.get(start..start.checked_add(len as usize)?)?;
        return Some(String::from_utf8_lossy(s).into_owned());
    }
    // Pointer form: at 16, the address of a Go string header (pointer, length).
    let big = flags & 1 != 0;
    let ptr = read_uint(data.get(16..16 + ptr_size)?, big)?;
    let header = read_at(elf, ptr, 2 * ptr_size)?;
    let (s_ptr, s_len) = (
        read_uint(&header[..ptr_size], big)?,
        read_uint(&header[ptr_size..], big)?,
    );
    let s = read_at(elf, s_ptr, usize::try_from(s_len).ok().filter(|&l| l < 64)?)?;
    Some(String::from_utf8_lossy(s).into_owned())
}

fn read_at<'d>(elf: &ElfFile64<'d, object::Endianness>, addr: u64, len: usize) -> Option<&'d [u8]> {
    elf.sections().find_map(|s| {
        let rel = addr.checked_sub(s.address())?;
        let data = s.data().ok()?;
        let start = usize::try_from(rel).ok()?;
        data.get(start..start.checked_add(len)?)
    })
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn read_uint(b: &[u8], big: bool) -> Option<u64> {
    match b.len() {
        4 => {
            let a = <[u8; 4]>::try_from(b).ok()?;
            Some(u64::from(if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }))
        }
        8 => {
            let a = <[u8; 8]>::try_from(b).ok()?;
            Some(if big {
                u64::from_be_bytes(a)
            } else {
                u64::from_le_bytes(a)
            })
        }
        _ => None,
    }
}

const MAGIC_116: u32 = 0xffff_fffa;
const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;

/// The function table: by section name (`.gopclntab`; `.data.rel.ro.gopclntab` in some
/// PIE layouts), else by scanning read-only sections for its header.
fn find_pclntab<'d>(elf: &ElfFile64<'d, object::Endianness>) -> Option<(u64, &'d [u8])> {
    let named = elf.sections().find(|s| {
        s.name()
            .is_ok_and(|n| n == ".gopclntab" || n.ends_with(".gopclntab"))
    });
    if let Some(s) = named {
        return Some((s.address(), s.data().ok()?));
    }
    for s in elf.sections() {
        let name = s.name().unwrap_or("");
        if !(name.starts_with(".rodata") || name.starts_with(".data.rel.ro")) {
            continue;
        }
        let Ok(data) = s.data() else { continue };
        if let Some(off) = find_header(data) {
            return Some((s.address().wrapping_add(off as u64), &data[off..]));
        }
    }
    None
}

/// A plausible pclntab header: known magic, two zero pad bytes, instruction size 1
/// (x86), pointer size 8, 8-aligned.
fn find_header(data: &[u8]) -> Option<usize> {
    (0..data.len().saturating_sub(8)).step_by(8).find(|&i| {
        let magic = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        matches!(magic, MAGIC_116 | MAGIC_118 | MAGIC_120)
            && data[i + 4] == 0
            && data[i + 5] == 0
            && data[i + 6] == 1
            && data[i + 7] == 8
    })
}

/// A parsed view of `.gopclntab` (little-endian, 8-byte pointers: x86-64).
struct Pclntab<'d> {
    data: &'d [u8],
    new_format: bool,
    nfunc: usize,
    text_start: u64,
    funcname: usize,
    pcln: usize,
}

impl<'d> Pclntab<'d> {
    fn parse(
        data: &'d [u8],
        address: u64,
        elf: &ElfFile64<'d, object::Endianness>,
    ) -> Result<Self, LocateError> {
        let word = |i: usize| -> Result<u64, LocateError> {
            data.get(8 + 8 * i..16 + 8 * i)
                .and_then(|b| read_uint(b, false))
                .ok_or(LocateError::Malformed("header cut short"))
        };
        let magic = data
            .get(..4)
            .and_then(|b| read_uint(b, false))
            .ok_or(LocateError::Malformed("header cut short"))? as u32;
        if data.get(7) != Some(&8) {
            return Err(LocateError::Malformed("pointer size is not 8"));
        }
        let idx = |w: u64| usize::try_from(w).map_err(|_| LocateError::Malformed("offset"));
        let (new_format, text_start, funcname, pcln) = match magic {
            MAGIC_118 | MAGIC_120 => {
                let mut text = word(2)?;
                if text == 0 {
                    // PIE: the field is filled by a dynamic relocation at load time.
                    text = relocated_value(elf, address.wrapping_add(8 + 16)).unwrap_or(0);
                }
                if text == 0 {
                    text = elf
                        .section_by_name(".text")
                        .map(|s| s.address())
                        .unwrap_or(0);
                }
                (true, text, idx(word(3)?)?, idx(word(7)?)?)
            }
            MAGIC_116 => (false, 0, idx(word(2)?)?, idx(word(6)?)?),
            _ => {
                return Err(LocateError::Malformed(
                    "unknown magic (not Go 1.16 or later)",
                ))
            }
        };
        Ok(Pclntab {
            data,
            new_format,
            nfunc: idx(word(0)?)?,
            text_start,
            funcname,
            pcln,
        })
    }

    fn u32_at(&self, at: usize) -> Result<u32, LocateError> {
        self.data
            .get(at..at.checked_add(4).ok_or(LocateError::Malformed("offset"))?)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(LocateError::Malformed("function table entry out of bounds"))
    }

    fn u64_at(&self, at: usize) -> Result<u64, LocateError> {
        self.data
            .get(at..at.checked_add(8).ok_or(LocateError::Malformed("offset"))?)
            .and_then(|b| read_uint(b, false))
            .ok_or(LocateError::Malformed("function table entry out of bounds"))
    }

    fn name_at(&self, off: usize) -> Option<&'d [u8]> {
        let start = self.funcname.checked_add(off)?;
        let rest = self.data.get(start..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..end])
    }

    /// The entry address of `name`, by walking every function (the table is sorted by
    /// address, not by name).
    /// Every offset comes from the file: checked arithmetic throughout, and the walk
    /// stops at the first entry out of bounds (a planted executable in a container must
    /// not crash a root tool).
    fn find(&self, name: &str) -> Result<Option<u64>, LocateError> {
        let entry_size = if self.new_format { 8 } else { 16 };
        let bad = LocateError::Malformed("function table offset out of range");
        for i in 0..self.nfunc {
            let at = i
                .checked_mul(entry_size)
                .and_then(|o| o.checked_add(self.pcln))
                .ok_or(LocateError::Malformed("function table offset out of range"))?;
            let func_off = if self.new_format {
                self.u32_at(at.checked_add(4).ok_or(bad.clone())?)? as usize
            } else {
                usize::try_from(self.u64_at(at.checked_add(8).ok_or(bad.clone())?)?)
                    .map_err(|_| bad.clone())?
            };
            let func = self.pcln.checked_add(func_off).ok_or(bad.clone())?;
            let (entry, name_off) = if self.new_format {
                (
                    self.text_start.wrapping_add(u64::from(self.u32_at(func)?)),
                    self.u32_at(func.checked_add(4).ok_or(bad.clone())?)?,
                )
            } else {
                (
                    self.u64_at(func)?,
                    self.u32_at(func.checked_add(8).ok_or(bad.clone())?)?,
                )
            };
            if self.name_at(name_off as usize) == Some(name.as_bytes()) {
                if entry == 0 {
                    return Err(LocateError::Malformed(
                        "the entry address is relocated at load time (PIE built before Go 1.18)",
                    ));
                }
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}

/// The addend of the dynamic relocation that fills the word at `address` (PIE).
fn relocated_value(elf: &ElfFile64<'_, object::Endianness>, address: u64) -> Option<u64> {
    elf.dynamic_relocations()?
        .find(|(off, _)| *off == address)
        .map(|(_, r)| r.addend() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_before_117_use_the_stack_abi() {
        assert!(stack_abi("go1.16.15"));
        assert!(stack_abi("go1.9"));
        assert!(!stack_abi("go1.17"));
        assert!(!stack_abi("go1.19.8"));
        assert!(!stack_abi("go1.23.8"));
        assert!(!stack_abi("devel +abc"));
    }

    #[test]
    fn non_elf_and_non_go_inputs_are_named() {
        assert!(matches!(
            locate(b"#!/bin/sh\n", "x"),
            Err(LocateError::NotElf(_))
        ));
        // The test binary itself is an ELF, and not a Go program.
        if let Ok(me) = std::fs::read("/proc/self/exe") {
            if cfg!(target_arch = "x86_64") {
                assert_eq!(
                    locate(&me, "crypto/tls.(*Config).writeKeyLog"),
                    Err(LocateError::NotGo)
                );
            }
        }
    }

    #[test]
    fn go_prologues_are_recognised() {
        // kubectl 1.23's writeKeyLog and a small-frame function.
        assert!(go_prologue(&[
            0x4c, 0x8d, 0x64, 0x24, 0xf8, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0, 0, 0, 0, 0
        ]));
        assert!(go_prologue(&[
            0x49, 0x3b, 0x66, 0x10, 0x76, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
        // A large frame: lea -0x1000(%rsp),%r12 (disp32).
        assert!(go_prologue(&[
            0x4c, 0x8d, 0xa4, 0x24, 0x00, 0xf0, 0xff, 0xff, 0x4d, 0x3b, 0x66, 0x10, 0, 0, 0, 0
        ]));
        // The middle of a function (a call), and int3 padding.
        assert!(!go_prologue(&[
            0xe8, 0x5b, 0x80, 0xd6, 0xff, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
        assert!(!go_prologue(&[0xcc; 16]));
    }

    #[test]
    fn uvarint_reads_go_varints() {
        assert_eq!(uvarint(&[0x08]), Some((8, 1)));
        assert_eq!(uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(uvarint(&[0x80]), None);
    }
}
