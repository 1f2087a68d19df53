//! Connections that never connected: a SYN with no answer, answered by RST, or by ICMP
//! destination unreachable. On a Kubernetes port that is the answer to "why can't the
//! kubelet reach the apiserver", so such attempts are reported, grouped by client address,
//! server and outcome (a retrying kubelet is one line with a count and its retry timing),
//! each group with a finding: `tcp-refused` (RST: nothing listens) or `tcp-no-answer`
//! (silence or ICMP: a firewall, a wrong address, a dead node).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::diagnose::{Finding, Severity};
use crate::flow::Flow;
use crate::source::Timestamp;

/// Groups kept per input; further groups are counted in `groups_not_listed`.
pub const MAX_GROUPS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// The server answered with RST.
    Refused,
    /// ICMP destination unreachable.
    Unreachable,
    /// No answer at all.
    NoAnswer,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Refused => "refused (RST)",
            AttemptOutcome::Unreachable => "unreachable (ICMP)",
            AttemptOutcome::NoAnswer => "no answer",
        }
    }
}

/// Attempts from one client address to one server that ended the same way.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptGroup {
    pub client: String,
    pub server: String,
    pub outcome: AttemptOutcome,
    /// Connections (distinct client ports or initial sequence numbers).
    pub attempts: u64,
    /// SYNs sent in all, retransmissions included.
    pub syn_packets: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Mean time between the attempts' first SYNs (null for one attempt).
    pub interval_seconds: Option<f64>,
    /// The ICMP code, for `unreachable`.
    pub icmp_code: Option<u8>,
    pub finding: Finding,
}

#[derive(Debug, Default)]
pub struct Attempts {
    groups: BTreeMap<(IpAddr, SocketAddr, AttemptOutcome), Pending>,
    pub groups_not_listed: u64,
}

#[derive(Debug)]
struct Pending {
    attempts: u64,
    syn_packets: u64,
    first: Timestamp,
    last: Timestamp,
    icmp_code: Option<u8>,
}

impl Attempts {
    /// Record `flow` if it never connected; false if it did (it is reported as usual).
    pub fn record(&mut self, flow: &Flow) -> bool {
        let Some(client) = flow.syn_from else {
            return false;
        };
        if !flow.never_connected() {
            return false;
        }
        let server = 1 - client;
        let outcome = if flow.icmp_unreachable.is_some() {
            AttemptOutcome::Unreachable
        } else if flow.rst_from == Some(server) {
            AttemptOutcome::Refused
        } else {
            AttemptOutcome::NoAnswer
        };
        let key = (flow.endpoints[client].ip(), flow.endpoints[server], outcome);
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            self.groups_not_listed += 1;
            return true;
        }
        let g = self.groups.entry(key).or_insert(Pending {
            attempts: 0,
            syn_packets: 0,
            first: flow.first_seen,
            last: flow.first_seen,
            icmp_code: None,
        });
        g.attempts += 1;
        g.syn_packets += u64::from(flow.syn_packets);
        if (flow.first_seen.secs, flow.first_seen.nanos) < (g.first.secs, g.first.nanos) {
            g.first = flow.first_seen;
        }
        if (flow.first_seen.secs, flow.first_seen.nanos) > (g.last.secs, g.last.nanos) {
            g.last = flow.first_seen;
        }
        g.icmp_code = g.icmp_code.or(flow.icmp_unreachable);
        true
    }

    pub fn into_groups(self) -> Vec<AttemptGroup> {
        self.groups
            .into_iter()
            .map(|((client, server, outcome), p)| group(client, server, outcome, p))
            .collect()
    }
}

fn group(client: IpAddr, server: SocketAddr, outcome: AttemptOutcome, p: Pending) -> AttemptGroup {
    let span = p.last.as_secs_f64() - p.first.as_secs_f64();
    let interval_seconds =
        (p.attempts > 1).then(|| (span / (p.attempts - 1) as f64 * 1000.0).round() / 1000.0);
    AttemptGroup {
        client: client.to_string(),
        server: server.to_string(),
        outcome,
        attempts: p.attempts,
        syn_packets: p.syn_packets,
        first_seen: p.first.to_rfc3339(),
        last_seen: p.last.to_rfc3339(),
        interval_seconds,
        icmp_code: p.icmp_code,
        finding: finding(client, server, outcome, &p),
    }
}

/// What the client logs: Go's `dial tcp <addr>: connect: connection refused`, or, for
/// silence, `i/o timeout` (a dial deadline) / `connect: connection timed out` (the kernel's
/// SYN retries), and for ICMP `connect: no route to host` / `connection refused`.
fn finding(client: IpAddr, server: SocketAddr, outcome: AttemptOutcome, p: &Pending) -> Finding {
    let n = p.attempts;
    let retrans = p.syn_packets.saturating_sub(n);
    match outcome {
        AttemptOutcome::Refused => Finding::new(
            "tcp-refused",
            Severity::Error,
            "connection",
            format!("{n} connection attempt(s) from {client} to {server} were refused (RST): nothing listens on port {}", server.port()),
        )
        .logged(format!("dial tcp {server}: connect: connection refused")),
        AttemptOutcome::NoAnswer => Finding::new(
            "tcp-no-answer",
            Severity::Error,
            "connection",
            format!("{n} connection attempt(s) from {client} to {server} got no answer ({retrans} SYN retransmission(s)): a firewall drops them, the address is wrong, or the host is down"),
        )
        .logged(format!("dial tcp {server}: i/o timeout")),
        AttemptOutcome::Unreachable => Finding::new(
            "tcp-no-answer",
            Severity::Error,
            "connection",
            format!(
                "{n} connection attempt(s) from {client} to {server} were answered by ICMP destination unreachable (code {}): a firewall rejects them, or no route",
                p.icmp_code.unwrap_or(0)
            ),
        )
        .logged(match p.icmp_code {
            Some(3) | Some(4) => format!("dial tcp {server}: connect: connection refused"),
            _ => format!("dial tcp {server}: connect: no route to host"),
        }),
    }
}
