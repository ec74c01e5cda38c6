//! The configuration's sections as they are written in the file: one type per
//! `[section]`, with the defaults a missing key takes.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::lookup::config_path;
use crate::secrets::Location;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub repository: RepositoryConfig,
    pub installation: InstallationConfig,
    pub retention: RetentionConfig,
    pub notify: NotifyConfig,
    pub application: ApplicationConfig,
    /// Off-site targets the new generation is copied to after each backup.
    pub offsite: Vec<OffsiteConfig>,
    pub drill: DrillConfig,
    pub snapshot: SnapshotConfig,
    pub state: StateConfig,
    pub staging: super::staging::StagingConfig,
    pub maintenance: MaintenanceConfig,
}

/// `[maintenance]`: the page served on Structr's HTTP port while a backup or a
/// restore has Structr stopped (see `install::maintenance`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Unset: on for systemd and custom installations, off for Compose ones
    /// (there the port belongs to Docker's publish or a proxy).
    pub enabled: Option<bool>,
    /// An HTML file; unset: /etc/structr-backup/maintenance.html if it exists,
    /// else a built-in page.
    pub page: Option<PathBuf>,
    /// The address to listen on; unset: structr.conf's `application.host`, else
    /// all addresses, as Structr does.
    pub bind: Option<std::net::IpAddr>,
    /// The port; unset: structr.conf's `application.http.port` (8082).
    pub port: Option<u16>,
    /// `Retry-After` when no earlier run tells how long the downtime lasts.
    pub retry_after_secs: u64,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            page: None,
            bind: None,
            port: None,
            retry_after_secs: 60,
        }
    }
}

/// `[state]`: where run state lives (the journal, the last run's status). Unset,
/// the system's state folder; the demo sets its own so it never touches the
/// host's.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    pub dir: Option<PathBuf>,
}

/// `[snapshot]`: backups that stop the services only for a snapshot (see
/// `ops::snapshot`): a hypervisor's or cloud's command, or LVM snapshots.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Takes the snapshot while the services are stopped (argv line, split like
    /// the service commands; `{name}` is the generation id).
    pub command: Option<String>,
    /// Deletes snapshot `{name}` when prune or delete removes its generation.
    pub delete_command: Option<String>,
    /// Built-in LVM snapshots instead of a command.
    pub lvm: bool,
    /// Size of each LVM snapshot: `10%` of its volume, or `2G`, `512M`, bytes.
    pub lvm_snapshot_size: String,
    /// Make plain `backup` (and the timer) a snapshot backup.
    pub default: bool,
    pub timeout_secs: u64,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            command: None,
            delete_command: None,
            lvm: false,
            lvm_snapshot_size: "10%".into(),
            default: false,
            timeout_secs: 600,
        }
    }
}

impl SnapshotConfig {
    /// Whether a snapshot backup is configured at all.
    pub fn configured(&self) -> bool {
        self.lvm || self.command.is_some()
    }
}

/// `[drill]`: restore drills (see `ops::drill`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DrillConfig {
    /// What proves a copy starts, for installations without a Neo4j image
    /// (systemd, custom): `{data}` is the copy of Neo4j's data folder, `{scratch}`
    /// the folder with every component's copy.
    pub command: Option<String>,
    /// Where the copy is made (removed afterwards).
    pub scratch: PathBuf,
    pub timeout_secs: u64,
    /// NEO4J_HOME of the installation's Neo4j (`bin/neo4j`, `bin/neo4j-admin`),
    /// for a drill that starts it on the copy; found from neo4j.service or the
    /// Debian package when unset.
    pub neo4j_home: Option<PathBuf>,
    /// The folder holding the installation's neo4j.conf (NEO4J_CONF; Debian:
    /// /etc/neo4j), read for the copy's configuration, never written.
    pub neo4j_conf: Option<PathBuf>,
}

impl Default for DrillConfig {
    fn default() -> Self {
        Self {
            command: None,
            scratch: PathBuf::from("/var/tmp"),
            timeout_secs: 600,
            neo4j_home: None,
            neo4j_conf: None,
        }
    }
}

