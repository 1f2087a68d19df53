//! Which executables to probe: those named on the command line, the owners of sockets on
//! the followed ports, processes named like Kubernetes components, and the client tools
//! (kubectl, etcdctl, kubeadm) found on the PATH, so that every later run is covered. One
//! entry per executable file (device and inode), however many processes run it.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Programs whose TLS matters to a node's PKI. Matched against the executable's file name
/// (a process's `comm` is cut at 15 characters: `kube-controller`).
pub const COMPONENTS: &[&str] = &[
    "kube-apiserver",
    "kubelet",
    "etcd",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "cloud-controller-manager",
    "konnectivity-server",
    "konnectivity-agent",
    "kubectl",
    "kubeadm",
    "etcdctl",
];

/// Client tools: started after certwire, so probed through their file on the PATH.
pub const CLIENT_TOOLS: &[&str] = &["kubectl", "etcdctl", "kubeadm"];

/// One executable to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The path the kernel opens (`/proc/PID/exe` reaches a container's file).
    pub open_path: PathBuf,
    /// What the report calls it: the executable's path as its process sees it.
    pub shown: String,
    /// The process it was found through, if any.
    pub pid: Option<u32>,
    /// Why it was chosen.
    pub why: String,
}

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// `--keys-from`: paths and PIDs named explicitly.
    pub named: Vec<String>,
    /// `--keys-from-processes`: discover.
    pub discover: bool,
    /// The followed ports, for socket discovery.
    pub ports: Vec<u16>,
}

/// Named targets that cannot be used, with why (reported like probe results).
pub type Refused = (String, String);

pub fn targets(w: &Wanted) -> (Vec<Target>, Vec<Refused>) {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for n in &w.named {
        match named(n) {
            Ok(t) => out.push(t),
            Err(why) => refused.push((n.clone(), why)),
        }
    }
    if w.discover {
        let owners = socket_owners(&w.ports);
        for (pid, port) in &owners {
            if let Some(t) = by_pid(*pid, format!("owns a socket on port {port}")) {
                out.push(t);
            }
        }
        for pid in pids() {
            if let Some(name) = component_name(pid) {
                if let Some(t) = by_pid(pid, format!("a {name} process")) {
                    out.push(t);
                }
            }
        }
        out.extend(client_tools());
    }
    (dedupe(out), refused)
}

fn named(n: &str) -> Result<Target, String> {
    if let Ok(pid) = n.parse::<u32>() {
        return by_pid(pid, "named by PID".into())
            .ok_or_else(|| format!("no process {pid} (or its executable cannot be read)"));
    }
    let path = Path::new(n);
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let abs = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
    Ok(Target {
        shown: abs.display().to_string(),
        open_path: abs,
        pid: None,
        why: "named".into(),
    })
}

fn by_pid(pid: u32, why: String) -> Option<Target> {
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    let shown = std::fs::read_link(&exe).ok()?;
    std::fs::metadata(&exe).ok().filter(|m| m.is_file())?;
    Some(Target {
        open_path: exe,
        shown: shown.display().to_string(),
        pid: Some(pid),
        why,
    })
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn component_name(pid: u32) -> Option<&'static str> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_str()?;
    COMPONENTS.iter().copied().find(|c| *c == name)
}

/// Client tools on the PATH, and on the host's when certwire runs in a container with the
/// host's PID namespace (`/proc/1/root`).
fn client_tools() -> Vec<Target> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let host = Path::new("/proc/1/root");
    if !same_file(host, Path::new("/")) {
        for d in ["usr/local/bin", "usr/bin", "bin"] {
            dirs.push(host.join(d));
        }
    }
    let mut out = Vec::new();
    for tool in CLIENT_TOOLS {
        for d in &dirs {
            let p = d.join(tool);
            if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
                if let Ok(abs) = std::fs::canonicalize(&p) {
                    out.extend(versioned_siblings(&abs, tool));
                    out.push(Target {
                        shown: abs.display().to_string(),
                        open_path: abs,
                        pid: None,
                        why: format!("{tool} on the PATH"),
                    });
                }
                break;
            }
        }
    }
    out
}

/// `kubectl.1.31` beside `kubectl`: Google Cloud SDK's kubectl is a dispatcher that runs
/// the versioned binary matching the server, a different file with its own TLS.
fn versioned_siblings(tool_path: &Path, tool: &str) -> Vec<Target> {
    let Some(dir) = tool_path.parent() else {
        return Vec::new();
    };
    let prefix = format!("{tool}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Target> = entries
        .flatten()
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.starts_with(&prefix)
                    && n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| Target {
            shown: e.path().display().to_string(),
            open_path: e.path(),
            pid: None,
            why: format!("beside {tool} on the PATH"),
        })
        .collect();
    out.sort_by(|a, b| a.shown.cmp(&b.shown));
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => true,
    }
}

/// One target per executable file; the first reason found wins.
fn dedupe(targets: Vec<Target>) -> Vec<Target> {
    let mut seen = HashSet::new();
    targets
        .into_iter()
        .filter(|t| match std::fs::metadata(&t.open_path) {
            Ok(m) => seen.insert((m.dev(), m.ino())),
            Err(_) => false,
        })
        .collect()
}

/// Processes with a TCP socket whose local or remote port is followed: socket inodes from
/// /proc/net/tcp{,6}, matched to the `socket:[INODE]` links in /proc/PID/fd.
fn socket_owners(ports: &[u16]) -> Vec<(u32, u16)> {
    let mut inodes = std::collections::HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for (inode, port) in sockets_on(&text, ports) {
            inodes.insert(inode, port);
        }
    }
    inodes.remove(&0);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pid in pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|l| l.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(&port) = inodes.get(&inode) {
                out.push((pid, port));
                break;
            }
        }
    }
    out
}

/// (inode, followed port) of each line of a /proc/net/tcp table whose local or remote
/// port is followed.
fn sockets_on(table: &str, ports: &[u16]) -> Vec<(u64, u16)> {
    let port_of = |addr: &str| {
        addr.rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, inode) = (
                port_of(f.get(1)?)?,
                port_of(f.get(2)?)?,
                f.get(9)?.parse().ok()?,
            );
            let port = [local, remote].into_iter().find(|p| ports.contains(p))?;
            Some((inode, port))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_lines_give_inodes_of_followed_ports() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:D431 0100007F:280A 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1\n   2: 0100007F:0050 0100007F:D432 01 00000000:00000000 00:00000000 00000000     0        0 4444 1\n";
        assert_eq!(
            sockets_on(t, &[6443, 10250]),
            vec![(4242, 6443), (4343, 10250)]
        );
    }

    #[test]
    fn named_targets_that_are_not_files_are_refused_with_why() {
        let (t, refused) = targets(&Wanted {
            named: vec![
                "/nonexistent/kubelet".into(),
                "/proc".into(),
                "4294967295".into(),
            ],
            ..Default::default()
        });
        assert!(t.is_empty());
        assert_eq!(refused.len(), 3);
        assert!(refused[1].1.contains("not a regular file"));
    }

    #[test]
    fn this_process_is_found_by_pid_and_deduplicated() {
        let me = std::process::id().to_string();
        let (t, _) = targets(&Wanted {
            named: vec![me.clone(), me],
            ..Default::default()
        });
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].pid, Some(std::process::id()));
        assert!(!t[0].shown.contains("pid"));
    }
}
