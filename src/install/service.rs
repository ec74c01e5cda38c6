//! Stopping, starting and watching the two services. One trait, one implementation
//! per way of control (configured commands now; systemd and compose beside it).

use std::time::{Duration, Instant};

use crate::config::ServiceCommands;
use crate::process::{self, RunError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Command(#[from] RunError),
    #[error("{service}: `{command}` failed (exit {status}): {detail}")]
    Failed {
        service: String,
        command: String,
        status: String,
        detail: String,
    },
    #[error("{service} still runs {secs} s after it was told to stop; check it with `{status}`")]
    StopTimeout {
        service: String,
        secs: u64,
        status: String,
    },
    #[error("{service} runs but did not answer as healthy within {secs} s (last seen: {seen}); check by hand: {check}")]
    Unhealthy {
        service: String,
        secs: u64,
        seen: String,
        check: String,
    },
    #[error("{service} is not running {secs} s after it was started; check it with `{status}` and its logs")]
    StartTimeout {
        service: String,
        secs: u64,
        status: String,
    },
}

pub trait ServiceControl: Send + Sync {
    /// `neo4j` or `structr`.
    fn name(&self) -> &str;
    /// How it is controlled, for plans and messages.
    fn describe(&self) -> String;
    fn is_running(&self) -> Result<bool, ServiceError>;
    /// Whether the service is down and not on its way up or down (a unit that is
    /// activating or restarting is not): only such a service is left as found.
    fn is_stopped(&self) -> Result<bool, ServiceError> {
        self.is_running().map(|r| !r)
    }
    /// Stops the service and returns once it is down (or fails after `timeout`).
    fn stop(&self, timeout: Duration) -> Result<(), ServiceError>;
    /// Starts the service and returns once it runs (or fails after `timeout`).
    fn start(&self, timeout: Duration) -> Result<(), ServiceError>;
    /// Waits until the service answers as healthy; by default running is healthy.
    fn wait_healthy(&self, _timeout: Duration) -> Result<(), ServiceError> {
        Ok(())
    }
    /// The service's main process, where its manager knows one (systemd's
    /// MainPID): whose user may hold Structr's port.
    fn main_pid(&self) -> Option<u32> {
        None
    }
}

/// A service controlled by configured command lines (the `custom` installation kind).
pub struct CommandService {
    name: String,
    start: Vec<String>,
    stop: Vec<String>,
    status: Vec<String>,
}

impl CommandService {
    pub fn new(name: &str, cmds: &ServiceCommands) -> Self {
        // The config was validated, so splitting succeeds; an empty argv fails at run time.
        let split = |s: &str| shell_words::split(s).unwrap_or_default();
        Self {
            name: name.to_string(),
            start: split(&cmds.start),
            stop: split(&cmds.stop),
            status: split(&cmds.status),
        }
    }
}

impl ServiceControl for CommandService {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!(
            "stop: `{}`, start: `{}`",
            process::display(&self.stop),
            process::display(&self.start)
        )
    }

    fn is_running(&self) -> Result<bool, ServiceError> {
        Ok(process::run(&self.status, Duration::from_secs(30))?.success())
    }

    fn stop(&self, timeout: Duration) -> Result<(), ServiceError> {
        let hint = process::display(&self.status);
        act_and_wait(self, false, timeout, hint, || {
            run_checked(&self.name, &self.stop, timeout, "")
        })
    }

    fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        let hint = process::display(&self.status);
        act_and_wait(self, true, timeout, hint, || {
            run_checked(&self.name, &self.start, timeout, "")
        })
    }
}

/// Runs a control command; a failure names the service, the command, its exit
/// status and output, followed by `hint` (where to look next).
pub fn run_checked(
    service: &str,
    argv: &[String],
    timeout: Duration,
    hint: &str,
) -> Result<(), ServiceError> {
    let out = process::run(argv, timeout)?;
    if out.success() {
        return Ok(());
    }
    Err(ServiceError::Failed {
        service: service.to_string(),
        command: process::display(argv),
        status: out
            .status
            .map_or("killed by a signal".into(), |c| c.to_string()),
        detail: format!("{}{hint}", out.tail()),
    })
}

/// Runs a stop or start `action`, then waits until the service is down
/// (`running` false) or up; `status` is how a person checks it by hand.
pub fn act_and_wait(
    svc: &dyn ServiceControl,
    running: bool,
    timeout: Duration,
    status: String,
    action: impl FnOnce() -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    let deadline = crate::units::deadline(timeout);
    action()?;
    if wait_for(svc, running, deadline) {
        return Ok(());
    }
    let (service, secs) = (svc.name().to_string(), timeout.as_secs());
    Err(match running {
        true => ServiceError::StartTimeout {
            service,
            secs,
            status,
        },
        false => ServiceError::StopTimeout {
            service,
            secs,
            status,
        },
    })
}

/// Polls `is_running` until it equals `running`; false when the deadline passed first.
pub fn wait_for(svc: &dyn ServiceControl, running: bool, deadline: Instant) -> bool {
    loop {
        if svc.is_running().ok() == Some(running) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `health` passes; a timeout names what was seen last and how to
/// check by hand (`hint`: the service manager's status and log commands).
pub fn wait_healthy(
    service: &str,
    health: &super::health::Health,
    timeout: Duration,
    hint: &str,
) -> Result<(), ServiceError> {
    health
        .wait(timeout)
        .map_err(|seen| ServiceError::Unhealthy {
            service: service.to_string(),
            secs: timeout.as_secs(),
            seen,
            check: format!("{}; {hint}", health.manual_check()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(dir: &std::path::Path, stop: &str) -> CommandService {
        let flag = dir.join("running");
        let f = flag.display();
        CommandService::new(
            "demo",
            &ServiceCommands {
                start: format!("touch {f}"),
                stop: stop.replace("FLAG", &f.to_string()),
                status: format!("test -e {f}"),
            },
        )
    }

    #[test]
    fn start_and_stop_wait_for_status() {
        let dir = tempfile::tempdir().unwrap();
        let s = svc(dir.path(), "rm -f FLAG");
        s.start(Duration::from_secs(5)).unwrap();
        assert!(s.is_running().unwrap());
        s.stop(Duration::from_secs(5)).unwrap();
        assert!(!s.is_running().unwrap());
    }

    #[test]
    fn a_service_that_will_not_stop_times_out_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let s = svc(dir.path(), "true");
        s.start(Duration::from_secs(5)).unwrap();
        let err = s.stop(Duration::from_secs(1)).unwrap_err().to_string();
        assert!(err.contains("demo still runs 1 s after"), "{err}");
    }

    #[test]
    fn a_failing_command_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let s = svc(dir.path(), "sh -c 'echo permission denied >&2; exit 4'");
        let err = s.stop(Duration::from_secs(5)).unwrap_err().to_string();
        assert!(
            err.contains("exit 4") && err.contains("permission denied"),
            "{err}"
        );
    }
}
