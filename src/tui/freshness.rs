//! Keeping the wizard's view of the repository true while something else (a
//! CLI backup, a `delete`, the nightly timer) changes it: the one place that
//! decides when the generations are listed again. A cheap change marker is
//! read every few seconds on a task; only when it moved is the repository
//! listed (also on a task: a repository on a slow mount must not freeze the
//! screen). Screens that show the repository's state ask for a listing when
//! they open (`Effect::ReloadRepo`).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::app::App;
use super::recovery::{Opened, RecoveryMsg};
use super::world::{Answer, Kind, World};
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// How often the change marker is read.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What changes when a generation is written, deleted or renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// An archive repository: its folder's mtime and the names in it (a
    /// generation folder appears by rename, and a delete removes one).
    Archive {
        mtime: Option<SystemTime>,
        names: Vec<String>,
    },
    /// A local restic repository: the mtime of its `snapshots/` folder, where
    /// every backup, forget and retag writes a file. Listing restic itself
    /// takes seconds, too slow to ask every few.
    Restic(Option<SystemTime>),
    /// A remote repository: nothing cheap to look at; listed again only when a
    /// screen showing it opens, or after a job of ours.
    Remote,
}

impl Marker {
    /// The marker of `store` as it is now (reads one or two folders).
    pub(super) fn of(store: &Store) -> Marker {
        match (store, store.local_folder()) {
            (Store::Archive(_), Some(root)) => Marker::Archive {
                mtime: mtime(root),
                names: names(root),
            },
            (Store::Restic(_), Some(root)) => Marker::Restic(mtime(&root.join("snapshots"))),
            _ => Marker::Remote,
        }
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn names(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a look at the repository found: nothing new, or a fresh listing.
pub(super) enum Look {
    Unchanged,
    Listed {
        marker: Marker,
        generations: Result<Vec<Manifest>, String>,
    },
}

impl World {
    /// Looks whether the repository changed, at most every `CHECK_EVERY`, and
    /// lists it if so; `now` lists it whatever the marker says (a screen showing
    /// it opened, a job of ours ended). One look at a time; a forced one
    /// supersedes a look under way.
    pub(super) fn look_at_repo(&mut self, now: bool) {
        if !now
            && (self.tasks.running(Kind::Repo)
                || self.repo_checked.is_some_and(|t| t.elapsed() < CHECK_EVERY))
        {
            return;
        }
        self.repo_checked = Some(Instant::now());
        let (store, seen) = (self.store.clone(), self.repo_seen.clone());
        self.tasks.start(
            Kind::Repo,
            move |_| {
                let marker = Marker::of(&store);
                let same = seen.as_ref() == Some(&marker);
                if !now && (same || marker == Marker::Remote) {
                    return Answer::Repo(Look::Unchanged);
                }
                let generations = store.list().map(|(l, _)| l).map_err(|e| e.to_string());
                Answer::Repo(Look::Listed {
                    marker,
                    generations,
                })
            },
            |e| {
                Answer::Repo(Look::Listed {
                    marker: Marker::Remote,
                    generations: Err(e),
                })
            },
        );
    }

    /// Takes in what a look found: the screens show the new list, their
    /// cursors on the generations they were on (`App::set_data`), and an open
    /// prune preview is worked out again.
    pub(super) fn on_look(&mut self, app: &mut App, look: Look) {
        let Look::Listed {
            marker,
            generations,
        } = look
        else {
            return;
        };
        match generations {
            Ok(list) => {
                self.repo_seen = Some(marker);
                self.generations_seen = Some(list);
                app.set_data(self.data());
                if app.pruning() {
                    self.perform(app, super::state::Effect::PlanPrune);
                }
            }
            // The last list stays; the marker is not taken, so the next look lists again.
            Err(e) => app.status = Some(format!("could not list the repository: {e}")),
        }
    }
}

impl World {
    /// The disaster recovery's picker kept fresh the same way: the opened
    /// source's marker every `CHECK_EVERY` while the picker shows, and a new
    /// listing when it moved (a copy still being written, a remote backup run).
    pub(super) fn look_at_source(&mut self, app: &App) {
        let Some(from) = self.recovery_from.clone() else {
            return;
        };
        if !app.picking_recovery()
            || self.tasks.running(Kind::RecoverySource)
            || self
                .source_checked
                .is_some_and(|t| t.elapsed() < CHECK_EVERY)
        {
            return;
        }
        self.source_checked = Some(Instant::now());
        let seen = self.source_seen.clone();
        self.tasks.start(
            Kind::RecoverySource,
            move |_| {
                let marker = Marker::of(&from);
                // The first look only takes the marker: the source was listed as it opened.
                if seen.is_none() || seen.as_ref() == Some(&marker) || marker == Marker::Remote {
                    return Answer::Source(Some((marker, None)));
                }
                let listed = from.list().ok().map(|(generations, unreadable)| Opened {
                    location: from.location().to_string(),
                    generations,
                    unreadable: unreadable.iter().map(|e| e.to_string()).collect(),
                });
                Answer::Source(Some((marker, listed)))
            },
            |_| Answer::Source(None),
        );
    }

    /// Takes in a look at the recovery source: its marker, and a new listing.
    pub(super) fn on_source(&mut self, app: &mut App, found: Option<(Marker, Option<Opened>)>) {
        let Some((marker, listed)) = found else {
            return;
        };
        if self.source_seen.is_none() || listed.is_some() {
            self.source_seen = Some(marker);
        }
        if let Some(opened) = listed {
            app.on_recovery(RecoveryMsg::Relisted(opened));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::generation::Repo;

    #[test]
    fn the_marker_moves_when_a_generation_comes_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::new(dir.path().join("repo"));
        repo.create().unwrap();
        let store = Store::Archive(repo.clone());
        let before = Marker::of(&store);
        assert_eq!(before, Marker::of(&store), "nothing changed");
        std::fs::create_dir(repo.root.join("20260101T000000Z")).unwrap();
        let after = Marker::of(&store);
        assert_ne!(before, after);
        std::fs::remove_dir(repo.root.join("20260101T000000Z")).unwrap();
        assert_ne!(after, Marker::of(&store));
    }
}
