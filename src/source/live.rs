//! Live capture on Linux with AF_PACKET, no libpcap needed at build or run time.
//!
//! Cooked (SOCK_DGRAM) sockets give every interface's packets from the network header on,
//! so one code path serves a named interface and `any` alike; frames are handed on as raw
//! IP (LINKTYPE_RAW). A classic BPF program attached in the kernel lets only TCP on the
//! followed ports (IPv4 and IPv6) reach user space; the pipeline's own port check stays as
//! the safety net. Packets are read in a non-blocking loop after poll(), so a stop request
//! (signal, --duration) is seen within the poll timeout.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "live capture needs the CAP_NET_RAW capability to open an AF_PACKET socket: run as root, \
         or `setcap cap_net_raw+ep` the binary, or give the container NET_RAW \
         (securityContext.capabilities.add: [\"NET_RAW\"])"
    )]
    Permission,
    #[error("unknown interface {name}; available: {available}")]
    UnknownInterface { name: String, available: String },
    #[error("live capture is Linux-only (AF_PACKET); on other systems capture with tcpdump -w and analyze the file")]
    Unsupported,
    #[error("live capture: {what}: {source}")]
    Os {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// An interface name, or `any`.
    pub interface: String,
    pub ports: Vec<u16>,
    pub any_port: bool,
    pub promiscuous: bool,
}

/// Kernel counters (PACKET_STATISTICS), accumulated: packets the filter passed and packets
/// dropped because user space did not keep up.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveStats {
    pub kernel_packets: u64,
    pub kernel_drops: u64,
}

/// Ports checked in the kernel filter (each costs four instructions within jump range).
const MAX_FILTER_PORTS: usize = 48;

/// Snapshot length kept per packet: as tcpdump's default.
pub const SNAPLEN: usize = 262_144;

pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        secs: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

#[cfg(target_os = "linux")]
pub use linux::LiveCapture;
#[cfg(target_os = "linux")]
pub use privileges::drop_privileges;

/// What `drop_privileges` did, for stderr: what was dropped, and each step that failed.
#[derive(Debug, Default)]
pub struct PrivilegeDrop {
    /// What was given up, in order; empty when there was nothing to give up.
    pub dropped: Vec<&'static str>,
    pub failed: Vec<DropError>,
}

/// A step of dropping privileges that did not work. Never fatal: the capture goes on.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("{step}: {source}")]
    Step {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("check afterwards: {0}")]
    Check(String),
}

impl PrivilegeDrop {
    /// The lines to print on stderr (none when there was nothing to drop).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.dropped.is_empty() {
            out.push(format!(
                "dropped privileges for the capture: {}",
                self.dropped.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            let failed: Vec<String> = self.failed.iter().map(|e| e.to_string()).collect();
            out.push(format!(
                "warning: could not drop every privilege ({}); capturing anyway",
                failed.join("; ")
            ));
        }
        out
    }
}

/// Elsewhere there is no live capture, so nothing to drop.
#[cfg(not(target_os = "linux"))]
pub fn drop_privileges() -> PrivilegeDrop {
    PrivilegeDrop::default()
}

#[cfg(not(target_os = "linux"))]
pub struct LiveCapture;

#[cfg(not(target_os = "linux"))]
impl LiveCapture {
    pub fn open(_: &LiveOptions) -> Result<Self, LiveError> {
        Err(LiveError::Unsupported)
    }
    pub fn poll(
        &mut self,
        _: i32,
        _: &mut dyn FnMut(Timestamp, &[u8], u32),
    ) -> Result<(), LiveError> {
        Err(LiveError::Unsupported)
    }
    pub fn stats(&mut self) -> LiveStats {
        LiveStats::default()
    }
}

