//! A repository of either kind, behind the operations both kinds share: list,
//! resolve an id, read a manifest, pin, delete. What differs (how a generation is
//! written, checked and read back) lives in the operations, per kind.

use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::config::{Config, OffsiteConfig, RepoKind};
use crate::repo::error::RepoError;
use crate::repo::generation::Repo;
use crate::repo::manifest::{check_given_id, resolve_among, DrillRecord, Manifest};
use crate::repo::rclone::Rclone;
use crate::repo::restic::{tags, Restic};
use crate::secrets::Location;

#[derive(Clone, Debug)]
pub enum Store {
    Archive(Repo),
    Restic(Restic),
    /// An archive-kind off-site folder reached through rclone.
    Rclone(Rclone),
}

impl Store {
    /// The configured repository; `path` (from `--repo`) replaces the configured one.
    pub fn from_config(config: &Config, path: Option<&Path>) -> Store {
        let path = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.repository_path());
        match config.repository.kind {
            RepoKind::Archive => Store::Archive(Repo::new(path)),
            RepoKind::Restic => Store::Restic(Restic::new(
                path.to_string_lossy().into_owned(),
                config.password_file(),
                config.repository.options.clone(),
            )),
        }
    }

    /// An off-site target of the configured kind. The restic kind's targets use the
    /// repository's password file unless they name their own.
    pub fn offsite(config: &Config, target: &OffsiteConfig) -> Store {
        match config.repository.kind {
            RepoKind::Archive => match Rclone::parse(&target.path) {
                Some(r) => Store::Rclone(r),
                None => Store::Archive(Repo::new(PathBuf::from(&target.path))),
            },
            RepoKind::Restic => Store::Restic(Restic::new(
                target.path.clone(),
                target
                    .password_file
                    .clone()
                    .unwrap_or_else(|| config.password_file()),
                target.options.clone(),
            )),
        }
    }

    /// What `--from GIVEN` names: an `[[offsite]]` target by name, else a place
    /// of either kind on its own: a folder (a copied repository, a mounted disk;
    /// a restic repository is recognised by its `config` and `keys/`), a restic
    /// repository string (`sftp:`, `s3:`, `rest:`, …) or, for the archive kind,
    /// an `rclone:REMOTE:PATH` folder. `password_file` (restic) replaces the
    /// configured one and makes a location a restic one.
    pub fn open_from(
        config: &Config,
        given: &str,
        password_file: Option<&Path>,
    ) -> Result<Store, String> {
        let restic = |location: Location| {
            Store::Restic(Restic::new(
                location,
                password_file
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| config.password_file()),
                Vec::new(),
            ))
        };
        if let Some(target) = config.offsite(given) {
            return Ok(match (Store::offsite(config, target), password_file) {
                (Store::Restic(r), Some(_)) => restic(r.location),
                (store, _) => store,
            });
        }
        if crate::config::is_backend_location(given) {
            let archive_kind =
                password_file.is_none() && config.repository.kind == RepoKind::Archive;
            return Ok(match Rclone::parse(given) {
                Some(r) if archive_kind => Store::Rclone(r),
                _ => restic(Location::new(given)),
            });
        }
        let path = Path::new(given);
        if !path.is_dir() {
            let names: Vec<&str> = config.offsite.iter().map(|o| o.name.as_str()).collect();
            return Err(format!(
                "--from {given}: there is no folder {given} and no off-site target of that name (configured: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ));
        }
        // Relative to where the user stands, once: later steps may change folders.
        let path = std::path::absolute(path).map_err(|e| format!("--from {given}: {e}"))?;
        let is_restic = path.join("config").is_file() && path.join("keys").is_dir();
        Ok(match is_restic || password_file.is_some() {
            true => restic(Location::new(path.to_string_lossy())),
            false => Store::Archive(Repo::new(path)),
        })
    }

    pub fn kind(&self) -> RepoKind {
        match self {
            Store::Archive(_) | Store::Rclone(_) => RepoKind::Archive,
            Store::Restic(_) => RepoKind::Restic,
        }
    }

    /// Where it is, as the user wrote it; shown redacted (a REST URL may carry
    /// its password).
    pub fn location(&self) -> Location {
        match self {
            Store::Archive(r) => Location::new(r.root.display().to_string()),
            Store::Restic(r) => r.location.clone(),
            Store::Rclone(r) => r.location(),
        }
    }

    /// The folder on this machine, when there is one (archive kind, local restic).
    pub fn local_folder(&self) -> Option<&Path> {
        match self {
            Store::Archive(r) => Some(&r.root),
            Store::Restic(r) => r.local_folder(),
            Store::Rclone(_) => None,
        }
    }

    pub fn archive(&self) -> Option<&Repo> {
        match self {
            Store::Archive(r) => Some(r),
            Store::Restic(_) | Store::Rclone(_) => None,
        }
    }

    /// Whether there is a repository there at all.
    pub fn exists(&self) -> Result<bool, RepoError> {
        match self {
            Store::Archive(r) => Ok(r.root.is_dir()),
            Store::Restic(r) => Ok(r.exists()?),
            Store::Rclone(r) => Ok(r.reachable()?),
        }
    }

    /// All generations, newest first, and what could not be read beside them.
    pub fn list(&self) -> Result<(Vec<Manifest>, Vec<RepoError>), RepoError> {
        let r = match self {
            Store::Archive(repo) => return repo.list(),
            Store::Rclone(r) => return r.list(),
            Store::Restic(r) => r,
        };
        let mut manifests: Vec<Manifest> = Vec::new();
        let mut broken = Vec::new();
        for s in r.snapshots()? {
            let facts = tags::SnapshotFacts {
                snapshot_id: &s.id,
                time: s.time,
                hostname: &s.hostname,
                tags: &s.tags,
            };
            match tags::decode(&facts) {
                Ok(Some(m)) => {
                    // A retag interrupted between writing the new snapshot and
                    // removing the old leaves two: keep the one that knows more.
                    match manifests.iter_mut().find(|o| o.id == m.id) {
                        Some(o) if o.timings.total_secs == 0.0 => *o = m,
                        Some(_) => {}
                        None => manifests.push(m),
                    }
                }
                Ok(None) => {}
                Err(detail) => broken.push(RepoError::BadManifest {
                    path: PathBuf::from(format!("{} snapshot {}", r.location, short(&s.id))),
                    detail,
                }),
            }
        }
        manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok((manifests, broken))
    }

    /// The generation a user means: an exact id, `latest`, or a unique prefix.
    pub fn resolve(&self, given: &str) -> Result<String, RepoError> {
        match self {
            Store::Archive(r) => r.resolve(given),
            Store::Restic(_) | Store::Rclone(_) => {
                check_given_id(given)?;
                let mut ids: Vec<String> = self.list()?.0.into_iter().map(|m| m.id).collect();
                ids.sort();
                resolve_among(&ids, given, &self.location().to_string())
            }
        }
    }

    pub fn manifest(&self, id: &str) -> Result<Manifest, RepoError> {
        match self {
            Store::Archive(r) => r.manifest(id),
            Store::Rclone(r) => r.manifest(id),
            Store::Restic(_) => self
                .list()?
                .0
                .into_iter()
                .find(|m| m.id == id)
                .ok_or_else(|| RepoError::NotFound {
                    id: id.to_string(),
                    root: PathBuf::from(self.location().to_string()),
                }),
        }
    }

    /// The restic snapshots holding generation `id` (usually one).
    fn snapshots_of(&self, r: &Restic, id: &str) -> Result<Vec<String>, RepoError> {
        let tag = tags::id_tag(id);
        let found: Vec<String> = r
            .snapshots()?
            .into_iter()
            .filter(|s| s.tags.contains(&tag))
            .map(|s| s.id)
            .collect();
        if found.is_empty() {
            return Err(RepoError::NotFound {
                id: id.to_string(),
                root: PathBuf::from(r.location.to_string()),
            });
        }
        Ok(found)
    }

    /// Sets or clears the pin; returns the manifest as it is now.
    pub fn set_pinned(&self, id: &str, pinned: bool) -> Result<Manifest, RepoError> {
        match self {
            Store::Archive(r) => r.set_pinned(id, pinned),
            Store::Rclone(r) => {
                let mut m = r.manifest(id)?;
                m.pinned = pinned;
                r.write_manifest(&m)?;
                Ok(m)
            }
            Store::Restic(r) => {
                let pin = [tags::PINNED.to_string()];
                for s in self.snapshots_of(r, id)? {
                    match pinned {
                        true => r.retag(&s, &pin, &[])?,
                        false => r.retag(&s, &[], &pin)?,
                    }
                }
                self.manifest(id)
            }
        }
    }

    /// Records a restore drill's result in the generation (restic: a `drill:` tag
    /// that replaces the previous one).
    pub fn record_drill(&self, id: &str, record: &DrillRecord) -> Result<(), RepoError> {
        match self {
            Store::Archive(r) => r.record_drill(id, record),
            Store::Rclone(r) => {
                let mut m = r.manifest(id)?;
                m.last_drill = Some(record.clone());
                r.write_manifest(&m)
            }
            Store::Restic(r) => {
                let tag = tags::drill_tag(record);
                let old: Vec<String> = r
                    .snapshots()?
                    .into_iter()
                    .filter(|s| s.tags.contains(&tags::id_tag(id)))
                    .flat_map(|s| s.tags.into_iter().filter(|t| t.starts_with("drill:")))
                    .collect();
                for s in self.snapshots_of(r, id)? {
                    r.retag(&s, std::slice::from_ref(&tag), &old)?;
                }
                Ok(())
            }
        }
    }

    /// Deletes generations. restic: forgets their snapshots, then prunes once.
    pub fn delete(&self, ids: &[String], cancel: &Cancel) -> Result<(), RepoError> {
        match self {
            Store::Archive(r) => ids.iter().try_for_each(|id| r.delete(id)),
            Store::Rclone(r) => ids.iter().try_for_each(|id| r.delete(id)),
            Store::Restic(r) => {
                let mut snaps = Vec::new();
                for id in ids {
                    snaps.extend(self.snapshots_of(r, id)?);
                }
                Ok(r.forget_and_prune(&snaps, cancel)?)
            }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
