//! Snapshot backups: the services are stopped only for as long as a snapshot
//! takes, through the same window as a cold backup (store lock proven released
//! before anything is taken).
//!
//! - `[snapshot] command`: a hypervisor's or cloud's snapshot tool is run while the
//!   services are stopped; the generation records it (manifest only, no archives):
//!   it lists, pins and prunes like any other, and prune runs `delete_command`.
//! - `[snapshot] lvm = true`: `lvcreate --snapshot` of each volume the components
//!   live on, the services started again, and the archives read from read-only
//!   mounts of the snapshots into an ordinary generation; the snapshots are
//!   removed whatever happens (a guard), and `recover` removes any left over.

use crate::repo::files;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::archiving::{
    begin_backup, copy_components, guarded, new_manifest, preflight_checks, publish_backup,
};
use super::event::{Event, Sink, Step};
use super::window::{self, start_steps, stop_steps, Closing, Window};
use super::{app_export, Context, OpError};
use crate::install::lvm;
use crate::process;
use crate::repo::generation::Repo;
use crate::repo::manifest::{Manifest, SnapshotRecord};

/// Why a generation cannot be restored by us, when it only records a snapshot.
pub fn restore_refusal(m: &Manifest) -> Option<String> {
    let s = m.snapshot_backup.as_ref().filter(|s| s.is_external())?;
    Some(format!(
        "generation {} is a snapshot taken by `{}` (it holds no archives): restore this snapshot with the tool that took it",
        m.id, s.command
    ))
}

/// What `verify` says of a generation that only records a snapshot.
pub const NOTHING_TO_VERIFY: &str =
    "a snapshot generation: nothing to verify here, check it in the hypervisor";

/// `line` split like the service commands, `{name}` replaced by the generation id
/// (ids are plain: digits, `T`, `Z`, `-`).
fn argv_for(line: &str, id: &str) -> Result<Vec<String>, OpError> {
    let argv = shell_words::split(line)
        .map_err(|e| OpError::Refused(format!("[snapshot] `{line}` cannot be split: {e}")))?;
    if argv.is_empty() {
        return Err(OpError::Refused("[snapshot] the command is empty".into()));
    }
    Ok(argv.iter().map(|a| a.replace("{name}", id)).collect())
}

/// The last lines of a command's output, stdout then stderr, without the
/// secret-looking values of its command line (`Output::hidden`) it may echo.
fn output_tail(out: &process::Output) -> String {
    let both = format!("{}\n{}", out.stdout.trim_end(), out.stderr.trim_end());
    let lines: Vec<&str> = both.trim().lines().collect();
    let mut text = lines[lines.len().saturating_sub(20)..].join("\n");
    for h in &out.hidden {
        text = text.replace(h.as_str(), crate::secrets::REDACTED);
    }
    crate::text::printable_lines(&text, 4000)
}

/// Runs a snapshot tool's `argv` (messages show it as `process::display` does,
/// its tokens hidden); returns that shown line and the outcome.
fn run_tool(argv: &[String], timeout: Duration) -> (String, Result<process::Output, String>) {
    let out = process::Cmd::from_argv(argv)
        .timeout(timeout)
        .output()
        .map_err(|e| e.to_string());
    (process::display(argv), out)
}

pub fn run(
    ctx: &Context,
    repo: &Repo,
    label: &str,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    match (&ctx.snapshot.command, ctx.snapshot.lvm) {
        (_, true) => run_lvm(ctx, repo, label, on),
        (Some(line), false) => run_command(ctx, repo, line, label, on),
        (None, false) => Err(OpError::Refused(
            "no snapshot is configured: set `command` (your hypervisor's or cloud's snapshot tool) or `lvm = true` in [snapshot]".into(),
        )),
    }
}

