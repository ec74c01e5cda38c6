//! The restic repository kind, driven as the `restic` program (0.14 or later):
//! never reimplemented, so anyone can read the repository by hand with restic alone.
//! The password travels as a file name in the environment, never on a command line.

pub mod tags;

use std::io::Read;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::cancel::Cancel;
use crate::process::{Cmd, Output, RunError};
use crate::repo::error::RepoError;
use crate::secrets::Location;

impl From<ResticError> for RepoError {
    fn from(e: ResticError) -> Self {
        match e {
            ResticError::NoRepository { .. } => RepoError::NoRepository(e.to_string()),
            ResticError::WrongPassword { .. } => RepoError::WrongPassword(e.to_string()),
            other => RepoError::Backend(other.to_string()),
        }
    }
}

/// The largest answer read whole from restic (a snapshot list, a dumped file).
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// One restic repository: where it is, how to open it.
#[derive(Clone, Debug, PartialEq)]
pub struct Restic {
    /// A folder or any restic backend string (`sftp:…`, `rest:…`, `s3:…`, `rclone:…`).
    pub location: Location,
    pub password_file: PathBuf,
    /// Extended options, `-o key=value` each.
    pub options: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResticError {
    #[error("cannot run the restic program: {0}. Install it (`apt install restic`, version 0.14 or later)")]
    Missing(std::io::Error),
    #[error("there is no restic repository at {location}; create it with `structr-backup init`")]
    NoRepository { location: Location },
    #[error("the restic password file {path} cannot be read ({detail}); an existing repository opens only with the file it was made with: put your copy of it there (only a repository not made yet gets a new one, from `structr-backup init`)")]
    Password { path: PathBuf, detail: String },
    #[error("restic refused the password in {path} for {location}: it is not the password this repository was made with")]
    WrongPassword { location: Location, path: PathBuf },
    #[error("`restic {command}` on {location} failed: {detail}")]
    Failed {
        command: String,
        location: Location,
        detail: String,
    },
    #[error("restic's answer to `{command}` could not be read: {detail}")]
    BadOutput { command: String, detail: String },
    #[error("the restic repository {location} is locked: {detail}")]
    Locked { location: Location, detail: String },
    #[error("the operation was cancelled")]
    Cancelled,
}

/// How old a lock must be before restic itself calls it stale (restic's own limit).
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// A lock in the repository, as `restic cat lock` shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct LockInfo {
    #[serde(skip)]
    pub id: String,
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub pid: u32,
}

impl LockInfo {
    /// Stale as restic sees it: older than its limit, or on this host by a process
    /// that is gone.
    pub fn is_stale(&self, host: &str, now: DateTime<Utc>) -> bool {
        now - self.time > STALE_AFTER
            || (self.hostname == host
                && self.pid > 0
                && !Path::new(&format!("/proc/{}", self.pid)).exists())
    }

    /// `exclusive lock 1a2b3c4d by host pid 42, 3 h old`.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let age = (now - self.time).num_minutes().max(0);
        let age = match age {
            0..=59 => format!("{age} min old"),
            _ => format!("{} h old", age / 60),
        };
        format!(
            "{} lock {} by {} pid {}, {age}",
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            short(&self.id),
            self.hostname,
            self.pid
        )
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `path` as a restic `--include` pattern that matches it and nothing else:
/// `[`, `]`, `*`, `?` and `\` are pattern characters there, so each is escaped.
pub fn literal_pattern(path: &Path) -> String {
    let text = path.display().to_string();
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '[' | ']' | '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A snapshot as `restic snapshots --json` lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub time: DateTime<Utc>,
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The end of `restic backup --json`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BackupSummary {
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub files_unmodified: u64,
    #[serde(default)]
    pub data_added: u64,
    #[serde(default)]
    pub total_files_processed: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
    pub snapshot_id: String,
}

/// Progress of a running restic command: bytes done of a total when restic knows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

#[derive(Deserialize)]
struct StatusLine {
    message_type: String,
    #[serde(default)]
    bytes_done: u64,
    #[serde(default)]
    total_bytes: u64,
}

/// What a new snapshot is stamped with: its tags (the manifest), host and time.
pub struct Stamp<'a> {
    pub tags: &'a [String],
    pub host: &'a str,
    pub time: DateTime<Utc>,
}

/// How many locks are read at most: a repository holds a few at a time.
pub const MAX_LOCKS_READ: usize = 20;

/// A repository's locks: the first `MAX_LOCKS_READ` read, how many more exist.
#[derive(Debug, Default)]
pub struct Locks {
    pub read: Vec<LockInfo>,
    pub unread: usize,
}

impl Restic {
    pub fn new(
        location: impl Into<Location>,
        password_file: PathBuf,
        options: Vec<String>,
    ) -> Self {
        Self {
            location: location.into(),
            password_file,
            options,
        }
    }

