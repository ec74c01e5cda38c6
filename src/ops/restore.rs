//! Restore: verify the generation before anything is stopped → stop both services →
//! (safety backup of the current state) → extract each component into a staging
//! folder beside its target, checking every file's sha256 → fsync → swap by rename,
//! keeping the old folder as `<target>.pre-restore-<id>` → start both. Any failure
//! before the swap leaves the installation as it was; a failure during the swap
//! rolls back. Nothing is reported done before it is on disk.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::archiving::{copy_components, guarded, new_manifest, preflight_checks, publish};
use super::event::{Event, Sink, Step};
use super::journal::Swap;
use super::preflight::Estimate;
use super::source::{Check, Source};
use super::swap;
use super::window::{self, start_steps, stop_steps, Closing, Window};
use super::{
    compat, lock_store, parallel, refuse_if_interrupted, restic, state, verify, Context, OpError,
};
use crate::install::ComponentSpec;
use crate::repo::generation::Repo;
use crate::repo::manifest::{Component, Manifest, Timings};
use crate::repo::store::Store;

pub const SAFETY_LABEL: &str = "pre-restore";

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    pub safety_backup: bool,
}

use super::placement::Placement;
pub use super::verify::Verified;

#[derive(Debug)]
pub struct Outcome {
    pub restored: Manifest,
    pub safety: Option<Manifest>,
    pub placements: Vec<Placement>,
    pub closing: Closing,
    /// Services that were stopped before the restore (a fresh server): left so.
    pub left_stopped: Vec<String>,
}

/// Where each component of `m` would go, checked against this installation and
/// the file systems. Every path comes from the installation and the checked id,
/// none from the manifest. No side effects: used for confirmation screens too.
pub fn placements(ctx: &Context, m: &Manifest) -> Result<Vec<Placement>, OpError> {
    let mut out = Vec::new();
    for c in m
        .components
        .iter()
        .filter(|c| super::app_export::goes_into_installation(c))
    {
        let spec = target_for(ctx, c)?;
        let target = spec.path.clone();
        if target.parent().is_none() {
            return Err(OpError::Refused(format!(
                "cannot restore {} to {}: it has no parent folder",
                c.name,
                target.display()
            )));
        }
        if is_mount_point(&target) {
            return Err(OpError::Refused(format!(
                "{} is a mount point, so it cannot be swapped by rename; restore it by hand (see the README, manual restore)",
                target.display()
            )));
        }
        if let Some(m) = mounts_inside(&target).first() {
            return Err(OpError::Refused(format!(
                "{} has a file system mounted inside it at {}; swapping the folder by rename would move that mount aside with the old folder. Unmount it first (its contents are not in the generation), then restore again",
                target.display(),
                m.display()
            )));
        }
        out.push(Placement {
            name: c.name.clone(),
            staging: swap::staging_path(&target, &m.id)
                .map_err(|e| OpError::Refused(e.to_string()))?,
            kept: swap::kept_path(&target, &m.id),
            target,
            bytes: c.bytes,
            files: c.files,
        });
    }
    Ok(out)
}

/// Verifies generation `id` of `from` before a restore from it is confirmed,
/// without writing anything there (a restore only reads its source, so no
/// verify record): the archive kind's quick check, `restic check`, or an rclone
/// target's read-back. Damage is an error; the answer says when the check began,
/// for `run_verified`.
pub fn verify_first(
    from: &Store,
    id: &str,
    cancel: &crate::cancel::Cancel,
    on: Sink,
) -> Result<Verified, OpError> {
    let at = chrono::Utc::now();
    match from {
        Store::Archive(repo) => {
            let _lock = super::lock_repo(repo, "verify")?;
            let m = repo.manifest(id)?;
            let dir = repo.trusted_generation(id)?;
            verify::quick(&dir, &m, cancel, on)?;
        }
        Store::Restic(r) => restic::verify_before_restore(r, &from.manifest(id)?, cancel, on)?,
        Store::Rclone(_) => {
            let reports = verify::run(from, &[id.to_string()], false, cancel, on)?;
            if let Some(problem) = reports.iter().flat_map(|r| r.problems.iter()).next() {
                return Err(OpError::Verify(problem.clone()));
            }
        }
    }
    Ok(Verified { at, ok: true })
}

