//! The nightly backup timer, systemd's `structr-backup.timer`: its time (kept in a
//! drop-in we own, so the packaged unit stays untouched), whether it is enabled,
//! when it runs next, and the last run's result as each run records it.
//!
//! Every call here runs `systemctl` and blocks, so the wizard calls it on a thread.
//! Reading the last run takes the file's path from the caller: where run state
//! lives is the engine's business (`ops::state`), and data does not flow back up.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use crate::process;

pub const TIMER: &str = "structr-backup.timer";
/// Our drop-in: a file of our own beside the unit, whichever of /lib or /etc holds it.
pub const DROP_IN_DIR: &str = "/etc/systemd/system/structr-backup.timer.d";
pub const DROP_IN_FILE: &str = "schedule.conf";
/// Where each run records its result, inside the state folder: the host's
/// newest run (older versions wrote only this one).
pub const LAST_RUN_FILE: &str = "last-run.json";

/// Where the last run of each operation of the installation keyed `key` is
/// recorded, inside the state folder.
pub fn last_runs_file(key: &str) -> String {
    format!("{key}.last-runs.json")
}
/// systemd's record of the timer's last trigger (Persistent=true).
const STAMP: &str = "/var/lib/systemd/timers/stamp-structr-backup.timer";
pub const DEFAULT_TIME: TimeOfDay = TimeOfDay {
    hour: 3,
    minute: 15,
};
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(30);

/// A time of day, local time, to the minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not a time of day: give HH:MM, 24-hour local time, e.g. 03:15");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let digits = |x: &str, max_len: usize| {
            !x.is_empty() && x.len() <= max_len && x.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
            return Err(bad());
        }
        let hour: u8 = h.parse().map_err(|_| bad())?;
        let minute: u8 = m.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(TimeOfDay { hour, minute })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The drop-in that sets the daily time.
pub fn drop_in(at: TimeOfDay) -> String {
    format!(
        "# Written by `structr-backup schedule`; change it with `structr-backup schedule --at HH:MM`.\n\
         # The empty OnCalendar= drops the unit's own time, so this one alone applies.\n\
         [Timer]\n\
         OnCalendar=\n\
         OnCalendar=*-*-* {at}:00\n\
         RandomizedDelaySec=10min\n"
    )
}

/// The time of a daily calendar expression as systemd prints it (`*-*-* 04:30:00`).
pub fn daily_time(spec: &str) -> Option<TimeOfDay> {
    let time = spec.trim().strip_prefix("*-*-* ")?;
    let hm = time.strip_suffix(":00")?;
    hm.parse().ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{TIMER} is not installed (systemd does not know it): install the structr-backup \
         Debian package, or copy assets/structr-backup.service and assets/structr-backup.timer \
         to /etc/systemd/system and run `systemctl daemon-reload` (README, Install)"
    )]
    NotInstalled,
    #[error(
        "systemd is not running here (it is not the init system): the schedule cannot be \
         read or changed; run `structr-backup backup` from cron instead"
    )]
    NoSystemd,
    #[error(
        "changing the schedule needs root (it writes {DROP_IN_DIR} and runs systemctl): \
         run it again with sudo"
    )]
    NotRoot,
    #[error("`{command}` failed: {detail}; {hint}")]
    Systemctl {
        command: String,
        detail: String,
        hint: &'static str,
    },
    #[error("cannot write {path}: {source}; check that /etc/systemd/system is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

const SYSTEMD_HINT: &str =
    "the schedule needs systemd as the init system (without it, run `structr-backup backup` from cron)";

/// Whether systemd runs this machine: the folder it makes at boot (what
/// sd_booted(3) checks). Without it every systemctl call fails, each its own way.
fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Runs systemctl with `args`; its output, or what failed.
fn systemctl(args: &[&str]) -> Result<process::Output, ScheduleError> {
    if !systemd_runs() {
        return Err(ScheduleError::NoSystemd);
    }
    let argv: Vec<String> = std::iter::once("systemctl")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let failed = |detail: String| ScheduleError::Systemctl {
        command: process::display(&argv),
        detail,
        hint: SYSTEMD_HINT,
    };
    let out = process::run(&argv, SYSTEMCTL_TIMEOUT).map_err(|e| failed(e.to_string()))?;
    if !out.success() {
        return Err(failed(out.tail()));
    }
    Ok(out)
}

