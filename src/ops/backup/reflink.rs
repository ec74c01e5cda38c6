//! Reflink staging: every component cloned (metadata time only) while the
//! services are stopped, on a file system that shares extents (XFS, btrfs).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::ops::event::{Event, Sink, Step};
use crate::ops::{Context, OpError};
use crate::repo::clone::{self, CloneError};
use crate::repo::generation::Repo;

/// Whether clones are possible: asked for, and the sources and the repository
/// share a file system that clones files. Decided before anything stops.
pub fn possible(ctx: &Context, repo: &Repo) -> bool {
    ctx.reflink
        && ctx
            .inst
            .components
            .iter()
            .all(|c| clone::possible(&c.path, &repo.root))
}

/// Clones every component into `dir/<name>`; the clones, in component order.
pub fn clone_components(ctx: &Context, dir: &Path, on: Sink) -> Result<Vec<PathBuf>, OpError> {
    let mut out = Vec::new();
    for c in &ctx.inst.components {
        let step = Step::Clone(c.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::failed(format!("cannot create {}: {e}", dir.display())))?;
        let dest = dir.join(&c.name);
        match clone::clone_tree(&c.path, &dest, &ctx.cancel) {
            Ok(warnings) => warnings.into_iter().for_each(|w| on(Event::Warning(w))),
            Err(CloneError::Cancelled) => {
                return Err(OpError::Cancelled {
                    detail: crate::ops::error::STOPPED.into(),
                })
            }
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                return Err(OpError::failed(e.to_string()));
            }
        }
        on(Event::Finished(step, t.elapsed()));
        out.push(dest);
    }
    Ok(out)
}
