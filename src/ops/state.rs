//! Run state that must not live in the repository (whoever can write there must not
//! steer what we rename or start): the journal of a run in a private state folder,
//! and the installation's lock under /run/lock. Both are keyed by the installation,
//! so two installations on one host never share them.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::install::Installation;
use crate::repo::lock::{self, Lock, LockError};

/// A state folder the config names (`[state] dir`): for this whole run.
static CONFIGURED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Keeps this run's state in `config`'s `[state] dir` when it names one (the
/// demo's own folder): called once, when the config is read.
pub fn keep_state_as_configured(config: &crate::config::Config) {
    if let Some(dir) = &config.state.dir {
        let _ = CONFIGURED.set(dir.clone());
    }
}

/// `[state] dir` when the config names one; else `/var/lib/structr-backup` for
/// root; `$XDG_STATE_HOME/structr-backup`, else `~/.local/state/structr-backup`
/// when that home is theirs (a `sudo -u` keeps root's HOME), else a folder of
/// theirs in the temp folder, for other users.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = CONFIGURED.get() {
        return dir.clone();
    }
    let me = nix::unistd::geteuid();
    if me.is_root() {
        return PathBuf::from("/var/lib/structr-backup");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| fs::metadata(h).is_ok_and(|m| m.uid() == me.as_raw()));
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    match xdg.or_else(|| home.map(|h| h.join(".local/state"))) {
        Some(base) => base.join("structr-backup"),
        None => std::env::temp_dir().join(format!("structr-backup-{me}")),
    }
}

/// Where installation locks live: a root-owned folder under /run/lock for root
/// (cleared at boot, like the locks it holds), the state folder otherwise.
fn lock_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/lock/structr-backup")
    } else {
        state_dir()
    }
}

/// Creates `dir` owner-only if missing, and refuses one that someone else could
/// write into or that is not a real folder of ours.
pub fn private_dir(dir: &Path) -> Result<PathBuf, String> {
    if let Err(e) = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        return Err(format!("cannot create {}: {e}", dir.display()));
    }
    let meta =
        fs::symlink_metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        return Err(format!(
            "{} is not a folder (a symbolic link?); remove it so it can be made again",
            dir.display()
        ));
    }
    if meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} must belong to uid {me} and be writable by it alone; fix it with `chown {me} {0} && chmod 700 {0}`",
            dir.display()
        ));
    }
    Ok(dir.to_path_buf())
}

/// The journal file of this installation.
pub fn journal_path(inst: &Installation) -> PathBuf {
    state_dir().join(format!("{}.journal", inst.key()))
}

/// The lock file of this installation.
pub fn lock_path(inst: &Installation) -> PathBuf {
    lock_dir().join(format!("{}.lock", inst.key()))
}

/// Takes the installation's lock: one run that stops services per installation,
/// whichever repository it writes to.
pub fn lock_installation(inst: &Installation, operation: &str) -> Result<Lock, LockError> {
    private_dir(&lock_dir()).map_err(|reason| LockError::Unsafe {
        what: "installation",
        path: lock_dir(),
        reason,
    })?;
    lock::acquire_file(&lock_path(inst), "installation", operation)
}