/// What systemd says about the timer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub timer: &'static str,
    /// `enabled`, `disabled`, … as `systemctl is-enabled` says.
    pub unit_file_state: String,
    pub enabled: bool,
    pub active: bool,
    /// The daily time, when the timer has exactly one daily OnCalendar.
    pub time: Option<TimeOfDay>,
    /// Every OnCalendar in effect, as systemd normalised it.
    pub on_calendar: Vec<String>,
    /// The random delay systemd adds (`10min`).
    pub randomized_delay: String,
    /// Our drop-in, when it exists.
    pub drop_in: Option<PathBuf>,
    /// When the timer fires next (random delay included); none when inactive.
    pub next_run: Option<DateTime<Utc>>,
}

/// Reads the timer's state; a timer systemd does not know is `NotInstalled`.
pub fn status() -> Result<Status, ScheduleError> {
    let out = systemctl(&[
        "show",
        TIMER,
        "--timestamp=unix",
        "-p",
        "LoadState",
        "-p",
        "UnitFileState",
        "-p",
        "ActiveState",
        "-p",
        "NextElapseUSecRealtime",
        "-p",
        "TimersCalendar",
        "-p",
        "RandomizedDelayUSec",
    ])?;
    parse_show(&out.stdout, &drop_in_path())
}

fn drop_in_path() -> PathBuf {
    Path::new(DROP_IN_DIR).join(DROP_IN_FILE)
}

/// `systemctl show` output (KEY=VALUE lines) to a `Status`.
fn parse_show(text: &str, drop_in: &Path) -> Result<Status, ScheduleError> {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if get("LoadState") != "loaded" {
        return Err(ScheduleError::NotInstalled);
    }
    let calendar = get("TimersCalendar");
    // `{ OnCalendar=*-*-* 03:15:00 ; next_elapse=@1795662900 }`, one group per entry.
    let on_calendar: Vec<String> = calendar
        .split("OnCalendar=")
        .skip(1)
        .filter_map(|rest| rest.split(" ;").next())
        .map(|s| s.trim().to_string())
        .collect();
    let exact_next = calendar
        .split("next_elapse=")
        .skip(1)
        .filter_map(|rest| rest.split([' ', '}']).next())
        .filter_map(parse_timestamp)
        .min();
    let unit_file_state = get("UnitFileState");
    Ok(Status {
        timer: TIMER,
        enabled: unit_file_state == "enabled",
        unit_file_state,
        active: get("ActiveState") == "active",
        time: match on_calendar.as_slice() {
            [one] => daily_time(one),
            _ => None,
        },
        on_calendar,
        randomized_delay: get("RandomizedDelayUSec"),
        drop_in: drop_in.exists().then(|| drop_in.to_path_buf()),
        next_run: parse_timestamp(&get("NextElapseUSecRealtime")).or(exact_next),
    })
}

/// A systemctl timestamp: `@1795662900`, or `Thu 2026-11-26 03:22:39 UTC` (systemd
/// prints some properties so whatever `--timestamp` says), in our own time zone,
/// which systemctl inherited from us.
fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(secs) = s.strip_prefix('@') {
        return DateTime::from_timestamp(secs.parse().ok()?, 0);
    }
    let mut words = s.split_whitespace();
    let _weekday = words.next()?;
    let (date, time) = (words.next()?, words.next()?);
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").ok()?;
    match words.next() {
        Some("UTC") => Some(Utc.from_utc_datetime(&naive)),
        _ => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// What to change: the time, and whether the timer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub at: Option<TimeOfDay>,
    pub enable: Option<bool>,
}

