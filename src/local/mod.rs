//! The node's certificate files: what is on disk, and every route by which each certificate
//! is reachable (symlinks, kubeconfig entries, component flags and config fields).
//!
//! Loading never aborts: unreadable or malformed files are listed with the reason. Private
//! key blocks are recognised by their PEM label and skipped unread.

mod pem;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::x509::{cert_keys, CertCache, CertKeys, CertSummary};

/// Directories are searched this deep below each location.
const MAX_DEPTH: usize = 8;
/// Larger files are not certificates or kubeconfigs; they are skipped.
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// Symlink chains longer than this are treated as loops.
const MAX_LINKS: usize = 16;

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
    let mut locations: Vec<(PathBuf, bool)> =
        opts.paths.iter().map(|p| (p.clone(), false)).collect();
    if locations.is_empty() && opts.defaults {
        let base = opts.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        locations = DEFAULT_LOCATIONS
            .iter()
            .map(|l| (base.join(l), true))
            .chain(
                user_kubeconfigs(opts.root.as_deref())
                    .into_iter()
                    .map(|p| (p, true)),
            )
            .collect();
    }
    for (loc, default) in locations {
        let exists = loc.exists() || loc.symlink_metadata().is_ok();
        s.inv.searched.push(Searched {
            path: loc.display().to_string(),
            exists,
            default,
        });
        if !exists {
            if !default {
                s.problem(&loc, "does not exist".into());
            }
            continue;
        }
        s.visit(&loc, 0);
    }
    s.finish()
}

/// The kubeconfigs kubectl would use: `$KUBECONFIG` and `~/.kube/config` of the user
/// running certwire, or, in a copy of a node, `/root/.kube/config` and
/// `/home/*/.kube/config`. A stale one of these is the commonest cause of "certificate
/// signed by unknown authority" in kubectl.
fn user_kubeconfigs(root: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(root) = root else {
        if let Some(list) = std::env::var_os("KUBECONFIG") {
            out.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
        }
        if let Some(home) = std::env::var_os("HOME") {
            out.push(PathBuf::from(home).join(".kube/config"));
        }
        return out;
    };
    out.push(root.join("root/.kube/config"));
    if let Ok(rd) = std::fs::read_dir(root.join("home")) {
        let mut homes: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        homes.sort();
        out.extend(homes.into_iter().map(|h| h.join(".kube/config")));
    }
    out
}

struct Scanner {
    root: Option<PathBuf>,
    inv: Inventory,
    cache: CertCache,
    /// Canonical path → display path of files already loaded.
    loaded: HashMap<PathBuf, String>,
    visited_dirs: HashSet<PathBuf>,
    /// Routes to attach to every certificate of a file, by canonical path.
    routes: Vec<(PathBuf, String)>,
}

impl Scanner {
    fn new(root: Option<PathBuf>) -> Self {
        Scanner {
            root,
            inv: Inventory::default(),
            cache: CertCache::default(),
            loaded: HashMap::new(),
            visited_dirs: HashSet::new(),
            routes: Vec::new(),
        }
    }

    fn problem(&mut self, path: &Path, reason: String) {
        self.inv.problems.push(Problem {
            path: path.display().to_string(),
            reason,
        });
    }

    /// An absolute path from a node's configuration, as it is found on this machine.
    fn on_disk(&self, p: &Path, relative_to: &Path) -> PathBuf {
        if p.is_absolute() {
            match &self.root {
                Some(root) => root.join(
                    p.components()
                        .filter(|c| !matches!(c, Component::RootDir))
                        .collect::<PathBuf>(),
                ),
                None => p.to_path_buf(),
            }
        } else {
            relative_to.join(p)
        }
    }

