//! The facts the wizard keeps fresh on its own, each gathered by a task: whether
//! the services run, the schedule and the last run, the listings of a restic
//! repository and the off-site targets, and the folders restores kept.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::app::App;
use super::data::{OffsiteState, ScheduleFacts, Timer};
use super::kept::{KeptMsg, KeptRow};
use super::tasks::Tell;
use super::world::{Answer, Kind, Listing, World};
use crate::install::{schedule, Installation};
use crate::ops;
use crate::repo::store::Store;

impl World {
    /// Looks for the folders restores kept and measures them. A look still
    /// measuring gives way to a fresh one (a folder may be gone) and stops at
    /// its next folder.
    pub(super) fn gather_kept(&mut self, app: &mut App) {
        match &self.inst {
            Ok(inst) => {
                let inst = inst.clone();
                self.tasks.start(
                    Kind::Kept,
                    move |tell| kept(&inst, tell),
                    |e| Answer::Kept(KeptMsg::Failed(e)),
                );
            }
            // No installation, no targets to look beside.
            Err(_) => app.set_kept(Vec::new()),
        }
    }

    /// Asks every service whether it runs; one round at a time.
    pub(super) fn gather_services(&mut self) {
        let Ok(inst) = &self.inst else { return };
        if self.tasks.running(Kind::Services) {
            return;
        }
        let inst = inst.clone();
        self.tasks.start(
            Kind::Services,
            move |_| {
                Answer::Services(
                    inst.services
                        .iter()
                        .map(|s| (s.name().to_string(), s.is_running().ok()))
                        .collect(),
                )
            },
            // Unknown, as before the first answer.
            |_| Answer::Services(Vec::new()),
        );
        self.services_asked = Some(Instant::now());
    }

    /// Lists the off-site targets; one listing at a time. (The repository
    /// itself is looked at in `freshness`.)
    pub(super) fn gather_listing(&mut self) {
        if self.tasks.running(Kind::Listing) || self.config.offsite.is_empty() {
            return;
        }
        let targets: Vec<(String, Store)> = self
            .config
            .offsite
            .iter()
            .map(|o| (o.name.clone(), Store::offsite(&self.config, o)))
            .collect();
        let places: Vec<(String, String)> = targets
            .iter()
            .map(|(name, t)| (name.clone(), t.location().to_string()))
            .collect();
        self.tasks.start(
            Kind::Listing,
            move |_| {
                let offsite = targets
                    .iter()
                    .map(|(name, t)| OffsiteState {
                        name: name.clone(),
                        location: t.location().to_string(),
                        ids: t
                            .list()
                            .map(|(l, _)| l.into_iter().map(|m| m.id).collect())
                            .map_err(|e| e.to_string()),
                    })
                    .collect();
                Answer::Listing(Listing { offsite })
            },
            // Each target says why it was not listed.
            move |e| {
                Answer::Listing(Listing {
                    offsite: places
                        .iter()
                        .map(|(name, location)| OffsiteState {
                            name: name.clone(),
                            location: location.clone(),
                            ids: Err(e.clone()),
                        })
                        .collect(),
                })
            },
        );
        self.listing_asked = Some(Instant::now());
    }

    /// Asks systemd about the timer and reads the last run; one at a time (a
    /// slow systemctl must not pile up threads).
    pub(super) fn gather_schedule(&mut self) {
        if self.tasks.running(Kind::Schedule) {
            return;
        }
        let key = self.inst.as_ref().ok().map(|i| i.key());
        self.tasks.start(
            Kind::Schedule,
            move |_| {
                // A panic asking systemd still leaves the last run to show.
                let timer = super::panics::caught(|| {
                    Ok(match schedule::status() {
                        Ok(s) => Timer::Known(s),
                        Err(schedule::ScheduleError::NotInstalled) => Timer::NotInstalled,
                        Err(e) => Timer::Unavailable(e.to_string()),
                    })
                })
                .unwrap_or_else(Timer::Unavailable);
                let last = schedule::read_last_runs(&ops::state::state_dir(), key.as_deref());
                Answer::Schedule(ScheduleFacts { timer, last })
            },
            |e| {
                Answer::Schedule(ScheduleFacts {
                    timer: Timer::Unavailable(e.clone()),
                    last: Err(e),
                })
            },
        );
        self.schedule_asked = Some(Instant::now());
    }
}

/// Finds the kept folders, then measures each; the last answer is the last size.
fn kept(inst: &Arc<Installation>, tell: &Tell<Kind, Answer>) -> Answer {
    let found = ops::kept::find(inst);
    let rows = found
        .iter()
        .map(|k| KeptRow {
            component: inst
                .components
                .iter()
                .find(|c| c.path == k.target)
                .map_or(String::new(), |c| c.name.clone()),
            path: k.path.clone(),
            target: k.target.clone(),
            modified: k.modified.map(DateTime::<Utc>::from),
            size: None,
        })
        .collect();
    let mut last = KeptMsg::Found(rows);
    for k in found {
        if tell.cancel().is_cancelled() {
            break;
        }
        tell.send(Answer::Kept(last));
        let size = ops::kept::measure(&k.path).map_err(|e| e.to_string());
        last = KeptMsg::Measured(k.path, size);
    }
    Answer::Kept(last)
}
