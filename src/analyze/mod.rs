//! The offline pipeline: inputs → packets → flows → handshakes → connection reports.

pub mod attempts;
mod build;

use std::net::SocketAddr;

use crate::flow::{
    Flow, FlowKey, FlowTable, Slot, IDLE_TIMEOUT_SECS, MAX_BUFFERED_BYTES, MAX_FLOWS,
};
use crate::local::Inventory;
use crate::model::{ConnectionReport, InputReport, Warning};
use crate::source::{self, CaptureStats, Event, Packet, Timestamp};
use crate::tls::keylog::KeyLog;
use crate::tls::record::{plausible_header, CT_HANDSHAKE};
use crate::wire::{self, linktype, Skip};
use crate::x509::CertCache;

/// Kubernetes control-plane ports: apiserver, kubelet, etcd client/peer, controller-manager
/// and scheduler secure ports.
pub const DEFAULT_PORTS: &[u16] = &[6443, 10250, 2379, 2380, 10257, 10259];

/// How long a tombstone outlives its flow's last packet (capture time). Long enough to
/// swallow the trailing packets of a finished connection, short enough to stay small.
const TOMBSTONE_SECS: i64 = 60;
/// Flows given up at once when the table is full and none is idle.
const EVICT_BATCH: usize = MAX_FLOWS / 16;
/// Capture-time interval between sweeps of idle flows.
const SWEEP_EVERY_SECS: i64 = 10;

#[derive(Debug, Clone)]
pub struct Options {
    pub ports: Vec<u16>,
    /// Follow TLS on any port, recognised by a handshake record at the start of a flow.
    pub any_port: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ports: DEFAULT_PORTS.to_vec(),
            any_port: false,
        }
    }
}

/// Runs inputs through the pipeline; reports go to a sink as each handshake is decided.
pub struct Analyzer {
    any_port: bool,
    inventory: Option<std::sync::Arc<Inventory>>,
    /// Session secrets from --keylog files, for every input.
    keylog_given: Option<std::sync::Arc<KeyLog>>,
    /// The secrets of the input being read: those given, and its own pcapng Decryption
    /// Secrets Blocks, which serve no other input.
    keylog: Option<std::sync::Arc<KeyLog>>,
    /// `keylog` is the current input's own store (it has had a secrets block).
    own_secrets: bool,
    /// Secrets may arrive after the records they open (live, from processes).
    wait_for_keys: bool,
    ports: Box<[u64; 1024]>,
    cache: CertCache,
    /// What depends on nothing else but the inventory and the presented certificates:
    /// the candidates not presented, and each presented certificate's local files.
    candidates: build::FilesMemo,
    pub warnings: Vec<Warning>,
    /// Keep each followed flow's packets until its handshake is decided (--write).
    pub keep_packets: bool,
    /// Show progress on stderr (set only when stderr is a terminal).
    pub progress: bool,
    /// Read each input on a second thread while this one parses (off with --threads 1).
    pub read_ahead: bool,
    /// `--include-der`: every presented certificate carries its DER in base64.
    pub include_der: bool,
    written: Vec<(Timestamp, Vec<u8>)>,
    /// Client randoms of the connections whose packets are in `written` (their secrets go
    /// into a pcapng evidence file's Decryption Secrets Block), and whether the server
    /// ended the handshake with a fatal alert.
    written_sessions: Vec<([u8; 32], bool)>,
}

/// What the per-packet path updates for the input being read.
pub struct InputRun {
    input: String,
    table: FlowTable,
    report: InputReport,
    unsupported_warned: Vec<u16>,
    encrypted_warned: bool,
    attempts: attempts::Attempts,
}

impl InputRun {
    /// Counters so far (live capture prints them at the end).
    pub fn report_mut(&mut self) -> &mut InputReport {
        &mut self.report
    }
}