fn run_command(
    ctx: &Context,
    repo: &Repo,
    line: &str,
    label: &str,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    let (_installation, lock) = begin_backup(ctx, repo, on)?;
    let started = Instant::now();
    let created = Utc::now();
    let id = repo.new_id(created);
    let argv = argv_for(line, &id)?;
    let shown = process::display(&argv);
    let found_stopped = window::found_stopped(ctx.inst);
    let mut steps = vec![Step::Preflight];
    steps.extend(stop_steps(ctx.inst));
    steps.push(Step::Snapshot(shown.clone()));
    steps.extend(start_steps(ctx.inst, &found_stopped));
    steps.push(Step::Publish);
    on(Event::Plan(steps));
    on(Event::Started(Step::Preflight));
    on(Event::Finished(Step::Preflight, Duration::ZERO));

    let mut window = Window::new(ctx.inst, "backup");
    let timeout = Duration::from_secs(ctx.snapshot.timeout_secs);
    let taken = window.stop_all(on).and_then(|()| {
        let step = Step::Snapshot(shown.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let (shown, out) = run_tool(&argv, timeout);
        match out {
            Ok(out) if out.success() => {
                on(Event::Finished(step, t.elapsed()));
                Ok((output_tail(&out), out.status, t.elapsed()))
            }
            Ok(out) => {
                let why = format!(
                    "the snapshot command `{shown}` failed (exit status {}): {}",
                    out.status.map_or("none".into(), |s| s.to_string()),
                    output_tail(&out)
                );
                on(Event::Failed(step, why.clone()));
                Err(OpError::failed(why))
            }
            Err(e) => {
                on(Event::Failed(step, e.clone()));
                Err(OpError::failed(format!("the snapshot command: {e}")))
            }
        }
    });
    let closing = window.close(on);
    let (output, exit_status, took) = match taken {
        Ok(t) => t,
        Err(e) => {
            let aftermath = format!("{} No generation was written.", closing.aftermath());
            return Err(OpError::in_window(
                &e,
                &aftermath,
                ctx.cancel.is_cancelled(),
            ));
        }
    };
    let timings = window.timings(started, took.as_secs_f64());
    let mut manifest = new_manifest(ctx, &id, created, label, vec![], &[], timings);
    manifest.services_already_stopped = window.found_stopped().to_vec();
    manifest.snapshot_backup = Some(SnapshotRecord {
        method: "command".into(),
        command: shown,
        output,
        exit_status,
        secs: took.as_secs_f64(),
    });
    on(Event::Started(Step::Publish));
    let t = Instant::now();
    // Only the manifest: the snapshot itself lives with the tool that took it.
    let partial = repo.create_partial(&id)?;
    let published = files::write_manifest(&partial, &manifest)
        .and_then(|()| repo.publish(&partial, &id).map(|_| ()));
    if let Err(e) = published {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(OpError::failed(format!(
            "the snapshot `{}` was taken, but its generation {id} could not be written: {e}",
            manifest
                .snapshot_backup
                .as_ref()
                .map_or("", |s| s.command.as_str())
        )));
    }
    on(Event::Finished(Step::Publish, t.elapsed()));
    drop(lock);
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {id} was written, but: {}",
            closing.aftermath()
        )));
    }
    Ok((manifest, closing))
}

/// Before a generation is deleted (prune, delete): a snapshot kept elsewhere is
/// deleted with `delete_command`, or named for deleting by hand.
pub fn before_delete(
    m: &Manifest,
    delete_command: Option<&str>,
    timeout: Duration,
    on: Sink,
) -> Result<(), OpError> {
    let Some(s) = m.snapshot_backup.as_ref().filter(|s| s.is_external()) else {
        return Ok(());
    };
    let Some(line) = delete_command else {
        on(Event::Warning(format!(
            "{} recorded the snapshot taken by `{}`; no [snapshot] delete_command is configured, so only the record is deleted: delete snapshot {} by hand in the tool that took it",
            m.id, s.command, m.id
        )));
        return Ok(());
    };
    let argv = argv_for(line, &m.id)?;
    let (shown, out) = run_tool(&argv, timeout);
    let out =
        out.map_err(|e| OpError::failed(format!("deleting the snapshot of {}: {e}", m.id)))?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "`{shown}` failed (exit status {}), so generation {} is kept: {}",
            out.status.map_or("none".into(), |s| s.to_string()),
            m.id,
            output_tail(&out)
        )));
    }
    on(Event::Info(format!(
        "deleted the snapshot of {}: `{shown}`",
        m.id
    )));
    Ok(())
}

/// One LVM volume to snapshot and the components read from it.
struct Planned {
    vol: lvm::Volume,
    bytes: u64,
    name: String,
}