/// What a repository is: plain folders of tar + zstd generations, or a restic repository.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    #[default]
    Archive,
    Restic,
}

impl fmt::Display for RepoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RepoKind::Archive => "archive",
            RepoKind::Restic => "restic",
        })
    }
}

/// `[[offsite]]`: a second place each generation is copied to. For the restic kind a
/// restic repository; for the archive kind a folder or `rclone:REMOTE:PATH`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OffsiteConfig {
    pub name: String,
    pub path: String,
    /// restic kind: the target's password file (default: the repository's).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// restic kind: extended options (`-o key=value`), e.g. `sftp.command=...`.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RepositoryConfig {
    pub kind: RepoKind,
    /// None: `/var/backups/structr` (archive) or `/var/backups/structr-restic` for
    /// root, the user data dir otherwise. The restic kind takes any restic
    /// repository string here (`sftp:…`, `rest:…`, `s3:…`, `rclone:…`).
    pub path: Option<PathBuf>,
    /// restic kind: the file holding the repository password (made by `init`).
    pub password_file: Option<PathBuf>,
    /// restic kind: extended options (`-o key=value`), e.g. `sftp.command=...`.
    pub options: Vec<String>,
    pub compression_level: i32,
    /// 0 = all cores.
    pub threads: u32,
    /// On a file system that clones files (XFS, btrfs), stage with a reflink
    /// mirror (`[staging]`); false: never clone.
    pub reflink: bool,
}

impl Default for RepositoryConfig {
    fn default() -> Self {
        Self {
            kind: RepoKind::Archive,
            path: None,
            password_file: None,
            options: Vec::new(),
            compression_level: 3,
            threads: 0,
            reflink: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Auto,
    Systemd,
    Compose,
    Custom,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Auto => "auto",
            Kind::Systemd => "systemd",
            Kind::Compose => "compose",
            Kind::Custom => "custom",
        })
    }
}

/// How a compose installation is stopped: Structr's documentation says `down`
/// then `up -d`; `stop`/`start` of the two services is the gentler choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComposeMode {
    #[default]
    Down,
    Stop,
}

/// Command lines for one service; each is split like a shell would (quotes,
/// backslashes) but run without a shell. `status` exits 0 when the service runs.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceCommands {
    pub start: String,
    pub stop: String,
    pub status: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InstallationConfig {
    pub kind: Kind,
    pub neo4j_data: Option<PathBuf>,
    pub structr_dir: Option<PathBuf>,
    pub neo4j: Option<ServiceCommands>,
    pub structr: Option<ServiceCommands>,
    /// systemd unit names (kind systemd).
    pub structr_unit: String,
    pub neo4j_unit: String,
    /// The compose file of a Docker Compose installation (kind compose).
    pub compose_file: Option<PathBuf>,
    /// `down` then `up -d` (as Structr's documentation says), or `stop`/`start`.
    pub compose_mode: ComposeMode,
    /// How long a stop may take before we give up and start everything again.
    pub stop_timeout_secs: u64,
    /// How long a start (until status says running) may take.
    pub start_timeout_secs: u64,
}

impl Default for InstallationConfig {
    fn default() -> Self {
        Self {
            kind: Kind::Auto,
            neo4j_data: None,
            structr_dir: None,
            neo4j: None,
            structr: None,
            structr_unit: "structr.service".into(),
            neo4j_unit: "neo4j.service".into(),
            compose_file: None,
            compose_mode: Default::default(),
            stop_timeout_secs: 120,
            start_timeout_secs: 300,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    pub keep_within: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            keep_last: 3,
            keep_hourly: 0,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            keep_yearly: 0,
            keep_within: String::new(),
        }
    }
}

/// When a run tells someone: at its start, when it succeeded, when it failed
/// (a cancelled run counts as failed).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyEvent {
    Start,
    Success,
    Failure,
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotifyEvent::Start => "start",
            NotifyEvent::Success => "success",
            NotifyEvent::Failure => "failure",
        })
    }
}

