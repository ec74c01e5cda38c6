//! The non-interactive face: one function per command, output as text or `--json`.

mod app;
pub mod args;
pub mod confirm;
pub mod generate;
pub mod output;
pub mod render;

use std::io::IsTerminal;

use serde_json::json;

use crate::cancel::Cancel;
use crate::config::{self, Config};
use crate::install::{detect, Installation};
use crate::ops::backup::BackupOptions;
use crate::ops::exit::Exit;
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, Context, OpError};
use crate::repo::generation::Manifest;
use crate::repo::retention::Policy;
use crate::repo::store::Store;
use crate::units;
use crate::{errln, outln};
use args::{Cli, Command, PruneArgs, ScheduleArgs};
use render::Renderer;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }
}

impl Failure {
    /// With `--json`, a failure is a JSON object on stdout too:
    /// `{"error": {"kind": …, "message": …}, "exit_code": N}`.
    pub fn print_json(&self) {
        let v = json!({
            "error": { "kind": self.exit.kind(), "message": self.message },
            "exit_code": self.exit.code(),
        });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        Self {
            exit: Exit::of(&e),
            message: e.to_string(),
        }
    }
}

impl From<config::ConfigError> for Failure {
    fn from(e: config::ConfigError) -> Self {
        Self {
            exit: Exit::Failed,
            message: e.to_string(),
        }
    }
}

type Result<T> = std::result::Result<T, Failure>;

pub struct Env {
    pub cli: Cli,
    pub config: Config,
    pub source: config::Source,
    /// The configured repository (`--repo` replaces its location).
    pub store: Store,
    /// The off-site target `--from NAME` names.
    pub from: Option<Store>,
    pub cancel: Cancel,
}

impl Env {
    pub fn load(cli: Cli, cancel: Cancel) -> Result<Self> {
        let (mut config, source) = config::load(cli.config.as_deref())?;
        // Once per run, before anything else: the wizard's screen would hide it,
        // so it is printed before the wizard starts and stays in the scrollback.
        if let Some(w) = config::exposure_warning(&config, &source) {
            errln!("warning: {w}");
        }
        if let Some(f) = &cli.compose_file {
            config.installation.compose_file = Some(f.clone());
            config.installation.kind = config::Kind::Compose;
        }
        let store = Store::from_config(&config, cli.repo.as_deref());
        let mut env = Self {
            cli,
            config,
            source,
            store,
            from: None,
            cancel,
        };
        // Whatever a message quotes from here on, no credential or token is printed.
        let mut secrets = crate::notify::secrets_of(&env.config).with(&env.store.location());
        if let Some(given) = &env.cli.from {
            secrets.add(given);
        }
        output::hide(secrets);
        if let Some(given) = env.cli.from.clone() {
            env.from = Some(
                Store::open_from(&env.config, &given, env.cli.password_file.as_deref())
                    .map_err(Failure::usage)?,
            );
        }
        Ok(env)
    }

    fn installation(&self) -> Result<Installation> {
        detect::detect(&self.config).map_err(|e| Failure::from(OpError::from(e)))
    }

