//! Restore drills: proof that a generation restores *and starts*, without
//! touching production. The generation is extracted into a scratch folder (never
//! the installation's targets), every file checked against its sha256 on the way,
//! then a Neo4j is started on the copy: the configured `[drill] command` if there
//! is one; else for a Compose installation the installation's own Neo4j image in
//! throwaway containers without network (`container`: started, counts, stopped,
//! its `neo4j-admin` consistency check); else the installation's own Neo4j
//! programs (`binaries`: `neo4j console` on the copy with a configuration of the
//! drill's own, counts, Neo4j's consistency check). Then it is stopped and
//! the scratch folder removed, whatever happened. The result is recorded in the
//! generation (`last_drill`). A drill killed before it could remove its copy
//! leaves it behind; the next drill and `recover` remove it (`remove_leftovers`).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

mod binaries;
mod conf;
mod container;
mod copy;
mod counts;

use super::event::{Event, Sink, Step};
use super::placement::Placement;
use super::source::{Check, Source};
use super::{compat, Context, OpError};
use crate::config::{DrillConfig, Kind};
use crate::install::{neo4j_bin, Installation, ROLE_STRUCTR};
use crate::process;
use crate::repo::manifest::{DrillRecord, Manifest};

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
    check_scratch(ctx.inst, &cfg.scratch)?;
    remove_leftovers(&cfg.scratch, ctx.inst, on);
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
    // Owner-only: the copy holds structr.conf with its passwords. Made by mkdir,
    // which fails on anything already there (a planted folder or link).
    let scratch = Scratch(cfg.scratch.join(scratch_name(id)?));
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
        .and_then(|copy| start_on_copy(ctx, cfg, &copy, &scratch.0, on));
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

/// Names of drill copies: `structr-backup-drill-<id>-<pid>-<16 random hex digits>`
/// (before the random part was added: `…-<id>-<pid>`).
const PREFIX: &str = "structr-backup-drill-";

/// A fresh, unpredictable name for this drill's copy.
fn scratch_name(id: &str) -> Result<String, OpError> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| OpError::failed(format!("cannot read /dev/urandom: {e}")))?;
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{PREFIX}{id}-{}-{random}", std::process::id()))
}

/// The process id in the name of a drill's copy; None when `name` is not one.
fn drill_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let rest = match rest.rsplit_once('-') {
        Some((before, r)) if r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()) => before,
        _ => rest,
    };
    let (id, pid) = rest.rsplit_once('-')?;
    let plain = !pid.is_empty() && pid.len() <= 10 && pid.bytes().all(|b| b.is_ascii_digit());
    match plain && crate::ids::is_generation_id(id) {
        true => pid.parse().ok(),
        false => None,
    }
}

/// Removes the copies that drills killed before they could clean up left in
/// `scratch` (they hold structr.conf with the superuser password, and the store).
/// Only folders with a drill copy's name, made by us (our uid, or the Neo4j
/// user we handed it to; mode 0700, not a link) by a process that is gone;
/// nothing else in the folder is touched.
pub fn remove_leftovers(scratch: &Path, inst: &Installation, on: Sink) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return removed;
    };
    let me = nix::unistd::geteuid().as_raw();
    let handed = service_user(inst).map(|(uid, _)| uid);
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(drill_pid) else {
            continue;
        };
        let path = entry.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| {
            let by = m.uid() == me || Some(m.uid()) == handed;
            m.is_dir() && by && m.mode() & 0o777 == 0o700
        });
        // A drill still running (here or for another installation) keeps its copy.
        let alive = pid == std::process::id() as i32 || crate::sys::process_alive(pid);
        if !ours || alive {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                on(Event::Info(format!(
                    "removed {}, the copy an interrupted drill left (process {pid})",
                    path.display()
                )));
                removed.push(path);
            }
            Err(e) => on(Event::Warning(format!(
                "cannot remove {}, the copy an interrupted drill left: {e}",
                path.display()
            ))),
        }
    }
    removed
}

/// The scratch folder must be one no other user can swap under us, and never
/// inside the installation's folders: a drill does not write where production lives.
fn check_scratch(inst: &Installation, scratch: &Path) -> Result<(), OpError> {
    let walked = crate::repo::trust::walk(scratch).map_err(|u| {
        OpError::Refused(format!(
            "[drill] scratch {}: {}. {}",
            scratch.display(),
            u.reason,
            u.fix
        ))
    })?;
    let resolved = walked.resolved();
    for c in &inst.components {
        let target = c.path.canonicalize().unwrap_or_else(|_| c.path.clone());
        if resolved.starts_with(&target) {
            return Err(OpError::Refused(format!(
                "[drill] scratch {} is inside {} ({}): a drill never writes where production lives; set [drill] scratch to a folder outside the installation, e.g. /var/tmp",
                scratch.display(),
                c.path.display(),
                c.name
            )));
        }
    }
    Ok(())
}

/// Where the copies of the two main components are.
struct Restored {
    data: PathBuf,
    structr: Option<PathBuf>,
}

