//! `restore ID`.

use serde::Serialize;

use super::env::{tee, Env, Failure, Result};
use super::render::Renderer;
use crate::install::Installation;
use crate::ops::exit::Exit;
use crate::ops::placement::Placement;
use crate::ops::restore::{RestoreOptions, RestorePlan};
use crate::ops::{self, OpError};
use crate::outln;
use crate::units;

/// `restore ID --json` (docs/json.md).
#[derive(Serialize)]
struct RestoreDoc<'a> {
    restored: &'a str,
    safety_backup: Option<&'a str>,
    placements: &'a [Placement],
    unhealthy: &'a [String],
    /// Services that were not running before the restore and were left so.
    left_stopped: &'a [String],
}

/// What the restore will do, before the confirmation.
fn show_plan(plan: &RestorePlan, inst: &Installation, safety_backup: bool) {
    let m = &plan.manifest;
    outln!(
        "Restore generation {} ({}, from host {}):",
        m.id,
        m.created_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S"),
        m.host
    );
    for t in plan.targets.iter().flatten() {
        let p = &t.placement;
        if !t.exists {
            outln!(
                "  {} does not exist yet: it is CREATED from {} ({})",
                p.target.display(),
                p.name,
                units::bytes(p.bytes)
            );
            continue;
        }
        outln!(
            "  {} will be REPLACED by {} ({}); the current folder is kept as {}",
            p.target.display(),
            p.name,
            units::bytes(p.bytes),
            p.kept.display()
        );
        if let Some(lost) = &t.lost {
            outln!("    {lost}");
        }
    }
    for line in plan.checks.plan_lines() {
        outln!("  {line}");
    }
    if plan.app_export {
        outln!("  {}", ops::app_export::NOT_RESTORED);
    }
    let names: Vec<&str> = inst.services.iter().map(|s| s.name()).collect();
    outln!(
        "  services stopped during the restore: {}",
        names.join(", ")
    );
    outln!(
        "  safety backup of the current state first: {}",
        if safety_backup { "yes" } else { "NO" }
    );
}

pub(super) fn restore(env: &Env, id: &str, safety_backup: bool) -> Result<()> {
    let id = &env.id(id)?;
    // A fresh Docker host: the project's containers and volumes are made first.
    if let Some(said) = ops::restore::prepare_installation(&env.config)? {
        outln!("{said}");
    }
    let inst = env.installation()?;
    let ctx = env.context(&inst);
    let from = env.from.as_ref();
    let plan = ops::restore::plan(&ctx, from.unwrap_or(&env.store), id, !env.cli.json)?;
    if let Some(r) = plan.checks.refusals.first() {
        return Err(Failure {
            exit: Exit::Failed,
            message: format!("{r}. Nothing was stopped or changed"),
        });
    }
    if let Err(e) = &plan.targets {
        return Err(OpError::Refused(e.clone()).into());
    }
    if !env.cli.json {
        show_plan(&plan, &inst, safety_backup);
    }
    env.confirm(&format!("restore generation {id}"), Some(id))?;
    let mut r = Renderer::new();
    let out = ops::restore::run(
        &ctx,
        from,
        id,
        &RestoreOptions { safety_backup },
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    if env.cli.json {
        env.print_json(&RestoreDoc {
            restored: &out.restored.id,
            safety_backup: out.safety.as_ref().map(|s| s.id.as_str()),
            placements: &out.placements,
            unhealthy: &out.closing.unhealthy,
            left_stopped: &out.left_stopped,
        })?;
    } else {
        if out.left_stopped.is_empty() {
            outln!("generation {} restored; services running.", out.restored.id);
        } else {
            // Started in reverse stop order: Neo4j before Structr.
            let how: Vec<String> = inst
                .services
                .iter()
                .rev()
                .filter(|s| out.left_stopped.iter().any(|n| n == s.name()))
                .map(|s| format!("{} ({})", s.name(), s.describe()))
                .collect();
            outln!(
                "generation {} restored. These services were stopped before the restore and are left stopped; start them in this order when ready: {}",
                out.restored.id,
                how.join(", then ")
            );
        }
        if let Some(s) = &out.safety {
            outln!("safety backup of the previous state: generation {}", s.id);
        }
        // A target that did not exist before has no previous folder to keep.
        for p in out.placements.iter().filter(|p| p.kept.exists()) {
            outln!(
                "previous {} kept at {} (delete it when satisfied)",
                p.target.display(),
                p.kept.display()
            );
        }
        for u in &out.closing.unhealthy {
            outln!("WARNING: not healthy after start: {u}");
        }
    }
    Ok(())
}