    /// The context of a run that writes: always the repository (`--from` only
    /// chooses what reading commands read).
    fn context<'a>(&self, inst: &'a Installation) -> Context<'a> {
        Context::new(&self.config, inst, self.store.clone(), self.cancel.clone())
    }

    /// The off-site target `name`, as a store of the repository's kind.
    fn offsite(&self, name: &str) -> Result<Store> {
        match self.config.offsite(name) {
            Some(o) => Ok(Store::offsite(&self.config, o)),
            None => {
                let names: Vec<&str> = self
                    .config
                    .offsite
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect();
                Err(Failure::usage(format!(
                    "there is no off-site target {name:?} in {} (configured: {})",
                    self.source,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )))
            }
        }
    }

    /// The store a reading command works on: `--from NAME`, else the repository.
    fn reading(&self) -> &Store {
        self.from.as_ref().unwrap_or(&self.store)
    }

    /// The command as the user ran it, up to the subcommand, for hints: a hint to
    /// run `structr-backup recover` must name the same config and repository.
    fn invocation(&self) -> String {
        let mut argv = vec!["structr-backup".to_string()];
        for (flag, value) in [
            ("--config", &self.cli.config),
            ("--repo", &self.cli.repo),
            ("--compose-file", &self.cli.compose_file),
        ] {
            if let Some(v) = value {
                argv.push(flag.into());
                argv.push(v.display().to_string());
            }
        }
        shell_words::join(argv)
    }

    /// `text` with every `structr-backup …` hint spelled as the user invoked us.
    pub fn hint(&self, text: &str) -> String {
        text.replace("`structr-backup ", &format!("`{} ", self.invocation()))
    }

    /// The repository, which must exist for every command but `backup` and `init`
    /// (a typo in `--repo` must not read as "no generations" to a monitoring script).
    fn existing_repo(&self) -> Result<&Store> {
        let store = self.reading();
        if store.exists().map_err(OpError::from)? {
            return Ok(store);
        }
        let (what, fix) = match (&self.cli.from, store.kind()) {
            (Some(name), _) if self.config.offsite(name).is_some() => (
                format!("the off-site target {name} ({})", store.location()),
                "`structr-backup init` creates it",
            ),
            (Some(_), _) => (
                format!("there is no repository at {}: it", store.location()),
                "name the folder that holds the generations (the one with their dated folders) or the restic repository",
            ),
            (None, config::RepoKind::Archive) => (
                format!("the repository {}", store.location()),
                "`structr-backup backup` creates it",
            ),
            (None, config::RepoKind::Restic) => (
                format!("the restic repository {}", store.location()),
                "`structr-backup init` creates it",
            ),
        };
        Err(Failure {
            exit: Exit::Failed,
            message: format!(
                "{what} does not exist. Check --repo, --from or the config ({}); {fix}",
                self.source
            ),
        })
    }

    /// The generation the user means: an id, a unique prefix of one, or `latest`.
    fn id(&self, given: &str) -> Result<String> {
        let store = self.existing_repo()?;
        Ok(store.resolve(given).map_err(OpError::from)?)
    }

    fn print_json(&self, value: serde_json::Value) {
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }

    /// Destructive commands need `--yes` or a person at a terminal who confirms.
    fn confirm(&self, what: &str, typed: Option<&str>) -> Result<()> {
        if self.cli.yes {
            return Ok(());
        }
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Err(Failure::usage(format!(
                "{what}: there is no terminal to confirm on; add --yes to confirm"
            )));
        }
        if confirm::ask(what, typed) {
            Ok(())
        } else {
            Err(Failure {
                exit: Exit::Cancelled,
                message: "not confirmed; nothing was changed".into(),
            })
        }
    }
}

/// A monitored command (see `crate::notify`) is watched from start to end: status
/// file, metrics, pings, webhook, mail. None of that changes the result.
fn watched(env: &Env) -> Result<()> {
    let Some((operation, id)) = monitored(env) else {
        return dispatch(env);
    };
    let watch = crate::notify::Run::begin(&env.config, operation, id, env.reading());
    let result = dispatch(env);
    let failure = result.as_ref().err();
    watch.finish(
        env.reading(),
        crate::notify::Ending {
            exit_code: failure.map_or(0, |f| i32::from(f.exit.code())),
            error: failure.map(|f| f.message.as_str()),
            cancelled: failure.is_some_and(|f| f.exit == Exit::Cancelled),
        },
    );
    result
}

/// The operations a monitor must hear of, and the generation each names.
fn monitored(env: &Env) -> Option<(&'static str, Option<String>)> {
    match &env.cli.command {
        Some(Command::Backup { .. }) => Some(("backup", None)),
        Some(Command::Restore { id, .. }) => Some(("restore", Some(resolved(env, id)))),
        Some(Command::Verify { id, .. }) => Some(("verify", id.as_ref().map(|i| resolved(env, i)))),
        Some(Command::Drill { id }) => Some(("drill", id.as_ref().map(|i| resolved(env, i)))),
        // A dry run changes nothing and is no run to monitor.
        Some(Command::Prune(args)) if !args.dry_run => Some(("prune", None)),
        Some(Command::Recover) => Some(("recover", None)),
        _ => None,
    }
}

/// The id a prefix or `latest` names, for the monitors; as typed when it names none.
fn resolved(env: &Env, given: &str) -> String {
    env.reading()
        .resolve(given)
        .unwrap_or_else(|_| given.to_string())
}

/// Shows an event and keeps its line for the notifications.
fn tee(r: &mut Renderer, e: ops::Event) {
    crate::notify::log::event(&e);
    r.event(e)
}

/// Runs the command; messages name it as the user ran it.
pub fn run(env: &Env) -> Result<()> {
    if !matches!(env.cli.command, Some(Command::Recover)) {
        for record in ops::journal::interrupted_any() {
            errln!("WARNING: {}", env.hint(&record.describe()));
        }
    }
    watched(env).map_err(|f| Failure {
        message: env.hint(&f.message),
        ..f
    })
}

