//! The restic repository kind, driven as the `restic` program (0.14 or later):
//! never reimplemented, so anyone can read the repository by hand with restic alone.
//! The password travels as a file name in the environment, never on a command line.

pub mod tags;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::cancel::Cancel;

/// One restic repository: where it is, how to open it.
#[derive(Clone, Debug, PartialEq)]
pub struct Restic {
    /// A folder or any restic backend string (`sftp:…`, `rest:…`, `s3:…`, `rclone:…`).
    pub location: String,
    pub password_file: PathBuf,
    /// Extended options, `-o key=value` each.
    pub options: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResticError {
    #[error("cannot run the restic program: {0}. Install it (`apt install restic`, version 0.14 or later)")]
    Missing(std::io::Error),
    #[error("there is no restic repository at {location}; create it with `structr-backup init`")]
    NoRepository { location: String },
    #[error("the restic password file {path} cannot be read ({detail}); `structr-backup init` creates one for a new repository, and an existing repository needs the file it was made with")]
    Password { path: PathBuf, detail: String },
    #[error("restic refused the password in {path} for {location}: it is not the password this repository was made with")]
    WrongPassword { location: String, path: PathBuf },
    #[error("`restic {command}` on {location} failed: {detail}")]
    Failed {
        command: String,
        location: String,
        detail: String,
    },
    #[error("restic's answer to `{command}` could not be read: {detail}")]
    BadOutput { command: String, detail: String },
    #[error("the operation was cancelled")]
    Cancelled,
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

impl Restic {
    pub fn new(location: impl Into<String>, password_file: PathBuf, options: Vec<String>) -> Self {
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
            .strip_prefix("local:")
            .unwrap_or(&self.location);
        (!crate::config::is_backend_location(l)).then(|| Path::new(l))
    }

    fn command(&self) -> Command {
        let mut c = Command::new("restic");
        c.arg("-r").arg(&self.location);
        for o in &self.options {
            c.arg("-o").arg(o);
        }
        c.env("RESTIC_PASSWORD_FILE", &self.password_file)
            // `--time` and the times restic prints are then UTC, like our ids.
            .env("TZ", "UTC")
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: Ctrl-C reaches us, and we stop restic ourselves.
            .process_group(0);
        // If we die (kill -9, a lost machine session), restic is interrupted too: it
        // must not finish a snapshot of services that `recover` has started again.
        // SAFETY: prctl is async-signal-safe and touches only the child being made.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
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
    /// A cancel interrupts restic (SIGINT, so it removes its lock), then kills it.
    fn run(
        &self,
        args: &[String],
        env: &[(&str, &Path)],
        cancel: &Cancel,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<String, ResticError> {
        self.check_password_file()?;
        let name = args.first().cloned().unwrap_or_default();
        let mut child = self
            .command()
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .spawn()
            .map_err(ResticError::Missing)?;
        let (tx, rx) = mpsc::channel::<String>();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let (etx, erx) = mpsc::channel::<String>();
        if let Some(mut err) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = err.read_to_end(&mut buf);
                let _ = etx.send(String::from_utf8_lossy(&buf).into_owned());
            });
        }
        let mut stdout = String::new();
        let mut interrupted = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    on_line(&line);
                    stdout.push_str(&line);
                    stdout.push('\n');
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if cancel.is_cancelled() && interrupted.is_none() {
                signal(&child, nix::sys::signal::Signal::SIGINT);
                interrupted = Some(std::time::Instant::now());
            }
            if interrupted.is_some_and(|t| t.elapsed() > Duration::from_secs(10)) {
                signal(&child, nix::sys::signal::Signal::SIGKILL);
            }
        }
        let status = child.wait().map_err(ResticError::Missing)?;
        let stderr = erx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
        if interrupted.is_some() || (cancel.is_cancelled() && !status.success()) {
            return Err(ResticError::Cancelled);
        }
        if status.success() {
            return Ok(stdout);
        }
        Err(self.classify(&name, &stderr))
    }

    fn classify(&self, command: &str, stderr: &str) -> ResticError {
        if stderr.contains("Is there a repository at the following location?")
            || stderr.contains("unable to open config file")
        {
            return ResticError::NoRepository {
                location: self.location.clone(),
            };
        }
        if stderr.contains("wrong password") {
            return ResticError::WrongPassword {
                location: self.location.clone(),
                path: self.password_file.clone(),
            };
        }
        let lines: Vec<&str> = stderr.trim().lines().collect();
        ResticError::Failed {
            command: command.to_string(),
            location: self.location.clone(),
            detail: crate::repo::generation::printable(
                &lines[lines.len().saturating_sub(6)..].join(" / "),
                2000,
            ),
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
        let mut env: Vec<(&str, &Path)> = Vec::new();
        if let Some(src) = like {
            args.extend(["--copy-chunker-params".into(), "--from-repo".into()]);
            args.push(src.location.clone());
            // The source's password goes by file name in the environment, like ours.
            env.push(("RESTIC_FROM_PASSWORD_FILE", &src.password_file));
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
    pub fn backup(
        &self,
        paths: &[PathBuf],
        tags: &[String],
        host: &str,
        time: DateTime<Utc>,
        cancel: &Cancel,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BackupSummary, ResticError> {
        let mut args: Vec<String> = vec![
            "backup".into(),
            "--json".into(),
            "--host".into(),
            host.into(),
            "--time".into(),
            time.format("%Y-%m-%d %H:%M:%S").to_string(),
            // Like the archive kind: what is mounted inside a component is not part of it.
            "--one-file-system".into(),
        ];
        for t in tags {
            args.push("--tag".into());
            args.push(t.clone());
        }
        args.push("--".into());
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let mut summary = None;
        self.run(&args, &[], cancel, &mut |line| {
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
            path.display().to_string(),
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

    /// Copies `snapshot` from `from` into this repository (`restic copy`).
    pub fn copy_from(
        &self,
        from: &Restic,
        snapshot: &str,
        cancel: &Cancel,
    ) -> Result<(), ResticError> {
        let args: Vec<String> = vec![
            "copy".into(),
            "--from-repo".into(),
            from.location.clone(),
            snapshot.into(),
        ];
        let env = [("RESTIC_FROM_PASSWORD_FILE", from.password_file.as_path())];
        self.run(&args, &env, cancel, &mut |_| {}).map(|_| ())
    }
}

/// Sends `sig` to the child's process group (it leads its own).
fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// A random password for a new repository: 32 bytes from the kernel, hex.
pub fn new_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