/// Where each component is on LVM; refused (with the reason) when one is not on
/// a logical volume or a volume group lacks the free space for its snapshots.
fn plan_lvm(ctx: &Context, id: &str) -> Result<(Vec<Planned>, Vec<usize>), OpError> {
    let size = crate::config::size::SnapshotSize::parse(&ctx.snapshot.lvm_snapshot_size)
        .map_err(OpError::Refused)?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut of_component = Vec::new();
    for c in &ctx.inst.components {
        let path = c.path.canonicalize().map_err(|e| {
            OpError::Refused(format!(
                "cannot read {} ({}): {e}",
                c.path.display(),
                c.name
            ))
        })?;
        let vol = lvm::locate(&path)
            .map_err(|e| OpError::Refused(format!("cannot tell where {} is: {e}", path.display())))?
            .ok_or_else(|| {
                OpError::Refused(format!(
                    "{} ({}) is not on an LVM logical volume, so `lvm = true` cannot snapshot it; use a cold backup (without --snapshot) or move it onto LVM",
                    path.display(),
                    c.name
                ))
            })?;
        let i = match planned
            .iter()
            .position(|p| p.vol.full_name() == vol.full_name())
        {
            Some(i) => i,
            None => {
                planned.push(Planned {
                    bytes: size.bytes_for(vol.size),
                    name: lvm::snapshot_name(id, &vol.lv),
                    vol,
                });
                planned.len() - 1
            }
        };
        of_component.push(i);
    }
    let mut vgs: Vec<&str> = planned.iter().map(|p| p.vol.vg.as_str()).collect();
    vgs.dedup();
    for vg in vgs {
        let mine: Vec<&Planned> = planned.iter().filter(|p| p.vol.vg == vg).collect();
        let need: u64 = mine.iter().map(|p| p.bytes).sum();
        let free = mine[0].vol.vg_free;
        if need > free {
            return Err(OpError::Refused(format!(
                "volume group {vg} has {} free, but the snapshots of {} need {} (lvm_snapshot_size = {:?}): extend the volume group (vgextend) or set a smaller [snapshot] lvm_snapshot_size. Nothing was stopped",
                crate::units::bytes(free),
                mine.iter().map(|p| p.vol.full_name()).collect::<Vec<_>>().join(", "),
                crate::units::bytes(need),
                ctx.snapshot.lvm_snapshot_size
            )));
        }
    }
    Ok((planned, of_component))
}

/// The snapshots taken and mounted by this run; dropping it unmounts and removes
/// them all, whatever made the run end.
struct Snapshots {
    taken: Vec<(String, String)>,
    mounts: Vec<PathBuf>,
    /// The private folder the mounts are made in (removed empty at the end).
    dir: Option<PathBuf>,
}