fn dispatch(env: &Env) -> Result<()> {
    match &env.cli.command {
        None => no_command(env),
        Some(Command::Backup { .. } | Command::Init | Command::Recover)
            if env.cli.from.is_some() =>
        {
            Err(Failure::usage(
                "--from names where to read from; backup, init and recover work on the repository",
            ))
        }
        Some(Command::Backup { label, snapshot }) => backup(env, label, *snapshot),
        Some(Command::Init) => init(env),
        Some(Command::Copy { id, to }) => copy(env, id, to),
        Some(Command::List) => list(env),
        Some(Command::Show { id, runbook }) => match runbook {
            true => show_runbook(env, id),
            false => show(env, id),
        },
        Some(Command::Verify { id, all, deep }) => verify(env, id.as_deref(), *all, *deep),
        Some(Command::Drill { id }) => drill(env, id.as_deref().unwrap_or("latest")),
        Some(Command::Restore {
            id,
            only: Some(name),
            to: Some(dir),
            ..
        }) => app::unpack(env, id, name, dir),
        Some(Command::Restore {
            id,
            no_safety_backup,
            ..
        }) => restore(env, id, !no_safety_backup),
        Some(Command::ExportApp { git, to }) => app::export_app(env, git.as_deref(), to.as_deref()),
        Some(Command::Prune(args)) => prune(env, args),
        Some(Command::Pin { id }) => pin(env, id, true),
        Some(Command::Unpin { id }) => pin(env, id, false),
        Some(Command::Delete { id }) => delete(env, id),
        Some(Command::Recover) => recover(env),
        Some(Command::Detect) => detect_cmd(env),
        Some(Command::Demo { clean, store_mb }) => demo(env, *clean, *store_mb),
        Some(Command::Schedule(args)) => schedule(env, args),
        Some(Command::GenerateAssets { out }) => generate::run(out),
    }
}

fn no_command(env: &Env) -> Result<()> {
    use clap::CommandFactory;
    if interactive() {
        return wizard(&env.config, env.store.clone(), &env.cancel);
    }
    errln!("{}", Cli::command().render_help());
    let why = if std::io::stdout().is_terminal() && dumb_terminal() {
        "no command given; the wizard needs a terminal with cursor addressing (TERM is dumb or unset): use the commands above"
    } else {
        "no command given (the wizard needs a terminal)"
    };
    Err(Failure::usage(why))
}

/// A person at a terminal that can draw the wizard: `TERM=dumb` (or none) has no
/// cursor addressing, and a full screen there would be garbage.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && !dumb_terminal()
}

fn dumb_terminal() -> bool {
    std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb")
}

/// Opens the full-screen wizard.
fn wizard(config: &Config, store: Store, cancel: &Cancel) -> Result<()> {
    let world = crate::tui::World::new(config, store).map_err(|e| Failure {
        exit: Exit::Failed,
        message: e,
    })?;
    crate::tui::run(world, cancel).map_err(|e| Failure {
        exit: Exit::Failed,
        message: format!("the wizard ended: {e}"),
    })
}

fn backup(env: &Env, label: &str, snapshot: bool) -> Result<()> {
    if snapshot && !env.config.snapshot.configured() {
        return Err(Failure::usage(format!(
            "--snapshot needs a [snapshot] section with `command` (your hypervisor's or cloud's snapshot tool) or `lvm = true` in {}",
            env.source
        )));
    }
    let inst = env.installation()?;
    let mut ctx = env.context(&inst);
    ctx.snapshot_run |= snapshot;
    let mut r = Renderer::new();
    let out = ops::backup::run(
        &ctx,
        &BackupOptions {
            label: label.into(),
        },
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    let m = &out.manifest;
    if env.cli.json {
        env.print_json(json!({
            "generation": generation_json(m),
            "unhealthy": out.closing.unhealthy,
            "offsite": out.offsite,
        }));
    } else {
        if let Some(s) = m.snapshot_backup.as_ref().filter(|_| !env.cli.json) {
            if s.is_external() {
                outln!(
                    "generation {} records the snapshot taken by `{}` ({}), downtime {}",
                    m.id,
                    s.command,
                    env.store.location(),
                    units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
                );
                return offsite_result(&out.offsite);
            }
        }
        let (stored, place) = match &env.store {
            Store::Archive(repo) => ("archives", repo.path_of(&m.id).display().to_string()),
            Store::Rclone(r) => ("archives", r.location().to_string()),
            Store::Restic(r) => (
                "added to the repository",
                format!(
                    "restic snapshot {} in {}",
                    m.snapshot.as_deref().unwrap_or("?").get(..8).unwrap_or("?"),
                    r.location
                ),
            ),
        };
        outln!(
            "generation {} written: {} in {} files, {stored} {} ({place}), downtime {}",
            m.id,
            units::bytes(m.total_bytes()),
            m.components.iter().map(|c| c.files).sum::<u64>(),
            units::bytes(m.total_archive_size()),
            units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
        );
        for u in &out.closing.unhealthy {
            outln!("WARNING: not healthy after start: {u}");
        }
        for c in &out.offsite {
            match c.ok {
                true => outln!("off-site {}: {} ({})", c.target, c.detail, c.location),
                false => errln!("off-site {}: FAILED: {}", c.target, c.detail),
            }
        }
    }
    offsite_result(&out.offsite)
}

/// A failed off-site copy fails the run (exit 1), after everything else was reported.
fn offsite_result(copies: &[ops::offsite::Copied]) -> Result<()> {
    let failed: Vec<&str> = copies
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.target.as_str())
        .collect();
    match failed.is_empty() {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: format!(
                "the generation was written and the services run, but the off-site copy to {} failed (see above)",
                failed.join(", ")
            ),
        }),
    }
}

