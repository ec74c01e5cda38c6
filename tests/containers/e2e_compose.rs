//! Against a real Docker engine: a compose project shaped like Structr's official
//! docker-setup (same services, container and volume names, a bind-mounted
//! license.key) whose stand-in services write continuously into their volumes,
//! keeping the cross-volume invariant. Detect, back up, change, restore, check.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::compose::{vol, Project};
use common::docker::{docker, environment, ok};
use common::tui::Tui;
use common::{text, tree, wait_until, BIN};

fn ids_in_store() -> BTreeSet<String> {
    std::fs::read_to_string(vol("structr-neo4j-database").join("databases/neo4j/nodes"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn ids_in_files(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            ids_in_files(&e.path(), out);
        } else if !name.starts_with('.') {
            out.insert(name);
        }
    }
}

#[test]
fn compose_detect_backup_restore() {
    let _turn = common::docker::one_at_a_time();
    environment();
    let p = Project::new("compose", &[]);
    let up = p.compose(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    wait_until(Duration::from_secs(30), "the stand-ins write", || {
        ids_in_store().len() > 10
    });

    // Detection finds exactly the official names, and the project folder.
    let out = p.cli(&["detect", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "compose");
    let names: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "structr-neo4j-database",
            "structr-standin-ipc",
            "structr-neo4j-logs",
            "structr-files",
            "structr-logs",
            "structr-repository",
            "compose-project"
        ]
    );

    // Something static to compare byte for byte after the restore.
    std::fs::write(
        vol("structr-repository").join("app.zip"),
        vec![7u8; 100_000],
    )
    .unwrap();
    let repo_before = tree::snapshot(&vol("structr-repository"));
    let license = p.path().join("structr/license.key");
    let license_before = std::fs::read(&license).unwrap();

    let out = p.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(p.running(), "containers run after the backup");
    let id = p.newest();

    // A drill killed before it could remove its container (the terminal
    // gone) left one behind: the next drill removes it.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let leftover = format!("structr-backup-drill-{}", gone.id());
    ok(
        docker(&[
            "run",
            "-d",
            "--name",
            &leftover,
            "--network",
            "none",
            "neo4j-standin:e2e",
        ]),
        "docker run (a drill's leftover container)",
    );

    // A restore drill starts the installation's own Neo4j image on a scratch
    // copy, without network, while production keeps running.
    let out = p.cli(&["drill", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("restore drill ok")
            && said.contains("neo4j-standin:e2e started on the copy")
            && said.contains("consistency not checked (neo4j-standin:e2e has no neo4j-admin)"),
        "{said}"
    );
    assert!(
        text(&out).contains(&format!(
            "removed container {leftover}, which an interrupted drill left"
        )),
        "{}",
        text(&out)
    );
    assert!(p.running(), "production kept running during the drill");
    let out = ok(docker(&["ps", "-a", "--format", "{{.Names}}"]), "docker ps");
    assert!(
        !out.contains("structr-backup-drill"),
        "the drill's container is gone: {out}"
    );
    let list: serde_json::Value =
        serde_json::from_slice(&p.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["last_drill"]["ok"], true, "{list}");

    // Change the volumes and the project folder.
    std::fs::write(vol("structr-files").join("orphan-without-node"), b"x").unwrap();
    std::fs::remove_file(vol("structr-repository").join("app.zip")).unwrap();
    std::fs::write(&license, b"tampered").unwrap();

    let out = p.cli(&["--yes", "restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(p.running(), "containers run after the restore");
    assert_eq!(std::fs::read(&license).unwrap(), license_before);
    let d = tree::diff(&repo_before, &tree::snapshot(&vol("structr-repository")));
    assert!(d.is_empty(), "repository volume differs: {}", d.join("\n"));
    assert!(!vol("structr-files").join("orphan-without-node").exists());

    // Stop both and check the invariant across the two volumes.
    let stop = p.compose(&["stop", "-t", "5"]);
    assert!(stop.status.success(), "{}", text(&stop));
    let mut files = BTreeSet::new();
    ids_in_files(&vol("structr-files"), &mut files);
    let store = ids_in_store();
    assert!(!store.is_empty());
    assert_eq!(
        store, files,
        "every id in the store has a file and every file an id"
    );

    // A fresh Docker host: the project folder is checked out again, but its
    // containers and named volumes do not exist. The restore makes them with
    // `compose create` (the project name from COMPOSE_PROJECT_NAME, as compose
    // reads it), fills them, and `up -d` brings the stack back.
    let down = p.compose(&["down", "-v", "-t", "2"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(!vol("structr-neo4j-database").exists());
    std::fs::write(&license, b"fresh checkout").unwrap();
    let out = Command::new(BIN)
        .arg("--repo")
        .arg(p.dir.path().join("repo"))
        .arg("--compose-file")
        .arg(p.path().join("docker-compose.yml"))
        .args(["--yes", "restore", &id])
        .env("COMPOSE_PROJECT_NAME", "structr-e2e")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("had no containers")
            && said.contains("create` created them and their volumes"),
        "{said}"
    );
    assert!(said.contains("are left stopped"), "{said}");
    assert!(!p.running(), "nothing was started by the restore");
    let up = p.compose(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(p.running());
    assert_eq!(std::fs::read(&license).unwrap(), license_before);
    let d = tree::diff(&repo_before, &tree::snapshot(&vol("structr-repository")));
    assert!(d.is_empty(), "repository volume differs: {}", d.join("\n"));
    wait_until(Duration::from_secs(30), "the stand-ins write again", || {
        ids_in_store().len() > store.len()
    });
    let stop = p.compose(&["stop", "-t", "5"]);
    assert!(stop.status.success(), "{}", text(&stop));
    let mut files = BTreeSet::new();
    ids_in_files(&vol("structr-files"), &mut files);
    assert_eq!(ids_in_store(), files, "the invariant holds on the new host");

    // The same fresh host, recovered through the wizard: before, only the CLI
    // made the project's containers and volumes, and the wizard's recovery
    // found no installation to restore into.
    let down = p.compose(&["down", "-v", "-t", "2"]);
    assert!(down.status.success(), "{}", text(&down));
    std::fs::write(&license, b"fresh checkout").unwrap();
    let t = Tui::new();
    let args = format!(
        "--repo {} --compose-file {}",
        p.dir.path().join("repo").display(),
        p.path().join("docker-compose.yml").display()
    );
    t.start_env(&[("COMPOSE_PROJECT_NAME", "structr-e2e")], &args, 100, 30);
    t.keys(&["D"]);
    t.wait_for("Where is it?", Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.wait_for("Folder ", Duration::from_secs(5));
    t.type_text(&p.dir.path().join("repo").display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("choose a generation", Duration::from_secs(30));
    // The CLI's restore above took a safety backup of the fresh checkout: the
    // generation with the volumes is further down.
    for _ in 0..5 {
        if t.screen().contains(&format!("▶ {id}")) {
            break;
        }
        t.keys(&["Down"]);
    }
    t.wait_for(&format!("▶ {id}"), Duration::from_secs(5));
    t.keys(&["Enter"]);
    let screen = t.wait_for("had no containers", Duration::from_secs(120));
    assert!(screen.contains("REPLACED (it is empty"), "{screen}");
    assert!(!p.running(), "nothing was started to plan the recovery");
    t.keys(&["Enter"]);
    t.wait_for("Type the generation id to confirm", Duration::from_secs(5));
    t.type_text(&id);
    t.wait_for("[▶ Restore ◀]", Duration::from_secs(5));
    t.keys(&["Enter"]);
    t.wait_for("Press S to start", Duration::from_secs(180));
    assert_eq!(std::fs::read(&license).unwrap(), license_before);
    let d = tree::diff(&repo_before, &tree::snapshot(&vol("structr-repository")));
    assert!(d.is_empty(), "repository volume differs: {}", d.join("\n"));
    t.keys(&["S"]);
    t.wait_for("✓ structr running", Duration::from_secs(120));
    assert!(p.running(), "the checklist started the stack");
}
