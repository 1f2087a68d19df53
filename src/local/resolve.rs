//! Paths of a node's files, resolved as that node would resolve them.
//!
//! Under `--root` every path is confined to the root as chroot(2) confines a process: the
//! walk goes component by component, `..` stops at the root, and every symlink met, at any
//! component, is read with read_link and its target interpreted inside the root (absolute
//! targets from the root, relative ones from the link's directory). The OS never follows a
//! link of the copy, so a link planted in it (`../../../../etc/shadow`, or a directory
//! link to `/etc/ssl/certs`) cannot make certwire read the host's files. The result is a
//! path free of symlinks below the root, which is then opened with O_NOFOLLOW.
//!
//! Without `--root`, or for a `--certs` path outside the root, paths are the host's own and
//! the OS resolves them, as before; certwire only follows the symlink chain of the last
//! component itself, to name each link as a route.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlink chains longer than this are treated as loops.
pub const MAX_LINKS: usize = 16;

/// A path as the scanner knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    /// On this machine, resolved by the OS.
    Host(PathBuf),
    /// Inside `--root`, absolute from the root's top (`/etc/kubernetes`).
    Rooted(PathBuf),
}

impl Loc {
    pub fn join(&self, name: impl AsRef<Path>) -> Loc {
        match self {
            Loc::Host(p) => Loc::Host(p.join(name)),
            Loc::Rooted(p) => Loc::Rooted(p.join(name)),
        }
    }

    /// The directory the path is in (relative configuration paths start from it).
    pub fn parent(&self) -> Loc {
        let up = |p: &Path| p.parent().map(Path::to_path_buf);
        match self {
            Loc::Host(p) => Loc::Host(up(p).unwrap_or_else(|| PathBuf::from("."))),
            Loc::Rooted(p) => Loc::Rooted(up(p).unwrap_or_else(|| PathBuf::from("/"))),
        }
    }

    /// The name of the last component, for the extension check.
    pub fn path(&self) -> &Path {
        match self {
            Loc::Host(p) | Loc::Rooted(p) => p,
        }
    }
}

/// A symlink met while resolving, for the report.
#[derive(Debug, Clone)]
pub struct Link {
    /// The link, as displayed.
    pub path: String,
    pub target: PathBuf,
}

/// A path that exists, resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The host path to open: below the root and free of symlinks (under --root).
    pub real: PathBuf,
    /// The path as reported: as named, or, when the named path is itself a symlink, where
    /// it leads (its own name is then a `symlink:` route).
    pub shown: Loc,
    /// The named path's last component was a symlink.
    pub via_link: bool,
    /// lstat of `real` (never a symlink).
    pub meta: Metadata,
}

/// Why a path does not resolve.
#[derive(Debug)]
pub enum Unresolved {
    /// A component does not exist.
    Missing {
        /// Where the walk stopped, as displayed.
        at: String,
        /// The last symlink followed before that, if any.
        link: Option<Link>,
        /// A `..` went above the root and stayed at it.
        climbed: bool,
        rooted: bool,
    },
    /// More than MAX_LINKS symlinks.
    Loop {
        link: String,
    },
    /// A component that is not a directory has more components after it.
    NotADirectory {
        at: String,
    },
    Io {
        at: String,
        source: io::Error,
    },
}

impl Unresolved {
    /// Something is there (a dangling symlink counts), not just nothing.
    pub fn something_there(&self) -> bool {
        !matches!(self, Unresolved::Missing { link: None, .. })
    }
}

/// Resolves paths for one scan: confined under `root` when there is one.
#[derive(Debug, Clone)]
pub struct Resolver {
    root: Option<PathBuf>,
}

