//! Backups of the running stand-in Neo4j and Structr (real processes that write
//! continuously and keep an invariant across the two trees), and the faults a
//! maintenance window can meet. Every test ends with the services running.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{shell, slow_backup, slow_sandbox, text, wait_until, Options, Sandbox};

fn extract_by_hand(gen_dir: &Path, component: &str, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let out = shell(
        &format!(
            "zstd -d < {component}.tar.zst | tar -x -C {}",
            into.display()
        ),
        gen_dir,
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn backup_of_running_services_is_consistent_and_restores_consistently() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    sb.backup_ok(&[]);
    assert!(sb.running("neo4j") && sb.running("structr"));
    let id = sb.newest();

    // The generation itself satisfies the invariant (checked on a manual extract).
    let gen_dir = sb.repo.join(&id);
    let x = sb.dir.path().join("x");
    extract_by_hand(&gen_dir, "neo4j-data", &x.join("data"));
    extract_by_hand(&gen_dir, "structr", &x.join("structr"));
    let check = Sandbox::check_invariant(&x.join("data"), &x.join("structr"));
    assert!(
        check.status.success(),
        "backup is inconsistent: {}",
        text(&check)
    );
    let backed_up = common::tree::count_files(&x.join("structr/files"));
    assert!(backed_up >= 5, "the backup holds {backed_up} files");

    // Let the services change things, then restore the generation.
    let before = sb.file_count();
    wait_until(Duration::from_secs(20), "more files are written", || {
        sb.file_count() > before + 5
    });
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run after the restore"
    );
    sb.stop();
    let check = Sandbox::check_invariant(&sb.neo4j_data, &sb.structr_dir);
    assert!(
        check.status.success(),
        "restored state is inconsistent: {}",
        text(&check)
    );
}

#[test]
fn a_service_that_will_not_stop_copies_nothing_and_restarts_the_others() {
    let sb = Sandbox::new(Options {
        neo4j_ignore_sigterm: true,
        stop_timeout_secs: 2,
        ..Options::default()
    });
    sb.start();
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not stop neo4j"), "{err}");
    assert!(err.contains("No generation was written"), "{err}");
    assert!(sb.generations().is_empty());
    assert!(
        sb.running("structr") && sb.running("neo4j"),
        "both run again"
    );
    assert!(
        !sb.journal_path().exists(),
        "journal cleared once services run"
    );
}

#[test]
fn a_start_that_fails_is_reported_and_journaled_then_recovered() {
    let marker = tempfile::NamedTempFile::new().unwrap();
    let mut sb = Sandbox::new(Options::default());
    // Structr's start refuses while the marker file exists.
    let real = sb.ctl("start", "structr");
    sb.opts.structr_start = Some(format!(
        "sh -c 'test ! -e {} || {{ echo license expired >&2; exit 1; }}; exec \"$@\"' start {real}",
        marker.path().display()
    ));
    sb.write_config();
    std::fs::remove_file(marker.path()).unwrap();
    sb.start();
    std::fs::write(marker.path(), "").unwrap();

    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("structr") && err.contains("license expired"),
        "{err}"
    );
    assert!(err.contains("recover"), "{err}");
    assert_eq!(sb.generations().len(), 1, "the backup itself was written");
    assert!(sb.running("neo4j") && !sb.running("structr"));

    // Any command now says what is down; backup refuses until recovered.
    let out = sb.cli(&["list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("left these services stopped: structr"),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    std::fs::remove_file(marker.path()).unwrap();
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(sb.running("structr"));
    assert!(!sb.journal_path().exists());
}

#[test]
fn sigkill_mid_backup_then_recover() {
    let sb = slow_sandbox();
    sb.start();
    let mut child = slow_backup(&sb);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !sb.running("structr") && !sb.running("neo4j"),
        "killed mid-copy: both are down"
    );

    let out = sb.cli(&["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("left these services stopped: structr, neo4j"),
        "{err}"
    );
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(sb.running("structr") && sb.running("neo4j"));
    let leftovers: Vec<_> = std::fs::read_dir(&sb.repo)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "recover removes the partial generation"
    );
}

