//! `structr-backup schedule` against a real systemd (the e2e systemd image, booted
//! with systemd as PID 1): the timer units from assets/ installed in
//! /etc/systemd/system as the README's manual install does, the release binary
//! at /usr/local/bin where their ExecStart expects it.

use crate::common;

use std::path::Path;

use common::docker::{boot_systemd, release_binary, Container};
use common::text;

const LAST_RUN: &str = r#"{"operation":"backup","id":"20261125T031502Z","status":"success","exit_code":0,"started_at":"2026-11-25T03:15:02Z","finished_at":"2026-11-25T03:17:40Z","duration_secs":158.0,"downtime_secs":42.5,"error":null}"#;

fn show_json(c: &Container) -> serde_json::Value {
    let out = c.exec_ok("structr-backup schedule --show --json");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// HH:MM:SS of the timer's next run in `systemctl list-timers`.
fn list_timers_next(c: &Container) -> String {
    let out = c.exec_ok("systemctl list-timers --all structr-backup.timer");
    let line = out
        .lines()
        .find(|l| l.contains("structr-backup.timer"))
        .unwrap_or_else(|| panic!("timer not listed: {out}"));
    // NEXT is "Thu 2026-11-26 04:33:12 UTC".
    line.split_whitespace().nth(2).unwrap_or("").to_string()
}

/// Whether the timer ever started the backup service.
fn service_ever_started(c: &Container) -> bool {
    c.exec_ok("systemctl show -p InactiveExitTimestampMonotonic --value structr-backup.service")
        .trim()
        != "0"
}

#[test]
fn schedule_sets_enables_shows_and_disables_the_timer() {
    let _turn = common::docker::one_at_a_time();
    let c = boot_systemd("sb-schedule");
    c.copy_in(&release_binary("structr-backup"), "/usr/local/bin/");

    // No units yet: a clear error saying how to install them.
    let out = c.exec("structr-backup schedule");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("structr-backup.timer is not installed")
            && err.contains("/etc/systemd/system"),
        "{err}"
    );

    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for unit in ["structr-backup.service", "structr-backup.timer"] {
        c.copy_in(&assets.join(unit), "/etc/systemd/system/");
    }
    c.exec_ok("systemctl daemon-reload");

    // Changing it takes root.
    let out = c.exec(
        "HOME=/tmp setpriv --reuid=65534 --regid=65534 --clear-groups structr-backup schedule --enable",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs root"),
        "{}",
        text(&out)
    );

    let out = c.exec("structr-backup schedule --at 04:30 --enable");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        c.exec_ok("systemctl is-enabled structr-backup.timer")
            .trim(),
        "enabled"
    );
    let drop_in = c.exec_ok("cat /etc/systemd/system/structr-backup.timer.d/schedule.conf");
    assert!(
        drop_in.contains(
            "[Timer]\nOnCalendar=\nOnCalendar=*-*-* 04:30:00\nRandomizedDelaySec=10min\n"
        ),
        "{drop_in}"
    );
    // The next run is at 04:30 plus at most the random 10 minutes (the container is UTC).
    let next = list_timers_next(&c);
    assert!(
        ("04:30:00".."04:40:01").contains(&next.as_str()),
        "next run {next}"
    );

    let v = show_json(&c);
    assert_eq!(
        (v["enabled"].as_bool(), v["active"].as_bool()),
        (Some(true), Some(true)),
        "{v}"
    );
    assert_eq!(v["time"], "04:30", "{v}");
    let next_json = v["next_run"].as_str().unwrap_or_default();
    assert!(
        next_json.contains(&format!("T{}", &next[..5])),
        "{next_json} vs {next}"
    );
    assert!(v["last_run"].is_null(), "{v}");
    let shown = c.exec_ok("structr-backup schedule");
    assert!(shown.contains("no run recorded yet"), "{shown}");

    // The record each run writes, written by hand here.
    c.exec_ok(&format!(
        "mkdir -p -m 700 /var/lib/structr-backup && printf '%s' '{LAST_RUN}' > /var/lib/structr-backup/last-run.json"
    ));
    let shown = c.exec_ok("structr-backup schedule --show");
    assert!(
        shown.contains("last backup  success, generation 20261125T031502Z"),
        "{shown}"
    );
    assert_eq!(show_json(&c)["last_run"]["id"], "20261125T031502Z");

    // A new time between the last trigger and now must not start a backup at once
    // (systemd issue #16732): last trigger two hours ago, the timer at now+2h,
    // then moved to an hour ago.
    let later = c.exec_ok("date -d '+2 hours' +%H:%M");
    c.exec_ok(&format!("structr-backup schedule --at {}", later.trim()));
    c.exec_ok("systemctl stop structr-backup.timer && touch -d '-2 hours' /var/lib/systemd/timers/stamp-structr-backup.timer && systemctl start structr-backup.timer");
    assert!(!service_ever_started(&c));
    let earlier = c.exec_ok("date -d '-1 hour' +%H:%M");
    let out = c.exec(&format!("structr-backup schedule --at {}", earlier.trim()));
    assert!(out.status.success(), "{}", text(&out));
    // systemd would run the "missed" one within the random delay (10 min), not
    // at once, so the next run tells: tomorrow, not in the next minutes.
    let v = show_json(&c);
    assert_eq!(v["time"], earlier.trim(), "{v}");
    let next: chrono::DateTime<chrono::Utc> = v["next_run"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {v}"));
    assert!(
        next > chrono::Utc::now() + chrono::Duration::hours(20),
        "moving the time to an hour ago schedules a run at {next}, not tomorrow"
    );
    assert!(
        !service_ever_started(&c),
        "moving the time started a backup"
    );
    assert!(
        v["active"].as_bool().unwrap_or(false),
        "still running after the change: {v}"
    );

    let out = c.exec("structr-backup schedule --disable");
    assert!(out.status.success(), "{}", text(&out));
    let enabled = c.exec("systemctl is-enabled structr-backup.timer");
    assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "disabled");
    let v = show_json(&c);
    assert_eq!(
        (v["enabled"].as_bool(), v["active"].as_bool()),
        (Some(false), Some(false)),
        "{v}"
    );
    assert!(v["next_run"].is_null(), "{v}");
}
