//! The run's environment (config, repository, the off-site source, cancel) and how a command fails (with its exit).

use std::io::IsTerminal;

use super::args::Cli;
use super::render::Renderer;
use crate::cancel::Cancel;
use crate::config::{self, Config};
use crate::install::{detect, Installation};
use crate::ops::exit::Exit;
use crate::ops::{self, Context, OpError};
use crate::repo::store::Store;
use crate::{errln, outln};

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl crate::notify::Failing for Failure {
    fn exit(&self) -> Exit {
        self.exit
    }
    fn message(&self) -> &str {
        &self.message
    }
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
        let doc = super::json::FailureDoc {
            error: super::json::ErrorDoc {
                kind: self.exit.kind(),
                message: &self.message,
            },
            exit_code: self.exit.code(),
        };
        outln!("{}", super::json::pretty(&doc).unwrap_or_default());
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

pub type Result<T> = std::result::Result<T, Failure>;

/// `-q` and `-v`. Neither reaches the wizard (its screen is the output) or the demo.
fn output_level(cli: &Cli) {
    use super::args::Command;
    let Some(command) = &cli.command else {
        return;
    };
    // The demo opens the wizard at a terminal, and says where it is otherwise.
    if matches!(command, Command::Demo { .. }) {
        return;
    }
    if cli.quiet {
        // What a command is asked to show is its answer, not a report on its work.
        let shows = cli.json
            || matches!(
                command,
                Command::List
                    | Command::Show { .. }
                    | Command::Detect
                    | Command::Schedule(_)
            )
            || matches!(command, Command::Prune(p) if p.dry_run)
            // Asked to confirm, a person must see what they are confirming.
            || (!cli.yes
                && matches!(
                    command,
                    Command::Restore { only: None, .. } | Command::Prune(_) | Command::Delete { .. }
                ));
        super::output::quiet(shows);
    }
    if cli.verbose {
        super::output::verbose();
    }
}

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
        output_level(&cli);
        let (mut config, source) = config::load(cli.config.as_deref())?;
        crate::ops::state::keep_state_as_configured(&config);
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
        super::output::hide(secrets);
        if let Some(given) = env.cli.from.clone() {
            env.from = Some(
                Store::open_from(&env.config, &given, env.cli.password_file.as_deref())
                    .map_err(Failure::usage)?,
            );
        }
        Ok(env)
    }

    pub(super) fn installation(&self) -> Result<Installation> {
        detect::detect(&self.config).map_err(|e| Failure::from(OpError::from(e)))
    }

    /// The context of a run that writes: always the repository (`--from` only
    /// chooses what reading commands read).
    pub(super) fn context<'a>(&self, inst: &'a Installation) -> Context<'a> {
        Context::new(&self.config, inst, self.store.clone(), self.cancel.clone())
    }

    /// The off-site target `name`, as a store of the repository's kind.
    pub(super) fn offsite(&self, name: &str) -> Result<Store> {
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
    pub(super) fn reading(&self) -> &Store {
        self.from.as_ref().unwrap_or(&self.store)
    }

    /// The command as the user ran it, up to the subcommand, for hints: a hint to
    /// run `structr-backup recover` must name the same config and repository.
    pub(super) fn invocation(&self) -> String {
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
    pub(super) fn existing_repo(&self) -> Result<&Store> {
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
            // Not `backup`: it would stop the services to write into a mistyped path.
            (None, config::RepoKind::Archive) => (
                format!("the repository {}", store.location()),
                "if that is the right place, `structr-backup init` creates it",
            ),
            (None, config::RepoKind::Restic) => (
                format!("the restic repository {}", store.location()),
                "if that is the right place, `structr-backup init` creates it",
            ),
        };
        Err(Failure {
            exit: Exit::NoRepository,
            message: format!(
                "{what} does not exist. Check --repo, --from or the config ({}); {fix}",
                self.source
            ),
        })
    }

    /// The generation the user means: an id, a unique prefix of one, or `latest`.
    pub(super) fn id(&self, given: &str) -> Result<String> {
        let store = self.existing_repo()?;
        Ok(store.resolve(given).map_err(OpError::from)?)
    }

    /// Prints the run's one JSON document (a shape from docs/json.md).
    pub(super) fn print_json(&self, doc: &impl serde::Serialize) -> Result<()> {
        let text = super::json::pretty(doc).map_err(|e| Failure {
            exit: Exit::Failed,
            message: format!("cannot write the JSON output: {e}; this is a bug, please report it"),
        })?;
        outln!("{text}");
        super::output::json_printed();
        Ok(())
    }

    /// Destructive commands need `--yes` or a person at a terminal who confirms.
    pub(super) fn confirm(&self, what: &str, typed: Option<&str>) -> Result<()> {
        if self.cli.yes {
            return Ok(());
        }
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Err(Failure::usage(format!(
                "{what}: there is no terminal to confirm on; add --yes to confirm"
            )));
        }
        match super::confirm::ask(what, typed, &self.cancel) {
            super::confirm::Answer::Yes => Ok(()),
            super::confirm::Answer::No => Err(Failure {
                exit: Exit::Cancelled,
                message: "not confirmed; nothing was changed".into(),
            }),
            super::confirm::Answer::Cancelled => Err(Failure {
                exit: Exit::Cancelled,
                message: "cancelled at the question; nothing was changed".into(),
            }),
        }
    }
}

/// The id a prefix or `latest` names, for the monitors; as typed when it names none.
pub(super) fn resolved(env: &Env, given: &str) -> String {
    env.reading()
        .resolve(given)
        .unwrap_or_else(|_| given.to_string())
}

/// Shows an event and keeps its line for the notifications.
pub(super) fn tee(r: &mut Renderer, e: ops::Event) {
    crate::notify::log::event(&e);
    r.event(e)
}
