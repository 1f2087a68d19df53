//! The kernel side through raw syscalls (bpf(2), perf_event_open(2), mmap(2)), as the
//! capture's cBPF filter already is: a ring buffer map, the program, one uprobe per
//! executable file, and the ring buffer's consumer. Everything is released by closing
//! file descriptors, which the kernel also does when the process dies, however it dies:
//! a uprobe cannot outlive certwire.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use super::program::{self, Insn};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;
const BPF_PROG_TYPE_KPROBE: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// Ring buffer size: a power of two, a multiple of the page size. 176 bytes per secret
/// (event and header): about 5,900 secrets, some 700 handshakes (8 secrets each, both
/// ends probed), waiting to be read. certwire reads it before every packet and every
/// 200 ms; a burst beyond it loses secrets (bpf_ringbuf_output fails in the program).
pub const RING_BYTES: usize = 1024 * 1024;

/// `union bpf_attr` for BPF_MAP_CREATE (the fields used; the rest zero).
#[repr(C)]
#[derive(Default)]
struct MapAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    pad: [u32; 27],
}

/// `union bpf_attr` for BPF_PROG_LOAD.
#[repr(C)]
#[derive(Default)]
struct ProgAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    pad: [u32; 16],
}

/// `struct perf_event_attr`, up to config2 (PERF_ATTR_SIZE_VER1 and beyond, zeroed).
#[repr(C)]
#[derive(Default)]
struct PerfAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    pad: [u64; 6],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<OwnedFd> {
    // SAFETY: attr is a valid, initialised bpf_attr prefix of the size given.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The ring buffer every uprobe writes to, and the programs (one per binary, each with
/// the binary's index built in).
pub struct Probe {
    ring: Ring,
    uprobe_type: u32,
}

/// Why the kernel would not load or attach.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe/type: {0})")]
    NoUprobePmu(io::Error),
    #[error("creating the BPF ring buffer failed: {0} (needs Linux ≥ 5.8 and CAP_BPF or root)")]
    Map(io::Error),
    #[error("the kernel refused the BPF program: {err}{log}")]
    Load { err: io::Error, log: String },
    #[error("mapping the ring buffer failed: {0}")]
    Mmap(io::Error),
}

impl Probe {
    pub fn load() -> Result<Probe, KernelError> {
        let uprobe_type = std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/type")
            .and_then(|s| s.trim().parse::<u32>().map_err(io::Error::other))
            .map_err(KernelError::NoUprobePmu)?;
        let mut attr = MapAttr {
            map_type: BPF_MAP_TYPE_RINGBUF,
            max_entries: RING_BYTES as u32,
            ..Default::default()
        };
        let map = bpf(BPF_MAP_CREATE, &mut attr).map_err(KernelError::Map)?;
        let ring = Ring::map(map).map_err(KernelError::Mmap)?;
        Ok(Probe { ring, uprobe_type })
    }

    /// The program for binary number `target`.
    pub fn program(&self, target: u32) -> Result<OwnedFd, KernelError> {
        let insns: Vec<[u8; 8]> = program::assemble(self.ring._map.as_raw_fd(), target)
            .iter()
            .map(Insn::bytes)
            .collect();
        load_program(&insns)
    }

