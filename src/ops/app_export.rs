//! The application export: Structr's deployment export (schema, pages, components,
//! templates, files; no user data), asked for over HTTP while Structr still runs,
//! unpacked, and kept in the generation as component `app`. It is a convenience
//! beside the cold copy, so any failure is a warning and the data backup goes on.
//! A restore never puts it into the installation: it goes back through Structr's
//! own deployment import (`restore ID --only app --to DIR` unpacks it for that).

use std::fs;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use super::app_dest::Existing;
use super::app_dest::{check_destination, check_space, fresh_dir, place, remove_leftovers};
use super::app_dest::{split, unnamed_file};
use super::event::{Event, Sink, Step};
use super::{state, Context};
use crate::cancel::Cancel;
use crate::config::ApplicationConfig;
use crate::install::deploy::{self, FetchError, Limits};
use crate::install::{Installation, ROLE_APP, ROLE_STRUCTR};
use crate::repo::archive;
use crate::repo::file_index;
use crate::repo::manifest::Component;
use crate::repo::unzip;

/// The component's name (and archive base name: `app.tar.zst`).
pub const COMPONENT: &str = "app";

/// What a restore says about the export it leaves out.
pub const NOT_RESTORED: &str = "app: the application export is not restored into the installation; `restore ID --only app --to DIR` unpacks it; import it with Structr's deployment import";

/// Whether `c` is an application export, which a restore leaves out.
pub fn is_app(c: &Component) -> bool {
    c.role == ROLE_APP
}

/// Whether a restore puts `c` into the installation: not the application export,
/// which goes back through Structr's deployment import (`--only app --to DIR`).
pub fn goes_into_installation(c: &Component) -> bool {
    !is_app(c)
}

/// An export unpacked into a folder.
#[derive(Debug)]
pub struct Taken {
    pub dir: PathBuf,
    pub files: u64,
    pub bytes: u64,
    /// Where it was asked for (no credentials).
    pub url: String,
}

/// Why no export was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum ExportError {
    /// Ctrl-C or SIGTERM: the run ends, no warning.
    Cancelled,
    /// Why, for the warning (never a credential).
    Failed(String),
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Cancelled => f.write_str("cancelled"),
            ExportError::Failed(why) => f.write_str(why),
        }
    }
}

impl From<String> for ExportError {
    fn from(why: String) -> Self {
        ExportError::Failed(why)
    }
}

impl From<&str> for ExportError {
    fn from(why: &str) -> Self {
        ExportError::Failed(why.into())
    }
}

/// The export's bounds from `[application]`.
pub fn limits(a: &ApplicationConfig) -> Limits {
    Limits {
        max_bytes: a.max_size_mb.saturating_mul(1 << 20),
        idle: Duration::from_secs(a.idle_timeout_secs),
        total: Duration::from_secs(a.timeout_secs),
    }
}

/// The folder an export of `inst` is unpacked into on its way to the repository:
/// in the private state folder (the export holds the application's code), under a
/// stable name so restic sees the same path each time.
pub fn work_dir(inst: &Installation) -> Result<PathBuf, String> {
    let base = state::private_dir(&state::state_dir())?;
    Ok(base.join(format!("app-export-{}", inst.key())))
}

/// Asks the running Structr of `inst` for its application export named `name`
/// and unpacks it into `dir`. The download waits in an unnamed file in the
/// private state folder; the export is unpacked into a fresh folder of
/// unpredictable name beside `dir`, written relative to its open handle, and
/// renamed to `dir` at the end: root never writes through a path another user
/// could change meanwhile, and a failure leaves nothing behind.
pub fn take(
    inst: &Installation,
    name: &str,
    dir: &Path,
    existing: Existing,
    limits: Limits,
    cancel: &Cancel,
) -> Result<Taken, ExportError> {
    let result = take_inner(inst, name, dir, existing, limits, cancel);
    match result {
        Err(_) if cancel.is_cancelled() => Err(ExportError::Cancelled),
        other => other,
    }
}

fn take_inner(
    inst: &Installation,
    name: &str,
    dir: &Path,
    existing: Existing,
    limits: Limits,
    cancel: &Cancel,
) -> Result<Taken, ExportError> {
    if cancel.is_cancelled() {
        return Err(ExportError::Cancelled);
    }
    let structr = inst
        .components
        .iter()
        .find(|c| c.role == ROLE_STRUCTR)
        .ok_or("the installation has no Structr folder to read structr.conf from")?;
    let ep = deploy::endpoint(&structr.path)?;
    let (parent, leaf) = split(dir)?;
    fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let parent_fd = unzip::open_dir(None, parent)
        .map_err(|e| format!("cannot open the folder {}: {e}", parent.display()))?;
    if existing == Existing::Replace {
        remove_leftovers(parent, leaf);
    }
    check_destination(&parent_fd, dir, leaf, existing)?;
    let private = state::private_dir(&state::state_dir())?;
    check_space(&[(&private, limits.max_bytes), (parent, limits.max_bytes)])?;

    let mut zip = unnamed_file(&private)?;
    let got = deploy::download_app(inst, &structr.path, &ep, name, &mut zip, limits, cancel);
    got.map_err(|e| match e {
        FetchError::Cancelled => ExportError::Cancelled,
        FetchError::Failed(why) => ExportError::Failed(why),
    })?;
    zip.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read the downloaded export back: {e}"))?;

    let (fresh, fresh_fd) = fresh_dir(&parent_fd, parent, leaf)?;
    let placed = unzip::unzip_into(&mut zip, "the export", &fresh_fd, limits.max_bytes, cancel)
        .and_then(|u| {
            let fresh_leaf = fresh.file_name().unwrap_or_default();
            place(&parent_fd, Path::new(fresh_leaf), dir, leaf, existing).map(|()| u)
        });
    match placed {
        Ok(u) => Ok(Taken {
            dir: dir.to_path_buf(),
            files: u.files,
            bytes: u.bytes,
            url: ep.url(),
        }),
        Err(e) => {
            let _ = fs::remove_dir_all(&fresh);
            Err(ExportError::Failed(e))
        }
    }
}

