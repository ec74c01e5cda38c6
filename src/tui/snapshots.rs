//! Snapshots of every screen and dialog, drawn on a TestBackend with a fixed clock
//! and fixed data. The buffer is snapshotted with its styles, so colour and the
//! NO_COLOR theme are both pinned down.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Screen};
use super::backup_plan::PlanScreen;
use super::browse::{BrowseMsg, BrowseScreen, DiffRow, FileRow};
use super::confirm::Confirm;
use super::data::{Data, ScheduleFacts, Timer};
use super::eta::Estimate;
use super::job::Job;
use super::kept::KeptRow;
use super::prune::{PruneRow, PruneScreen};
use super::schedule::{ScheduleAction, ScheduleScreen};
use super::state::{Focus, JobKind, ScreenKind, StepState};
use super::theme::Theme;
use super::view::{draw, Clock};
use crate::install::schedule::{LastRun, Runs, Status, TimeOfDay};
use crate::install::ComponentSpec;
use crate::ops::compare::Change;
use crate::ops::journal::Record;
use crate::ops::{Event, Step};
use crate::repo::file_index::EntryKind;
use crate::repo::manifest::{Component, Manifest, Timings, VerifyRecord};

const COLOR: Theme = Theme { color: true };
const MONO: Theme = Theme { color: false };

fn clock() -> Clock {
    Clock {
        wall: Utc.with_ymd_and_hms(2026, 11, 25, 3, 30, 0).unwrap(),
        mono: Instant::now(),
    }
}

fn manifest(id: &str, hour: u32, label: &str, pinned: bool, verified: Option<bool>) -> Manifest {
    let created = Utc.with_ymd_and_hms(2026, 11, 25, hour, 15, 0).unwrap();
    Manifest {
        format_version: 1,
        id: id.into(),
        created_at: created,
        host: "srv1".into(),
        installation: "systemd".into(),
        tool_version: "0.1.0".into(),
        label: label.into(),
        pinned,
        last_verified: verified.map(|ok| VerifyRecord {
            at: created,
            deep: true,
            ok,
        }),
        last_drill: None,
        timings: Timings {
            downtime_secs: 42.5,
            total_secs: 50.0,
            ..Timings::default()
        },
        versions: Default::default(),
        neo4j_kernel: Default::default(),
        services_already_stopped: vec![],
        components: vec![
            Component {
                name: "neo4j-data".into(),
                role: "neo4j-data".into(),
                source: PathBuf::from("/var/lib/neo4j/data"),
                archive: "neo4j-data.tar.zst".into(),
                index: "neo4j-data.files".into(),
                files: 120,
                entries: 140,
                bytes: 3 << 30,
                archive_size: 1 << 30,
                sha256: "0".repeat(64),
            },
            Component {
                name: "structr".into(),
                role: "structr".into(),
                source: PathBuf::from("/usr/lib/structr"),
                archive: "structr.tar.zst".into(),
                index: "structr.files".into(),
                files: 52_000,
                entries: 60_000,
                bytes: 2 << 30,
                archive_size: 3 << 29,
                sha256: "0".repeat(64),
            },
        ],
        snapshot: None,
        added_bytes: None,
        snapshot_backup: None,
        restoring: None,
        owners: Default::default(),
    }
}

fn data() -> Data {
    Data {
        kind: "systemd".into(),
        host: "srv1".into(),
        components: vec![
            ComponentSpec::new("neo4j-data", PathBuf::from("/var/lib/neo4j/data")),
            ComponentSpec::new("structr", PathBuf::from("/usr/lib/structr")),
        ],
        services: vec![("structr".into(), Some(true)), ("neo4j".into(), Some(true))],
        notes: vec![],
        detect_error: None,
        repo: "/var/backups/structr".into(),
        free_bytes: Some(120 << 30),
        generations: vec![
            manifest("20261125T031500Z", 3, "nightly", false, None),
            manifest("20261125T021500Z", 2, "pre-restore", false, Some(true)),
            manifest("20261125T011500Z", 1, "before upgrade", true, Some(false)),
        ],
        listed: true,
        interrupted: None,
        plan: vec![
            "neo4j-data  3.0 GiB in 120 files".into(),
            "structr     2.0 GiB in 52000 files".into(),
            "free space  120.0 GiB (about 2.3 GiB needed)".into(),
            "downtime    about 43 s".into(),
        ],
        plan_bytes: Some(5 << 30),
        offsite: vec![],
        policy: "last 3, daily 7, weekly 4, monthly 12".into(),
        browsable: true,
        recovery: Default::default(),
    }
}

fn render(app: &App, theme: &Theme, w: u16, h: u16, clock: Clock) -> String {
    // Dates are shown in local time; pin the zone so snapshots match anywhere.
    std::env::set_var("TZ", "UTC");
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app, theme, clock)).unwrap();
    format!("{:?}", t.backend().buffer())
}

fn with(screen: Screen) -> App {
    let mut app = App::new(data());
    app.stack.push(screen);
    app
}

/// A backup job some way in: stopped, copying neo4j-data.
fn backup_job(c: Clock, fraction: Option<(u64, u64)>, failed: bool) -> Job {
    let ago = |s: u64| c.mono.checked_sub(Duration::from_secs(s)).unwrap_or(c.mono);
    let mut j = Job::new(JobKind::Backup, None);
    j.started = ago(20);
    j.steps = vec![
        (Step::Preflight, StepState::Done(Duration::from_millis(300))),
        (
            Step::Stop("structr".into()),
            StepState::Done(Duration::from_secs(4)),
        ),
        (
            Step::Stop("neo4j".into()),
            StepState::Done(Duration::from_secs(6)),
        ),
        (Step::StoreLock, StepState::Done(Duration::from_millis(10))),
        (Step::Copy("neo4j-data".into()), StepState::Running(ago(8))),
        (Step::Copy("structr".into()), StepState::Pending),
        (Step::Start("neo4j".into()), StepState::Pending),
        (Step::Health("neo4j".into()), StepState::Pending),
        (Step::Start("structr".into()), StepState::Pending),
        (Step::Health("structr".into()), StepState::Pending),
        (Step::Publish, StepState::Pending),
    ];
    j.first_stop = Some(ago(18));
    // 5 GiB to copy; the last backup's services took 10 s to stop, 30 s to start.
    j.estimate = Some(Estimate {
        bytes: 5 << 30,
        stop_secs: 10.0,
        start_secs: 30.0,
    });
    if let Some((done, total)) = fraction {
        let step = Step::Copy("neo4j-data".into());
        j.progress = Some((step.clone(), done, total, ago(8)));
        j.file = "databases/neo4j/neostore.relationshipstore.db".into();
        for (at, done) in [(ago(8), 0), (c.mono, done)] {
            let ev = Event::Progress {
                step: step.clone(),
                done,
                total,
            };
            j.tally.on_event(&ev, at);
        }
    }
    if failed {
        j.steps[4].1 = StepState::Failed("disk full".into());
        j.steps[6].1 = StepState::Done(Duration::from_secs(3));
        j.steps[8].1 = StepState::Done(Duration::from_secs(9));
        j.last_start = Some(ago(2));
        j.progress = None;
        j.warnings
            .push("skipped /usr/lib/structr/run.sock (sockets are not backed up)".into());
        j.outcome = Some(Err("the disk holding /var/backups/structr is full. The services were started again. No generation was written.".into()));
        j.finished = Some(c.mono);
    }
    j
}

#[test]
fn home() {
    let app = App::new(data());
    insta::assert_snapshot!("home_80x24", render(&app, &COLOR, 80, 24, clock()));
    insta::assert_snapshot!("home_no_color", render(&app, &MONO, 80, 24, clock()));
    insta::assert_snapshot!("home_minimum_64x20", render(&app, &COLOR, 64, 20, clock()));
    insta::assert_snapshot!("too_small_63x19", render(&app, &COLOR, 63, 19, clock()));
}

#[test]
fn home_with_problems() {
    let mut d = data();
    d.services = vec![
        ("structr".into(), Some(false)),
        ("neo4j".into(), Some(false)),
    ];
    d.interrupted = Some(Record {
        pid: 4242,
        host: "srv1".into(),
        operation: "backup".into(),
        started_at: Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap(),
        targets: vec![],
        stopped: vec!["structr".into(), "neo4j".into()],
        failed_start: None,
        swaps: vec![],
    });
    d.notes = vec![
        "This machine is a virtual machine (kvm): a snapshot of the stopped VM is an alternative."
            .into(),
    ];
    insta::assert_snapshot!(
        "home_interrupted",
        render(&App::new(d), &COLOR, 80, 24, clock())
    );
    let mut d = data();
    d.detect_error = Some("no Structr installation found: describe it in the config".into());
    insta::assert_snapshot!(
        "home_not_detected",
        render(&App::new(d), &COLOR, 80, 24, clock())
    );
}

