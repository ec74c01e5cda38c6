//! The restic repository kind, driven through the real `restic` program: init,
//! incremental cold backups, pin/prune/delete/verify, restore with every guarantee
//! of the archive kind, kills at the worst moments, hostile repositories, and the
//! password that must never show.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{text, tree, wait_until, write_random, Kind, Offsite, Options, Sandbox};

fn sandbox(flag_services: bool) -> Sandbox {
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services,
        store_mb: 8,
        ..Options::default()
    });
    if flag_services {
        // Flag services write nothing: give both components some content.
        write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 7);
        write_random(&sb.structr_dir.join("structr.conf"), 100, 8);
    }
    sb.start();
    sb.init();
    sb
}

/// restic by hand on the sandbox's repository.
fn restic(sb: &Sandbox, args: &[&str]) -> Output {
    Command::new("restic")
        .arg("-r")
        .arg(&sb.repo)
        .args(args)
        .env("RESTIC_PASSWORD_FILE", sb.password_file())
        .output()
        .unwrap()
}

fn snapshots(sb: &Sandbox) -> Vec<serde_json::Value> {
    let out = restic(sb, &["snapshots", "--json", "--no-lock"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

fn tags(s: &serde_json::Value) -> Vec<String> {
    s["tags"]
        .as_array()
        .map(|t| t.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn du(dir: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_second_backup_reads_only_what_changed_and_costs_only_that() {
    let sb = sandbox(true);
    write_random(&sb.structr_dir.join("files/big.bin"), 8 << 20, 1);
    let first = sb.backup_ok(&["--label", "first"]).0;
    let after_first = du(&sb.repo);

    let out = sb.cli(&["backup", "--label", "unchanged"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    // Nothing changed in the components: the one file read is the new
    // generation's own RESTORE.md.
    assert!(
        log.contains("restic read 0 new and 1 changed files"),
        "nothing changed, nothing read but the runbook: {log}"
    );
    let after_second = du(&sb.repo);
    assert!(
        after_second - after_first < 256 << 10,
        "an unchanged backup grew the repository by {} bytes",
        after_second - after_first
    );

    write_random(&sb.structr_dir.join("files/changed.bin"), 1 << 20, 2);
    let third = sb.backup_ok(&["--label", "one MiB new"]).0;
    let growth = du(&sb.repo) - after_second;
    assert!(
        growth < (2 << 20) + (256 << 10),
        "1 MiB changed, the repository grew by {growth} bytes"
    );

    // Each generation is one snapshot that restic itself lists with our id.
    let snaps = snapshots(&sb);
    assert_eq!(snaps.len(), 3, "{snaps:#?}");
    for id in [&first, &third] {
        assert!(
            snaps.iter().any(|s| tags(s).contains(&format!("id:{id}"))),
            "{id} in {snaps:#?}"
        );
    }
    let out = sb.cli(&["show", &third, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["label"], "one MiB new");
    assert!(m["timings"]["downtime_secs"].as_f64().unwrap() > 0.0);
    assert!(m["snapshot"].as_str().unwrap().len() == 64);
}

#[test]
fn init_makes_a_private_password_and_a_backup_before_it_stops_nothing() {
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        ..Options::default()
    });
    sb.start();
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "structr-backup --config {} init",
            sb.config.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("Nothing was stopped") || err.contains("password file"),
        "{err}"
    );
    assert!(sb.running("neo4j") && sb.running("structr"));

    let out = sb.cli(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("KEEP A COPY"), "{said}");
    use std::os::unix::fs::PermissionsExt;
    let pw = sb.password_file();
    assert_eq!(
        std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let password = std::fs::read_to_string(&pw).unwrap();
    assert!(password.len() >= 32);
    let out = sb.cli(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&pw).unwrap(), password);

    // A repository path that holds no repository is an error for reading commands
    // (exit 10, as restic's own).
    let out = sb.cli(&["--repo", "/nonexistent/typo", "list"]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
}

#[test]
fn pin_prune_delete_and_verify_work_through_restic() {
    let sb = sandbox(true);
    let mut ids = Vec::new();
    for i in 0..4 {
        std::fs::write(sb.structr_dir.join("counter"), format!("{i}")).unwrap();
        ids.push(sb.backup_ok(&["--label", &format!("n{i}")]).0);
        // Ids are seconds apart.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let out = sb.cli(&["pin", &ids[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(snapshots(&sb)
        .iter()
        .any(|s| tags(s).contains(&"pinned".to_string())
            && tags(s).contains(&format!("id:{}", ids[0]))));

    // keep_last = 2 in the sandbox: the two newest and the pinned one stay.
    let out = sb.cli(&["prune", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains(&format!("DELETE {}", ids[1])), "{plan}");
    let out = sb.cli(&["--yes", "prune"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut left = sb.generations();
    left.sort();
    assert_eq!(left, vec![ids[0].clone(), ids[2].clone(), ids[3].clone()]);
    assert_eq!(snapshots(&sb).len(), 3, "restic forgot the pruned snapshot");

    let out = sb.cli(&["--yes", "delete", &ids[0]]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unpin"));
    assert!(sb.cli(&["unpin", &ids[0]]).status.success());
    let out = sb.cli(&["--yes", "delete", &ids[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.generations().len(), 2);

    for args in [&["verify"][..], &["verify", "--deep"], &["verify", "--all"]] {
        let out = sb.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // A damaged pack is found by the deep check (every pack read and hashed).
    damage_a_pack(&sb.repo);
    let out = sb.cli(&["verify", "--deep"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

/// Flips bytes in the middle of the largest data pack.
fn damage_a_pack(repo: &Path) -> PathBuf {
    let mut packs: Vec<PathBuf> = std::fs::read_dir(repo.join("data"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|e| e.path())
        .collect();
    packs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let pack = packs.pop().expect("a data pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xff;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pack, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&pack, bytes).unwrap();
    pack
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".restore-") || n.contains(".restic-"))
        .collect()
}

#[test]
fn a_damaged_pack_fails_the_restore_and_leaves_the_installation_as_it_was() {
    let sb = sandbox(true);
    write_random(&sb.structr_dir.join("files/big.bin"), 4 << 20, 3);
    let id = sb.backup_ok(&["--label", "good"]).0;
    std::fs::write(sb.structr_dir.join("after"), "written after the backup").unwrap();
    let before_structr = tree::snapshot(&sb.structr_dir);
    let before_neo4j = tree::snapshot(&sb.neo4j_data);
    damage_a_pack(&sb.repo);

    let out = sb.cli(&["--yes", "restore", &id, "--no-safety-backup"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "{}",
        text(&out)
    );
    let d = tree::diff(&before_structr, &tree::snapshot(&sb.structr_dir));
    assert!(d.is_empty(), "structr changed:\n{}", d.join("\n"));
    let d = tree::diff(&before_neo4j, &tree::snapshot(&sb.neo4j_data));
    assert!(d.is_empty(), "neo4j changed:\n{}", d.join("\n"));
    assert!(leftovers(sb.dir.path()).is_empty());
    assert!(leftovers(sb.neo4j_data.parent().unwrap()).is_empty());
}

#[test]
fn the_password_never_shows_in_process_lists_output_or_json() {
    let sb = sandbox(false);
    let password = std::fs::read_to_string(sb.password_file()).unwrap();
    let mut child = sb
        .cli_command(&["backup", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen_restic = false;
    while child.try_wait().unwrap().is_none() {
        for (_, cmdline) in processes() {
            seen_restic |= cmdline.starts_with("restic");
            assert!(!cmdline.contains(password.trim()), "{cmdline}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(seen_restic, "restic ran while we looked");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut all = text(&out);
    for args in [
        &["list", "--json"][..],
        &["show", "latest", "--json"],
        &["detect", "--json"],
    ] {
        all.push_str(&text(&sb.cli(args)));
    }
    assert!(!all.contains(password.trim()));
}

/// (pid, command line with spaces) of every process.
fn processes() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            out.push((pid, line));
        }
    }
    out
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Starts `args`, waits until it runs `restic <sub>`, kills it with SIGKILL, and
/// returns the restic child's pid.
fn kill_during(sb: &Sandbox, args: &[&str], sub: &str) -> i32 {
    let log = sb.dir.path().join("killed.log");
    let mut child = sb
        .cli_command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let me = child.id() as i32;
    let mut restic_pid = None;
    wait_until(
        Duration::from_secs(60),
        &format!("restic {sub} runs"),
        || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{args:?} ended ({status}) before restic {sub} ran:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            restic_pid = processes().into_iter().find_map(|(pid, line)| {
                (line.starts_with("restic ")
                    && line.contains(&format!(" {sub} "))
                    && parent_of(pid) == Some(me))
                .then_some(pid)
            });
            restic_pid.is_some()
        },
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let pid = restic_pid.unwrap();
    // restic is interrupted with us (parent-death signal), it does not go on alone.
    wait_until(Duration::from_secs(15), "restic ends with us", || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    pid
}

/// Real stand-in services on a 600 MiB store: restic takes long enough to be killed midway.
/// Without staging, restic itself runs inside the window (what these tests kill).
fn big_live_sandbox() -> Sandbox {
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        store_mb: 600,
        ..Options::default()
    });
    let cfg = std::fs::read_to_string(&sb.config).unwrap();
    std::fs::write(
        &sb.config,
        cfg.replace("[staging]\n", "[staging]\nmode = \"off\"\n"),
    )
    .unwrap();
    sb.start();
    sb.init();
    sb
}

#[test]
fn killed_mid_backup_leaves_no_generation_and_recover_starts_the_services() {
    let sb = big_live_sandbox();
    kill_during(&sb, &["backup"], "backup");
    assert!(
        sb.generations().is_empty(),
        "an interrupted snapshot is no generation"
    );
    assert!(
        !sb.running("neo4j"),
        "killed inside the window: neo4j is down"
    );
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
    // No stale restic lock stops the next run.
    sb.backup_ok(&["--label", "after the kill"]);
    let out = restic(&sb, &["check"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn killed_mid_restore_recover_puts_the_installation_back() {
    let sb = big_live_sandbox();
    let id = sb.backup_ok(&["--label", "big"]).0;
    std::fs::write(sb.structr_dir.join("after"), "newer than the backup").unwrap();

    kill_during(
        &sb,
        &["--yes", "restore", &id, "--no-safety-backup"],
        "restore",
    );
    // Killed while restic extracted, before any swap: the installation is the one
    // the services left (consistent, with the file written after the backup).
    assert!(!sb.running("neo4j"));
    let check = Sandbox::check_invariant(&sb.neo4j_data, &sb.structr_dir);
    assert!(check.status.success(), "{}", text(&check));
    assert!(sb.structr_dir.join("after").exists());
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(sb.structr_dir.join("after").exists());
    assert!(leftovers(sb.neo4j_data.parent().unwrap()).is_empty());
    assert!(leftovers(sb.dir.path()).is_empty());
}

#[test]
fn killed_mid_copy_the_services_run_and_the_copy_can_be_made_again() {
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        offsite: vec![Offsite {
            name: "nas".into(),
            path: String::new(),
            options: vec![],
        }],
        ..Options::default()
    });
    // The off-site repository in the sandbox.
    let nas = sb.dir.path().join("nas");
    let mut sb = sb;
    sb.opts.offsite[0].path = nas.display().to_string();
    sb.write_config();
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 7);
    write_random(&sb.structr_dir.join("files/big.bin"), 300 << 20, 9);
    sb.start();
    sb.init();
    kill_during(&sb, &["backup"], "copy");
    assert!(sb.running("neo4j") && sb.running("structr"));
    let ids = sb.generations();
    assert_eq!(ids.len(), 1, "the local generation was written");
    let out = sb.cli(&["--from", "nas", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");

    let out = sb.cli(&["copy", &ids[0], "--to", "nas"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = sb.cli(&["--from", "nas", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["id"], ids[0].as_str());
}

#[test]
fn a_repository_others_can_write_into_is_refused_before_anything_stops() {
    let sb = sandbox(true);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sb.repo, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod go-w"));
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(snapshots(&sb).is_empty());
}

#[test]
fn forged_snapshot_tags_are_reported_and_never_followed() {
    let sb = sandbox(true);
    let good = sb.backup_ok(&["--label", "good"]).0;
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("f"), "x").unwrap();
    for forged in [
        vec![
            "structr-backup",
            "id:../../etc",
            "component:structr:structr:/etc",
        ],
        vec![
            "structr-backup",
            "id:20991231T000000Z",
            "component:../../x:structr:relative/path",
        ],
    ] {
        let mut args = vec!["backup", "--host", "attacker"];
        for t in &forged {
            args.extend(["--tag", t]);
        }
        let e = elsewhere.display().to_string();
        args.push(&e);
        let out = restic(&sb, &args);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = sb.cli(&["list"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&good) && !stdout.contains("2099"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("is damaged").count(), 2, "{stderr}");
    let out = sb.cli(&["--yes", "restore", "20991231T000000Z"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
}

/// Starts restic by hand on the sandbox's repository, slowed to a crawl, waits
/// until its lock is in the repository and kills it with SIGKILL: the lock stays,
/// as after a crash.
fn leave_a_stale_lock(sb: &Sandbox, args: &[&str]) {
    let mut child = Command::new("restic")
        .arg("-r")
        .arg(&sb.repo)
        .args(args)
        .env("RESTIC_PASSWORD_FILE", sb.password_file())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let locks = sb.repo.join("locks");
    wait_until(Duration::from_secs(60), "restic's lock appears", || {
        std::fs::read_dir(&locks)
            .is_ok_and(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0)))
    });
    // restic writes the lock in place: give it time to be whole before the kill.
    std::thread::sleep(Duration::from_secs(1));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_stale_exclusive_lock_refuses_the_backup_before_anything_stops_and_recover_removes_it() {
    let sb = sandbox(false);
    sb.backup_ok(&["--label", "first"]);
    // A `restic check` killed with -9 leaves its exclusive lock.
    leave_a_stale_lock(&sb, &["check", "--read-data", "--limit-download", "1"]);
    let pids = (sb.pid("neo4j"), sb.pid("structr"));

    let out = sb.cli(&["backup"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "locked is exit 4: {said}");
    assert!(
        said.contains("exclusive lock") && said.contains("stale"),
        "{said}"
    );
    assert!(said.contains("structr-backup recover"), "{said}");
    assert_eq!(
        (sb.pid("neo4j"), sb.pid("structr")),
        pids,
        "nothing was stopped"
    );

    // A lock is not damage: verify says locked, not "verification failed".
    let out = sb.cli(&["verify"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("removed stale restic locks"),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    sb.backup_ok(&["--label", "after recover"]);
}

#[test]
fn a_stale_shared_lock_does_not_pass_for_a_damaged_repository() {
    let sb = sandbox(true);
    let id = sb.backup_ok(&["--label", "first"]).0;
    // A restic backup killed with -9 (as a restore would be) leaves a shared lock.
    write_random(&sb.structr_dir.join("files/big.bin"), 32 << 20, 3);
    leave_a_stale_lock(
        &sb,
        &[
            "backup",
            "--limit-upload",
            "1",
            sb.structr_dir.to_str().unwrap(),
        ],
    );
    // restic's `check` needs an exclusive lock: before, this was exit 3, a damaged
    // backup for whoever monitors it.
    for args in [&["verify"][..], &["--yes", "restore", &id]] {
        let out = sb.cli(args);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {said}");
        assert!(
            said.contains("shared lock") && said.contains("stale"),
            "{said}"
        );
        assert!(!said.contains("verification failed"), "{said}");
    }
    assert!(sb.running("neo4j") && sb.running("structr"));
    // A shared lock does not stop a backup (restic allows it).
    sb.backup_ok(&["--label", "beside the lock"]);
}

#[test]
fn paths_with_pattern_characters_are_restored() {
    let base = tempfile::Builder::new()
        .prefix("we[ir]d*?-")
        .tempdir()
        .unwrap();
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        base: Some(base.path().to_path_buf()),
        ..Options::default()
    });
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 7);
    write_random(&sb.structr_dir.join("files/[a]*?.bin"), 1000, 8);
    sb.start();
    sb.init();
    let before = (
        tree::snapshot(&sb.neo4j_data),
        tree::snapshot(&sb.structr_dir),
    );
    let id = sb.backup_ok(&["--label", "odd"]).0;
    std::fs::remove_file(sb.structr_dir.join("files/[a]*?.bin")).unwrap();
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 9);
    let out = sb.cli(&["--yes", "restore", &id, "--no-safety-backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(tree::diff(&before.0, &tree::snapshot(&sb.neo4j_data)).is_empty());
    assert!(tree::diff(&before.1, &tree::snapshot(&sb.structr_dir)).is_empty());
    // The drill extracts the same paths (nothing starts on flag services).
    let out = sb.cli(&["drill", &id]);
    let said = text(&out);
    assert!(said.contains("done: extract structr"), "{said}");
    assert!(!said.contains("holds no folder"), "{said}");
}

#[test]
fn init_with_its_password_file_moved_away_creates_nothing() {
    let sb = sandbox(true);
    let moved = sb.dir.path().join("password-elsewhere");
    std::fs::rename(sb.password_file(), &moved).unwrap();
    let out = sb.cli(&["init"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("already exists") && said.contains("Put back"),
        "{said}"
    );
    assert!(!sb.password_file().exists(), "no bogus password file");
    let names: Vec<String> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restic-password"))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
    // With the real file back, all is as it was.
    std::fs::rename(&moved, sb.password_file()).unwrap();
    let out = sb.cli(&["init"]);
    assert!(
        out.status.success() && text(&out).contains("already exists"),
        "{}",
        text(&out)
    );
    // A password file others can read is said, with its fix.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.password_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("can be read by other users (mode 644)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("chmod 600"), "{}", text(&out));
}

#[test]
fn rest_credentials_never_reach_a_command_line_output_or_the_runbook() {
    const PASS: &str = "RESTPASS-7f3a";
    let served = tempfile::tempdir().unwrap();
    let rest = common::servers::RcloneRest::start_with_auth(served.path(), "backup", PASS);
    let url = format!("{}repo", rest.url());
    assert!(url.contains(PASS));
    let sb = Sandbox::new(Options {
        kind: Kind::Restic {
            location: Some(url),
            options: vec![],
            env: vec![],
        },
        flag_services: true,
        ..Options::default()
    });
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 7);
    write_random(&sb.structr_dir.join("structr.conf"), 100, 8);
    sb.start();
    let mut all = String::new();
    let mut run = |args: &[&str], ok: bool| {
        let mut child = sb
            .cli_command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let me = child.id() as i32;
        let mut children = 0;
        while child.try_wait().unwrap().is_none() {
            for (pid, cmdline) in processes() {
                if pid != me && parent_of(pid) == Some(me) {
                    children += 1;
                    assert!(
                        !cmdline.contains(PASS),
                        "argv shows the password: {cmdline}"
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.success(), ok, "{args:?}: {}", text(&out));
        all.push_str(&text(&out));
        children
    };
    run(&["init"], true);
    assert!(run(&["backup"], true) > 0, "children were watched");
    run(&["list", "--json"], true);
    run(&["show", "latest", "--runbook"], true);
    run(&["detect", "--json"], true);
    drop(rest);
    // The server is gone: the failing run's messages name the repository.
    run(&["backup"], false);
    run(&["verify"], false);
    assert!(!all.contains(PASS), "{all}");
    assert!(
        all.contains("backup:***@127.0.0.1"),
        "shown redacted: {all}"
    );
}

/// restic's exit codes for "no repository" (10) and "wrong password" (12), so a
/// script can tell them from a failed run.
#[test]
fn no_repository_and_a_wrong_password_have_codes_of_their_own() {
    let sb = sandbox(true);
    std::fs::write(sb.password_file(), "not-the-password\n").unwrap();
    let out = sb.cli(&["--json", "list"]);
    assert_eq!(out.status.code(), Some(12), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "wrong_password", "{v}");
    let elsewhere = sb.dir.path().join("no-repo-here");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = sb.cli(&["--repo", elsewhere.to_str().unwrap(), "list"]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
}

/// A repository someone filled with locks: before, every lock was read with its
/// own `restic cat` (hours for thousands); now the first 20 are, the rest are
/// counted, and the run is refused before anything stops, with what to do.
#[test]
fn a_repository_full_of_locks_is_refused_after_reading_twenty_of_them() {
    let sb = sandbox(false);
    sb.backup_ok(&["--label", "first"]);
    // 23 `restic backup --stdin` waiting for input each hold a shared lock;
    // killed with -9, the locks stay, as after a crash.
    let mut children: Vec<_> = (0..23)
        .map(|i| {
            Command::new("restic")
                .arg("-r")
                .arg(&sb.repo)
                .args(["backup", "--stdin", "--stdin-filename"])
                .arg(format!("wait-{i}"))
                .env("RESTIC_PASSWORD_FILE", sb.password_file())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let locks = sb.repo.join("locks");
    wait_until(Duration::from_secs(120), "23 locks appear", || {
        std::fs::read_dir(&locks).is_ok_and(|d| {
            d.flatten()
                .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
                .count()
                >= 23
        })
    });
    std::thread::sleep(Duration::from_secs(1));
    for c in &mut children {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let pids = (sb.pid("neo4j"), sb.pid("structr"));

    let out = sb.cli(&["backup"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "locked is exit 4: {said}");
    assert!(said.contains("3 more locks not read"), "{said}");
    assert_eq!(
        (sb.pid("neo4j"), sb.pid("structr")),
        pids,
        "nothing was stopped"
    );
    // recover lets restic judge them all (`restic unlock` removes stale ones).
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    sb.backup_ok(&["--label", "after recover"]);
}
