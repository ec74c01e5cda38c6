//! The TOML configuration: where it is looked up, its defaults, and validation with
//! messages that name the file, the line and the key.

pub mod size;
pub mod within;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::Location;
use crate::sys::lexical;

/// Where the configuration came from, for messages ("using defaults", "read FILE").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Defaults { looked_at: PathBuf },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults { looked_at } => {
                write!(
                    f,
                    "built-in defaults ({} does not exist)",
                    looked_at.display()
                )
            }
        }
    }
}

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
}

impl Default for DrillConfig {
    fn default() -> Self {
        Self {
            command: None,
            scratch: PathBuf::from("/var/tmp"),
            timeout_secs: 600,
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
    /// When the repository shares a reflink file system (XFS, btrfs) with the
    /// sources, clone them while the services are stopped and compress afterwards.
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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}, line {line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The file to read: `--config`, then `$STRUCTR_BACKUP_CONFIG`, then
/// `/etc/structr-backup/config.toml` for root, else the user config dir.
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("STRUCTR_BACKUP_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/etc/structr-backup/config.toml");
    }
    match directories::ProjectDirs::from("", "", "structr-backup") {
        Some(dirs) => dirs.config_dir().join("config.toml"),
        None => PathBuf::from("structr-backup.toml"),
    }
}

/// Loads the config. A missing file is not an error unless it was named
/// explicitly (a typo in `--config` must not silently mean defaults).
pub fn load(explicit: Option<&Path>) -> Result<(Config, Source), ConfigError> {
    let path = config_path(explicit);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((parse(&text, &path)?, Source::File(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            Ok((Config::default(), Source::Defaults { looked_at: path }))
        }
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: with_key(text, line, e.message()),
        }
    })?;
    validate(&config, text, path)?;
    Ok(config)
}

/// A parse error's message with the key its line assigns, and for a number that
/// does not fit its type (`keep_last = -1`), the range it must lie in: serde
/// names neither.
fn with_key(text: &str, line: usize, message: &str) -> String {
    let key = line
        .checked_sub(1)
        .and_then(|i| text.lines().nth(i))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !message.contains(*k));
    let Some(key) = key else {
        return message.to_string();
    };
    let range = bounds(&Config::default())
        .into_iter()
        .find(|b| key == b.key || key.ends_with(&format!(".{}", b.key)))
        .map(|b| {
            format!(
                "; use {} to {} ({})",
                b.range.start(),
                b.range.end(),
                b.unit
            )
        })
        .unwrap_or_default();
    format!("{key}: {message}{range}")
}

/// Checks what serde cannot: ranges and combinations. Errors point at the key's line.
fn validate(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("{key}: {message}"),
    };
    validate_numbers(config, text, path)?;
    let inst = &config.installation;
    if inst.kind == Kind::Custom {
        for (key, value) in [
            ("neo4j_data", inst.neo4j_data.is_some()),
            ("structr_dir", inst.structr_dir.is_some()),
            ("neo4j", inst.neo4j.is_some()),
            ("structr", inst.structr.is_some()),
        ] {
            if !value {
                return Err(fail(
                    "kind",
                    format!("kind = \"custom\" needs `{key}` in [installation] (see the README, section Config)"),
                ));
            }
        }
    }
    for (name, cmds) in [("neo4j", &inst.neo4j), ("structr", &inst.structr)] {
        if let Some(cmds) = cmds {
            for (what, line) in [
                ("start", &cmds.start),
                ("stop", &cmds.stop),
                ("status", &cmds.status),
            ] {
                match shell_words::split(line) {
                    Ok(argv) if !argv.is_empty() => {}
                    Ok(_) => return Err(fail(name, format!("the {what} command is empty"))),
                    Err(e) => {
                        return Err(fail(
                            name,
                            format!("the {what} command cannot be split: {e}"),
                        ))
                    }
                }
            }
        }
    }
    validate_snapshot(&config.snapshot, text, path)?;
    validate_paths(config, text, path)?;
    validate_offsite(config, text, path)?;
    validate_notify(&config.notify, text, path)?;
    validate_places(config, text, path)?;
    if let Some(dir) = config.state.dir.as_ref().filter(|d| !d.is_absolute()) {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of_key(text, "dir"),
            message: format!("[state] dir: {} must be an absolute path", dir.display()),
        });
    }
    Ok(())
}

/// The longest any timeout may be. A wait of more than an hour is a hang, not a
/// slow service; and a huge value would overflow the clock once it is turned
/// into a deadline, in the middle of a window with both services stopped.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most generations one retention rule may keep (ten thousand is decades).
pub const MAX_KEEP: u32 = 10_000;
/// The most compression workers (0 means one per core).
pub const MAX_THREADS: u32 = 1024;
/// The longest `keep_within`, in hours (100 years of 366 days).
const MAX_WITHIN_HOURS: u64 = 100 * 366 * 24;
/// The largest fixed LVM snapshot size (1 PiB).
const MAX_LVM_SNAPSHOT_BYTES: u64 = 1 << 50;

