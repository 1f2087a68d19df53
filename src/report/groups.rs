//! Connections that tell the same story, grouped: a kubelet reconnecting every ten seconds
//! with the same rejected certificate is one group of 360, printed once, not 360 blocks.
//!
//! Two connections are in one group when they have the same client role and address
//! family, the same server (address and port), the same certificates on both sides (by
//! SHA-256), the same outcome (handshake, visibility, alerts, HTTP status) and the same
//! findings (code, severity, subject). Messages are not compared: a finding's wording may
//! carry a time or an address that differs while the story does not.
//!
//! Memory is bounded: at most [`MAX_GROUPS`] groups (a connection beyond them is its own,
//! ungrouped), and [`MAX_IDS_PER_GROUP`] connection ids listed per group, the rest counted.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::correlate::Role;
use crate::model::{ConnectionReport, GroupReport, Handshake, Side, Visibility};

/// Groups kept; beyond, connections are reported one by one.
pub const MAX_GROUPS: usize = 10_000;
/// Connection ids listed per group; the rest are counted (`connection_ids_not_listed`).
pub const MAX_IDS_PER_GROUP: usize = 1_000;
/// Connection ids listed over all groups (about 8 bytes each).
pub const MAX_IDS: usize = 200_000;

/// What makes a group, kept for each group; a connection is compared with it in place
/// ([`GroupKey::matches`]), without building a key of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupKey {
    role: Option<Role>,
    ipv6: bool,
    server: String,
    server_certs: Option<Vec<String>>,
    client_certs: Option<Vec<String>>,
    handshake: Handshake,
    visibility: Visibility,
    alerts: Vec<(Side, Option<u8>)>,
    http_status: Option<u16>,
    findings: Vec<(&'static str, crate::diagnose::Severity, String)>,
}

impl GroupKey {
    fn of(c: &ConnectionReport) -> GroupKey {
        let shas = |v: &Option<Vec<crate::model::PresentedCert>>| {
            v.as_ref()
                .map(|certs| certs.iter().map(|p| p.sha256.clone()).collect())
        };
        GroupKey {
            role: c.role,
            ipv6: c.client.starts_with('['),
            server: c.server.clone(),
            server_certs: shas(&c.server_certificates),
            client_certs: shas(&c.client_certificates),
            handshake: c.handshake,
            visibility: c.visibility,
            alerts: c.alerts.iter().map(|a| (a.from, a.code)).collect(),
            http_status: c.http_response.map(|r| r.status),
            findings: c
                .findings
                .iter()
                .map(|f| (f.code, f.severity, f.subject.clone()))
                .collect(),
        }
    }

    /// A hash of the fields [`GroupKey::of`] takes from `c`, from `c` itself: no
    /// allocation per connection. Equal keys hash alike; the rest is [`GroupKey::matches`].
    fn hash_of(c: &ConnectionReport) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        c.role.hash(&mut h);
        c.client.starts_with('[').hash(&mut h);
        c.server.hash(&mut h);
        for side in [&c.server_certificates, &c.client_certificates] {
            match side {
                None => h.write_u8(0),
                Some(certs) => {
                    h.write_u8(1);
                    h.write_usize(certs.len());
                    for p in certs {
                        p.sha256.hash(&mut h);
                    }
                }
            }
        }
        c.handshake.hash(&mut h);
        c.visibility.hash(&mut h);
        h.write_usize(c.alerts.len());
        for a in &c.alerts {
            a.from.hash(&mut h);
            a.code.hash(&mut h);
        }
        c.http_response.map(|r| r.status).hash(&mut h);
        h.write_usize(c.findings.len());
        for f in &c.findings {
            f.code.hash(&mut h);
            f.severity.hash(&mut h);
            f.subject.hash(&mut h);
        }
        h.finish()
    }

    /// Whether `c` is of this group: [`GroupKey::of`]`(c) == *self`, compared in place.
    fn matches(&self, c: &ConnectionReport) -> bool {
        let same_chain =
            |mine: &Option<Vec<String>>, theirs: &Option<Vec<crate::model::PresentedCert>>| match (
                mine, theirs,
            ) {
                (None, None) => true,
                (Some(a), Some(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, p)| *x == p.sha256)
                }
                _ => false,
            };
        self.role == c.role
            && self.ipv6 == c.client.starts_with('[')
            && self.server == c.server
            && same_chain(&self.server_certs, &c.server_certificates)
            && same_chain(&self.client_certs, &c.client_certificates)
            && self.handshake == c.handshake
            && self.visibility == c.visibility
            && self.alerts.len() == c.alerts.len()
            && self
                .alerts
                .iter()
                .zip(&c.alerts)
                .all(|(&(from, code), a)| from == a.from && code == a.code)
            && self.http_status == c.http_response.map(|r| r.status)
            && self.findings.len() == c.findings.len()
            && self
                .findings
                .iter()
                .zip(&c.findings)
                .all(|((code, severity, subject), f)| {
                    *code == f.code && *severity == f.severity && *subject == f.subject
                })
    }
}