/// Creates the repository and the off-site targets. restic: `restic init`, with a
/// new random password file when there is none.
fn init(env: &Env) -> Result<()> {
    for line in ops::init::create(&env.store, None)? {
        outln!("repository: {line}");
    }
    // Off-site restic repositories share the repository's chunking, so that
    // `restic copy` deduplicates.
    let like = match &env.store {
        Store::Restic(r) => Some(r),
        _ => None,
    };
    for o in &env.config.offsite {
        for line in ops::init::create(&Store::offsite(&env.config, o), like)? {
            outln!("off-site {}: {line}", o.name);
        }
    }
    Ok(())
}

/// Copies a generation to an off-site target.
fn copy(env: &Env, id: &str, to: &str) -> Result<()> {
    let id = &env.id(id)?;
    let target = env.offsite(to)?;
    let m = env.reading().manifest(id).map_err(OpError::from)?;
    let mut r = Renderer::new();
    let copied = ops::offsite::copy(env.reading(), to, &target, &m, &env.cancel, &mut |e| {
        tee(&mut r, e)
    });
    drop(r);
    if env.cli.json {
        env.print_json(json!(copied));
    } else if copied.ok {
        outln!("{id} to {to}: {} ({})", copied.detail, copied.location);
    }
    // `copy` writes no generation and stops no service: its failure says only
    // what it did (`detail` names the target, the cause and how to retry).
    match copied.ok {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: copied.detail,
        }),
    }
}

fn list(env: &Env) -> Result<()> {
    env.existing_repo()?;
    let (manifests, broken) = env.reading().list().map_err(OpError::from)?;
    for b in &broken {
        errln!("warning: {b}");
    }
    if env.cli.json {
        let rows: Vec<_> = manifests.iter().map(list_json).collect();
        env.print_json(json!(rows));
        return Ok(());
    }
    if manifests.is_empty() {
        outln!("no generations in {}", env.reading().location());
        return Ok(());
    }
    outln!(
        "{:<20} {:<19} {:>10}  {:<6} {:<10} {:<17} LABEL",
        "ID",
        "CREATED",
        "SIZE",
        "PINNED",
        "VERIFIED",
        "RESTORE-TESTED"
    );
    for m in &manifests {
        let tested = match &m.last_drill {
            None => "never".to_string(),
            Some(d) => format!(
                "{} {}",
                if d.ok { "ok" } else { "FAILED" },
                units::age(chrono::Utc::now() - d.at)
            ),
        };
        outln!(
            "{:<20} {:<19} {:>10}  {:<6} {:<10} {:<17} {}",
            m.id,
            m.created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            units::bytes(m.total_archive_size()),
            if m.pinned { "yes" } else { "" },
            verified_word(m),
            tested,
            match m.is_external_snapshot() {
                true => format!("(snapshot) {}", m.label),
                false => m.label.clone(),
            }
        );
    }
    Ok(())
}

/// A restore drill's result in words: `ok 3 days ago`, `FAILED 1 hour ago: why`.
fn drilled_words(m: &Manifest) -> String {
    match &m.last_drill {
        None => "never".into(),
        Some(d) => format!(
            "{} {}{}",
            if d.ok { "ok" } else { "FAILED" },
            units::age(chrono::Utc::now() - d.at),
            if d.ok {
                String::new()
            } else {
                format!(": {}", d.detail)
            }
        ),
    }
}

/// `drill [ID]`: see `ops::drill`. Exit 1 when the drill ran and failed.
fn drill(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let inst = env.installation()?;
    let ctx = Context::new(
        &env.config,
        &inst,
        env.reading().clone(),
        env.cancel.clone(),
    );
    let _lock = ops::lock_store(env.reading(), "drill")?;
    let mut r = Renderer::new();
    let record = ops::drill::run(&ctx, &env.config.drill, id, &mut |e| tee(&mut r, e))?;
    drop(r);
    if env.cli.json {
        env.print_json(json!({ "id": id, "drill": record }));
    } else {
        outln!(
            "{id}: restore drill {} in {}: {}",
            if record.ok { "ok" } else { "FAILED" },
            units::duration(std::time::Duration::from_secs_f64(record.secs)),
            record.detail
        );
    }
    match record.ok {
        true => Ok(()),
        false => Err(Failure {
            exit: Exit::Failed,
            message: format!("the restore drill of {id} failed: {}", record.detail),
        }),
    }
}

