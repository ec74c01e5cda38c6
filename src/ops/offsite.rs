//! Off-site copies: after a backup, once the services run again, the new
//! generation is copied to each `[[offsite]]` target. restic kind: `restic copy` of
//! its snapshot. Archive kind: the generation folder, written as `<id>.partial`,
//! every file fsynced and checked against `SHA256SUMS` on the far side, then renamed
//! into place. A failed copy is reported and fails the run's exit code; it never
//! touches the services or the local generation.

use crate::repo::files;
use crate::repo::manifest;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use super::event::{Event, Sink, Step};
use super::{lock_repo, verify, Context, OpError};
use crate::cancel::Cancel;
use crate::repo::generation::Repo;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// What became of one copy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Copied {
    pub target: String,
    pub location: String,
    pub ok: bool,
    /// Why it failed, or what was done ("copied", "already there").
    pub detail: String,
    pub bytes: u64,
    pub secs: f64,
}

/// The plan's steps for the configured targets.
pub fn steps(ctx: &Context) -> Vec<Step> {
    ctx.offsite
        .iter()
        .map(|(name, _)| Step::Offsite(name.clone()))
        .collect()
}

/// Copies generation `m` from `from` to the target `name` at `to`.
pub fn copy(
    from: &Store,
    name: &str,
    to: &Store,
    m: &Manifest,
    cancel: &Cancel,
    on: Sink,
) -> Copied {
    let step = Step::Offsite(name.to_string());
    on(Event::Started(step.clone()));
    let t = Instant::now();
    let result = match (from, to) {
        // Its snapshot lives with the tool that took it; the record stays here.
        _ if m.is_external_snapshot() => Err(OpError::Refused(format!(
            "{} only records a snapshot taken by its [snapshot] command: there is nothing here to copy",
            m.id
        ))),
        (Store::Restic(src), Store::Restic(dst)) => copy_snapshot(src, dst, m, cancel),
        (Store::Archive(src), Store::Archive(dst)) => {
            copy_folder(src, dst, m, cancel, &mut |done, total| {
                on(Event::Progress {
                    step: step.clone(),
                    done,
                    total,
                })
            })
        }
        (Store::Archive(src), Store::Rclone(dst)) => copy_rclone(src, dst, m, cancel),
        _ => Err(OpError::Refused(
            "an off-site target must be of the repository's kind".into(),
        )),
    };
    let secs = t.elapsed().as_secs_f64();
    match result {
        Ok(detail) => {
            on(Event::Finished(step, t.elapsed()));
            Copied {
                target: name.to_string(),
                location: to.location().to_string(),
                ok: true,
                detail,
                bytes: m.total_archive_size(),
                secs,
            }
        }
        Err(e) => {
            let detail = format!(
                "the copy of {} to {name} ({}) failed: {e}. The local generation is unaffected; copy it later with `structr-backup copy {} --to {name}`",
                m.id,
                to.location(),
                m.id
            );
            on(Event::Failed(step, detail.clone()));
            Copied {
                target: name.to_string(),
                location: to.location().to_string(),
                ok: false,
                detail,
                bytes: 0,
                secs,
            }
        }
    }
}

fn copy_snapshot(
    src: &crate::repo::restic::Restic,
    dst: &crate::repo::restic::Restic,
    m: &Manifest,
    cancel: &Cancel,
) -> Result<String, OpError> {
    let snapshot = m
        .snapshot
        .as_deref()
        .ok_or_else(|| OpError::failed(format!("{} names no snapshot", m.id)))?;
    if !dst.exists()? {
        return Err(OpError::Refused(format!(
            "there is no restic repository at {}; `structr-backup init` creates it",
            dst.location
        )));
    }
    let before = Store::Restic(dst.clone()).list()?.0;
    if before.iter().any(|g| g.id == m.id) {
        return Ok("already there".into());
    }
    dst.copy_from(src, snapshot, cancel)?;
    // restic copy skips a snapshot it thinks is there; check it really arrived.
    let after = Store::Restic(dst.clone()).list()?.0;
    match after.iter().any(|g| g.id == m.id) {
        true => Ok("copied".into()),
        false => Err(OpError::failed(format!(
            "restic copy finished, but {} is not in the target's snapshots",
            m.id
        ))),
    }
}

