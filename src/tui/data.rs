//! What the wizard knows about the world, as the loop last gathered it: the
//! installation, the repository's generations, the off-site copies, the
//! schedule, and whether Home offers the disaster recovery. Screens read it;
//! only the loop (through `app`) replaces it.

use std::path::Path;

use crate::install::schedule::{Runs, Status, TimeOfDay};
use crate::install::{ComponentSpec, ROLE_NEO4J_DATA};
use crate::ops::journal::Record;
use crate::repo::manifest::Manifest;

/// What the wizard knows about the world; refreshed by the loop.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub kind: String,
    pub host: String,
    pub components: Vec<ComponentSpec>,
    /// Service name and whether it runs (None: unknown).
    pub services: Vec<(String, Option<bool>)>,
    pub notes: Vec<String>,
    pub detect_error: Option<String>,
    pub repo: String,
    pub free_bytes: Option<u64>,
    pub generations: Vec<Manifest>,
    /// Whether the repository was listed yet (the first listing runs on a task:
    /// until it answers, an empty list says nothing about the repository).
    pub listed: bool,
    pub interrupted: Option<Record>,
    /// Facts for the backup plan screen: source sizes and expected downtime.
    pub plan: Vec<String>,
    /// What the backup will read, once measured (for the whole job's ETA).
    pub plan_bytes: Option<u64>,
    /// Each `[[offsite]]` target as last listed (on a thread); empty until then.
    pub offsite: Vec<OffsiteState>,
    /// The retention policy in words, for the prune screen.
    pub policy: String,
    /// Whether the generations' files can be browsed (their file indexes are
    /// files of an archive repository; a restic one keeps them in snapshots).
    pub browsable: bool,
    /// Whether Home offers the disaster recovery, and its off-site sources.
    pub recovery: Offer,
}

/// An off-site target and the generations found there.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsiteState {
    pub name: String,
    pub location: String,
    /// The ids there, newest first, or why they could not be listed.
    pub ids: Result<Vec<String>, String>,
}

impl Data {
    /// The off-site targets that hold generation `id`, and those that do not.
    pub fn copies_of(&self, id: &str) -> (Vec<&str>, Vec<&str>) {
        let (mut have, mut lack) = (vec![], vec![]);
        for o in &self.offsite {
            match &o.ids {
                Ok(ids) if ids.iter().any(|i| i == id) => have.push(o.name.as_str()),
                _ => lack.push(o.name.as_str()),
            }
        }
        (have, lack)
    }
}

/// What systemd says about the nightly timer.
#[derive(Clone, Debug, PartialEq)]
pub enum Timer {
    Known(Status),
    NotInstalled,
    /// systemctl failed (no systemd, say): why.
    Unavailable(String),
}

/// The schedule as last gathered (on a thread: systemctl may be slow).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleFacts {
    pub timer: Timer,
    /// The last run of each operation on this installation (none recorded yet:
    /// empty), or why they cannot be read.
    pub last: Result<Runs, String>,
}

impl ScheduleFacts {
    pub fn time(&self) -> Option<TimeOfDay> {
        match &self.timer {
            Timer::Known(s) => s.time,
            _ => None,
        }
    }
}

/// Whether Home offers the recovery, and where a copy may be: read with the
/// rest of Home's data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offer {
    /// Why this machine looks like one to recover (None: it does not; the
    /// recovery is still reachable by its key, listed in the help).
    pub why: Option<String>,
    /// The configured `[[offsite]]` targets, by name: the first sources offered.
    pub offsite: Vec<String>,
}

impl Offer {
    /// What makes an installation look lost: its Neo4j data folder is missing or
    /// empty (and, said with it, a repository with no generation). An empty
    /// repository beside a live store is an installation not backed up yet, not
    /// a lost one. Reads one folder.
    pub fn of(components: &[ComponentSpec], no_generation: bool, offsite: Vec<String>) -> Offer {
        let empty: Vec<&Path> = components
            .iter()
            .filter(|c| c.role == ROLE_NEO4J_DATA || c.is_neo4j_store())
            .map(|c| c.path.as_path())
            .filter(|p| std::fs::read_dir(p).map_or(true, |mut d| d.next().is_none()))
            .collect();
        let mut why = Vec::new();
        if let Some(p) = empty.first() {
            why.push(format!(
                "the Neo4j data folder {} is {}",
                p.display(),
                if p.exists() { "empty" } else { "missing" }
            ));
        }
        if no_generation && !why.is_empty() {
            why.push("the repository holds no generation".into());
        }
        Offer {
            why: (!why.is_empty()).then(|| why.join(" and ")),
            offsite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let c = vec![ComponentSpec::new(ROLE_NEO4J_DATA, data.clone())];
        let o = Offer::of(&c, false, vec![]);
        assert!(o.why.as_deref().unwrap().contains("is missing"), "{o:?}");
        std::fs::create_dir(&data).unwrap();
        assert!(Offer::of(&c, false, vec![])
            .why
            .unwrap()
            .contains("is empty"));
        std::fs::write(data.join("x"), "x").unwrap();
        assert_eq!(Offer::of(&c, false, vec![]).why, None);
        // A healthy store not backed up yet is not a lost installation.
        assert_eq!(Offer::of(&c, true, vec![]).why, None);
        std::fs::remove_file(data.join("x")).unwrap();
        assert_eq!(
            Offer::of(&c, true, vec![]).why.as_deref(),
            Some(
                format!(
                    "the Neo4j data folder {} is empty and the repository holds no generation",
                    data.display()
                )
                .as_str()
            )
        );
    }
}
