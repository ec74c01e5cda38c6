//! `delete ID`.

use serde::Serialize;

use super::env::{tee, Env, Result};
use super::render::Renderer;
use crate::ops::{self, OpError};
use crate::outln;

/// `delete --json` (docs/json.md).
#[derive(Serialize)]
struct DeleteDoc<'a> {
    id: &'a str,
    deleted: bool,
}

pub(super) fn delete(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    env.reading().manifest(id).map_err(OpError::from)?;
    env.confirm(&format!("delete generation {id}"), Some(id))?;
    let mut r = Renderer::new();
    ops::prune::delete(
        env.reading(),
        id,
        &ops::prune::SnapshotDeletion::of(&env.config.snapshot),
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    if env.cli.json {
        return env.print_json(&DeleteDoc { id, deleted: true });
    }
    outln!("{id} deleted");
    Ok(())
}
