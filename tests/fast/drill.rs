//! Restore drills on a custom installation: the generation is restored into a
//! scratch folder and the stand-in's consistency check runs on the copy as the
//! `[drill] command`; production keeps running untouched, the result is
//! recorded, and a damaged generation fails the drill with the reason.

use crate::common;

use std::io::{Seek, SeekFrom, Write};

use common::drill::{drill_copies, kill_a_drill, slow_drill_sandbox, with_drill};
use common::{text, Kind, Options, Sandbox, STANDIN};

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
        sb.backup_ok(&[]);
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
    let (id, _) = sb.backup_ok(&[]);
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
    sb.backup_ok(&[]);
    let out = sb.cli(&["drill"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("set [drill] command"),
        "{}",
        text(&out)
    );
    // It says what it looked for: the Neo4j programs it could have started.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no Neo4j programs configured")
            && String::from_utf8_lossy(&out.stdout).contains("[drill] neo4j_home"),
        "{}",
        text(&out)
    );
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
