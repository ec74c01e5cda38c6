//! Services run by systemd: `systemctl stop/start/is-active`. Structr's unit has
//! Restart=always, so it is only ever stopped through systemctl (a killed process
//! would be restarted at once).

use std::time::Duration;

use super::health::Health;
use super::service::{act_and_wait, run_checked, ServiceControl, ServiceError};
use crate::process;

pub struct SystemdService {
    name: String,
    unit: String,
    health: Health,
}

impl SystemdService {
    pub fn new(name: &str, unit: &str, health: Health) -> Self {
        Self {
            name: name.into(),
            unit: unit.into(),
            health,
        }
    }

    fn systemctl(&self, verb: &str, timeout: Duration) -> Result<(), ServiceError> {
        let argv = vec!["systemctl".to_string(), verb.to_string(), self.unit.clone()];
        let hint = format!(
            " (see `systemctl status {}` and `journalctl -u {}`)",
            self.unit, self.unit
        );
        run_checked(&self.name, &argv, timeout, &hint)
    }
}

/// Whether systemd knows the unit (LoadState=loaded).
pub fn unit_loaded(unit: &str) -> Result<bool, String> {
    let argv: Vec<String> = ["systemctl", "show", "-p", "LoadState", "--value", unit]
        .map(String::from)
        .to_vec();
    let out = process::run(&argv, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(out.tail());
    }
    Ok(out.stdout.trim() == "loaded")
}

/// A unit property (`systemctl show -p NAME --value`), empty when unset.
pub fn unit_property(unit: &str, property: &str) -> String {
    let argv: Vec<String> = ["systemctl", "show", "-p", property, "--value", unit]
        .map(String::from)
        .to_vec();
    process::run(&argv, Duration::from_secs(10))
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default()
}

impl ServiceControl for SystemdService {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!("systemd unit {}", self.unit)
    }

    fn is_running(&self) -> Result<bool, ServiceError> {
        let argv: Vec<String> = ["systemctl", "is-active", "--quiet", &self.unit]
            .map(String::from)
            .to_vec();
        Ok(process::run(&argv, Duration::from_secs(10))?.success())
    }

    fn is_stopped(&self) -> Result<bool, ServiceError> {
        let argv: Vec<String> = [
            "systemctl",
            "show",
            "-p",
            "ActiveState",
            "--value",
            &self.unit,
        ]
        .map(String::from)
        .to_vec();
        let out = process::run(&argv, Duration::from_secs(10))?;
        Ok(out.success() && matches!(out.stdout.trim(), "inactive" | "failed"))
    }

    fn stop(&self, timeout: Duration) -> Result<(), ServiceError> {
        let hint = format!("systemctl status {}", self.unit);
        act_and_wait(self, false, timeout, hint, || {
            self.systemctl("stop", timeout)
        })
    }

    fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        let hint = format!("systemctl status {}", self.unit);
        act_and_wait(self, true, timeout, hint, || {
            // A unit that failed to start repeatedly (Restart=always) hits systemd's
            // start limit and refuses every start until its failed state is reset.
            let _ = self.systemctl("reset-failed", timeout);
            self.systemctl("start", timeout)
        })
    }

    fn main_pid(&self) -> Option<u32> {
        unit_property(&self.unit, "MainPID")
            .parse()
            .ok()
            .filter(|pid| *pid > 0)
    }

    fn wait_healthy(&self, timeout: Duration) -> Result<(), ServiceError> {
        super::service::wait_healthy(
            &self.name,
            &self.health,
            timeout,
            &format!(
                "systemctl status {}; journalctl -u {} -n 50",
                self.unit, self.unit
            ),
        )
    }
}
