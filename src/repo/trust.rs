//! Whether a path is one nobody but root and us can change, judged the way sshd's
//! StrictModes judges `~/.ssh`: every folder from `/` down to it, and every
//! symbolic link on the way (and the folders of the link's target), must belong to
//! root or to the user we run as, and no folder may be writable by its group or
//! by others. Then a local user cannot swap any part of the path between our
//! check and our use of it, so the path means later what it meant when checked.
//!
//! One exception, because `/tmp` is where temporary folders live: a shared folder
//! with the sticky bit (mode 1777) may appear *above* the folder that holds a
//! repository, since there only an entry's owner can rename or remove it, and every
//! entry on the path belongs to root or us. It is never accepted as the folder that
//! holds a repository: anyone can create names in it, so a repository not made yet
//! could be made by someone else first.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::error::RepoError;
use super::generation::Repo;
use crate::ids::is_generation_id;

/// Links followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Why a path is not trusted, and what fixes it (one sentence, with a command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untrusted {
    pub reason: String,
    pub fix: String,
}

/// A path whose every component was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walked {
    /// The deepest part of the path that exists, every link resolved.
    pub existing: PathBuf,
    /// What does not exist yet below `existing` (empty when the whole path exists).
    pub missing: PathBuf,
    /// Shared sticky folders (like `/tmp`) on the way, resolved.
    pub shared: Vec<PathBuf>,
}

impl Walked {
    /// The path, resolved.
    pub fn resolved(&self) -> PathBuf {
        self.existing.join(&self.missing)
    }

    /// The folder that holds the path's last component (or would, once made).
    fn holder(&self) -> Option<&Path> {
        match self.missing.as_os_str().is_empty() {
            true => self.existing.parent(),
            false => Some(&self.existing),
        }
    }
}

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// `chown` to whom: root when we are root, else us.
fn owner_fix(path: &Path, link: bool) -> String {
    let who = match me() {
        0 => "root".to_string(),
        uid => uid.to_string(),
    };
    format!(
        "Fix it with `chown {}{who} {}`",
        if link { "-h " } else { "" },
        path.display()
    )
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("uid {uid} ({})", u.name),
        _ => format!("uid {uid}"),
    }
}

/// Owner root or us.
fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<(), Untrusted> {
    if meta.uid() == 0 || meta.uid() == me() {
        return Ok(());
    }
    let link = meta.file_type().is_symlink();
    Err(Untrusted {
        reason: format!(
            "{} {} belongs to {}, not to root or uid {}: its owner could {}",
            if link { "the symbolic link" } else { "" },
            path.display(),
            user_name(meta.uid()),
            me(),
            if link {
                "point it somewhere else at any moment"
            } else {
                "change what is in it at any moment"
            }
        )
        .trim_start()
        .to_string(),
        fix: owner_fix(path, link),
    })
}

