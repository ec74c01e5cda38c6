//! `init`: creates a repository (or off-site target) of either kind. restic: a
//! missing password file is made first, with a random password, owner-only.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::OpError;
use crate::repo::restic::{self, Restic, ResticError};
use crate::repo::store::Store;

/// Creates `store` when it is not there; returns what was done, one line each.
pub fn create(store: &Store, like: Option<&Restic>) -> Result<Vec<String>, OpError> {
    let mut done = Vec::new();
    // A folder made where another user can change its path would be refused by
    // every later run: say so now, before anything is made.
    if let Some(folder) = store.local_folder() {
        crate::repo::generation::Repo::new(folder).check_trusted()?;
    }
    match store {
        Store::Rclone(r) => done.push(format!(
            "{}: rclone makes the folder on the first copy",
            r.location()
        )),
        Store::Archive(repo) => {
            let location = repo.root.display().to_string();
            if repo.root.is_dir() {
                done.push(format!("{location} already exists"));
            } else {
                repo.create()?;
                done.push(format!("created {location}"));
            }
        }
        Store::Restic(r) if r.password_file.exists() => {
            if r.exists()? {
                done.push(format!(
                    "the restic repository {} already exists",
                    r.location
                ));
            } else {
                // Chunker parameters are copied only from a repository that exists.
                let like = like.filter(|l| l.exists().unwrap_or(false));
                r.init(like)?;
                done.push(format!("created the restic repository {}", r.location));
            }
        }
        Store::Restic(r) => {
            // A new password is made under a name of its own first: if the repository
            // already exists (its password file was moved away), no bogus file is left
            // where the real one belongs.
            let fresh = fresh_password_file(&r.password_file)?;
            let trial = Restic::new(r.location.clone(), fresh.clone(), r.options.clone());
            let outcome = (|| -> Result<(), OpError> {
                match trial.exists() {
                    Ok(false) => {}
                    Ok(true) | Err(ResticError::WrongPassword { .. }) => {
                        return Err(OpError::Refused(format!(
                            "the restic repository {} already exists, but its password file {} \
                             is missing. Put back the file it was made with (from your copy of it); \
                             a new password cannot open it. Nothing was created",
                            r.location,
                            r.password_file.display()
                        )))
                    }
                    Err(e) => return Err(e.into()),
                }
                let like = like.filter(|l| l.exists().unwrap_or(false));
                trial.init(like)?;
                // No overwrite: a link fails if a file appeared at the name meanwhile.
                fs::hard_link(&fresh, &r.password_file).map_err(|e| {
                    OpError::failed(format!(
                        "created the restic repository {}, but its password file could not be \
                         put at {}: {e}. The password is in {}: move it there yourself",
                        r.location,
                        r.password_file.display(),
                        fresh.display()
                    ))
                })?;
                Ok(())
            })();
            match outcome {
                Ok(()) => {
                    let _ = fs::remove_file(&fresh);
                }
                // The repository was made with the fresh password: keep that file.
                Err(e) if trial.exists().unwrap_or(false) => return Err(e),
                Err(e) => {
                    let _ = fs::remove_file(&fresh);
                    return Err(e);
                }
            }
            done.push(format!(
                "created the password file {} with a random password. KEEP A COPY OF IT \
                 SOMEWHERE ELSE (a password manager, a sealed envelope): without it this \
                 repository and every off-site copy made with it cannot be restored",
                r.password_file.display()
            ));
            done.push(format!("created the restic repository {}", r.location));
        }
    }
    Ok(done)
}

/// A new password file beside `path`, under a name of its own (`.NAME.new-RANDOM`).
fn fresh_password_file(path: &Path) -> Result<PathBuf, OpError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "password".into());
    let suffix = restic::new_password()
        .map_err(|e| OpError::failed(format!("cannot read random bytes: {e}")))?;
    let fresh = path.with_file_name(format!(".{name}.new-{}", &suffix[..12]));
    write_password_file(&fresh)?;
    Ok(fresh)
}

fn write_password_file(path: &Path) -> Result<(), OpError> {
    let fail = |e: std::io::Error| {
        OpError::failed(format!(
            "cannot create the password file {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let password = restic::new_password().map_err(fail)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(password.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)
}
