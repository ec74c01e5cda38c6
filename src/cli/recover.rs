//! `recover`.

use std::path::PathBuf;

use serde::Serialize;

use super::env::{tee, Env, Result};
use super::render::Renderer;
use crate::ops::{self};
use crate::outln;

/// `recover --json` (docs/json.md).
#[derive(Serialize)]
struct RecoverDoc<'a> {
    /// Whether an interrupted run had left services stopped.
    recovered: bool,
    started: &'a [String],
    unhealthy: &'a [String],
    /// Leftovers of interrupted runs that were removed.
    removed: &'a [PathBuf],
}

pub(super) fn recover(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    let ctx = env.context(&inst);
    let mut r = Renderer::new();
    let out = ops::recover::run(&ctx, &env.config.drill.scratch, &mut |e| tee(&mut r, e))?;
    drop(r);
    if env.cli.json {
        return env.print_json(&RecoverDoc {
            recovered: out.record.is_some(),
            started: out.record.as_ref().map_or(&[][..], |rec| &rec.stopped),
            unhealthy: &out.closing.unhealthy,
            removed: &out.removed,
        });
    }
    match &out.record {
        None => outln!("nothing to recover: no interrupted run left services stopped"),
        Some(rec) => outln!("recovered: started {}", rec.stopped.join(", ")),
    }
    if !out.removed.is_empty() {
        outln!(
            "removed {} leftover(s) of interrupted runs",
            out.removed.len()
        );
    }
    Ok(())
}