/// One number of the config and the range it must lie in.
struct Bound {
    section: &'static str,
    key: &'static str,
    value: i128,
    range: std::ops::RangeInclusive<i128>,
    /// What the numbers count, and a hint, for the message.
    unit: &'static str,
}

/// Every number of the config with its range: what a run would do with a value
/// outside it is nothing anyone wants (a timeout of 584 billion years, a retention
/// rule that keeps everything forever), so it is refused when the file is read.
fn bounds(config: &Config) -> Vec<Bound> {
    let b = |section, key, value: i128, range, unit| Bound {
        section,
        key,
        value,
        range,
        unit,
    };
    let timeout = "seconds; an hour at most";
    let (i, r) = (&config.installation, &config.retention);
    let keep = 0..=i128::from(MAX_KEEP);
    let keep_unit = "generations";
    vec![
        b(
            "repository",
            "compression_level",
            config.repository.compression_level.into(),
            1..=19,
            "1 is fastest, 19 smallest, 3 a good default",
        ),
        b(
            "repository",
            "threads",
            config.repository.threads.into(),
            0..=i128::from(MAX_THREADS),
            "compression workers; 0 means one per core",
        ),
        b(
            "installation",
            "stop_timeout_secs",
            i.stop_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "installation",
            "start_timeout_secs",
            i.start_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "application",
            "max_size_mb",
            config.application.max_size_mb.into(),
            1..=1_048_576,
            "MiB the export's download, and apart its unpacked files, may hold",
        ),
        b(
            "application",
            "idle_timeout_secs",
            config.application.idle_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "application",
            "timeout_secs",
            config.application.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "snapshot",
            "timeout_secs",
            config.snapshot.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "maintenance",
            "retry_after_secs",
            config.maintenance.retry_after_secs.into(),
            1..=86_400,
            "seconds; a day at most",
        ),
        b(
            "maintenance",
            "port",
            config.maintenance.port.unwrap_or(8082).into(),
            1..=65_535,
            "Structr's HTTP port",
        ),
        b(
            "drill",
            "timeout_secs",
            config.drill.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "retention",
            "keep_last",
            r.keep_last.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_hourly",
            r.keep_hourly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_daily",
            r.keep_daily.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_weekly",
            r.keep_weekly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_monthly",
            r.keep_monthly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_yearly",
            r.keep_yearly.into(),
            keep,
            keep_unit,
        ),
    ]
}

/// Checks every number against its range ([`bounds`]), and the sizes and spans
/// written as text (`keep_within`, `lvm_snapshot_size`). The message names the
/// key, the value, the range and (through [`ConfigError::Invalid`]) the file.
fn validate_numbers(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |section: &str, key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_in_section(text, section, key),
        message: format!("[{section}] {key}: {message}"),
    };
    for b in bounds(config) {
        if !b.range.contains(&b.value) {
            return Err(fail(
                b.section,
                b.key,
                format!(
                    "{} is out of range; use {} to {} ({})",
                    b.value,
                    b.range.start(),
                    b.range.end(),
                    b.unit
                ),
            ));
        }
    }
    match within::parse_within(&config.retention.keep_within) {
        Err(e) => return Err(fail("retention", "keep_within", e.to_string())),
        Ok(Some(w)) => {
            let hours = u64::from(w.years) * 366 * 24
                + u64::from(w.months) * 31 * 24
                + u64::from(w.days) * 24
                + u64::from(w.hours);
            if hours > MAX_WITHIN_HOURS {
                return Err(fail(
                    "retention",
                    "keep_within",
                    format!(
                        "{:?} is out of range; use at most 100 years (e.g. \"100y\")",
                        config.retention.keep_within
                    ),
                ));
            }
        }
        Ok(None) => {}
    }
    if let Ok(size::SnapshotSize::Bytes(n)) =
        size::SnapshotSize::parse(&config.snapshot.lvm_snapshot_size)
    {
        if n > MAX_LVM_SNAPSHOT_BYTES {
            return Err(fail(
                "snapshot",
                "lvm_snapshot_size",
                format!(
                    "{:?} is out of range; use 1 byte to 1P (1024T), or a share such as \"10%\"",
                    config.snapshot.lvm_snapshot_size
                ),
            ));
        }
    }
    Ok(())
}

