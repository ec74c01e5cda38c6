//! The wizard in a real terminal: tmux (on a private socket) runs the built binary
//! on the demo installation, keys are typed with send-keys and the screen is read
//! with capture-pane. Every wait polls the screen against a deadline.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tui::Tui;
use common::{text, BIN};

/// Whether a process is alive: present and not a zombie waiting for its parent.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_full_backup_through_the_wizard() {
    let t = Tui::demo("");
    t.backup_through_wizard();
    assert_eq!(t.generations().len(), 1);
    assert!(t.running(), "services run after the backup");
    let screen = t.screen();
    assert!(
        screen.contains("; 1 in all, "),
        "home shows the new generation:\n{screen}"
    );
}

#[test]
fn a_restore_with_the_typed_confirmation() {
    let t = Tui::demo("");
    t.backup_through_wizard();
    let id = t.generations()[0].clone();
    t.keys(&["r"]);
    t.wait_for(&id, Duration::from_secs(5));
    t.keys(&["Enter"]);
    t.wait_for("Type the generation id to confirm", Duration::from_secs(30));
    t.wait_for("REPLACES", Duration::from_secs(10));
    // The typed id moves the focus to Restore: Enter restores.
    t.type_text(&id);
    t.keys(&["Enter"]);
    t.wait_for("Restore finished", Duration::from_secs(60));
    assert!(t.running(), "services run after the restore");
    let beside = listing(&t.demo_dir());
    assert!(
        beside
            .iter()
            .any(|n| n == &format!("structr.pre-restore-{id}")),
        "{beside:?}"
    );
    assert_eq!(t.generations().len(), 2, "the restore took a safety backup");
}

#[test]
fn kept_folders_are_listed_with_sizes_and_removed_after_a_typed_name() {
    let t = Tui::demo("");
    t.backup_through_wizard();
    let id = t.generations()[0].clone();
    t.keys(&["r", "Enter"]);
    t.wait_for("REPLACES", Duration::from_secs(30));
    t.type_text(&id);
    t.keys(&["Enter"]);
    t.wait_for("Restore finished", Duration::from_secs(60));
    t.keys(&["Escape", "Escape"]);
    // Home says so, measured on a thread.
    t.wait_for("Kept folders 2 from restores, ", Duration::from_secs(10));
    t.keys(&["k"]);
    let screen = t.wait_for("structr ", Duration::from_secs(5));
    assert!(
        screen.contains(&id) && screen.contains("neo4j-data"),
        "{screen}"
    );
    t.wait_until_gone("measuring", Duration::from_secs(10));
    let kept = t.demo_dir().join(format!("structr.pre-restore-{id}"));
    assert!(kept.is_dir());
    t.keys(&["j", "d"]);
    t.wait_for("Type the folder name to confirm", Duration::from_secs(5));
    t.type_text(&format!("structr.pre-restore-{id}"));
    t.keys(&["Enter"]);
    t.wait_for("Remove kept folder finished", Duration::from_secs(30));
    assert!(!kept.exists(), "removed");
    assert!(
        t.demo_dir().join("structr").is_dir(),
        "the live folder is untouched"
    );
    assert!(t.running(), "services are not touched by a removal");
    t.keys(&["Escape"]);
    let screen = t.wait_for("Kept folders", Duration::from_secs(5));
    assert!(screen.contains("neo4j-data"), "{screen}");
    t.wait_until_gone(" structr ", Duration::from_secs(10));
}

#[test]
fn a_restore_cancelled_at_the_confirmation_changes_nothing() {
    let t = Tui::demo("");
    t.backup_through_wizard();
    let id = t.generations()[0].clone();
    let pids = t.pids();
    let before = listing(&t.demo_dir());
    t.keys(&["r", "Enter"]);
    t.wait_for("REPLACES", Duration::from_secs(30));
    // The id is typed (focus moves to Restore), then Tab back to Cancel: Enter cancels.
    t.type_text(&id);
    t.keys(&["Tab", "Enter"]);
    t.wait_for("Restore: choose a generation", Duration::from_secs(5));
    assert_eq!(t.pids(), pids, "no service was restarted");
    assert_eq!(listing(&t.demo_dir()), before, "nothing was swapped");
    assert_eq!(t.generations(), vec![id]);
}

#[test]
fn ctrl_c_during_a_backup_leaves_services_running_and_no_generation() {
    // A big store makes the copy take long enough to interrupt.
    let t = Tui::demo_copying_while_stopped("3000");
    t.keys(&["b"]);
    t.wait_for("Press Enter to start", Duration::from_secs(20));
    t.keys(&["Enter"]);
    t.wait_for("copy neo4j-data:", Duration::from_secs(30));
    t.keys(&["C-c"]);
    t.wait_for("Cancel the backup?", Duration::from_secs(5));
    t.keys(&["y"]);
    // A cancel is a cancel, not a failure; nothing keeps running on the screen.
    let screen = t.wait_for("Backup cancelled", Duration::from_secs(60));
    assert!(!screen.contains("FAILED"), "{screen}");
    assert!(
        !screen.contains("ETA") && !screen.contains("Ctrl-C") && !screen.contains("▶"),
        "{screen}"
    );
    assert!(t.generations().is_empty());
    assert!(t.running(), "services were started again");
    let repo = listing(&t.demo_dir().join("repository"));
    assert!(!repo.iter().any(|n| n.ends_with(".partial")), "{repo:?}");
}