impl Resolver {
    pub fn new(root: Option<PathBuf>) -> Self {
        Resolver { root }
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The path as the report shows it: below the root as given, for rooted paths.
    pub fn display(&self, loc: &Loc) -> String {
        self.host_path(loc).display().to_string()
    }

    /// Where a path of the copy is on this machine (not resolved: may contain links).
    fn host_path(&self, loc: &Loc) -> PathBuf {
        match (loc, &self.root) {
            (Loc::Rooted(v), Some(root)) => match below_root(v) {
                rel if rel.as_os_str().is_empty() => root.clone(),
                rel => root.join(rel),
            },
            (Loc::Rooted(v), None) | (Loc::Host(v), _) => v.clone(),
        }
    }

    /// A path named on the command line (`--certs`, a standard location): rooted when it
    /// lies below the root (compared as written, made absolute), else the host's.
    pub fn locate(&self, p: &Path) -> Loc {
        let Some(root) = &self.root else {
            return Loc::Host(p.to_path_buf());
        };
        match lexical_absolute(p).strip_prefix(lexical_absolute(root)) {
            Ok(rest) => Loc::Rooted(Path::new("/").join(rest)),
            Err(_) => Loc::Host(p.to_path_buf()),
        }
    }

    /// A path from a node's configuration (symlink target, kubeconfig, flag): absolute
    /// paths are the node's (under the root when there is one), relative ones start at
    /// `relative_to`.
    pub fn on_disk(&self, p: &Path, relative_to: &Loc) -> Loc {
        match (p.is_absolute(), &self.root) {
            (true, Some(_)) => Loc::Rooted(p.to_path_buf()),
            (true, None) => Loc::Host(p.to_path_buf()),
            (false, _) => relative_to.join(p),
        }
    }

    pub fn resolve(&self, loc: &Loc) -> Result<Resolved, Unresolved> {
        match (loc, &self.root) {
            (Loc::Rooted(v), Some(root)) => self.walk(root, v, None, 0),
            (Loc::Rooted(v), None) | (Loc::Host(v), _) => self.host(v),
        }
    }

    /// A host path: the OS resolves every component but the last; the last one's symlink
    /// chain is followed here (an absolute target goes into the root when there is one).
    fn host(&self, named: &Path) -> Result<Resolved, Unresolved> {
        let mut cur = named.to_path_buf();
        let mut first: Option<Link> = None;
        for followed in 0..=MAX_LINKS {
            let meta = std::fs::symlink_metadata(&cur)
                .map_err(|e| Unresolved::from_io(e, &cur, &first))?;
            if !meta.file_type().is_symlink() {
                let via_link = first.is_some();
                let shown = Loc::Host(if via_link {
                    cur.clone()
                } else {
                    named.to_path_buf()
                });
                return Ok(Resolved {
                    real: cur,
                    shown,
                    via_link,
                    meta,
                });
            }
            let target =
                std::fs::read_link(&cur).map_err(|e| Unresolved::from_io(e, &cur, &first))?;
            let link = Link {
                path: cur.display().to_string(),
                target: target.clone(),
            };
            first.get_or_insert(link.clone());
            let dir = Loc::Host(cur.parent().unwrap_or(Path::new(".")).to_path_buf());
            match self.on_disk(&target, &dir) {
                Loc::Host(next) => cur = next,
                Loc::Rooted(v) => {
                    let root = self.root.as_deref().unwrap_or(Path::new("/"));
                    return self.walk(root, &v, Some(link), followed + 1);
                }
            }
        }
        Err(Unresolved::Loop {
            link: named.display().to_string(),
        })
    }
}

impl Unresolved {
    fn from_io(e: io::Error, at: &Path, link: &Option<Link>) -> Unresolved {
        let at = at.display().to_string();
        match e.kind() {
            io::ErrorKind::NotFound => Unresolved::Missing {
                at,
                link: link.clone(),
                climbed: false,
                rooted: false,
            },
            _ => Unresolved::Io { at, source: e },
        }
    }
}

/// One component still to walk; `named` when it comes from the path asked for rather than
/// from a symlink's target.
struct Pending {
    part: Part,
    named: bool,
}

enum Part {
    Root,
    Up,
    Name(OsString),
}

fn parts(p: &Path, named: bool) -> impl DoubleEndedIterator<Item = Pending> + '_ {
    p.components().filter_map(move |c| {
        let part = match c {
            Component::RootDir | Component::Prefix(_) => Part::Root,
            Component::ParentDir => Part::Up,
            Component::CurDir => return None,
            Component::Normal(n) => Part::Name(n.to_os_string()),
        };
        Some(Pending { part, named })
    })
}

