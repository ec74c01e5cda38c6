//! An archive-kind off-site target reached through the `rclone` program
//! (`rclone:REMOTE:PATH` in the config): the same generation folders as a local
//! repository, uploaded file by file, checked by reading them back, and made
//! visible by their manifest, which is uploaded last.

use super::files;
use super::manifest;
use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::ids::is_generation_id;
use crate::process::{Cmd, RunError};
use crate::repo::error::RepoError;
use crate::repo::manifest::{Manifest, MANIFEST};
use crate::secrets::Location;

/// The largest answer read whole from rclone (a listing, a manifest).
const MAX_LISTING: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Rclone {
    /// What rclone calls the folder: `REMOTE:PATH`.
    pub remote: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RcloneError {
    #[error("cannot run the rclone program: {0}. Install it (`apt install rclone`)")]
    Missing(std::io::Error),
    #[error("`rclone {command}` failed: {detail}")]
    Failed { command: String, detail: String },
    #[error("the operation was cancelled")]
    Cancelled,
}

impl From<RcloneError> for RepoError {
    fn from(e: RcloneError) -> Self {
        RepoError::Backend(e.to_string())
    }
}

impl Rclone {
    /// `rclone:REMOTE:PATH` from the config, or None for anything else.
    pub fn parse(location: &str) -> Option<Rclone> {
        location
            .strip_prefix("rclone:")
            .filter(|r| r.contains(':'))
            .map(|r| Rclone {
                remote: r.trim_end_matches('/').to_string(),
            })
    }

    /// `rclone:REMOTE:PATH`, shown redacted (a connection string may hold a password).
    pub fn location(&self) -> Location {
        Location::new(format!("rclone:{}", self.remote))
    }

    fn path_of(&self, id: &str) -> String {
        format!("{}/{id}", self.remote)
    }

    /// How rclone is told about the remote without a secret on its command line
    /// (every user can read one): a connection string with a password
    /// (`:sftp,host=h,pass=X:path`) becomes a remote defined in rclone's
    /// environment (`RCLONE_CONFIG_STRUCTRBACKUP_PASS=X`) and named on the command
    /// line as `structrbackup:path`. Anything else goes as written.
    fn remote_for_argv(&self) -> (String, Vec<(String, String)>) {
        const NAME: &str = "structrbackup";
        let plain = (self.remote.clone(), Vec::new());
        if !Location::new(self.remote.clone()).carries_secret() {
            return plain;
        }
        let Some(rest) = self.remote.strip_prefix(':') else {
            return plain;
        };
        let Some((spec, path)) = rest.split_once(':') else {
            return plain;
        };
        // Quoted values may hold `,` or `:`: those are left to rclone as written.
        if spec.contains(['"', '\'']) {
            return plain;
        }
        let mut parts = spec.split(',');
        let backend = parts.next().unwrap_or_default();
        let prefix = format!("RCLONE_CONFIG_{}_", NAME.to_ascii_uppercase());
        let mut env = vec![(format!("{prefix}TYPE"), backend.to_string())];
        for opt in parts {
            let Some((k, v)) = opt.split_once('=') else {
                return plain;
            };
            let key = k.trim().trim_start_matches('-').replace('-', "_");
            env.push((
                format!("{prefix}{}", key.to_ascii_uppercase()),
                v.to_string(),
            ));
        }
        (format!("{NAME}:{path}"), env)
    }

    fn run(&self, args: &[String], cancel: &Cancel) -> Result<String, RcloneError> {
        let name = args.first().cloned().unwrap_or_default();
        let (remote, env) = self.remote_for_argv();
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix(self.remote.as_str()) {
                Some(rest) => format!("{remote}{rest}"),
                None => a.clone(),
            })
            .collect();
        let mut cmd = Cmd::new("rclone");
        for (k, v) in &env {
            cmd = cmd.env(k, v);
        }
        // Messages name the subcommand only: a connection-string remote may hold a password.
        let out = cmd
            .args(&args)
            .cancel(cancel)
            .shown_as(format!("rclone {name}"))
            .keep_stdout(MAX_LISTING)
            .output();
        let out = match out {
            Ok(out) => out,
            Err(RunError::Spawn { source, .. }) => return Err(RcloneError::Missing(source)),
            Err(RunError::Cancelled { .. }) => return Err(RcloneError::Cancelled),
            Err(e) => {
                return Err(RcloneError::Failed {
                    command: name,
                    detail: e.to_string(),
                })
            }
        };
        if out.success() {
            return Ok(out.stdout);
        }
        let detail = out.tail().lines().collect::<Vec<_>>().join(" / ");
        Err(RcloneError::Failed {
            command: name,
            detail: crate::text::printable(&self.location().scrub(&detail), 2000),
        })
    }

    fn quiet(&self, args: &[&str]) -> Result<String, RcloneError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(&args, &Cancel::new())
    }

    /// Whether the folder can be listed (rclone makes folders on the first copy).
    pub fn reachable(&self) -> Result<bool, RcloneError> {
        match self.quiet(&["lsf", "--max-depth", "1", &self.remote]) {
            Ok(_) => Ok(true),
            Err(RcloneError::Failed { detail, .. }) if detail.contains("not found") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Generation ids with a manifest (a folder without one is an unfinished upload).
    pub fn list(&self) -> Result<(Vec<Manifest>, Vec<RepoError>), RepoError> {
        let out = match self.quiet(&["lsf", "--dirs-only", "--max-depth", "1", &self.remote]) {
            Ok(o) => o,
            Err(RcloneError::Failed { detail, .. }) if detail.contains("not found") => {
                return Ok((vec![], vec![]))
            }
            Err(e) => return Err(e.into()),
        };
        let mut manifests = Vec::new();
        let mut broken = Vec::new();
        for name in out.lines().map(|l| l.trim_end_matches('/')) {
            if !is_generation_id(name) {
                continue;
            }
            match self.manifest(name) {
                Ok(m) => manifests.push(m),
                Err(RepoError::NotFound { .. }) => {}
                Err(e) => broken.push(e),
            }
        }
        manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok((manifests, broken))
    }

    pub fn manifest(&self, id: &str) -> Result<Manifest, RepoError> {
        let not_found = || RepoError::NotFound {
            id: id.to_string(),
            root: PathBuf::from(self.location().to_string()),
        };
        if !is_generation_id(id) {
            return Err(not_found());
        }
        let text = self
            .quiet(&["cat", &format!("{}/{MANIFEST}", self.path_of(id))])
            .map_err(|_| not_found())?;
        if text.is_empty() {
            return Err(not_found());
        }
        let mut m = manifest::parse_manifest(
            &text,
            PathBuf::from(format!("{}/{MANIFEST}", self.path_of(id))),
        )?;
        m.id = id.to_string();
        Ok(m)
    }

    /// The text of the file `name` in generation `id` (`rclone cat`).
    pub fn cat(&self, id: &str, name: &str) -> Result<String, RcloneError> {
        self.quiet(&["cat", &format!("{}/{name}", self.path_of(id))])
    }

    /// Uploads the generation folder `dir` as `id`: data first, read back and
    /// compared (`rclone check --download`), the manifest last.
    pub fn upload(&self, dir: &Path, id: &str, cancel: &Cancel) -> Result<(), RcloneError> {
        let dest = self.path_of(id);
        let local = dir.display().to_string();
        let data = |verb: &str| -> Vec<String> {
            vec![
                verb.into(),
                local.clone(),
                dest.clone(),
                "--exclude".into(),
                format!("/{MANIFEST}"),
            ]
        };
        self.run(&data("copy"), cancel)?;
        let mut check = data("check");
        check.push("--download".into());
        check.push("--one-way".into());
        self.run(&check, cancel)?;
        self.run(
            &[
                "copyto".into(),
                dir.join(MANIFEST).display().to_string(),
                format!("{dest}/{MANIFEST}"),
            ],
            cancel,
        )
        .map(|_| ())
    }

    /// Downloads generation `id` into the folder `into` (which must not exist).
    pub fn download(&self, id: &str, into: &Path, cancel: &Cancel) -> Result<(), RcloneError> {
        self.run(
            &["copy".into(), self.path_of(id), into.display().to_string()],
            cancel,
        )
        .map(|_| ())
    }

    /// Reads every file of generation `id` back and checks it against its
    /// `SHA256SUMS`, which must cover the manifest's archives and indexes.
    pub fn check_sums(&self, id: &str, m: &Manifest, cancel: &Cancel) -> Result<(), RcloneError> {
        let dir = self.path_of(id);
        let fail = |detail: String| RcloneError::Failed {
            command: "hashsum".into(),
            detail,
        };
        let sums = self.run(&["cat".into(), format!("{dir}/{}", files::SUMS)], cancel)?;
        let got = self.run(
            &[
                "hashsum".into(),
                "sha256".into(),
                "--download".into(),
                dir.clone(),
            ],
            cancel,
        )?;
        let mut have = std::collections::BTreeMap::new();
        for l in got.lines() {
            if let Some((h, n)) = l.split_once("  ") {
                have.insert(n.trim().to_string(), h.trim().to_string());
            }
        }
        let mut named = std::collections::BTreeSet::new();
        for l in sums.lines() {
            let (hash, name) = l
                .split_once("  ")
                .ok_or_else(|| fail(format!("{id}: SHA256SUMS is malformed")))?;
            named.insert(name.to_string());
            match have.get(name) {
                Some(h) if h == hash => {}
                Some(_) => return Err(fail(format!("{id}: {name} does not match SHA256SUMS"))),
                None => return Err(fail(format!("{id}: {name} is missing"))),
            }
        }
        for c in &m.components {
            for f in [&c.archive, &c.index] {
                if !named.contains(f.as_str()) {
                    return Err(fail(format!("{id}: SHA256SUMS does not cover {f}")));
                }
            }
        }
        Ok(())
    }

    /// Rewrites the manifest (a pin) through a local temporary file.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), RepoError> {
        use std::os::unix::fs::DirBuilderExt;
        let tmp =
            std::env::temp_dir().join(format!("structr-backup-{}-{}", std::process::id(), m.id));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| RepoError::Io {
                action: "cannot make a temporary folder",
                path: tmp.clone(),
                source: e,
            })?;
        let result = files::write_manifest(&tmp, m).and_then(|()| {
            self.quiet(&[
                "copyto",
                &tmp.join(MANIFEST).display().to_string(),
                &format!("{}/{MANIFEST}", self.path_of(&m.id)),
            ])
            .map(|_| ())
            .map_err(RepoError::from)
        });
        let _ = std::fs::remove_dir_all(&tmp);
        result
    }

    /// Deletes a generation: its manifest first, so it stops being listed at once.
    pub fn delete(&self, id: &str) -> Result<(), RepoError> {
        self.manifest(id)?;
        let _ = self.quiet(&["deletefile", &format!("{}/{MANIFEST}", self.path_of(id))]);
        self.quiet(&["purge", &self.path_of(id)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_string_with_a_password_goes_by_environment() {
        let r = Rclone::parse("rclone::sftp,host=h,user=u,pass=SEKRIT:backups/structr").unwrap();
        let (remote, env) = r.remote_for_argv();
        assert_eq!(remote, "structrbackup:backups/structr");
        assert!(env.contains(&("RCLONE_CONFIG_STRUCTRBACKUP_TYPE".into(), "sftp".into())));
        assert!(env.contains(&("RCLONE_CONFIG_STRUCTRBACKUP_PASS".into(), "SEKRIT".into())));
        let plain = Rclone::parse("rclone:office:structr").unwrap();
        assert_eq!(
            plain.remote_for_argv(),
            ("office:structr".to_string(), vec![])
        );
    }
}
