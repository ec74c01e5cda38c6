//! Verification of generations. Quick: every archive and index file against
//! `SHA256SUMS` (and the manifest). Deep: also decompress every archive, read every
//! tar entry and check each file's sha256 against the file index.

use crate::repo::files;
use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use super::event::{archive_progress, Event, Sink, Step};
use super::{parallel, OpError};
use crate::cancel::Cancel;
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::generation::Repo;
use crate::repo::manifest::{Manifest, VerifyRecord};
use crate::repo::restic::Restic;
use crate::repo::store::Store;

/// A verification the caller ran just before asking for the typed confirmation
/// (the wizard does, so the admin sees the result before confirming): when it
/// started and whether it passed. The restore does not hash the generation a
/// second time while it is provably unchanged since (see `ops::restore::run_verified`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub at: chrono::DateTime<chrono::Utc>,
    pub ok: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub id: String,
    pub deep: bool,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// Verifies the given generations (all when `ids` is empty) under the repository
/// lock and records each result in its manifest.
pub fn run(
    store: &Store,
    ids: &[String],
    deep: bool,
    cancel: &Cancel,
    on: Sink,
) -> Result<Vec<Report>, OpError> {
    match store {
        Store::Archive(repo) => run_archive(repo, ids, deep, cancel, on),
        Store::Restic(r) => run_restic(store, r, ids, deep, cancel, on),
        Store::Rclone(r) => run_rclone(store, r, ids, cancel, on),
    }
}

/// An rclone target: every file is read back through rclone and hashed here
/// (`rclone hashsum sha256 --download`), then compared with `SHA256SUMS`.
fn run_rclone(
    store: &Store,
    r: &crate::repo::rclone::Rclone,
    ids: &[String],
    cancel: &Cancel,
    on: Sink,
) -> Result<Vec<Report>, OpError> {
    let ids: Vec<String> = if ids.is_empty() {
        store.list()?.0.into_iter().map(|m| m.id).collect()
    } else {
        ids.to_vec()
    };
    let mut reports = Vec::new();
    for id in ids {
        let m = store.manifest(&id)?;
        let step = Step::Verify(format!("{id} on {}", r.location()));
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let problems = match r.check_sums(&id, &m, cancel) {
            Ok(()) => {
                on(Event::Finished(step, t.elapsed()));
                vec![]
            }
            Err(crate::repo::rclone::RcloneError::Cancelled) => {
                return Err(OpError::Cancelled {
                    detail: format!("verification of {id} was cancelled"),
                })
            }
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                vec![e.to_string()]
            }
        };
        reports.push(Report {
            ok: problems.is_empty(),
            id,
            deep: false,
            problems,
        });
    }
    Ok(reports)
}

/// restic checks a repository as a whole: `restic check` (structure, every
/// index and tree) and, deep, `--read-data` (every pack read and hashed). The
/// result stands for each generation asked about.
fn run_restic(
    store: &Store,
    r: &Restic,
    ids: &[String],
    deep: bool,
    cancel: &Cancel,
    on: Sink,
) -> Result<Vec<Report>, OpError> {
    super::lock_store(store, "verify")?;
    let ids: Vec<String> = if ids.is_empty() {
        store.list()?.0.into_iter().map(|m| m.id).collect()
    } else {
        ids.to_vec()
    };
    for id in &ids {
        store.manifest(id)?;
    }
    // restic's check needs the repository to itself: a lock left by a killed run
    // is said as such (exit 4), never as damage.
    super::restic_locks::check_locks(r, super::restic_locks::LockNeed::Exclusive)?;
    let step = Step::Verify(match deep {
        true => "restic repository, every pack read (check --read-data)".into(),
        false => "restic repository (check)".into(),
    });
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let problems = match r.check(deep, cancel, &mut |_| {}) {
        Ok(()) => {
            on(Event::Finished(step, t.elapsed()));
            vec![]
        }
        Err(crate::repo::restic::ResticError::Cancelled) => {
            return Err(OpError::Cancelled {
                detail: "verification was cancelled".into(),
            })
        }
        // A lock says nothing about the data: not a failed verification.
        Err(e @ crate::repo::restic::ResticError::Locked { .. }) => {
            on(Event::Failed(step, e.to_string()));
            return Err(e.into());
        }
        Err(e) => {
            on(Event::Failed(step, e.to_string()));
            vec![e.to_string()]
        }
    };
    Ok(ids
        .into_iter()
        .map(|id| Report {
            id,
            deep,
            ok: problems.is_empty(),
            problems: problems.clone(),
        })
        .collect())
}

