//! The node's certificate files: what is on disk, and every route by which each certificate
//! is reachable (symlinks, kubeconfig entries, component flags and config fields).
//!
//! Loading never aborts: unreadable or malformed files are listed with the reason. Private
//! key blocks are recognised by their PEM label and skipped unread. Only regular files are
//! read, up to MAX_FILE ([`read`]); under `--root` every path is resolved inside the root
//! as a chroot would resolve it ([`resolve`]).

mod pem;
mod read;
mod resolve;
pub(crate) mod yaml;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::x509::{cert_keys, CertCache, CertKeys, CertSummary};

pub use read::{read_named, ReadError, MAX_FILE, MAX_KEYLOG};
use read::{FileId, Kind};
use resolve::{Loc, Resolved, Resolver, Unresolved, MAX_LINKS};

/// Directories are searched this deep below each location.
const MAX_DEPTH: usize = 8;

/// Where to look, as the command line said.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Files or directories (`--certs`). Empty: the standard locations.
    pub paths: Vec<PathBuf>,
    /// A copy of a node's filesystem: absolute paths in symlinks, kubeconfigs, flags and the
    /// standard locations resolve below it.
    pub root: Option<PathBuf>,
    /// Search the standard locations when no `--certs` is given.
    pub defaults: bool,
}

/// The standard locations on a kubeadm node.
pub const DEFAULT_LOCATIONS: &[&str] = &[
    "etc/kubernetes",
    "var/lib/kubelet/pki",
    "var/lib/kubelet/config.yaml",
];

#[derive(Debug, Clone, Serialize)]
pub struct Searched {
    pub path: String,
    pub exists: bool,
    /// A standard location (searched because no --certs was given).
    pub default: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

/// One certificate found locally, at one location.
#[derive(Debug, Clone)]
pub struct LocalCert {
    /// The file holding it, as found under the searched location.
    pub path: String,
    /// Where in the file, when not the whole file: `#1` (second certificate of a bundle),
    /// `users[name].client-certificate-data` (kubeconfig).
    pub entry: Option<String>,
    /// Routes: symlinks to the file, kubeconfig entries, flags and config fields naming it.
    pub via: Vec<String>,
    pub keys: CertKeys,
    pub der: Vec<u8>,
    pub summary: Arc<CertSummary>,
    /// The file also holds a private key (cert + key PEM, as the kubelet writes).
    pub with_private_key: bool,
    /// The roles whose configuration names this certificate, as bits in
    /// `correlate::Role::ALL`'s order: worked out on the first question (diagnosis asks
    /// it of every local certificate on every connection) and forgotten when a route is
    /// added.
    pub configured_roles: std::sync::OnceLock<u16>,
}

impl LocalCert {
    /// `path` plus `#entry`, for display.
    pub fn has_route(&self, needle: &str) -> bool {
        self.via.iter().any(|v| v.contains(needle))
    }

    pub fn location(&self) -> String {
        location(&self.path, &self.entry)
    }
}

/// A command-line flag of a static pod's container, as the manifest gives it.
#[derive(Debug, Clone)]
pub struct Flag {
    pub component: String,
    pub name: String,
    pub value: String,
    pub manifest: String,
}

/// A kubeconfig found among the node's files: which clusters (and servers) it names.
#[derive(Debug, Clone)]
pub struct Kubeconfig {
    /// The file, as reported (the `path` of its embedded certificates).
    pub path: String,
    /// (cluster name, `server:` URL).
    pub clusters: Vec<(String, Option<String>)>,
}

impl Kubeconfig {
    /// The route naming this kubeconfig's CA of `cluster` (embedded `-data` or file form).
    pub fn ca_route(&self, cluster: &str) -> String {
        format!(
            "kubeconfig:{}#clusters[{cluster}].certificate-authority",
            self.path
        )
    }