/// A classic BPF program: TCP over IPv4 (first fragments) or IPv6 with either port in
/// `ports` (or any port). IPv6 packets whose next header is an extension header are let
/// through for user space to decide.
pub fn port_filter(ports: &[u16], any_port: bool) -> Vec<(u16, u8, u8, u32)> {
    // Classic BPF conditional jumps reach at most 255 instructions ahead: with this many
    // ports the kernel passes all TCP and the pipeline's own port check does the rest.
    let any_port = any_port || ports.len() > MAX_FILTER_PORTS;
    // Opcodes (linux/filter.h).
    const LDH_ABS: u16 = 0x28;
    const LDB_ABS: u16 = 0x30;
    const LDH_IND: u16 = 0x48;
    const LDXB_MSH: u16 = 0xb1;
    const JEQ: u16 = 0x15;
    const JSET: u16 = 0x45;
    const JA: u16 = 0x05;
    const RET: u16 = 0x06;
    const SKF_AD_PROTOCOL: u32 = 0xffff_f000;

    #[derive(Clone, Copy)]
    enum T {
        Next,
        L(&'static str),
    }
    enum I {
        Op(u16, u32),
        J(u16, u32, T, T),
        Ja(&'static str),
        Label(&'static str),
    }
    let port_checks = |prog: &mut Vec<I>| {
        if any_port {
            prog.push(I::Ja("accept"));
            return;
        }
        for &p in ports {
            prog.push(I::J(JEQ, u32::from(p), T::L("accept"), T::Next));
        }
    };
    let mut prog = vec![
        I::Op(LDH_ABS, SKF_AD_PROTOCOL),
        I::J(JEQ, 0x0800, T::L("v4"), T::Next),
        I::J(JEQ, 0x86dd, T::L("v6"), T::L("reject")),
        I::Label("v4"),
        I::Op(LDB_ABS, 9),
        I::J(JEQ, 6, T::Next, T::L("reject")),
        I::Op(LDH_ABS, 6),
        I::J(JSET, 0x1fff, T::L("reject"), T::Next),
        I::Op(LDXB_MSH, 0),
        I::Op(LDH_IND, 0),
    ];
    port_checks(&mut prog);
    prog.push(I::Op(LDH_IND, 2));
    port_checks(&mut prog);
    prog.extend([
        I::Ja("reject"),
        I::Label("v6"),
        I::Op(LDB_ABS, 6),
        I::J(JEQ, 6, T::Next, T::L("v6ext")),
        I::Op(LDH_ABS, 40),
    ]);
    port_checks(&mut prog);
    prog.push(I::Op(LDH_ABS, 42));
    port_checks(&mut prog);
    prog.extend([
        I::Ja("reject"),
        I::Label("v6ext"),
        I::J(JEQ, 0, T::L("accept"), T::Next),
        I::J(JEQ, 43, T::L("accept"), T::Next),
        I::J(JEQ, 60, T::L("accept"), T::L("reject")),
        I::Label("accept"),
        I::Op(RET, SNAPLEN as u32),
        I::Label("reject"),
        I::Op(RET, 0),
    ]);
    // Resolve labels to instruction indices (labels are not instructions).
    let mut pos = std::collections::HashMap::new();
    let mut n = 0usize;
    for i in &prog {
        match i {
            I::Label(l) => {
                pos.insert(*l, n);
            }
            _ => n += 1,
        }
    }
    let mut out = Vec::with_capacity(n);
    for i in &prog {
        let here = out.len();
        let rel = |t: T| -> u8 {
            match t {
                T::Next => 0,
                T::L(l) => (pos[l] - here - 1) as u8,
            }
        };
        match i {
            I::Label(_) => {}
            I::Op(code, k) => out.push((*code, 0, 0, *k)),
            I::J(code, k, t, f) => out.push((*code, rel(*t), rel(*f), *k)),
            I::Ja(l) => out.push((JA, 0, 0, (pos[l] - here - 1) as u32)),
        }
    }
    out
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::{now, port_filter, LiveError, LiveOptions, LiveStats, SNAPLEN};
    use crate::source::Timestamp;

    // linux/if_packet.h values the libc crate does not carry.
    const SOL_PACKET: libc::c_int = 263;
    const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
    const PACKET_STATISTICS: libc::c_int = 6;
    const PACKET_MR_PROMISC: libc::c_ushort = 1;
    const PACKET_OUTGOING: u8 = 4;
    const ARPHRD_LOOPBACK: u16 = 772;

    #[repr(C)]
    struct PacketMreq {
        mr_ifindex: libc::c_int,
        mr_type: libc::c_ushort,
        mr_alen: libc::c_ushort,
        mr_address: [libc::c_uchar; 8],
    }

    #[repr(C)]
    #[derive(Default)]
    struct TpacketStats {
        tp_packets: libc::c_uint,
        tp_drops: libc::c_uint,
    }

    pub struct LiveCapture {
        fd: OwnedFd,
        buf: Vec<u8>,
        stats: LiveStats,
    }

    fn os(what: &'static str) -> LiveError {
        LiveError::Os {
            what,
            source: io::Error::last_os_error(),
        }
    }

    fn interfaces() -> String {
        let mut names = Vec::new();
        // SAFETY: if_nameindex returns a list terminated by a zero index, freed below.
        unsafe {
            let list = libc::if_nameindex();
            if !list.is_null() {
                let mut p = list;
                while (*p).if_index != 0 && !(*p).if_name.is_null() {
                    names.push(
                        std::ffi::CStr::from_ptr((*p).if_name)
                            .to_string_lossy()
                            .into_owned(),
                    );
                    p = p.add(1);
                }
                libc::if_freenameindex(list);
            }
        }
        names.push("any".into());
        names.join(", ")
    }

    impl LiveCapture {
        pub fn open(opts: &LiveOptions) -> Result<Self, LiveError> {
            let ifindex = if opts.interface == "any" {
                0
            } else {
                let name = CString::new(opts.interface.clone()).map_err(|_| {
                    LiveError::UnknownInterface {
                        name: opts.interface.clone(),
                        available: interfaces(),
                    }
                })?;
                // SAFETY: a valid NUL-terminated string.
                let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
                if i == 0 {
                    return Err(LiveError::UnknownInterface {
                        name: opts.interface.clone(),
                        available: interfaces(),
                    });
                }
                i as libc::c_int
            };
            // Protocol 0 first: nothing is queued until the filter is attached and the
            // socket bound with ETH_P_ALL.
            // SAFETY: plain socket(2).
            let raw =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                let e = io::Error::last_os_error();
                return Err(match e.raw_os_error() {
                    Some(libc::EPERM) | Some(libc::EACCES) => LiveError::Permission,
                    _ => LiveError::Os {
                        what: "socket(AF_PACKET)",
                        source: e,
                    },
                });
            }
            // SAFETY: raw is a fresh descriptor we own.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let mut insns: Vec<libc::sock_filter> = port_filter(&opts.ports, opts.any_port)
                .into_iter()
                .map(|(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
                .collect();
            let prog = libc::sock_fprog {
                len: insns.len() as u16,
                filter: insns.as_mut_ptr(),
            };
            // SAFETY: prog points at insns, alive for the call.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ATTACH_FILTER,
                    &prog as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
                )
            };
            if r < 0 {
                return Err(os("attach the port filter (SO_ATTACH_FILTER)"));
            }
            let rcvbuf: libc::c_int = 16 << 20;
            // SAFETY: an int option. A smaller buffer than asked is not an error.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    &rcvbuf as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
            sll.sll_ifindex = ifindex;
            // SAFETY: sll is a valid sockaddr_ll.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if r < 0 {
                return Err(os("bind"));
            }
            if opts.promiscuous && ifindex != 0 {
                let mreq = PacketMreq {
                    mr_ifindex: ifindex,
                    mr_type: PACKET_MR_PROMISC,
                    mr_alen: 0,
                    mr_address: [0; 8],
                };
                // SAFETY: mreq is a valid packet_mreq.
                let r = unsafe {
                    libc::setsockopt(
                        fd.as_raw_fd(),
                        SOL_PACKET,
                        PACKET_ADD_MEMBERSHIP,
                        &mreq as *const _ as *const libc::c_void,
                        std::mem::size_of::<PacketMreq>() as libc::socklen_t,
                    )
                };
                if r < 0 {
                    return Err(os("enable promiscuous mode"));
                }
            }
            let mut cap = LiveCapture {
                fd,
                buf: vec![0u8; SNAPLEN],
                stats: LiveStats::default(),
            };
            // Reset the kernel counters to this capture.
            cap.stats();
            cap.stats = LiveStats::default();
            Ok(cap)
        }

        /// Wait up to `timeout_ms` for packets, then hand every queued one to `f` as
        /// (receive time, IP packet bytes, original length).
        pub fn poll(
            &mut self,
            timeout_ms: i32,
            f: &mut dyn FnMut(Timestamp, &[u8], u32),
        ) -> Result<(), LiveError> {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(());
                }
                return Err(LiveError::Os {
                    what: "poll",
                    source: e,
                });
            }
            if r == 0 {
                return Ok(());
            }
            // Drain what is queued, bounded so that a flood cannot starve the stop check.
            for _ in 0..4096 {
                // SAFETY: buf is valid for its length; MSG_TRUNC returns the real length;
                // from is a sockaddr_ll with its length.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                let n = unsafe {
                    libc::recvfrom(
                        self.fd.as_raw_fd(),
                        self.buf.as_mut_ptr() as *mut libc::c_void,
                        self.buf.len(),
                        libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                        &mut from as *mut _ as *mut libc::sockaddr,
                        &mut from_len,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => break,
                        _ => {
                            return Err(LiveError::Os {
                                what: "recv",
                                source: e,
                            })
                        }
                    }
                }
                // On loopback every packet is seen twice, going out and coming in; keep one
                // (as libpcap does).
                if from.sll_pkttype == PACKET_OUTGOING && from.sll_hatype == ARPHRD_LOOPBACK {
                    continue;
                }
                let orig = n as usize;
                let caplen = orig.min(self.buf.len());
                f(now(), &self.buf[..caplen], orig as u32);
            }
            Ok(())
        }

        /// Kernel counters since the capture started.
        pub fn stats(&mut self) -> LiveStats {
            let mut st = TpacketStats::default();
            let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
            // SAFETY: st is a valid tpacket_stats; the kernel resets it on each read.
            let r = unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    SOL_PACKET,
                    PACKET_STATISTICS,
                    &mut st as *mut _ as *mut libc::c_void,
                    &mut len,
                )
            };
            if r == 0 {
                self.stats.kernel_packets += u64::from(st.tp_packets);
                self.stats.kernel_drops += u64::from(st.tp_drops);
            }
            self.stats
        }
    }
}