/// Where the confined walk is: the symlink-free path below the root so far, and what was
/// met on the way.
struct Walk<'a> {
    root: &'a Path,
    done: PathBuf,
    /// Components still to walk, the next one last.
    pending: Vec<Pending>,
    links: usize,
    last_link: Option<Link>,
    climbed: bool,
    via_link: bool,
}

impl Resolver {
    /// Resolve `virt` inside `root` as chroot would. `link`/`links`: a symlink already
    /// followed to get here (from a host path).
    fn walk(
        &self,
        root: &Path,
        virt: &Path,
        link: Option<Link>,
        links: usize,
    ) -> Result<Resolved, Unresolved> {
        // Reached through a host symlink: its target is not a path anyone named.
        let from_link = link.is_some();
        let mut w = Walk {
            root,
            done: PathBuf::new(),
            pending: parts(virt, !from_link).rev().collect(),
            links,
            last_link: link,
            climbed: false,
            via_link: from_link,
        };
        while let Some(p) = w.pending.pop() {
            match p.part {
                Part::Root => w.done = PathBuf::new(),
                Part::Up => w.climbed |= !w.done.pop(),
                Part::Name(name) => {
                    if let Some(meta) = self.step(&mut w, name, p.named)? {
                        if w.pending.is_empty() {
                            return Ok(self.resolved(w, virt, meta));
                        }
                    }
                }
            }
        }
        // The path ended in `..` (or was the root): a directory already walked.
        let real = root.join(&w.done);
        let meta = std::fs::metadata(&real).map_err(|e| self.io_error(&w, &w.done, e))?;
        Ok(self.resolved_at(w, virt, real, meta))
    }

    /// Walk one name: a directory or file is entered; a symlink's target replaces it.
    /// Returns the entry's lstat when it was not a symlink.
    fn step(
        &self,
        w: &mut Walk<'_>,
        name: OsString,
        named: bool,
    ) -> Result<Option<Metadata>, Unresolved> {
        let cand = w.done.join(&name);
        let real = w.root.join(&cand);
        let meta = std::fs::symlink_metadata(&real).map_err(|e| self.io_error(w, &cand, e))?;
        if !meta.file_type().is_symlink() {
            if !w.pending.is_empty() && !meta.is_dir() {
                return Err(Unresolved::NotADirectory {
                    at: self.shown(&cand),
                });
            }
            if named {
                // Links before this point led somewhere that exists: not to blame.
                w.last_link = None;
            }
            w.done = cand;
            return Ok(Some(meta));
        }
        w.links += 1;
        if w.links > MAX_LINKS {
            return Err(Unresolved::Loop {
                link: self.shown(&cand),
            });
        }
        let target = std::fs::read_link(&real).map_err(|e| self.io_error(w, &cand, e))?;
        if target.as_os_str().is_empty() {
            // The kernel resolves an empty target to nothing (ENOENT).
            let e = io::Error::from(io::ErrorKind::NotFound);
            return Err(self.io_error(w, &cand, e));
        }
        // The last component of the path asked for is a link: it becomes a route.
        w.via_link |= named && w.pending.iter().all(|p| !p.named);
        w.last_link = Some(Link {
            path: self.shown(&cand),
            target: target.clone(),
        });
        w.pending.extend(parts(&target, false).rev());
        Ok(None)
    }

    fn resolved(&self, w: Walk<'_>, virt: &Path, meta: Metadata) -> Resolved {
        let real = w.root.join(&w.done);
        self.resolved_at(w, virt, real, meta)
    }