    /// The route naming a user's client certificate in this kubeconfig.
    pub fn user_route(&self) -> String {
        format!("kubeconfig:{}#users[", self.path)
    }
}

#[derive(Debug, Default)]
pub struct Inventory {
    /// [`Inventory::routed`]'s answers, by needle.
    routes: std::sync::Mutex<rustc_hash::FxHashMap<String, Vec<usize>>>,
    pub root: Option<String>,
    /// Every flag of every static pod manifest found (for rules that need settings such
    /// as --requestheader-allowed-names).
    pub flags: Vec<Flag>,
    /// The kubelet's `rotateCertificates`, when its config.yaml was found.
    pub kubelet_rotate_certificates: Option<bool>,
    /// Every kubeconfig read, with its clusters' servers (to infer which CA a client that
    /// dialed a server trusts).
    pub kubeconfigs: Vec<Kubeconfig>,
    pub searched: Vec<Searched>,
    pub certs: Vec<LocalCert>,
    pub problems: Vec<Problem>,
    pub files_read: usize,
}

/// Build the inventory. Paths are reported as found (joined from the location given).
/// `path`, plus `#entry` when the certificate is a part of the file (`#1` for the second
/// of a bundle, `#users[NAME].client-certificate-data` in a kubeconfig).
pub fn location(path: &str, entry: &Option<String>) -> String {
    match entry {
        Some(e) if e.starts_with('#') => format!("{path}{e}"),
        Some(e) => format!("{path}#{e}"),
        None => path.to_string(),
    }
}

impl Inventory {
    /// The certificates (by index) with a route containing `needle` (a flag, a config
    /// field, a kubeconfig entry), remembered: diagnosis asks the same few questions of
    /// every connection, and each scans every route of every local certificate. Asked of
    /// a finished inventory only (the scan adds routes until it returns).
    pub fn routed(&self, needle: &str) -> Vec<usize> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = routes.get(needle) {
            return found.clone();
        }
        let found: Vec<usize> = (self.certs.iter().enumerate())
            .filter(|(_, c)| c.has_route(needle))
            .map(|(i, _)| i)
            .collect();
        // Needles come from the code and the node's own kubeconfigs: a few dozen.
        if routes.len() < 4096 {
            routes.insert(needle.to_string(), found.clone());
        }
        found
    }

    /// A manifest flag's value (`flag("kube-apiserver", "requestheader-allowed-names")`).
    pub fn flag(&self, component: &str, name: &str) -> Option<&Flag> {
        self.flags
            .iter()
            .find(|f| f.component == component && f.name == name)
    }
}

pub fn scan(opts: &ScanOptions) -> Inventory {
    let mut s = Scanner::new(opts.root.clone());
    s.inv.root = opts.root.as_ref().map(|r| r.display().to_string());
    let locations: Vec<(Loc, bool)> = if !opts.paths.is_empty() {
        opts.paths
            .iter()
            .map(|p| (s.paths.locate(p), false))
            .collect()
    } else if opts.defaults {
        s.default_locations()
    } else {
        Vec::new()
    };
    for (loc, default) in locations {
        s.search(&loc, default);
    }
    s.finish()
}

/// For the fuzz targets in fuzz/ only: the PEM splitter [`scan`] applies to every PEM file
/// and to each embedded kubeconfig entry.
#[doc(hidden)]
pub fn split_pem(text: &str) -> pem::PemContents {
    pem::split(text)
}

/// For the fuzz targets in fuzz/ only: the YAML parser [`scan`] applies to kubeconfigs,
/// the kubelet's config and static pod manifests, with each container's flags.
#[doc(hidden)]
pub fn parse_yaml(text: &str) -> Result<(yaml::Doc, Vec<(String, String)>), String> {
    let doc = yaml::parse(text)?;
    let flags = doc
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(yaml::flags)
        .collect();
    Ok((doc, flags))
}

struct Scanner {
    paths: Resolver,
    inv: Inventory,
    cache: CertCache,
    /// Files already loaded (whatever the path they were reached by) → display path.
    loaded: HashMap<FileId, String>,
    visited_dirs: HashSet<FileId>,
    /// Routes to attach to every certificate of a file.
    routes: Vec<(FileId, String)>,
}

impl Scanner {
    fn new(root: Option<PathBuf>) -> Self {
        Scanner {
            paths: Resolver::new(root),
            inv: Inventory::default(),
            cache: CertCache::default(),
            loaded: HashMap::new(),
            visited_dirs: HashSet::new(),
            routes: Vec::new(),
        }
    }

    fn problem(&mut self, path: &str, reason: String) {
        self.inv.problems.push(Problem {
            path: path.to_string(),
            reason,
        });
    }

