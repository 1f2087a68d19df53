//! The floor for any capture reader: walk every pcap record and its Ethernet/IPv4/TCP
//! headers and count the packets on the target ports, nothing else.
//! `cargo bench --bench floor -- FILE` (or `-` for stdin).

use std::io::Read;

const PORTS: [u16; 6] = [6443, 10250, 2379, 2380, 10257, 10259];

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let path = args.get(1).expect("usage: floor FILE|-");
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
        while pos + 16 <= have {
            let caplen = u32::from_le_bytes(buf[pos + 8..pos + 12].try_into().unwrap()) as usize;
            if pos + 16 + caplen > have {
                break;
            }
            let f = &buf[pos + 16..pos + 16 + caplen];
            packets += 1;
            if f.len() >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == 6 {
                let ihl = usize::from(f[14] & 0x0f) * 4;
                if f.len() >= 14 + ihl + 4 {
                    let t = &f[14 + ihl..];
                    let sp = u16::from_be_bytes([t[0], t[1]]);
                    let dp = u16::from_be_bytes([t[2], t[3]]);
                    if PORTS.contains(&sp) || PORTS.contains(&dp) {
                        on_ports += 1;
                    }
                }
            }
            pos += 16 + caplen;
        }
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