/// Applies `change`; returns what was done, one line each.
pub fn apply(change: Change) -> Result<Vec<String>, ScheduleError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(ScheduleError::NotRoot);
    }
    let before = status()?;
    let mut done = Vec::new();
    if change.enable == Some(false) {
        systemctl(&["disable", "--now", TIMER])?;
        done.push(format!("{TIMER} stopped and disabled"));
        return Ok(done);
    }
    let at = change.at.or_else(|| {
        (change.enable == Some(true) && before.drop_in.is_none()).then_some(DEFAULT_TIME)
    });
    let mut stopped = false;
    if let Some(at) = at {
        // A running timer told of a new time computes its next run from its last
        // one, and a time between that and now is "missed" and fires at once
        // (systemd issue #16732): a backup, services stopped, mid-day. So the
        // timer is stopped over the change and started again below.
        if before.active {
            systemctl(&["stop", TIMER])?;
            stopped = true;
        }
        write_drop_in(at)?;
        systemctl(&["daemon-reload"])?;
        done.push(format!(
            "{TIMER}: daily at {at} local time ({})",
            drop_in_path().display()
        ));
    }
    let start = change.enable == Some(true) || stopped;
    if start && (stopped || !before.active) {
        // Persistent=true runs a backup at once when one was due while the timer
        // was off; whoever (re)starts it, at noon say, wants the next one at its
        // time, not the services stopped now.
        if let Err(e) = mark_triggered_now() {
            done.push(format!(
                "warning: could not update {STAMP} ({e}): a backup missed while the timer was off may start at once"
            ));
        }
    }
    if change.enable == Some(true) {
        systemctl(&["enable", "--now", TIMER])?;
        done.push(format!("{TIMER} enabled and started"));
    } else if stopped {
        systemctl(&["start", TIMER])?;
    }
    Ok(done)
}