/// Paths must say one thing: absolute, because a timer or cron job runs in a working
/// folder nobody chose, and that must not change what is backed up or replaced; and
/// the two targets apart, because a restore replaces each one whole.
fn validate_paths(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, shown: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("{shown}: {message}"),
    };
    let inst = &config.installation;
    let restic_location = config.repository.kind == RepoKind::Restic
        && config
            .repository
            .path
            .as_deref()
            .is_some_and(|p| is_backend_location(&p.to_string_lossy()));
    let repo_path = match restic_location {
        true => &None,
        false => &config.repository.path,
    };
    for (key, shown, value) in [
        ("path", "[repository] path", repo_path),
        (
            "password_file",
            "password_file",
            &config.repository.password_file,
        ),
        ("neo4j_data", "neo4j_data", &inst.neo4j_data),
        ("structr_dir", "structr_dir", &inst.structr_dir),
        ("compose_file", "compose_file", &inst.compose_file),
    ] {
        if let Some(p) = value.as_deref().filter(|p| !p.is_absolute()) {
            return Err(fail(
                key,
                shown,
                format!(
                    "{:?} is a relative path, so its meaning would depend on the folder the \
                     command runs in; write the absolute path (starting with /)",
                    p.display().to_string()
                ),
            ));
        }
    }
    if let (Some(data), Some(structr)) = (&inst.neo4j_data, &inst.structr_dir) {
        let (d, s) = (lexical(data), lexical(structr));
        let relation = if d == s {
            "is the same folder as"
        } else if d.starts_with(&s) {
            "is inside"
        } else if s.starts_with(&d) {
            "contains"
        } else {
            return Ok(());
        };
        return Err(fail(
            "neo4j_data",
            "neo4j_data",
            format!(
                "{} {relation} structr_dir {}; a backup archives each whole and a restore \
                 replaces each whole, so they must be two folders apart: point neo4j_data \
                 and structr_dir at folders where neither contains the other",
                data.display(),
                structr.display()
            ),
        ));
    }
    Ok(())
}

/// `[snapshot]`: commands that split, one way of snapshotting, a size LVM takes.
fn validate_snapshot(s: &SnapshotConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[snapshot] {key}: {message}"),
    };
    for (key, value) in [
        ("command", &s.command),
        ("delete_command", &s.delete_command),
    ] {
        if let Some(line) = value {
            match shell_words::split(line) {
                Ok(argv) if !argv.is_empty() => {}
                Ok(_) => return Err(fail(key, "is empty".into())),
                Err(e) => return Err(fail(key, format!("cannot be split: {e}"))),
            }
        }
    }
    if s.lvm && s.command.is_some() {
        return Err(fail(
            "lvm",
            "choose one: `lvm = true` (built-in LVM snapshots) or `command` (your snapshot tool)"
                .into(),
        ));
    }
    if let Err(e) = size::SnapshotSize::parse(&s.lvm_snapshot_size) {
        return Err(fail("lvm_snapshot_size", e));
    }
    if s.default && !s.configured() {
        return Err(fail(
            "default",
            "needs `command` or `lvm = true` in [snapshot]".into(),
        ));
    }
    Ok(())
}

/// A restic backend location (`sftp:…`, `rest:…`, …) rather than a folder.
pub fn is_backend_location(s: &str) -> bool {
    const SCHEMES: [&str; 9] = [
        "sftp:", "rest:", "s3:", "rclone:", "b2:", "azure:", "gs:", "swift:", "local:",
    ];
    SCHEMES.iter().any(|p| s.starts_with(p))
}

/// `[[offsite]]`: unique plain names (they are typed in `--from NAME`), and
/// locations that mean one thing whatever folder a timer runs in.
fn validate_offsite(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[[offsite]] {message}"),
    };
    let mut seen = std::collections::BTreeSet::new();
    for o in &config.offsite {
        let plain = !o.name.is_empty()
            && o.name.len() <= 40
            && o.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !plain {
            return Err(fail(
                "name",
                format!(
                    "name {:?}: use letters, digits, - and _ (at most 40)",
                    o.name
                ),
            ));
        }
        if !seen.insert(o.name.as_str()) {
            return Err(fail("name", format!("name {:?} is used twice", o.name)));
        }
        let remote = match config.repository.kind {
            RepoKind::Restic => is_backend_location(&o.path),
            RepoKind::Archive => o.path.starts_with("rclone:"),
        };
        if !remote && !Path::new(&o.path).is_absolute() {
            return Err(fail(
                "path",
                format!(
                    "{}: path {:?} must be an absolute folder{}",
                    o.name,
                    o.path,
                    match config.repository.kind {
                        RepoKind::Restic =>
                            " or a restic repository (sftp:…, rest:…, s3:…, rclone:…)",
                        RepoKind::Archive => " or rclone:REMOTE:PATH",
                    }
                ),
            ));
        }
        if let Some(p) = o.password_file.as_deref().filter(|p| !p.is_absolute()) {
            return Err(fail(
                "password_file",
                format!("{}: password_file {:?} must be absolute", o.name, p),
            ));
        }
    }
    Ok(())
}

