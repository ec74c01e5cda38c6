//! The disaster recovery's slow work, each a task (see `tasks`): opening and
//! listing the source (a remote restic repository answers in seconds), working
//! out the plan, the restore itself (a watched job like any restore), and the
//! checklist's fresh look at the services.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::app::App;
use super::effects::watch;
use super::recovery::{Checklist, Opened, Plan, RecoveryMsg, ServiceCheck, Tone};
use super::state::{Effect, SourceSpec};
use super::world::{Answer, Kind, World};
use crate::install::health::Health;
use crate::install::{conf, detect, Installation, ROLE_STRUCTR};
use crate::ops::restore::RestoreOptions;
use crate::ops::{self, Context};
use crate::repo::error::RepoError;
use crate::repo::store::Store;
use crate::units;

/// Structr's readiness endpoint (STRUCTR.md §4): 200 once it serves requests.
const READY_PATH: &str = "/structr/health/ready";

/// The longest the checklist waits for a service or Structr's port to answer.
const CHECK_WAIT: Duration = Duration::from_secs(60);

impl World {
    /// Carries out a recovery's effect. Each stage's task supersedes the one
    /// before (its answer is for a stage the user left); a panic in one is
    /// that stage's failure.
    pub(super) fn perform_recovery(&mut self, app: &mut App, effect: Effect) {
        match effect {
            Effect::OpenRecoverySource(spec) => {
                self.recovery_from = None;
                let config = self.config.clone();
                self.tasks.start(
                    Kind::Recovery,
                    move |_| Answer::Recovery(RecoveryMsg::Opened(open(&config, &spec))),
                    |e| Answer::Recovery(RecoveryMsg::Opened(Err(e))),
                );
            }
            Effect::RecoveryPlan(id) => {
                let Some(from) = self.recovery_from.clone() else {
                    let why = "no source is open for the recovery: choose it again";
                    app.on_recovery(RecoveryMsg::Planned(id, Err(why.into())));
                    return;
                };
                let (inst, store, config) =
                    (self.inst.clone(), self.store.clone(), self.config.clone());
                let for_id = id.clone();
                self.tasks.start(
                    Kind::Recovery,
                    move |_| prepared_plan(&config, inst, &store, &from, id),
                    move |e| Answer::Recovery(RecoveryMsg::Planned(for_id.clone(), Err(e))),
                );
            }
            Effect::VerifyBeforeRecovery(id) => {
                let Some(from) = self.recovery_from.clone() else {
                    let why = "no source is open for the recovery: choose it again";
                    return self.fail_job(why.into());
                };
                self.verifying = Some((id.clone(), chrono::Utc::now()));
                self.spawn_watched(watch("verify", Some(&id)), move |ctx, on| {
                    ops::restore::verify_first(&from, &id, &ctx.cancel, on)?;
                    Ok(format!("{id} is intact (quick verification)."))
                });
            }
            Effect::StartRecovery(id) => {
                let Some(from) = self.recovery_from.clone() else {
                    let why = "no source is open for the recovery: choose it again";
                    return self.fail_job(why.into());
                };
                let verified = self.take_verified(&id);
                self.spawn_watched(watch("restore", Some(&id)), move |ctx, on| {
                    let opts = RestoreOptions {
                        safety_backup: true,
                    };
                    let out =
                        ops::restore::run_verified(ctx, Some(&from), &id, &opts, verified, on)?;
                    let mut s = format!(
                        "Generation {} restored from {}.",
                        out.restored.id,
                        from.location()
                    );
                    if !out.closing.unhealthy.is_empty() {
                        s.push_str(&format!(
                            " Not healthy in time: {}.",
                            out.closing.unhealthy.join(", ")
                        ));
                    }
                    Ok(s)
                });
            }
            Effect::RecoveryCheck { start } => {
                self.perform(app, Effect::Refresh);
                let Ok(inst) = &self.inst else { return };
                let (inst, store) = (inst.clone(), self.store.clone());
                let scratch = self.config.drill.scratch.clone();
                let kept = self.recovery_kept.clone();
                self.tasks.start(
                    Kind::Recovery,
                    move |_| {
                        let checked = check(&inst, store, &scratch, start, kept);
                        Answer::Recovery(RecoveryMsg::Checked(checked))
                    },
                    |e| Answer::Recovery(RecoveryMsg::Checked(check_failed(e))),
                );
            }
            _ => {}
        }
    }
}