/// Whether a quick verification of generation folder `dir` that started at `at`
/// still holds: the manifest names the archives `SHA256SUMS` lists with the same
/// checksums, and neither `SHA256SUMS` nor any file it lists changed since (the
/// inode's change time, which no one can set back, is before `at`).
fn still_verified(dir: &Path, m: &Manifest, at: chrono::DateTime<chrono::Utc>) -> bool {
    let Ok(sums) = crate::repo::files::read_sums(dir) else {
        return false;
    };
    let listed = m.components.iter().all(|c| {
        sums.iter().any(|(_, n)| n == &c.index)
            && sums.iter().any(|(h, n)| n == &c.archive && h == &c.sha256)
    });
    let before = |name: &str| {
        fs::symlink_metadata(dir.join(name)).is_ok_and(|md| {
            let changed = chrono::DateTime::from_timestamp(md.ctime(), md.ctime_nsec() as u32);
            changed.is_some_and(|t| t < at)
        })
    };
    listed && before("SHA256SUMS") && sums.iter().all(|(_, n)| before(n))
}

/// Whether `dir` is a folder with something in it.
fn has_entries(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// What a restore of `m` over `target` loses, in words a user can judge: how many
/// files there were changed after the backup was taken, and the newest change.
pub fn what_is_lost(target: &Path, m: &Manifest) -> String {
    if !target.exists() {
        return format!(
            "nothing: {} does not exist yet, it is created",
            target.display()
        );
    }
    match crate::repo::tree::changed_since(target, m.created_at.into()) {
        Ok((0, _)) => "nothing there changed since the backup was taken".into(),
        // Not "lost": the current folder is kept beside the target.
        Ok((n, newest)) => format!(
            "CHANGES NOT IN THE BACKUP: {n} file(s) there changed since it was taken (the newest {}); the restored folder will not have them, the kept one does",
            newest.map_or("?".into(), |t| chrono::DateTime::<chrono::Local>::from(t)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string())
        ),
        Err(e) => format!("cannot tell what changed since the backup: {e}"),
    }
}

fn target_for<'a>(ctx: &'a Context, c: &Component) -> Result<&'a ComponentSpec, OpError> {
    ctx.inst
        .component(&c.name)
        .or_else(|| ctx.inst.components.iter().find(|s| s.role == c.role))
        .ok_or_else(|| {
            OpError::Refused(format!(
                "the generation holds {} ({}) but this installation has no place for it",
                c.name, c.role
            ))
        })
}

/// Mount points below `dir`, from the kernel's mount table (no walk of the tree).
fn mounts_inside(dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p != &dir && p.starts_with(&dir))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape_mount_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_mount_point(path: &Path) -> bool {
    match (fs::metadata(path), path.parent().map(fs::metadata)) {
        (Ok(p), Some(Ok(parent))) => p.dev() != parent.dev(),
        _ => false,
    }
}

/// Restores generation `id` of `from` (None: the repository). A safety backup
/// always goes into the repository (`ctx.store`), whatever `from` is: a copied
/// folder or a mounted disk is where the generation comes from, not where the
/// current state is kept.
/// Prepares what a restore needs before the installation can even be detected: on
/// a fresh Docker host, the Compose project's containers and empty volumes
/// (`docker compose create`, nothing started). Returns what it did, if anything.
pub fn prepare_installation(config: &crate::config::Config) -> Result<Option<String>, OpError> {
    let Some(file) = &config.installation.compose_file else {
        return Ok(None);
    };
    let compose = matches!(
        config.installation.kind,
        crate::config::Kind::Compose | crate::config::Kind::Auto
    );
    if !compose || !file.exists() {
        return Ok(None);
    }
    crate::install::compose::create_if_fresh(file).map_err(|e| {
        OpError::failed(format!(
            "cannot prepare the compose project: {e}. Nothing was changed"
        ))
    })
}

