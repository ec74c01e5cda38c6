//! `drill [ID]`.

use serde::Serialize;

use super::env::{tee, Env, Failure, Result};
use super::render::Renderer;
use crate::ops::exit::Exit;
use crate::ops::{self, Context};
use crate::outln;
use crate::repo::manifest::DrillRecord;
use crate::units;

/// `drill --json` (docs/json.md).
#[derive(Serialize)]
struct DrillDoc<'a> {
    id: &'a str,
    drill: &'a DrillRecord,
}

/// `drill [ID]`: see `ops::drill`. Exit 1 when the drill ran and failed.
pub(super) fn drill(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let inst = env.installation()?;
    let ctx = Context::new(
        &env.config,
        &inst,
        env.reading().clone(),
        env.cancel.clone(),
    );
    let _lock = ops::lock_store(env.reading(), "drill")?;
    let mut r = Renderer::new();
    let record = ops::drill::run(&ctx, &env.config.drill, id, &mut |e| tee(&mut r, e))?;
    drop(r);
    if env.cli.json {
        env.print_json(&DrillDoc { id, drill: &record })?;
    } else {
        outln!(
            "{id}: restore drill {} in {}: {}",
            if record.ok { "ok" } else { "FAILED" },
            units::duration(std::time::Duration::from_secs_f64(record.secs)),
            record.detail
        );
    }
    match record.ok {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: format!("the restore drill of {id} failed: {}", record.detail),
        }),
    }
}