/// The checklist when the check itself panicked: it says so where a service would.
fn check_failed(report: String) -> Checklist {
    Checklist {
        services: vec![ServiceCheck {
            name: "the check itself".into(),
            running: None,
            health: Err(report),
        }],
        http: None,
        kept: Vec::new(),
        start_errors: Vec::new(),
    }
}

/// A context for reading plans: no job runs in it.
fn quiet_context<'a>(inst: &'a Installation, store: &Store) -> Context<'a> {
    Context::preview(inst, store.clone())
}

/// A folder right below `folder` that holds generations (or is a restic
/// repository): what was meant when a parent was typed. Reads at most a few
/// hundred entries, names only.
fn holder_below(folder: &Path) -> Option<PathBuf> {
    let holds = |dir: &Path| {
        let restic = dir.join("config").is_file() && dir.join("keys").is_dir();
        restic
            || std::fs::read_dir(dir).is_ok_and(|entries| {
                entries.flatten().take(500).any(|e| {
                    crate::ids::is_generation_id(&e.file_name().to_string_lossy())
                        && e.path().join("manifest.toml").is_file()
                })
            })
    };
    let mut subs: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .take(500)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    subs.into_iter().find(|p| holds(p))
}

/// Opens the source and lists it.
fn open(config: &crate::config::Config, spec: &SourceSpec) -> Result<(Store, Opened), String> {
    // Its words are the CLI's (`--from X: …`); here the place was typed, not a flag.
    let store =
        Store::open_from(config, &spec.given, spec.password_file.as_deref()).map_err(|e| {
            let flag = format!("--from {}: ", spec.given);
            e.strip_prefix(&flag).map(str::to_string).unwrap_or(e)
        })?;
    // A copy is recovered from: nothing here may be created (no `init`).
    if let Store::Restic(r) = &store {
        if let Err(e) = std::fs::File::open(&r.password_file) {
            return Err(format!(
                "the restic password file {} cannot be read ({e}): a restic repository opens \
                 only with the password it was made with; copy that file from the old server \
                 or your password safe and type its path",
                r.password_file.display()
            ));
        }
    }
    let (generations, unreadable) = store.list().map_err(|e| match e {
        RepoError::NoRepository(_) => format!(
            "there is no repository at {}: check the location (the copied repository \
             folder itself, or the location it was made with)",
            store.location()
        ),
        e => format!("cannot list {}: {e}", store.location()),
    })?;
    if generations.is_empty() {
        if let Some(sub) = store.local_folder().and_then(holder_below) {
            return Err(format!(
                "{} holds no generation, but {} does: did you mean it?",
                store.location(),
                sub.display()
            ));
        }
    }
    let location = store.location();
    Ok((
        store,
        Opened {
            location: location.to_string(),
            generations,
            unreadable: unreadable.iter().map(|e| e.to_string()).collect(),
        },
    ))
}

/// The plan of a recovery, after what a restore needs before the installation
/// can be detected (`ops::restore::prepare_installation`: on a fresh Docker
/// host, the Compose project's containers and volumes, as the CLI's restore
/// makes them). When that made something, the installation is detected afresh
/// and goes back to the world with the plan.
fn prepared_plan(
    config: &crate::config::Config,
    inst: Result<Arc<Installation>, String>,
    store: &Store,
    from: &Store,
    id: String,
) -> Answer {
    let said = match ops::restore::prepare_installation(config) {
        Ok(said) => said,
        Err(e) => return Answer::Recovery(RecoveryMsg::Planned(id, Err(e.to_string()))),
    };
    let fresh = said.is_some();
    let inst = match fresh {
        true => detect::detect(config)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
        false => inst,
    };
    let planned = match &inst {
        Ok(i) => plan(i, store, from, &id).map(|mut p| {
            if let Some(said) = said {
                p.lines.insert(0, (Tone::Plain, said));
            }
            p
        }),
        Err(e) => Err(format!("no installation here: {e}")),
    };
    let msg = RecoveryMsg::Planned(id, planned);
    match fresh {
        true => Answer::Detected(inst, msg),
        false => Answer::Recovery(msg),
    }
}