/// Extracts every component into `scratch/<name>`, checking each file's sha256;
/// says where Neo4j's data folder and Structr's folder are.
fn restore_copy(
    ctx: &Context,
    m: &Manifest,
    scratch: &Path,
    on: Sink,
) -> Result<Restored, OpError> {
    let owners = compat::check(ctx.inst, m).owner_map();
    let place = |name: &str| Placement {
        name: name.to_string(),
        target: scratch.join(name),
        staging: scratch.join(name),
        kept: scratch.join(format!("{name}.unused")),
        bytes: 0,
        files: 0,
    };
    let source = Source::open(
        &ctx.store,
        m,
        Check::Whole,
        "a drill runs on a generation in the configured repository",
        &ctx.cancel,
        on,
    )?;
    for c in &m.components {
        source.extract(m, c, &place(&c.name), &owners, &ctx.cancel, on)?;
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
    let structr = m
        .components
        .iter()
        .find(|c| c.role == ROLE_STRUCTR)
        .map(|c| scratch.join(&c.name));
    Ok(Restored {
        data: scratch.join(&data.name),
        structr,
    })
}

/// Starts a Neo4j on the copy and waits until it is up, or runs the configured
/// command; says what that proved.
fn start_on_copy(
    ctx: &Context,
    cfg: &DrillConfig,
    copy: &Restored,
    scratch: &Path,
    on: Sink,
) -> Result<String, OpError> {
    let step = Step::Health("neo4j (on the copy)".into());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let data = &copy.data;
    let result = match (&cfg.command, ctx.inst.versions.get("neo4j-image")) {
        (Some(line), _) => run_command(line, data, scratch, timeout),
        (None, Some(image)) => container::drill(image, data, timeout, &ctx.cancel, on),
        (None, None) => match programs(ctx, cfg) {
            Ok(bin) => binaries::drill(
                &copy::Copy {
                    bin: &bin,
                    data,
                    structr: copy.structr.as_deref(),
                    scratch,
                    user: service_user(ctx.inst),
                },
                timeout,
                &ctx.cancel,
                on,
            ),
            Err(looked) => Err(OpError::Refused(format!(
                "the copy restored and every file matched its sha256, but nothing started on it: {looked}. set [drill] neo4j_home (the folder with bin/neo4j and bin/neo4j-admin) and neo4j_conf (the folder with neo4j.conf), or set [drill] command (e.g. `neo4j-admin database check --from-path={{data}} neo4j`) for this installation"
            ))),
        },
    };
    match &result {
        Ok(_) => on(Event::Finished(step, t.elapsed())),
        Err(e) => on(Event::Failed(step, e.to_string())),
    }
    result
}

/// The user production's Neo4j runs as, told by the owner of its data folder
/// (the Debian package's `neo4j`): the drill's Neo4j runs as it, so it can do
/// on the copy only what production's can do on the store. None when we are
/// not root or root owns the folder.
fn service_user(inst: &Installation) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let data = inst.components.iter().find(|c| c.neo4j_store)?;
    let m = std::fs::metadata(&data.path).ok()?;
    (m.uid() != 0).then_some((m.uid(), m.gid()))
}

/// The installation's Neo4j programs: from `[drill]`, else from neo4j.service
/// (a systemd installation), else the Debian package's places.
fn programs(ctx: &Context, cfg: &DrillConfig) -> Result<neo4j_bin::Neo4jBin, String> {
    let unit = (ctx.inst.kind == Kind::Systemd).then_some(ctx.configured.neo4j_unit.as_str());
    // A custom installation names its own; the Debian places are a systemd one's.
    if cfg.neo4j_home.is_none() && unit.is_none() {
        return Err(format!(
            "no Neo4j programs configured for this {} installation",
            ctx.inst.kind
        ));
    }
    neo4j_bin::locate(cfg.neo4j_home.as_deref(), cfg.neo4j_conf.as_deref(), unit)
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
    let out = process::run(&argv, timeout).map_err(|e| OpError::failed(e.to_string()))?;
    match out.success() {
        true => Ok(format!(
            "`{}` succeeded on the copy",
            process::display(&argv)
        )),
        false => Err(OpError::failed(format!(
            "`{}` failed on the copy (exit {}): {}",
            process::display(&argv),
            out.status.map_or("killed".into(), |c| c.to_string()),
            out.tail()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_a_drill_makes_are_recognised() {
        let name = scratch_name("20261124T031500Z-2").unwrap();
        assert_eq!(drill_pid(&name), Some(std::process::id() as i32));
        assert_ne!(
            name,
            scratch_name("20261124T031500Z-2").unwrap(),
            "unpredictable"
        );
        // Made before the random part was added.
        assert_eq!(
            drill_pid("structr-backup-drill-20261124T031500Z-4242"),
            Some(4242)
        );
        for other in [
            "structr-backup-drill-",
            "structr-backup-drill-notes",
            "structr-backup-drill-20261124T031500Z",
            "structr-backup-drill-20261124T031500Z-",
            "structr-backup-drill-20261124T031500Z-x1-0123456789abcdef",
            "structr-backup-drill-../etc-1",
            "notes",
        ] {
            assert_eq!(drill_pid(other), None, "{other}");
        }
    }
}
