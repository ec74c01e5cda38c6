//! The maintenance window: services stopped in order (Structr, then Neo4j), work done,
//! services started in reverse order, with the journal kept in step so that a killed
//! run can be recovered. The window is a guard: if it is dropped without `close`
//! (an early return, a panic unwinding through it), it starts what it stopped.
//! Services found stopped are left stopped: only what this run stopped is started.

use std::time::{Duration, Instant};

use super::event::{Event, Sink, Step};
use super::journal::Journal;
use super::maintenance::{self, Page};
use super::OpError;
use crate::install::{store_lock, Installation};

pub struct Window<'a> {
    inst: &'a Installation,
    journal: Journal,
    first_stop: Option<Instant>,
    last_start: Option<Instant>,
    /// Services that were already stopped when the window opened (left stopped).
    found_stopped: Vec<String>,
    stop_time: Duration,
    start_time: Duration,
    closed: bool,
    /// What this window is for (None for `recover`): names its downtime record.
    operation: Option<String>,
    /// The maintenance page, while we have Structr stopped.
    page: Option<Page>,
}

/// How a window ended.
#[derive(Debug, Default)]
pub struct Closing {
    /// Services that are down after the close, with the reason.
    pub still_down: Vec<(String, String)>,
    /// Health waits that timed out (services run, but did not answer as healthy).
    pub unhealthy: Vec<String>,
}

impl Closing {
    pub fn all_running(&self) -> bool {
        self.still_down.is_empty()
    }

    /// One sentence for error messages: what state the services are in now.
    pub fn aftermath(&self) -> String {
        if self.all_running() {
            "The services were started again.".into()
        } else {
            let down: Vec<String> = self
                .still_down
                .iter()
                .map(|(s, e)| format!("{s} ({e})"))
                .collect();
            format!(
                "These services could not be started and are DOWN: {}. Fix the cause, then run `structr-backup recover`.",
                down.join(", ")
            )
        }
    }
}

/// The steps of stopping every service and checking Neo4j's store lock, in order.
pub fn stop_steps(inst: &Installation) -> Vec<Step> {
    let mut steps: Vec<Step> = inst
        .services
        .iter()
        .map(|s| Step::Stop(s.name().into()))
        .collect();
    steps.push(Step::StoreLock);
    steps
}

/// The steps of starting every service again (but those found stopped), each
/// followed by its health check.
pub fn start_steps(inst: &Installation, found_stopped: &[String]) -> Vec<Step> {
    inst.services
        .iter()
        .rev()
        .filter(|s| !found_stopped.iter().any(|f| f == s.name()))
        .flat_map(|s| [Step::Start(s.name().into()), Step::Health(s.name().into())])
        .collect()
}

/// Structr's service, the one whose port the maintenance page takes over (every
/// kind of installation names its services `structr` and `neo4j`).
fn is_structr(service: &str) -> bool {
    service == crate::install::ROLE_STRUCTR
}

/// The services of `inst` that are stopped now (a failed status check, or a unit on
/// its way up, counts as running: stopping and starting it again is the safe side).
pub fn found_stopped(inst: &Installation) -> Vec<String> {
    inst.services
        .iter()
        .filter(|s| matches!(s.is_stopped(), Ok(true)))
        .map(|s| s.name().to_string())
        .collect()
}

impl<'a> Window<'a> {
    pub fn new(inst: &'a Installation, operation: &str) -> Self {
        let mut w = Self::resume(inst, Journal::begin(inst, operation));
        w.operation = Some(operation.to_string());
        w
    }

    /// For `recover`: a window whose services are already down.
    pub fn resume(inst: &'a Installation, journal: Journal) -> Self {
        Self {
            inst,
            journal,
            first_stop: None,
            last_start: None,
            found_stopped: Vec::new(),
            stop_time: Duration::ZERO,
            start_time: Duration::ZERO,
            closed: false,
            operation: None,
            page: None,
        }
    }

    /// Services that were already stopped when this window stopped the others.
    pub fn found_stopped(&self) -> &[String] {
        &self.found_stopped
    }