    /// The standard locations (in the root when there is one), then the kubeconfigs
    /// kubectl would use.
    fn default_locations(&mut self) -> Vec<(Loc, bool)> {
        let rooted = self.paths.root().is_some();
        let mut out: Vec<Loc> = DEFAULT_LOCATIONS
            .iter()
            .map(|l| {
                let p = Path::new("/").join(l);
                if rooted {
                    Loc::Rooted(p)
                } else {
                    Loc::Host(p)
                }
            })
            .collect();
        out.extend(self.user_kubeconfigs());
        out.into_iter().map(|l| (l, true)).collect()
    }

    /// The kubeconfigs kubectl would use: `$KUBECONFIG` and `~/.kube/config` of the user
    /// running certwire, or, in a copy of a node, `/root/.kube/config` and
    /// `/home/*/.kube/config`. A stale one of these is the commonest cause of "certificate
    /// signed by unknown authority" in kubectl.
    fn user_kubeconfigs(&mut self) -> Vec<Loc> {
        let mut out = Vec::new();
        if self.paths.root().is_none() {
            if let Some(list) = std::env::var_os("KUBECONFIG") {
                out.extend(
                    std::env::split_paths(&list)
                        .filter(|p| !p.as_os_str().is_empty())
                        .map(Loc::Host),
                );
            }
            if let Some(home) = std::env::var_os("HOME") {
                out.push(Loc::Host(PathBuf::from(home).join(".kube/config")));
            }
            return out;
        }
        out.push(Loc::Rooted(PathBuf::from("/root/.kube/config")));
        // home/ is listed as the node sees it: a link there stays in the root too.
        let home = Loc::Rooted(PathBuf::from("/home"));
        match self.paths.resolve(&home) {
            Ok(r) if r.meta.is_dir() => {
                let mut names: Vec<OsString> = std::fs::read_dir(&r.real)
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                    .unwrap_or_default();
                names.sort();
                out.extend(
                    names
                        .into_iter()
                        .map(|n| r.shown.join(n).join(".kube/config")),
                );
            }
            Ok(_) => {}
            Err(e) if e.something_there() => self.unresolved(&home, &e),
            Err(_) => {}
        }
        out
    }

    /// One location of the command line or the standard ones.
    fn search(&mut self, loc: &Loc, default: bool) {
        let resolved = self.paths.resolve(loc);
        self.inv.searched.push(Searched {
            path: self.paths.display(loc),
            exists: resolved
                .as_ref()
                .map_or_else(Unresolved::something_there, |_| true),
            default,
        });
        match resolved {
            Ok(r) => self.enter(loc, r, 0),
            // A standard location that is not there is no news; one that leads nowhere is.
            Err(e) if !default || e.something_there() => self.unresolved(loc, &e),
            Err(_) => {}
        }
    }

    fn visit(&mut self, loc: &Loc, depth: usize) {
        match self.paths.resolve(loc) {
            Ok(r) => self.enter(loc, r, depth),
            Err(e) => self.unresolved(loc, &e),
        }
    }

    /// A resolved path: a directory is searched, anything else is loaded as a file (or
    /// reported as what it is).
    fn enter(&mut self, named: &Loc, r: Resolved, depth: usize) {
        if r.meta.is_dir() {
            return self.visit_dir(&r, depth);
        }
        if let Some(kind) = special(&r) {
            let what = if r.via_link {
                let to = self.paths.display(&r.shown);
                format!("symlink to {to}, which is {kind}")
            } else {
                kind.to_string()
            };
            return self.problem(&self.paths.display(named), format!("{what}: not read"));
        }
        if let Some(id) = self.load_file(&r) {
            if r.via_link {
                let route = format!("symlink:{}", self.paths.display(named));
                self.routes.push((id, route));
            }
        }
    }

    fn unresolved(&mut self, loc: &Loc, e: &Unresolved) {
        let reason = self.why(loc, e);
        self.problem(&self.paths.display(loc), reason);
    }