impl Analyzer {
    pub fn new(opts: &Options) -> Self {
        let mut ports = Box::new([0u64; 1024]);
        for &p in &opts.ports {
            ports[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        Analyzer {
            any_port: opts.any_port,
            inventory: None,
            keylog_given: None,
            keylog: None,
            own_secrets: false,
            wait_for_keys: false,
            ports,
            cache: CertCache::default(),
            candidates: Default::default(),
            warnings: Vec::new(),
            keep_packets: false,
            written: Vec::new(),
            written_sessions: Vec::new(),
            progress: false,
            read_ahead: true,
            include_der: false,
        }
    }

    /// An analyzer with the same configuration (ports, local files, key log) and fresh
    /// state, for another thread.
    pub fn fork(&self) -> Analyzer {
        Analyzer {
            any_port: self.any_port,
            inventory: self.inventory.clone(),
            keylog_given: self.keylog_given.clone(),
            keylog: self.keylog_given.clone(),
            own_secrets: false,
            wait_for_keys: self.wait_for_keys,
            ports: self.ports.clone(),
            cache: CertCache::default(),
            candidates: Default::default(),
            warnings: Vec::new(),
            keep_packets: self.keep_packets,
            written: Vec::new(),
            written_sessions: Vec::new(),
            progress: false,
            read_ahead: self.read_ahead,
            include_der: self.include_der,
        }
    }

    /// Decrypt TLS 1.3 handshakes of every input with these secrets (`--keylog`).
    pub fn add_keylog_text(&mut self, text: &str) {
        self.keylog_given
            .get_or_insert_with(Default::default)
            .add_text(text, crate::tls::keylog::KeySource::KeylogFile);
        self.keylog = self.keylog_given.clone();
    }

    /// Live with process keys: one store for every flow, filled as secrets arrive; flows
    /// hold their encrypted records a while when the keys are not there yet.
    pub fn wait_for_process_keys(&mut self) -> std::sync::Arc<KeyLog> {
        let k = self
            .keylog_given
            .get_or_insert_with(Default::default)
            .clone();
        self.keylog = Some(k.clone());
        self.wait_for_keys = true;
        k
    }

    /// A Decryption Secrets Block of the input being read: for its flows only. One store
    /// per input, shared by its flows: added to in place, never copied per flow.
    fn add_input_secrets(&mut self, text: &str) {
        if !self.own_secrets {
            // First block of this input: a store of its own, starting from what was given.
            self.own_secrets = true;
            let own = match &self.keylog_given {
                Some(k) => k.snapshot(),
                None => KeyLog::default(),
            };
            self.keylog = Some(std::sync::Arc::new(own));
        }
        if let Some(k) = &self.keylog {
            k.add_text(text, crate::tls::keylog::KeySource::Pcapng);
        }
    }

    /// Correlate presented certificates with these local files.
    pub fn set_inventory(&mut self, inv: std::sync::Arc<Inventory>) {
        self.inventory = Some(inv);
        self.candidates = Default::default();
    }

    #[inline]
    fn is_port(&self, p: u16) -> bool {
        self.ports[usize::from(p >> 6)] & (1 << (p & 63)) != 0
    }

    /// Analyze one input ("-" is stdin). Every connection is handed to `sink` when its
    /// handshake is decided or the input ends. Problems with the input are recorded in the
    /// returned report (and in `warnings`), never raised: results found before a problem
    /// are kept.
    pub fn analyze_input(
        &mut self,
        path: &str,
        sink: &mut dyn FnMut(ConnectionReport),
    ) -> InputReport {
        match source::open_input(path) {
            Ok(input) => {
                let gzip = input.gzip;
                let mut report = self.read_input(path, input.reader, input.file, input.size, sink);
                report.gzip = gzip;
                report
            }
            Err(e) => {
                self.warn(path, None, None, e.to_string());
                InputReport {
                    path: path.to_string(),
                    error: Some(e.to_string()),
                    ..Default::default()
                }
            }
        }
    }

    /// Analyze a capture already opened (and decompressed); `name` labels it in reports.
    pub fn analyze_reader(
        &mut self,
        name: &str,
        reader: impl std::io::BufRead + Send + 'static,
        sink: &mut dyn FnMut(ConnectionReport),
    ) -> InputReport {
        self.read_input(name, reader, None, None, sink)
    }

    /// `size`: the input's length when known, for the progress line.
    fn read_input(
        &mut self,
        name: &str,
        reader: impl std::io::BufRead + Send + 'static,
        file: Option<std::fs::File>,
        size: Option<u64>,
        sink: &mut dyn FnMut(ConnectionReport),
    ) -> InputReport {
        let mut run = self.begin(name);
        self.keylog = self.keylog_given.clone();
        self.own_secrets = false;
        let mut stats = CaptureStats::default();
        let label = if name == "-" { "<stdin>" } else { name };
        let mut progress = Progress::new(self.progress, label, size);
        let mut reported = 0u64;
        let result =
            source::read_capture_file(label, reader, file, &mut stats, self.read_ahead, |ev| {
                match ev {
                    Event::Packet(p) => {
                        self.feed(&mut run, &p, &mut |c| {
                            reported += 1;
                            sink(c)
                        });
                        progress.tick(&p, run.report.tcp_segments_followed, reported);
                    }
                    // Flows created after this block decrypt with it (dumpcap and editcap write
                    // secrets blocks before the packets they decrypt).
                    Event::TlsKeyLog(text) => {
                        self.add_input_secrets(&String::from_utf8_lossy(text))
                    }
                }
            });
        progress.done();
        if let Err(e) = result {
            run.report.error = Some(e.to_string());
            // The input is named by the record, not again in its message.
            let text = e.to_string();
            let message = text
                .strip_prefix(&format!("{label}: "))
                .unwrap_or(&text)
                .to_string();
            self.warnings.push(Warning {
                level: crate::model::Level::Error,
                input: name.to_string(),
                packet: None,
                offset: None,
                message,
            });
        }
        run.report.format = stats.format.map(|f| match f {
            source::CaptureFormat::Pcap => "pcap",
            source::CaptureFormat::Pcapng => "pcapng",
        });
        run.report.nanosecond = stats.nanosecond;
        run.report.big_endian = stats.big_endian;
        run.report.link_types = stats
            .link_types
            .iter()
            .map(|&l| linktype::name(l))
            .collect();
        run.report.packets = stats.packets;
        run.report.bytes = stats.bytes;
        if let Some(off) = stats.truncated_at {
            run.report.truncated_at = Some(off);
            self.warn(
                name,
                Some(stats.packets),
                Some(off),
                format!(
                    "capture ends in the middle of a record at byte {off} (after packet {}): \
                     the file was cut off (tcpdump killed?); everything before the cut is reported",
                    stats.packets
                ),
            );
        }
        self.end(run, sink)
    }

    /// Start an input whose packets are handed to [`Analyzer::feed`] one by one (live
    /// capture); [`Analyzer::end`] finishes it.
    pub fn begin(&self, name: &str) -> InputRun {
        InputRun {
            input: name.to_string(),
            table: FlowTable::default(),
            report: InputReport {
                path: name.to_string(),
                ..Default::default()
            },
            unsupported_warned: Vec::new(),
            encrypted_warned: false,
            attempts: attempts::Attempts::default(),
        }
    }

    pub fn feed(
        &mut self,
        run: &mut InputRun,
        p: &Packet<'_>,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        self.on_packet(run, p, sink);
    }

    /// The input is over: finish every open flow, in order of first packet.
    pub fn end(
        &mut self,
        mut run: InputRun,
        sink: &mut dyn FnMut(ConnectionReport),
    ) -> InputReport {
        let mut open: Vec<FlowKey> = run
            .table
            .map
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Active(_)))
            .map(|(k, _)| *k)
            .collect();
        open.sort_by_key(|k| match run.table.map.get(k) {
            Some(Slot::Active(f)) => f.first_packet,
            _ => 0,
        });
        for key in open {
            self.finish_flow(&mut run, key, None, sink);
        }
        run.report.connection_attempts_not_listed = run.attempts.groups_not_listed;
        run.report.connection_attempts = run.attempts.into_groups();
        run.report
    }