fn verified_word(m: &Manifest) -> &'static str {
    match &m.last_verified {
        None => "never",
        Some(v) if !v.ok => "FAILED",
        Some(v) if v.deep => "deep",
        Some(_) => "quick",
    }
}

/// A generation in brief, as `list` and the prune plan give it: the manifest's
/// own field names, and the two totals (see docs/json.md).
fn list_json(m: &Manifest) -> serde_json::Value {
    json!({
        "id": m.id,
        "created_at": m.created_at,
        "host": m.host,
        "installation": m.installation,
        "label": m.label,
        "pinned": m.pinned,
        "last_verified": m.last_verified,
        "last_drill": m.last_drill,
        "downtime_secs": m.timings.downtime_secs,
        "source_bytes": m.total_bytes(),
        "stored_bytes": m.total_archive_size(),
        "snapshot": m.snapshot,
        "kind": if m.is_external_snapshot() { "snapshot" } else { "archive" },
    })
}

/// A whole generation, as `show` and `backup` give it: the manifest with the two
/// totals added.
fn generation_json(m: &Manifest) -> serde_json::Value {
    let mut v = json!(m);
    v["source_bytes"] = json!(m.total_bytes());
    v["stored_bytes"] = json!(m.total_archive_size());
    v
}

fn show(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let m = env.reading().manifest(id).map_err(OpError::from)?;
    if env.cli.json {
        env.print_json(generation_json(&m));
        return Ok(());
    }
    let local = m.created_at.with_timezone(&chrono::Local);
    outln!("generation   {}", m.id);
    outln!(
        "created      {} ({})",
        local.format("%Y-%m-%d %H:%M:%S %Z"),
        units::age(chrono::Utc::now() - m.created_at)
    );
    outln!("host         {} ({} installation)", m.host, m.installation);
    outln!(
        "label        {}",
        if m.label.is_empty() { "-" } else { &m.label }
    );
    outln!("pinned       {}", if m.pinned { "yes" } else { "no" });
    outln!("verified     {}", verified_word(&m));
    outln!("drilled      {}", drilled_words(&m));
    outln!(
        "downtime     {}",
        units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
    );
    outln!("tool         structr-backup {}", m.tool_version);
    if let Some(s) = &m.snapshot {
        outln!(
            "snapshot     {s} (restic; added {} to the repository)",
            units::bytes(m.total_archive_size())
        );
    }
    if let Some(s) = &m.snapshot_backup {
        outln!(
            "snapshot     {} by `{}` in {} (exit status {})",
            if s.is_external() {
                "taken"
            } else {
                "LVM snapshots read"
            },
            s.command,
            units::duration(std::time::Duration::from_secs_f64(s.secs)),
            s.exit_status.map_or("none".into(), |x| x.to_string())
        );
        for l in s.output.lines() {
            outln!("             {l}");
        }
    }
    for c in m.components.iter().filter(|c| c.archive.is_empty()) {
        outln!(
            "component    {} ({}) from {}: {} files, {}",
            c.name,
            c.role,
            c.source.display(),
            c.files,
            units::bytes(c.bytes)
        );
    }
    for c in m.components.iter().filter(|c| !c.archive.is_empty()) {
        outln!(
            "component    {} ({}) from {}: {} files, {} → {} {}",
            c.name,
            c.role,
            c.source.display(),
            c.files,
            units::bytes(c.bytes),
            units::bytes(c.archive_size),
            c.archive
        );
    }
    Ok(())
}

/// The generation's own runbook, exactly as stored; a generation made before
/// runbooks existed gets one written now from its manifest (and stderr says so).
fn show_runbook(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let store = env.reading();
    let m = store.manifest(id).map_err(OpError::from)?;
    // A recorded hypervisor snapshot has no files to restore by hand.
    if let Some(why) = ops::snapshot::restore_refusal(&m) {
        return Err(Failure::usage(format!("no runbook: {why}")));
    }
    let (text, stored) = match ops::runbook::stored(store, &m) {
        Ok(text) => (text, true),
        Err(ops::runbook::NotStored::Changed(why)) => return Err(OpError::Verify(why).into()),
        Err(ops::runbook::NotStored::Missing(why)) => {
            errln!(
                "generation {id} carries no {} ({why}); this one is written now from its manifest",
                ops::runbook::FILE
            );
            let controls = ops::runbook::controls(&m, Some(&env.config.installation));
            let source = ops::runbook::Source::of(store);
            (ops::runbook::render_with(&m, &source, &controls), false)
        }
    };
    if env.cli.json {
        env.print_json(serde_json::json!({"id": id, "stored": stored, "runbook": text}));
        return Ok(());
    }
    crate::out!("{text}");
    Ok(())
}