    /// Time spent in stop commands, and in start commands plus health waits.
    pub fn stop_start_time(&self) -> (Duration, Duration) {
        (self.stop_time, self.start_time)
    }

    pub fn journal(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// Stops every running service in order, then proves Neo4j released its store.
    /// A service that is already stopped is left alone (and left stopped).
    pub fn stop_all(&mut self, on: Sink) -> Result<(), OpError> {
        for svc in &self.inst.services {
            let step = Step::Stop(svc.name().to_string());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            if matches!(svc.is_stopped(), Ok(true)) {
                self.found_stopped.push(svc.name().to_string());
                on(Event::Info(format!(
                    "{} was already stopped: it is not stopped by us and will not be started afterwards",
                    svc.name()
                )));
                on(Event::Finished(step, t.elapsed()));
                continue;
            }
            self.journal.mark_stopping(svc.name())?;
            self.first_stop.get_or_insert(t);
            let result = svc.stop(self.inst.stop_timeout);
            self.stop_time += t.elapsed();
            if let Err(e) = result {
                on(Event::Failed(step, e.to_string()));
                return Err(OpError::failed(format!(
                    "could not stop {}: {e}",
                    svc.name()
                )));
            }
            on(Event::Finished(step, t.elapsed()));
            if is_structr(svc.name()) {
                self.page = maintenance::open(
                    self.inst,
                    self.operation.as_deref().unwrap_or("recover"),
                    self.first_stop.unwrap_or(t),
                    on,
                );
            }
        }
        self.check_store_released(on)
    }

    fn check_store_released(&self, on: Sink) -> Result<(), OpError> {
        on(Event::Started(Step::StoreLock));
        let t = Instant::now();
        for c in self.inst.components.iter().filter(|c| c.is_neo4j_store()) {
            let held = store_lock::held_locks(&c.path).map_err(|e| {
                OpError::failed(format!(
                    "cannot check Neo4j's store lock in {}: {e}",
                    c.path.display()
                ))
            })?;
            if let Some(h) = held.first() {
                let msg = format!(
                    "Neo4j still holds its store lock {} (pid {}) although its service reports stopped; refusing to copy a live store. Check which process runs on that data directory",
                    h.path.display(),
                    h.pid
                );
                on(Event::Failed(Step::StoreLock, msg.clone()));
                return Err(OpError::failed(msg));
            }
        }
        on(Event::Finished(Step::StoreLock, t.elapsed()));
        Ok(())
    }

    /// Starts every service this run stopped, in reverse order, each waited for and
    /// health-checked before the next (Structr needs Neo4j). A service that fails
    /// to start stops the sequence: its dependents are not started against a
    /// missing database; the journal keeps them listed for `recover`.
    pub fn close(&mut self, on: Sink) -> Closing {
        self.closed = true;
        let mut closing = Closing::default();
        let stopped: Vec<String> = self.journal.stopped().to_vec();
        for svc in self.inst.services.iter().rev() {
            let name = svc.name().to_string();
            if !stopped.contains(&name) {
                continue;
            }
            if !closing.still_down.is_empty() {
                closing.still_down.push((
                    name,
                    "not started because a service it needs is down".into(),
                ));
                continue;
            }
            if is_structr(&name) {
                // Released before Structr binds its port: the start never meets ours.
                if let Some(page) = self.page.take() {
                    maintenance::close(page, on);
                }
            }
            let step = Step::Start(name.clone());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            let started = svc.start(self.inst.start_timeout);
            self.start_time += t.elapsed();
            match started {
                Ok(()) => {
                    let _ = self.journal.mark_started(&name);
                    self.last_start = Some(Instant::now());
                    on(Event::Finished(step, t.elapsed()));
                }
                Err(e) => {
                    let _ = self.journal.mark_start_failed(&name, &e.to_string());
                    on(Event::Failed(step, e.to_string()));
                    closing.still_down.push((name, e.to_string()));
                    continue;
                }
            }
            let step = Step::Health(name.clone());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            let healthy = svc.wait_healthy(self.inst.start_timeout);
            self.start_time += t.elapsed();
            // Downtime ends when the service answers, not when its start returned.
            self.last_start = Some(Instant::now());
            match healthy {
                Ok(()) => on(Event::Finished(step, t.elapsed())),
                Err(e) => {
                    on(Event::Warning(format!(
                        "{name} runs but is not healthy: {e}"
                    )));
                    on(Event::Failed(step, e.to_string()));
                    closing.unhealthy.push(format!("{name}: {e}"));
                }
            }
        }
        // Structr stays down (a start failed): the run ends, so does the page.
        if let Some(page) = self.page.take() {
            maintenance::close(page, on);
        }
        if let (Some(op), true) = (&self.operation, closing.all_running()) {
            if self.last_start.is_some() {
                maintenance::record_downtime(self.inst, op, self.downtime());
            }
        }
        closing
    }

    /// From the first stop to the last successful start.
    /// The manifest's timings of a run that began at `started` and copied for `copy_secs`.
    pub fn timings(&self, started: Instant, copy_secs: f64) -> crate::repo::manifest::Timings {
        let (stop, start) = self.stop_start_time();
        crate::repo::manifest::Timings {
            downtime_secs: self.downtime().as_secs_f64(),
            total_secs: started.elapsed().as_secs_f64(),
            stop_secs: stop.as_secs_f64(),
            copy_secs,
            start_secs: start.as_secs_f64(),
        }
    }

    pub fn downtime(&self) -> Duration {
        match (self.first_stop, self.last_start) {
            (Some(a), Some(b)) => b.duration_since(a),
            (Some(a), None) => a.elapsed(),
            _ => Duration::ZERO,
        }
    }
}

impl Drop for Window<'_> {
    /// The guard: a window left without `close` (an early return, a panic) starts
    /// what it stopped; the events have nowhere to go, the journal records them.
    fn drop(&mut self) {
        if !self.closed && !self.journal.stopped().is_empty() {
            self.close(&mut |_| {});
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::ServiceCommands;
    use crate::install::service::CommandService;
    use std::path::Path;

    /// Services that are flag files: running while the file exists.
    pub(in crate::ops) fn flag_installation(dir: &Path, names: &[&str]) -> Installation {
        let services = names
            .iter()
            .map(|n| {
                let flag = dir.join(format!("{n}.up"));
                let f = flag.display();
                Box::new(CommandService::new(
                    n,
                    &ServiceCommands {
                        start: format!("touch {f}"),
                        stop: format!("rm -f {f}"),
                        status: format!("test -e {f}"),
                    },
                )) as Box<dyn crate::install::service::ServiceControl>
            })
            .collect();
        Installation {
            kind: crate::config::Kind::Custom,
            host: "h".into(),
            components: vec![crate::install::ComponentSpec::new(
                "structr",
                dir.join("structr"),
            )],
            services,
            notes: vec![],
            versions: Default::default(),
            stop_timeout: Duration::from_secs(5),
            start_timeout: Duration::from_secs(5),
            maintenance: None,
        }
    }

    #[test]
    fn a_panic_inside_the_window_starts_what_it_stopped_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let inst = flag_installation(dir.path(), &["structr", "neo4j"]);
        std::fs::write(dir.path().join("structr.up"), "").unwrap();
        // neo4j is down before we begin: it must stay down.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut w = Window::new(&inst, "backup");
            w.stop_all(&mut |_| {}).unwrap();
            assert_eq!(w.found_stopped(), ["neo4j"]);
            assert!(!dir.path().join("structr.up").exists());
            panic!("a bug in the copy");
        }));
        assert!(result.is_err());
        assert!(
            dir.path().join("structr.up").exists(),
            "the guard started structr again"
        );
        assert!(!dir.path().join("neo4j.up").exists(), "neo4j left as found");
        assert!(crate::ops::journal::interrupted(&inst).is_none());
    }
}
