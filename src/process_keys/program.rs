//! The uprobe program, assembled here: 60-odd eBPF instructions that copy the arguments of
//! `crypto/tls.(*Config).writeKeyLog(label string, clientRandom, secret []byte)` into a
//! ring buffer. Hand-assembled (like the cBPF capture filter) rather than compiled from C
//! or from Rust with aya: the program is small and fixed, the default build then needs only
//! cargo (no clang, no bpf-linker, no nightly), and nothing is committed that a reader
//! cannot check against this file.
//!
//! Go ≥ 1.17 on amd64 passes arguments in registers (cmd/compile/abi-internal.md): the
//! receiver in RAX, then the string (pointer RBX, length RCX), then each slice as pointer,
//! length, capacity: clientRandom in RDI, RSI, R8 and secret in R9, R10, R11. At the
//! function's first instruction (an entry uprobe; never a return probe, which corrupts
//! Go's movable stacks) the registers still hold them; the kernel hands the program the
//! saved user registers (`struct pt_regs`).

/// Offsets in the x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h).
mod regs {
    pub const R11: i16 = 48;
    pub const R10: i16 = 56;
    pub const R9: i16 = 64;
    pub const RBX: i16 = 40;
    pub const RCX: i16 = 88;
    pub const RSI: i16 = 104;
    pub const RDI: i16 = 112;
}

/// The event the program writes (little-endian, 8-aligned), read back by [`Event::parse`].
pub mod layout {
    pub const PID_TGID: usize = 0;
    pub const COMM: usize = 8;
    pub const LABEL_LEN: usize = 24;
    pub const RANDOM_LEN: usize = 28;
    pub const SECRET_LEN: usize = 32;
    /// Which attached binary fired: each binary gets its own copy of the program.
    pub const TARGET: usize = 36;
    pub const LABEL: usize = 40;
    pub const LABEL_MAX: usize = 32;
    pub const RANDOM: usize = 72;
    pub const RANDOM_MAX: usize = 32;
    pub const SECRET: usize = 104;
    pub const SECRET_MAX: usize = 64;
    pub const SIZE: usize = 168;
}

/// One eBPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | dst,
            off,
            imm,
        }
    }

    pub fn bytes(&self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
}

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R6: u8 = 6;
const R7: u8 = 7;
const FP: u8 = 10;

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_DW: u8 = 0x79;
const STX_W: u8 = 0x63;
const STX_DW: u8 = 0x7b;
const ST_DW: u8 = 0x7a;
const ST_W: u8 = 0x62;
const MOV_X: u8 = 0xbf;
const MOV_K: u8 = 0xb7;
const ADD_K: u8 = 0x07;
const JLE_K: u8 = 0xb5;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const LD_IMM64: u8 = 0x18;
const PSEUDO_MAP_FD: u8 = 1;

// Helper ids (enum bpf_func_id).
const GET_CURRENT_PID_TGID: i32 = 14;
const GET_CURRENT_COMM: i32 = 16;
const PROBE_READ_USER: i32 = 112;
const RINGBUF_OUTPUT: i32 = 130;

/// The event lives on the program's stack, below the frame pointer.
const EVENT: i16 = -(layout::SIZE as i16);

/// Copy one Go argument (pointer register, length register) into the event: the length
/// as passed (so that user space can tell a truncated copy), then at most `max` bytes.
fn copy_arg(p: &mut Vec<Insn>, ptr: i16, len: i16, len_at: usize, dst: usize, max: usize) {
    p.extend([
        Insn::new(LDX_DW, R7, R6, len, 0),
        Insn::new(STX_W, FP, R7, EVENT + len_at as i16, 0),
        // Bound the copy: the verifier then knows 0 ≤ r7 ≤ max.
        Insn::new(JLE_K, R7, 0, 1, max as i32),
        Insn::new(MOV_K, R7, 0, 0, max as i32),
        Insn::new(MOV_X, R1, FP, 0, 0),
        Insn::new(ADD_K, R1, 0, 0, i32::from(EVENT) + dst as i32),
        Insn::new(MOV_X, R2, R7, 0, 0),
        Insn::new(LDX_DW, R3, R6, ptr, 0),
        Insn::new(CALL, 0, 0, 0, PROBE_READ_USER),
    ]);
}