/// A component of the installation named `app` (a Compose volume, say) keeps its
/// name; the export then has none to go by and is skipped.
fn no_name_clash(inst: &Installation) -> Result<(), String> {
    match inst.component(COMPONENT) {
        Some(c) => Err(format!(
            "the installation has a component named {COMPONENT} ({}) already",
            c.path.display()
        )),
        None => Ok(()),
    }
}

/// The warning for an export that could not be taken.
pub fn skipped(why: &str) -> String {
    format!("application export skipped: {why}; the data backup goes on")
}

/// The plan step, when the context asks for an export.
pub fn plan_step(ctx: &Context) -> Option<Step> {
    ctx.application.export.then_some(Step::AppExport)
}

/// Removes the export's work folder, if there.
pub fn remove_if_there(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", dir.display())),
    }
}

/// Runs `f` as the export step: reports it, and turns a failure into the
/// warning. A cancelled export is no warning: the run itself ends (the caller
/// looks at the cancel flag before anything stops).
fn as_step<T>(
    on: Sink,
    cancel: &Cancel,
    f: impl FnOnce(Sink) -> Result<T, ExportError>,
) -> Option<T> {
    on(Event::Started(Step::AppExport));
    let t = Instant::now();
    let result = f(on);
    match &result {
        Ok(_) => on(Event::Finished(Step::AppExport, t.elapsed())),
        Err(_) if cancel.is_cancelled() => on(Event::Failed(Step::AppExport, "cancelled".into())),
        Err(e) => {
            on(Event::Warning(skipped(&e.to_string())));
            on(Event::Finished(Step::AppExport, t.elapsed()));
        }
    }
    result.ok()
}

/// Archive kind: takes the export and writes it into the generation folder
/// `partial` as `app.tar.zst` with its file index (SHA256SUMS covers both when
/// the generation is published). None when it is off or failed (warned).
pub fn archive_into(ctx: &Context, id: &str, partial: &Path, on: Sink) -> Option<Component> {
    if !ctx.application.export {
        return None;
    }
    as_step(on, &ctx.cancel, |on| {
        no_name_clash(ctx.inst)?;
        let dir = work_dir(ctx.inst)?;
        let limits = limits(&ctx.application);
        let taken = take(ctx.inst, id, &dir, Existing::Replace, limits, &ctx.cancel)?;
        let archive_name = format!("{COMPONENT}.tar.zst");
        let index_name = format!("{COMPONENT}.files");
        let written = archive::write_archive(
            &dir,
            &partial.join(&archive_name),
            &ctx.archive,
            &ctx.cancel,
            &mut |_| {},
        )
        .map_err(|e| e.to_string());
        let _ = fs::remove_dir_all(&dir);
        let summary = written?;
        let index_path = partial.join(&index_name);
        file_index::write_index(&index_path, &summary.index)
            .map_err(|e| format!("cannot write {}: {e}", index_path.display()))?;
        on(taken_event(&taken));
        Ok(Component {
            name: COMPONENT.into(),
            role: ROLE_APP.into(),
            source: dir,
            archive: archive_name,
            index: index_name,
            files: summary.files,
            entries: summary.entries,
            bytes: summary.bytes,
            archive_size: summary.archive_size,
            sha256: summary.sha256,
        })
    })
}

/// What the log says of a taken export.
fn taken_event(taken: &Taken) -> Event {
    Event::Info(format!(
        "application export: {} files, {} from {}",
        taken.files,
        crate::units::bytes(taken.bytes),
        taken.url
    ))
}

/// restic kind: takes the export into its work folder, which the snapshot then
/// reads beside the components (remove it with [`remove_if_there`] afterwards).
pub fn take_for_snapshot(ctx: &Context, id: &str, on: Sink) -> Option<Component> {
    if !ctx.application.export {
        return None;
    }
    as_step(on, &ctx.cancel, |on| {
        no_name_clash(ctx.inst)?;
        let dir = work_dir(ctx.inst)?;
        let limits = limits(&ctx.application);
        let taken = take(ctx.inst, id, &dir, Existing::Replace, limits, &ctx.cancel)?;
        on(taken_event(&taken));
        Ok(Component {
            name: COMPONENT.into(),
            role: ROLE_APP.into(),
            source: dir,
            archive: String::new(),
            index: String::new(),
            files: taken.files,
            entries: taken.files,
            bytes: taken.bytes,
            archive_size: 0,
            sha256: String::new(),
        })
    })
}