/// `[notify]`: URLs a client can call, paths that mean one thing whatever folder a
/// timer runs in, and an email address that cannot smuggle extra mail headers.
fn validate_notify(n: &NotifyConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[notify] {key}: {message}"),
    };
    for (key, value) in [("ping_url", &n.ping_url), ("webhook", &n.webhook)] {
        if let Some(url) = value.as_ref().map(Location::expose) {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(fail(
                    key,
                    "must be a URL starting with http:// or https:// and a host \
                     (e.g. \"https://hc-ping.com/<uuid>\")"
                        .into(),
                ));
            }
            if url.chars().any(char::is_whitespace) {
                return Err(fail(
                    key,
                    "contains white space; percent-encode it (%20)".into(),
                ));
            }
        }
    }
    for (key, value) in [
        ("metrics_file", n.metrics_file.as_deref()),
        ("sendmail", Some(n.sendmail.as_path())),
    ] {
        if let Some(p) = value.filter(|p| !p.is_absolute()) {
            return Err(fail(
                key,
                format!(
                    "{:?} is a relative path, so its meaning would depend on the folder the \
                     command runs in; write the absolute path (starting with /)",
                    p.display().to_string()
                ),
            ));
        }
    }
    if let Some(email) = &n.email {
        if email.trim().is_empty() || email.contains(['\r', '\n']) {
            return Err(fail(
                "email",
                "give one or more recipients on one line, separated by commas (e.g. \"root\" or \"ops@example.org\")"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Places that must stay apart: an off-site copy is somewhere else than the
/// repository (the same folder would count as a copy already there), and neither
/// it, the repository nor the drill's scratch folder lies inside a folder a
/// restore replaces whole (Neo4j's data folder, Structr's folder): a backup would
/// archive them into themselves, a restore would swap them away, and a drill
/// would write where production lives.
fn validate_places(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message,
    };
    let inst = &config.installation;
    let targets: Vec<(&str, PathBuf)> = [
        ("neo4j_data", &inst.neo4j_data),
        ("structr_dir", &inst.structr_dir),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.as_deref().map(|p| (k, lexical(p))))
    .collect();
    let inside_target = |p: &Path| {
        let p = lexical(p);
        targets
            .iter()
            .find(|(_, t)| p.starts_with(t))
            .map(|(k, t)| format!("{k} {}", t.display()))
    };
    let repo = config.repository_path();
    let repo_text = repo.to_string_lossy().to_string();
    let repo_local = !is_backend_location(&repo_text);
    if let Some(t) = inside_target(&repo).filter(|_| repo_local) {
        return Err(fail(
            "path",
            format!(
                "[repository] path {repo_text} is inside {t}: a backup would archive the repository into itself and a restore would swap it away; put the repository outside the installation, e.g. /var/backups/structr"
            ),
        ));
    }
    for o in &config.offsite {
        let local = !is_backend_location(&o.path) && !o.path.starts_with("rclone:");
        let same = match (local, repo_local) {
            (true, true) => lexical(Path::new(&o.path)) == lexical(&repo),
            _ => o.path == repo_text,
        };
        if same {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is the repository itself, so every copy would count as \"already there\"; name another disk or machine",
                    o.name, o.path
                ),
            ));
        }
        if local && repo_local && lexical(Path::new(&o.path)).starts_with(lexical(&repo)) {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is inside the repository {repo_text}: a copy there is lost with the repository; name another disk or machine",
                    o.name, o.path
                ),
            ));
        }
        if let Some(t) = inside_target(Path::new(&o.path)).filter(|_| local) {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is inside {t}, which a restore replaces whole (and a backup would archive the copies); name a folder outside the installation",
                    o.name, o.path
                ),
            ));
        }
    }
    if let Some(t) = inside_target(&config.drill.scratch) {
        return Err(fail(
            "scratch",
            format!(
                "[drill] scratch {} is inside {t}: a drill never writes where production lives; use a folder outside the installation, e.g. /var/tmp",
                config.drill.scratch.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod places_tests {
    use super::*;

    const BASE: &str = "[repository]\npath = \"/srv/backups/structr\"\n\n[installation]\nkind = \"custom\"\nneo4j_data = \"/srv/neo4j/data\"\nstructr_dir = \"/srv/structr\"\nneo4j = { start = \"a\", stop = \"b\", status = \"c\" }\nstructr = { start = \"a\", stop = \"b\", status = \"c\" }\n";

    fn refused(extra: &str) -> String {
        match parse(&format!("{BASE}{extra}"), Path::new("c.toml")) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_off_site_copy_in_the_repository_or_the_installation_is_refused() {
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/backups/structr/\"\n");
        assert!(e.contains("is the repository itself"), "{e}");
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/backups/structr/copies\"\n");
        assert!(e.contains("inside the repository"), "{e}");
        let e =
            refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/structr/../structr/backups\"\n");
        assert!(e.contains("inside structr_dir /srv/structr"), "{e}");
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/neo4j/data/copies\"\n");
        assert!(e.contains("inside neo4j_data /srv/neo4j/data"), "{e}");
        // Beside them is fine, and so is a remote.
        for path in ["/mnt/usb/structr", "rclone:nas:structr"] {
            let text = format!("{BASE}\n[[offsite]]\nname = \"usb\"\npath = \"{path}\"\n");
            assert!(parse(&text, Path::new("c.toml")).is_ok(), "{path}");
        }
    }

    #[test]
    fn a_restic_off_site_equal_to_the_repository_is_refused() {
        let text = BASE.replace(
            "path = \"/srv/backups/structr\"",
            "kind = \"restic\"\npath = \"sftp:nas:/structr\"",
        );
        let e = parse(
            &format!("{text}\n[[offsite]]\nname = \"nas\"\npath = \"sftp:nas:/structr\"\n"),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is the repository itself"), "{e}");
    }

    #[test]
    fn a_drill_scratch_or_repository_inside_the_installation_is_refused() {
        let e = refused("\n[drill]\nscratch = \"/srv/neo4j/data/tmp\"\n");
        assert!(
            e.contains("[drill] scratch") && e.contains("where production lives"),
            "{e}"
        );
        let e = refused("\n[drill]\nscratch = \"/srv/structr\"\n");
        assert!(e.contains("inside structr_dir"), "{e}");
        let text = BASE.replace("/srv/backups/structr", "/srv/structr/backups");
        let e = parse(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("archive the repository into itself"), "{e}");
        assert!(parse(
            &format!("{BASE}\n[drill]\nscratch = \"/srv/scratch\"\n"),
            Path::new("c.toml")
        )
        .is_ok());
    }
}

/// The first line that assigns `key` (for messages; 0 when it is not written at all).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| assigns(l, key))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The line that assigns `key` in `[section]` (or an `[[section]]`): several
/// sections have a `timeout_secs`. Else as [`line_of_key`].
fn line_in_section(text: &str, section: &str, key: &str) -> usize {
    let mut current = "";
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']' || c == ' ');
            // A comment after the header: `[drill] # …`.
            current = current.split(']').next().unwrap_or(current).trim();
        } else if current == section && assigns(t, key) {
            return i + 1;
        }
    }
    line_of_key(text, key)
}