    /// Packets of the handshakes reported since the last call (with `keep_packets`), in
    /// capture order per connection, for `--write`.
    /// The NSS key log lines of the connections written since the last call: handshake
    /// secrets, and application secrets only when asked for.
    pub fn take_written_secrets(&mut self, application: bool) -> String {
        let sessions = std::mem::take(&mut self.written_sessions);
        let Some(keylog) = &self.keylog else {
            return String::new();
        };
        sessions
            .iter()
            .map(|(r, rejected)| keylog.lines_for(r, application, *rejected))
            .collect()
    }

    pub fn take_written(&mut self) -> Vec<(Timestamp, Vec<u8>)> {
        std::mem::take(&mut self.written)
    }

    fn warn(&mut self, input: &str, packet: Option<u64>, offset: Option<u64>, message: String) {
        self.warnings.push(Warning {
            level: crate::model::Level::Warning,
            input: input.to_string(),
            packet,
            offset,
            message,
        });
    }

    /// A frame that gave no TCP segment: counted, warned about once, or (ICMP
    /// unreachable) the end of the connection attempt it answers.
    fn on_skip(
        &mut self,
        run: &mut InputRun,
        p: &Packet<'_>,
        skip: Skip,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        match skip {
            Skip::NotTcp => {}
            Skip::Encrypted(kind) => {
                run.report.frames_encrypted_tunnel += 1;
                if !run.encrypted_warned {
                    run.encrypted_warned = true;
                    let msg = format!(
                    "{kind} traffic: TLS handshakes may be inside it, encrypted by the CNI or a VPN; \
                     capture inside the tunnel (the pod's veth, cni0, cilium_host) to see them"
                );
                    self.warn(&run.input.clone(), Some(p.number), None, msg);
                }
            }
            Skip::Unreachable(u) => {
                let key = FlowKey::new((u.src, u.src_port), (u.dst, u.dst_port));
                if let Some(Slot::Active(f)) = run.table.map.get_mut(&key) {
                    f.icmp_unreachable = Some(u.code);
                    self.finish_flow(run, key, None, sink);
                }
            }
            Skip::UnsupportedEncapsulation(_) => {
                run.report.frames_unsupported_encapsulation += 1;
            }
            Skip::Malformed => {
                run.report.frames_malformed += 1;
            }
            Skip::UnsupportedLink => {
                run.report.frames_unsupported_link += 1;
                if !run.unsupported_warned.contains(&p.linktype) {
                    run.unsupported_warned.push(p.linktype);
                    let msg = format!(
                    "link type {} is not supported; its frames are skipped (supported: Ethernet, \
                     Linux SLL/SLL2, NULL/LOOP, raw IPv4/IPv6)",
                    linktype::name(p.linktype)
                );
                    self.warn(&run.input.clone(), Some(p.number), None, msg);
                }
            }
        }
    }