/// Not writable by group or others (a symlink's own mode means nothing).
fn check_mode(path: &Path, meta: &fs::Metadata, recursive: bool) -> Result<(), Untrusted> {
    if meta.file_type().is_symlink() || meta.mode() & 0o022 == 0 {
        return Ok(());
    }
    Err(Untrusted {
        reason: format!(
            "{} can be written by users other than its owner (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ),
        fix: format!(
            "Fix it with `chmod {}go-w {}`",
            if recursive { "-R " } else { "" },
            path.display()
        ),
    })
}

fn unreadable(path: &Path, e: &std::io::Error) -> Untrusted {
    Untrusted {
        reason: format!("cannot check {}: {e}", path.display()),
        fix: "Check that the path exists and can be read".into(),
    }
}

/// Walks `path` from `/`, checking every folder and link on the way (see the
/// module comment). A part that does not exist yet ends the walk: it is returned
/// as `missing`, for the caller to judge whether it may be made.
pub fn walk(path: &Path) -> Result<Walked, Untrusted> {
    let absolute = match path.is_absolute() {
        true => path.to_path_buf(),
        false => std::env::current_dir()
            .map_err(|e| unreadable(path, &e))?
            .join(path),
    };
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_front(&mut todo, &absolute);
    let mut current = PathBuf::from("/");
    let root = fs::symlink_metadata(&current).map_err(|e| unreadable(&current, &e))?;
    check_owner(&current, &root)?;
    check_mode(&current, &root, false)?;
    let mut shared = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            current.pop();
            continue;
        }
        let next = current.join(&name);
        let meta = match fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let missing: PathBuf = std::iter::once(name).chain(todo).collect();
                return Ok(Walked {
                    existing: current,
                    missing,
                    shared,
                });
            }
            Err(e) => return Err(unreadable(&next, &e)),
        };
        check_owner(&next, &meta)?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(Untrusted {
                    reason: format!("{} passes through too many symbolic links", path.display()),
                    fix: "Point the configuration at the folder itself".into(),
                });
            }
            let target = fs::read_link(&next).map_err(|e| unreadable(&next, &e))?;
            if target.is_absolute() {
                current = PathBuf::from("/");
            }
            push_front(&mut todo, &target);
            continue;
        }
        if meta.is_dir() && meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 != 0 {
            shared.push(next.clone());
        } else {
            check_mode(&next, &meta, false)?;
        }
        if !meta.is_dir() && !todo.is_empty() {
            return Err(Untrusted {
                reason: format!("{} is not a folder", next.display()),
                fix: "Correct the path in the configuration".into(),
            });
        }
        current = next;
    }
    Ok(Walked {
        existing: current,
        missing: PathBuf::new(),
        shared,
    })
}

/// Puts the components of `p` in front of what is still to walk (`.` dropped,
/// `..` kept: it is applied to the resolved path, after any link before it).
fn push_front(todo: &mut VecDeque<OsString>, p: &Path) {
    let parts: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    for part in parts.into_iter().rev() {
        todo.push_front(part);
    }
}

/// A repository's (or an off-site folder's) path: every component trusted, and
/// neither the folder itself nor the folder holding it a shared one. Returns the
/// path resolved; it may not exist yet (it is then made below a trusted folder).
pub fn check_repository(path: &Path) -> Result<PathBuf, Untrusted> {
    let walked = walk(path)?;
    let resolved = walked.resolved();
    let shared_holder = walked
        .holder()
        .filter(|h| walked.shared.iter().any(|s| s == h));
    let shared_itself = walked.missing.as_os_str().is_empty()
        && walked.shared.iter().any(|s| s == &walked.existing);
    if let Some(holder) = shared_holder {
        return Err(Untrusted {
            reason: format!(
                "it lies directly in {}, a folder everyone can create names in (mode 1777), \
                 where another user could make or replace what the path names",
                holder.display()
            ),
            fix: "Put it into a folder only root can write, e.g. `install -d -m 0700 \
                  /var/backups/structr`, and set the path in the configuration to it"
                .into(),
        });
    }
    if shared_itself {
        return Err(Untrusted {
            reason: format!(
                "{} is a folder everyone can write into (mode 1777)",
                resolved.display()
            ),
            fix: "Use a folder of its own that only root can write, e.g. `install -d -m 0700 \
                  /var/backups/structr`, and set the path in the configuration to it"
                .into(),
        });
    }
    Ok(resolved)
}

impl Repo {
    /// Refuses a repository that someone other than root or us could change: any
    /// folder or link on its path (see `check_repository`). Its contents steer
    /// what a root process reads, renames and deletes. Returns the resolved path.
    pub fn check_trusted(&self) -> Result<PathBuf, RepoError> {
        check_repository(&self.root).map_err(|u| RepoError::Untrusted {
            repo: self.root.clone(),
            reason: u.reason,
            fix: u.fix,
        })
    }

