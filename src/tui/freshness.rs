//! Keeping the wizard's view of the repository true while something else (a
//! CLI backup, a `delete`, the nightly timer) changes it: the one place that
//! decides when the generations are listed again. A cheap change marker is
//! read every few seconds on a task; only when it moved is the repository
//! listed (also on a task: a repository on a slow mount must not freeze the
//! screen). Screens that show the repository's state ask for a listing when
//! they open (`Effect::ReloadRepo`).

use std::time::Instant;

use super::app::App;
use super::marker::{Look, Marker, CHECK_EVERY};
use super::recovery::{Opened, RecoveryMsg};
use super::world::{Answer, Kind, World};

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