#[test]
fn prune_preview_then_confirm() {
    // Without a terminal, `demo` only sets the sandbox up; three backups by CLI.
    let t = Tui::demo_with_backups(3);
    // Keep only the newest: the preview must mark the other two.
    let cfg = t.demo_dir().join("config.toml");
    let c = std::fs::read_to_string(&cfg).unwrap();
    let c = c
        .replace("keep_last = 3", "keep_last = 1")
        .replace("keep_daily = 7", "keep_daily = 0");
    let c = c
        .replace("keep_weekly = 4", "keep_weekly = 0")
        .replace("keep_monthly = 12", "keep_monthly = 0");
    std::fs::write(&cfg, c).unwrap();
    let newest = t.generations()[0].clone();
    t.start(&format!("--config {}", cfg.display()));
    t.keys(&["g"]);
    // The list is read on a task: the keys wait for it.
    t.wait_for(&newest, Duration::from_secs(10));
    t.keys(&["P"]);
    let screen = t.wait_for(
        "2 generation(s) will be DELETED, 1 kept",
        Duration::from_secs(5),
    );
    assert_eq!(screen.matches("DELETE ").count(), 2, "{screen}");
    t.keys(&["Enter"]);
    t.wait_for("Delete 2 generation(s) for good?", Duration::from_secs(5));
    t.keys(&["Tab", "Enter"]);
    t.wait_for("2 generation(s) deleted", Duration::from_secs(30));
    assert_eq!(t.generations().len(), 1);
}

#[test]
fn closing_the_terminal_mid_backup_starts_the_services_before_exiting() {
    let t = Tui::demo_copying_while_stopped("3000");
    let pid = t.pid();
    t.keys(&["b"]);
    t.wait_for("Press Enter to start", Duration::from_secs(20));
    t.keys(&["Enter"]);
    t.wait_for("copy neo4j-data:", Duration::from_secs(30));
    assert!(!t.running(), "the services are stopped for the copy");
    // Closing the window hangs up its terminal: SIGHUP, then EIO on every write.
    let out = t.tmux(&["kill-window", "-t", "w"]);
    assert!(out.status.success(), "tmux: {}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(90);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the wizard did not end after its terminal closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Checked the moment it is gone: nothing else starts them afterwards.
    assert!(
        t.running(),
        "the wizard exited while the services it stopped were down"
    );
    let repo = listing(&t.demo_dir().join("repository"));
    assert!(!repo.iter().any(|n| n.ends_with(".partial")), "{repo:?}");
    assert!(t.generations().is_empty(), "the backup was cancelled");
    let out = t.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to recover"),
        "an interrupted run was left behind: {}",
        text(&out)
    );
}