/// After the socket, the output files and the node's files are open, a live capture
/// needs no privilege: it only reads from descriptors it holds and writes to others. Root
/// with every capability for the whole run would turn any bug in the parsers of
/// attacker-sent packets into root on the node, so what is no longer needed is given up
/// for good: no_new_privs, the capability bounding and ambient sets, the supplementary
/// groups, uid and gid 0 (for `nobody`, 65534: a name lookup could need NSS libraries a
/// static binary lacks), and finally every capability. Each step that fails is reported
/// and skipped, never fatal (a container granted only NET_RAW cannot change its uid).
/// Capabilities are per thread: this runs before the capture starts any thread.
#[cfg(target_os = "linux")]
mod privileges {
    use std::io;

    use super::{DropError, PrivilegeDrop};

    /// `nobody` and `nogroup`/`nobody` on every common distribution.
    const NOBODY: libc::uid_t = 65534;
    /// _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
    const CAP_VERSION_3: u32 = 0x2008_0522;

    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    fn os(r: libc::c_long) -> io::Result<()> {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn capget() -> io::Result<[CapData; 2]> {
        let mut hdr = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        // SAFETY: a v3 header and the two data words it asks for.
        os(unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) })?;
        Ok(data)
    }

    /// Empty effective, permitted and inheritable sets (allowed without any capability).
    fn clear_capabilities() -> io::Result<()> {
        let mut hdr = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        // SAFETY: as capget.
        os(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) })
    }

    fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
        // SAFETY: prctl options that take one integer argument.
        let r = unsafe {
            libc::prctl(
                option,
                arg,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        os(r.into())
    }

    /// Every capability this kernel knows, out of the bounding set.
    fn drop_bounding_set() -> io::Result<()> {
        for cap in 0..64 {
            // PR_CAPBSET_READ fails past the last capability the kernel knows.
            if prctl(libc::PR_CAPBSET_READ, cap).is_err() {
                break;
            }
            prctl(libc::PR_CAPBSET_DROP, cap)?;
        }
        Ok(())
    }

    fn step(d: &mut PrivilegeDrop, step: &'static str, what: &'static str, r: io::Result<()>) {
        match r {
            Ok(()) => d.dropped.push(what),
            Err(source) => d.failed.push(DropError::Step { step, source }),
        }
    }

    pub fn drop_privileges() -> PrivilegeDrop {
        let mut d = PrivilegeDrop::default();
        // SAFETY: getuid and geteuid have no preconditions.
        let root = unsafe { libc::getuid() == 0 || libc::geteuid() == 0 };
        let capable = capget().map_or(true, |c| c.iter().any(|w| w.permitted != 0));
        if !root && !capable {
            return d;
        }
        step(
            &mut d,
            "prctl(PR_SET_NO_NEW_PRIVS)",
            "new privileges (no_new_privs)",
            prctl(libc::PR_SET_NO_NEW_PRIVS, 1),
        );
        if root {
            step(
                &mut d,
                "prctl(PR_CAPBSET_DROP)",
                "the capability bounding set",
                drop_bounding_set(),
            );
            let ambient = prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            );
            step(
                &mut d,
                "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
                "ambient capabilities",
                ambient,
            );
            // SAFETY: setgroups with no groups; setgid and setuid with a plain id (glibc
            // applies them to every thread).
            let groups = os(unsafe { libc::setgroups(0, std::ptr::null()) }.into());
            step(&mut d, "setgroups([])", "supplementary groups", groups);
            let gid = os(unsafe { libc::setgid(NOBODY) }.into());
            step(&mut d, "setgid(65534)", "gid 0 (now 65534)", gid);
            let uid = os(unsafe { libc::setuid(NOBODY) }.into());
            step(&mut d, "setuid(65534)", "uid 0 (now 65534, nobody)", uid);
        }
        step(&mut d, "capset", "every capability", clear_capabilities());
        check(&mut d, root);
        d
    }

    /// What the kernel says now: no uid 0 left (when it was root), no capability.
    fn check(d: &mut PrivilegeDrop, was_root: bool) {
        // SAFETY: the get*id calls have no preconditions.
        let ids = unsafe {
            [
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
            ]
        };
        if was_root && ids.contains(&0) {
            let [uid, euid, gid, egid] = ids;
            d.failed.push(DropError::Check(format!(
                "still uid {uid}/{euid}, gid {gid}/{egid}"
            )));
        }
        // Capabilities are per thread; threads started later inherit the dropped state.
        let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
        if threads > 1 {
            d.failed.push(DropError::Check(format!(
                "{} other thread(s) already running keep their capabilities",
                threads - 1
            )));
        }
        match capget() {
            Ok(c) if c.iter().all(|w| w.effective == 0 && w.permitted == 0) => {}
            Ok(c) => d.failed.push(DropError::Check(format!(
                "capabilities remain (effective {:#x}{:08x})",
                c[1].effective, c[0].effective
            ))),
            Err(e) => d.failed.push(DropError::Check(format!("capget: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_drop_lines_name_each_failed_step() {
        assert!(PrivilegeDrop::default().lines().is_empty());
        let d = PrivilegeDrop {
            dropped: vec!["every capability"],
            failed: vec![DropError::Step {
                step: "setuid(65534)",
                source: std::io::Error::from_raw_os_error(1),
            }],
        };
        let lines = d.lines();
        assert_eq!(
            lines[0],
            "dropped privileges for the capture: every capability"
        );
        assert!(
            lines[1].starts_with("warning: could not drop every privilege (setuid(65534): "),
            "{lines:?}"
        );
    }

    #[test]
    fn filter_jumps_land_on_the_returns() {
        let prog = port_filter(&[6443, 10250], false);
        let n = prog.len();
        assert_eq!(prog[n - 2], (0x06, 0, 0, SNAPLEN as u32));
        assert_eq!(prog[n - 1], (0x06, 0, 0, 0));
        for (i, &(code, jt, jf, k)) in prog.iter().enumerate() {
            if code == 0x15 || code == 0x45 {
                assert!(i + 1 + (jt as usize) < n && i + 1 + (jf as usize) < n);
            }
            if code == 0x05 {
                assert!(i + 1 + (k as usize) < n);
            }
        }
        // One port check per port, for each of the four port loads.
        assert_eq!(
            prog.iter()
                .filter(|i| i.0 == 0x15 && (i.3 == 6443 || i.3 == 10250))
                .count(),
            8
        );
    }
}