fn verify(env: &Env, id: Option<&str>, all: bool, deep: bool) -> Result<()> {
    // No id: the newest generation, the one a restore would most likely use.
    let ids: Vec<String> = match (id, all) {
        (Some(id), _) => vec![env.id(id)?],
        (None, true) => {
            env.existing_repo()?;
            vec![]
        }
        (None, false) => vec![env.id("latest")?],
    };
    let mut r = Renderer::new();
    let reports = ops::verify::run(env.reading(), &ids, deep, &env.cancel, &mut |e| {
        tee(&mut r, e)
    })?;
    drop(r);
    if env.cli.json {
        env.print_json(json!(reports));
    } else {
        for rep in &reports {
            match rep.ok {
                true => outln!("{}: ok ({})", rep.id, if deep { "deep" } else { "quick" }),
                false => outln!("{}: FAILED: {}", rep.id, rep.problems.join("; ")),
            }
        }
    }
    match reports.iter().filter(|r| !r.ok).count() {
        0 => Ok(()),
        n => Err(Failure {
            exit: Exit::Verify,
            message: format!("{n} generation(s) failed verification"),
        }),
    }
}

fn restore(env: &Env, id: &str, safety_backup: bool) -> Result<()> {
    let id = &env.id(id)?;
    // A fresh Docker host: the project's containers and volumes are made first.
    if let Some(said) = ops::restore::prepare_installation(&env.config)? {
        outln!("{said}");
    }
    let inst = env.installation()?;
    let ctx = env.context(&inst);
    let from = env.from.as_ref();
    let m = from
        .unwrap_or(&env.store)
        .manifest(id)
        .map_err(OpError::from)?;
    let checks = ops::compat::check(&inst, &m);
    if let Some(r) = checks.refusals.first() {
        return Err(Failure {
            exit: Exit::Failed,
            message: format!("{r}. Nothing was stopped or changed"),
        });
    }
    let placements = ops::restore::placements(&ctx, &m)?;
    if !env.cli.json {
        outln!(
            "Restore generation {} ({}, from host {}):",
            m.id,
            m.created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            m.host
        );
        for p in &placements {
            if !p.target.exists() {
                outln!(
                    "  {} does not exist yet: it is CREATED from {} ({})",
                    p.target.display(),
                    p.name,
                    units::bytes(p.bytes)
                );
                continue;
            }
            outln!(
                "  {} will be REPLACED by {} ({}); the current folder is kept as {}",
                p.target.display(),
                p.name,
                units::bytes(p.bytes),
                p.kept.display()
            );
            outln!("    {}", ops::restore::what_is_lost(&p.target, &m));
        }
        for line in checks.plan_lines() {
            outln!("  {line}");
        }
        if m.components.iter().any(ops::app_export::is_app) {
            outln!("  {}", ops::app_export::NOT_RESTORED);
        }
        let names: Vec<&str> = inst.services.iter().map(|s| s.name()).collect();
        outln!(
            "  services stopped during the restore: {}",
            names.join(", ")
        );
        outln!(
            "  safety backup of the current state first: {}",
            if safety_backup { "yes" } else { "NO" }
        );
    }
    env.confirm(&format!("restore generation {id}"), Some(id))?;
    let mut r = Renderer::new();
    let out = ops::restore::run(
        &ctx,
        from,
        id,
        &RestoreOptions { safety_backup },
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    if env.cli.json {
        env.print_json(json!({
            "restored": out.restored.id,
            "safety_backup": out.safety.as_ref().map(|s| &s.id),
            "placements": out.placements,
            "unhealthy": out.closing.unhealthy,
            "left_stopped": out.left_stopped,
        }));
    } else {
        if out.left_stopped.is_empty() {
            outln!("generation {} restored; services running.", out.restored.id);
        } else {
            // Started in reverse stop order: Neo4j before Structr.
            let how: Vec<String> = inst
                .services
                .iter()
                .rev()
                .filter(|s| out.left_stopped.iter().any(|n| n == s.name()))
                .map(|s| format!("{} ({})", s.name(), s.describe()))
                .collect();
            outln!(
                "generation {} restored. These services were stopped before the restore and are left stopped; start them in this order when ready: {}",
                out.restored.id,
                how.join(", then ")
            );
        }
        if let Some(s) = &out.safety {
            outln!("safety backup of the previous state: generation {}", s.id);
        }
        // A target that did not exist before has no previous folder to keep.
        for p in out.placements.iter().filter(|p| p.kept.exists()) {
            outln!(
                "previous {} kept at {} (delete it when satisfied)",
                p.target.display(),
                p.kept.display()
            );
        }
        for u in &out.closing.unhealthy {
            outln!("WARNING: not healthy after start: {u}");
        }
    }
    Ok(())
}

fn policy(env: &Env, args: &PruneArgs) -> Result<Policy> {
    let given = args.keep_last.is_some()
        || args.keep_hourly.is_some()
        || args.keep_daily.is_some()
        || args.keep_weekly.is_some()
        || args.keep_monthly.is_some()
        || args.keep_yearly.is_some()
        || args.keep_within.is_some();
    // Flags replace the configured policy as a whole, so the command line says
    // exactly what is kept.
    let settings = match given {
        false => env.config.retention.clone(),
        true => config::RetentionConfig {
            keep_last: args.keep_last.unwrap_or(0),
            keep_hourly: args.keep_hourly.unwrap_or(0),
            keep_daily: args.keep_daily.unwrap_or(0),
            keep_weekly: args.keep_weekly.unwrap_or(0),
            keep_monthly: args.keep_monthly.unwrap_or(0),
            keep_yearly: args.keep_yearly.unwrap_or(0),
            keep_within: args.keep_within.clone().unwrap_or_default(),
        },
    };
    Policy::from_config(&settings).map_err(|e| Failure::usage(e.to_string()))
}

fn prune(env: &Env, args: &PruneArgs) -> Result<()> {
    env.existing_repo()?;
    let policy = policy(env, args)?;
    let rows = ops::prune::plan(env.reading(), &policy)?;
    print_plan(env, &rows, args.dry_run);
    let doomed = rows.iter().filter(|r| !r.decision.keep).count();
    if args.dry_run || doomed == 0 {
        return Ok(());
    }
    env.confirm(&format!("delete {doomed} generation(s)"), None)?;
    let mut r = Renderer::new();
    let rows = ops::prune::run(
        env.reading(),
        &policy,
        &ops::prune::SnapshotDeletion::of(&env.config.snapshot),
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    if !env.cli.json {
        outln!(
            "deleted {} generation(s)",
            rows.iter().filter(|r| !r.decision.keep).count()
        );
    }
    Ok(())
}

fn print_plan(env: &Env, rows: &[ops::prune::PlanRow], dry_run: bool) {
    if env.cli.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut v = list_json(&r.manifest);
                v["keep"] = json!(r.decision.keep);
                v["reasons"] = json!(r
                    .decision
                    .reasons
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>());
                v
            })
            .collect();
        env.print_json(json!({ "dry_run": dry_run, "generations": v }));
        return;
    }
    for r in rows {
        let reasons: Vec<String> = r.decision.reasons.iter().map(|x| x.to_string()).collect();
        outln!(
            "{:<6} {:<20} {:<19} {}",
            if r.decision.keep { "keep" } else { "DELETE" },
            r.manifest.id,
            r.manifest
                .created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            reasons.join(", ")
        );
    }
}