#[test]
fn home_sees_a_service_die_without_a_key_press() {
    let t = Tui::demo("");
    t.wait_for("neo4j running", Duration::from_secs(20));
    let (neo4j, _) = t.pids();
    let pid: i32 = neo4j.trim().parse().expect("the demo's neo4j pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // No key is pressed: Home asks the services by itself, off the UI thread.
    t.wait_for("neo4j STOPPED", Duration::from_secs(15));
}

#[test]
fn a_dumb_terminal_gets_the_commands_and_a_reason_not_a_broken_screen() {
    let t = Tui::new();
    let cmd = format!(
        "HOME={} TERM=dumb {BIN}; echo exit=$?; sleep 60",
        t.home.path().display()
    );
    let out = t.tmux(&["new-session", "-d", "-x", "80", "-y", "24", "-s", "w", &cmd]);
    assert!(out.status.success(), "tmux: {}", text(&out));
    let screen = t.wait_for("exit=2", Duration::from_secs(20));
    assert!(screen.contains("cursor addressing"), "{screen}");
    assert!(!screen.contains("Home"), "no wizard drawn: {screen}");
}

#[test]
fn at_64x20_ids_fields_and_buttons_stay_on_screen() {
    let t = Tui::demo_with_backups(2);
    let ids = t.generations();
    t.open_sized(64, 20);
    t.keys(&["g"]);
    // The list is read on a task: "reading the repository…" until it is there.
    let screen = t.wait_for(&ids[ids.len() - 1], Duration::from_secs(10));
    for id in &ids {
        assert!(screen.contains(id), "{id} is cut at 64×20:\n{screen}");
    }
    // j moves the selection; the details follow it.
    t.keys(&["j"]);
    t.wait_for(&format!("▶ {}", ids[1]), Duration::from_secs(5));
    t.wait_for(&format!(" {} from ", ids[1]), Duration::from_secs(5));
    t.keys(&["k", "Enter"]);
    t.wait_for("deep verify", Duration::from_secs(5));
    t.keys(&["Escape", "d"]);
    t.wait_for("Type the generation id to confirm", Duration::from_secs(5));
    t.type_text(&ids[0]);
    let screen = t.wait_for("[▶ Delete ◀]", Duration::from_secs(5));
    assert!(screen.contains(&format!("> {}_ ✓", ids[0])), "{screen}");
    t.keys(&["Escape", "Escape", "r", "Enter"]);
    let screen = t.wait_for("REPLACES", Duration::from_secs(30));
    assert!(
        screen.contains("> _") && screen.contains("[▶ Cancel ◀]"),
        "the field and buttons are on screen:\n{screen}"
    );
    t.keys(&["Escape", "?"]);
    t.wait_for("Keys on the screen you came from", Duration::from_secs(5));
}

#[test]
fn a_key_right_after_a_resize_is_handled() {
    let t = Tui::demo_with_backups(1);
    t.open_sized(80, 24);
    let out = t.tmux(&["resize-window", "-t", "w", "-x", "64", "-y", "20"]);
    assert!(out.status.success(), "tmux: {}", text(&out));
    t.keys(&["g"]);
    let screen = t.wait_for("Generations", Duration::from_secs(5));
    assert_eq!(
        screen.lines().count(),
        20,
        "drawn at the new size:\n{screen}"
    );
}

#[test]
fn a_label_typed_on_the_plan_is_stored_with_the_backup() {
    let t = Tui::demo("");
    t.keys(&["b"]);
    t.wait_for("Press Enter to start", Duration::from_secs(20));
    // `q` is a letter of the label here, not quit.
    t.type_text("before upgrade, quarterly");
    t.wait_for("Label  before upgrade, quarterly_", Duration::from_secs(5));
    t.keys(&["Enter"]);
    t.wait_for("Backup finished", Duration::from_secs(60));
    let out = t.cli(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["label"], "before upgrade, quarterly", "{}", text(&out));
}

#[test]
fn why_a_verification_failed_stays_in_the_details() {
    let t = Tui::demo_with_backups(1);
    let id = t.generations()[0].clone();
    // One flipped byte in an archive: the checksum no longer matches.
    let archive = t
        .demo_dir()
        .join(format!("repository/{id}/structr.tar.zst"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    t.open_sized(80, 24);
    t.keys(&["g", "v"]);
    t.wait_for("Verify FAILED", Duration::from_secs(30));
    t.keys(&["Escape"]);
    let screen = t.wait_for("structr.tar.zst is damaged", Duration::from_secs(5));
    assert!(screen.contains("Generations"), "{screen}");
    assert!(
        screen.contains(&format!("✗ verification failed: {id}: ")),
        "{screen}"
    );
}

#[test]
fn a_generation_is_browsed_searched_and_compared_with_the_live_folders() {
    let t = Tui::demo_with_backups(1);
    let structr = t.demo_dir().join("structr");
    let hello = structr.join("scripts/hello.js");
    let content = std::fs::read(&hello).unwrap();
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let modified: chrono::DateTime<chrono::Local> = std::fs::metadata(&hello)
        .unwrap()
        .modified()
        .unwrap()
        .into();
    t.open_sized(80, 24);
    t.keys(&["g", "f"]);
    t.wait_for(" entries, ", Duration::from_secs(10));
    t.keys(&["/"]);
    t.type_text("hello");
    let screen = t.wait_for("structr/scripts/hello.js", Duration::from_secs(5));
    assert!(screen.contains("1 match"), "{screen}");
    assert!(screen.contains(&format!("sha256 {sha}")), "{screen}");
    // The mtimes come from the archive, on a thread.
    t.wait_until_gone("reading mtimes", Duration::from_secs(30));
    t.wait_for(
        &modified.format("modified %Y-%m-%d %H:%M:%S").to_string(),
        Duration::from_secs(5),
    );
    // One file edited, one added, one removed since the backup.
    let conf = structr.join("structr.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\n# edited after the backup\n");
    std::fs::write(&conf, text).unwrap();
    std::fs::write(structr.join("files/added-after-the-backup.txt"), b"new").unwrap();
    std::fs::remove_file(&hello).unwrap();
    t.keys(&["Escape", "c"]);
    t.wait_for("Live against ", Duration::from_secs(30));
    // The stand-in Structr keeps writing new files: each difference is searched
    // for, not expected on the first screen.
    let find = |query: &str, row: &str| {
        t.keys(&["/"]);
        for _ in 0..40 {
            t.keys(&["BSpace"]);
        }
        t.type_text(query);
        t.keys(&["Enter"]);
        t.wait_for(row, Duration::from_secs(5));
    };
    find("hello", "- missing structr/scripts/hello.js");
    find("structr.conf", "~ changed structr/structr.conf");
    find(
        "added-after",
        "+ new     structr/files/added-after-the-backup.txt",
    );
}

#[test]
fn wizard_runs_reach_the_status_file_and_the_metrics() {
    let t = Tui::demo_with_backups(0);
    let metrics = t.home.path().join("structr_backup.prom");
    let cfg = t.demo_dir().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("\n[notify]\nmetrics_file = {:?}\n", metrics));
    std::fs::write(&cfg, text).unwrap();
    t.open_sized(80, 24);
    t.backup_through_wizard();
    let id = t.generations()[0].clone();
    let last = t.last_run();
    assert_eq!(
        (last.operation.as_str(), last.id.as_deref(), last.exit_code),
        ("backup", Some(id.as_str()), 0),
        "{last:?}"
    );
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("structr_backup_last_success_timestamp_seconds{operation=\"backup\""),
        "{m}"
    );
    assert!(m.contains("structr_backup_generations{"), "{m}");
    // A verification from the generations screen is a run too.
    t.keys(&["g", "v"]);
    t.wait_for("Verify finished", Duration::from_secs(30));
    let last = t.last_run();
    assert_eq!(
        (last.operation.as_str(), last.id.as_deref()),
        ("verify", Some(id.as_str()))
    );
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        m.contains("structr_backup_last_exit_code{operation=\"verify\""),
        "{m}"
    );
}