/// The one restore both faces run: from the repository, or from `from` (another
/// repository, a copied folder, an off-site target of either kind).
pub fn run(
    ctx: &Context,
    from: Option<&Store>,
    id: &str,
    opts: &RestoreOptions,
    on: Sink,
) -> Result<Outcome, OpError> {
    run_verified(ctx, from, id, opts, None, on)
}

/// `run`, told that the caller already verified the generation (`verified`).
/// A failed verification refuses at once; a passed one stands in for the
/// restore's own check as long as the generation is unchanged since (archive
/// kind: no file it lists was written after; restic: `restic check` covers the
/// repository and every file is checked again on extraction).
pub fn run_verified(
    ctx: &Context,
    from: Option<&Store>,
    id: &str,
    opts: &RestoreOptions,
    verified: Option<Verified>,
    on: Sink,
) -> Result<Outcome, OpError> {
    if verified.is_some_and(|v| !v.ok) {
        return Err(OpError::Verify(format!(
            "the verification of {id} failed. Restore refused; nothing was stopped or changed"
        )));
    }
    let _installation = state::lock_installation(ctx.inst, "restore")?;
    let from = match (from, &ctx.store) {
        // A generation on an rclone target is fetched into the repository (and
        // checked there) first; the restore then reads it like any local one.
        (Some(Store::Rclone(r)), Store::Archive(local)) => {
            super::offsite::fetch(r, local, id, &ctx.cancel, on)?;
            on(Event::Info(format!(
                "fetched {id} from {} into {} and checked it against its SHA256SUMS",
                r.location(),
                local.root.display()
            )));
            &ctx.store
        }
        (Some(Store::Rclone(r)), _) => {
            return Err(OpError::Refused(format!(
                "{} holds archive-kind generations, and this repository is a restic one: \
                 restore from it with an archive-kind config. Nothing was stopped",
                r.location()
            )))
        }
        (from, _) => from.unwrap_or(&ctx.store),
    };
    let lock = lock_store(from, "restore")?;
    if let Some(stale) = lock.as_ref().and_then(|l| l.stale_holder.as_ref()) {
        on(Event::Warning(format!(
            "took over a stale repository lock ({stale})"
        )));
    }
    refuse_if_interrupted(ctx.inst)?;
    let mut manifest = from.manifest(id)?;
    if manifest
        .components
        .iter()
        .any(|c| !super::app_export::goes_into_installation(c))
    {
        on(Event::Info(super::app_export::NOT_RESTORED.into()));
    }
    manifest
        .components
        .retain(super::app_export::goes_into_installation);
    let checks = compat::check(ctx.inst, &manifest);
    if let Some(r) = checks.refusals.first() {
        return Err(OpError::Refused(format!("{r}. Nothing was stopped")));
    }
    for line in checks.plan_lines() {
        on(Event::Info(line));
    }
    let owners = checks.owner_map();
    let found_stopped = window::found_stopped(ctx.inst);
    // Whether the caller's verification still stands for the generation as it is now.
    let checked_before = match (verified, from) {
        (Some(v), Store::Archive(repo)) => repo
            .trusted_generation(id)
            .is_ok_and(|dir| still_verified(&dir, &manifest, v.at)),
        (Some(_), Store::Restic(_)) => true,
        _ => false,
    };
    if let (true, Some(v)) = (checked_before, verified) {
        on(Event::Info(format!(
            "{id} was verified at {} before the confirmation and is unchanged since: not verified again",
            chrono::DateTime::<chrono::Local>::from(v.at).format("%H:%M:%S")
        )));
    }
    let mut steps = plan_steps(ctx, from, &manifest, opts, &found_stopped);
    if checked_before {
        steps.retain(|s| !matches!(s, Step::Verify(_)));
    }
    on(Event::Plan(steps));
    if !found_stopped.is_empty() {
        on(Event::Warning(format!(
            "already stopped: {}. It is left stopped after the restore",
            found_stopped.join(", ")
        )));
    }

    // Everything that can refuse does so before a service is touched.
    let refused = |e: OpError| match e {
        OpError::Verify(d) => OpError::Verify(format!(
            "{d}. Restore refused; nothing was stopped or changed"
        )),
        other => other,
    };
    let source = Source::open(
        from,
        &manifest,
        match checked_before {
            true => Check::AlreadyVerified,
            false => Check::Whole,
        },
        &format!("`structr-backup restore {id} --from NAME` fetches it first"),
        &ctx.cancel,
        on,
    )
    .map_err(refused)?;
    let sizes = source.sizes(&manifest);
    let placements = placements(ctx, &manifest)?;
    // A target that does not exist yet (a fresh server) or is empty has nothing
    // to save: the safety backup reads only the others, and is skipped without any.
    let saved = ctx.inst.only(|c| has_entries(&c.path));
    for c in ctx.inst.components.iter().filter(|c| !has_entries(&c.path)) {
        on(Event::Info(format!(
            "nothing to save: {} {}",
            c.path.display(),
            if c.path.exists() {
                "is empty"
            } else {
                "does not exist"
            }
        )));
    }
    let safety_ctx = Context {
        inst: &saved,
        store: ctx.store.clone(),
        offsite: Vec::new(),
        archive: ctx.archive.clone(),
        cancel: ctx.cancel.clone(),
        reflink: false,
        configured: ctx.configured.clone(),
        application: crate::config::ApplicationConfig {
            export: false,
            ..Default::default()
        },
        snapshot: Default::default(),
        snapshot_run: false,
        staging: Default::default(),
    };
    let take_safety = opts.safety_backup && !saved.components.is_empty();
    // Another place than the repository is locked above; the repository, which
    // receives the safety backup, is locked too.
    let _safety_lock = match take_safety && !same_store(from, &ctx.store) {
        true => lock_store(&ctx.store, "restore")?,
        false => None,
    };
    let estimate = match (&ctx.store, take_safety) {
        (Store::Archive(repo), true) => Some(preflight_checks(&safety_ctx, repo, on)?),
        (Store::Restic(r), true) if !r.exists()? => {
            return Err(OpError::Refused(format!(
                "the safety backup goes into the restic repository {}, which does not exist: create it with `structr-backup init`, or restore with --no-safety-backup. Nothing was stopped",
                r.location
            )))
        }
        _ => None,
    };
    // Folders above a target that does not exist yet are made now (owner-only
    // is not needed here: they are the installation's own, like /var/lib/neo4j).
    for p in &placements {
        if let Some(parent) = p.target.parent().filter(|d| !d.exists()) {
            fs::create_dir_all(parent).map_err(|e| {
                OpError::Refused(format!("cannot create {}: {e}", parent.display()))
            })?;
            on(Event::Info(format!(
                "created the missing folder {}",
                parent.display()
            )));
        }
    }
    let safety_repo = ctx.store.archive().map(|r| &r.root);
    check_target_space(&placements, &sizes, estimate.as_ref().zip(safety_repo))?;
    for p in &placements {
        if p.staging.exists() {
            fs::remove_dir_all(&p.staging).map_err(|e| {
                OpError::Refused(format!(
                    "cannot remove the old staging folder {}: {e}",
                    p.staging.display()
                ))
            })?;
        }
    }

    let mut window = Window::new(ctx.inst, "restore");
    let mut safety = None;
    let checked = match source.archive_dir() {
        Some(dir) => Some(dir.to_path_buf()),
        None => trusted_folder(from)?,
    };
    let result = window.stop_all(on).and_then(|()| {
        guarded(|| {
            // The services are down now: what is read must still be what was checked.
            recheck(from, &source, &checked)?;
            if take_safety {
                safety = Some(match (&ctx.store, &estimate) {
                    (Store::Archive(repo), Some(estimate)) => {
                        safety_backup(&safety_ctx, repo, estimate, &manifest.id, on)?
                    }
                    (Store::Restic(r), _) => {
                        restic::safety_backup(&safety_ctx, r, SAFETY_LABEL, &manifest.id, on)
                            .map_err(safety_failed)?
                    }
                    _ => {
                        return Err(OpError::failed(
                            "the safety backup has no repository to go to",
                        ))
                    }
                });
            }
            match &source {
                // Components are independent: extract them at once, as many cores as there are.
                Source::Archive { .. } => {
                    let jobs: Vec<_> = placements.iter().zip(&manifest.components).collect();
                    parallel::each(&jobs, &ctx.cancel, on, |(p, c), cancel, on| {
                        source.extract(&manifest, c, p, &owners, cancel, on)
                    })?;
                }
                Source::Restic(_) => {
                    for (p, c) in placements.iter().zip(&manifest.components) {
                        source.extract(&manifest, c, p, &owners, &ctx.cancel, on)?;
                    }
                }
            }
            recheck(from, &source, &checked)?;
            swap_all(&placements, window.journal(), on)?;
            // When each was kept, for its age: its mtime is the original's.
            let kept: Vec<&Path> = placements.iter().map(|p| p.kept.as_path()).collect();
            if let Err(e) = super::kept::record(ctx.inst, &kept) {
                on(Event::Warning(e));
            }
            Ok(())
        })
    });
    if result.is_err() {
        for p in &placements {
            let _ = fs::remove_dir_all(&p.staging);
        }
    }
    let closing = window.close(on);
    let left_stopped = window.found_stopped().to_vec();
    drop(lock);
    if let Err(e) = result {
        let mut aftermath = closing.aftermath();
        aftermath.push_str(" The installation was left as it was before the restore.");
        if let Some(s) = &safety {
            aftermath.push_str(&format!(" (A safety backup {} was taken.)", s.id));
        }
        return Err(OpError::in_window(
            &e,
            &aftermath,
            ctx.cancel.is_cancelled(),
        ));
    }
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {id} was restored, but: {}",
            closing.aftermath()
        )));
    }
    Ok(Outcome {
        restored: manifest,
        safety,
        placements,
        closing,
        left_stopped,
    })
}

