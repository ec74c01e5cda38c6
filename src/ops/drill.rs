//! Restore drills: proof that a generation restores *and starts*, without
//! touching production. The generation is extracted into a scratch folder (never
//! the installation's targets), every file checked against its sha256 on the way,
//! then a Neo4j is started on the copy: for a Compose installation the
//! installation's own Neo4j image in a throwaway container without network, for
//! other installations the configured `[drill] command`. Then it is stopped and
//! the scratch folder removed, whatever happened. The result is recorded in the
//! generation (`last_drill`).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::event::{archive_progress, Event, Sink, Step};
use super::restore::Placement;
use super::{compat, restic, verify, Context, OpError};
use crate::config::DrillConfig;
use crate::install::{command, Installation};
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::generation::{DrillRecord, Manifest};
use crate::repo::store::Store;

/// The scratch folder, removed when dropped (a failed drill leaves nothing).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Drills generation `id` of `ctx.store` and records the result in it. `Err` is
/// for what kept the drill from running at all (no such generation, no space);
/// a drill that ran and failed is `Ok` with `ok: false` and the reason.
pub fn run(ctx: &Context, cfg: &DrillConfig, id: &str, on: Sink) -> Result<DrillRecord, OpError> {
    let m = ctx.store.manifest(id)?;
    if let Some(why) = super::snapshot::restore_refusal(&m) {
        return Err(OpError::Refused(format!(
            "{why}; a drill needs a generation with archives (drill another id)"
        )));
    }
    let started = Instant::now();
    let at = Utc::now();
    let needed: u64 = m
        .components
        .iter()
        .map(|c| c.bytes.saturating_add(c.files.saturating_mul(4096)))
        .sum();
    let free = super::preflight::free_space(&cfg.scratch)?;
    if free < needed.saturating_add(needed / 50).saturating_add(16 << 20) {
        return Err(OpError::Refused(format!(
            "not enough free space in {} for the drill's copy: {} needed, {} free; set [drill] scratch to a larger file system",
            cfg.scratch.display(),
            crate::units::bytes(needed),
            crate::units::bytes(free)
        )));
    }
    // Owner-only: the copy holds structr.conf with its passwords.
    let scratch = Scratch(
        cfg.scratch
            .join(format!("structr-backup-drill-{id}-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&scratch.0)
        .map_err(|e| {
            OpError::Refused(format!(
                "cannot make the scratch folder {}: {e}",
                scratch.0.display()
            ))
        })?;
    on(Event::Info(format!(
        "drill of {id} in {} (production is not touched)",
        scratch.0.display()
    )));
    let outcome = restore_copy(ctx, &m, &scratch.0, on)
        .and_then(|data| start_on_copy(ctx.inst, cfg, &data, &scratch.0, on));
    drop(scratch);
    let record = DrillRecord {
        at,
        ok: outcome.is_ok(),
        secs: started.elapsed().as_secs_f64(),
        detail: match &outcome {
            Ok(said) => said.clone(),
            Err(e) => e.to_string(),
        },
    };
    ctx.store.record_drill(id, &record)?;
    Ok(record)
}

/// Extracts every component into `scratch/<name>`, checking each file's sha256;
/// returns the copy of Neo4j's data folder.
fn restore_copy(ctx: &Context, m: &Manifest, scratch: &Path, on: Sink) -> Result<PathBuf, OpError> {
    let owners = compat::check(ctx.inst, m).owner_map();
    let place = |name: &str| Placement {
        name: name.to_string(),
        target: scratch.join(name),
        staging: scratch.join(name),
        kept: scratch.join(format!("{name}.unused")),
        bytes: 0,
        files: 0,
    };
    match &ctx.store {
        Store::Archive(repo) => {
            let dir = repo.path_of(&m.id);
            verify::quick(&dir, m, &ctx.cancel, on)?;
            for c in &m.components {
                let index = file_index::read_index(&dir.join(&c.index))
                    .map_err(|e| OpError::Verify(format!("{}: {e}", c.index)))?;
                let step = Step::Extract(c.name.clone());
                on(Event::Started(step.clone()));
                let t = Instant::now();
                let result = archive::extract_archive(
                    &dir.join(&c.archive),
                    &scratch.join(&c.name),
                    &index,
                    &owners,
                    &ctx.cancel,
                    &mut archive_progress(&step, c.bytes, on),
                );
                match result {
                    Ok(_) => on(Event::Finished(step, t.elapsed())),
                    Err(e) => {
                        on(Event::Failed(step, e.to_string()));
                        return Err(e.into());
                    }
                }
            }
        }
        Store::Restic(r) => {
            restic::verify_before_restore(r, m, &ctx.cancel, on)?;
            for c in &m.components {
                restic::extract(r, m, c, &place(&c.name), &owners, &ctx.cancel, on)?;
            }
        }
        Store::Rclone(r) => {
            return Err(OpError::Refused(format!(
                "a drill reads a generation from the repository; fetch it from {} first",
                r.location()
            )))
        }
    }
    let data = ctx
        .inst
        .components
        .iter()
        .find(|c| c.neo4j_store)
        .and_then(|spec| {
            m.components
                .iter()
                .find(|c| c.name == spec.name || c.role == spec.role)
        })
        .ok_or_else(|| {
            OpError::Verify(format!("{} holds no Neo4j data folder to start on", m.id))
        })?;
    Ok(scratch.join(&data.name))
}

/// Starts a Neo4j on the copy and waits until it is up (Compose) or the
/// configured command succeeded; says what proved it.
fn start_on_copy(
    inst: &Installation,
    cfg: &DrillConfig,
    data: &Path,
    scratch: &Path,
    on: Sink,
) -> Result<String, OpError> {
    let step = Step::Health("neo4j (on the copy)".into());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let result = match (&cfg.command, inst.versions.get("neo4j-image")) {
        (Some(line), _) => run_command(line, data, scratch, timeout),
        (None, Some(image)) => run_container(image, data, timeout),
        (None, None) => Err(OpError::Refused(
            "the copy restored and every file matched its sha256, but nothing started on it: set [drill] command (e.g. `neo4j-admin database check --from-path={data} neo4j`) for this installation".into(),
        )),
    };
    match &result {
        Ok(_) => on(Event::Finished(step, t.elapsed())),
        Err(e) => on(Event::Failed(step, e.to_string())),
    }
    result
}

/// `[drill] command` with `{data}` (the copy of Neo4j's data folder) and
/// `{scratch}` (the folder holding every component's copy) filled in.
fn run_command(
    line: &str,
    data: &Path,
    scratch: &Path,
    timeout: Duration,
) -> Result<String, OpError> {
    let argv: Vec<String> = shell_words::split(line)
        .map_err(|e| OpError::Refused(format!("[drill] command cannot be split: {e}")))?
        .into_iter()
        .map(|a| {
            a.replace("{data}", &data.to_string_lossy())
                .replace("{scratch}", &scratch.to_string_lossy())
        })
        .collect();
    let out = command::run(&argv, timeout).map_err(|e| OpError::failed(e.to_string()))?;
    match out.success() {
        true => Ok(format!(
            "`{}` succeeded on the copy",
            command::display(&argv)
        )),
        false => Err(OpError::failed(format!(
            "`{}` failed on the copy (exit {}): {}",
            command::display(&argv),
            out.status.map_or("killed".into(), |c| c.to_string()),
            out.tail()
        ))),
    }
}

/// The installation's Neo4j image on the copy, in a container without network
/// that is removed afterwards. Up means: still running and it logged `Started.`
/// (as Neo4j does once it serves).
fn run_container(image: &str, data: &Path, timeout: Duration) -> Result<String, OpError> {
    let name = format!("structr-backup-drill-{}", std::process::id());
    let docker = |args: &[&str]| {
        let argv: Vec<String> = std::iter::once("docker")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        command::run(&argv, Duration::from_secs(120)).map_err(|e| OpError::failed(e.to_string()))
    };
    let _ = docker(&["rm", "-f", &name]);
    let mount = format!("{}:/data", data.display());
    let out = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "-v",
        &mount,
        image,
    ])?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "cannot start {image} on the copy: {}",
            out.tail()
        )));
    }
    let started = Instant::now();
    let result = loop {
        let logs = docker(&["logs", &name])?;
        let text = format!("{}{}", logs.stdout, logs.stderr);
        let running = docker(&["inspect", "-f", "{{.State.Running}}", &name])?;
        if text.lines().any(|l| l.trim_end().ends_with("Started."))
            && running.stdout.trim() == "true"
        {
            break Ok(format!(
                "{image} started on the copy in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if running.stdout.trim() != "true" {
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            break Err(OpError::failed(format!(
                "{image} stopped on the copy before it was up: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )));
        }
        if started.elapsed() > timeout {
            break Err(OpError::failed(format!(
                "{image} was not up on the copy within {} s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let _ = docker(&["stop", "-t", "30", &name]);
    let _ = docker(&["rm", "-f", &name]);
    result
}