    /// Follow a symlink chain to the real path (absolute targets under --root).
    fn resolve_link(&mut self, link: &Path) -> Option<PathBuf> {
        let mut cur = link.to_path_buf();
        for _ in 0..MAX_LINKS {
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    let target = std::fs::read_link(&cur).ok()?;
                    let dir = cur.parent().unwrap_or(Path::new(".")).to_path_buf();
                    cur = self.on_disk(&target, &dir);
                }
                Ok(_) => return Some(cur),
                Err(_) => {
                    let target = std::fs::read_link(link)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default();
                    let hint = if self.root.is_none() && target.starts_with('/') {
                        " (a copy of a node's files? give its top folder with --root)"
                    } else {
                        ""
                    };
                    self.problem(
                        link,
                        format!("symlink to {target}, which does not exist{hint}"),
                    );
                    return None;
                }
            }
        }
        self.problem(link, "symlink loop".into());
        None
    }

    fn visit(&mut self, path: &Path, depth: usize) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            self.problem(path, "cannot read".into());
            return;
        };
        if meta.file_type().is_symlink() {
            let Some(target) = self.resolve_link(path) else {
                return;
            };
            if target.is_dir() {
                self.visit_dir(&target, depth);
            } else if let Some(canon) = self.load_file(&target) {
                self.routes
                    .push((canon, format!("symlink:{}", path.display())));
            }
        } else if meta.is_dir() {
            self.visit_dir(path, depth);
        } else if meta.is_file() {
            self.load_file(path);
        }
    }

    fn visit_dir(&mut self, dir: &Path, depth: usize) {
        let Ok(canon) = std::fs::canonicalize(dir) else {
            return;
        };
        if !self.visited_dirs.insert(canon) {
            return; // symlink loop or a directory reached twice
        }
        if depth >= MAX_DEPTH {
            self.problem(dir, format!("not searched: deeper than {MAX_DEPTH} levels"));
            return;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                self.problem(dir, format!("cannot list: {e}"));
                return;
            }
        };
        entries.sort();
        for e in entries {
            self.visit(&e, depth + 1);
        }
    }

    /// Load a file once; returns its canonical path (for attaching routes).
    fn load_file(&mut self, path: &Path) -> Option<PathBuf> {
        let canon = std::fs::canonicalize(path).ok()?;
        if self.loaded.contains_key(&canon) {
            return Some(canon);
        }
        let display = path.display().to_string();
        self.loaded.insert(canon.clone(), display.clone());
        let meta = std::fs::metadata(path).ok()?;
        if meta.len() > MAX_FILE {
            return Some(canon);
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.problem(path, format!("cannot read: {e}"));
                return Some(canon);
            }
        };
        self.inv.files_read += 1;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let cert_like = matches!(ext.as_str(), "crt" | "pem" | "cer" | "cert" | "der");
        if pem::looks_like_pem(&bytes) {
            let text = String::from_utf8_lossy(&bytes);
            let p = pem::split(&text);
            if p.bad_blocks > 0 {
                self.problem(
                    path,
                    format!("{} CERTIFICATE block(s) are not valid base64", p.bad_blocks),
                );
            }
            if p.certificates.is_empty() && !p.has_private_key && cert_like {
                self.problem(path, "PEM file without a CERTIFICATE block".into());
            }
            let several = p.certificates.len() > 1;
            for (i, der) in p.certificates.iter().enumerate() {
                let entry = (several && i > 0).then(|| format!("#{i}"));
                self.add_cert(path, &display, entry, der, p.has_private_key);
            }
        } else if bytes.first() == Some(&0x30) && cert_keys(&bytes).is_some() {
            self.add_cert(path, &display, None, &bytes, false);
        } else if let Ok(text) = std::str::from_utf8(&bytes) {
            if text.contains("apiVersion") || text.contains("clusters:") || text.contains("users:")
            {
                self.load_yaml(path, &display, &canon, text);
            } else if cert_like {
                self.problem(path, "not a certificate (neither PEM nor DER)".into());
            }
        } else if cert_like {
            self.problem(path, "not a certificate (neither PEM nor DER)".into());
        }
        Some(canon)
    }

    fn add_cert(
        &mut self,
        path: &Path,
        display: &str,
        entry: Option<String>,
        der: &[u8],
        with_key: bool,
    ) {
        let Some(keys) = cert_keys(der) else {
            let what = entry.clone().map(|e| format!(" ({e})")).unwrap_or_default();
            self.problem(path, format!("certificate{what} does not parse as X.509"));
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
        });
    }

    /// A file referenced by configuration: load it and record the route.
    fn reference(&mut self, value: &str, relative_to: &Path, route: String, origin: &Path) {
        let target = self.on_disk(Path::new(value), relative_to);
        let target = match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let Some(resolved) = self.resolve_link(&target) else {
                    return;
                };
                if let Some(canon) = self.load_file(&resolved) {
                    self.routes
                        .push((canon.clone(), format!("symlink:{}", target.display())));
                    self.routes.push((canon, route));
                }
                return;
            }
            Ok(_) => target,
            Err(_) => {
                self.problem(
                    origin,
                    format!(
                        "{route} names {value}, which does not exist at {}",
                        target.display()
                    ),
                );
                return;
            }
        };
        if let Some(canon) = self.load_file(&target) {
            self.routes.push((canon, route));
        }
    }

    fn load_yaml(&mut self, path: &Path, display: &str, canon: &Path, text: &str) {
        let doc = match yaml::parse(text) {
            Ok(d) => d,
            Err(e) => {
                if text.contains("clusters:") || text.contains("kind: Config") {
                    self.problem(path, format!("cannot parse kubeconfig: {e}"));
                }
                return;
            }
        };
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if doc.is_kubeconfig() {
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
                    self.embedded(path, display, canon, &format!("{entry}-data"), data);
                }
                if let Some(file) = &cluster.certificate_authority {
                    self.reference(file, &dir, format!("kubeconfig:{display}#{entry}"), path);
                }
            }
            for u in doc.users.iter().flatten() {
                let Some(user) = &u.user else { continue };
                let entry = format!("users[{}].client-certificate", u.name);
                if let Some(data) = &user.client_certificate_data {
                    self.embedded(path, display, canon, &format!("{entry}-data"), data);
                }
                if let Some(file) = &user.client_certificate {
                    self.reference(file, &dir, format!("kubeconfig:{display}#{entry}"), path);
                }
            }
        } else if doc.is_kubelet_config() {
            self.inv.kubelet_rotate_certificates = doc
                .rotate_certificates
                .or(self.inv.kubelet_rotate_certificates);
            if let Some(f) = &doc.tls_cert_file {
                self.reference(
                    f,
                    &dir,
                    format!("kubelet-config:{display}#tlsCertFile"),
                    path,
                );
            }
            if let Some(f) = doc
                .authentication
                .as_ref()
                .and_then(|a| a.x509.as_ref())
                .and_then(|x| x.client_ca_file.as_ref())
            {
                self.reference(
                    f,
                    &dir,
                    format!("kubelet-config:{display}#authentication.x509.clientCAFile"),
                    path,
                );
            }
        } else if doc.is_pod() {
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
                    self.reference(&value, &dir, format!("flag:{} --{flag}", c.name), path);
                }
            }
        }
    }

    /// Base64 PEM embedded in a kubeconfig.
    fn embedded(&mut self, path: &Path, display: &str, canon: &Path, entry: &str, data: &str) {
        let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(decoded) = data_encoding::BASE64.decode(cleaned.as_bytes()) else {
            self.problem(path, format!("{entry}: not valid base64"));
            return;
        };
        let text = String::from_utf8_lossy(&decoded);
        let p = pem::split(&text);
        if p.certificates.is_empty() {
            // What client-go says when it loads such a kubeconfig.
            self.problem(
                path,
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
            self.add_cert(path, display, Some(e.clone()), der, false);
            if let Some(c) = self.inv.certs.last_mut() {
                if c.entry.as_deref() == Some(e.as_str()) {
                    c.via.push(format!("kubeconfig:{display}#{e}"));
                }
            }
        }
        let _ = canon;
    }

    fn finish(mut self) -> Inventory {
        // Attach routes to the certificates of each file (whole-file certificates only:
        // a route names a file, not an embedded entry).
        let by_display: HashMap<String, PathBuf> = self
            .loaded
            .iter()
            .map(|(c, d)| (d.clone(), c.clone()))
            .collect();
        for cert in &mut self.inv.certs {
            let Some(canon) = by_display.get(&cert.path) else {
                continue;
            };
            if cert.entry.as_deref().is_some_and(|e| !e.starts_with('#')) {
                continue;
            }
            for (c, route) in &self.routes {
                if c == canon && !cert.via.contains(route) {
                    cert.via.push(route.clone());
                }
            }
        }
        self.inv
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