/// What restoring `id` from `from` does here: each component created or
/// replaced, the compatibility checks, the services (`ops::restore::plan`, in
/// the wizard's words).
fn plan(inst: &Installation, store: &Store, from: &Store, id: &str) -> Result<Plan, String> {
    let ctx = quiet_context(inst, store);
    let p = ops::restore::plan(&ctx, from, id, false).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    let mut kept = Vec::new();
    for r in &p.checks.refusals {
        lines.push((Tone::Refused, format!("REFUSED: {r}")));
    }
    match &p.targets {
        Ok(targets) => {
            for t in targets {
                let p = &t.placement;
                let what = if !t.exists {
                    "CREATED (does not exist yet)".to_string()
                } else if t.empty {
                    kept.push(p.kept.clone());
                    format!("REPLACED (it is empty; kept as {})", p.kept.display())
                } else {
                    kept.push(p.kept.clone());
                    format!("REPLACED (kept as {})", p.kept.display())
                };
                lines.push((
                    Tone::Plain,
                    format!(
                        "{}  {}: {what}, {} in {} files",
                        p.name,
                        p.target.display(),
                        units::bytes(p.bytes),
                        p.files
                    ),
                ));
            }
        }
        Err(e) => lines.push((Tone::Refused, format!("REFUSED: {e}"))),
    }
    for l in p.checks.plan_lines() {
        let tone = if l.starts_with("WARNING") {
            Tone::Warn
        } else {
            Tone::Plain
        };
        lines.push((tone, l));
    }
    if !p.stops.is_empty() {
        lines.push((
            Tone::Plain,
            format!(
                "stops {} for the restore and starts them again after",
                p.stops.join(", then ")
            ),
        ));
    }
    let stopped = &p.left_stopped;
    if !stopped.is_empty() {
        lines.push((
            Tone::Plain,
            format!(
                "{} {} stopped now and stay{} stopped; the checklist at the end offers to start them",
                stopped.join(", "),
                if stopped.len() == 1 { "is" } else { "are" },
                if stopped.len() == 1 { "s" } else { "" }
            ),
        ));
    }
    Ok(Plan {
        lines,
        refused: p.refusal().is_some(),
        kept,
    })
}

/// A fresh look at the installation after the restore; with `start`, the
/// stopped services are started first (Neo4j before Structr, the reverse of
/// the stop order), as the admin asked on the checklist.
fn check(
    inst: &Arc<Installation>,
    store: Store,
    scratch: &Path,
    start: bool,
    kept: Vec<PathBuf>,
) -> Checklist {
    let wait = inst.start_timeout.min(CHECK_WAIT);
    let mut start_errors = Vec::new();
    if start {
        // As Home's "start" does: in order, recorded in the journal, health-checked.
        let ctx = Context::preview(inst, store);
        match ops::recover::run_starting(&ctx, scratch, true, &mut |_| {}) {
            Ok(out) => start_errors.extend(
                out.closing
                    .still_down
                    .iter()
                    .map(|(name, why)| format!("{name}: {why}")),
            ),
            Err(e) => start_errors.push(e.to_string()),
        }
    }
    let services: Vec<ServiceCheck> = inst
        .services
        .iter()
        .rev()
        .map(|s| {
            let running = s.is_running();
            let health = match &running {
                Ok(true) => s.wait_healthy(wait).map_err(|e| e.to_string()),
                Ok(false) => Err("not running".into()),
                Err(e) => Err(e.to_string()),
            };
            ServiceCheck {
                name: s.name().to_string(),
                running: running.ok(),
                health,
            }
        })
        .collect();
    let structr_down = services
        .iter()
        .any(|s| s.name == "structr" && s.running != Some(true));
    let http = inst
        .components
        .iter()
        .find(|c| c.role == ROLE_STRUCTR)
        .map(|c| conf::structr_conf(&c.path).map_or(8082, |sc| sc.http_port))
        .map(|port| {
            let health = Health::Http {
                port,
                path: READY_PATH.into(),
            };
            let at = format!("http://127.0.0.1:{port}{READY_PATH}");
            let answer = if structr_down {
                Err("not asked: structr is not running".into())
            } else {
                health.wait(wait)
            };
            (at, answer)
        });
    Checklist {
        services,
        http,
        kept: kept.into_iter().filter(|k| k.exists()).collect(),
        start_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_is_not_there_says_so_in_the_wizards_words() {
        let dir = tempfile::tempdir().unwrap();
        let given = dir.path().join("usb").display().to_string();
        let spec = SourceSpec {
            given: given.clone(),
            password_file: None,
        };
        let e = open(&crate::config::Config::default(), &spec).unwrap_err();
        assert!(e.starts_with(&format!("there is no folder {given}")), "{e}");
    }

    #[test]
    fn an_empty_folder_opens_with_no_generation() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SourceSpec {
            given: dir.path().display().to_string(),
            password_file: None,
        };
        let (store, o) = open(&crate::config::Config::default(), &spec).unwrap();
        assert!(matches!(store, Store::Archive(_)));
        assert!(o.generations.is_empty(), "{:?}", o.generations);
    }
}
