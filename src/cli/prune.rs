//! `prune` and its plan.

use serde::Serialize;

use super::args::PruneArgs;
use super::env::{tee, Env, Failure, Result};
use super::json::Brief;
use super::render::Renderer;
use crate::config::{self};
use crate::ops::{self};
use crate::repo::retention::Policy;
use crate::{outln, units};

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
    print_plan(env, &rows, &policy, args.dry_run)?;
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

/// `prune --json` (docs/json.md): each generation in brief with the decision.
#[derive(Serialize)]
struct PlanDoc<'a> {
    dry_run: bool,
    generations: Vec<PlanRowDoc<'a>>,
}

#[derive(Serialize)]
struct PlanRowDoc<'a> {
    #[serde(flatten)]
    generation: Brief<'a>,
    keep: bool,
    reasons: Vec<String>,
}

fn reasons(r: &ops::prune::PlanRow) -> Vec<String> {
    r.decision.reasons.iter().map(|x| x.to_string()).collect()
}

pub(super) fn print_plan(
    env: &Env,
    rows: &[ops::prune::PlanRow],
    policy: &Policy,
    dry_run: bool,
) -> Result<()> {
    if env.cli.json {
        let generations = rows
            .iter()
            .map(|r| PlanRowDoc {
                generation: Brief::of(&r.manifest),
                keep: r.decision.keep,
                reasons: reasons(r),
            })
            .collect();
        return env.print_json(&PlanDoc {
            dry_run,
            generations,
        });
    }
    // Said first, so that a long plan cannot be mistaken for something done.
    outln!(
        "Prune plan for {}, policy: {policy}{}",
        env.reading().location(),
        if dry_run {
            " (dry run: nothing is deleted)"
        } else {
            ""
        }
    );
    for r in rows {
        outln!(
            "{:<6} {:<20} {:<19} {}",
            if r.decision.keep { "keep" } else { "DELETE" },
            r.manifest.id,
            r.manifest
                .created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            reasons(r).join(", ")
        );
    }
    outln!("{}", totals(rows, env.reading().kind(), dry_run));
    Ok(())
}

/// The plan's last line: how many go, how many stay, and what that frees.
fn totals(rows: &[ops::prune::PlanRow], kind: config::RepoKind, dry_run: bool) -> String {
    let doomed: Vec<&ops::prune::PlanRow> = rows.iter().filter(|r| !r.decision.keep).collect();
    let kept = rows.len() - doomed.len();
    if doomed.is_empty() {
        return format!("nothing to delete: all {kept} generation(s) are kept");
    }
    let bytes: u64 = doomed.iter().map(|r| r.manifest.total_archive_size()).sum();
    // restic frees only the data no kept snapshot shares; what each snapshot added
    // when it was taken is the most that can go.
    let frees = match kind {
        config::RepoKind::Restic => format!("frees up to {}", units::bytes(bytes)),
        config::RepoKind::Archive => format!("frees {}", units::bytes(bytes)),
    };
    format!(
        "{} generation(s) {} DELETED, {kept} kept; {frees}",
        doomed.len(),
        if dry_run { "would be" } else { "will be" },
    )
}
