//! The floor for any capture reader: walk every pcap record and its Ethernet/IPv4/TCP
//! headers and count the packets on the target ports, nothing else.
//! `cargo bench --bench floor -- FILE` (or `-` for stdin): read() into a 4 MiB buffer.
//! `--mmap`, `--mmap-populate`, `--mmap-sequential` (before FILE): the file mapped instead
//! (plain, with MAP_POPULATE, or with madvise(MADV_SEQUENTIAL | MADV_WILLNEED)), walked in
//! place: issue 17's comparison of the two ways of reading.

use std::io::Read;

const PORTS: [u16; 6] = [6443, 10250, 2379, 2380, 10257, 10259];

/// Counts of one walk over whole records in `buf`: (packets, on target ports, bytes used).
fn walk(buf: &[u8], packets: &mut u64, on_ports: &mut u64) -> usize {
    let mut pos = 0;
    while pos + 16 <= buf.len() {
        let caplen = u32::from_le_bytes(buf[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if pos + 16 + caplen > buf.len() {
            break;
        }
        let f = &buf[pos + 16..pos + 16 + caplen];
        *packets += 1;
        if f.len() >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == 6 {
            let ihl = usize::from(f[14] & 0x0f) * 4;
            if f.len() >= 14 + ihl + 4 {
                let t = &f[14 + ihl..];
                let sp = u16::from_be_bytes([t[0], t[1]]);
                let dp = u16::from_be_bytes([t[2], t[3]]);
                if PORTS.contains(&sp) || PORTS.contains(&dp) {
                    *on_ports += 1;
                }
            }
        }
        pos += 16 + caplen;
    }
    pos
}

#[cfg(target_os = "linux")]
fn mapped(path: &str, mode: &str) {
    use std::os::fd::AsRawFd;
    let start = std::time::Instant::now();
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    let flags = libc::MAP_PRIVATE
        | if mode == "--mmap-populate" {
            libc::MAP_POPULATE
        } else {
            0
        };
    // SAFETY: a read-only private mapping of a file this program opened; unmapped below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            flags,
            f.as_raw_fd(),
            0,
        )
    };
    assert!(ptr != libc::MAP_FAILED, "mmap failed");
    if mode == "--mmap-sequential" {
        // SAFETY: the mapping above.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL | libc::MADV_WILLNEED) };
    }
    // SAFETY: the mapping is `len` readable bytes until munmap.
    let buf = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    let (mut packets, mut on_ports) = (0u64, 0u64);
    walk(&buf[24..], &mut packets, &mut on_ports);
    // SAFETY: the mapping above, no longer borrowed.
    unsafe { libc::munmap(ptr, len) };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "floor ({mode}): {packets} packets, {on_ports} on target ports, {:.1} MB in {secs:.3} s = {:.0} MB/s",
        len as f64 / 1e6,
        len as f64 / 1e6 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    #[cfg(target_os = "linux")]
    if args.get(1).is_some_and(|a| a.starts_with("--mmap")) {
        return mapped(args.get(2).expect("usage: floor --mmap… FILE"), &args[1]);
    }
    let path = args
        .get(1)
        .expect("usage: floor [--mmap|--mmap-populate|--mmap-sequential] FILE|-");
    let mut input: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).unwrap())
    };
    let mut buf = vec![0u8; 4 << 20];
    let (mut have, mut pos) = (0usize, 0usize);
    let mut header = true;
    let (mut packets, mut on_ports, mut bytes) = (0u64, 0u64, 0u64);
    let start = std::time::Instant::now();
    loop {
        // Compact and refill.
        buf.copy_within(pos.min(have)..have, 0);
        have -= pos.min(have);
        pos = 0;
        let n = input.read(&mut buf[have..]).unwrap();
        if n == 0 && have < 16 {
            break;
        }
        have += n;
        bytes += n as u64;
        if header {
            // Skip the 24-byte file header (little-endian microsecond pcap assumed).
            pos = 24;
            header = false;
        }
        pos += walk(&buf[pos..have], &mut packets, &mut on_ports);
        if n == 0 {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "floor: {packets} packets, {on_ports} on target ports, {:.1} MB in {secs:.3} s = {:.0} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
}