#[test]
fn backup_screens() {
    let c = clock();
    insta::assert_snapshot!(
        "backup_plan",
        render(
            &with(Screen::BackupPlan(Default::default())),
            &COLOR,
            80,
            24,
            c
        )
    );
    let labelled = with(Screen::BackupPlan(PlanScreen {
        label: "before upgrade".into(),
        ..Default::default()
    }));
    let screen = render(&labelled, &COLOR, 80, 24, c);
    assert!(text_of(&screen).contains(" Label  before upgrade_"));
    insta::assert_snapshot!("backup_plan_labelled", screen);
    let start = with(Screen::Job(Box::new(backup_job(
        c,
        Some((0, 3 << 30)),
        false,
    ))));
    insta::assert_snapshot!("backup_progress_0", render(&start, &COLOR, 80, 24, c));
    let mid = with(Screen::Job(Box::new(backup_job(
        c,
        Some((3 << 29, 3 << 30)),
        false,
    ))));
    let screen = render(&mid, &COLOR, 80, 24, c);
    // 3.5 GiB left at 192 MiB/s, then the starts as long as last time: 19 s + 30 s.
    assert!(
        screen.contains("job 20 s, ETA 49 s"),
        "{}",
        text_of(&screen)
    );
    insta::assert_snapshot!("backup_progress_midway", screen);
    insta::assert_snapshot!(
        "backup_progress_midway_no_color",
        render(&mid, &MONO, 80, 24, c)
    );
    insta::assert_snapshot!("backup_progress_minimum", render(&mid, &COLOR, 64, 20, c));
    let failed = with(Screen::Job(Box::new(backup_job(c, None, true))));
    insta::assert_snapshot!("backup_failed", render(&failed, &COLOR, 80, 24, c));
    // Cancelled mid-copy: the running step says so, the clocks and throughput
    // stop, no ETA, and the footer offers what works now.
    let mut cancelled = with(Screen::Job(Box::new(backup_job(
        c,
        Some((3 << 29, 3 << 30)),
        false,
    ))));
    if let Some(Screen::Job(j)) = cancelled.stack.last_mut() {
        j.cancel_requested = true;
    }
    cancelled.on_job_done(Err("cancelled: the operation was cancelled. The services were started again. No generation was written.".into()));
    // The test's clock, not the real one, so the frozen numbers are the same each run.
    if let Some(Screen::Job(j)) = cancelled.stack.last_mut() {
        j.finished = Some(c.mono);
    }
    let screen = render(&cancelled, &COLOR, 80, 24, c);
    assert!(!screen.contains("ETA") && !screen.contains("Ctrl-C") && !screen.contains("▶"));
    assert!(screen.contains("Backup cancelled") && !screen.contains("FAILED"));
    assert!(
        screen.contains("job took 20 s"),
        "the job's clock stops with it"
    );
    insta::assert_snapshot!("backup_cancelled", screen);
    let mut asking = backup_job(c, Some((3 << 29, 3 << 30)), false);
    asking.ask_cancel = true;
    insta::assert_snapshot!(
        "backup_cancel_dialog",
        render(&with(Screen::Job(Box::new(asking))), &COLOR, 80, 24, c)
    );
}

/// A restore's cancel dialog speaks of the restore, not of a backup's generation.
#[test]
fn restore_cancel_dialog_says_what_a_cancelled_restore_leaves() {
    let c = clock();
    let mut j = Job::new(JobKind::Restore, Some("20261125T021500Z".into()));
    j.steps.push((
        Step::Stop("structr".into()),
        StepState::Done(Duration::from_secs(1)),
    ));
    j.ask_cancel = true;
    let screen = render(&with(Screen::Job(Box::new(j))), &COLOR, 80, 24, c);
    assert!(
        screen.contains("the installation stays as it was"),
        "{screen}"
    );
    assert!(!screen.contains("no generation is written"), "{screen}");
}

#[test]
fn done_job_shows_result_and_downtime() {
    let c = clock();
    let mut j = Job::new(JobKind::Restore, Some("20261125T021500Z".into()));
    for (step, took) in [
        (Step::Stop("structr".into()), 1),
        (Step::Extract("structr".into()), 5),
        (Step::Start("structr".into()), 2),
    ] {
        j.steps
            .push((step, StepState::Done(Duration::from_secs(took))));
    }
    j.first_stop = c.mono.checked_sub(Duration::from_secs(30));
    j.last_start = c.mono.checked_sub(Duration::from_secs(10));
    j.outcome = Some(Ok(
        "Generation 20261125T021500Z restored; services running.".into(),
    ));
    j.finished = Some(c.mono);
    let mut app = with(Screen::Job(Box::new(j)));
    app.on_job_event(Event::Warning("structr runs but is not healthy yet".into()));
    insta::assert_snapshot!("restore_done", render(&app, &COLOR, 80, 24, c));
}

#[test]
fn generation_screens() {
    let c = clock();
    insta::assert_snapshot!(
        "generations",
        render(&with(Screen::Generations { sel: 1 }), &COLOR, 80, 24, c)
    );
    insta::assert_snapshot!(
        "generations_no_color",
        render(&with(Screen::Generations { sel: 1 }), &MONO, 80, 24, c)
    );
    // A restore's safety backup says which restore it protected, not "downtime 0.0 s".
    let mut safety = with(Screen::Generations { sel: 1 });
    safety.data.generations[1].restoring = Some("20261125T011500Z".into());
    insta::assert_snapshot!(
        "generations_safety_backup",
        render(&safety, &COLOR, 80, 24, c)
    );
    // A verification in this session found the selected one damaged: why.
    let mut damaged = with(Screen::Generations { sel: 2 });
    damaged.verified(
        "20261125T011500Z",
        vec!["20261125T011500Z: structr.tar.zst is damaged (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, expected 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae)".into()],
    );
    let screen = render(&damaged, &COLOR, 80, 24, c);
    assert!(text_of(&screen).contains("✗ 20261125T011500Z: structr.tar.zst is damaged"));
    insta::assert_snapshot!("generations_verify_failed", screen);
    insta::assert_snapshot!(
        "generations_verify_failed_minimum",
        render(&damaged, &COLOR, 64, 20, c)
    );
    // Enter on a generation: its actions over the list.
    let mut actions = with(Screen::Generations { sel: 1 });
    let id = actions.data.generations[1].id.clone();
    actions.stack.push(Screen::Actions {
        id: id.clone(),
        sel: 0,
    });
    let screen = render(&actions, &COLOR, 80, 24, c);
    assert!(screen.contains(&id) && screen.contains("restore"));
    insta::assert_snapshot!("generation_actions", screen);
    insta::assert_snapshot!(
        "generation_actions_minimum",
        render(&actions, &COLOR, 64, 20, c)
    );
    insta::assert_snapshot!(
        "restore_pick",
        render(&with(Screen::RestorePick { sel: 0 }), &COLOR, 80, 24, c)
    );
    let facts = vec![
        "From 2026-11-25 02:15 on host srv1, 1 h ago.".into(),
        "REPLACES /var/lib/neo4j/data (now 3.1 GiB in 125 files, changed 2 min ago) with 3.0 GiB of the backup.".into(),
        "  the current folder is kept as /var/lib/neo4j/data.pre-restore-20261125T021500Z".into(),
        "Stops structr and neo4j during the restore; a safety backup of the current state is taken first.".into(),
    ];
    let mut confirm = Confirm::new("20261125T021500Z", facts);
    confirm.typed = "20261125".into();
    insta::assert_snapshot!(
        "restore_confirm_typing",
        render(
            &with(Screen::RestoreConfirm(confirm.clone())),
            &COLOR,
            80,
            24,
            c
        )
    );
    confirm.typed = "20261125T021500Z".into();
    confirm.focus = Focus::Confirm;
    insta::assert_snapshot!(
        "restore_confirm_armed",
        render(
            &with(Screen::RestoreConfirm(confirm.clone())),
            &COLOR,
            80,
            24,
            c
        )
    );
    insta::assert_snapshot!(
        "restore_confirm_armed_no_color",
        render(&with(Screen::RestoreConfirm(confirm)), &MONO, 80, 24, c)
    );
    let del = Confirm::new(
        "20261125T011500Z",
        vec!["Generation 20261125T011500Z will be deleted from the repository for good.".into()],
    );
    insta::assert_snapshot!(
        "delete_confirm",
        render(&with(Screen::DeleteConfirm(del)), &COLOR, 80, 24, c)
    );
}

