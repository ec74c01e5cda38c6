//! The restore's steps, as planned and as the swap carries them out.

use std::path::Path;
use std::time::Instant;

use super::super::event::{Event, Sink, Step};
use super::super::journal::{Journal, Swap};
use super::super::window::{start_steps, stop_steps};
use super::super::{restic, swap, verify, Context, OpError};
use super::options::RestoreOptions;
use super::place::has_entries;
use crate::ops::placement::Placement;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// Every step of a restore, in order, for the progress view.
pub(super) fn planned(
    ctx: &Context,
    from: &Store,
    m: &Manifest,
    opts: &RestoreOptions,
    found_stopped: &[String],
) -> Vec<Step> {
    let mut steps: Vec<Step> = match from {
        // Every file the check hashes, the runbook and an application export
        // too: a step missing here would be drawn after the last one planned.
        Store::Archive(repo) => match repo.trusted_generation(&m.id) {
            Ok(dir) => verify::quick_steps(&dir, m),
            Err(_) => verify::quick_steps(Path::new(""), m),
        },
        Store::Restic(_) => vec![Step::Verify("restic repository".into())],
        Store::Rclone(_) => vec![],
    };
    let archive = ctx.store.archive().is_some();
    // Only what exists and holds something is saved (see `run`).
    let saved = ctx.inst.only(|c| has_entries(&c.path));
    let safety = opts.safety_backup && !saved.components.is_empty();
    if safety && archive {
        steps.push(Step::Preflight);
    }
    steps.extend(stop_steps(ctx.inst));
    if safety && archive {
        steps.extend(
            saved
                .components
                .iter()
                .map(|c| Step::SafetyBackup(c.name.clone())),
        );
    } else if safety {
        steps.push(Step::SafetyBackup(restic::all_components(&saved)));
    }
    steps.extend(m.components.iter().map(|c| Step::Extract(c.name.clone())));
    steps.extend(m.components.iter().map(|c| Step::Swap(c.name.clone())));
    steps.extend(start_steps(ctx.inst, found_stopped));
    steps
}

/// Renames every target aside and every staging folder into place, recording the
/// plan in the journal first. On a failure, the renames done so far are undone.
pub(super) fn swap_all(
    placements: &[Placement],
    journal: &mut Journal,
    on: Sink,
) -> Result<(), OpError> {
    let swaps = placements
        .iter()
        .map(|p| Swap {
            target: p.target.clone(),
            kept: p.kept.clone(),
        })
        .collect();
    journal.set_swaps(swaps)?;
    let mut done: Vec<&Placement> = Vec::new();
    for p in placements {
        let step = Step::Swap(p.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        match swap::swap_in(&p.target, &p.staging, &p.kept) {
            Ok(()) => {
                done.push(p);
                on(Event::Finished(step, t.elapsed()));
            }
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                for q in done.iter().rev() {
                    if let Err(r) = swap::undo(&q.target, &q.kept, &q.staging) {
                        on(Event::Warning(r.to_string()));
                    }
                }
                journal.set_swaps(Vec::new())?;
                return Err(OpError::failed(e.to_string()));
            }
        }
    }
    journal.set_swaps(Vec::new())?;
    Ok(())
}