/// Writes the drop-in whole (a temporary file renamed over it), readable by all
/// like any unit file.
fn write_drop_in(at: TimeOfDay) -> Result<(), ScheduleError> {
    let path = drop_in_path();
    let fail = |source| ScheduleError::Write {
        path: path.clone(),
        source,
    };
    fs::create_dir_all(DROP_IN_DIR).map_err(fail)?;
    let tmp = path.with_extension("conf.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(drop_in(at).as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    fs::rename(&tmp, &path).map_err(fail)
}

/// Sets the timer's last-trigger stamp to now, if it has one (systemd makes it
/// on first start), so a timer started next counts from now.
fn mark_triggered_now() -> std::io::Result<()> {
    match fs::OpenOptions::new().write(true).open(STAMP) {
        Ok(f) => f.set_modified(SystemTime::now()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The last run's result, as `<state dir>/last-run.json` records it. Read
/// field by field: a field missing or of another type is left out, not fatal.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LastRun {
    pub operation: Option<String>,
    pub id: Option<String>,
    pub status: Option<String>,
    pub exit_code: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
    pub downtime_secs: Option<f64>,
    pub error: Option<String>,
    /// The installation's key; None in a record an older version wrote.
    pub installation: Option<String>,
}

impl LastRun {
    pub fn succeeded(&self) -> bool {
        self.status.as_deref() == Some("success")
    }

    /// When it ended (or began, if the end is not recorded).
    pub fn when(&self) -> Option<DateTime<Utc>> {
        self.finished_at.or(self.started_at)
    }

    /// The operation, as its record names it ("run" when it does not).
    pub fn operation(&self) -> &str {
        self.operation.as_deref().unwrap_or("run")
    }
}

/// The last run of each operation of one installation, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Runs(pub Vec<LastRun>);

impl Runs {
    pub fn newest(&self) -> Option<&LastRun> {
        self.0.first()
    }

    /// What to lead with: the last backup (the nightly run), and the newest
    /// run of another operation when it came after that backup (or there was none).
    pub fn headline(&self) -> (Option<&LastRun>, Option<&LastRun>) {
        let backup = self.0.iter().find(|r| r.operation() == "backup");
        let other = self
            .0
            .iter()
            .find(|r| r.operation() != "backup")
            .filter(|o| backup.is_none_or(|b| o.when() > b.when()));
        (backup, other)
    }
}

/// The last runs of the installation keyed `key` (None: no installation
/// found), as recorded in `state_dir`. Without its own record, a `last-run.json`
/// that names no installation (an older version wrote it) is taken as the last
/// run of its operation; one that names another installation is not ours.
pub fn read_last_runs(state_dir: &Path, key: Option<&str>) -> Result<Runs, String> {
    if let Some(key) = key {
        let path = state_dir.join(last_runs_file(key));
        match fs::read_to_string(&path) {
            Ok(text) => {
                return parse_runs(&text)
                    .map_err(|e| format!("{} is not a record of runs: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    let host = read_last_run(&state_dir.join(LAST_RUN_FILE))?;
    let ours = |r: &LastRun| match (&r.installation, key) {
        (Some(theirs), Some(key)) => theirs == key,
        _ => true,
    };
    Ok(Runs(host.filter(ours).into_iter().collect()))
}

fn parse_runs(text: &str) -> Result<Runs, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let runs = v
        .get("runs")
        .and_then(|r| r.as_object())
        .ok_or("no \"runs\" object")?;
    let mut all: Vec<LastRun> = runs
        .iter()
        .filter_map(|(op, run)| {
            let mut r = run_of(run).ok()?;
            r.operation.get_or_insert_with(|| op.clone());
            Some(r)
        })
        .collect();
    all.sort_by_key(|r| std::cmp::Reverse(r.when()));
    Ok(Runs(all))
}

/// The last run, or None when no run has recorded one yet.
pub fn read_last_run(path: &Path) -> Result<Option<LastRun>, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    parse_last_run(&text)
        .map(Some)
        .map_err(|e| format!("{} is not a run record: {e}", path.display()))
}

fn parse_last_run(text: &str) -> Result<LastRun, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    run_of(&v)
}

fn run_of(v: &serde_json::Value) -> Result<LastRun, String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let s = |k: &str| obj.get(k).and_then(|x| x.as_str()).map(String::from);
    let time = |k: &str| {
        obj.get(k)
            .and_then(|x| x.as_str())
            .and_then(|x| DateTime::parse_from_rfc3339(x).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    Ok(LastRun {
        operation: s("operation"),
        id: s("id"),
        status: s("status"),
        exit_code: obj.get("exit_code").and_then(|x| x.as_i64()),
        started_at: time("started_at"),
        finished_at: time("finished_at"),
        duration_secs: obj.get("duration_secs").and_then(|x| x.as_f64()),
        downtime_secs: obj.get("downtime_secs").and_then(|x| x.as_f64()),
        error: s("error"),
        installation: s("installation"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_strictly() {
        for (s, h, m) in [
            ("03:15", 3, 15),
            ("3:15", 3, 15),
            ("00:00", 0, 0),
            ("23:59", 23, 59),
        ] {
            assert_eq!(
                s.parse::<TimeOfDay>(),
                Ok(TimeOfDay { hour: h, minute: m }),
                "{s}"
            );
        }
        for s in [
            "24:00", "12:60", "12", "12:5", "1215", "-1:00", "12:00:00", "ab:cd", "", " : ",
            "+1:00", "123:00",
        ] {
            let e = s.parse::<TimeOfDay>().unwrap_err();
            assert!(e.contains("HH:MM"), "{s}: {e}");
        }
        assert_eq!(TimeOfDay { hour: 4, minute: 5 }.to_string(), "04:05");
    }

    #[test]
    fn the_drop_in_resets_the_units_time_and_sets_ours() {
        let text = drop_in("04:30".parse().unwrap());
        let settings: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            settings,
            [
                "[Timer]",
                "OnCalendar=",
                "OnCalendar=*-*-* 04:30:00",
                "RandomizedDelaySec=10min"
            ]
        );
        assert_eq!(
            daily_time("*-*-* 04:30:00"),
            Some(TimeOfDay {
                hour: 4,
                minute: 30
            })
        );
        assert_eq!(daily_time("Mon *-*-* 04:30:00"), None);
        assert_eq!(daily_time("*-*-* 04:30:15"), None);
    }

    #[test]
    fn systemctl_show_is_read() {
        std::env::set_var("TZ", "UTC");
        let text = "TimersCalendar={ OnCalendar=*-*-* 04:30:00 ; next_elapse=@1795662900 }\n\
                    NextElapseUSecRealtime=Thu 2026-11-26 04:37:39 UTC\n\
                    RandomizedDelayUSec=10min\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n";
        let s = parse_show(text, Path::new("/nonexistent/schedule.conf")).unwrap();
        assert!(s.enabled && s.active);
        assert_eq!(
            s.time,
            Some(TimeOfDay {
                hour: 4,
                minute: 30
            })
        );
        assert_eq!(s.on_calendar, ["*-*-* 04:30:00"]);
        assert_eq!(s.randomized_delay, "10min");
        assert_eq!(s.drop_in, None);
        assert_eq!(
            s.next_run.map(|t| t.to_rfc3339()),
            Some("2026-11-26T04:37:39+00:00".into())
        );
        // Inactive: no next run; two calendars: no single time.
        let text = "TimersCalendar={ OnCalendar=*-*-* 01:00:00 ; next_elapse=(null) } { OnCalendar=*-*-* 13:00:00 ; next_elapse=(null) }\n\
                    NextElapseUSecRealtime=\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n";
        let s = parse_show(text, Path::new("/nonexistent")).unwrap();
        assert!(!s.enabled && !s.active);
        assert_eq!(s.on_calendar.len(), 2);
        assert_eq!((s.time, s.next_run), (None, None));
        let missing = parse_show("LoadState=not-found\nUnitFileState=\n", Path::new("/x"));
        let e = missing.unwrap_err().to_string();
        assert!(
            e.contains("not installed") && e.contains("/etc/systemd/system"),
            "{e}"
        );
    }

    #[test]
    fn last_runs_are_per_installation_and_an_old_file_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let none = read_last_runs(dir.path(), Some("aaaa")).unwrap();
        assert_eq!(none.newest(), None);
        // A file an older version wrote: the last run of its operation.
        fs::write(
            dir.path().join(LAST_RUN_FILE),
            r#"{"operation":"verify","status":"cancelled","finished_at":"2026-11-24T03:15:00Z"}"#,
        )
        .unwrap();
        let old = read_last_runs(dir.path(), Some("aaaa")).unwrap();
        assert_eq!(old.headline().0, None);
        assert_eq!(old.headline().1.unwrap().operation(), "verify");
        // One a newer version wrote for another installation is not ours.
        fs::write(
            dir.path().join(LAST_RUN_FILE),
            r#"{"operation":"backup","status":"success","installation":"bbbb"}"#,
        )
        .unwrap();
        assert_eq!(
            read_last_runs(dir.path(), Some("aaaa")).unwrap(),
            Runs::default()
        );
        // Our own record: the backup leads, a newer restore is named beside it.
        fs::write(
            dir.path().join(last_runs_file("aaaa")),
            r#"{"installation":"aaaa","runs":{
                "backup":{"operation":"backup","status":"success","id":"20261124T031500Z","finished_at":"2026-11-24T03:15:04Z"},
                "restore":{"operation":"restore","status":"failure","finished_at":"2026-11-24T09:00:00Z"},
                "verify":{"operation":"verify","status":"success","finished_at":"2026-11-23T09:00:00Z"}}}"#,
        )
        .unwrap();
        let runs = read_last_runs(dir.path(), Some("aaaa")).unwrap();
        let ops: Vec<&str> = runs.0.iter().map(LastRun::operation).collect();
        assert_eq!(ops, ["restore", "backup", "verify"]);
        let (backup, other) = runs.headline();
        assert_eq!(backup.unwrap().id.as_deref(), Some("20261124T031500Z"));
        assert_eq!(other.unwrap().operation(), "restore");
        assert!(read_last_runs(dir.path(), Some("bbbb"))
            .unwrap()
            .newest()
            .is_some());
    }

    #[test]
    fn the_last_run_is_read_tolerantly() {
        let r = parse_last_run(
            r#"{"operation":"backup","id":"20261125T031502Z","status":"success","exit_code":0,
                "started_at":"2026-11-25T03:15:02Z","finished_at":"2026-11-25T03:17:40+00:00",
                "duration_secs":158.2,"downtime_secs":42.5,"error":null,"future_field":[1]}"#,
        )
        .unwrap();
        assert!(r.succeeded());
        assert_eq!(r.id.as_deref(), Some("20261125T031502Z"));
        assert_eq!(r.exit_code, Some(0));
        assert_eq!(
            r.when().map(|t| t.to_rfc3339()),
            Some("2026-11-25T03:17:40+00:00".into())
        );
        // Odd values are dropped one by one, not the whole record.
        let r = parse_last_run(r#"{"status":"failure","exit_code":"1","finished_at":"yesterday"}"#)
            .unwrap();
        assert_eq!(
            (r.status.as_deref(), r.exit_code, r.when()),
            (Some("failure"), None, None)
        );
        assert!(parse_last_run("[1]").is_err());
        assert!(parse_last_run("{").is_err());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_last_run(&dir.path().join("last-run.json")), Ok(None));
        std::fs::write(dir.path().join("bad.json"), "nonsense").unwrap();
        let e = read_last_run(&dir.path().join("bad.json")).unwrap_err();
        assert!(
            e.contains("bad.json") && e.contains("not a run record"),
            "{e}"
        );
    }
}