/// A local restic repository's folder, resolved once every component of its path
/// was found to be root's or ours (None: a remote one, which restic authenticates).
fn trusted_folder(from: &Store) -> Result<Option<PathBuf>, OpError> {
    match from.local_folder() {
        Some(folder) => Ok(Some(Repo::new(folder).check_trusted()?)),
        None => Ok(None),
    }
}

/// Checks again, right before the generation is read with the services stopped
/// and right before the swap, that its folder is still the trusted one found
/// before anything stopped (no other user can change it; this catches the rest).
fn recheck(from: &Store, source: &Source, checked: &Option<PathBuf>) -> Result<(), OpError> {
    let now = match source.archive_dir() {
        Some(dir) => {
            let id = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let root = dir.parent().unwrap_or(Path::new("/"));
            Some(Repo::new(root).trusted_generation(id)?)
        }
        None => trusted_folder(from)?,
    };
    if &now != checked {
        return Err(OpError::failed(format!(
            "the repository changed while the services were stopped: it was {}, it is now {}; nothing was restored from it",
            checked.as_deref().unwrap_or(Path::new("?")).display(),
            now.as_deref().unwrap_or(Path::new("?")).display()
        )));
    }
    Ok(())
}

/// Whether two stores are the same repository (as far as their location says).
fn same_store(a: &Store, b: &Store) -> bool {
    a.kind() == b.kind() && a.location() == b.location()
}