/// The wizard on a restic repository with an off-site target: a backup made in
/// the wizard is a restic snapshot copied off-site, Home then says the target is
/// up to date, and the generation's details say where it exists.
#[test]
fn the_wizard_backs_up_into_restic_and_shows_the_offsite_copy() {
    let nas = tempfile::tempdir().unwrap();
    let sb = common::Sandbox::new(common::Options {
        kind: common::Kind::restic(),
        flag_services: true,
        offsite: vec![common::Offsite {
            name: "nas".into(),
            path: nas.path().join("restic").display().to_string(),
            options: vec![],
        }],
        ..common::Options::default()
    });
    common::write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 1 << 20, 1);
    common::write_random(&sb.structr_dir.join("files/a/upload.bin"), 1 << 20, 2);
    sb.start();
    sb.init();
    let t = Tui::new();
    t.start(&format!("--config {}", sb.config.display()));
    t.wait_for("nas: no copy yet", Duration::from_secs(30));
    t.backup_through_wizard();
    let ids = sb.generations();
    assert_eq!(ids.len(), 1);
    let screen = t.wait_for("up to date", Duration::from_secs(60));
    assert!(screen.contains(&format!("nas: {}", ids[0])), "{screen}");
    t.keys(&["g"]);
    let screen = t.wait_for("copies:", Duration::from_secs(10));
    assert!(screen.contains("✓ nas"), "{screen}");
    assert!(screen.contains(&ids[0]), "{screen}");
}

/// The disaster recovery, guided from Home: an installation is backed up, its
/// repository is copied elsewhere, then its data folders and its repository are
/// gone (the services stopped), as on a fresh server. Home offers the recovery;
/// the copied folder is typed, the generation picked, the plan says CREATED,
/// the id is typed and the restore runs. On the checklist the trees are the
/// originals (checked from outside), S starts the services, and the checklist
/// sees them healthy and Structr answering on the port structr.conf names.
/// A server that was backed up stopped and then lost everything: its folders
/// and its repository. The generation survives in a copied folder.
struct Lost {
    sb: common::Sandbox,
    id: String,
    original_neo4j: common::tree::Snapshot,
    original_structr: common::tree::Snapshot,
    copy: PathBuf,
    _elsewhere: tempfile::TempDir,
}

fn a_lost_server(offsite: impl FnOnce(&Path) -> Vec<common::Offsite>) -> Lost {
    use common::{tree, Sandbox, STANDIN};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("structr-backups");
    let mut sb = Sandbox::new(common::Options {
        offsite: offsite(&copy),
        ..common::Options::default()
    });
    // Structr serves its health endpoint on the port its structr.conf names, as
    // on a server.
    let q = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
    sb.opts.structr_start = Some(format!(
        "{STANDIN} ctl start --pidfile {} --log {} --timeout 20 -- {STANDIN} structr --dir {} --bolt-port-file {} --http 127.0.0.1:{port} --interval-ms 50",
        q(&sb.run.join("structr.pid")),
        q(&sb.run.join("structr.log")),
        q(&sb.structr_dir),
        q(&sb.run.join("bolt.port")),
    ));
    sb.write_config();
    std::fs::create_dir_all(&sb.structr_dir).unwrap();
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        format!("application.http.port = {port}\nsuperuser.password = standin-secret\n"),
    )
    .unwrap();
    common::write_random(&sb.structr_dir.join("files/a/b/c/d/upload.bin"), 1 << 20, 7);
    for svc in ["neo4j", "structr"] {
        let line = match svc {
            "structr" => sb.opts.structr_start.clone().unwrap(),
            _ => sb.ctl("start", svc),
        };
        let out = common::shell(&line, sb.dir.path());
        assert!(out.status.success(), "start {svc}: {}", text(&out));
    }
    common::wait_until(Duration::from_secs(20), "structr writes files", || {
        sb.file_count() >= 5
    });
    // Backed up stopped (and left so), so the generation is exactly these trees.
    sb.stop();
    let original_neo4j = tree::snapshot(&sb.neo4j_data);
    let original_structr = tree::snapshot(&sb.structr_dir);
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.generations()[0].clone();
    // The copy (a USB disk, say), then the loss.
    let out = common::shell(
        &format!("cp -a {} {}", q(&sb.repo), q(&copy)),
        sb.dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    for gone in [&sb.neo4j_data, &sb.structr_dir, &sb.repo] {
        std::fs::remove_dir_all(gone).unwrap();
    }

    Lost {
        sb,
        id,
        original_neo4j,
        original_structr,
        copy,
        _elsewhere: elsewhere,
    }
}

