//! `export-app`: the application export with no downtime at all, into a folder,
//! or with `--git DIR` into a git working tree, committed when it changed: the
//! "version control of your application" Structr's guidance recommends. The
//! `git` program does the git part (explicit argv, a timeout, stderr on failure).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use super::app_export::{self, Existing, ExportError};
use super::OpError;
use crate::cancel::Cancel;
use crate::config::ApplicationConfig;
use crate::install::Installation;
use crate::process;

/// What `export-app` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Exported {
    pub dir: PathBuf,
    pub files: u64,
    pub bytes: u64,
    /// Where Structr was asked (no credentials).
    pub url: String,
    /// `--git`: the new commit, None when nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `--git`: whether anything changed since the last commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

const GIT_TIMEOUT: Duration = Duration::from_secs(300);
/// Where the new export lands inside the working tree before it replaces the
/// old one: same file system, so the move is renames; removed afterwards.
const INCOMING: &str = ".structr-backup-incoming";

/// The export's name as Structr sees it: the time, like a generation id.
fn export_name() -> String {
    crate::ids::id_for(Utc::now())
}

/// A failed export as the command's error: cancelled is exit 5, like every run.
fn op_error(e: ExportError) -> OpError {
    match e {
        ExportError::Cancelled => OpError::Cancelled {
            detail: "nothing was written".into(),
        },
        ExportError::Failed(why) => OpError::failed(why),
    }
}

/// Into `dir`, a new or empty folder of our own (see [`app_export::take`]: never
/// through a path another user could change).
pub fn to_folder(
    inst: &Installation,
    dir: &Path,
    settings: &ApplicationConfig,
    cancel: &Cancel,
) -> Result<Exported, OpError> {
    if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(OpError::Refused(format!(
            "{} is not empty; name a new or empty folder (or use --git for a working tree that is replaced on each export)",
            dir.display()
        )));
    }
    let limits = app_export::limits(settings);
    let taken = app_export::take(
        inst,
        &export_name(),
        dir,
        Existing::NewOrEmpty,
        limits,
        cancel,
    )
    .map_err(op_error)?;
    Ok(Exported {
        dir: taken.dir,
        files: taken.files,
        bytes: taken.bytes,
        url: taken.url,
        commit: None,
        changed: None,
    })
}

/// Into the git working tree `dir` (made and `git init`ed when needed): the
/// previous export's files are replaced (`.git` is kept), and a commit is made
/// when anything changed.
pub fn to_git(
    inst: &Installation,
    dir: &Path,
    settings: &ApplicationConfig,
    cancel: &Cancel,
) -> Result<Exported, OpError> {
    fs::create_dir_all(dir)
        .map_err(|e| OpError::Refused(format!("cannot create {}: {e}", dir.display())))?;
    if !dir.join(".git").exists() {
        // Replacing the contents of a folder that is not ours would delete files
        // nobody can get back: only an empty one becomes a working tree.
        if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(OpError::Refused(format!(
                "{} holds files but is no git working tree; name an empty folder or a working tree made by export-app",
                dir.display()
            )));
        }
        git(dir, &["init", "-q"])?;
    }
    let incoming = dir.join(INCOMING);
    // Taken first: a failed export leaves the working tree as it was.
    let limits = app_export::limits(settings);
    let taken = app_export::take(
        inst,
        &export_name(),
        &incoming,
        Existing::Replace,
        limits,
        cancel,
    )
    .map_err(op_error)?;
    let replaced = replace_contents(dir, &incoming);
    let _ = fs::remove_dir_all(&incoming);
    replaced?;
    git(dir, &["add", "-A"])?;
    let status = git(dir, &["status", "--porcelain"])?;
    let mut out = Exported {
        dir: dir.to_path_buf(),
        files: taken.files,
        bytes: taken.bytes,
        url: taken.url,
        commit: None,
        changed: Some(!status.trim().is_empty()),
    };
    if status.trim().is_empty() {
        return Ok(out);
    }
    let host = crate::sys::hostname();
    let version = inst
        .versions
        .get("structr")
        .or_else(|| inst.versions.get("structr-image"))
        .map_or("unknown", String::as_str);
    let message = format!(
        "Structr application export, {} on {host}\n\nTime: {}\nHost: {host}\nStructr version: {version}\nMade by structr-backup export-app from {}\n",
        Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        Utc::now().to_rfc3339(),
        out.url
    );
    // The author is set here so a machine without any git config can commit.
    let name = "user.name=structr-backup".to_string();
    let email = format!("user.email=structr-backup@{host}");
    git(
        dir,
        &["-c", &name, "-c", &email, "commit", "-q", "-m", &message],
    )?;
    out.commit = Some(git(dir, &["rev-parse", "HEAD"])?.trim().to_string());
    Ok(out)
}

/// Removes everything in `dir` but `.git` and `incoming`, then moves the
/// contents of `incoming` up into `dir`.
fn replace_contents(dir: &Path, incoming: &Path) -> Result<(), OpError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        OpError::failed(format!("cannot {what} {}: {e}", p.display()))
    };
    for entry in fs::read_dir(dir).map_err(|e| io("read", dir, e))? {
        let entry = entry.map_err(|e| io("read", dir, e))?;
        let name = entry.file_name();
        if name == ".git" || name == INCOMING {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let removed = match is_dir {
            true => fs::remove_dir_all(&path),
            false => fs::remove_file(&path),
        };
        removed.map_err(|e| io("remove", &path, e))?;
    }
    for entry in fs::read_dir(incoming).map_err(|e| io("read", incoming, e))? {
        let entry = entry.map_err(|e| io("read", incoming, e))?;
        let to = dir.join(entry.file_name());
        fs::rename(entry.path(), &to).map_err(|e| io("move into place", &to, e))?;
    }
    Ok(())
}

/// `git -C dir ARGS`, its stdout; the error names the command and git's stderr.
fn git(dir: &Path, args: &[&str]) -> Result<String, OpError> {
    let mut argv = vec![
        "git".to_string(),
        "-C".to_string(),
        dir.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = process::run(&argv, GIT_TIMEOUT)
        .map_err(|e| OpError::failed(format!("git: {e} (is git installed?)")))?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "`{}` failed: {}",
            process::display(&argv),
            out.tail()
        )));
    }
    Ok(out.stdout)
}
