//! Restore drills on a custom installation: the generation is restored into a
//! scratch folder and the stand-in's consistency check runs on the copy as the
//! `[drill] command`; production keeps running untouched, the result is
//! recorded, and a damaged generation fails the drill with the reason.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;

use common::{text, Kind, Options, Sandbox, STANDIN};

/// Adds `[drill]` with `command` and a scratch folder in the sandbox; returns it.
fn with_drill(sb: &Sandbox, command: &str) -> std::path::PathBuf {
    let scratch = sb.dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let mut cfg = std::fs::OpenOptions::new()
        .append(true)
        .open(&sb.config)
        .unwrap();
    writeln!(
        cfg,
        "\n[drill]\ncommand = {}\nscratch = {}",
        toml::Value::String(command.into()),
        toml::Value::String(scratch.display().to_string())
    )
    .unwrap();
    scratch
}

fn drilled_sandbox(kind: Kind) -> Sandbox {
    let sb = Sandbox::new(Options {
        kind,
        ..Options::default()
    });
    with_drill(
        &sb,
        &format!("{STANDIN} check --data {{data}} --dir {{scratch}}/structr"),
    );
    if sb.opts.kind != Kind::Archive {
        sb.init();
    }
    sb.start();
    sb
}

fn last_drill(sb: &Sandbox) -> serde_json::Value {
    let out = sb.cli(&["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["last_drill"].clone()
}

#[test]
fn a_drill_restores_into_scratch_starts_a_check_on_the_copy_and_records_it() {
    for kind in [Kind::Archive, Kind::restic()] {
        let sb = drilled_sandbox(kind.clone());
        let out = sb.cli(&["backup"]);
        assert!(out.status.success(), "{}", text(&out));
        let pids = (sb.pid("neo4j"), sb.pid("structr"));

        let out = sb.cli(&["drill"]);
        assert!(out.status.success(), "{kind:?}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("restore drill ok") && said.contains("succeeded on the copy"),
            "{said}"
        );
        assert_eq!(
            (sb.pid("neo4j"), sb.pid("structr")),
            pids,
            "production was not stopped or restarted"
        );
        let d = last_drill(&sb);
        assert_eq!(d["ok"], true, "{kind:?}: {d}");
        assert!(
            d["detail"].as_str().unwrap().contains(" check --data "),
            "{d}"
        );
        let out = sb.cli(&["list"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("RESTORE-TESTED"),
            "{}",
            text(&out)
        );
        assert_eq!(
            std::fs::read_dir(sb.dir.path().join("scratch"))
                .unwrap()
                .count(),
            0,
            "the scratch copy is removed"
        );
    }
}

#[test]
fn a_drill_of_a_damaged_generation_fails_with_the_reason() {
    let sb = drilled_sandbox(Kind::Archive);
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.generations()[0].clone();
    let archive = sb.repo.join(&id).join("structr.tar.zst");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&archive)
        .unwrap();
    f.seek(SeekFrom::Start(100)).unwrap();
    f.write_all(b"damage").unwrap();
    drop(f);

    let out = sb.cli(&["drill", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("restore drill FAILED"), "{said}");
    let d = last_drill(&sb);
    assert_eq!(d["ok"], false, "{d}");
    assert!(
        d["detail"].as_str().unwrap().contains("structr.tar.zst"),
        "the reason names the damaged archive: {d}"
    );
    assert_eq!(
        std::fs::read_dir(sb.dir.path().join("scratch"))
            .unwrap()
            .count(),
        0
    );
    assert!(sb.running("neo4j") && sb.running("structr"));

    // Without a [drill] command nothing can start on a custom installation's
    // copy: the drill says so and fails rather than pass unproven.
    let text_cfg = std::fs::read_to_string(&sb.config).unwrap();
    let without: String = text_cfg
        .lines()
        .filter(|l| !l.starts_with("command = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sb.config, without).unwrap();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = sb.cli(&["drill"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("set [drill] command"),
        "{}",
        text(&out)
    );
}

/// A sandbox whose drill command takes a while (time to kill the drill while
/// the copy is complete), with one generation.
fn slow_drill_sandbox() -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = s3cret\n",
    )
    .unwrap();
    std::fs::write(sb.structr_dir.join("files/a.txt"), "first").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    std::fs::write(sb.neo4j_data.join("databases/neo4j/store"), "store").unwrap();
    let scratch = with_drill(&sb, "sleep 5");
    sb.start();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    (sb, scratch)
}

fn drill_copies(scratch: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(scratch)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("structr-backup-drill-")
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Runs `drill` and kills it with SIGKILL once its command runs on the finished
/// copy; returns the copy it left behind.
fn kill_a_drill(sb: &Sandbox, scratch: &std::path::Path) -> std::path::PathBuf {
    use std::io::BufRead;
    let before = drill_copies(scratch);
    let mut child = sb
        .cli_command(&["drill"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("(on the copy) healthy?") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<_> = drill_copies(scratch)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(left.len(), 1, "{said}");
    assert!(
        left[0].join("structr/structr.conf").is_file(),
        "the copy (with the password) is left: {said}"
    );
    left[0].clone()
}

#[test]
fn recover_removes_a_killed_drills_copy_and_nothing_else_in_scratch() {
    let (sb, scratch) = slow_drill_sandbox();
    let left = kill_a_drill(&sb, &scratch);
    let id = sb.generations()[0].clone();
    // Not ours: a folder of someone's, a look-alike another user made, and the
    // copy of a drill that is still running (this test's own process id).
    let notes = scratch.join("notes");
    std::fs::create_dir(&notes).unwrap();
    let planted = scratch.join(format!("structr-backup-drill-{id}-1-0123456789abcdef"));
    std::fs::create_dir(&planted).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    let running = scratch.join(format!(
        "structr-backup-drill-{id}-{}-fedcba9876543210",
        std::process::id()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&running)
        .unwrap();

    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!left.exists(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("removed {}", left.display())),
        "named: {}",
        text(&out)
    );
    assert!(notes.exists() && planted.exists() && running.exists());
}

#[test]
fn the_next_drill_removes_a_killed_drills_copy_and_says_so() {
    let (sb, scratch) = slow_drill_sandbox();
    let left = kill_a_drill(&sb, &scratch);
    let cfg = std::fs::read_to_string(&sb.config).unwrap();
    std::fs::write(
        &sb.config,
        cfg.replace("command = \"sleep 5\"", "command = \"true\""),
    )
    .unwrap();

    let out = sb.cli(&["drill"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!left.exists(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "removed {}, the copy an interrupted drill left",
            left.display()
        )),
        "{}",
        text(&out)
    );
    assert!(
        drill_copies(&scratch).is_empty(),
        "its own copy is removed too"
    );
}
