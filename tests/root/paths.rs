//! Paths a local user can touch (issue 18, point 9): the repository is trusted only
//! if no one but root (or the user we run as) can change any part of its path, the
//! generation folders and files included, and what is read once the services are
//! stopped is what was checked. The hostile user is the real `nobody`, acting
//! through `setpriv`; the tests run as root, like the tool.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{text, Options, Sandbox};

const NOBODY: u32 = 65534;

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `argv` as `nobody`, which must succeed.
fn as_nobody(argv: &[&str]) {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(argv)
        .output()
        .unwrap();
    assert!(out.status.success(), "as nobody {argv:?}: {}", text(&out));
}

fn flag_sandbox() -> Sandbox {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests change owners and act as `nobody`: run them as root (scripts/test)"
    );
    let mut sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    // Neo4j's stop takes two seconds: room for whatever a test does while the
    // services go down, as a real stop would give.
    let flag = sb.run.join("neo4j.up");
    sb.opts.neo4j_commands = Some([
        format!("touch {}", flag.display()),
        format!("sh -c 'sleep 2; rm -f {}'", flag.display()),
        format!("test -e {}", flag.display()),
    ]);
    sb.write_config();
    // Others may pass through the sandbox (as through /var), not write there.
    chmod(sb.dir.path(), 0o755);
    fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    fs::write(sb.structr_dir.join("files/a.txt"), "first").unwrap();
    chmod(&sb.structr_dir.join("files/a.txt"), 0o644);
    fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    fs::write(sb.neo4j_data.join("databases/neo4j/store"), "store").unwrap();
    sb.start();
    sb
}

/// Points the config's repository at `path`.
fn set_repository(sb: &Sandbox, path: &Path) {
    let cfg = fs::read_to_string(&sb.config).unwrap();
    let from = format!("path = \"{}\"", sb.repo.display());
    assert!(cfg.contains(&from));
    fs::write(
        &sb.config,
        cfg.replace(&from, &format!("path = \"{}\"", path.display())),
    )
    .unwrap();
}

fn a_txt(sb: &Sandbox) -> PathBuf {
    sb.structr_dir.join("files/a.txt")
}

/// An attacker's repository at `evil`: generation `id` with the same bytes as the
/// trusted one (so every file matches its index), but `files/a.txt` owned by
/// `nobody` and writable by everyone: a restore from it hands production to them.
fn evil_copy(sb: &Sandbox, id: &str, evil: &Path) {
    let a = a_txt(sb);
    chmod(&a, 0o666);
    std::os::unix::fs::chown(&a, Some(NOBODY), Some(NOBODY)).unwrap();
    let tampered = sb.backup_ok(&[]).0;
    fs::create_dir_all(evil).unwrap();
    let out = common::shell(
        &format!(
            "cp -a {} {}",
            sb.repo.join(&tampered).display(),
            evil.join(id).display()
        ),
        sb.dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    fs::remove_dir_all(sb.repo.join(&tampered)).unwrap();
    // Production changes after the backup; the restore should bring "first" back.
    std::os::unix::fs::chown(&a, Some(0), Some(0)).unwrap();
    chmod(&a, 0o644);
    fs::write(&a, "changed").unwrap();
}

/// Runs the binary with `args`; once a stderr line contains `marker`, calls `at`.
/// Returns the output (stderr in full) and whether the marker was seen.
fn run_and_act(
    sb: &Sandbox,
    args: &[&str],
    marker: &str,
    at: impl FnOnce(),
) -> (std::process::Output, bool) {
    let mut child = sb
        .cli_command(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).unwrap();
        s
    });
    let mut stderr = Vec::new();
    let mut at = Some(at);
    let mut seen = false;
    for line in BufReader::new(child.stderr.take().unwrap()).split(b'\n') {
        let line = line.unwrap();
        if !seen && String::from_utf8_lossy(&line).contains(marker) {
            seen = true;
            if let Some(f) = at.take() {
                f();
            }
        }
        stderr.extend_from_slice(&line);
        stderr.push(b'\n');
    }
    let status = child.wait().unwrap();
    let out = std::process::Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    };
    (out, seen)
}

/// The started line of Neo4j's stop (the plan line names it too, with arrows).
const STOPPING: &str = "stop neo4j ...";

