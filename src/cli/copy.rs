//! `copy ID --to TARGET`.

use super::env::{tee, Env, Failure, Result};
use super::render::Renderer;
use crate::ops::exit::Exit;
use crate::ops::{self, OpError};
use crate::outln;

/// Copies a generation to an off-site target.
pub(super) fn copy(env: &Env, id: &str, to: &str) -> Result<()> {
    let id = &env.id(id)?;
    let target = env.offsite(to)?;
    let m = env.reading().manifest(id).map_err(OpError::from)?;
    let mut r = Renderer::new();
    let copied = ops::offsite::copy(env.reading(), to, &target, &m, &env.cancel, &mut |e| {
        tee(&mut r, e)
    });
    drop(r);
    if env.cli.json {
        env.print_json(&copied)?;
    } else if copied.ok {
        outln!("{id} to {to}: {} ({})", copied.detail, copied.location);
    }
    // `copy` writes no generation and stops no service: its failure says only
    // what it did (`detail` names the target, the cause and how to retry).
    match copied.ok {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: copied.detail,
        }),
    }
}