/// The wizard's disaster recovery from Home to a running installation; `choose`
/// picks the source on the "Where is it?" stage.
fn recover_through_the_wizard(lost: &Lost, choose: impl FnOnce(&Tui)) {
    use common::tree;
    let Lost {
        sb,
        id,
        original_neo4j,
        original_structr,
        ..
    } = lost;
    let t = Tui::new();
    t.start(&format!("--config {}", sb.config.display()));
    t.wait_for(
        "D Disaster recovery: restore from a copy",
        Duration::from_secs(10),
    );
    t.keys(&["D"]);
    t.wait_for("Where is it?", Duration::from_secs(5));
    choose(&t);
    let screen = t.wait_for("choose a generation", Duration::from_secs(30));
    assert!(screen.contains(&format!("▶ {id}")), "{screen}");
    t.keys(&["Enter"]);
    let screen = t.wait_for("CREATED (does not exist yet)", Duration::from_secs(30));
    assert_eq!(
        screen.matches("CREATED (does not exist yet)").count(),
        2,
        "both targets are created:\n{screen}"
    );
    t.keys(&["Enter"]);
    t.wait_for("Type the generation id to confirm", Duration::from_secs(5));
    t.type_text(id);
    t.wait_for("[▶ Restore ◀]", Duration::from_secs(5));
    t.keys(&["Enter"]);
    t.wait_for("Disaster recovery: checklist", Duration::from_secs(120));
    // They were stopped before the restore, which left them so: the trees are
    // as restored, before anything runs on them.
    t.wait_for("Press S to start", Duration::from_secs(60));
    let d = tree::diff(original_neo4j, &tree::snapshot(&sb.neo4j_data));
    assert!(d.is_empty(), "neo4j data differs:\n{}", d.join("\n"));
    let d = tree::diff(original_structr, &tree::snapshot(&sb.structr_dir));
    assert!(d.is_empty(), "structr differs:\n{}", d.join("\n"));
    t.keys(&["S"]);
    let screen = t.wait_for("✓ Structr answers at", Duration::from_secs(90));
    for line in ["✓ neo4j running, healthy", "✓ structr running, healthy"] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    assert!(sb.running("neo4j") && sb.running("structr"));
    // Structr works on the restored store: it writes again.
    let before = sb.file_count();
    common::wait_until(Duration::from_secs(20), "structr writes again", || {
        sb.file_count() != before
    });
}

#[test]
fn disaster_recovery_from_a_copied_folder_through_the_wizard() {
    let lost = a_lost_server(|_| Vec::new());
    recover_through_the_wizard(&lost, |t| {
        t.keys(&["Enter"]);
        t.wait_for("Folder ", Duration::from_secs(5));
        t.type_text(&lost.copy.display().to_string());
        t.keys(&["Enter"]);
    });
}

/// Before, the wizard offered an rclone source, listed and planned it, and then
/// the restore refused it: fetching from rclone lived in the CLI alone.
#[test]
fn disaster_recovery_from_an_rclone_target_through_the_wizard() {
    let lost = a_lost_server(|copy| {
        vec![common::Offsite {
            name: "usb".into(),
            // rclone's on-the-fly local backend: no rclone.conf needed.
            path: format!("rclone::local:{}", copy.display()),
            options: vec![],
        }]
    });
    recover_through_the_wizard(&lost, |t| {
        t.wait_for("usb", Duration::from_secs(5));
        t.keys(&["Enter"]);
    });
}