fn pin(env: &Env, id: &str, pinned: bool) -> Result<()> {
    let id = &env.id(id)?;
    ops::pin::set(env.reading(), id, pinned)?;
    outln!("{id} {}", if pinned { "pinned" } else { "unpinned" });
    Ok(())
}

fn delete(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    env.reading().manifest(id).map_err(OpError::from)?;
    env.confirm(&format!("delete generation {id}"), Some(id))?;
    let mut r = Renderer::new();
    ops::prune::delete(
        env.reading(),
        id,
        &ops::prune::SnapshotDeletion::of(&env.config.snapshot),
        &mut |e| tee(&mut r, e),
    )?;
    drop(r);
    outln!("{id} deleted");
    Ok(())
}

fn recover(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    let ctx = env.context(&inst);
    let mut r = Renderer::new();
    let out = ops::recover::run(&ctx, &env.config.drill.scratch, &mut |e| tee(&mut r, e))?;
    drop(r);
    match &out.record {
        None => outln!("nothing to recover: no interrupted run left services stopped"),
        Some(rec) => outln!("recovered: started {}", rec.stopped.join(", ")),
    }
    if !out.removed.is_empty() {
        outln!(
            "removed {} leftover(s) of interrupted runs",
            out.removed.len()
        );
    }
    Ok(())
}

fn detect_cmd(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    if env.cli.json {
        env.print_json(json!({
            "kind": inst.kind,
            "host": inst.host,
            "components": inst.components,
            // `running`: true, false, or null when the service manager could not say.
            "services": inst.services.iter().map(|s| json!({"name": s.name(), "control": s.describe(), "running": s.is_running().ok()})).collect::<Vec<_>>(),
            "notes": inst.notes,
            "config": env.source.to_string(),
            "repository": env.store.location(),
            "repository_kind": env.store.kind(),
            "state": {
                "key": inst.key(),
                "journal": ops::state::journal_path(&inst),
                "lock": ops::state::lock_path(&inst),
            },
        }));
        return Ok(());
    }
    outln!("installation {} on {}", inst.kind, inst.host);
    outln!("config       {}", env.source);
    outln!(
        "repository   {} ({})",
        env.store.location(),
        env.store.kind()
    );
    for c in &inst.components {
        outln!(
            "component    {} ({}) at {}",
            c.name,
            c.role,
            c.path.display()
        );
    }
    for s in &inst.services {
        let state = match s.is_running() {
            Ok(true) => "running",
            Ok(false) => "stopped",
            Err(_) => "unknown",
        };
        outln!("service      {} ({state}), {}", s.name(), s.describe());
    }
    for n in &inst.notes {
        outln!("note         {n}");
    }
    Ok(())
}