/// The groups of one report.
#[derive(Debug, Default)]
pub struct Groups {
    /// Hash of a group's key → the groups with that hash (nearly always one).
    index: FxHashMap<u64, Vec<usize>>,
    /// Each group's key, by its index in `list`.
    keys: Vec<GroupKey>,
    list: Vec<GroupReport>,
    ids_listed: usize,
    /// Connections not grouped because [`MAX_GROUPS`] was reached.
    pub ungrouped: u64,
}

/// Where a connection went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// The first connection of a new group (its detail is the group's).
    First(u32),
    /// Like an earlier one.
    Repeat(u32),
    /// Not grouped (too many groups): reported on its own.
    Alone,
}

impl Placed {
    pub fn group(self) -> Option<u32> {
        match self {
            Placed::First(g) | Placed::Repeat(g) => Some(g),
            Placed::Alone => None,
        }
    }
}

impl Groups {
    /// Count `c` into its group (its id may not be known yet: see [`Groups::add_id`]).
    pub fn add(&mut self, c: &ConnectionReport) -> Placed {
        let hash = GroupKey::hash_of(c);
        let found = self
            .index
            .get(&hash)
            .and_then(|gs| gs.iter().copied().find(|&g| self.keys[g].matches(c)));
        if let Some(g) = found {
            let group = &mut self.list[g];
            group.count += 1;
            if c.first_seen < group.first_seen {
                group.first_seen.clone_from(&c.first_seen);
            }
            if c.first_seen > group.last_seen {
                group.last_seen.clone_from(&c.first_seen);
            }
            return Placed::Repeat(g as u32);
        }
        if self.list.len() >= MAX_GROUPS {
            self.ungrouped += 1;
            return Placed::Alone;
        }
        let g = self.list.len();
        self.index.entry(hash).or_default().push(g);
        self.keys.push(GroupKey::of(c));
        self.list.push(GroupReport::first(g + 1, c));
        Placed::First(g as u32)
    }

    /// The connection of group `g` got document id `id` (ids arrive in increasing order
    /// when the document is assembled, or as connections stream).
    pub fn add_id(&mut self, g: u32, id: usize) {
        let Some(group) = self.list.get_mut(g as usize) else {
            return;
        };
        if group.representative == 0 {
            group.representative = id;
        }
        if group.connection_ids.len() < MAX_IDS_PER_GROUP && self.ids_listed < MAX_IDS {
            group.connection_ids.push(id);
            self.ids_listed += 1;
        } else {
            group.connection_ids_not_listed += 1;
        }
    }

    pub fn get(&self, g: u32) -> Option<&GroupReport> {
        self.list.get(g as usize)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number the groups in the order of their first connection in the document, in
    /// place (once every id is in).
    pub fn number(&mut self) {
        let mut order: Vec<usize> = (0..self.list.len()).collect();
        order.sort_by_key(|&i| {
            let r = self.list[i].representative;
            (r == 0, r)
        });
        for (n, i) in order.into_iter().enumerate() {
            self.list[i].group = n + 1;
        }
    }

    /// The groups, in their numbers' order.
    pub fn reports(&self) -> Vec<GroupReport> {
        let mut list = self.list.clone();
        list.sort_by_key(|g| g.group);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place comparison and hash agree with the owned key, on every pair of
    /// connections of the shipped captures.
    #[test]
    fn matching_in_place_is_comparing_keys() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut reports = Vec::new();
        for name in [
            "kubelet-rotated-tls12.pcap",
            "rogue-ca-sll.pcap",
            "broken-certs.pcap",
            "k8s-apiserver-authn.pcap",
            "tls13-go.pcap",
            "filtered-0x16.pcap",
            "retransmit-reorder.pcap",
        ] {
            let bytes = std::fs::read(format!("{dir}/{name}")).unwrap();
            let mut a = crate::analyze::Analyzer::new(&crate::analyze::Options::default());
            a.analyze_reader(name, std::io::Cursor::new(bytes), &mut |c| reports.push(c));
        }
        assert!(reports.len() >= 15);
        let mut equal_pairs = 0;
        for a in &reports {
            for b in &reports {
                let same = GroupKey::of(a) == GroupKey::of(b);
                assert_eq!(GroupKey::of(a).matches(b), same);
                if same {
                    equal_pairs += 1;
                    assert_eq!(GroupKey::hash_of(a), GroupKey::hash_of(b));
                }
            }
        }
        assert!(
            equal_pairs > reports.len(),
            "some connections group together"
        );
    }

    #[test]
    fn caps_hold() {
        let mut g = Groups::default();
        g.list.push(GroupReport::default());
        for id in 1..=MAX_IDS_PER_GROUP + 5 {
            g.add_id(0, id);
        }
        let r = &g.list[0];
        assert_eq!(r.representative, 1);
        assert_eq!(r.connection_ids.len(), MAX_IDS_PER_GROUP);
        assert_eq!(r.connection_ids_not_listed, 5);
    }
}