fn plan_steps(
    ctx: &Context,
    from: &Store,
    m: &Manifest,
    opts: &RestoreOptions,
    found_stopped: &[String],
) -> Vec<Step> {
    let mut steps: Vec<Step> = match from {
        // Every file the check hashes, the runbook and an application export
        // too: a step missing here would be drawn after the last one planned.
        Store::Archive(repo) => match repo.trusted_generation(&m.id) {
            Ok(dir) => verify::quick_steps(&dir, m),
            Err(_) => verify::quick_steps(Path::new(""), m),
        },
        Store::Restic(_) => vec![Step::Verify("restic repository".into())],
        Store::Rclone(_) => vec![],
    };
    let archive = ctx.store.archive().is_some();
    // Only what exists and holds something is saved (see `run`).
    let saved = ctx.inst.only(|c| has_entries(&c.path));
    let safety = opts.safety_backup && !saved.components.is_empty();
    if safety && archive {
        steps.push(Step::Preflight);
    }
    steps.extend(stop_steps(ctx.inst));
    if safety && archive {
        steps.extend(
            saved
                .components
                .iter()
                .map(|c| Step::SafetyBackup(c.name.clone())),
        );
    } else if safety {
        steps.push(Step::SafetyBackup(restic::all_components(&saved)));
    }
    steps.extend(m.components.iter().map(|c| Step::Extract(c.name.clone())));
    steps.extend(m.components.iter().map(|c| Step::Swap(c.name.clone())));
    steps.extend(start_steps(ctx.inst, found_stopped));
    steps
}