/// Before, the wizard's Delete and Prune called the plain wrappers and never ran
/// `[snapshot] delete_command`: the hypervisor snapshot was left behind.
#[test]
fn the_wizard_deletes_and_prunes_snapshot_backups_through_their_delete_command() {
    let t = Tui::demo_with_backups(0);
    let cfg = t.demo_dir().join("config.toml");
    let deleted = t.home.path().join("deleted.log");
    let c = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("keep_last = 3", "keep_last = 1")
        .replace("keep_daily = 7", "keep_daily = 0")
        .replace("keep_weekly = 4", "keep_weekly = 0")
        .replace("keep_monthly = 12", "keep_monthly = 0");
    let delete = format!("sh -c 'echo \"$0\" >> {}' {{name}}", deleted.display());
    let c = format!(
        "{c}\n[snapshot]\ncommand = \"true\"\ndelete_command = {}\n",
        toml::Value::String(delete)
    );
    std::fs::write(&cfg, c).unwrap();
    for _ in 0..3 {
        let out = t.cli(&["backup", "--snapshot"]);
        assert!(out.status.success(), "{}", text(&out));
        // One generation id per second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let ids = t.generations();
    assert_eq!(ids.len(), 3);
    t.start(&format!("--config {}", cfg.display()));
    t.keys(&["g"]);
    // The list is read on a task: the keys wait for it.
    t.wait_for(&ids[2], Duration::from_secs(10));
    // The oldest: delete it with its typed id.
    t.keys(&["Down", "Down", "d"]);
    t.wait_for("Type the generation id", Duration::from_secs(5));
    t.type_text(&ids[2]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("{} deleted", ids[2]), Duration::from_secs(30));
    assert_eq!(
        std::fs::read_to_string(&deleted).unwrap_or_default().trim(),
        ids[2],
        "the delete command got the deleted generation's id"
    );
    t.keys(&["Escape"]);
    t.wait_for("Generations", Duration::from_secs(5));
    t.keys(&["P"]);
    t.wait_for(
        "1 generation(s) will be DELETED, 1 kept",
        Duration::from_secs(10),
    );
    t.keys(&["Enter"]);
    t.wait_for("Delete 1 generation(s) for good?", Duration::from_secs(5));
    t.keys(&["Tab", "Enter"]);
    t.wait_for("1 generation(s) deleted", Duration::from_secs(30));
    let log = std::fs::read_to_string(&deleted).unwrap();
    assert_eq!(log.lines().collect::<Vec<_>>(), [&ids[2], &ids[1]], "{log}");
    assert_eq!(t.generations(), [ids[0].clone()]);
}

/// Before, at 50×15 `b` then Enter started a real backup that stopped both
/// services while the screen showed only "Terminal too small".
#[test]
fn keys_do_nothing_while_the_terminal_is_too_small() {
    let t = Tui::demo_with_backups(0);
    let pids = t.pids();
    assert!(!pids.0.is_empty() && !pids.1.is_empty(), "{pids:?}");
    let cfg = t.demo_dir().join("config.toml");
    let home = t.home.path().display().to_string();
    let cmd = format!(
        "export HOME={home} TERM=xterm-256color; exec {BIN} --config {}",
        cfg.display()
    );
    let out = t.tmux(&["new-session", "-d", "-x", "50", "-y", "15", "-s", "w", &cmd]);
    assert!(out.status.success(), "tmux: {}", text(&out));
    t.wait_for("Terminal too small", Duration::from_secs(30));
    for k in [
        "b", "Enter", "Enter", "r", "Enter", "P", "Enter", "Tab", "Enter",
    ] {
        t.keys(&[k]);
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(t.pids(), pids, "no service was stopped or started");
    assert!(t.generations().is_empty(), "no backup was made");
    // Enlarged, the wizard is on Home, as it was.
    t.tmux(&["resize-window", "-t", "w", "-x", "80", "-y", "24"]);
    t.wait_for("Home", Duration::from_secs(10));
    t.keys(&["q"]);
}

/// Before, Ctrl-C at the CLI's typed-id prompt did nothing until Enter.
#[test]
fn ctrl_c_at_the_cli_question_answers_at_once_with_exit_5() {
    let t = Tui::demo_with_backups(1);
    let id = t.generations()[0].clone();
    let cfg = t.demo_dir().join("config.toml");
    let home = t.home.path().display().to_string();
    let exit = t.home.path().join("exit");
    let cmd = format!(
        "export HOME={home} TERM=xterm-256color; {BIN} --config {} restore {id}; echo $? > {}; sleep 60",
        cfg.display(),
        exit.display()
    );
    let out = t.tmux(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "30",
        "-s",
        "w",
        &cmd,
    ]);
    assert!(out.status.success(), "tmux: {}", text(&out));
    t.wait_for("type ", Duration::from_secs(30));
    let pids = t.pids();
    t.keys(&["C-c"]);
    let at = std::time::Instant::now();
    while !exit.exists() && at.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = std::fs::read_to_string(&exit).unwrap_or_default();
    assert_eq!(code.trim(), "5", "exit code: {}", t.screen());
    assert!(
        t.screen().contains("cancelled at the question"),
        "{}",
        t.screen()
    );
    assert_eq!(t.pids(), pids, "nothing was stopped");
}

/// The line of the generations list the cursor is on.
fn cursor_line(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.trim_start().starts_with("▶ 20"))
        .unwrap_or_default()
        .to_string()
}