/// `[application]`: Structr's application export (deployment export), taken over
/// HTTP while Structr still runs and kept in each generation as component `app`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApplicationConfig {
    /// On by default: it costs no downtime, and without a superuser password in
    /// structr.conf or an answer from Structr it is only a warning.
    pub export: bool,
    /// The most the download and, apart, the unpacked export may hold (MiB); the
    /// state folder's file system must have twice this free.
    pub max_size_mb: u64,
    /// How long the answer may pause (no byte at all) once Structr started sending.
    pub idle_timeout_secs: u64,
    /// How long the whole export may take, Structr's preparing included.
    pub timeout_secs: u64,
}

impl Default for ApplicationConfig {
    fn default() -> Self {
        Self {
            export: true,
            max_size_mb: 4096,
            idle_timeout_secs: 60,
            timeout_secs: 600,
        }
    }
}

/// `[notify]`: who hears of backup, restore, prune, verify and recover runs
/// (see `crate::notify` for exactly what is sent when).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The events that go to the webhook and the email (and the ping's `/start`).
    pub on: Vec<NotifyEvent>,
    /// A healthchecks-style ping URL: URL/start, then URL or URL/fail (the suffix
    /// goes before a query string). Its path is its token: shown redacted.
    #[serde(deserialize_with = "location")]
    pub ping_url: Option<Location>,
    /// Receives a JSON object per event, by POST; its path may be a token too.
    #[serde(deserialize_with = "location")]
    pub webhook: Option<Location>,
    /// Recipient(s), comma-separated, handed to `sendmail`.
    pub email: Option<String>,
    /// The sendmail program used for `email`.
    pub sendmail: PathBuf,
    /// A Prometheus text file (node-exporter's textfile collector), rewritten after each run.
    pub metrics_file: Option<PathBuf>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            on: vec![NotifyEvent::Failure],
            ping_url: None,
            webhook: None,
            email: None,
            sendmail: PathBuf::from("/usr/sbin/sendmail"),
            metrics_file: None,
        }
    }
}

/// Reads an optional string as a [`Location`]: a notification URL carries its
/// token in its path, so the config model itself can only show it redacted.
fn location<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Location>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Location::new))
}

impl Config {
    /// The repository folder: config, else `/var/backups/structr` for root, else the user data dir.
    pub fn repository_path(&self) -> PathBuf {
        if let Some(p) = &self.repository.path {
            return p.clone();
        }
        let restic = self.repository.kind == RepoKind::Restic;
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from(match restic {
                true => "/var/backups/structr-restic",
                false => "/var/backups/structr",
            });
        }
        let name = match restic {
            true => "restic-repository",
            false => "repository",
        };
        match directories::ProjectDirs::from("", "", "structr-backup") {
            Some(dirs) => dirs.data_dir().join(name),
            None => PathBuf::from(format!("structr-backup-{name}")),
        }
    }

    /// The restic password file: config, else beside the default config file.
    pub fn password_file(&self) -> PathBuf {
        if let Some(p) = &self.repository.password_file {
            return p.clone();
        }
        config_path(None).parent().map_or_else(
            || PathBuf::from("restic-password"),
            |d| d.join("restic-password"),
        )
    }

    /// The off-site target called `name`.
    pub fn offsite(&self, name: &str) -> Option<&OffsiteConfig> {
        self.offsite.iter().find(|o| o.name == name)
    }

    /// Every configured value that carries a credential or a token, with the key
    /// that holds it: the repository and off-site locations that have one, and the
    /// notification URLs. What must never reach a message, a notification or a file.
    pub fn secret_locations(&self) -> Vec<(String, Location)> {
        let mut all = Vec::new();
        if let Some(p) = &self.repository.path {
            all.push((
                "[repository] path".to_string(),
                Location::new(p.to_string_lossy()),
            ));
        }
        for o in &self.offsite {
            all.push((
                format!("[[offsite]] {} path", o.name),
                Location::new(o.path.as_str()),
            ));
        }
        for (key, url) in [
            ("[notify] ping_url", &self.notify.ping_url),
            ("[notify] webhook", &self.notify.webhook),
        ] {
            if let Some(url) = url {
                all.push((key.to_string(), url.clone()));
            }
        }
        all.retain(|(_, l)| l.carries_secret());
        all
    }
}