#[test]
fn prune_and_help() {
    let c = clock();
    let rows = vec![
        PruneRow {
            id: "20261125T031500Z".into(),
            created: "2026-11-25 03:15".into(),
            keep: true,
            reasons: "newest, last, daily 2026-11-25".into(),
            size: 1073741824,
            label: "nightly".into(),
        },
        PruneRow {
            id: "20261124T031500Z".into(),
            created: "2026-11-24 03:15".into(),
            keep: true,
            reasons: "daily 2026-11-24".into(),
            size: 1073741824,
            label: "nightly".into(),
        },
        PruneRow {
            id: "20261124T021500Z".into(),
            created: "2026-11-24 02:15".into(),
            keep: false,
            reasons: String::new(),
            size: 1181116006,
            label: "pre-restore".into(),
        },
        PruneRow {
            id: "20261101T031500Z".into(),
            created: "2026-11-01 03:15".into(),
            keep: true,
            reasons: "pinned".into(),
            size: 2147483648,
            label: "before upgrade".into(),
        },
    ];
    let preview = Screen::PrunePreview(PruneScreen {
        rows: rows.clone(),
        sel: 2,
        confirm: None,
    });
    insta::assert_snapshot!("prune_preview", render(&with(preview), &COLOR, 80, 24, c));
    let asking = Screen::PrunePreview(PruneScreen {
        rows,
        sel: 2,
        confirm: Some(Focus::Cancel),
    });
    insta::assert_snapshot!("prune_confirm", render(&with(asking), &COLOR, 80, 24, c));
    let mut help = App::new(data());
    help.stack.push(Screen::Generations { sel: 0 });
    help.stack.push(Screen::Help(Default::default()));
    insta::assert_snapshot!("help_generations", render(&help, &COLOR, 80, 24, c));
}

#[test]
fn no_generations_no_keys_for_them() {
    let mut d = data();
    d.generations.clear();
    let app = App::new(d);
    for screen in [
        Screen::Generations { sel: 0 },
        Screen::RestorePick { sel: 0 },
    ] {
        let mut app = App::new(app.data.clone());
        app.stack.push(screen);
        let text = text_of(&render(&app, &COLOR, 80, 24, clock()));
        let footer = text.lines().rev().nth(2).unwrap_or_default().to_string();
        assert!(footer.contains("Esc back"), "{text}");
        assert!(
            !footer.contains("Enter") && !footer.contains("select"),
            "keys that do nothing: {footer}"
        );
    }
}

#[test]
fn a_restic_repository_offers_no_file_browsing() {
    let mut d = data();
    d.browsable = false;
    let mut app = App::new(d);
    app.stack.push(Screen::Generations { sel: 0 });
    let text = text_of(&render(&app, &COLOR, 80, 24, clock()));
    assert!(!text.contains("f files"), "{text}");
    let id = app.data.generations[0].id.clone();
    app.stack.push(Screen::Actions { id, sel: 0 });
    let text = text_of(&render(&app, &COLOR, 80, 24, clock()));
    assert!(!text.contains("browse files"), "{text}");
}

#[test]
fn kept_folders() {
    let c = clock();
    let mut app = with(Screen::Kept { sel: 0 });
    insta::assert_snapshot!("kept_looking", render(&app, &COLOR, 80, 24, c));
    app.set_kept(vec![]);
    let screen = render(&app, &COLOR, 80, 24, c);
    assert!(!text_of(&screen).contains("d remove"), "nothing to remove");
    insta::assert_snapshot!("kept_none", screen);
    app.set_kept(kept_rows(&data()));
    insta::assert_snapshot!("kept_80x24", render(&app, &COLOR, 80, 24, c));
    let home = {
        let mut h = App::new(data());
        h.set_kept(kept_rows(&data()));
        h
    };
    let screen = render(&home, &COLOR, 80, 24, c);
    assert!(text_of(&screen).contains("Kept folders 2 from restores, 1.0 GiB and more (k)"));
    insta::assert_snapshot!("home_kept_80x24", screen);
}