/// Compares what the restore will write with the free space of every file system
/// it writes to, before anything stops: the extracted copies (sized from the file
/// indexes, so a damaged or hostile manifest cannot understate them) beside their
/// targets, and the safety backup in the repository. The old folders are kept, so
/// their space is not freed; 2% and 16 MiB are kept free on top.
fn check_target_space(
    placements: &[Placement],
    sizes: &[u64],
    safety: Option<(&Estimate, &PathBuf)>,
) -> Result<(), OpError> {
    // A folder that does not exist yet is made on the file system of its nearest
    // existing ancestor.
    let dev_of = |p: &Path| {
        let p = p.ancestors().find(|a| a.exists()).unwrap_or(Path::new("/"));
        fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| OpError::Refused(format!("cannot read {}: {e}", p.display())))
    };
    // Per file system: a folder on it, and the bytes that go there.
    let mut needs: BTreeMap<u64, (PathBuf, u64)> = BTreeMap::new();
    for (p, size) in placements.iter().zip(sizes) {
        let parent = p.staging.parent().unwrap_or(Path::new("/"));
        let entry = needs
            .entry(dev_of(parent)?)
            .or_insert((parent.to_path_buf(), 0));
        entry.1 = entry.1.saturating_add(*size);
    }
    if let Some((e, repo)) = safety {
        let entry = needs.entry(dev_of(repo)?).or_insert((repo.clone(), 0));
        entry.1 = entry.1.saturating_add(e.needed_bytes);
    }
    for (dir, bytes) in needs.values() {
        let needed = bytes.saturating_add(bytes / 50).saturating_add(16 << 20);
        let free = super::preflight::free_space(dir)?;
        if free < needed {
            return Err(OpError::Refused(format!(
                "not enough free space on the file system of {} for the restore: {} needed (the restored copies{}; the current folders are kept), {} free. Nothing was stopped",
                dir.display(),
                crate::units::bytes(needed),
                if safety.is_some() { " and the safety backup" } else { "" },
                crate::units::bytes(free)
            )));
        }
    }
    Ok(())
}

/// The safety backup of a restore of generation `restoring`.
fn safety_backup(
    ctx: &Context,
    repo: &Repo,
    estimate: &super::preflight::Estimate,
    restoring: &str,
    on: Sink,
) -> Result<Manifest, OpError> {
    let created = chrono::Utc::now();
    let id = repo.new_id(created);
    let partial = repo.create_partial(&id)?;
    let result =
        copy_components(ctx, &partial, estimate, None, SAFETY_LABEL, on).and_then(|components| {
            let mut m = new_manifest(
                ctx,
                &id,
                created,
                SAFETY_LABEL,
                components,
                &estimate.sources,
                Timings::default(),
            );
            m.restoring = Some(restoring.to_string());
            publish(ctx, repo, &partial, &m)?;
            Ok(m)
        });
    match result {
        Ok(m) => {
            on(Event::Info(format!(
                "safety backup written as generation {}",
                m.id
            )));
            Ok(m)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            Err(safety_failed(e))
        }
    }
}

/// A safety backup that did not finish: a cancel stays a cancel (not "the safety
/// backup failed: cancelled: …"), anything else says it was the safety backup.
fn safety_failed(e: OpError) -> OpError {
    match e {
        OpError::Cancelled { .. } => e,
        other => OpError::failed(format!("the safety backup failed: {other}")),
    }
}