fn demo(env: &Env, clean: bool, store_mb: u32) -> Result<()> {
    let demo = crate::demo::Demo::new();
    let fail = |e: crate::demo::DemoError| Failure {
        exit: Exit::Failed,
        message: e.to_string(),
    };
    if clean {
        demo.clean().map_err(fail)?;
        outln!("demo removed ({})", demo.root.display());
        return Ok(());
    }
    demo.ensure(store_mb).map_err(fail)?;
    let cfg = demo.config_path();
    if interactive() {
        let (config, _) = config::load(Some(&cfg))?;
        let store = Store::from_config(&config, None);
        return wizard(&config, store, &env.cancel);
    }
    let me = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "structr-backup".into());
    outln!(
        "The demo installation runs in {} (stand-in Neo4j and Structr).",
        demo.root.display()
    );
    outln!("Try it with its own config:\n");
    for cmd in [
        "detect",
        "backup --label first",
        "list",
        "verify --all --deep",
        "prune --dry-run",
        "restore <ID>",
    ] {
        outln!("  {me} --config {} {cmd}", cfg.display());
    }
    outln!("\nRemove it with: {me} demo --clean");
    Ok(())
}

/// Shows the nightly timer, after changing it when asked to.
fn schedule(env: &Env, args: &ScheduleArgs) -> Result<()> {
    use crate::install::schedule;
    let failed = |e: schedule::ScheduleError| Failure {
        exit: Exit::Failed,
        message: e.to_string(),
    };
    let enable = match (args.enable, args.disable) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    if args.at.is_some() || enable.is_some() {
        let done = schedule::apply(schedule::Change {
            at: args.at,
            enable,
        })
        .map_err(failed)?;
        for line in done {
            // Keep stdout one JSON document; what was done goes to stderr then.
            match env.cli.json {
                true => errln!("{line}"),
                false => outln!("{line}"),
            }
        }
    }
    let status = schedule::status().map_err(failed)?;
    let file = ops::state::state_dir().join(schedule::LAST_RUN_FILE);
    let last = schedule::read_last_run(&file);
    if env.cli.json {
        let mut v = json!(status);
        v["last_run"] = json!(last.as_ref().ok().and_then(|o| o.as_ref()));
        v["last_run_file"] = json!(file);
        v["last_run_error"] = json!(last.as_ref().err());
        env.print_json(v);
        return Ok(());
    }
    outln!(
        "timer        {}: {}, {}",
        status.timer,
        if status.enabled {
            "enabled".to_string()
        } else {
            format!("NOT enabled ({})", status.unit_file_state)
        },
        if status.active { "active" } else { "inactive" }
    );
    let when = match status.time {
        Some(t) => format!("daily at {t} local time"),
        None => status.on_calendar.join(", "),
    };
    let delay = match status.randomized_delay.as_str() {
        "" | "0" => String::new(),
        d => format!(", up to {d} later at random"),
    };
    let source = match &status.drop_in {
        Some(p) => format!(" (set in {})", p.display()),
        None => " (the unit's own time)".into(),
    };
    outln!("time         {when}{delay}{source}");
    match status.next_run {
        Some(t) => outln!(
            "next run     {}",
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %Z")
        ),
        None => outln!("next run     none (enable it with `structr-backup schedule --enable`)"),
    }
    match &last {
        Ok(Some(r)) => outln!("last run     {}", last_run_line(r)),
        Ok(None) => outln!("last run     no run recorded yet ({})", file.display()),
        Err(e) => outln!("last run     unknown: {e}"),
    }
    Ok(())
}

fn last_run_line(r: &crate::install::schedule::LastRun) -> String {
    let mut parts = vec![format!(
        "{} {}",
        r.status.as_deref().unwrap_or("unknown"),
        r.operation.as_deref().unwrap_or("run")
    )];
    if let Some(id) = &r.id {
        parts.push(format!("generation {id}"));
    }
    if let Some(t) = r.when() {
        parts.push(format!(
            "{} ({})",
            t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S"),
            units::age(chrono::Utc::now() - t)
        ));
    }
    if let Some(d) = r.downtime_secs.filter(|d| *d >= 0.0) {
        parts.push(format!(
            "downtime {}",
            units::duration(std::time::Duration::from_secs_f64(d))
        ));
    }
    if let Some(code) = r.exit_code.filter(|c| *c != 0) {
        parts.push(format!("exit code {code}"));
    }
    if let Some(e) = &r.error {
        parts.push(format!("error: {e}"));
    }
    parts.join(", ")
}