#[test]
fn browsing_a_generation() {
    let c = clock();
    let d = data();
    let mut b = browse_screen(&d);
    let screen = render(
        &with(Screen::Browse(Box::new(b.clone()))),
        &COLOR,
        80,
        24,
        c,
    );
    let text = text_of(&screen);
    assert!(text.contains("neo4j-data/databases/neo4j/neostore.relationshipstore.db"));
    assert!(
        text.contains("sha256 0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    insta::assert_snapshot!("browse_80x24", screen);
    b.apply(BrowseMsg::TimesEnd(Err(
        "structr.tar.zst: the archive is damaged".into(),
    )));
    b.showing = super::browse::Listing::Differences;
    b.compare = None;
    b.apply(BrowseMsg::Comparing {
        step: "compare neo4j-data with the live folder".into(),
        done: 1 << 29,
        total: 3 << 29,
    });
    insta::assert_snapshot!(
        "browse_comparing",
        render(&with(Screen::Browse(Box::new(b))), &COLOR, 80, 24, c)
    );
    let compared = with(Screen::Browse(Box::new(browse_compared(&d))));
    let screen = render(&compared, &COLOR, 80, 24, c);
    assert!(text_of(&screen).contains("2 changed, 1 missing, 1 new"));
    insta::assert_snapshot!("browse_differences_80x24", screen);
}

fn timer(enabled: bool) -> Status {
    Status {
        timer: "structr-backup.timer",
        unit_file_state: if enabled { "enabled" } else { "disabled" }.into(),
        enabled,
        active: enabled,
        time: Some(TimeOfDay {
            hour: 3,
            minute: 15,
        }),
        on_calendar: vec!["*-*-* 03:15:00".into()],
        randomized_delay: "10min".into(),
        drop_in: None,
        next_run: enabled.then(|| Utc.with_ymd_and_hms(2026, 11, 26, 3, 15, 0).unwrap()),
    }
}

fn last_run(status: &str) -> LastRun {
    LastRun {
        operation: Some("backup".into()),
        id: (status == "success").then(|| "20261125T031502Z".into()),
        status: Some(status.into()),
        exit_code: Some(if status == "success" { 0 } else { 1 }),
        started_at: Some(Utc.with_ymd_and_hms(2026, 11, 25, 0, 15, 2).unwrap()),
        finished_at: Some(Utc.with_ymd_and_hms(2026, 11, 25, 0, 17, 40).unwrap()),
        duration_secs: Some(158.0),
        downtime_secs: Some(42.5),
        error: (status != "success")
            .then(|| "the disk holding /var/backups/structr is full".into()),
        installation: None,
    }
}

fn scheduled(timer: Timer, last: Option<LastRun>) -> App {
    let mut app = App::new(data());
    app.set_schedule(ScheduleFacts {
        timer,
        last: Ok(Runs(last.into_iter().collect())),
    });
    app
}

#[test]
fn home_schedule_line() {
    let c = clock();
    let on = scheduled(Timer::Known(timer(true)), Some(last_run("success")));
    insta::assert_snapshot!("home_schedule_80x24", render(&on, &COLOR, 80, 24, c));
    insta::assert_snapshot!(
        "home_schedule_minimum_64x20",
        render(&on, &COLOR, 64, 20, c)
    );
    let off = scheduled(Timer::Known(timer(false)), None);
    insta::assert_snapshot!("home_schedule_not_enabled", render(&off, &COLOR, 80, 24, c));
    let failed = scheduled(Timer::Known(timer(true)), Some(last_run("failure")));
    insta::assert_snapshot!(
        "home_schedule_last_failed",
        render(&failed, &COLOR, 80, 24, c)
    );
    // A cancelled verify after the nightly backup: named, the backup still leads.
    let mut verify = last_run("cancelled");
    verify.operation = Some("verify".into());
    verify.finished_at = Some(Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap());
    let mut both = scheduled(Timer::Known(timer(true)), Some(verify));
    if let Some(Ok(runs)) = both.schedule.as_mut().map(|s| &mut s.last) {
        runs.0.push(last_run("success"));
    }
    insta::assert_snapshot!(
        "home_schedule_backup_and_verify_80x24",
        render(&both, &COLOR, 80, 24, c)
    );
    insta::assert_snapshot!(
        "home_schedule_backup_and_verify_64x20",
        render(&both, &COLOR, 64, 20, c)
    );
}

#[test]
fn schedule_screen() {
    let c = clock();
    let mut app = scheduled(Timer::Known(timer(true)), Some(last_run("success")));
    app.stack
        .push(Screen::Schedule(ScheduleScreen::new(Some(TimeOfDay {
            hour: 3,
            minute: 15,
        }))));
    insta::assert_snapshot!("schedule_80x24", render(&app, &COLOR, 80, 24, c));
    insta::assert_snapshot!("schedule_minimum_64x20", render(&app, &COLOR, 64, 20, c));
    insta::assert_snapshot!("schedule_no_color", render(&app, &MONO, 80, 24, c));
    // Without systemd: the reason in words, wrapped, and no time to set.
    let mut none = scheduled(
        Timer::Unavailable(crate::install::schedule::ScheduleError::NoSystemd.to_string()),
        Some(last_run("success")),
    );
    none.stack.push(Screen::Schedule(ScheduleScreen::new(None)));
    insta::assert_snapshot!(
        "schedule_no_systemd_80x24",
        render(&none, &COLOR, 80, 24, c)
    );
    insta::assert_snapshot!(
        "schedule_no_systemd_64x20",
        render(&none, &COLOR, 64, 20, c)
    );
    let mut asking = ScheduleScreen::new(None);
    asking.time = "04:30".into();
    asking.confirm = Some((
        ScheduleAction::Enable(TimeOfDay {
            hour: 4,
            minute: 30,
        }),
        Focus::Cancel,
    ));
    let mut off = scheduled(Timer::Known(timer(false)), None);
    off.stack.push(Screen::Schedule(asking.clone()));
    insta::assert_snapshot!("schedule_enable_confirm", render(&off, &COLOR, 80, 24, c));
    insta::assert_snapshot!(
        "schedule_enable_confirm_minimum",
        render(&off, &COLOR, 64, 20, c)
    );
    let mut missing = scheduled(Timer::NotInstalled, None);
    missing
        .stack
        .push(Screen::Schedule(ScheduleScreen::new(None)));
    insta::assert_snapshot!(
        "schedule_not_installed",
        render(&missing, &COLOR, 80, 24, c)
    );
    let mut help = App::new(data());
    help.stack.push(Screen::Help(Default::default()));
    insta::assert_snapshot!("help_home", render(&help, &COLOR, 80, 24, c));
}

/// A Docker Compose installation with five components: volumes with long names
/// and paths, as `docker inspect` shows them.
fn compose_data() -> Data {
    let volumes = [
        ("structr-neo4j-database", "neo4j:/data"),
        ("structr-neo4j-logs", "neo4j:/logs"),
        ("structr-files", "structr:/var/lib/structr/files"),
        ("structr-logs", "structr:/var/lib/structr/logs"),
    ];
    let mut components: Vec<ComponentSpec> = volumes
        .iter()
        .map(|(name, role)| ComponentSpec {
            name: name.to_string(),
            role: role.to_string(),
            path: PathBuf::from(format!("/var/lib/docker/volumes/{name}/_data")),
            neo4j_store: *role == "neo4j:/data",
        })
        .collect();
    components.push(ComponentSpec::new(
        "compose-project",
        PathBuf::from("/opt/docker-setup"),
    ));
    let generation = |id: &str, hour: u32, label: &str, pinned: bool, verified: Option<bool>| {
        let mut m = manifest(id, hour, label, pinned, verified);
        m.installation = "compose".into();
        m.components = components
            .iter()
            .enumerate()
            .map(|(i, c)| Component {
                name: c.name.clone(),
                role: c.role.clone(),
                source: c.path.clone(),
                archive: format!("{}.tar.zst", c.name),
                index: format!("{}.files", c.name),
                files: 100 * (i as u64 + 1),
                entries: 120 * (i as u64 + 1),
                bytes: (i as u64 + 1) << 28,
                archive_size: (i as u64 + 1) << 26,
                sha256: "0".repeat(64),
            })
            .collect();
        m
    };
    let mut plan: Vec<String> = components
        .iter()
        .map(|c| format!("{:<22} 512.0 MiB in 300 files", c.name))
        .collect();
    plan.push("free space  120.0 GiB (about 1.2 GiB needed)".into());
    plan.push("downtime    about 43 s".into());
    let generations = vec![
        generation("20261125T031500Z", 3, "nightly", false, None),
        generation("20261125T021500Z", 2, "pre-restore", false, Some(true)),
        generation("20261125T011500Z", 1, "before upgrade", true, Some(false)),
    ];
    Data {
        kind: "compose".into(),
        host: "srv1".into(),
        components,
        services: vec![("structr".into(), Some(true)), ("neo4j".into(), Some(true))],
        notes: vec![],
        detect_error: None,
        repo: "/var/backups/structr".into(),
        free_bytes: Some(120 << 30),
        generations,
        listed: true,
        interrupted: None,
        plan,
        plan_bytes: Some(15 << 28),
        offsite: vec![],
        policy: "last 3, daily 7, weekly 4, monthly 12".into(),
        browsable: true,
        recovery: Default::default(),
    }
}

/// A restore of every component of a generation of `d`, extracting the last
/// (or the third) component.
fn restore_job(c: Clock, d: &Data) -> Job {
    let ago = |s: u64| c.mono.checked_sub(Duration::from_secs(s)).unwrap_or(c.mono);
    let m = &d.generations[1];
    let mut j = Job::new(JobKind::Restore, Some(m.id.clone()));
    j.started = ago(60);
    let done = |s: u64| StepState::Done(Duration::from_secs(s));
    for comp in &m.components {
        j.steps.push((Step::Verify(comp.archive.clone()), done(2)));
        j.steps.push((Step::Verify(comp.index.clone()), done(0)));
    }
    j.steps.push((Step::Preflight, done(0)));
    for (name, _) in &d.services {
        j.steps.push((Step::Stop(name.clone()), done(4)));
    }
    for comp in &m.components {
        j.steps
            .push((Step::SafetyBackup(comp.name.clone()), done(3)));
    }
    let at = (m.components.len() - 1).min(2);
    for (i, comp) in m.components.iter().enumerate() {
        let state = match i.cmp(&at) {
            std::cmp::Ordering::Less => done(5),
            std::cmp::Ordering::Equal => StepState::Running(ago(4)),
            std::cmp::Ordering::Greater => StepState::Pending,
        };
        j.steps.push((Step::Extract(comp.name.clone()), state));
    }
    for comp in &m.components {
        j.steps
            .push((Step::Swap(comp.name.clone()), StepState::Pending));
    }
    for (name, _) in d.services.iter().rev() {
        j.steps
            .push((Step::Start(name.clone()), StepState::Pending));
        j.steps
            .push((Step::Health(name.clone()), StepState::Pending));
    }
    let extracting = Step::Extract(m.components[at].name.clone());
    j.progress = Some((extracting.clone(), 1 << 28, 3 << 28, ago(4)));
    j.estimate = Estimate::of(JobKind::Restore, Some(&m.id), d, false);
    // Verified and copied the current state at the rate it extracts now.
    let before: u64 = m.total_archive_size() + m.total_bytes();
    feed(
        &mut j,
        &Step::Verify("all".into()),
        [(ago(30), 0), (ago(4), before)],
    );
    feed(&mut j, &extracting, [(ago(4), 0), (c.mono, 1 << 28)]);
    j.file = "files/2026/11/report-final.pdf".into();
    j.first_stop = Some(ago(30));
    j
}

/// Bytes a step moved, at the instants given, as its progress events tell them.
fn feed<const N: usize>(j: &mut Job, step: &Step, points: [(Instant, u64); N]) {
    for (at, done) in points {
        let ev = Event::Progress {
            step: step.clone(),
            done,
            total: done,
        };
        j.tally.on_event(&ev, at);
    }
}

/// What a restore confirmation says for each component of `d`'s generation.
fn restore_facts(d: &Data) -> Vec<String> {
    let m = &d.generations[1];
    let mut facts = vec!["From 2026-11-25 02:15 on host srv1, 1 h ago.".to_string()];
    for c in &m.components {
        facts.push(format!(
            "REPLACES {} (now 1.1 GiB in 125 files) with 1.0 GiB of the backup.",
            c.source.display()
        ));
        facts.push("  3 files changed since the backup, the newest 2 min ago".into());
        facts.push(format!(
            "  the current folder is kept as {}.pre-restore-{}",
            c.source.display(),
            m.id
        ));
    }
    facts.push(
        "Stops structr and neo4j during the restore; a safety backup of the current state is taken first."
            .into(),
    );
    facts
}

/// The folders the restore of `d`'s second generation kept, one per component;
/// all measured but the last.
fn kept_rows(d: &Data) -> Vec<KeptRow> {
    let id = &d.generations[1].id;
    let n = d.components.len();
    d.components
        .iter()
        .enumerate()
        .map(|(i, c)| KeptRow {
            component: c.name.clone(),
            path: PathBuf::from(format!("{}.pre-restore-{id}", c.path.display())),
            target: c.path.clone(),
            modified: Some(Utc.with_ymd_and_hms(2026, 11, 25, 2, 40, 0).unwrap()),
            size: (i + 1 < n).then(|| Ok((125 * (i as u64 + 1), (i as u64 + 1) << 30))),
        })
        .collect()
}

/// A few entries of each component of `d`'s second generation, mtimes read for
/// the first half.
fn browse_rows(d: &Data) -> Vec<FileRow> {
    let mut rows = Vec::new();
    for (n, c) in d.generations[1].components.iter().enumerate() {
        let entry = |path: &str, kind: EntryKind, size: u64| FileRow {
            component: c.name.clone(),
            path: path.into(),
            kind,
            mode: if kind == EntryKind::Dir { 0o755 } else { 0o644 },
            uid: 7474,
            gid: 7474,
            size,
            sha256: (kind == EntryKind::File).then(|| {
                format!("{n}f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            }),
            link: None,
            mtime: None,
        };
        rows.push(entry(".", EntryKind::Dir, 0));
        rows.push(entry("databases", EntryKind::Dir, 0));
        rows.push(entry(
            "databases/neo4j/neostore.relationshipstore.db",
            EntryKind::File,
            3 << 28,
        ));
        rows.push(entry(
            "files/2026/11/Quarterly report (final).pdf",
            EntryKind::File,
            1 << 20,
        ));
        rows.push(entry("structr.conf", EntryKind::File, 2048));
    }
    let half = rows.len() / 2;
    for (i, r) in rows.iter_mut().enumerate().take(half) {
        r.mtime = Some(1_795_000_000 + i as i64 * 60);
    }
    rows
}

/// Browsing `d`'s second generation: listed, mtimes half read.
fn browse_screen(d: &Data) -> BrowseScreen {
    let mut b = BrowseScreen::new(&d.generations[1].id);
    b.apply(BrowseMsg::Listed(Ok(browse_rows(d))));
    b.apply(BrowseMsg::TimesRead {
        done: 1 << 30,
        total: 3 << 30,
    });
    b.sel = 2;
    b
}

/// The same, compared with the live installation.
fn browse_compared(d: &Data) -> BrowseScreen {
    let mut b = browse_screen(d);
    let first = &d.generations[1].components[0].name;
    let last = &d.generations[1].components.last().unwrap().name;
    b.showing = super::browse::Listing::Differences;
    b.apply(BrowseMsg::Compared(Ok(vec![
        DiffRow {
            component: first.clone(),
            path: "databases/neo4j/neostore.relationshipstore.db".into(),
            change: Change::Changed("size 805306368 → 805830656".into()),
        },
        DiffRow {
            component: last.clone(),
            path: "files/2026/11/Quarterly report (final).pdf".into(),
            change: Change::Missing,
        },
        DiffRow {
            component: last.clone(),
            path: "files/2026/12/new upload.png".into(),
            change: Change::New,
        },
        DiffRow {
            component: last.clone(),
            path: "structr.conf".into(),
            change: Change::Changed("content".into()),
        },
    ])));
    b
}

/// Every screen of the wizard on `d`, by name.
fn every_screen(d: &Data, c: Clock) -> Vec<(&'static str, App)> {
    let on = |screens: Vec<Screen>| {
        let mut app = App::new(d.clone());
        app.stack.extend(screens);
        app
    };
    let id = d.generations[1].id.clone();
    // Copying the first component; the others wait.
    let mut running = backup_job(c, Some((3 << 29, 3 << 30)), false);
    let ago = |s: u64| c.mono.checked_sub(Duration::from_secs(s)).unwrap_or(c.mono);
    let copies: Vec<(Step, StepState)> = d
        .components
        .iter()
        .enumerate()
        .map(|(i, comp)| {
            let state = match i {
                0 => StepState::Running(ago(8)),
                _ => StepState::Pending,
            };
            (Step::Copy(comp.name.clone()), state)
        })
        .collect();
    running.steps.splice(4..6, copies);
    let first = Step::Copy(d.components[0].name.clone());
    running.progress = Some((first.clone(), 3 << 29, 3 << 30, ago(8)));
    running.tally = Default::default();
    feed(&mut running, &first, [(ago(8), 0), (c.mono, 3 << 29)]);
    let failed = backup_job(c, None, true);
    let mut asking = running.clone();
    asking.ask_cancel = true;
    let mut typed = Confirm::new(&id, restore_facts(d));
    typed.typed = id.clone();
    typed.focus = Focus::Confirm;
    let delete = Confirm::new(
        &id,
        vec![format!(
            "Generation {id} will be deleted from the repository for good."
        )],
    );
    let prune_rows: Vec<PruneRow> = d
        .generations
        .iter()
        .enumerate()
        .map(|(i, m)| PruneRow {
            id: m.id.clone(),
            created: format!("2026-11-25 0{}:15", 3 - i),
            keep: i != 1,
            reasons: if i == 1 {
                ""
            } else {
                "newest, last, daily 2026-11-25"
            }
            .into(),
            size: m.total_archive_size(),
            label: m.label.clone(),
        })
        .collect();
    let mut scheduled = on(vec![Screen::Schedule(ScheduleScreen::new(Some(
        TimeOfDay {
            hour: 3,
            minute: 15,
        },
    )))]);
    scheduled.set_schedule(ScheduleFacts {
        timer: Timer::Known(timer(true)),
        last: Ok(Runs(vec![last_run("success")])),
    });
    let with_kept = |screens: Vec<Screen>| {
        let mut app = on(screens);
        app.set_kept(kept_rows(d));
        app
    };
    let first_kept = &kept_rows(d)[0];
    let remove_kept = Screen::RemoveKept {
        confirm: {
            let mut c = Confirm::new(
                &first_kept.name(),
                vec![
                    format!("Removes {} for good (1.0 GiB in 125 files).", first_kept.path.display()),
                    format!(
                        "It holds what {} held before a restore replaced it; the live folder is not touched.",
                        first_kept.target.display()
                    ),
                ],
            );
            c.typed = first_kept.name();
            c.focus = Focus::Confirm;
            c
        },
        path: first_kept.path.clone(),
    };
    let mut removing = Job::new(JobKind::RemoveKept, Some(first_kept.name()));
    removing.started = ago(3);
    let remove_step = Step::Remove(first_kept.name());
    removing.steps = vec![(remove_step.clone(), StepState::Running(ago(3)))];
    removing.progress = Some((remove_step.clone(), 3 << 28, 1 << 30, ago(3)));
    removing.file = "databases/neo4j/neostore.nodestore.db".into();
    removing.estimate = Some(Estimate {
        bytes: 1 << 30,
        ..Estimate::default()
    });
    feed(
        &mut removing,
        &remove_step,
        [(ago(3), 0), (c.mono, 3 << 28)],
    );
    let mut schedule_confirm = ScheduleScreen::new(None);
    schedule_confirm.confirm = Some((ScheduleAction::Disable, Focus::Cancel));
    let mut interrupted = on(vec![]);
    interrupted.data.interrupted = Some(Record {
        pid: 4242,
        host: "srv1".into(),
        operation: "restore".into(),
        started_at: Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap(),
        targets: vec![],
        stopped: d.services.iter().map(|(n, _)| n.clone()).collect(),
        failed_start: None,
        swaps: vec![],
    });
    interrupted.data.notes = vec![
        "This machine is a virtual machine (kvm): a snapshot of the stopped VM is an alternative."
            .into(),
    ];
    let mut cancelled = running.clone();
    cancelled.cancel_requested = true;
    let mut cancelled = on(vec![Screen::Job(Box::new(cancelled))]);
    cancelled.on_job_done(Err("cancelled: the operation was cancelled. The services were started again. No generation was written.".into()));
    if let Some(Screen::Job(j)) = cancelled.stack.last_mut() {
        j.finished = Some(c.mono);
    }
    let mut damaged = on(vec![Screen::Generations { sel: 1 }]);
    damaged.verified(
        &id,
        vec![format!("verification failed: {id}: {}.tar.zst is damaged (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, expected 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae)", d.components[0].name)],
    );
    let restored = on(vec![Screen::Job(Box::new(restore_done(c, d)))]);
    let mut start = on(vec![Screen::StartServices(vec![d.services[1].0.clone()])]);
    start.data.services[1].1 = Some(false);
    vec![
        ("home", on(vec![])),
        ("restore_done", restored),
        ("start_services", start),
        ("home_interrupted", interrupted),
        ("help_home", on(vec![Screen::Help(Default::default())])),
        ("backup_cancelled", cancelled),
        ("generations_verify_failed", damaged),
        (
            "backup_plan",
            on(vec![Screen::BackupPlan(Default::default())]),
        ),
        (
            "backup_plan_labelled",
            on(vec![Screen::BackupPlan(PlanScreen {
                label: "before the upgrade to Structr 6.1 on Friday night".into(),
                ..Default::default()
            })]),
        ),
        ("backup_running", on(vec![Screen::Job(Box::new(running))])),
        ("backup_failed", on(vec![Screen::Job(Box::new(failed))])),
        (
            "backup_cancel_dialog",
            on(vec![Screen::Job(Box::new(asking))]),
        ),
        (
            "restore_running",
            on(vec![Screen::Job(Box::new(restore_job(c, d)))]),
        ),
        ("generations", on(vec![Screen::Generations { sel: 1 }])),
        (
            "generation_actions",
            on(vec![
                Screen::Generations { sel: 1 },
                Screen::Actions {
                    id: id.clone(),
                    sel: 0,
                },
            ]),
        ),
        ("restore_pick", on(vec![Screen::RestorePick { sel: 1 }])),
        ("restore_confirm", on(vec![Screen::RestoreConfirm(typed)])),
        ("delete_confirm", on(vec![Screen::DeleteConfirm(delete)])),
        (
            "prune_preview",
            on(vec![Screen::PrunePreview(PruneScreen {
                rows: prune_rows.clone(),
                sel: 1,
                confirm: None,
            })]),
        ),
        (
            "prune_confirm",
            on(vec![Screen::PrunePreview(PruneScreen {
                rows: prune_rows,
                sel: 1,
                confirm: Some(Focus::Cancel),
            })]),
        ),
        ("schedule", scheduled),
        (
            "schedule_confirm",
            on(vec![Screen::Schedule(schedule_confirm)]),
        ),
        ("home_with_kept", with_kept(vec![])),
        ("kept", with_kept(vec![Screen::Kept { sel: 1 }])),
        (
            "kept_remove_confirm",
            with_kept(vec![Screen::Kept { sel: 0 }, remove_kept]),
        ),
        (
            "kept_removing",
            with_kept(vec![
                Screen::Kept { sel: 0 },
                Screen::Job(Box::new(removing)),
            ]),
        ),
        (
            "browse",
            on(vec![Screen::Browse(Box::new(browse_screen(d)))]),
        ),
        (
            "browse_search",
            on(vec![Screen::Browse(Box::new({
                let mut b = browse_screen(d);
                b.searching = true;
                b.filter = "quarterly".into();
                b.refilter();
                b
            }))]),
        ),
        (
            "browse_differences",
            on(vec![Screen::Browse(Box::new(browse_compared(d)))]),
        ),
        (
            "help_generations",
            on(vec![
                Screen::Generations { sel: 0 },
                Screen::Help(Default::default()),
            ]),
        ),
    ]
}

/// A restore of `d`'s second generation that finished, with what the wizard
/// says then: the kept folders by their whole paths.
fn restore_done(c: Clock, d: &Data) -> Job {
    let mut j = restore_job(c, d);
    for (_, state) in &mut j.steps {
        *state = StepState::Done(Duration::from_secs(2));
    }
    j.progress = None;
    j.last_start = Some(c.mono);
    j.warnings
        .push("structr answered its health check only after 40 s".into());
    j.finish(Ok(restore_result(d)));
    j.finished = Some(c.mono);
    j
}

/// The wizard's words after a restore of `d`'s second generation (effects.rs).
fn restore_result(d: &Data) -> String {
    let id = &d.generations[1].id;
    let kept: Vec<String> = kept_paths(d)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "Generation {id} restored; services running. Safety backup: 20261125T033000Z. Previous folders kept at {} (delete them when satisfied).",
        kept.join(", ")
    )
}

/// Where a restore of `d`'s second generation keeps the current folders.
fn kept_paths(d: &Data) -> Vec<PathBuf> {
    d.components
        .iter()
        .map(|c| {
            PathBuf::from(format!(
                "{}.pre-restore-{}",
                c.path.display(),
                d.generations[1].id
            ))
        })
        .collect()
}

/// The rows of a drawn screen as text, right edges (borders, scrollbars) trimmed.
fn rows_of(app: &App, w: u16, h: u16, c: Clock) -> Vec<String> {
    std::env::set_var("TZ", "UTC");
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app, &COLOR, c)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            row.trim_end_matches([' ', '│', '║', '█', '▲', '▼', '┐', '┘', '┤'])
                .to_string()
        })
        .collect()
}

/// Fails when a path of `paths` is broken inside a name from one row to the
/// next (wrapping may break only after a `/`), or when a finished job's result
/// does not end on the screen.
fn assert_whole(name: &str, rows: &[String], paths: &[String], app: &App) {
    let screen = rows.join("\n");
    for pair in rows.windows(2) {
        let (end, next) = (pair[0].trim_end(), pair[1].trim_start());
        for p in paths {
            let chars: Vec<char> = p.chars().collect();
            for k in 4..chars.len() {
                let (head, rest): (String, String) =
                    (chars[..k].iter().collect(), chars[k..].iter().collect());
                let mid_name = !head.ends_with('/') && !rest.starts_with('/');
                let piece: String = rest.chars().take(3).collect();
                assert!(
                    !(mid_name && end.ends_with(&head) && next.starts_with(&piece)),
                    "{name}: {p} broken inside a name after {head:?}\n{screen}"
                );
            }
        }
    }
    if let Some(Some(result)) = app.job().map(|j| j.outcome.clone()) {
        let msg = match &result {
            Ok(m) | Err(m) => m,
        };
        let last = msg.split_whitespace().last().unwrap_or_default();
        assert!(
            rows.iter().any(|r| r.trim_end().ends_with(last)),
            "{name}: the result's last words {last:?} are not on the screen\n{screen}"
        );
    }
}

/// Every path the test data shows: folders, kept folders, the repository, the
/// files of a generation as browsing shows them.
fn paths_of(d: &Data) -> Vec<String> {
    let mut paths: Vec<String> = d
        .components
        .iter()
        .map(|c| c.path.display().to_string())
        .collect();
    paths.extend(kept_paths(d).iter().map(|p| p.display().to_string()));
    paths.push(d.repo.clone());
    paths.extend(
        browse_rows(d)
            .iter()
            .map(|r| format!("{}/{}", r.component, r.path)),
    );
    paths
}

/// A step's progress says only what is known: no rate or ETA before bytes
/// moved, a step ETA never later than the job's, the percentage beside the bar.
#[test]
fn progress_does_not_contradict_itself() {
    let c = clock();
    let d = data();
    let ago = |s: u64| c.mono.checked_sub(Duration::from_secs(s)).unwrap_or(c.mono);
    let mut j = restore_job(c, &d);
    let step = j.progress.as_ref().map(|p| p.0.clone()).unwrap();
    // Just started: nothing moved yet.
    j.progress = Some((step.clone(), 0, 3 << 28, c.mono));
    let mut at_start = App::new(d.clone());
    at_start.stack.push(Screen::Job(Box::new(j.clone())));
    for (w, h) in [(80, 24), (64, 20)] {
        let rows = rows_of(&at_start, w, h, c);
        assert!(
            !rows.iter().any(|r| r.contains("B/s")),
            "a rate before bytes moved at {w}x{h}\n{}",
            rows.join("\n")
        );
        let pct = rows.iter().find(|r| r.contains('%')).unwrap();
        let col = pct.chars().position(|ch| ch == '%').unwrap();
        assert!(
            col + 2 >= w as usize,
            "the percentage over the bar: {pct:?}"
        );
    }
    // Crawling: this step alone would take hours, longer than the whole job.
    j.progress = Some((step, 1 << 20, 3 << 28, ago(50)));
    let mut slow = App::new(d.clone());
    slow.stack.push(Screen::Job(Box::new(j)));
    let rows = rows_of(&slow, 80, 24, c);
    let seconds = |what: &str| -> u64 {
        let row = rows.iter().find(|r| r.contains(what)).unwrap();
        let eta = row.split("ETA ").nth(1).unwrap().trim();
        // "12.5 s", "95 s", "3 min 20 s"
        let words: Vec<&str> = eta.split_whitespace().collect();
        let mut total = 0.0;
        for pair in words.chunks(2) {
            let n: f64 = pair[0].parse().unwrap();
            total += n * if pair.get(1) == Some(&"min") {
                60.0
            } else {
                1.0
            };
        }
        total as u64
    };
    let (step_eta, job_eta) = (seconds("B/s"), seconds(" job "));
    assert!(
        step_eta <= job_eta,
        "step ETA {step_eta} s after the job's {job_eta} s\n{}",
        rows.join("\n")
    );
}

/// Every screen at 80×24 and at the minimum 64×20: no path broken inside a
/// name, and a finished job's result whole on the screen.
#[test]
fn every_screen_keeps_paths_and_results_whole() {
    let c = clock();
    for (prefix, d) in [("full", data()), ("compose_full", compose_data())] {
        let paths = paths_of(&d);
        for (name, app) in every_screen(&d, c) {
            for (w, h) in [(80, 24), (64, 20)] {
                let rows = rows_of(&app, w, h, c);
                assert_whole(&format!("{prefix} {name} {w}x{h}"), &rows, &paths, &app);
            }
            insta::assert_snapshot!(format!("{prefix}_{name}"), render(&app, &COLOR, 80, 24, c));
        }
    }
}

/// After a restore the result pane scrolls (↑↓ PgUp PgDn), and at 64×20 it
/// shows the kept folders and "delete them when satisfied" without scrolling.
#[test]
fn a_finished_jobs_result_scrolls() {
    use super::testing::key;
    use ratatui::crossterm::event::KeyCode;
    let c = clock();
    let d = compose_data();
    let mut app = App::new(d.clone());
    let mut j = restore_done(c, &d);
    for i in 0..12 {
        j.warnings
            .push(format!("warning number {i} about something"));
    }
    j.info.clear();
    app.stack.push(Screen::Job(Box::new(j)));
    let before = rows_of(&app, 64, 20, c);
    assert!(
        before.iter().any(|r| r.contains("↑↓ scroll")),
        "the footer offers scrolling\n{}",
        before.join("\n")
    );
    app.on_key(key(KeyCode::PageDown));
    let after = rows_of(&app, 64, 20, c);
    assert_ne!(before, after, "PgDn scrolls the result");
    app.on_key(key(KeyCode::PageUp));
    assert_eq!(rows_of(&app, 64, 20, c), before, "PgUp scrolls back");
}

/// The text of a rendered buffer, without its styles.
fn text_of(screen: &str) -> String {
    screen
        .split("styles: [")
        .next()
        .unwrap_or(screen)
        .to_string()
}

/// At the documented minimum size every screen keeps what identifies and
/// decides: whole generation ids, the typed field and its buttons, the step at
/// work. Systemd (two components) and Compose (five).
#[test]
fn every_screen_at_the_minimum_size() {
    let c = clock();
    for (prefix, d) in [("min", data()), ("compose_min", compose_data())] {
        for (name, app) in every_screen(&d, c) {
            let screen = render(&app, &COLOR, 64, 20, c);
            let text = text_of(&screen);
            let kind = app.screen().kind();
            if matches!(
                kind,
                ScreenKind::Generations | ScreenKind::RestorePick | ScreenKind::PrunePreview
            ) {
                // A question over a list names what it asks about.
                let asked = match app.screen() {
                    Screen::PrunePreview(PruneScreen {
                        rows,
                        confirm: Some(_),
                        ..
                    }) => rows
                        .iter()
                        .filter(|r| !r.keep)
                        .map(|r| r.id.clone())
                        .collect(),
                    _ => d
                        .generations
                        .iter()
                        .map(|m| m.id.clone())
                        .collect::<Vec<_>>(),
                };
                for id in &asked {
                    assert!(text.contains(id), "{prefix} {name}: {id} cut\n{text}");
                }
            }
            if kind == ScreenKind::Kept {
                let id = &d.generations[1].id;
                assert!(text.contains(id), "{prefix} {name}: {id} cut\n{text}");
            }
            if kind == ScreenKind::Confirm {
                assert!(text.contains(" > "), "{prefix} {name}: no field\n{text}");
                assert!(
                    text.contains("[  Cancel  ]") || text.contains("[▶ Cancel ◀]"),
                    "{prefix} {name}: no buttons\n{text}"
                );
            }
            if let Some(j) = app.job().filter(|j| j.outcome.is_none()) {
                let at_work = j
                    .steps
                    .iter()
                    .find(|(_, s)| matches!(s, StepState::Running(_)))
                    .map(|(s, _)| s.to_string())
                    .unwrap_or_default();
                assert!(
                    text.contains(&at_work),
                    "{prefix} {name}: {at_work} not shown\n{text}"
                );
            }
            insta::assert_snapshot!(format!("{prefix}_{name}"), screen);
        }
    }
}

/// A restore drill in a generation's details: when it passed, or why it failed.
#[test]
fn restore_drills_in_the_details() {
    use crate::repo::manifest::DrillRecord;
    let mut d = data();
    let at = clock().wall - chrono::Duration::days(3);
    d.generations[0].last_drill = Some(DrillRecord {
        at,
        ok: true,
        secs: 12.0,
        detail: "neo4j:5.26 started on the copy in 9.0 s".into(),
    });
    d.generations[1].last_drill = Some(DrillRecord {
        at,
        ok: false,
        secs: 2.0,
        detail: "structr.tar.zst does not match SHA256SUMS".into(),
    });
    let shown = |sel: usize| {
        let mut app = App::new(d.clone());
        app.stack.push(Screen::Generations { sel });
        text_of(&render(&app, &COLOR, 100, 30, clock()))
    };
    let first = shown(0);
    assert!(first.contains("restore-tested 3 d ago"), "{first}");
    let second = shown(1);
    assert!(
        second.contains("restore drill FAILED 3 d ago: structr.tar.zst does not match"),
        "{second}"
    );
    // The list itself says it for every generation, as `list` does, at both sizes.
    for (w, h) in [(80, 24), (64, 20)] {
        let mut app = App::new(d.clone());
        app.stack.push(Screen::Generations { sel: 2 });
        let rows = rows_of(&app, w, h, clock());
        let row = |id: &str| rows.iter().find(|r| r.contains(id)).cloned().unwrap();
        assert!(rows.iter().any(|r| r.contains("tested")), "{rows:#?}");
        assert!(row(&d.generations[0].id).contains("✓ 3 d"), "{rows:#?}");
        assert!(row(&d.generations[1].id).contains("FAILED"), "{rows:#?}");
        assert!(row(&d.generations[2].id).contains("never"), "{rows:#?}");
    }
}

/// Off-site targets on Home (one up to date, one behind, one unreachable) and,
/// in the details of a generation, where it exists.
#[test]
fn offsite_targets_on_home_and_in_the_details() {
    use crate::tui::data::OffsiteState;
    let mut d = data();
    let target = |name: &str, ids: Result<Vec<&str>, &str>| OffsiteState {
        name: name.into(),
        location: format!("sftp:backup@{name}:/srv/structr"),
        ids: ids
            .map(|v| v.into_iter().map(String::from).collect())
            .map_err(String::from),
    };
    d.offsite = vec![
        target("office", Ok(vec!["20261125T031500Z", "20261125T011500Z"])),
        target("nas", Ok(vec!["20261125T011500Z"])),
        target(
            "cloud",
            Err("ssh: connect to host cloud port 22: Connection refused"),
        ),
    ];
    let home = render(&App::new(d.clone()), &COLOR, 80, 24, clock());
    let text = text_of(&home);
    assert!(
        text.contains("Off-site     office: 20261125T031500Z (15 min ago), up to date"),
        "{text}"
    );
    assert!(
        text.contains("nas: 20261125T011500Z (2 h ago), 2 newer generation(s) not copied"),
        "{text}"
    );
    assert!(
        text.contains("cloud: unreachable: ssh: connect to host cloud"),
        "{text}"
    );
    insta::assert_snapshot!("home_offsite", home);
    let mut app = App::new(d);
    app.stack.push(Screen::Generations { sel: 0 });
    let screen = render(&app, &COLOR, 80, 24, clock());
    assert!(
        text_of(&screen).contains("copies: ✓ office  ✗ nas  ✗ cloud"),
        "{}",
        text_of(&screen)
    );
    insta::assert_snapshot!("generations_offsite", screen);
}

/// The guided disaster recovery: Home offering it, the source chooser (typing a
/// folder; a folder that is not there), the generations found, the plan (a
/// target created, one replaced, an owner mapped by name, a name missing here),
/// a refusal, and the checklist at the end.
#[test]
fn disaster_recovery_screens() {
    use super::data::Offer;
    use super::recovery::{Checklist, Field, Opened, Plan, Recovery, ServiceCheck, Stage, Tone};
    use crate::tui::scroll::Scroll;
    let c = clock();
    let mut d = data();
    d.generations = vec![];
    d.services = vec![
        ("structr".into(), Some(false)),
        ("neo4j".into(), Some(false)),
    ];
    d.recovery = Offer {
        why: Some(
            "the Neo4j data folder /var/lib/neo4j/data is missing and the repository holds no generation"
                .into(),
        ),
        offsite: vec!["nas".into(), "office".into()],
    };
    let home = render(&App::new(d.clone()), &COLOR, 80, 24, c);
    assert!(
        text_of(&home).contains("D Disaster recovery: restore from a copy"),
        "{}",
        text_of(&home)
    );
    insta::assert_snapshot!("home_recovery_offered", home);
    let on = |r: Recovery| {
        let mut app = App::new(d.clone());
        app.stack.push(Screen::Recovery(Box::new(r)));
        app
    };
    let source = |field, error: Option<&str>| {
        let mut r = Recovery::new(d.recovery.clone());
        r.stage = Stage::Source {
            sel: 2,
            field,
            opening: None,
            error: error.map(String::from),
            sent: None,
        };
        r
    };
    let typing = on(source(
        Some((Field::Folder, "/mnt/usb/structr-backups".into())),
        None,
    ));
    let screen = render(&typing, &COLOR, 80, 24, c);
    let text = text_of(&screen);
    for row in [
        "off-site target nas",
        "off-site target office",
        "▶ a folder (copied repository, mounted disk)…",
        "a restic repository…",
        "/mnt/usb/structr-backups_",
    ] {
        assert!(text.contains(row), "{row}:\n{text}");
    }
    insta::assert_snapshot!("recovery_source_typing", screen);
    insta::assert_snapshot!(
        "recovery_source_typing_minimum",
        render(&typing, &COLOR, 64, 20, c)
    );
    let missing = on(source(None, Some("there is no folder /mnt/usb and no off-site target of that name (configured: nas, office)")));
    insta::assert_snapshot!("recovery_source_error", render(&missing, &COLOR, 80, 24, c));
    // d has no generation yet: the paths are those of the same installation.
    let paths = paths_of(&data());
    let whole = |name: &str, app: &App| {
        for (w, h) in [(80, 24), (64, 20)] {
            assert_whole(
                &format!("{name} {w}x{h}"),
                &rows_of(app, w, h, c),
                &paths,
                app,
            );
        }
    };
    whole("recovery_source_typing", &typing);
    whole("recovery_source_error", &missing);
    let mut generations = data().generations;
    for m in &mut generations {
        m.host = "old-srv".into();
        m.versions.insert("neo4j".into(), "5.26.0".into());
        m.versions.insert("structr".into(), "6.0.1".into());
    }
    let opened = Opened {
        location: "/mnt/usb/structr-backups".into(),
        generations,
        unreadable: vec![],
    };
    let mut pick = Recovery::new(d.recovery.clone());
    pick.opened = Some(opened.clone());
    pick.stage = Stage::Pick { sel: 1 };
    let screen = render(&on(pick.clone()), &COLOR, 80, 24, c);
    assert!(
        text_of(&screen).contains("▶ 20261125T021500Z  old-srv      2026-11-25 02:15    5.0 GiB"),
        "{}",
        text_of(&screen)
    );
    insta::assert_snapshot!("recovery_pick", screen);
    let plan = Plan {
        lines: vec![
            (Tone::Plain, "neo4j-data  /var/lib/neo4j/data: CREATED (does not exist yet), 3.0 GiB in 120 files".into()),
            (Tone::Plain, "structr  /usr/lib/structr: REPLACED (kept as /usr/lib/structr.pre-restore-20261125T021500Z), 2.0 GiB in 52000 files".into()),
            (Tone::Plain, "owner neo4j (user): uid 107 in the generation → 112 here".into()),
            (Tone::Warn, "WARNING: user structr (uid 998 in the generation) does not exist here; fix: `useradd --system structr`".into()),
            (Tone::Plain, "structr, neo4j are stopped now and stay stopped; the checklist at the end offers to start them".into()),
        ],
        refused: false,
        kept: vec![],
    };
    let mut planned = pick.clone();
    planned.stage = Stage::Plan {
        id: "20261125T021500Z".into(),
        plan: Some(Ok(plan)),
        scroll: Scroll::default(),
    };
    let screen = render(&on(planned.clone()), &COLOR, 80, 24, c);
    let text = text_of(&screen);
    assert!(text.contains("CREATED (does not exist yet)"), "{text}");
    assert!(
        text.contains("uid 107 in the generation → 112 here"),
        "{text}"
    );
    insta::assert_snapshot!("recovery_plan", screen);
    whole("recovery_pick", &on(pick.clone()));
    whole("recovery_plan", &on(planned.clone()));
    insta::assert_snapshot!(
        "recovery_plan_minimum",
        render(&on(planned), &COLOR, 64, 20, c)
    );
    let mut refused = pick;
    refused.stage = Stage::Plan {
        id: "20261125T021500Z".into(),
        plan: Some(Ok(Plan {
            lines: vec![(Tone::Refused, "REFUSED: the Neo4j store of 20261125T021500Z was written by Neo4j 5.26.0 and Neo4j 4.4.30 is installed here: a store cannot be opened by an older major. Install Neo4j 5.26 or newer, then restore".into())],
            refused: true,
            kept: vec![],
        })),
        scroll: Scroll::default(),
    };
    whole("recovery_plan_refused", &on(refused.clone()));
    insta::assert_snapshot!(
        "recovery_plan_refused",
        render(&on(refused), &COLOR, 80, 24, c)
    );
    let service = |name: &str, running: bool| ServiceCheck {
        name: name.into(),
        running: Some(running),
        health: if running {
            Ok(())
        } else {
            Err("not running".into())
        },
    };
    let checked = |running: bool| {
        let mut r = Recovery::new(d.recovery.clone());
        r.opened = Some(opened.clone());
        r.stage = Stage::Checklist {
            summary: "Generation 20261125T021500Z restored from /mnt/usb/structr-backups.".into(),
            checks: Some(Checklist {
                services: vec![service("neo4j", running), service("structr", running)],
                http: Some((
                    "http://127.0.0.1:8082/structr/health/ready".into(),
                    if running {
                        Ok(())
                    } else {
                        Err("not asked: structr is not running".into())
                    },
                )),
                kept: vec![PathBuf::from(
                    "/usr/lib/structr.pre-restore-20261125T021500Z",
                )],
                start_errors: vec![],
            }),
            scroll: Scroll::default(),
        };
        on(r)
    };
    let screen = render(&checked(true), &COLOR, 80, 24, c);
    let text = text_of(&screen);
    for line in [
        "✓ neo4j running, healthy",
        "✓ structr running, healthy",
        "✓ Structr answers at http://127.0.0.1:8082/structr/health/ready",
        "structr-backup schedule --enable",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    insta::assert_snapshot!("recovery_checklist", screen);
    whole("recovery_checklist", &checked(true));
    whole("recovery_checklist_stopped", &checked(false));
    let screen = render(&checked(false), &COLOR, 80, 24, c);
    assert!(text_of(&screen).contains("Press S to start neo4j, structr."));
    insta::assert_snapshot!("recovery_checklist_stopped", screen);
    insta::assert_snapshot!(
        "recovery_checklist_minimum",
        render(&checked(true), &COLOR, 64, 20, c)
    );
}