    /// Place `prog` at `offset` in the executable `path` (every process running or yet to
    /// run that file). The returned descriptor is the probe: closing it removes it.
    pub fn attach(&self, prog: &OwnedFd, path: &str, offset: u64) -> io::Result<OwnedFd> {
        let path = CString::new(path).map_err(io::Error::other)?;
        let mut attr = PerfAttr {
            kind: self.uprobe_type,
            size: std::mem::size_of::<PerfAttr>() as u32,
            config1: path.as_ptr() as u64,
            config2: offset,
            ..Default::default()
        };
        // pid -1 with cpu 0: every process, and the program runs whatever CPU the probe
        // fires on (as libbpf does for system-wide uprobes).
        // SAFETY: attr is a valid perf_event_attr; path outlives the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &mut attr as *mut PerfAttr,
                -1 as libc::pid_t,
                0 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor from the kernel.
        let event = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: ioctls on the perf event descriptor we own.
        unsafe {
            if libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(event)
    }

    /// Every event waiting in the ring buffer, oldest first.
    pub fn drain(&mut self, each: &mut dyn FnMut(&[u8])) -> usize {
        self.ring.drain(each)
    }
}

fn load_program(insns: &[[u8; 8]]) -> Result<OwnedFd, KernelError> {
    // GPL-compatible: the helpers that read user memory are GPL-only. The program is this
    // file's instructions, offered under either licence.
    let license = c"Dual MIT/GPL";
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"certwire_keys");
    let attempt = |log: &mut [u8]| {
        let mut attr = ProgAttr {
            prog_type: BPF_PROG_TYPE_KPROBE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            // No buffer at all without a log: the kernel refuses a pointer without a level.
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: kernel_version(),
            prog_name: name,
            ..Default::default()
        };
        bpf(BPF_PROG_LOAD, &mut attr)
    };
    attempt(&mut []).map_err(|err| {
        // Load again with the verifier's log, to say why.
        let mut log = vec![0u8; 64 * 1024];
        let _ = attempt(&mut log);
        let end = log.iter().position(|&b| b == 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&log[..end]);
        let last: Vec<&str> = text.lines().rev().take(3).collect();
        let log = if last.is_empty() {
            String::new()
        } else {
            format!(
                " (verifier: {})",
                last.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )
        };
        KernelError::Load { err, log }
    })
}

/// LINUX_VERSION_CODE of the running kernel (checked for kprobe programs by kernels
/// before 5.0; ignored since).
fn kernel_version() -> u32 {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = rel
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c.min(255)
}

/// The consumer side of a BPF ring buffer (kernel/bpf/ringbuf.c): one writable page with
/// the consumer position, then the producer position page and the data, mapped twice in a
/// row by the kernel so that a record never wraps.
struct Ring {
    _map: OwnedFd,
    consumer: *mut u8,
    producer: *mut u8,
    page: usize,
}

// SAFETY: the mappings are owned by this struct and only used through &mut self.
unsafe impl Send for Ring {}

const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

impl Ring {
    fn map(map: OwnedFd) -> io::Result<Ring> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let fd = map.as_raw_fd();
        // SAFETY: mapping the ring buffer map as the kernel documents it.
        let consumer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if consumer == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above; the producer page and twice the data, read-only.
        let producer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page + 2 * RING_BYTES,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                page as libc::off_t,
            )
        };
        if producer == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            // SAFETY: unmapping what was mapped above.
            unsafe { libc::munmap(consumer, page) };
            return Err(err);
        }
        Ok(Ring {
            _map: map,
            consumer: consumer as *mut u8,
            producer: producer as *mut u8,
            page,
        })
    }

    fn position(p: *mut u8) -> &'static AtomicU64 {
        // SAFETY: the kernel keeps an 8-aligned u64 at the start of each position page,
        // mapped for the Ring's lifetime (the 'static here never escapes drain).
        unsafe { &*(p as *const AtomicU64) }
    }

    fn drain(&mut self, each: &mut dyn FnMut(&[u8])) -> usize {
        let cons_pos = Self::position(self.consumer);
        let prod_pos = Self::position(self.producer);
        let mut cons = cons_pos.load(Ordering::Acquire);
        let mut n = 0;
        loop {
            let prod = prod_pos.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let at = (cons as usize) & (RING_BYTES - 1);
            // SAFETY: `at` is inside the first copy of the data area; the header is
            // 8-aligned; the kernel publishes it with a release store.
            let header = unsafe {
                &*(self.producer.add(self.page + at) as *const std::sync::atomic::AtomicU32)
            }
            .load(Ordering::Acquire);
            if header & BUSY != 0 {
                break;
            }
            let len = (header & !(BUSY | DISCARD)) as usize;
            if header & DISCARD == 0 && len <= RING_BYTES {
                // SAFETY: the record (at most RING_BYTES) lies in the doubled mapping.
                let data = unsafe {
                    std::slice::from_raw_parts(self.producer.add(self.page + at + HEADER), len)
                };
                each(data);
                n += 1;
            }
            cons += ((len + HEADER + 7) & !7) as u64;
            cons_pos.store(cons, Ordering::Release);
        }
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the two mappings made in Ring::map.
        unsafe {
            libc::munmap(self.consumer as *mut libc::c_void, self.page);
            libc::munmap(
                self.producer as *mut libc::c_void,
                self.page + 2 * RING_BYTES,
            );
        }
    }
}
