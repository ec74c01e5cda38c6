//! The folders a restore keeps beside its targets (`<target>.pre-restore-<id>`, see
//! `swap`): found, measured and removed when the user asks. Only a folder whose
//! name `swap::is_kept_path` gives for one of the installation's configured
//! targets is touched; never one an interrupted restore still needs to put back;
//! never across a mount point, and never through a symbolic link.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::event::{Event, Sink, Step};
use super::{journal, state, swap, OpError};
use chrono::{DateTime, Utc};

use crate::cancel::Cancel;
use crate::install::Installation;
use crate::repo::tree::{self, Boundary};

/// One folder a restore kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptFolder {
    /// The live folder it was moved away from.
    pub target: PathBuf,
    pub path: PathBuf,
    /// When the restore kept it, as it recorded; for a folder kept before that
    /// was recorded, when its inode last changed (the rename aside, unless
    /// changed since). Never its mtime: that is the restored original's.
    pub modified: Option<SystemTime>,
}

/// Where the times folders were kept are recorded: beside the journal.
fn record_path(inst: &Installation) -> PathBuf {
    state::state_dir().join(format!("{}.kept.json", inst.key()))
}

/// The recorded times, by kept folder; empty when none can be read.
fn recorded(inst: &Installation) -> BTreeMap<PathBuf, DateTime<Utc>> {
    fs::read_to_string(record_path(inst))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Records that a restore kept `paths` now (folders no longer there are dropped
/// from the record).
pub fn record(inst: &Installation, paths: &[&Path]) -> Result<(), String> {
    state::private_dir(&state::state_dir())?;
    let mut all = recorded(inst);
    all.retain(|p, _| p.exists());
    let now = Utc::now();
    for p in paths.iter().filter(|p| p.exists()) {
        all.insert(p.to_path_buf(), now);
    }
    let json = serde_json::to_string_pretty(&all)
        .map_err(|e| format!("cannot encode when folders were kept: {e}"))?;
    crate::repo::files::write_file_atomic(&record_path(inst), json.as_bytes())
        .map_err(|e| e.to_string())
}

/// The kept folders beside each of the installation's targets, sorted by path.
/// A target whose parent folder cannot be read is skipped.
pub fn find(inst: &Installation) -> Vec<KeptFolder> {
    let mut out = Vec::new();
    let when = recorded(inst);
    for c in &inst.components {
        let Some(parent) = c.path.parent() else {
            continue;
        };
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for e in entries.flatten() {
            let path = parent.join(e.file_name());
            if !swap::is_kept_path(&c.path, &path) {
                continue;
            }
            // A real folder, not a link planted under the name.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                out.push(KeptFolder {
                    target: c.path.clone(),
                    modified: when.get(&path).map(|t| SystemTime::from(*t)).or_else(|| {
                        let secs = u64::try_from(meta.ctime()).ok()?;
                        Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
                    }),
                    path,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

/// Files and bytes in a kept folder (hardlinks once, mount points not entered).
pub fn measure(path: &Path) -> io::Result<(u64, u64)> {
    tree::measure(path)
}

/// What a removal did.
#[derive(Debug, PartialEq, Eq)]
pub struct Removed {
    pub files: u64,
    pub bytes: u64,
}

/// Removes the kept folder `path` of `inst`, reporting the bytes removed as the
/// progress of `Step::Remove`. Under the installation's lock, so no restore or
/// recover runs meanwhile. A cancel stops between files: what is left stays.
pub fn remove(
    inst: &Installation,
    path: &Path,
    cancel: &Cancel,
    on: Sink,
) -> Result<Removed, OpError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !inst
        .components
        .iter()
        .any(|c| swap::is_kept_path(&c.path, path))
    {
        return Err(OpError::Refused(format!(
            "{} is not a folder a restore kept beside this installation's targets; nothing was removed",
            path.display()
        )));
    }
    let _lock = state::lock_installation(inst, "remove a kept folder")?;
    if let Some(r) = journal::interrupted(inst) {
        if r.swaps.iter().any(|s| s.kept == path) {
            return Err(OpError::Refused(format!(
                "an interrupted restore may still put {} back: run `structr-backup recover` first",
                path.display()
            )));
        }
    }
    let meta = fs::symlink_metadata(path)
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Err(OpError::Refused(format!(
            "{} is not a folder (a symbolic link?); nothing was removed",
            path.display()
        )));
    }
    let step = Step::Remove(name);
    on(Event::Plan(vec![step.clone()]));
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let survey = tree::survey(path)
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", path.display())))?;
    if let Some(Boundary::MountPoint(m)) = survey
        .boundaries
        .iter()
        .find(|b| matches!(b, Boundary::MountPoint(_)))
    {
        let why = format!(
            "{} is a mount point inside {}: unmount it first; nothing was removed",
            m.display(),
            path.display()
        );
        on(Event::Failed(step, why.clone()));
        return Err(OpError::Refused(why));
    }
    let mut gone = Removed { files: 0, bytes: 0 };
    let mut removal = Removal {
        dev: meta.dev(),
        cancel,
        total: survey.bytes,
        step: &step,
        gone: &mut gone,
        on: &mut *on,
    };
    let result = removal
        .tree(path)
        .and_then(|()| fs::remove_dir(path).map_err(|e| failed(path, e)))
        .and_then(|()| match path.parent() {
            Some(parent) => swap::sync_dir(parent).map_err(|e| OpError::failed(e.to_string())),
            None => Ok(()),
        });
    match result {
        Ok(()) => {
            on(Event::Finished(step, t.elapsed()));
            Ok(gone)
        }
        Err(OpError::Cancelled { .. }) => {
            on(Event::Failed(step, "cancelled".into()));
            Err(OpError::Cancelled {
                detail: format!(
                    "{} of {} files were removed; the rest of {} is still there",
                    gone.files,
                    survey.files,
                    path.display()
                ),
            })
        }
        Err(e) => {
            on(Event::Failed(step, e.to_string()));
            Err(e)
        }
    }
}

fn failed(path: &Path, e: io::Error) -> OpError {
    OpError::failed(format!("cannot remove {}: {e}", path.display()))
}

/// One removal under way: its device (never left), its count, its reports.
struct Removal<'a> {
    dev: u64,
    cancel: &'a Cancel,
    total: u64,
    step: &'a Step,
    gone: &'a mut Removed,
    on: &'a mut dyn FnMut(Event),
}

impl Removal<'_> {
    /// Removes what is inside `dir` (not `dir` itself), deepest first.
    fn tree(&mut self, dir: &Path) -> Result<(), OpError> {
        let entries = fs::read_dir(dir).map_err(|e| failed(dir, e))?;
        for e in entries {
            if self.cancel.is_cancelled() {
                return Err(OpError::Cancelled {
                    detail: String::new(),
                });
            }
            let path = e.map_err(|e| failed(dir, e))?.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| failed(&path, e))?;
            if meta.is_dir() {
                if meta.dev() != self.dev {
                    return Err(OpError::Refused(format!(
                        "{} is a mount point: unmount it first",
                        path.display()
                    )));
                }
                self.tree(&path)?;
                fs::remove_dir(&path).map_err(|e| failed(&path, e))?;
                continue;
            }
            fs::remove_file(&path).map_err(|e| failed(&path, e))?;
            if meta.is_file() {
                self.gone.files += 1;
                self.gone.bytes += meta.len();
                (self.on)(Event::Progress {
                    step: self.step.clone(),
                    done: self.gone.bytes,
                    total: self.total.max(self.gone.bytes),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::ComponentSpec;

    fn installation(dir: &Path) -> Installation {
        Installation {
            kind: crate::config::Kind::Custom,
            host: "h".into(),
            components: vec![
                ComponentSpec::new("neo4j-data", dir.join("data")),
                ComponentSpec::new("structr", dir.join("structr")),
            ],
            services: vec![],
            notes: vec![],
            versions: Default::default(),
            stop_timeout: std::time::Duration::from_secs(1),
            start_timeout: std::time::Duration::from_secs(1),
            maintenance: None,
        }
    }

    #[test]
    fn only_folders_a_restore_kept_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let inst = installation(dir.path());
        for name in [
            "data",
            "data.pre-restore-20261124T031500Z",
            "structr.pre-restore-20261124T031500Z.2",
            "data.pre-restore-notanid",
            "other.pre-restore-20261124T031500Z",
        ] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        // A link planted under a kept name is not a kept folder.
        std::os::unix::fs::symlink(
            "/etc",
            dir.path().join("structr.pre-restore-20261125T031500Z"),
        )
        .unwrap();
        let found: Vec<String> = find(&inst)
            .iter()
            .map(|k| k.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            found,
            [
                "data.pre-restore-20261124T031500Z",
                "structr.pre-restore-20261124T031500Z.2"
            ]
        );
    }

    #[test]
    fn removal_reports_its_bytes_and_refuses_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let inst = installation(dir.path());
        let kept = dir.path().join("data.pre-restore-20261124T031500Z");
        fs::create_dir_all(kept.join("a/b")).unwrap();
        fs::write(kept.join("a/b/f"), vec![1u8; 3000]).unwrap();
        fs::write(kept.join("g"), vec![1u8; 1000]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", kept.join("link")).unwrap();
        let mut events = Vec::new();
        let gone = remove(&inst, &kept, &Cancel::new(), &mut |e| events.push(e)).unwrap();
        assert_eq!(
            gone,
            Removed {
                files: 2,
                bytes: 4000
            }
        );
        assert!(!kept.exists());
        assert!(
            Path::new("/etc/passwd").exists(),
            "a link is removed, not followed"
        );
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Progress {
                done: 4000,
                total: 4000,
                ..
            }
        )));
        assert!(matches!(
            events.last(),
            Some(Event::Finished(Step::Remove(_), _))
        ));
        // The live folder, or anything not named as kept, is refused.
        fs::create_dir(dir.path().join("data")).unwrap();
        for other in [dir.path().join("data"), PathBuf::from("/etc")] {
            let err = remove(&inst, &other, &Cancel::new(), &mut |_| {}).unwrap_err();
            assert!(matches!(err, OpError::Refused(_)), "{err}");
        }
        assert!(dir.path().join("data").exists());
    }

    #[test]
    fn a_folder_an_interrupted_restore_may_put_back_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let inst = installation(dir.path());
        let kept = dir.path().join("data.pre-restore-20261124T031500Z");
        fs::create_dir(&kept).unwrap();
        let mut j = journal::Journal::begin(&inst, "restore");
        j.set_swaps(vec![journal::Swap {
            target: dir.path().join("data"),
            kept: kept.clone(),
        }])
        .unwrap();
        let err = remove(&inst, &kept, &Cancel::new(), &mut |_| {}).unwrap_err();
        j.set_swaps(vec![]).unwrap();
        assert!(err.to_string().contains("recover"), "{err}");
        assert!(kept.exists());
    }

    #[test]
    fn a_cancelled_removal_says_what_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let inst = installation(dir.path());
        let kept = dir.path().join("structr.pre-restore-20261124T031500Z");
        fs::create_dir(&kept).unwrap();
        fs::write(kept.join("f"), b"x").unwrap();
        let cancel = Cancel::new();
        cancel.cancel();
        let err = remove(&inst, &kept, &cancel, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, OpError::Cancelled { detail } if detail.contains("is still there")),
            "{err}"
        );
        assert!(kept.join("f").exists());
    }
}
