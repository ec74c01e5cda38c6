//! The application export's commands: `export-app [--git DIR | --to DIR]`, and
//! `restore ID --only NAME --to DIR` (one component unpacked into a folder, no
//! service touched; how the export comes back out of a generation).

use std::path::{Path, PathBuf};

use super::env::{tee, Env, Failure, Result};
use super::render::Renderer;
use crate::ops;
use crate::ops::exit::Exit;
use crate::repo::store::Store;
use crate::{outln, units};

/// `dir` made absolute (against the current folder), for messages and restic.
fn absolute(dir: &Path) -> Result<PathBuf> {
    std::path::absolute(dir).map_err(|e| Failure {
        exit: Exit::Failed,
        message: format!("cannot resolve {}: {e}", dir.display()),
    })
}

pub fn unpack(env: &Env, id: &str, name: &str, to: &Path) -> Result<()> {
    let id = &env.id(id)?;
    let to = &absolute(to)?;
    // As for a restore: a generation on an rclone target is fetched (and checked) first.
    let store = match (&env.from, &env.store) {
        (Some(Store::Rclone(r)), Store::Archive(local)) => {
            let mut rr = Renderer::new();
            ops::offsite::fetch(r, local, id, &env.cancel, &mut |e| tee(&mut rr, e))?;
            &env.store
        }
        _ => env.reading(),
    };
    let mut r = Renderer::new();
    let out = ops::unpack::run(store, id, name, to, &env.cancel, &mut |e| tee(&mut r, e))?;
    drop(r);
    if env.cli.json {
        return env.print_json(&out);
    }
    outln!(
        "{} of generation {} unpacked into {}: {} files, {}; no service was touched",
        out.component,
        out.id,
        out.dir.display(),
        out.files,
        units::bytes(out.bytes)
    );
    if name == ops::app_export::COMPONENT {
        outln!(
            "import it with Structr's deployment import: in the admin UI (Dashboard → Deployment, import from {dir}), or POST /structr/rest/maintenance/deploy with {{\"mode\":\"import\",\"source\":\"{dir}\"}} (the folder must be readable by Structr)",
            dir = out.dir.display()
        );
    }
    Ok(())
}

pub fn export_app(env: &Env, git: Option<&Path>, to: Option<&Path>) -> Result<()> {
    let inst = env.installation()?;
    let settings = &env.config.application;
    let out = match (git, to) {
        (Some(dir), _) => ops::app_git::to_git(&inst, &absolute(dir)?, settings, &env.cancel)?,
        (None, Some(dir)) => {
            ops::app_git::to_folder(&inst, &absolute(dir)?, settings, &env.cancel)?
        }
        (None, None) => {
            let dir = std::env::current_dir()
                .map_err(|e| Failure {
                    exit: Exit::Failed,
                    message: format!("cannot tell the current folder: {e}"),
                })?
                .join(format!(
                    "structr-app-{}",
                    crate::ids::id_for(chrono::Utc::now())
                ));
            ops::app_git::to_folder(&inst, &dir, settings, &env.cancel)?
        }
    };
    if env.cli.json {
        return env.print_json(&out);
    }
    outln!(
        "application export from {}: {} files, {}, written to {}",
        out.url,
        out.files,
        units::bytes(out.bytes),
        out.dir.display()
    );
    match (&out.commit, out.changed) {
        (Some(c), _) => outln!("committed {} in {}", c, out.dir.display()),
        (None, Some(false)) => outln!("no change since the last commit; nothing committed"),
        _ => {}
    }
    Ok(())
}
