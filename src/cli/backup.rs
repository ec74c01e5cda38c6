//! `backup`, and the off-site copies it makes.

use serde::Serialize;

use super::env::{tee, Env, Failure, Result};
use super::json::Whole;
use super::render::Renderer;
use crate::ops::backup::BackupOptions;
use crate::ops::exit::Exit;
use crate::ops::{self};
use crate::repo::store::Store;
use crate::units;
use crate::{errln_at, outln};

/// `backup --json` (docs/json.md).
#[derive(Serialize)]
struct BackupDoc<'a> {
    generation: Whole<'a>,
    /// Services that run but did not answer as healthy after the start.
    unhealthy: &'a [String],
    offsite: &'a [ops::offsite::Copied],
}

pub(super) fn backup(env: &Env, label: &str, snapshot: bool) -> Result<()> {
    if snapshot && !env.config.snapshot.configured() {
        return Err(Failure::usage(format!(
            "--snapshot needs a [snapshot] section with `command` (your hypervisor's or cloud's snapshot tool) or `lvm = true` in {}",
            env.source
        )));
    }
    let inst = env.installation()?;
    let mut ctx = env.context(&inst);
    ctx.snapshot_run |= snapshot;
    let mut r = Renderer::new();
    let out = ops::backup::run(
        &ctx,
        &BackupOptions {
            label: label.into(),
        },
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    let m = &out.manifest;
    if env.cli.json {
        env.print_json(&BackupDoc {
            generation: Whole::of(m),
            unhealthy: &out.closing.unhealthy,
            offsite: &out.offsite,
        })?;
    } else {
        if let Some(s) = m.snapshot_backup.as_ref().filter(|_| !env.cli.json) {
            if s.is_external() {
                outln!(
                    "generation {} records the snapshot taken by `{}` ({}), downtime {}",
                    m.id,
                    s.command,
                    env.store.location(),
                    units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
                );
                return offsite_result(&out.offsite);
            }
        }
        let (stored, place) = match &env.store {
            Store::Archive(repo) => ("archives", repo.path_of(&m.id).display().to_string()),
            Store::Rclone(r) => ("archives", r.location().to_string()),
            Store::Restic(r) => (
                "added to the repository",
                format!(
                    "restic snapshot {} in {}",
                    m.snapshot.as_deref().unwrap_or("?").get(..8).unwrap_or("?"),
                    r.location
                ),
            ),
        };
        outln!(
            "generation {} written: {} in {} files, {stored} {} ({place}), downtime {}",
            m.id,
            units::bytes(m.total_bytes()),
            m.components.iter().map(|c| c.files).sum::<u64>(),
            units::bytes(m.total_archive_size()),
            units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
        );
        for u in &out.closing.unhealthy {
            outln!("WARNING: not healthy after start: {u}");
        }
        for c in &out.offsite {
            match c.ok {
                true => outln!("off-site {}: {} ({})", c.target, c.detail, c.location),
                // An error whatever its first word, so `-q` keeps it.
                false => errln_at!(
                    crate::cli::output::Priority::Error,
                    "off-site {}: FAILED: {}",
                    c.target,
                    c.detail
                ),
            }
        }
    }
    offsite_result(&out.offsite)
}

/// A failed off-site copy fails the run (exit 1), after everything else was reported.
pub(super) fn offsite_result(copies: &[ops::offsite::Copied]) -> Result<()> {
    let failed: Vec<&str> = copies
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.target.as_str())
        .collect();
    match failed.is_empty() {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: format!(
                "the generation was written and the services run, but the off-site copy to {} failed (see above)",
                failed.join(", ")
            ),
        }),
    }
}
