//! The work behind a browse, run as tasks (see `tasks`): reading the file
//! indexes (then the mtimes from the archives), and comparing with the live
//! installation. Each stops at its cancel (the browse was left) and reports
//! through `send`; what it returns is its last report.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::browse::{BrowseMsg, DiffRow, FileRow};
use crate::cancel::Cancel;
use crate::install::Installation;
use crate::ops::{compare, Event};
use crate::repo::archive::{self, ArchiveEvent};
use crate::repo::file_index::{self, escape, IndexEntry};
use crate::repo::generation::Repo;
use crate::text::printable;

/// How often a task reports its progress (a frame is 100 ms).
const EVERY: Duration = Duration::from_millis(100);

/// Mtimes are sent in batches of this many.
const BATCH: usize = 4096;

/// Lists generation `id`'s entries, then reads their mtimes; returns how
/// that ended (the listing's failure, or the mtimes' end).
pub fn listing(repo: &Repo, id: &str, cancel: &Cancel, send: &dyn Fn(BrowseMsg)) -> BrowseMsg {
    let m = match repo.manifest(id) {
        Ok(m) => m,
        Err(e) => {
            return BrowseMsg::Listed(Err(e.to_string()));
        }
    };
    let dir = repo.path_of(id);
    let mut indexes: Vec<Vec<IndexEntry>> = Vec::new();
    let mut rows = Vec::new();
    for c in &m.components {
        let index = match file_index::read_index(&dir.join(&c.index)) {
            Ok(i) => i,
            Err(e) => {
                return BrowseMsg::Listed(Err(e.to_string()));
            }
        };
        rows.extend(index.iter().map(|e| FileRow {
            component: c.name.clone(),
            path: escape(&e.path),
            kind: e.kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            sha256: e.sha256.as_deref().map(|h| printable(h, 64)),
            link: e.link.as_deref().map(escape),
            mtime: None,
        }));
        indexes.push(index);
    }
    send(BrowseMsg::Listed(Ok(rows)));
    if cancel.is_cancelled() {
        return BrowseMsg::TimesEnd(Err("cancelled".into()));
    }
    // The index holds no times: they are read from the archives (which checks
    // them against the index on the way).
    let total: u64 = m.components.iter().map(|c| c.bytes).sum();
    let (mut done, mut told) = (0u64, Instant::now());
    let mut first = 0usize;
    for (c, index) in m.components.iter().zip(&indexes) {
        let at: HashMap<&[u8], usize> = index
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.as_slice(), first + i))
            .collect();
        first += index.len();
        let mut batch = Vec::new();
        let mut progress = |ev: ArchiveEvent| {
            if let ArchiveEvent::Bytes(n) = ev {
                done += n;
                if told.elapsed() >= EVERY {
                    told = Instant::now();
                    send(BrowseMsg::TimesRead { done, total });
                }
            }
        };
        let mut times = |path: &[u8], t: i64| {
            if let Some(&i) = at.get(path) {
                batch.push((i, t));
            }
            if batch.len() >= BATCH {
                send(BrowseMsg::Times(std::mem::take(&mut batch)));
            }
        };
        let read = archive::entry_times(
            &dir.join(&c.archive),
            index,
            cancel,
            &mut progress,
            &mut times,
        );
        send(BrowseMsg::Times(batch));
        if let Err(e) = read {
            return BrowseMsg::TimesEnd(Err(format!("{}: {e}", c.archive)));
        }
    }
    BrowseMsg::TimesEnd(Ok(()))
}

/// Compares generation `id` with the live installation, reporting its progress.
pub fn compare(
    inst: &Installation,
    repo: &Repo,
    id: &str,
    cancel: &Cancel,
    send: &dyn Fn(BrowseMsg),
) -> Result<Vec<DiffRow>, String> {
    let m = repo.manifest(id).map_err(|e| e.to_string())?;
    let mut told = Instant::now();
    let mut on = |ev: Event| {
        if let Event::Progress { step, done, total } = ev {
            if told.elapsed() >= EVERY || done == total {
                told = Instant::now();
                let step = step.to_string();
                send(BrowseMsg::Comparing { step, done, total });
            }
        }
    };
    let found = compare::compare(inst, repo, &m, cancel, &mut on).map_err(|e| e.to_string())?;
    Ok(found
        .into_iter()
        .map(|d| DiffRow {
            component: d.component,
            path: escape(&d.path),
            change: d.change,
        })
        .collect())
}