fn copy_rclone(
    src: &Repo,
    dst: &crate::repo::rclone::Rclone,
    m: &Manifest,
    cancel: &Cancel,
) -> Result<String, OpError> {
    if dst.manifest(&m.id).is_ok() {
        return Ok("already there".into());
    }
    dst.upload(&src.path_of(&m.id), &m.id, cancel)
        .map_err(|e| match e {
            crate::repo::rclone::RcloneError::Cancelled => OpError::Cancelled {
                detail: "the copy was cancelled".into(),
            },
            other => OpError::failed(other.to_string()),
        })?;
    Ok("copied and read back".into())
}

/// Fetches generation `id` from an rclone target into the repository `into`: it
/// is downloaded as `<id>.partial`, checked against `SHA256SUMS`, and published.
pub fn fetch(
    from: &crate::repo::rclone::Rclone,
    into: &Repo,
    id: &str,
    cancel: &Cancel,
    on: Sink,
) -> Result<Manifest, OpError> {
    let step = Step::Offsite(format!("fetch {id} from {}", from.location()));
    on(Event::Started(step.clone()));
    let t = Instant::now();
    into.create()?;
    let _lock = lock_repo(into, "fetch")?;
    if let Ok(m) = into.manifest(id) {
        on(Event::Finished(step, t.elapsed()));
        return Ok(m);
    }
    into.clean_leftovers()?;
    let partial = into.create_partial(id)?;
    let result = (|| -> Result<Manifest, OpError> {
        from.download(id, &partial, cancel)
            .map_err(|e| OpError::failed(e.to_string()))?;
        let mut m = manifest::parse_manifest(
            &fs::read_to_string(partial.join(manifest::MANIFEST)).map_err(|e| {
                OpError::failed(format!("the fetched generation has no manifest: {e}"))
            })?,
            partial.join(manifest::MANIFEST),
        )?;
        m.id = id.to_string();
        verify::quick(&partial, &m, cancel, &mut |_| {})?;
        Ok(m)
    })();
    match result {
        Ok(m) => {
            into.publish(&partial, id)?;
            on(Event::Finished(step, t.elapsed()));
            Ok(m)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            on(Event::Failed(step, e.to_string()));
            Err(e)
        }
    }
}

/// Copies the generation folder into `dst` as `<id>.partial`, checks every file
/// there against `SHA256SUMS` (reading the copies back), and renames it into place.
fn copy_folder(
    src: &Repo,
    dst: &Repo,
    m: &Manifest,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<String, OpError> {
    if !dst.root.is_dir() {
        return Err(OpError::Refused(format!(
            "the off-site folder {} does not exist (is its disk mounted?); `structr-backup init` creates it",
            dst.root.display()
        )));
    }
    let _lock = lock_repo(dst, "copy")?;
    if dst.manifest(&m.id).is_ok() {
        return Ok("already there".into());
    }
    dst.clean_leftovers()?;
    let from = src.trusted_generation(&m.id)?;
    let partial = dst.create_partial(&m.id)?;
    let result = (|| -> Result<(), OpError> {
        // Everything SHA256SUMS seals travels (the runbook too), and at least the
        // manifest's archives and indexes, so the check below sees any gap.
        let mut names: Vec<String> = vec![files::SUMS.into()];
        names.extend(files::read_sums(&from)?.into_iter().map(|(_, n)| n));
        for c in &m.components {
            for n in [&c.archive, &c.index] {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let total: u64 = names
            .iter()
            .filter_map(|n| fs::metadata(from.join(n)).ok())
            .map(|md| md.len())
            .sum();
        let mut done = 0u64;
        for n in &names {
            copy_file(&from.join(n), &partial.join(n), cancel, &mut |k| {
                done += k;
                progress(done, total);
            })?;
        }
        // The manifest as it is now (pins included), written last.
        let current = src.manifest(&m.id)?;
        files::write_manifest(&partial, &current)?;
        verify::quick(&partial, &current, cancel, &mut |_| {})
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    dst.publish(&partial, &m.id)?;
    Ok("copied and checked".into())
}

/// Copies one file (owner-only), fsynced before it is reported done.
fn copy_file(
    from: &Path,
    to: &Path,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<(), OpError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        OpError::failed(format!("{what} {}: {e}", p.display()))
    };
    let mut input = fs::File::open(from).map_err(|e| fail("cannot read", from, e))?;
    let mut output = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| fail("cannot create", to, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(OpError::Cancelled {
                detail: "the copy was cancelled".into(),
            });
        }
        let n = input
            .read(&mut buf)
            .map_err(|e| fail("cannot read", from, e))?;
        if n == 0 {
            break;
        }
        output
            .write_all(&buf[..n])
            .map_err(|e| fail("cannot write", to, e))?;
        progress(n as u64);
    }
    output.sync_all().map_err(|e| fail("cannot sync", to, e))
}