#[test]
fn a_link_nobody_owns_is_refused_before_anything_stops_and_its_swap_changes_nothing() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    // A shared folder like /tmp, where nobody keeps a link to the trusted repository.
    let shared = sb.dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let link = shared.join("repo");
    as_nobody(&[
        "ln",
        "-s",
        sb.repo.to_str().unwrap(),
        link.to_str().unwrap(),
    ]);
    let evil = shared.join("evil");
    evil_copy(&sb, &id, &evil);
    set_repository(&sb, &link);

    // Once Neo4j is being stopped, nobody points the link at their own copy.
    let (out, stopped) = run_and_act(
        &sb,
        &["--yes", "restore", "--no-safety-backup", &id],
        STOPPING,
        || {
            as_nobody(&["ln", "-sfn", evil.to_str().unwrap(), link.to_str().unwrap()]);
        },
    );
    let a = fs::metadata(a_txt(&sb)).unwrap();
    assert!(
        a.uid() == 0 && a.mode() & 0o777 == 0o644,
        "production received nobody's file (uid {}, mode {:o}): {}",
        a.uid(),
        a.mode() & 0o7777,
        text(&out)
    );
    assert!(!stopped, "refused before anything stopped: {}", text(&out));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("symbolic link") && err.contains("uid 65534") && err.contains("chown -h"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "changed");
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn a_link_switched_while_the_services_stop_does_not_change_what_is_restored() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    // Root's own link in a folder only root writes: trusted. Switched (here by
    // root: nobody cannot) once the services are going down, the restore still
    // reads the folder it checked, not whatever the path names by then.
    let link = sb.dir.path().join("current");
    std::os::unix::fs::symlink(&sb.repo, &link).unwrap();
    let evil = sb.dir.path().join("other");
    evil_copy(&sb, &id, &evil);
    chmod(&evil, 0o700);
    set_repository(&sb, &link);

    let (out, stopped) = run_and_act(
        &sb,
        &["--yes", "restore", "--no-safety-backup", &id],
        STOPPING,
        || {
            fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&evil, &link).unwrap();
        },
    );
    assert!(stopped, "{}", text(&out));
    let a = fs::metadata(a_txt(&sb)).unwrap();
    assert!(
        a.uid() == 0 && a.mode() & 0o777 == 0o644,
        "production received the other folder's file (uid {}, mode {:o}): {}",
        a.uid(),
        a.mode() & 0o7777,
        text(&out)
    );
    // Either the checked generation came back, or the run refused and production
    // is as it was; both with the services running.
    match out.status.success() {
        true => assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "first"),
        false => assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "changed"),
    }
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_repository_in_a_folder_another_user_owns_is_refused() {
    let sb = flag_sandbox();
    // Mode 0755, so not writable by others, but nobody owns it: they can chmod it
    // and rename the repository away at any moment.
    let home = sb.dir.path().join("home-of-nobody");
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).unwrap();
    let repo = home.join("repo");
    fs::create_dir(&repo).unwrap();
    chmod(&repo, 0o700);
    set_repository(&sb, &repo);

    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} belongs to uid 65534", home.display()))
            && err.contains(&format!("chown root {}", home.display())),
        "{err}"
    );
    assert!(
        !err.contains(STOPPING),
        "refused before anything stopped: {err}"
    );
    assert_eq!(fs::read_dir(&repo).unwrap().count(), 0, "nothing written");
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn generation_folders_and_archives_others_can_write_are_refused_with_the_fix() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    let gen = sb.repo.join(&id);
    fs::write(a_txt(&sb), "changed").unwrap();
    let restore = |sb: &Sandbox| sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);

    chmod(&gen, 0o777);
    let out = restore(&sb);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mode 777") && err.contains(&format!("chmod -R go-w {}", gen.display())),
        "{err}"
    );
    assert!(!err.contains(STOPPING), "nothing stopped: {err}");
    assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "changed");

    chmod(&gen, 0o700);
    chmod(&gen.join("structr.tar.zst"), 0o777);
    let out = restore(&sb);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("structr.tar.zst can be written by users other than its owner")
            && err.contains(&format!("chmod -R go-w {}", gen.display())),
        "{err}"
    );
    assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "changed");
    let out = sb.cli(&["verify", &id]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify refuses too: {}",
        text(&out)
    );

    // With the fix the message gives, the restore goes ahead.
    let out = common::shell(&format!("chmod -R go-w {}", gen.display()), sb.dir.path());
    assert!(out.status.success());
    let out = restore(&sb);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(a_txt(&sb)).unwrap(), "first");
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn init_refuses_an_off_site_folder_in_a_shared_folder_before_making_it() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        offsite: vec![common::Offsite {
            name: "usb".into(),
            path: String::new(),
            options: vec![],
        }],
        ..Options::default()
    });
    let shared = sb.dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let offsite = shared.join("offsite");
    let cfg = fs::read_to_string(&sb.config).unwrap();
    fs::write(
        &sb.config,
        cfg.replace("path = \"\"", &format!("path = \"{}\"", offsite.display())),
    )
    .unwrap();

    let out = sb.cli(&["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&offsite.display().to_string())
            && err.contains("mode 1777")
            && err.contains("install -d -m 0700"),
        "{err}"
    );
    assert!(!offsite.exists(), "nothing was made");
}