    fn on_packet(
        &mut self,
        run: &mut InputRun,
        p: &Packet<'_>,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        let seg = match wire::decode(p.linktype, p.data) {
            Ok(s) => s,
            Err(skip) => return self.on_skip(run, p, skip, sink),
        };
        let followed = self.any_port || self.is_port(seg.src_port) || self.is_port(seg.dst_port);
        if !followed && !self.through_proxy(run, &seg) {
            count_skipped_hello(&mut run.report, &seg);
            return;
        }
        // Sweep before anything can be refused: a table full of stale flows must expire
        // them, not turn new connections away.
        if p.ts.secs.saturating_sub(run.table.last_sweep.secs) >= SWEEP_EVERY_SECS
            || run.table.map.len() >= 2 * MAX_FLOWS
        {
            self.sweep(run, p.ts, sink);
        }
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let key = FlowKey::new((seg.src, seg.src_port), (seg.dst, seg.dst_port));
        let new_connection = seg.flags.syn && !seg.flags.ack;
        match run.table.map.get_mut(&key) {
            Some(Slot::Done { last_seen, syn_isn }) => {
                if !new_connection || *syn_isn == Some(seg.seq) {
                    *last_seen = p.ts;
                    return;
                }
                // The 4-tuple was reused by a new connection.
            }
            Some(Slot::Active(f)) => {
                // A new SYN with another ISN: the old connection is gone (its end was not
                // captured) and the 4-tuple reused. Report the old one and start afresh.
                if new_connection && f.syn_isn.is_some_and(|isn| isn != seg.seq) {
                    self.finish_flow(
                        run,
                        key,
                        Some("the 4-tuple was reused by a new connection"),
                        sink,
                    );
                    run.table.map.remove(&key);
                }
            }
            None => {
                let starts_tls = seg.payload.len() >= 5
                    && seg.payload[0] == CT_HANDSHAKE
                    && plausible_header(seg.payload);
                let worth = if self.any_port {
                    new_connection || starts_tls
                } else {
                    new_connection || !seg.payload.is_empty()
                };
                if !worth {
                    return;
                }
            }
        }
        run.report.tcp_segments_followed += 1;
        if !matches!(run.table.map.get(&key), Some(Slot::Active(_))) {
            if run.table.active >= MAX_FLOWS {
                self.make_room(run, p.ts, sink);
            }
            let mut flow = Box::new(Flow::new(src, dst, p.number, p.ts, self.keylog.clone()));
            flow.tunnel = seg.tunnel;
            if self.wait_for_keys {
                flow.tls.wait_for_keys();
            }
            flow.via_proxy = !followed;
            run.table.proxied += usize::from(!followed);
            run.table.map.insert(key, Slot::Active(flow));
            run.table.active += 1;
        }
        let Some(Slot::Active(flow)) = run.table.map.get_mut(&key) else {
            return;
        };
        let before = flow.buffered_bytes();
        if self.keep_packets {
            flow.keep_packet(p.ts, p.data);
        }
        let d = flow.dir_of(src);
        flow.on_segment(d, p.ts, &seg);
        if flow.via_proxy && !self.any_port {
            // Followed for the port its proxy exchange names: not one of ours after all.
            let target = flow.preamble.hop().and_then(|h| h.target_port);
            flow.not_followed = target.is_some_and(|t| !self.is_port(t));
        }
        if flow.tls.waiting()
            && p.ts.as_secs_f64() - flow.first_seen.as_secs_f64() > crate::tls::held::KEY_WAIT_SECS
        {
            flow.tls.stop_waiting();
        }
        let after = flow.buffered_bytes();
        run.table.buffered = (run.table.buffered + after).saturating_sub(before);
        if flow.is_done() || flow.not_followed {
            self.finish_flow(run, key, None, sink);
        } else if run.table.buffered > MAX_BUFFERED_BYTES {
            run.report.flows_dropped_by_cap += 1;
            self.finish_flow(run, key, Some("the global buffer cap was reached"), sink);
        }
    }

    /// A segment on ports not followed belongs to a connection through a proxy: its client
    /// opens an HTTP CONNECT or SOCKS exchange naming a followed port (SOCKS5 names it only
    /// later: followed until it does), or its flow is one already followed for that. Costs
    /// one byte comparison per packet while no such flow is open.
    fn through_proxy(&self, run: &InputRun, seg: &crate::wire::TcpSegment<'_>) -> bool {
        use crate::flow::preamble;
        if preamble::detect(seg.payload).is_some() {
            return preamble::early_target_port(seg.payload).is_none_or(|p| self.is_port(p));
        }
        run.table.proxied > 0
            && matches!(
                run.table.map.get(&FlowKey::new((seg.src, seg.src_port), (seg.dst, seg.dst_port))),
                Some(Slot::Active(f)) if f.via_proxy
            )
    }

    /// The table is full: expire idle flows, and if none is idle, give up the flows idle
    /// longest (a batch, so that a flood costs a sort per `EVICT_BATCH` new flows, not a
    /// scan per packet). A flood of half-open flows then costs old flows, never new ones.
    fn make_room(
        &mut self,
        run: &mut InputRun,
        now: Timestamp,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        self.sweep(run, now, sink);
        if run.table.active < MAX_FLOWS {
            return;
        }
        let mut active: Vec<(Timestamp, u64, FlowKey)> = run
            .table
            .map
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Active(f) => Some((f.last_seen, f.first_packet, *k)),
                Slot::Done { .. } => None,
            })
            .collect();
        let n = EVICT_BATCH.min(active.len());
        active.select_nth_unstable_by(n.saturating_sub(1), |a, b| {
            (a.0.secs, a.0.nanos, a.1).cmp(&(b.0.secs, b.0.nanos, b.1))
        });
        active.truncate(n);
        active.sort_by_key(|(_, first, _)| *first);
        for (_, _, key) in active {
            run.report.flows_dropped_by_cap += 1;
            self.finish_flow(
                run,
                key,
                Some("the flow table was full: the longest idle flows were given up"),
                sink,
            );
        }
    }

    /// Finish flows idle past the timeout and forget old tombstones.
    fn sweep(
        &mut self,
        run: &mut InputRun,
        now: Timestamp,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        run.table.last_sweep = now;
        // Tombstones are expired by capture time; a capture whose time does not advance
        // (pcapng simple packet blocks carry none) is swept by count instead.
        let flood = run.table.map.len() >= 2 * MAX_FLOWS;
        let mut idle: Vec<(u64, FlowKey)> = Vec::new();
        run.table.map.retain(|k, s| match s {
            Slot::Done { last_seen, .. } => {
                now.secs.saturating_sub(last_seen.secs) < TOMBSTONE_SECS && !flood
            }
            Slot::Active(f) => {
                if now.as_secs_f64() - f.last_seen.as_secs_f64() > IDLE_TIMEOUT_SECS {
                    idle.push((f.first_packet, *k));
                }
                true
            }
        });
        idle.sort_by_key(|(n, _)| *n);
        for (_, key) in idle {
            self.finish_flow(run, key, Some("idle timeout"), sink);
        }
    }

    fn finish_flow(
        &mut self,
        run: &mut InputRun,
        key: FlowKey,
        abandoned: Option<&'static str>,
        sink: &mut dyn FnMut(ConnectionReport),
    ) {
        let Some(Slot::Active(mut flow)) = run.table.map.remove(&key) else {
            return;
        };
        run.table.active -= 1;
        run.table.proxied -= usize::from(flow.via_proxy);
        run.table.buffered = run.table.buffered.saturating_sub(flow.buffered_bytes());
        flow.abandoned = abandoned;
        flow.finish();
        run.table.map.insert(
            key,
            Slot::Done {
                last_seen: flow.last_seen,
                syn_isn: flow.syn_isn,
            },
        );
        if run.attempts.record(&flow) {
            return;
        }
        if !flow.is_reportable() {
            let f = &flow.tls.facts;
            if f.not_tls[0] || f.not_tls[1] {
                run.report.flows_not_tls += 1;
            } else {
                run.report.flows_without_handshake += 1;
            }
            return;
        }
        if let Some(packets) = flow.kept_packets.take() {
            self.written.extend(packets);
        }
        let ports = &self.ports;
        let client =
            build::client_dir(&flow, |p| ports[usize::from(p >> 6)] & (1 << (p & 63)) != 0);
        let mut report = build::build(
            &flow,
            &run.input,
            client,
            &mut self.cache,
            &mut self.candidates,
            self.inventory.as_deref(),
        );
        if self.include_der {
            crate::export::add_der_base64(&mut report);
        }
        let f = &flow.tls.facts;
        if let (Some(keylog), Some(ch)) = (&self.keylog, &f.client_hello) {
            if f.decrypted[0] || f.decrypted[1] || f.tls12_decrypting {
                if let Some(s) = keylog.get(&ch.random) {
                    report.key_sources = s.sources.iter().map(Into::into).collect();
                }
            }
            if self.keep_packets {
                let rejected = report.handshake == crate::model::Handshake::Failed
                    && report
                        .alerts
                        .iter()
                        .any(|a| a.from == crate::model::Side::Server && a.level == Some("fatal"));
                self.written_sessions.push((ch.random, rejected));
            }
        }
        sink(report);
    }
}

