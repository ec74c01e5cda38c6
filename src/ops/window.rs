//! The maintenance window: services stopped in order (Structr, then Neo4j), work done,
//! services started in reverse order, with the journal kept in step so that a killed
//! run can be recovered. Whoever opens a window must close it on every path.

use std::path::Path;
use std::time::{Duration, Instant};

use super::event::{Event, Sink, Step};
use super::journal::Journal;
use super::OpError;
use crate::install::{store_lock, Installation};

pub struct Window<'a> {
    inst: &'a Installation,
    journal: Journal,
    first_stop: Option<Instant>,
    last_start: Option<Instant>,
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

/// The steps of starting every service again, each followed by its health check.
pub fn start_steps(inst: &Installation) -> Vec<Step> {
    inst.services
        .iter()
        .rev()
        .flat_map(|s| [Step::Start(s.name().into()), Step::Health(s.name().into())])
        .collect()
}

impl<'a> Window<'a> {
    pub fn new(inst: &'a Installation, repo: &Path, operation: &str) -> Self {
        Self {
            inst,
            journal: Journal::begin(repo, operation),
            first_stop: None,
            last_start: None,
        }
    }

    /// For `recover`: a window whose services are already down.
    pub fn resume(inst: &'a Installation, journal: Journal) -> Self {
        Self {
            inst,
            journal,
            first_stop: None,
            last_start: None,
        }
    }

    pub fn journal(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// Stops every service in order, then proves Neo4j released its store.
    pub fn stop_all(&mut self, on: Sink) -> Result<(), OpError> {
        for svc in &self.inst.services {
            let step = Step::Stop(svc.name().to_string());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            self.journal.mark_stopping(svc.name())?;
            self.first_stop.get_or_insert(t);
            if let Err(e) = svc.stop(self.inst.stop_timeout) {
                on(Event::Failed(step, e.to_string()));
                return Err(OpError::failed(format!(
                    "could not stop {}: {e}",
                    svc.name()
                )));
            }
            on(Event::Finished(step, t.elapsed()));
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
            let step = Step::Start(name.clone());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            match svc.start(self.inst.start_timeout) {
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
            match svc.wait_healthy(self.inst.start_timeout) {
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
        closing
    }

    /// From the first stop to the last successful start.
    pub fn downtime(&self) -> Duration {
        match (self.first_stop, self.last_start) {
            (Some(a), Some(b)) => b.duration_since(a),
            (Some(a), None) => a.elapsed(),
            _ => Duration::ZERO,
        }
    }
}
