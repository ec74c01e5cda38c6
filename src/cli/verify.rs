//! `verify`.

use super::env::{tee, Env, Failure, Result};
use super::render::Renderer;
use crate::ops::exit::Exit;
use crate::ops::{self};
use crate::outln;

pub(super) fn verify(env: &Env, id: Option<&str>, all: bool, deep: bool) -> Result<()> {
    // No id: the newest generation, the one a restore would most likely use.
    let ids: Vec<String> = match (id, all) {
        (Some(id), _) => vec![env.id(id)?],
        (None, true) => {
            env.existing_repo()?;
            vec![]
        }
        (None, false) => vec![env.id("latest")?],
    };
    let mut r = Renderer::new();
    let reports = ops::verify::run(env.reading(), &ids, deep, &env.cancel, &mut |e| {
        tee(&mut r, e)
    })?;
    drop(r);
    if env.cli.json {
        env.print_json(&reports)?;
    } else {
        for rep in &reports {
            match rep.ok {
                true => outln!("{}: ok ({})", rep.id, if deep { "deep" } else { "quick" }),
                false => outln!("{}: FAILED: {}", rep.id, rep.problems.join("; ")),
            }
        }
    }
    match reports.iter().filter(|r| !r.ok).count() {
        0 => Ok(()),
        n => Err(Failure {
            exit: Exit::Verify,
            message: format!("{n} generation(s) failed verification"),
        }),
    }
}