/// Whether `line` assigns `key` (`key = …`).
fn assigns(line: &str, key: &str) -> bool {
    line.trim_start()
        .strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Reads an optional string as a [`Location`]: a notification URL carries its
/// token in its path, so the config model itself can only show it redacted.
fn location<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Location>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Location::new))
}

/// A warning for a config file that users other than its owner can read while it
/// holds a secret (a location with credentials, a notification URL with a token).
/// None when the file is private, holds none, or is the built-in defaults.
pub fn exposure_warning(config: &Config, source: &Source) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let Source::File(path) = source else {
        return None;
    };
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    if mode & 0o044 == 0 {
        return None;
    }
    let keys: Vec<String> = config
        .secret_locations()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    if keys.is_empty() {
        return None;
    }
    let shown = path.display().to_string();
    Some(format!(
        "the config file {shown} can be read by other users (mode {mode:04o}) and holds \
         credentials or tokens ({}); make it readable by its owner only: \
         `chmod 600 {}`",
        keys.join(", "),
        shell_words::quote(&shown)
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_defaults() {
        let c = parse("", Path::new("c.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.retention.keep_daily, 7);
        assert_eq!(c.repository.compression_level, 3);
    }

    #[test]
    fn full_custom_config_parses() {
        let text = r#"
[repository]
path = "/srv/backups"
compression_level = 5
threads = 2

[installation]
kind = "custom"
neo4j_data = "/data/neo4j"
structr_dir = "/opt/structr"
neo4j = { start = "svc start neo4j", stop = "svc stop neo4j", status = "svc status 'neo 4j'" }
structr = { start = "a", stop = "b", status = "c" }

[retention]
keep_last = 1
keep_within = "1w3d"
"#;
        let c = parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(
            c.repository.path.as_deref(),
            Some(Path::new("/srv/backups"))
        );
        assert_eq!(c.installation.kind, Kind::Custom);
        assert_eq!(c.installation.neo4j.unwrap().status, "svc status 'neo 4j'");
        assert_eq!(c.retention.keep_last, 1);
        assert_eq!(c.retention.keep_daily, 7, "unset keys keep their defaults");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[repository]\ncompression_level = 3\ncompresion = 4\n";
        let err = parse(text, Path::new("/etc/x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/x.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("compresion"), "{err}");
    }

    #[test]
    fn wrong_type_names_line() {
        let err = parse(
            "[retention]\n\nkeep_daily = \"seven\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn out_of_range_level_is_refused_with_its_line() {
        let err = parse(
            "[repository]\ncompression_level = 40\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("compression_level"),
            "{err}"
        );
    }

    #[test]
    fn custom_kind_needs_paths_and_commands() {
        let err = parse("[installation]\nkind = \"custom\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("neo4j_data"), "{err}");
    }

    #[test]
    fn bad_keep_within_is_refused() {
        let err = parse("[retention]\nkeep_within = \"3x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("keep_within") && err.contains("line 2"),
            "{err}"
        );
    }

    fn custom(data: &str, structr: &str) -> String {
        format!(
            "[installation]\nkind = \"custom\"\nneo4j_data = \"{data}\"\nstructr_dir = \"{structr}\"\n\
             neo4j = {{ start = \"a\", stop = \"b\", status = \"c\" }}\n\
             structr = {{ start = \"a\", stop = \"b\", status = \"c\" }}\n"
        )
    }

    #[test]
    fn relative_paths_are_refused_naming_file_line_and_key() {
        for (text, key, line) in [
            ("[repository]\npath = \"backups\"\n".to_string(), "path", 2),
            (custom("data", "/opt/structr"), "neo4j_data", 3),
            (custom("/data", "./structr"), "structr_dir", 4),
            (
                "[installation]\nkind = \"compose\"\ncompose_file = \"docker-compose.yml\"\n"
                    .to_string(),
                "compose_file",
                3,
            ),
        ] {
            let err = parse(&text, Path::new("/etc/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("/etc/c.toml"), "{err}");
            assert!(err.contains(&format!("line {line}")), "{err}");
            assert!(err.contains(key), "{err}");
            assert!(err.contains("absolute path"), "{err}");
        }
    }

    #[test]
    fn nested_or_equal_targets_are_refused_naming_both_neighbours_are_not() {
        for (data, structr) in [
            ("/srv/structr", "/srv/structr"),
            ("/srv/structr/", "/srv/./structr"),
            ("/srv/structr/db/data", "/srv/structr"),
            ("/srv/structr", "/srv/structr/sub"),
            ("/srv/x/../structr/data", "/srv/structr/"),
            ("/srv", "/"),
        ] {
            let err = parse(&custom(data, structr), Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("line 3"), "{data} {structr}: {err}");
            assert!(
                err.contains(data) && err.contains(structr),
                "{data} {structr}: {err}"
            );
        }
        // Neighbours with similar names are apart, and fine.
        for (data, structr) in [
            ("/srv/structr-data", "/srv/structr"),
            ("/srv/structr/../neo4j", "/srv/structr"),
            ("/var/lib/neo4j/data", "/usr/lib/structr"),
        ] {
            parse(&custom(data, structr), Path::new("c.toml")).unwrap();
        }
    }

    #[test]
    fn notify_section_parses_and_defaults_to_failures() {
        let c = parse(
            "[notify]\non = [\"start\", \"failure\"]\nping_url = \"https://hc.example/ping/u\"\n\
             webhook = \"http://127.0.0.1:9000/hook\"\nemail = \"root\"\n\
             metrics_file = \"/var/lib/prometheus/node-exporter/structr_backup.prom\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.notify.on, vec![NotifyEvent::Start, NotifyEvent::Failure]);
        assert_eq!(c.notify.email.as_deref(), Some("root"));
        let d = parse("", Path::new("c.toml")).unwrap();
        assert_eq!(d.notify.on, vec![NotifyEvent::Failure]);
        assert_eq!(d.notify.sendmail, Path::new("/usr/sbin/sendmail"));
    }

    #[test]
    fn application_export_is_on_unless_turned_off() {
        assert!(parse("", Path::new("c.toml")).unwrap().application.export);
        let off = parse("[application]\nexport = false\n", Path::new("c.toml")).unwrap();
        assert!(!off.application.export);
        assert!(parse("[application]\nexport = \"no\"\n", Path::new("c.toml")).is_err());
    }

    #[test]
    fn application_export_bounds_are_checked() {
        let d = parse("", Path::new("c.toml")).unwrap().application;
        assert_eq!(
            (d.max_size_mb, d.idle_timeout_secs, d.timeout_secs),
            (4096, 60, 600)
        );
        for bad in [
            "max_size_mb = 0",
            "max_size_mb = 18446744073709551615",
            "idle_timeout_secs = 0",
            "idle_timeout_secs = 3601",
            "timeout_secs = 18446744073709551615",
        ] {
            let text = format!("[application]\n{bad}\n");
            let err = parse(&text, Path::new("c.toml")).unwrap_err().to_string();
            let key = bad.split(' ').next().unwrap();
            assert!(
                err.contains(key) && err.contains("out of range") && err.contains("line 2"),
                "{bad}: {err}"
            );
        }
        let ok = parse(
            "[application]\nmax_size_mb = 1\nidle_timeout_secs = 3600\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(ok.application.max_size_mb, 1);
    }

    #[test]
    fn the_example_config_parses_with_notify_keys_uncommented() {
        let text = include_str!("../../assets/config.example.toml");
        parse(text, Path::new("config.example.toml")).unwrap();
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(k)
                    if ["ping_url", "webhook", "email", "sendmail", "metrics_file"]
                        .iter()
                        .any(|key| k.starts_with(&format!("{key} ="))) =>
                {
                    format!("{k}\n")
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let c = parse(&uncommented, Path::new("config.example.toml")).unwrap();
        assert!(c.notify.ping_url.is_some() && c.notify.metrics_file.is_some());
    }

    #[test]
    fn bad_notify_settings_are_refused_naming_line_and_key() {
        for (text, key, line) in [
            ("[notify]\non = [\"sometimes\"]\n", "sometimes", 2),
            (
                "[notify]\n\nping_url = \"hc.example/ping\"\n",
                "ping_url",
                3,
            ),
            ("[notify]\nwebhook = \"ftp://x/hook\"\n", "webhook", 2),
            ("[notify]\nwebhook = \"https://\"\n", "webhook", 2),
            ("[notify]\nmetrics_file = \"x.prom\"\n", "metrics_file", 2),
            ("[notify]\nsendmail = \"sendmail\"\n", "sendmail", 2),
            ("[notify]\nemail = \"a\\nBcc: b\"\n", "email", 2),
            ("[notify]\nmail = \"root\"\n", "mail", 2),
        ] {
            let err = parse(text, Path::new("/etc/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("line {line}")), "{text}: {err}");
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn snapshot_settings_are_checked_naming_line_and_key() {
        let c = parse(
            "[snapshot]\ncommand = \"virsh snapshot-create-as vm 'sb {name}'\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(c.snapshot.configured() && !c.snapshot.default);
        for (text, key, line) in [
            ("[snapshot]\nlvm = true\ncommand = \"x\"\n", "lvm", 2),
            (
                "[snapshot]\nlvm_snapshot_size = \"lots\"\n",
                "lvm_snapshot_size",
                2,
            ),
            ("[snapshot]\ncommand = \"a 'b\"\n", "command", 2),
            ("[snapshot]\n\ndefault = true\n", "default", 3),
        ] {
            let err = parse(text, Path::new("c.toml")).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}")), "{text}: {err}");
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    /// Parses `text` expecting a refusal naming the file, the line, the key, the
    /// value and the range.
    fn refused(text: &str, line: usize, shown: &[&str]) {
        let err = parse(text, Path::new("/etc/sb/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/sb/c.toml"), "{text}: {err}");
        assert!(err.contains(&format!("line {line}:")), "{text}: {err}");
        for s in shown {
            assert!(err.contains(s), "{text}: {s:?} missing in {err}");
        }
    }

    #[test]
    fn every_timeout_is_between_1_second_and_an_hour() {
        let huge = u64::MAX.to_string();
        for (section, key) in [
            ("installation", "stop_timeout_secs"),
            ("installation", "start_timeout_secs"),
            ("snapshot", "timeout_secs"),
            ("drill", "timeout_secs"),
        ] {
            for bad in ["0", "3601", huge.as_str()] {
                // Both sections with a `timeout_secs` are written, so the line must
                // be the one in the right section.
                let (text, line) = match section {
                    "drill" => (
                        format!("[snapshot]\ntimeout_secs = 5\n\n[drill]\n{key} = {bad}\n"),
                        5,
                    ),
                    "snapshot" => (
                        format!("[drill]\ntimeout_secs = 5\n[snapshot]\n{key} = {bad}\n"),
                        4,
                    ),
                    _ => (format!("[{section}]\n{key} = {bad}\n"), 2),
                };
                refused(
                    &text,
                    line,
                    &[
                        &format!("[{section}] {key}"),
                        &format!("{bad} is out of range"),
                        "1 to 3600",
                    ],
                );
            }
            // Past u64: serde refuses it; the message still names key and range.
            refused(
                &format!("[{section}]\n{key} = 18446744073709551616\n"),
                2,
                &[key, "1 to 3600"],
            );
            let ok = format!("[{section}]\n{key} = 3600\n");
            parse(&ok, Path::new("c.toml")).unwrap();
        }
    }

    #[test]
    fn retention_counts_and_keep_within_are_bounded() {
        for key in [
            "keep_last",
            "keep_hourly",
            "keep_daily",
            "keep_weekly",
            "keep_monthly",
            "keep_yearly",
        ] {
            refused(
                &format!("[retention]\n\n{key} = 10001\n"),
                3,
                &[&format!("[retention] {key}"), "10001", "0 to 10000"],
            );
            refused(
                &format!("[retention]\n{key} = -1\n"),
                2,
                &[key, "-1", "0 to 10000"],
            );
            parse(
                &format!("[retention]\n{key} = 10000\n"),
                Path::new("c.toml"),
            )
            .unwrap();
        }
        refused(
            "[retention]\nkeep_within = \"101y\"\n",
            2,
            &["keep_within", "\"101y\"", "100 years"],
        );
        // A sum past u32 is a refusal, not a panic in the parser.
        refused(
            "[retention]\nkeep_within = \"4294967295w4294967295d\"\n",
            2,
            &["keep_within", "100 years"],
        );
        parse(
            "[retention]\nkeep_within = \"99y11m\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
    }

    #[test]
    fn repository_and_snapshot_numbers_are_bounded() {
        refused(
            "[repository]\ncompression_level = 0\n",
            2,
            &[
                "[repository] compression_level",
                "0 is out of range",
                "1 to 19",
            ],
        );
        refused(
            "[repository]\nthreads = 100000\n",
            2,
            &["[repository] threads", "100000", "0 to 1024"],
        );
        refused(
            "[snapshot]\nlvm = true\nlvm_snapshot_size = \"2000T\"\n",
            3,
            &["[snapshot] lvm_snapshot_size", "\"2000T\"", "1P"],
        );
        parse(
            "[repository]\nthreads = 1024\ncompression_level = 19\n[snapshot]\nlvm = true\nlvm_snapshot_size = \"1024T\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
    }

    #[test]
    fn notification_urls_show_redacted_and_are_named_as_secrets() {
        let c = parse(
            "[repository]\nkind = \"restic\"\npath = \"rest:http://u:RESTPASS@h/r\"\n\
             [notify]\nping_url = \"https://hc.example/ping/TOKEN?create=1\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOKEN"), "{shown}");
        let url = c.notify.ping_url.as_ref().unwrap();
        assert_eq!(url.to_string(), "https://hc.example/***");
        assert_eq!(url.expose(), "https://hc.example/ping/TOKEN?create=1");
        let keys: Vec<String> = c.secret_locations().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["[repository] path", "[notify] ping_url"]);
        assert!(parse("", Path::new("c.toml"))
            .unwrap()
            .secret_locations()
            .is_empty());
    }

    #[test]
    fn a_readable_config_with_a_secret_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let secret = "[notify]\nwebhook = \"https://hooks.example/T0K3N\"\n";
        std::fs::write(&path, secret).unwrap();
        let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
        mode(0o644).unwrap();
        let (c, source) = load(Some(&path)).unwrap();
        let w = exposure_warning(&c, &source).expect("a warning");
        assert!(
            w.contains("mode 0644") && w.contains("[notify] webhook"),
            "{w}"
        );
        assert!(
            w.contains(&format!("`chmod 600 {}`", path.display())),
            "{w}"
        );
        assert!(!w.contains("T0K3N"), "{w}");
        mode(0o640).unwrap();
        assert!(exposure_warning(&c, &source).is_some(), "group-readable");
        mode(0o600).unwrap();
        assert_eq!(exposure_warning(&c, &source), None);
        // Readable by all, but nothing secret in it.
        std::fs::write(&path, "[notify]\nwebhook = \"https://hooks.example\"\n").unwrap();
        mode(0o644).unwrap();
        let (c, source) = load(Some(&path)).unwrap();
        assert_eq!(exposure_warning(&c, &source), None);
    }

    #[test]
    fn lexical_resolves_dots_and_trailing_slashes() {
        assert_eq!(lexical(Path::new("/a/./b/../c/")), Path::new("/a/c"));
        assert_eq!(lexical(Path::new("/../a")), Path::new("/a"));
    }

    #[test]
    fn missing_explicit_file_is_an_error_but_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(load(Some(&missing)).is_err());
    }
}