    /// A local folder repository's path (permissions and free space can be checked there).
    pub fn local_folder(&self) -> Option<&Path> {
        let l = self
            .location
            .expose()
            .strip_prefix("local:")
            .unwrap_or(self.location.expose());
        (!crate::config::is_backend_location(l)).then(|| Path::new(l))
    }

    /// restic with this repository, its password file and our fixed environment.
    /// The repository goes by environment, never by `-r`: a REST or S3 URL may
    /// carry credentials, and every user can read a process's argv.
    fn command(&self, args: &[String]) -> Cmd {
        let mut c = Cmd::new("restic")
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .env_remove("RESTIC_FROM_PASSWORD")
            .env_remove("RESTIC_FROM_PASSWORD_COMMAND")
            .env_remove("RESTIC_FROM_REPOSITORY_FILE")
            .env("RESTIC_REPOSITORY", self.location.expose())
            .env("RESTIC_PASSWORD_FILE", &self.password_file)
            // `--time` and the times restic prints are then UTC, like our ids.
            .env("TZ", "UTC")
            // A cancel interrupts restic (SIGINT, so it removes its lock), then kills it.
            .interrupt_with(Signal::SIGINT)
            // If we die (kill -9, a lost machine session), restic is interrupted too: it
            // must not finish a snapshot of services that `recover` has started again.
            .die_with_us(Signal::SIGINT)
            // Lists and JSON answers are read whole; this bound is far above any real one.
            .keep_stdout(MAX_ANSWER);
        for o in &self.options {
            c = c.arg("-o").arg(o);
        }
        c.args(args)
    }

    fn check_password_file(&self) -> Result<(), ResticError> {
        match std::fs::metadata(&self.password_file) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(ResticError::Password {
                path: self.password_file.clone(),
                detail: "not a file".into(),
            }),
            Err(e) => Err(ResticError::Password {
                path: self.password_file.clone(),
                detail: e.to_string(),
            }),
        }
    }

