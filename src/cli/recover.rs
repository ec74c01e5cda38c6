//! `recover`.

use super::env::{tee, Env, Result};
use super::render::Renderer;
use crate::ops::{self};
use crate::outln;

pub(super) fn recover(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    let ctx = env.context(&inst);
    let mut r = Renderer::new();
    let out = ops::recover::run(&ctx, &env.config.drill.scratch, &mut |e| tee(&mut r, e))?;
    drop(r);
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