    fn resolved_at(&self, w: Walk<'_>, virt: &Path, real: PathBuf, meta: Metadata) -> Resolved {
        let shown = if w.via_link {
            Loc::Rooted(Path::new("/").join(&w.done))
        } else {
            Loc::Rooted(virt.to_path_buf())
        };
        Resolved {
            real,
            shown,
            via_link: w.via_link,
            meta,
        }
    }

    /// A path below the root, as displayed.
    fn shown(&self, below: &Path) -> String {
        self.display(&Loc::Rooted(Path::new("/").join(below)))
    }

    fn io_error(&self, w: &Walk<'_>, at: &Path, e: io::Error) -> Unresolved {
        if e.kind() == io::ErrorKind::NotFound {
            return Unresolved::Missing {
                at: self.shown(at),
                link: w.last_link.clone(),
                climbed: w.climbed,
                rooted: true,
            };
        }
        Unresolved::Io {
            at: self.shown(at),
            source: e,
        }
    }
}

/// `/etc/x` → `etc/x`, for joining below the root.
fn below_root(v: &Path) -> PathBuf {
    v.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

/// `p` made absolute from the current directory, `.` and `..` applied as written (the
/// user's own path: only for telling whether it lies below the root).
fn lexical_absolute(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// tmp/outside/f, tmp/root/a/b, tmp/root/in/f.
    fn tree(name: &str) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("certwire-resolve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["outside", "root/a/b", "root/in"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("outside/f"), "outside").unwrap();
        std::fs::write(dir.join("root/in/f"), "inside").unwrap();
        let root = dir.join("root");
        (dir, root)
    }

    fn real(r: &Resolver, v: &str) -> Result<PathBuf, Unresolved> {
        r.resolve(&Loc::Rooted(PathBuf::from(v))).map(|x| x.real)
    }

    #[test]
    fn dotdot_and_links_stay_in_the_root() {
        let (dir, root) = tree("confine");
        let r = Resolver::new(Some(root.clone()));
        // `..` stops at the root, as in a chroot.
        assert_eq!(real(&r, "/../../in/f").unwrap(), root.join("in/f"));
        // A relative link climbing out lands inside the root.
        symlink("../../../outside/f", root.join("a/b/up")).unwrap();
        assert!(matches!(
            real(&r, "/a/b/up"),
            Err(Unresolved::Missing { climbed: true, .. })
        ));
        symlink("../../../in", root.join("a/b/in")).unwrap();
        assert_eq!(real(&r, "/a/b/in/f").unwrap(), root.join("in/f"));
        // An absolute directory link in the middle is re-rooted.
        symlink(dir.join("outside"), root.join("a/abs")).unwrap();
        assert!(matches!(
            real(&r, "/a/abs/f"),
            Err(Unresolved::Missing { .. })
        ));
        symlink("/in", root.join("a/rooted")).unwrap();
        assert_eq!(real(&r, "/a/rooted/f").unwrap(), root.join("in/f"));
        // Loops end.
        symlink("l2", root.join("l1")).unwrap();
        symlink("l1", root.join("l2")).unwrap();
        assert!(matches!(real(&r, "/l1"), Err(Unresolved::Loop { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_named_link_is_shown_where_it_leads() {
        let (dir, root) = tree("shown");
        symlink("/in/f", root.join("a/current")).unwrap();
        let r = Resolver::new(Some(root.clone()));
        let x = r
            .resolve(&Loc::Rooted(PathBuf::from("/a/current")))
            .unwrap();
        assert!(x.via_link);
        assert_eq!(r.display(&x.shown), root.join("in/f").display().to_string());
        // Paths below the root on the command line are the root's.
        assert_eq!(r.locate(&root.join("a")), Loc::Rooted(PathBuf::from("/a")));
        assert_eq!(r.locate(&dir), Loc::Host(dir.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