    /// Runs restic with `args`, handing each stdout line to `on_line` as it comes.
    fn run(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        cancel: &Cancel,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<String, ResticError> {
        self.run_bound(args, env, &[], cancel, on_line)
    }

    /// `run`, with the staged copies bind-mounted over the installation's paths
    /// for restic alone (`process::Cmd::bind_over`).
    fn run_bound(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        binds: &[(PathBuf, PathBuf)],
        cancel: &Cancel,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<String, ResticError> {
        self.check_password_file()?;
        let name = args.first().cloned().unwrap_or_default();
        let mut cmd = self
            .command(args)
            .cancel(cancel)
            .bind_over(binds.to_vec())
            .shown_as(format!("restic {name}"));
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let out = match cmd.run(on_line) {
            Ok(out) => out,
            Err(RunError::Spawn { source, .. }) => return Err(ResticError::Missing(source)),
            Err(RunError::Cancelled { .. }) => return Err(ResticError::Cancelled),
            Err(e) => {
                return Err(ResticError::Failed {
                    command: name,
                    location: self.location.clone(),
                    detail: e.to_string(),
                })
            }
        };
        if cancel.is_cancelled() && !out.success() {
            return Err(ResticError::Cancelled);
        }
        if out.success() {
            return Ok(out.stdout);
        }
        Err(self.classify(&name, &out))
    }

    fn classify(&self, command: &str, out: &Output) -> ResticError {
        let stderr = out.stderr.as_str();
        if stderr.contains("Is there a repository at the following location?")
            || stderr.contains("unable to open config file")
        {
            return ResticError::NoRepository {
                location: self.location.clone(),
            };
        }
        if stderr.contains("repository is already locked")
            || stderr.contains("unable to create lock")
        {
            let detail = out.tail().lines().collect::<Vec<_>>().join(" / ");
            return ResticError::Locked {
                location: self.location.clone(),
                detail: crate::text::printable(&self.location.scrub(&detail), 2000),
            };
        }
        if stderr.contains("wrong password") {
            return ResticError::WrongPassword {
                location: self.location.clone(),
                path: self.password_file.clone(),
            };
        }
        let detail = out.tail().lines().collect::<Vec<_>>().join(" / ");
        ResticError::Failed {
            command: command.to_string(),
            location: self.location.clone(),
            detail: crate::text::printable(&self.location.scrub(&detail), 2000),
        }
    }

    fn quiet(&self, args: &[&str], cancel: &Cancel) -> Result<String, ResticError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(&args, &[], cancel, &mut |_| {})
    }

    /// Whether the repository exists (and opens with the password).
    pub fn exists(&self) -> Result<bool, ResticError> {
        match self.quiet(&["cat", "config", "--no-lock"], &Cancel::new()) {
            Ok(_) => Ok(true),
            Err(ResticError::NoRepository { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `restic init`, copying the chunker parameters of `like` when given so that
    /// `restic copy` between the two deduplicates.
    pub fn init(&self, like: Option<&Restic>) -> Result<(), ResticError> {
        let mut args: Vec<String> = vec!["init".into()];
        let mut env: Vec<(&str, &str)> = Vec::new();
        let from_password = like.map(|src| src.password_file.to_string_lossy().into_owned());
        if let (Some(src), Some(password)) = (like, &from_password) {
            args.push("--copy-chunker-params".into());
            // The source goes by environment like ours, its password by file name.
            env.push(("RESTIC_FROM_REPOSITORY", src.location.expose()));
            env.push(("RESTIC_FROM_PASSWORD_FILE", password));
        }
        self.run(&args, &env, &Cancel::new(), &mut |_| {})
            .map(|_| ())
    }

    /// Our snapshots (tagged `structr-backup`), as restic lists them.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, ResticError> {
        let out = self.quiet(
            &["snapshots", "--json", "--no-lock", "--tag", tags::MARKER],
            &Cancel::new(),
        )?;
        serde_json::from_str(out.trim()).map_err(|e| ResticError::BadOutput {
            command: "snapshots --json".into(),
            detail: e.to_string(),
        })
    }

    /// `restic backup` of `paths` as one snapshot.
    /// `staged`: (staged copy, installation path) pairs restic reads in place of
    /// the paths, recorded under the paths (see `run_bound`).
    pub fn backup(
        &self,
        paths: &[PathBuf],
        staged: &[(PathBuf, PathBuf)],
        stamp: &Stamp,
        cancel: &Cancel,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BackupSummary, ResticError> {
        let mut args: Vec<String> = vec![
            "backup".into(),
            "--json".into(),
            "--host".into(),
            stamp.host.into(),
            "--time".into(),
            stamp.time.format("%Y-%m-%d %H:%M:%S").to_string(),
            // Like the archive kind: what is mounted inside a component is not part of it.
            "--one-file-system".into(),
        ];
        for t in stamp.tags {
            args.push("--tag".into());
            args.push(t.clone());
        }
        args.push("--".into());
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let mut summary = None;
        self.run_bound(&args, &[], staged, cancel, &mut |line| {
            if let Ok(s) = serde_json::from_str::<StatusLine>(line) {
                match s.message_type.as_str() {
                    "status" => progress(Progress {
                        done: s.bytes_done,
                        total: s.total_bytes,
                    }),
                    "summary" => summary = serde_json::from_str::<BackupSummary>(line).ok(),
                    _ => {}
                }
            }
        })?;
        summary.ok_or_else(|| ResticError::BadOutput {
            command: "backup --json".into(),
            detail: "no summary line".into(),
        })
    }

    /// Adds and removes tags of one snapshot (restic writes it anew under a new id).
    pub fn retag(
        &self,
        snapshot: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), ResticError> {
        let mut args: Vec<String> = vec!["tag".into()];
        for t in add {
            args.extend(["--add".into(), t.clone()]);
        }
        for t in remove {
            args.extend(["--remove".into(), t.clone()]);
        }
        args.push(snapshot.into());
        self.run(&args, &[], &Cancel::new(), &mut |_| {})
            .map(|_| ())
    }

    /// Forgets snapshots, then prunes the data no snapshot needs any more.
    pub fn forget_and_prune(
        &self,
        snapshots: &[String],
        cancel: &Cancel,
    ) -> Result<(), ResticError> {
        if snapshots.is_empty() {
            return Ok(());
        }
        self.forget(snapshots, cancel)?;
        self.quiet(&["prune"], cancel).map(|_| ())
    }

    /// Forgets snapshots; their data stays until the next prune.
    pub fn forget(&self, snapshots: &[String], cancel: &Cancel) -> Result<(), ResticError> {
        let mut args: Vec<String> = vec!["forget".into()];
        args.extend(snapshots.iter().cloned());
        self.run(&args, &[], cancel, &mut |_| {}).map(|_| ())
    }

    /// `restic check`, reading every pack with `read_data`.
    pub fn check(
        &self,
        read_data: bool,
        cancel: &Cancel,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<(), ResticError> {
        let mut args: Vec<String> = vec!["check".into()];
        if read_data {
            args.push("--read-data".into());
        }
        self.run(&args, &[], cancel, on_line).map(|_| ())
    }

    /// The bytes and files restoring `snapshot` writes (restic's own count).
    pub fn restore_size(&self, snapshot: &str) -> Result<(u64, u64), ResticError> {
        #[derive(Deserialize)]
        struct Stats {
            total_size: u64,
            #[serde(default)]
            total_file_count: u64,
        }
        let out = self.quiet(
            &[
                "stats",
                "--json",
                "--no-lock",
                "--mode",
                "restore-size",
                snapshot,
            ],
            &Cancel::new(),
        )?;
        let s: Stats = serde_json::from_str(out.trim()).map_err(|e| ResticError::BadOutput {
            command: "stats --json".into(),
            detail: e.to_string(),
        })?;
        Ok((s.total_size, s.total_file_count))
    }

    /// Restores `path` of `snapshot` under `target` (as `target/<path>`), each file
    /// read back and checked against its hashes (`--verify`).
    pub fn restore(
        &self,
        snapshot: &str,
        path: &Path,
        target: &Path,
        cancel: &Cancel,
    ) -> Result<(), ResticError> {
        let args: Vec<String> = vec![
            "restore".into(),
            snapshot.into(),
            "--target".into(),
            target.display().to_string(),
            "--include".into(),
            literal_pattern(path),
            "--verify".into(),
        ];
        self.run(&args, &[], cancel, &mut |_| {}).map(|_| ())
    }

    /// The contents of the file `path` in `snapshot` (`restic dump`), as text.
    pub fn dump(&self, snapshot: &str, path: &Path) -> Result<String, ResticError> {
        let args: Vec<String> = vec![
            "dump".into(),
            "--no-lock".into(),
            snapshot.into(),
            path.display().to_string(),
        ];
        self.run(&args, &[], &Cancel::new(), &mut |_| {})
    }

    /// The locks in the repository (`restic list locks`, then each one's record).
    pub fn locks(&self) -> Result<Locks, ResticError> {
        let ids = self.quiet(&["list", "locks", "--no-lock"], &Cancel::new())?;
        let ids: Vec<&str> = ids
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut read = Vec::new();
        // Each lock is one `restic cat`: a repository someone filled with locks
        // must not keep us reading them for hours.
        for id in ids.iter().take(MAX_LOCKS_READ) {
            // A lock removed between the list and the read is simply gone.
            let Ok(text) = self.quiet(&["cat", "lock", id, "--no-lock"], &Cancel::new()) else {
                continue;
            };
            let mut lock: LockInfo =
                serde_json::from_str(text.trim()).map_err(|e| ResticError::BadOutput {
                    command: "cat lock".into(),
                    detail: e.to_string(),
                })?;
            lock.id = id.to_string();
            read.push(lock);
        }
        Ok(Locks {
            read,
            unread: ids.len().saturating_sub(MAX_LOCKS_READ),
        })
    }

    /// `restic unlock`: removes the stale locks only (restic's own rule).
    pub fn unlock(&self) -> Result<(), ResticError> {
        self.quiet(&["unlock"], &Cancel::new()).map(|_| ())
    }

    /// Copies `snapshot` from `from` into this repository (`restic copy`).
    pub fn copy_from(
        &self,
        from: &Restic,
        snapshot: &str,
        cancel: &Cancel,
    ) -> Result<(), ResticError> {
        let args: Vec<String> = vec!["copy".into(), snapshot.into()];
        let password = from.password_file.to_string_lossy();
        let env = [
            ("RESTIC_FROM_REPOSITORY", from.location.expose()),
            ("RESTIC_FROM_PASSWORD_FILE", password.as_ref()),
        ];
        self.run(&args, &env, cancel, &mut |_| {}).map(|_| ())
    }
}

/// A random password for a new repository: 32 bytes from the kernel, hex.
pub fn new_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