    /// Why `named` does not resolve, as a clause: "does not exist", "symlink to T, which
    /// does not exist", "L is a symlink to T, which does not exist inside the root (X is
    /// missing)", "..., which climbs above the root (...); inside the root, X does not
    /// exist".
    fn why(&self, named: &Loc, e: &Unresolved) -> String {
        let (at, link, climbed, rooted) = match e {
            Unresolved::Missing {
                at,
                link,
                climbed,
                rooted,
            } => (at, link, *climbed, *rooted),
            Unresolved::Loop { link } if *link == self.paths.display(named) => {
                return format!("symlink loop (more than {MAX_LINKS} links)")
            }
            Unresolved::Loop { link } => {
                return format!("symlink loop at {link} (more than {MAX_LINKS} links)")
            }
            Unresolved::NotADirectory { at } => return format!("{at} is not a directory"),
            Unresolved::Io { at, source } => return format!("cannot read {at}: {source}"),
        };
        let subject = match link {
            Some(l) if l.path == self.paths.display(named) => {
                format!("symlink to {}, which ", l.target.display())
            }
            Some(l) => format!("{} is a symlink to {}, which ", l.path, l.target.display()),
            None if climbed => "the path ".to_string(),
            None => String::new(),
        };
        let exist = match (rooted, climbed) {
            (true, true) => format!(
                "climbs above the root (`..` stops there, as in a chroot); inside the root, {at} does not exist"
            ),
            (true, false) => format!("does not exist inside the root ({at} is missing)"),
            (false, _) => "does not exist".to_string(),
        };
        let hint = match link {
            Some(l) if self.paths.root().is_none() && l.target.is_absolute() => {
                " (a copy of a node's files? give its top folder with --root)"
            }
            _ => "",
        };
        format!("{subject}{exist}{hint}")
    }