/// The whole program, with the ring buffer's file descriptor and the binary's index built
/// in.
pub fn assemble(ringbuf_fd: i32, target: u32) -> Vec<Insn> {
    let mut p = vec![Insn::new(MOV_X, R6, R1, 0, 0)];
    // Zero the event first: helpers may only read initialised stack.
    for off in (EVENT..0).step_by(8) {
        p.push(Insn::new(ST_DW, FP, 0, off, 0));
    }
    p.push(Insn::new(
        ST_W,
        FP,
        0,
        EVENT + layout::TARGET as i16,
        target as i32,
    ));
    p.push(Insn::new(CALL, 0, 0, 0, GET_CURRENT_PID_TGID));
    p.push(Insn::new(
        STX_DW,
        FP,
        R0,
        EVENT + layout::PID_TGID as i16,
        0,
    ));
    p.extend([
        Insn::new(MOV_X, R1, FP, 0, 0),
        Insn::new(ADD_K, R1, 0, 0, i32::from(EVENT) + layout::COMM as i32),
        Insn::new(MOV_K, R2, 0, 0, 16),
        Insn::new(CALL, 0, 0, 0, GET_CURRENT_COMM),
    ]);
    use layout::*;
    copy_arg(&mut p, regs::RBX, regs::RCX, LABEL_LEN, LABEL, LABEL_MAX);
    copy_arg(&mut p, regs::RDI, regs::RSI, RANDOM_LEN, RANDOM, RANDOM_MAX);
    copy_arg(&mut p, regs::R9, regs::R10, SECRET_LEN, SECRET, SECRET_MAX);
    let _ = regs::R11; // the secret's capacity: not needed
    p.extend([
        Insn::new(LD_IMM64, R1, PSEUDO_MAP_FD, 0, ringbuf_fd),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(MOV_X, R2, FP, 0, 0),
        Insn::new(ADD_K, R2, 0, 0, i32::from(EVENT)),
        Insn::new(MOV_K, R3, 0, 0, SIZE as i32),
        Insn::new(MOV_K, R4, 0, 0, 0),
        Insn::new(CALL, 0, 0, 0, RINGBUF_OUTPUT),
        Insn::new(MOV_K, R0, 0, 0, 0),
        Insn::new(EXIT, 0, 0, 0, 0),
    ]);
    p
}

/// One secret as the probe saw it. The secret bytes are never printed (Debug hides them).
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the binary whose probe fired.
    pub target: u32,
    pub pid: u32,
    pub comm: String,
    pub label: String,
    pub client_random: [u8; 32],
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("pid", &self.pid)
            .field("comm", &self.comm)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The record is not the program's event size.
    Size,
    /// A length beyond what was copied (not a TLS key log call).
    Truncated,
}

impl Event {
    /// Read one ring-buffer record. Lengths are checked against what the program copies:
    /// a label, random or secret longer than that is not a TLS key log line.
    pub fn parse(b: &[u8]) -> Result<Event, Dropped> {
        use layout::*;
        if b.len() < SIZE {
            return Err(Dropped::Size);
        }
        let u32_at =
            |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let (label_len, random_len, secret_len) =
            (u32_at(LABEL_LEN), u32_at(RANDOM_LEN), u32_at(SECRET_LEN));
        if label_len > LABEL_MAX || random_len != RANDOM_MAX || secret_len > SECRET_MAX {
            return Err(Dropped::Truncated);
        }
        let comm = &b[COMM..COMM + 16];
        let comm_len = comm.iter().position(|&c| c == 0).unwrap_or(16);
        let mut client_random = [0u8; 32];
        client_random.copy_from_slice(&b[RANDOM..RANDOM + 32]);
        Ok(Event {
            target: u32_at(TARGET) as u32,
            pid: (u64::from_le_bytes(b[PID_TGID..PID_TGID + 8].try_into().unwrap_or_default())
                >> 32) as u32,
            comm: String::from_utf8_lossy(&comm[..comm_len]).into_owned(),
            label: String::from_utf8_lossy(&b[LABEL..LABEL + label_len]).into_owned(),
            client_random,
            secret: b[SECRET..SECRET + secret_len].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stack_access_stays_inside_the_event_and_jumps_land_inside() {
        let p = assemble(3, 1);
        for (i, insn) in p.iter().enumerate() {
            let dst = insn.regs & 0xf;
            if matches!(insn.code, STX_W | STX_DW | ST_DW | ST_W) && dst == FP {
                assert!(insn.off >= EVENT && insn.off < 0, "insn {i}");
            }
            if insn.code == JLE_K {
                assert!(i + 1 + (insn.off as usize) < p.len());
            }
        }
        assert_eq!(p.last().unwrap().code, EXIT);
        assert!(p.len() < 100);
    }

    #[test]
    fn events_round_trip_and_oversized_arguments_are_dropped() {
        use layout::*;
        let mut b = vec![0u8; SIZE];
        b[0..8].copy_from_slice(&((4242u64 << 32) | 7).to_le_bytes());
        b[COMM..COMM + 7].copy_from_slice(b"kubectl");
        let label = b"CLIENT_HANDSHAKE_TRAFFIC_SECRET";
        b[LABEL_LEN..LABEL_LEN + 4].copy_from_slice(&(label.len() as u32).to_le_bytes());
        b[LABEL..LABEL + label.len()].copy_from_slice(label);
        b[RANDOM_LEN..RANDOM_LEN + 4].copy_from_slice(&32u32.to_le_bytes());
        b[RANDOM..RANDOM + 32].fill(0xab);
        b[SECRET_LEN..SECRET_LEN + 4].copy_from_slice(&32u32.to_le_bytes());
        b[SECRET..SECRET + 32].fill(0xcd);
        let e = Event::parse(&b).unwrap();
        assert_eq!(
            (e.pid, e.comm.as_str(), e.label.as_str()),
            (
                4242,
                "kubectl",
                &label[..].iter().map(|&c| c as char).collect::<String>()[..]
            )
        );
        assert_eq!(e.secret, vec![0xcd; 32]);
        assert!(!format!("{e:?}").contains("cd"));
        b[SECRET_LEN..SECRET_LEN + 4].copy_from_slice(&65u32.to_le_bytes());
        assert_eq!(Event::parse(&b), Err(Dropped::Truncated));
        assert_eq!(Event::parse(&b[..10]), Err(Dropped::Size));
    }
}