#[test]
fn sigterm_mid_backup_restarts_services_and_writes_nothing() {
    let sb = slow_sandbox();
    sb.start();
    let child = slow_backup(&sb);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    // "cancelled" once, not "cancelled: cancelled: …".
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l
            == "error: cancelled: stopped before it finished. The services were started again. \
                No generation was written."),
        "{stderr}"
    );
    assert!(sb.running("structr") && sb.running("neo4j"));
    assert!(sb.generations().is_empty());
    assert_eq!(
        std::fs::read_dir(&sb.repo)
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count(),
        0
    );
}

#[test]
fn a_held_lock_refuses_a_second_run_with_the_holders_pid() {
    let sb = slow_sandbox();
    sb.start();
    let mut child = slow_backup(&sb);
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("pid {}", child.id())),
        "{}",
        text(&out)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait().unwrap();
    assert!(sb.running("structr") && sb.running("neo4j"));
}

#[test]
fn a_store_lock_still_held_after_a_reported_stop_refuses_the_copy() {
    // A broken service manager: neo4j's stop command only removes a flag and its
    // status looks at the flag, so Neo4j is "stopped" while it still runs.
    let mut sb = Sandbox::new(Options::default());
    let flag = sb.run.join("neo4j.up");
    let start = format!(
        "sh -c 'touch {} && exec \"$@\"' start {}",
        flag.display(),
        sb.ctl("start", "neo4j")
    );
    sb.opts.neo4j_commands = Some([
        start,
        format!("rm -f {}", flag.display()),
        format!("test -e {}", flag.display()),
    ]);
    sb.write_config();
    sb.start();
    std::fs::write(&flag, "").unwrap();
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("still holds its store lock")
            && err.contains(&format!("pid {}", sb.pid("neo4j").unwrap())),
        "{err}"
    );
    assert!(err.contains("No generation was written"), "{err}");
    assert!(sb.generations().is_empty());
    assert!(sb.running("structr"), "structr was started again");
}

#[test]
fn recover_puts_back_folders_of_a_restore_killed_mid_swap() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(sb.structr_dir.join("structr.conf"), "old").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases")).unwrap();
    sb.start();
    // The state a restore leaves when killed between its two renames: services
    // down, the live folder moved aside, the restored copy not yet in place.
    sb.stop();
    std::fs::create_dir_all(&sb.repo).unwrap();
    let kept = sb.dir.path().join("structr.pre-restore-20260101T000000Z");
    std::fs::rename(&sb.structr_dir, &kept).unwrap();
    let journal = format!(
        "pid = 999999\nhost = \"h\"\noperation = \"restore\"\nstarted_at = \"2026-01-01T00:00:00Z\"\nstopped = [\"structr\", \"neo4j\"]\n\n[[swaps]]\ntarget = \"{}\"\nkept = \"{}\"\n",
        sb.structr_dir.display(),
        kept.display()
    );
    let journal_path = sb.journal_path();
    std::fs::create_dir_all(journal_path.parent().unwrap()).unwrap();
    std::fs::write(&journal_path, journal).unwrap();

    let out = sb.cli(&["list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recover` puts the previous folders back"),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(sb.structr_dir.join("structr.conf")).unwrap(),
        "old"
    );
    assert!(!kept.exists());
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(!sb.journal_path().exists());
}

#[test]
fn a_second_backup_of_the_same_installation_into_another_repository_is_refused() {
    let sb = slow_sandbox();
    sb.start();
    let mut first = slow_backup(&sb);
    // The nightly timer runs; an admin starts an ad-hoc backup onto a USB disk.
    let usb = sb.dir.path().join("usb");
    let out = sb.cli(&["--repo", usb.to_str().unwrap(), "backup"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("installation lock") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    assert!(
        !usb.exists()
            || std::fs::read_dir(&usb)
                .unwrap()
                .all(|e| { !e.unwrap().file_name().to_string_lossy().starts_with("20") }),
        "nothing was written to the second repository"
    );
    // The first one goes on undisturbed; end it (a cancel starts the services).
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first backup still runs"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(5));
    assert!(sb.running("structr") && sb.running("neo4j"));
}
