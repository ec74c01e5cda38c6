//! `schedule`.

use std::path::Path;

use serde::Serialize;

use super::args::ScheduleArgs;
use super::env::{Env, Failure, Result};
use crate::ops::exit::Exit;
use crate::ops::{self};
use crate::units;
use crate::{errln, outln};

/// `schedule --json` (docs/json.md): the timer's state and the last run's record.
#[derive(Serialize)]
struct ScheduleDoc<'a> {
    #[serde(flatten)]
    status: &'a crate::install::schedule::Status,
    /// The newest run on this installation.
    last_run: Option<&'a crate::install::schedule::LastRun>,
    /// The last run of each operation on this installation, newest first.
    last_runs: &'a [crate::install::schedule::LastRun],
    last_run_file: &'a Path,
    /// Why the last run's record could not be read.
    last_run_error: Option<&'a String>,
}

/// Shows the nightly timer, after changing it when asked to.
pub(super) fn schedule(env: &Env, args: &ScheduleArgs) -> Result<()> {
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
    // This installation's runs (a host may back up several).
    let key = env.installation().ok().map(|i| i.key());
    let dir = ops::state::state_dir();
    let file = match &key {
        Some(k) => dir.join(schedule::last_runs_file(k)),
        None => dir.join(schedule::LAST_RUN_FILE),
    };
    let last = schedule::read_last_runs(&dir, key.as_deref());
    let runs = last.as_ref().map(|r| r.0.as_slice()).unwrap_or_default();
    let status = match schedule::status() {
        Ok(s) => s,
        // The runs are known without systemd: say them before why the timer is not.
        Err(e) if !env.cli.json => {
            print_last(&last, &file);
            return Err(failed(e));
        }
        Err(e) => return Err(failed(e)),
    };
    if env.cli.json {
        return env.print_json(&ScheduleDoc {
            status: &status,
            last_run: runs.first(),
            last_runs: runs,
            last_run_file: &file,
            last_run_error: last.as_ref().err(),
        });
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
    print_last(&last, &file);
    Ok(())
}

/// One line for the last run of each operation, newest first.
fn print_last(last: &std::result::Result<crate::install::schedule::Runs, String>, file: &Path) {
    match last {
        Ok(runs) if runs.0.is_empty() => {
            outln!("last run     no run recorded yet ({})", file.display())
        }
        Ok(runs) => {
            for r in &runs.0 {
                outln!(
                    "{:<13}{}",
                    format!("last {}", r.operation()),
                    last_run_line(r)
                );
            }
        }
        Err(e) => outln!("last run     unknown: {e}"),
    }
}

pub(super) fn last_run_line(r: &crate::install::schedule::LastRun) -> String {
    let mut parts = vec![r.status.as_deref().unwrap_or("unknown").to_string()];
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
    // Only a run that stopped the services had a downtime.
    if let Some(d) = r.downtime_secs.filter(|d| *d > 0.0) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::schedule::Status;

    /// Without a running systemd the integration test only sees the failure
    /// document; the success document's keys are checked against docs/json.md here.
    #[test]
    fn the_json_document_has_the_documented_keys() {
        let status = Status {
            timer: "structr-backup.timer",
            unit_file_state: "enabled".into(),
            enabled: true,
            active: true,
            time: None,
            on_calendar: vec![],
            randomized_delay: String::new(),
            drop_in: None,
            next_run: None,
        };
        let doc = ScheduleDoc {
            status: &status,
            last_run: None,
            last_runs: &[],
            last_run_file: Path::new("/var/lib/structr-backup/last-run.json"),
            last_run_error: None,
        };
        let v = serde_json::to_value(&doc).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        let docs = include_str!("../../docs/json.md");
        let row = docs
            .lines()
            .find(|l| l.starts_with("| `schedule` |"))
            .unwrap();
        let cell = row.split('|').nth(2).unwrap();
        let mut documented: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        documented.sort();
        assert_eq!(keys, documented);
    }
}
