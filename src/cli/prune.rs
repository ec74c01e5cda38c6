//! `prune` and its plan.

use serde_json::json;

use super::args::PruneArgs;
use super::env::{tee, Env, Failure, Result};
use super::json::*;
use super::render::Renderer;
use crate::config::{self};
use crate::ops::{self};
use crate::outln;
use crate::repo::retention::Policy;

pub(super) fn policy(env: &Env, args: &PruneArgs) -> Result<Policy> {
    let given = args.keep_last.is_some()
        || args.keep_hourly.is_some()
        || args.keep_daily.is_some()
        || args.keep_weekly.is_some()
        || args.keep_monthly.is_some()
        || args.keep_yearly.is_some()
        || args.keep_within.is_some();
    // Flags replace the configured policy as a whole, so the command line says
    // exactly what is kept.
    let settings = match given {
        false => env.config.retention.clone(),
        true => config::RetentionConfig {
            keep_last: args.keep_last.unwrap_or(0),
            keep_hourly: args.keep_hourly.unwrap_or(0),
            keep_daily: args.keep_daily.unwrap_or(0),
            keep_weekly: args.keep_weekly.unwrap_or(0),
            keep_monthly: args.keep_monthly.unwrap_or(0),
            keep_yearly: args.keep_yearly.unwrap_or(0),
            keep_within: args.keep_within.clone().unwrap_or_default(),
        },
    };
    Policy::from_config(&settings).map_err(|e| Failure::usage(e.to_string()))
}

pub(super) fn prune(env: &Env, args: &PruneArgs) -> Result<()> {
    env.existing_repo()?;
    let policy = policy(env, args)?;
    let rows = ops::prune::plan(env.reading(), &policy)?;
    print_plan(env, &rows, args.dry_run);
    let doomed = rows.iter().filter(|r| !r.decision.keep).count();
    if args.dry_run || doomed == 0 {
        return Ok(());
    }
    env.confirm(&format!("delete {doomed} generation(s)"), None)?;
    let mut r = Renderer::new();
    let rows = ops::prune::run(
        env.reading(),
        &policy,
        &ops::prune::SnapshotDeletion::of(&env.config.snapshot),
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    if !env.cli.json {
        outln!(
            "deleted {} generation(s)",
            rows.iter().filter(|r| !r.decision.keep).count()
        );
    }
    Ok(())
}

pub(super) fn print_plan(env: &Env, rows: &[ops::prune::PlanRow], dry_run: bool) {
    if env.cli.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut v = list_json(&r.manifest);
                v["keep"] = json!(r.decision.keep);
                v["reasons"] = json!(r
                    .decision
                    .reasons
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>());
                v
            })
            .collect();
        env.print_json(json!({ "dry_run": dry_run, "generations": v }));
        return;
    }
    for r in rows {
        let reasons: Vec<String> = r.decision.reasons.iter().map(|x| x.to_string()).collect();
        outln!(
            "{:<6} {:<20} {:<19} {}",
            if r.decision.keep { "keep" } else { "DELETE" },
            r.manifest.id,
            r.manifest
                .created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            reasons.join(", ")
        );
    }
}