fn run_archive(
    repo: &Repo,
    ids: &[String],
    deep: bool,
    cancel: &Cancel,
    on: Sink,
) -> Result<Vec<Report>, OpError> {
    let _lock = super::lock_repo(repo, "verify")?;
    let ids: Vec<String> = if ids.is_empty() {
        repo.list()?.0.into_iter().map(|m| m.id).collect()
    } else {
        ids.to_vec()
    };
    let mut reports = Vec::new();
    let several = ids.len() > 1;
    for id in ids {
        let manifest = repo.manifest(&id)?;
        if manifest.is_external_snapshot() {
            on(Event::Info(format!(
                "{id}: {}",
                super::snapshot::NOTHING_TO_VERIFY
            )));
            reports.push(Report {
                id,
                deep,
                ok: true,
                problems: vec![],
            });
            continue;
        }
        // With several generations, every line says which one it is about.
        let mut named = |e: Event| on(if several { name_steps(e, &id) } else { e });
        let dir = repo.trusted_generation(&id)?;
        let result = check(&dir, &manifest, deep, cancel, &mut named);
        if let Err(OpError::Cancelled { .. }) = result {
            return Err(OpError::Cancelled {
                detail: format!("verification of {id} was cancelled"),
            });
        }
        let problems = match result {
            Ok(()) => vec![],
            Err(e) => vec![e.to_string()],
        };
        let ok = problems.is_empty();
        repo.record_verify(
            &id,
            VerifyRecord {
                at: Utc::now(),
                deep,
                ok,
            },
        )?;
        reports.push(Report {
            id,
            deep,
            ok,
            problems,
        });
    }
    Ok(reports)
}

/// The event with its verify step prefixed by the generation id.
fn name_steps(e: Event, id: &str) -> Event {
    let name = |s: Step| match s {
        Step::Verify(what) => Step::Verify(format!("{id} {what}")),
        other => other,
    };
    match e {
        Event::Started(s) => Event::Started(name(s)),
        Event::Finished(s, t) => Event::Finished(name(s), t),
        Event::Failed(s, why) => Event::Failed(name(s), why),
        Event::Progress { step, done, total } => Event::Progress {
            step: name(step),
            done,
            total,
        },
        other => other,
    }
}

/// Checks one generation folder; the first problem found is the error.
pub fn check(
    dir: &Path,
    m: &Manifest,
    deep: bool,
    cancel: &Cancel,
    on: Sink,
) -> Result<(), OpError> {
    quick(dir, m, cancel, on)?;
    if deep {
        for c in &m.components {
            let step = Step::Verify(format!("{} (deep)", c.name));
            on(Event::Started(step.clone()));
            let t = Instant::now();
            let index = file_index::read_index(&dir.join(&c.index))
                .map_err(|e| OpError::Verify(format!("{}: {e}", c.index)))?;
            let result = archive::deep_verify(
                &dir.join(&c.archive),
                &index,
                cancel,
                &mut archive_progress(&step, c.bytes, on),
            );
            if let Err(e) = result {
                on(Event::Failed(step.clone(), e.to_string()));
                return Err(OpError::from(e));
            }
            on(Event::Finished(step, t.elapsed()));
        }
    }
    Ok(())
}

/// The steps `quick` takes on `dir`, in its order: one per file named in
/// `SHA256SUMS` (the runbook and an application export too), so a plan shows
/// them where they run; the manifest's archives and indexes when the sums
/// cannot be read (`quick` then refuses at once).
pub fn quick_steps(dir: &Path, m: &Manifest) -> Vec<Step> {
    match files::read_sums(dir) {
        Ok(sums) => sums.into_iter().map(|(_, n)| Step::Verify(n)).collect(),
        Err(_) => m
            .components
            .iter()
            .flat_map(|c| {
                [
                    Step::Verify(c.archive.clone()),
                    Step::Verify(c.index.clone()),
                ]
            })
            .collect(),
    }
}

/// Hashes every file named in `SHA256SUMS` and checks that the manifest's archives
/// and indexes are all covered, so a missing or swapped file is caught too.
pub fn quick(dir: &Path, m: &Manifest, cancel: &Cancel, on: Sink) -> Result<(), OpError> {
    let id = &m.id;
    let sums = files::read_sums(dir).map_err(|e| OpError::Verify(format!("{id}: {e}")))?;
    for c in &m.components {
        for name in [&c.archive, &c.index] {
            if !sums.iter().any(|(_, n)| n == name) {
                return Err(OpError::Verify(format!(
                    "{id}: {name} is not listed in SHA256SUMS"
                )));
            }
        }
        if !sums.iter().any(|(h, n)| n == &c.archive && h == &c.sha256) {
            return Err(OpError::Verify(format!(
                "{id}: the checksum of {} in SHA256SUMS differs from the manifest",
                c.archive
            )));
        }
    }
    // Older generations have no runbook; one that is there must be the one sealed
    // with the generation, or a reader could follow planted instructions.
    let runbook = super::runbook::FILE;
    if std::fs::symlink_metadata(dir.join(runbook)).is_ok()
        && !sums.iter().any(|(_, n)| n == runbook)
    {
        return Err(OpError::Verify(format!(
            "{id}: {runbook} is not listed in SHA256SUMS"
        )));
    }
    // Each file is hashed on its own thread: archives are independent.
    parallel::each(&sums, cancel, on, |(expected, name), cancel, on| {
        let path = dir.join(name);
        let step = Step::Verify(name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let total = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let actual =
            match archive::sha256_file(&path, cancel, &mut archive_progress(&step, total, on)) {
                Ok(a) => a,
                Err(archive::ArchiveError::Cancelled) => {
                    return Err(OpError::Cancelled {
                        detail: "verification cancelled".into(),
                    })
                }
                Err(e) => return Err(OpError::Verify(format!("{id}: {e}"))),
            };
        if &actual != expected {
            let msg = format!("{id}: {name} is damaged (sha256 {actual}, expected {expected})");
            on(Event::Failed(step, msg.clone()));
            return Err(OpError::Verify(msg));
        }
        on(Event::Finished(step, t.elapsed()));
        Ok(())
    })?;
    Ok(())
}
