//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The version and the commit it was built from (see build.rs): `0.1.0 (abc1234)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("STRUCTR_BACKUP_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "structr-backup",
    version = VERSION,
    about = "Cold backups of Structr installations (Neo4j data + Structr directory), and their restore",
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage error, 3 verification failed, 4 repository lock held by another run, 5 cancelled, 6 an interrupted run left services stopped (run `recover`), 10 no repository there, 12 wrong repository password (as restic)."
)]
pub struct Cli {
    /// Config file (default: $STRUCTR_BACKUP_CONFIG, /etc/structr-backup/config.toml for root, else the user config dir)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Repository folder, or restic repository (overrides [repository] path)
    #[arg(
        long,
        short = 'r',
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub repo: Option<PathBuf>,
    /// Read from elsewhere instead of the repository (list, show, verify, restore, prune, pin, unpin, delete): an [[offsite]] name, a folder (a copied repository, a mounted disk) or a restic repository (sftp:…, s3:…, rest:…)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME|PATH|REPO"
    )]
    pub from: Option<String>,
    /// The restic password file for --from (default: [repository] password_file)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE",
        requires = "from"
    )]
    pub password_file: Option<PathBuf>,
    /// Compose file of a Docker Compose installation (overrides [installation] compose_file)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pub compose_file: Option<PathBuf>,
    /// Do not ask for confirmation (needed for restore, delete and prune without a terminal)
    #[arg(long, short = 'y', global = true, help_heading = "Global options")]
    pub yes: bool,
    /// Machine-readable output: exactly one JSON document on stdout, also on failure (see docs/json.md)
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Print only warnings and errors (what list, show, detect, schedule and --json are asked to show is still printed)
    #[arg(
        long,
        short = 'q',
        global = true,
        help_heading = "Global options",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,
    /// More detail: every program run (service commands, restic, rclone, mail) shown as its command line, secrets hidden; log lines instead of progress bars
    #[arg(long, short = 'v', global = true, help_heading = "Global options")]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stop Structr, stop Neo4j, archive both, start Neo4j, start Structr
    #[command(
        after_help = "Examples:\n  structr-backup backup\n  structr-backup backup --label before-upgrade\n  structr-backup backup --snapshot"
    )]
    Backup {
        /// A label stored with the generation
        #[arg(long, default_value = "")]
        label: String,
        /// A snapshot backup as configured in [snapshot]: stop, run the snapshot command (or take LVM snapshots), start; downtime is the snapshot's time only
        #[arg(long)]
        snapshot: bool,
    },
    /// Create the repository and the off-site targets (restic: a password file too, when missing)
    #[command(
        after_help = "Examples:\n  structr-backup init\n  structr-backup --repo /mnt/backup/structr init"
    )]
    Init,
    /// Copy a generation to an off-site target (backups copy the new one by themselves)
    #[command(after_help = "Examples:\n  structr-backup copy latest --to nas")]
    Copy {
        /// Generation id, a unique prefix of one, or `latest`
        id: String,
        /// The [[offsite]] target's name
        #[arg(long, value_name = "NAME")]
        to: String,
    },
    /// Generations, newest first (restic's word works too: `snapshots`)
    #[command(visible_alias = "snapshots")]
    #[command(
        after_help = "Examples:\n  structr-backup list\n  structr-backup --from nas list\n  structr-backup list --json | jq -r '.[0].id'"
    )]
    List,
    /// One generation's manifest
    #[command(
        after_help = "Examples:\n  structr-backup show\n  structr-backup show 20250101T031500Z --runbook > RESTORE.md"
    )]
    Show {
        /// Generation id, a unique prefix of one, or `latest` (the default)
        #[arg(default_value = "latest")]
        id: String,
        /// Print the generation's RESTORE.md: the commands that restore it by hand
        #[arg(long)]
        runbook: bool,
    },
    /// Check generations: quick (archives against SHA256SUMS) or --deep (every file); `check` works too
    #[command(visible_alias = "check")]
    #[command(
        after_help = "Examples:\n  structr-backup verify\n  structr-backup verify --all --deep"
    )]
    Verify {
        /// Generation id, a unique prefix of one, or `latest` (the default)
        id: Option<String>,
        /// Verify every generation
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Also decompress and check every file's sha256
        #[arg(long)]
        deep: bool,
    },
    /// Replace the installation's data with a generation (verified first)
    #[command(
        after_help = "Examples:\n  structr-backup restore latest\n  structr-backup restore 20250101T0315 --only app --to /tmp/app"
    )]
    Restore {
        /// Generation id, a unique prefix of one, or `latest`
        id: String,
        /// Do not take a safety backup of the current state first
        #[arg(long)]
        no_safety_backup: bool,
        /// Only unpack this component (e.g. `app`, the application export) into --to DIR; no service is touched
        #[arg(long, value_name = "NAME", requires = "to")]
        only: Option<String>,
        /// With --only: the new or empty folder to unpack into (made when missing)
        #[arg(long, value_name = "DIR", requires = "only")]
        to: Option<PathBuf>,
    },
    /// Take Structr's application export (no downtime): into a folder, or committed into a git working tree
    #[command(
        after_help = "Examples:\n  structr-backup export-app --git /srv/structr-app\n  structr-backup export-app --to /tmp/app-export"
    )]
    ExportApp {
        /// A git working tree (made and `git init`ed when missing): the export replaces its contents and is committed when it changed
        #[arg(long, value_name = "DIR", conflicts_with = "to")]
        git: Option<PathBuf>,
        /// A new or empty folder to write the export into (default: ./structr-app-<time>)
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
    },
    /// Prove a generation restores and starts, without touching production: restore it into a scratch folder (every file checked), start Neo4j on the copy ([drill] command, or a Compose installation's Neo4j image without network), remove the copy; the result is recorded
    #[command(
        after_help = "Examples:\n  structr-backup drill\n  structr-backup drill 20250101T031500Z"
    )]
    Drill {
        /// Generation id, a unique prefix of one, or `latest` (the default)
        id: Option<String>,
    },
    /// Delete the generations the retention policy does not keep
    #[command(
        after_help = "Examples:\n  structr-backup prune --dry-run\n  structr-backup prune --keep-daily 7 --keep-weekly 4 --yes"
    )]
    Prune(PruneArgs),
    /// Protect a generation from pruning
    #[command(after_help = "Examples:\n  structr-backup pin latest")]
    Pin {
        /// Generation id, a unique prefix of one, or `latest`
        id: String,
    },
    /// Remove the protection from pruning
    #[command(after_help = "Examples:\n  structr-backup unpin 20250101T031500Z")]
    Unpin {
        /// Generation id, a unique prefix of one, or `latest`
        id: String,
    },
    /// Delete one generation
    #[command(after_help = "Examples:\n  structr-backup delete 20250101T031500Z")]
    Delete {
        /// Generation id, a unique prefix of one, or `latest`
        id: String,
    },
    /// Start services that an interrupted run left stopped
    #[command(after_help = "Examples:\n  structr-backup recover")]
    Recover,
    /// Show the detected installation
    #[command(
        after_help = "Examples:\n  structr-backup detect\n  structr-backup --compose-file /srv/structr/docker-compose.yml detect --json"
    )]
    Detect,
    /// A sandbox installation (stand-in Neo4j and Structr) to try everything on
    #[command(after_help = "Examples:\n  structr-backup demo\n  structr-backup demo --clean")]
    Demo {
        /// Stop the demo's services and remove it with its repository
        #[arg(long)]
        clean: bool,
        /// Size of the stand-in Neo4j store in MiB (bigger makes backups slower;
        /// 64 for a new demo, an existing demo keeps its own)
        #[arg(long)]
        store_mb: Option<u32>,
    },
    /// The nightly backup timer (systemd): show it, set its time, enable or disable it
    #[command(
        after_help = "Examples:\n  structr-backup schedule\n  structr-backup schedule --at 02:30 --enable"
    )]
    Schedule(ScheduleArgs),
    /// restic's `forget`: a hint toward `prune` and `delete` (exit 2)
    #[command(hide = true)]
    Forget(Foreign),
    /// borg's `create`: a hint toward `backup` (exit 2)
    #[command(hide = true)]
    Create(Foreign),
    /// borg's `extract`: a hint toward `restore` (exit 2)
    #[command(hide = true)]
    Extract(Foreign),
    /// borg's `compact`: a hint toward `prune` (exit 2)
    #[command(hide = true)]
    Compact(Foreign),
    /// Write the man page and the shell completions into a folder (for packaging)
    #[command(hide = true)]
    GenerateAssets {
        /// Folder to write into (made when missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Whatever follows a restic or borg word that is not ours: it only gets a hint.
#[derive(Debug, Args, Default)]
pub struct Foreign {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct PruneArgs {
    /// Show what would be deleted and why, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the N newest generations (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest generation of each of the last N hours that have one (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest generation of each of the last N days that have one (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest generation of each of the last N weeks that have one (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest generation of each of the last N months that have one (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest generation of each of the last N years that have one (any --keep-* flag replaces the configured policy)
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Keep everything newer than this before the newest (e.g. 2d, 1w3d)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct ScheduleArgs {
    /// Daily time of the backup, HH:MM local time (written as a drop-in for structr-backup.timer; default 03:15)
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<crate::install::schedule::TimeOfDay>,
    /// Enable and start the timer (sets the default time 03:15 first when none is set)
    #[arg(long, conflicts_with_all = ["disable", "show"])]
    pub enable: bool,
    /// Stop and disable the timer
    #[arg(long, conflicts_with_all = ["at", "show"])]
    pub disable: bool,
    /// Show whether the timer is enabled, its time, the next run and the last run's result (the default)
    #[arg(long, conflicts_with = "at")]
    pub show: bool,
}