    fn visit_dir(&mut self, dir: &Resolved, depth: usize) {
        if !self.visited_dirs.insert(FileId::of(&dir.meta, &dir.real)) {
            return; // symlink loop or a directory reached twice
        }
        let shown = self.paths.display(&dir.shown);
        if depth >= MAX_DEPTH {
            self.problem(
                &shown,
                format!("not searched: deeper than {MAX_DEPTH} levels"),
            );
            return;
        }
        let mut names: Vec<OsString> = match std::fs::read_dir(&dir.real) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect(),
            Err(e) => {
                self.problem(&shown, format!("cannot list: {e}"));
                return;
            }
        };
        names.sort();
        for name in names {
            self.visit(&dir.shown.join(name), depth + 1);
        }
    }

    /// Load a file once; returns its identity (for attaching routes). Only regular files
    /// up to MAX_FILE are read; anything else is a problem naming what it is.
    fn load_file(&mut self, r: &Resolved) -> Option<FileId> {
        let id = FileId::of(&r.meta, &r.real);
        if self.loaded.contains_key(&id) {
            return Some(id);
        }
        let display = self.paths.display(&r.shown);
        self.loaded.insert(id.clone(), display.clone());
        match read::read_regular(&r.real, MAX_FILE) {
            Ok(bytes) => {
                self.inv.files_read += 1;
                self.parse_file(&r.shown, &display, &bytes);
            }
            Err(e) => self.problem(&display, e.to_string()),
        }
        Some(id)
    }

    /// What a file holds: PEM certificates (a bundle, a cert+key file), DER, or YAML.
    fn parse_file(&mut self, shown: &Loc, display: &str, bytes: &[u8]) {
        let ext = shown
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let cert_like = matches!(ext.as_str(), "crt" | "pem" | "cer" | "cert" | "der");
        if pem::looks_like_pem(bytes) {
            self.load_pem(display, bytes, cert_like);
        } else if bytes.first() == Some(&0x30) && cert_keys(bytes).is_some() {
            self.add_cert(display, None, bytes, false);
        } else if let Ok(text) = std::str::from_utf8(bytes) {
            if text.contains("apiVersion") || text.contains("clusters:") || text.contains("users:")
            {
                self.load_yaml(shown, display, text);
            } else if cert_like {
                self.problem(display, "not a certificate (neither PEM nor DER)".into());
            }
        } else if cert_like {
            self.problem(display, "not a certificate (neither PEM nor DER)".into());
        }
    }

    fn load_pem(&mut self, display: &str, bytes: &[u8], cert_like: bool) {
        let text = String::from_utf8_lossy(bytes);
        let p = pem::split(&text);
        if p.bad_blocks > 0 {
            self.problem(
                display,
                format!("{} CERTIFICATE block(s) are not valid base64", p.bad_blocks),
            );
        }
        if p.certificates.is_empty() && !p.has_private_key && cert_like {
            self.problem(display, "PEM file without a CERTIFICATE block".into());
        }
        let several = p.certificates.len() > 1;
        for (i, der) in p.certificates.iter().enumerate() {
            let entry = (several && i > 0).then(|| format!("#{i}"));
            self.add_cert(display, entry, der, p.has_private_key);
        }
    }

    fn add_cert(&mut self, display: &str, entry: Option<String>, der: &[u8], with_key: bool) {
        let Some(keys) = cert_keys(der) else {
            let what = entry.clone().map(|e| format!(" ({e})")).unwrap_or_default();
            self.problem(
                display,
                format!("certificate{what} does not parse as X.509"),
            );
            return;
        };
        let summary = self.cache.get(der);
        self.inv.certs.push(LocalCert {
            path: display.to_string(),
            entry,
            via: Vec::new(),
            keys,
            der: der.to_vec(),
            summary,
            with_private_key: with_key,
            configured_roles: Default::default(),
        });
    }

    /// A file referenced by configuration: load it and record the route. The path is the
    /// node's: under --root it is resolved inside the root, like every symlink on the way.
    fn reference(&mut self, value: &str, relative_to: &Loc, route: String, origin: &str) {
        let named = self.paths.on_disk(Path::new(value), relative_to);
        let r = match self.paths.resolve(&named) {
            Ok(r) => r,
            Err(e) => {
                let reason = match &e {
                    Unresolved::Missing {
                        link: None,
                        climbed: false,
                        ..
                    } => format!(
                        "{route} names {value}, which does not exist at {}",
                        self.paths.display(&named)
                    ),
                    _ => format!("{route} names {value}: {}", self.why(&named, &e)),
                };
                self.problem(origin, reason);
                return;
            }
        };
        if let Some(kind) = special(&r).or((r.meta.is_dir()).then_some(Kind::Directory)) {
            let at = self.paths.display(&r.shown);
            let reason = format!("{route} names {value} ({at}), which is {kind}: not read");
            return self.problem(origin, reason);
        }
        if let Some(id) = self.load_file(&r) {
            if r.via_link {
                let link = format!("symlink:{}", self.paths.display(&named));
                self.routes.push((id.clone(), link));
            }
            self.routes.push((id, route));
        }
    }

    fn load_yaml(&mut self, shown: &Loc, display: &str, text: &str) {
        let doc = match yaml::parse(text) {
            Ok(d) => d,
            Err(e) => {
                if text.contains("clusters:") || text.contains("kind: Config") {
                    self.problem(display, format!("cannot parse kubeconfig: {e}"));
                }
                return;
            }
        };
        let dir = shown.parent();
        if doc.is_kubeconfig() {
            self.load_kubeconfig(&doc, &dir, display);
        } else if doc.is_kubelet_config() {
            self.load_kubelet_config(&doc, &dir, display);
        } else if doc.is_pod() {
            self.load_manifest(&doc, &dir, display);
        }
    }

    fn load_kubeconfig(&mut self, doc: &yaml::Doc, dir: &Loc, display: &str) {
        self.inv.kubeconfigs.push(Kubeconfig {
            path: display.to_string(),
            clusters: doc
                .clusters
                .iter()
                .flatten()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.cluster.as_ref().and_then(|c| c.server.clone()),
                    )
                })
                .collect(),
        });
        for c in doc.clusters.iter().flatten() {
            let Some(cluster) = &c.cluster else { continue };
            let entry = format!("clusters[{}].certificate-authority", c.name);
            if let Some(data) = &cluster.certificate_authority_data {
                self.embedded(display, &format!("{entry}-data"), data);
            }
            if let Some(file) = &cluster.certificate_authority {
                self.reference(file, dir, format!("kubeconfig:{display}#{entry}"), display);
            }
        }
        for u in doc.users.iter().flatten() {
            let Some(user) = &u.user else { continue };
            let entry = format!("users[{}].client-certificate", u.name);
            if let Some(data) = &user.client_certificate_data {
                self.embedded(display, &format!("{entry}-data"), data);
            }
            if let Some(file) = &user.client_certificate {
                self.reference(file, dir, format!("kubeconfig:{display}#{entry}"), display);
            }
        }
    }

    fn load_kubelet_config(&mut self, doc: &yaml::Doc, dir: &Loc, display: &str) {
        self.inv.kubelet_rotate_certificates = doc
            .rotate_certificates
            .or(self.inv.kubelet_rotate_certificates);
        if let Some(f) = &doc.tls_cert_file {
            let route = format!("kubelet-config:{display}#tlsCertFile");
            self.reference(f, dir, route, display);
        }
        if let Some(f) = doc
            .authentication
            .as_ref()
            .and_then(|a| a.x509.as_ref())
            .and_then(|x| x.client_ca_file.as_ref())
        {
            let route = format!("kubelet-config:{display}#authentication.x509.clientCAFile");
            self.reference(f, dir, route, display);
        }
    }

    fn load_manifest(&mut self, doc: &yaml::Doc, dir: &Loc, display: &str) {
        for c in doc.spec.iter().flat_map(|s| s.containers.iter()) {
            for (flag, value) in yaml::flags(c) {
                self.inv.flags.push(Flag {
                    component: c.name.clone(),
                    name: flag.clone(),
                    value: value.clone(),
                    manifest: display.to_string(),
                });
                if !names_certificate(&flag, &value) {
                    continue;
                }
                self.reference(&value, dir, format!("flag:{} --{flag}", c.name), display);
            }
        }
    }

    /// Base64 PEM embedded in a kubeconfig.
    fn embedded(&mut self, display: &str, entry: &str, data: &str) {
        let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(decoded) = data_encoding::BASE64.decode(cleaned.as_bytes()) else {
            self.problem(display, format!("{entry}: not valid base64"));
            return;
        };
        let text = String::from_utf8_lossy(&decoded);
        let p = pem::split(&text);
        if p.certificates.is_empty() {
            // What client-go says when it loads such a kubeconfig.
            self.problem(
                display,
                format!("{entry}: tls: failed to find any PEM data in certificate input"),
            );
            return;
        }
        for (i, der) in p.certificates.iter().enumerate() {
            let e = if i == 0 {
                entry.to_string()
            } else {
                format!("{entry}#{i}")
            };
            self.add_cert(display, Some(e.clone()), der, false);
            if let Some(c) = self.inv.certs.last_mut() {
                if c.entry.as_deref() == Some(e.as_str()) {
                    c.via.push(format!("kubeconfig:{display}#{e}"));
                    c.configured_roles.take();
                }
            }
        }
    }

    fn finish(mut self) -> Inventory {
        // Attach routes to the certificates of each file (whole-file certificates only:
        // a route names a file, not an embedded entry).
        let by_display: HashMap<String, FileId> = self
            .loaded
            .iter()
            .map(|(id, d)| (d.clone(), id.clone()))
            .collect();
        for cert in &mut self.inv.certs {
            let Some(id) = by_display.get(&cert.path) else {
                continue;
            };
            if cert.entry.as_deref().is_some_and(|e| !e.starts_with('#')) {
                continue;
            }
            for (c, route) in &self.routes {
                if c == id && !cert.via.contains(route) {
                    cert.via.push(route.clone());
                    cert.configured_roles.take();
                }
            }
        }
        self.inv
    }
}

/// What a resolved path is when it is neither a regular file nor a directory (a FIFO, a
/// socket, a device): such files are never opened, since reading a FIFO blocks and a
/// device may never end.
fn special(r: &Resolved) -> Option<Kind> {
    match Kind::of(&r.meta) {
        Kind::Regular | Kind::Directory => None,
        kind => Some(kind),
    }
}

/// Flags whose value is a certificate (or CA bundle) file: the `*-cert-file`, `*-certfile`,
/// `*-ca-file`, `*-cafile`, `*-certificate` and `*-certificate-authority` families.
fn names_certificate(flag: &str, value: &str) -> bool {
    (flag.ends_with("cert-file")
        || flag.ends_with("certfile")
        || flag.ends_with("ca-file")
        || flag.ends_with("cafile")
        || flag.ends_with("certificate")
        || flag.ends_with("certificate-authority")
        || flag == "tls-cert-file")
        && !value.is_empty()
}