/// Before, the wizard kept showing the generations it listed when it opened:
/// after CLI backups and a `delete` the list still held the deleted one, `v`
/// on it failed as a failed verification, and a refresh kept the cursor's row
/// (another generation) instead of its generation.
#[test]
fn the_generation_list_follows_the_repository_and_the_cursor_its_generation() {
    let t = Tui::demo_with_backups(3);
    let ids = t.generations(); // newest first
    t.open_sized(80, 24);
    t.keys(&["g"]);
    t.wait_for(&ids[2], Duration::from_secs(10));
    t.keys(&["Down"]);
    t.wait_for(&format!("▶ {}", ids[1]), Duration::from_secs(5));
    // Two backups from outside: the list shows them, the cursor stays on its generation.
    for _ in 0..2 {
        let out = t.cli(&["backup"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let now = t.generations();
    assert_eq!(now.len(), 5, "{now:?}");
    let screen = t.wait_for(&now[0], Duration::from_secs(8));
    assert!(
        cursor_line(&screen).contains(&ids[1]),
        "the cursor left {}:\n{screen}",
        ids[1]
    );
    // The generation under the cursor is deleted from outside: it goes from
    // the list and the cursor moves to the next older one.
    let out = t.cli(&["--yes", "delete", &ids[1]]);
    assert!(out.status.success(), "{}", text(&out));
    let screen = t.wait_until_gone(&ids[1], Duration::from_secs(8));
    assert!(
        cursor_line(&screen).contains(&ids[2]),
        "the cursor is not on {}, the nearest:\n{screen}",
        ids[2]
    );
    // `v` verifies the generation the cursor is on, and it passes.
    t.keys(&["v"]);
    t.wait_for("Verify finished", Duration::from_secs(30));
    let out = t.cli(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for g in list.as_array().unwrap() {
        let v = &g["last_verified"];
        assert!(v.is_null() || v["ok"] == true, "a failed verification: {g}");
        if g["id"] == ids[2].as_str() {
            assert_eq!(v["ok"], true, "{g}");
        }
    }
}

/// Before, a restore verified the generation in the picker and again after the
/// typed id (doubling the wait before anything stops).
#[test]
fn a_restore_verifies_once_before_the_typed_id_and_not_after() {
    let t = Tui::demo_with_backups(1);
    let id = t.generations()[0].clone();
    t.open_sized(120, 50);
    t.keys(&["r"]);
    t.wait_for(&id, Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.wait_for("Type the generation id to confirm", Duration::from_secs(30));
    // The one verification ran before the question, and was recorded.
    let out = t.cli(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verified = list[0]["last_verified"].clone();
    assert_eq!(verified["ok"], true, "{list}");
    t.type_text(&id);
    t.keys(&["Enter"]);
    let screen = t.wait_for("Restore finished", Duration::from_secs(60));
    let verify_steps: Vec<&str> = screen.lines().filter(|l| l.contains(" verify ")).collect();
    assert!(
        verify_steps.is_empty(),
        "verified again after the typed id: {verify_steps:?}\n{screen}"
    );
    assert!(t.running(), "services run after the restore");
}

/// Before: Home's "last:" line made a verify look like the nightly backup (and
/// waited up to a minute to change), and without systemd the schedule screen
/// dumped systemctl's errors and asked to confirm a time it could not set.
#[test]
fn home_names_each_last_run_and_the_schedule_without_systemd_asks_nothing() {
    let t = Tui::demo_with_backups(0);
    t.open_sized(80, 24);
    t.backup_through_wizard();
    t.wait_for("last backup: success", Duration::from_secs(10));
    t.keys(&["g", "v"]);
    t.wait_for("Verify finished", Duration::from_secs(30));
    t.keys(&["Escape", "Escape"]);
    let home = t.wait_for("verify: success", Duration::from_secs(10));
    assert!(home.contains("last backup: success"), "{home}");
    t.keys(&["s"]);
    if std::path::Path::new("/run/systemd/system").is_dir() {
        // systemd runs here: the screen asks it, and never says it does not run.
        let s = t.wait_for("Last verify", Duration::from_secs(10));
        assert!(!s.contains("systemd is not running"), "{s}");
        return;
    }
    let s = t.wait_for("systemd is not running here", Duration::from_secs(10));
    assert!(!s.contains("Failed to connect"), "{s}");
    assert!(!s.contains("New time"), "{s}");
    t.keys(&["e"]);
    let s = t.wait_for("cannot be changed here", Duration::from_secs(5));
    assert!(!s.contains("Enable the nightly backup"), "{s}");
    assert!(
        s.contains("Last verify") && s.contains("Last backup"),
        "{s}"
    );
}

/// Before, disaster recovery cleared the typed path on an error, said only
/// "holds no generation" of the folder above the repository, and answered a
/// missing restic password file with `structr-backup init`.
#[test]
fn disaster_recovery_keeps_the_typed_path_and_points_at_the_repository_below() {
    let t = Tui::demo_with_backups(1);
    t.open_sized(80, 24);
    t.keys(&["D"]);
    t.wait_for("Where is it?", Duration::from_secs(5));
    // No off-site target: the folder is the first row, restic the second.
    t.keys(&["Enter"]);
    t.wait_for("Folder ", Duration::from_secs(5));
    t.type_text(&t.demo_dir().display().to_string());
    t.keys(&["Enter"]);
    let s = t.wait_for("did you mean it?", Duration::from_secs(20));
    assert!(s.contains("repository"), "{s}");
    assert!(s.contains("/demo_"), "the typed path is still there: {s}");
    // Corrected in place: "/repository" added to what was typed.
    t.type_text("/repository");
    t.keys(&["Enter"]);
    t.wait_for("choose a generation", Duration::from_secs(20));
    t.keys(&["Escape"]);
    t.wait_for("Where is it?", Duration::from_secs(5));
    t.keys(&["Down", "Enter"]);
    t.wait_for("Repository ", Duration::from_secs(5));
    t.type_text(&t.demo_dir().join("repository").display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("Password file", Duration::from_secs(5));
    t.type_text("/nonexistent/restic-password");
    t.keys(&["Enter"]);
    let s = t.wait_for("Cannot use it", Duration::from_secs(20));
    assert!(s.contains("password safe"), "{s}");
    assert!(!s.contains("init`"), "{s}");
    assert!(
        s.contains("restic-password_"),
        "the typed file is still there: {s}"
    );
}

/// Before, a kept folder's age was its mtime: the restored original's, days or
/// years old, although the restore kept it a moment ago.
#[test]
fn a_kept_folders_age_counts_from_the_restore_that_kept_it() {
    let t = Tui::demo_with_backups(1);
    let id = t.generations()[0].clone();
    let live = t.demo_dir().join("structr");
    let out = std::process::Command::new("touch")
        .args(["-d", "30 days ago"])
        .arg(&live)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    t.open_sized(80, 24);
    t.keys(&["r", "Enter"]);
    t.wait_for("REPLACES", Duration::from_secs(30));
    t.type_text(&id);
    t.keys(&["Enter"]);
    t.wait_for("Restore finished", Duration::from_secs(60));
    t.keys(&["Escape", "Escape"]);
    t.wait_for("Kept folders", Duration::from_secs(10));
    t.keys(&["k"]);
    t.wait_until_gone("measuring", Duration::from_secs(10));
    let screen = t.screen();
    let row = screen
        .lines()
        .find(|l| l.contains(" structr ") && l.contains(&id))
        .unwrap_or_else(|| panic!("no structr row: {screen}"));
    assert!(row.contains(" s ago") || row.contains(" min ago"), "{row}");
    assert!(!row.contains(" d ago"), "{row}");
    let record = std::fs::read_dir(t.demo_dir().join("state"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".kept.json"))
        .expect("the restore records when it kept the folders");
    let text = std::fs::read_to_string(record.path()).unwrap();
    assert!(
        text.contains(&format!("structr.pre-restore-{id}")),
        "{text}"
    );
}

/// A service found stopped (here: killed) is started from Home with S and a
/// yes, through `recover`: a new process runs, and Home says so.
#[test]
fn a_stopped_service_is_started_from_home() {
    let t = Tui::demo("");
    t.wait_for("neo4j running", Duration::from_secs(20));
    let (neo4j, _) = t.pids();
    let pid: i32 = neo4j.trim().parse().expect("the demo's neo4j pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    t.wait_for("press S to start", Duration::from_secs(15));
    t.keys(&["S"]);
    t.wait_for("Start neo4j?", Duration::from_secs(5));
    t.keys(&["y"]);
    let done = t.wait_for("Recover finished", Duration::from_secs(60));
    assert!(done.contains("Started neo4j again"), "{done}");
    assert!(t.running(), "both services run again");
    let (again, _) = t.pids();
    assert_ne!(again.trim(), neo4j.trim(), "a new neo4j process");
    t.keys(&["Escape"]);
    t.wait_for("neo4j running", Duration::from_secs(15));
}

/// At 64×20 a finished restore shows its whole result (the kept folders, each
/// path whole on its lines, and "delete them when satisfied"), and its steps in
/// the order they ran: the health check of the last service started comes last.
#[test]
fn a_restore_at_64x20_shows_its_result_and_steps_in_order() {
    let t = Tui::demo_with_backups(1);
    t.start_sized("demo", 64, 20);
    let id = t.generations()[0].clone();
    t.keys(&["r"]);
    t.wait_for(&id, Duration::from_secs(5));
    t.keys(&["Enter"]);
    t.wait_for("REPLACES", Duration::from_secs(30));
    t.type_text(&id);
    t.keys(&["Enter"]);
    let screen = t.wait_for("Restore finished", Duration::from_secs(60));
    // Words wrap at spaces, paths after a `/`: joined back either way.
    let words = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("(delete them when satisfied)"), "{screen}");
    let flat: String = screen.lines().map(str::trim).collect();
    let kept = t.demo_dir().join(format!("structr.pre-restore-{id}"));
    assert!(
        flat.contains(&kept.display().to_string()),
        "{} not whole:\n{screen}",
        kept.display()
    );
    let steps: Vec<&str> = screen
        .lines()
        .filter(|l| l.trim_start().starts_with('✓'))
        .collect();
    let last = steps.last().copied().unwrap_or_default();
    assert!(last.contains("healthy?"), "last step {last:?}:\n{screen}");
}