/// Renames every target aside and every staging folder into place, recording the
/// plan in the journal first. On a failure, the renames done so far are undone.
fn swap_all(
    placements: &[Placement],
    journal: &mut super::journal::Journal,
    on: Sink,
) -> Result<(), OpError> {
    let swaps = placements
        .iter()
        .map(|p| Swap {
            target: p.target.clone(),
            kept: p.kept.clone(),
        })
        .collect();
    journal.set_swaps(swaps)?;
    let mut done: Vec<&Placement> = Vec::new();
    for p in placements {
        let step = Step::Swap(p.name.clone());
        on(Event::Started(step.clone()));
        let t = Instant::now();
        match swap::swap_in(&p.target, &p.staging, &p.kept) {
            Ok(()) => {
                done.push(p);
                on(Event::Finished(step, t.elapsed()));
            }
            Err(e) => {
                on(Event::Failed(step, e.to_string()));
                for q in done.iter().rev() {
                    if let Err(r) = swap::undo(&q.target, &q.kept, &q.staging) {
                        on(Event::Warning(r.to_string()));
                    }
                }
                journal.set_swaps(Vec::new())?;
                return Err(OpError::failed(e.to_string()));
            }
        }
    }
    journal.set_swaps(Vec::new())?;
    Ok(())
}

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn a_cancelled_safety_backup_is_said_once_as_a_cancel() {
        let e = safety_failed(OpError::Cancelled {
            detail: super::super::error::STOPPED.into(),
        });
        assert!(matches!(e, OpError::Cancelled { .. }));
        assert_eq!(e.to_string(), "cancelled: stopped before it finished");
        let f = safety_failed(OpError::failed("disk full"));
        assert_eq!(f.to_string(), "the safety backup failed: disk full");
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use crate::repo::manifest::Component;

    /// A generation folder with one component whose files `SHA256SUMS` lists.
    fn generation(dir: &Path) -> Manifest {
        fs::write(dir.join("c.tar.zst"), "archive").unwrap();
        fs::write(dir.join("c.files"), "index").unwrap();
        fs::write(dir.join("SHA256SUMS"), "aa  c.tar.zst\nbb  c.files\n").unwrap();
        let mut m = Manifest::bare("20260101T000000Z", chrono::Utc::now());
        m.components.push(Component {
            name: "c".into(),
            role: "structr".into(),
            source: PathBuf::from("/c"),
            archive: "c.tar.zst".into(),
            index: "c.files".into(),
            files: 0,
            entries: 0,
            bytes: 0,
            archive_size: 0,
            sha256: "aa".into(),
        });
        m
    }

    /// The restore's plan names every check it runs, in the order they run:
    /// the runbook's and an application export's too, before anything stops.
    #[test]
    fn the_plan_names_every_file_the_check_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let m = generation(dir.path());
        fs::write(
            dir.path().join("SHA256SUMS"),
            format!(
                "aa  c.tar.zst\nbb  c.files\ncc  app-export.tar.zst\ndd  {}\n",
                super::super::runbook::FILE
            ),
        )
        .unwrap();
        let names: Vec<String> = verify::quick_steps(dir.path(), &m)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "verify c.tar.zst".to_string(),
                "verify c.files".into(),
                "verify app-export.tar.zst".into(),
                format!("verify {}", super::super::runbook::FILE),
            ]
        );
        // Unreadable sums: the manifest's files (the check then refuses at once).
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(verify::quick_steps(empty.path(), &m).len(), 2);
    }

    #[test]
    fn a_verification_stands_only_while_the_generation_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let before = chrono::Utc::now() - chrono::Duration::seconds(5);
        let m = generation(dir.path());
        let after = chrono::Utc::now() + chrono::Duration::milliseconds(10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(still_verified(dir.path(), &m, after));
        assert!(!still_verified(dir.path(), &m, before), "written after it");
        // An archive rewritten after the verification: verified again.
        fs::write(dir.path().join("c.tar.zst"), "planted").unwrap();
        assert!(!still_verified(dir.path(), &m, after));
        // A manifest naming another checksum than SHA256SUMS: verified again.
        let dir = tempfile::tempdir().unwrap();
        let mut m = generation(dir.path());
        let later = chrono::Utc::now() + chrono::Duration::milliseconds(10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        m.components[0].sha256 = "cc".into();
        assert!(!still_verified(dir.path(), &m, later));
    }
}
