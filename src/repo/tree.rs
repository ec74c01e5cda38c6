//! The one walk over a component's folder, shared by archive writing, reflink
//! cloning and the preflight's measuring: sorted (so archives are reproducible and
//! diffable), never following symlinks, and never crossing into another file
//! system: a mount point inside a component is reported, not descended into,
//! because its contents belong to another file system with its own life (a backup
//! that silently swallows a mounted disk, or silently misses it, is wrong both ways).

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// One entry of the walk.
#[derive(Debug)]
pub struct Node {
    /// Relative to the root, without `./`; the root itself is `.`.
    pub rel: PathBuf,
    pub abs: PathBuf,
    /// From `symlink_metadata`: a symlink is described, not followed.
    pub meta: Metadata,
    /// A folder on another device than the root: yielded, never descended into.
    pub mount_point: bool,
}

/// An error while walking, with the path it happened on.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct WalkError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl From<WalkError> for io::Error {
    /// Keeps the kind (callers classify permission and space errors) and puts the
    /// path into the message.
    fn from(e: WalkError) -> Self {
        io::Error::new(e.source.kind(), e.to_string())
    }
}

/// A pre-order walk, children sorted by name: the root first (as `.`), then
/// each folder's entries before the next sibling of the folder.
pub struct Walk {
    root: PathBuf,
    root_dev: u64,
    started: bool,
    /// A folder just yielded whose children are read on the next call.
    pending: Option<(PathBuf, PathBuf)>,
    stack: Vec<Frame>,
}

