//! Wizard runs are reported like CLI runs (see `crate::notify`): a backup,
//! restore, verification, prune or recover started in the wizard updates the
//! last-run status file and the metrics, and pings, posts and mails as
//! configured. Deliveries happen on the job's thread; their warnings go to the
//! job's screen.

use crate::config::Config;
use crate::notify;
use crate::ops::Event;
use crate::repo::store::Store;

use super::failure::Failed;
use super::panics;

/// A monitored run: the operation as the CLI names it, and its generation.
pub struct Watch {
    pub operation: &'static str,
    pub id: Option<String>,
}

impl Watch {
    /// What the monitors hear of, on the installation keyed `installation`.
    fn on(self, installation: Option<String>) -> notify::What<'static> {
        notify::What {
            operation: self.operation,
            id: self.id,
            installation,
        }
    }
}

/// Runs `work` as a monitored run of `watch`: the monitors hear it began, every
/// event it reports is kept for their log, and they hear how it ended (with
/// the exit code the CLI would give) whatever that is, a panic included.
pub fn watched(
    config: &Config,
    store: &Store,
    (watch, installation): (Watch, Option<String>),
    on: &mut dyn FnMut(Event),
    work: impl FnOnce(&mut dyn FnMut(Event)) -> Result<String, Failed>,
) -> Result<String, Failed> {
    // Shared by the deliveries' warnings (before and after the run) and the run.
    let on = std::cell::RefCell::new(on);
    notify::watched(
        config,
        store,
        watch.on(installation),
        &mut |w| (on.borrow_mut())(Event::Warning(w)),
        || {
            panics::caught(|| {
                work(&mut |e| {
                    notify::log::event(&e);
                    (on.borrow_mut())(e)
                })
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{OpError, Step};

    fn config(metrics: &std::path::Path) -> Config {
        let mut c = Config::default();
        c.notify.metrics_file = Some(metrics.to_path_buf());
        c
    }

    #[test]
    fn a_wizard_run_updates_the_metrics_with_the_clis_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("m.prom");
        let repo = Store::Archive(crate::repo::generation::Repo::new(dir.path().join("repo")));
        let mut seen = Vec::new();
        let watch = Watch {
            operation: "verify",
            id: Some("20261124T031500Z".into()),
        };
        let r = watched(
            &config(&metrics),
            &repo,
            (watch, None),
            &mut |e| seen.push(e),
            |on| {
                on(Event::Started(Step::Verify("x".into())));
                Err(Failed::from(OpError::Verify("x is damaged".into())))
            },
        );
        assert_eq!(r.unwrap_err().exit, crate::ops::exit::Exit::Verify);
        assert_eq!(seen.len(), 1, "the events reach the screen: {seen:?}");
        let text = std::fs::read_to_string(&metrics).unwrap();
        assert!(
            text.contains("structr_backup_last_exit_code{operation=\"verify\""),
            "{text}"
        );
        assert!(text.contains("} 3\n"), "exit code 3: {text}");
    }

    #[test]
    fn a_panic_is_reported_as_a_failure_too() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("m.prom");
        let repo = Store::Archive(crate::repo::generation::Repo::new(dir.path().join("repo")));
        let watch = Watch {
            operation: "prune",
            id: None,
        };
        let r = watched(&config(&metrics), &repo, (watch, None), &mut |_| {}, |_| {
            panic!("a worker broke")
        });
        assert!(r.unwrap_err().message.contains("a worker broke"));
        let text = std::fs::read_to_string(&metrics).unwrap();
        assert!(
            text.contains("structr_backup_last_failure_timestamp_seconds{operation=\"prune\""),
            "{text}"
        );
    }
}