/// A one-line progress display on stderr for long runs. Checked every 65,536 packets, so it
/// costs nothing measurable; redrawn at most twice a second.
struct Progress {
    on: bool,
    label: String,
    size: Option<u64>,
    started: std::time::Instant,
    last: std::time::Instant,
    drawn: bool,
}

impl Progress {
    fn new(on: bool, label: &str, size: Option<u64>) -> Self {
        let now = std::time::Instant::now();
        Progress {
            on,
            label: label.to_string(),
            size,
            started: now,
            last: now,
            drawn: false,
        }
    }

    #[inline]
    fn tick(&mut self, p: &Packet<'_>, followed: u64, handshakes: u64) {
        if !self.on || p.number & 0xffff != 0 || self.last.elapsed().as_millis() < 500 {
            return;
        }
        self.last = std::time::Instant::now();
        self.drawn = true;
        let read = match self.size {
            Some(size) if size > 0 => format!(
                "{} of {} MB ({:.0} %)",
                p.offset / 1_000_000,
                size / 1_000_000,
                p.offset as f64 * 100.0 / size as f64
            ),
            _ => format!("{} MB", p.offset / 1_000_000),
        };
        eprint!(
            "\rcertwire: {}: {read}, {} packets ({} followed), {} handshakes, {:.0} s",
            self.label,
            p.number,
            followed,
            handshakes,
            self.started.elapsed().as_secs_f64()
        );
    }

    fn done(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Ports whose skipped handshakes are counted one by one; the rest are counted together.
const MAX_SKIPPED_PORTS: usize = 64;

/// A ClientHello on a port not followed: counted by server port, so that the report can say
/// what `--ports` or `--any-port` would add.
fn count_skipped_hello(report: &mut InputReport, seg: &crate::wire::TcpSegment<'_>) {
    let p = seg.payload;
    if p.len() < 6 || p[0] != CT_HANDSHAKE || p[1] != 3 || p[5] != 1 {
        return;
    }
    let map = &mut report.tls_handshakes_not_followed;
    if map.len() < MAX_SKIPPED_PORTS || map.contains_key(&seg.dst_port) {
        *map.entry(seg.dst_port).or_default() += 1;
    } else {
        *map.entry(0).or_default() += 1;
    }
}