struct Frame {
    /// Prefix for the children's relative paths (empty for the root).
    rel: PathBuf,
    abs: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

/// Starts a walk of `root` (read lazily: errors arrive as items).
pub fn walk(root: &Path) -> Walk {
    Walk {
        root: root.to_path_buf(),
        root_dev: 0,
        started: false,
        pending: None,
        stack: Vec::new(),
    }
}

fn read_meta(path: &Path) -> Result<Metadata, WalkError> {
    fs::symlink_metadata(path).map_err(|source| WalkError {
        path: path.to_path_buf(),
        source,
    })
}

fn sorted_names(dir: &Path) -> Result<Vec<OsString>, WalkError> {
    let err = |source| WalkError {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    names.sort();
    Ok(names)
}

impl Iterator for Walk {
    type Item = Result<Node, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.started = true;
            let meta = match read_meta(&self.root) {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            self.root_dev = meta.dev();
            if meta.is_dir() {
                self.pending = Some((PathBuf::new(), self.root.clone()));
            }
            return Some(Ok(Node {
                rel: PathBuf::from("."),
                abs: self.root.clone(),
                meta,
                mount_point: false,
            }));
        }
        if let Some((rel, abs)) = self.pending.take() {
            match sorted_names(&abs) {
                Ok(names) => self.stack.push(Frame {
                    rel,
                    abs,
                    names: names.into_iter(),
                }),
                Err(e) => return Some(Err(e)),
            }
        }
        loop {
            let frame = self.stack.last_mut()?;
            let Some(name) = frame.names.next() else {
                self.stack.pop();
                continue;
            };
            let rel = frame.rel.join(&name);
            let abs = frame.abs.join(&name);
            let meta = match read_meta(&abs) {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            let mount_point = meta.is_dir() && meta.dev() != self.root_dev;
            if meta.is_dir() && !mount_point {
                self.pending = Some((rel.clone(), abs.clone()));
            }
            return Some(Ok(Node {
                rel,
                abs,
                meta,
                mount_point,
            }));
        }
    }
}

/// The warning for a mount point met inside a component.
pub fn mount_point_warning(root: &Path, mount: &Path) -> String {
    format!(
        "{} is a mount point (another file system) inside {}: the folder itself is kept, \
         its contents are not backed up. Back it up as its own component, or move it out",
        mount.display(),
        root.display()
    )
}

/// Files and content bytes under `root`, the way an archive of it counts them:
/// regular files, hardlinks once, mount points not entered.
pub fn measure(root: &Path) -> io::Result<(u64, u64)> {
    survey(root).map(|s| (s.files, s.bytes))
}

/// Where a component's folder touches the world outside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// A folder inside the component that is another file system (absolute path).
    MountPoint(PathBuf),
    /// A symlink inside the component (absolute path of the link) whose target,
    /// as stored in the link, leads outside the component.
    SymlinkOut { link: PathBuf, target: PathBuf },
}

/// The mount points inside `root` and the symlinks whose targets leave it
/// (absolute targets outside the root, relative targets that climb above it),
/// in walk order. Targets are judged lexically, as the link is written: a backup
/// keeps the link, never what it points to.
pub fn boundaries(root: &Path) -> io::Result<Vec<Boundary>> {
    survey(root).map(|s| s.boundaries)
}

/// Files under `root` modified after `since`, and the newest such time: what a
/// restore to a backup taken at `since` would lose.
pub fn changed_since(
    root: &Path,
    since: std::time::SystemTime,
) -> io::Result<(u64, Option<std::time::SystemTime>)> {
    let (mut count, mut newest) = (0u64, None);
    for node in walk(root) {
        let node = node?;
        if !node.meta.is_file() {
            continue;
        }
        let Ok(modified) = node.meta.modified() else {
            continue;
        };
        if modified > since {
            count += 1;
            newest = newest.max(Some(modified));
        }
    }
    Ok((count, newest))
}

/// What one walk of a component finds: its size as the archive will count it and
/// its boundaries (the preflight needs both, and a walk of a large tree is slow).
#[derive(Debug, Default)]
pub struct Survey {
    pub files: u64,
    pub bytes: u64,
    pub boundaries: Vec<Boundary>,
    /// Every owner seen, recorded by name in the manifest (see `repo::owners`).
    pub uids: std::collections::BTreeSet<u32>,
    pub gids: std::collections::BTreeSet<u32>,
}

pub fn survey(root: &Path) -> io::Result<Survey> {
    let lexical_root = crate::sys::lexical(root);
    // A root reached through a symlink: absolute targets may name either spelling.
    let real_root = fs::canonicalize(root).unwrap_or_else(|_| lexical_root.clone());
    let mut seen = std::collections::HashSet::new();
    let mut out = Survey::default();
    for node in walk(root) {
        let node = node?;
        let m = &node.meta;
        out.uids.insert(m.uid());
        out.gids.insert(m.gid());
        if m.is_file() && (m.nlink() == 1 || seen.insert((m.dev(), m.ino()))) {
            out.files += 1;
            out.bytes += m.len();
        }
        if node.mount_point {
            out.boundaries.push(Boundary::MountPoint(node.abs));
        } else if m.file_type().is_symlink() {
            let target = fs::read_link(&node.abs).map_err(|source| {
                io::Error::from(WalkError {
                    path: node.abs.clone(),
                    source,
                })
            })?;
            let inside = if target.is_absolute() {
                let t = crate::sys::lexical(&target);
                t.starts_with(&lexical_root) || t.starts_with(&real_root)
            } else {
                let parent = node.rel.parent().unwrap_or(Path::new(""));
                stays_inside(&parent.join(&target))
            };
            if !inside {
                out.boundaries.push(Boundary::SymlinkOut {
                    link: node.abs,
                    target,
                });
            }
        }
    }
    Ok(out)
}

/// Whether a relative path never climbs above its starting folder.
fn stays_inside(rel: &Path) -> bool {
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir if depth == 0 => return false,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn walks_sorted_pre_order_without_following_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("b/c")).unwrap();
        fs::write(r.join("b/c/f"), b"12345").unwrap();
        fs::write(r.join("a"), b"123").unwrap();
        fs::hard_link(r.join("a"), r.join("b/a-too")).unwrap();
        symlink("b", r.join("z-link")).unwrap();
        let rels: Vec<String> = walk(r)
            .map(|n| n.unwrap().rel.display().to_string())
            .collect();
        assert_eq!(rels, [".", "a", "b", "b/a-too", "b/c", "b/c/f", "z-link"]);
        assert_eq!(measure(r).unwrap(), (2, 8));
    }

    #[test]
    fn symlinks_leaving_the_root_are_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("root");
        fs::create_dir_all(r.join("sub")).unwrap();
        symlink("../x", r.join("sub/in")).unwrap();
        symlink("../../x", r.join("sub/out")).unwrap();
        symlink("/etc/passwd", r.join("abs-out")).unwrap();
        symlink(r.join("sub/./in"), r.join("abs-in")).unwrap();
        symlink("sub/../../root/x", r.join("climbs")).unwrap();
        let b = boundaries(&r).unwrap();
        assert_eq!(
            b,
            vec![
                Boundary::SymlinkOut {
                    link: r.join("abs-out"),
                    target: "/etc/passwd".into()
                },
                Boundary::SymlinkOut {
                    link: r.join("climbs"),
                    target: "sub/../../root/x".into()
                },
                Boundary::SymlinkOut {
                    link: r.join("sub/out"),
                    target: "../../x".into()
                },
            ]
        );
    }

    #[test]
    fn a_missing_root_names_the_path() {
        let err = measure(Path::new("/nonexistent/structr")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("/nonexistent/structr"), "{err}");
    }
}