    /// The folder of generation `id`, resolved, once the repository's path, the
    /// folder and every file in it were found to be root's or ours and writable by
    /// nobody else: what is read from there is what was checked, with no link in
    /// between that could be switched while the services are stopped.
    pub fn trusted_generation(&self, id: &str) -> Result<PathBuf, RepoError> {
        let root = self.check_trusted()?;
        let untrusted = |u: Untrusted| RepoError::Untrusted {
            repo: self.root.clone(),
            reason: u.reason,
            fix: u.fix,
        };
        let not_found = || RepoError::NotFound {
            id: id.to_string(),
            root: self.root.clone(),
        };
        if !is_generation_id(id) {
            return Err(not_found());
        }
        let dir = root.join(id);
        let meta = match fs::symlink_metadata(&dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(untrusted(unreadable(&dir, &e))),
        };
        if !meta.is_dir() {
            return Err(untrusted(Untrusted {
                reason: format!("the generation {} is not a folder", dir.display()),
                fix: "Remove it, or restore another generation".into(),
            }));
        }
        check_owner(&dir, &meta).map_err(untrusted)?;
        check_mode(&dir, &meta, true).map_err(untrusted)?;
        let entries = fs::read_dir(&dir).map_err(|e| untrusted(unreadable(&dir, &e)))?;
        for entry in entries {
            let entry = entry.map_err(|e| untrusted(unreadable(&dir, &e)))?;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| untrusted(unreadable(&path, &e)))?;
            check_owner(&path, &meta).map_err(untrusted)?;
            if check_mode(&path, &meta, false).is_err() {
                // The fix covers every file of the generation at once.
                return Err(untrusted(Untrusted {
                    reason: format!(
                        "{} can be written by users other than its owner (mode {:o}), who \
                         could change it between its check and its use",
                        path.display(),
                        meta.mode() & 0o7777
                    ),
                    fix: format!("Fix it with `chmod -R go-w {}`", dir.display()),
                }));
            }
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A private folder (0700) to build paths in; its own parents are the
    /// machine's (/tmp is sticky-shared, which is allowed above a holder).
    fn base() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("trust-").tempdir().unwrap()
    }

    #[test]
    fn a_private_path_is_resolved_through_our_own_links() {
        let b = base();
        let real = b.path().join("real/repo");
        fs::create_dir_all(&real).unwrap();
        chmod(&b.path().join("real"), 0o755);
        std::os::unix::fs::symlink("real/./repo/../repo", b.path().join("link")).unwrap();
        let got = check_repository(&b.path().join("link")).unwrap();
        assert_eq!(got, real.canonicalize().unwrap());
    }

    #[test]
    fn a_missing_repository_is_judged_by_the_folder_it_would_be_made_in() {
        let b = base();
        let want = b.path().join("a/b/repo");
        assert_eq!(
            check_repository(&want).unwrap(),
            b.path().canonicalize().unwrap().join("a/b/repo")
        );
        // Made straight into a shared folder: someone could make it first.
        let shared = b.path().join("shared");
        fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let e = check_repository(&shared.join("repo")).unwrap_err();
        assert!(e.reason.contains("mode 1777"), "{e:?}");
        // A folder writable by others without the sticky bit is never trusted.
        chmod(&shared, 0o777);
        let e = check_repository(&shared.join("x/repo")).unwrap_err();
        assert!(e.fix.contains("chmod go-w"), "{e:?}");
    }

    #[test]
    fn a_path_through_a_group_writable_folder_is_refused_at_that_folder() {
        let b = base();
        let mid = b.path().join("mid");
        fs::create_dir_all(mid.join("repo")).unwrap();
        chmod(&mid, 0o775);
        let e = check_repository(&mid.join("repo")).unwrap_err();
        assert!(e.reason.contains(&mid.display().to_string()), "{e:?}");
        assert_eq!(e.fix, format!("Fix it with `chmod go-w {}`", mid.display()));
    }

    #[test]
    fn link_loops_end_with_an_error() {
        let b = base();
        std::os::unix::fs::symlink("loop", b.path().join("loop")).unwrap();
        let e = check_repository(&b.path().join("loop")).unwrap_err();
        assert!(e.reason.contains("too many symbolic links"), "{e:?}");
    }
}