impl Snapshots {
    /// Unmounts and removes everything; the problems, for warnings.
    fn release(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for m in self.mounts.drain(..).rev() {
            match lvm::unmount(&m) {
                // Never recursive: a folder still mounted must not be emptied.
                Ok(()) => drop(std::fs::remove_dir(&m)),
                Err(e) => problems.push(e),
            }
        }
        for (vg, name) in self.taken.drain(..) {
            if let Err(e) = lvm::remove_snapshot(&vg, &name) {
                problems.push(format!(
                    "{e}; remove it with `lvremove -f {vg}/{name}` or `structr-backup recover`"
                ));
            }
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir(&d);
        }
        problems
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn run_lvm(
    ctx: &Context,
    repo: &Repo,
    label: &str,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    let (_installation, lock) = begin_backup(ctx, repo, on)?;
    let found_stopped = window::found_stopped(ctx.inst);
    let created = Utc::now();
    let id = repo.new_id(created);
    let (planned, of_component) = {
        on(Event::Started(Step::Preflight));
        match plan_lvm(ctx, &id) {
            Ok(p) => p,
            Err(e) => {
                on(Event::Failed(Step::Preflight, e.to_string()));
                return Err(e);
            }
        }
    };
    let mut steps = vec![Step::Preflight];
    steps.extend(app_export::plan_step(ctx));
    steps.extend(stop_steps(ctx.inst));
    steps.extend(planned.iter().map(|p| Step::Snapshot(p.vol.full_name())));
    steps.extend(start_steps(ctx.inst, &found_stopped));
    steps.extend(
        ctx.inst
            .components
            .iter()
            .map(|c| Step::Copy(c.name.clone())),
    );
    steps.push(Step::Publish);
    on(Event::Plan(steps));
    let estimate = preflight_checks(ctx, repo, on)?;

    let started = Instant::now();
    let partial = repo.create_partial(&id)?;
    let app = app_export::archive_into(ctx, &id, &partial, on);
    if let Err(e) = super::refuse_if_cancelled(&ctx.cancel) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    let mut snaps = Snapshots {
        taken: Vec::new(),
        mounts: Vec::new(),
        dir: None,
    };
    let mut window = Window::new(ctx.inst, "backup");
    let snap_started = Instant::now();
    let taken = window.stop_all(on).and_then(|()| {
        guarded(|| {
            for p in &planned {
                let step = Step::Snapshot(p.vol.full_name());
                on(Event::Started(step.clone()));
                let t = Instant::now();
                lvm::create_snapshot(&p.vol, &p.name, p.bytes).map_err(|e| {
                    on(Event::Failed(step.clone(), e.clone()));
                    OpError::failed(e)
                })?;
                snaps.taken.push((p.vol.vg.clone(), p.name.clone()));
                on(Event::Finished(step, t.elapsed()));
            }
            Ok(())
        })
    });
    let snap_secs = snap_started.elapsed().as_secs_f64();
    // Downtime ends here: the archives are read from the snapshots.
    let closing = window.close(on);
    let copied = taken
        .and_then(|()| mount_all(&planned, &id, &mut snaps))
        .and_then(|mounts| {
            let read_from: Vec<PathBuf> = ctx
                .inst
                .components
                .iter()
                .zip(&of_component)
                .map(|(c, &i)| inside(&mounts[i], &planned[i].vol.mount_point, &c.path))
                .collect::<Result<_, _>>()?;
            guarded(|| copy_components(ctx, &partial, &estimate, Some(&read_from), "", on))
        });
    for w in snaps.release() {
        on(Event::Warning(format!("LVM snapshot cleanup: {w}")));
    }
    let mut components = match copied {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            let aftermath = format!("{} No generation was written.", closing.aftermath());
            return Err(OpError::in_window(
                &e,
                &aftermath,
                ctx.cancel.is_cancelled(),
            ));
        }
    };
    components.extend(app);
    let copy_secs = started.elapsed().as_secs_f64();
    let timings = window.timings(started, copy_secs);
    let mut manifest = new_manifest(
        ctx,
        &id,
        created,
        label,
        components,
        &estimate.sources,
        timings,
    );
    manifest.services_already_stopped = window.found_stopped().to_vec();
    manifest.snapshot_backup = Some(SnapshotRecord {
        method: "lvm".into(),
        command: planned
            .iter()
            .map(|p| {
                format!(
                    "lvcreate --snapshot --name {} {}",
                    p.name,
                    p.vol.full_name()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        output: String::new(),
        exit_status: Some(0),
        secs: snap_secs,
    });
    let done = publish_backup(ctx, repo, &partial, manifest, closing, on);
    drop(lock);
    done
}

/// Mounts every snapshot read-only in a private temporary folder; their paths.
fn mount_all(
    planned: &[Planned],
    id: &str,
    snaps: &mut Snapshots,
) -> Result<Vec<PathBuf>, OpError> {
    use std::os::unix::fs::DirBuilderExt;
    // Owner-only: the snapshots hold credentials (structr.conf) and the store.
    let base = std::env::temp_dir().join(format!("structr-backup-lvm-{id}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&base)
        .map_err(|e| {
            OpError::failed(format!(
                "cannot make {} to mount the snapshots in: {e}",
                base.display()
            ))
        })?;
    snaps.dir = Some(base.clone());
    let mut out = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let at = base.join(i.to_string());
        std::fs::create_dir(&at)
            .map_err(|e| OpError::failed(format!("cannot create {}: {e}", at.display())))?;
        if let Err(e) = lvm::mount_ro(&lvm::device(&p.vol.vg, &p.name), &p.vol.fstype, &at) {
            let _ = std::fs::remove_dir(&at);
            return Err(OpError::failed(e));
        }
        snaps.mounts.push(at.clone());
        out.push(at);
    }
    Ok(out)
}

/// The place of `path` (under `mount_point`) inside the snapshot mounted at `mounted`.
fn inside(mounted: &Path, mount_point: &Path, path: &Path) -> Result<PathBuf, OpError> {
    let real = path
        .canonicalize()
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", path.display())))?;
    let rel = real.strip_prefix(mount_point).map_err(|_| {
        OpError::failed(format!(
            "{} is not below {}",
            real.display(),
            mount_point.display()
        ))
    })?;
    Ok(mounted.join(rel))
}

/// For `recover`: unmounts and removes LVM snapshots of ours that a killed run
/// left behind. Returns the devices removed.
pub fn remove_leftovers(on: Sink) -> Vec<PathBuf> {
    let mut done = Vec::new();
    let found = match lvm::leftovers() {
        Ok(f) => f,
        Err(e) => {
            on(Event::Warning(format!(
                "leftover LVM snapshots were not looked for: {e}"
            )));
            return done;
        }
    };
    for (vg, name) in found {
        for m in lvm::mount_points_of(&lvm::device(&vg, &name)) {
            if let Err(e) = lvm::unmount(&m) {
                on(Event::Warning(e));
            }
        }
        match lvm::remove_snapshot(&vg, &name) {
            Ok(()) => {
                on(Event::Info(format!(
                    "removed the LVM snapshot {vg}/{name} left by an interrupted backup"
                )));
                done.push(lvm::device(&vg, &name));
            }
            Err(e) => on(Event::Warning(e)),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_id_goes_into_every_argument() {
        let argv = argv_for(
            "virsh snapshot-create-as vm 'sb {name}' --atomic",
            "20261124T031500Z",
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "virsh",
                "snapshot-create-as",
                "vm",
                "sb 20261124T031500Z",
                "--atomic"
            ]
        );
        assert!(argv_for("a 'b", "x").is_err());
    }

    #[test]
    fn a_component_is_found_inside_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mp = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(mp.join("srv/neo4j")).unwrap();
        assert_eq!(
            inside(Path::new("/m/0"), &mp, &mp.join("srv/neo4j")).unwrap(),
            Path::new("/m/0/srv/neo4j")
        );
        assert_eq!(
            inside(Path::new("/m/0"), &mp, &mp).unwrap(),
            Path::new("/m/0")
        );
    }
}
