//! A real Neo4j under Docker Compose (issue 21, point 3): Structr's official
//! docker-setup shape (tests/e2e/compose-real-neo4j) whose neo4j service runs
//! Neo4j Community from a locally built image (Debian's JRE and
//! scripts/neo4j-real's jars, laid out as the official image is) and whose
//! structr service runs the Structr stand-in, its graph in that Neo4j over Bolt.
//! Backup → drill (the image started on a copy, counted, checked by Neo4j's own
//! consistency checker) → write more → restore → a fresh Docker host → a drill
//! of a generation damaged after the backup fails with Neo4j's reason.
//!
//! Stores are judged on the host, stopped, by the same Neo4j release's tools
//! (tests/common/neo4j.rs).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::compose::{vol, Project};
use common::docker::{docker, environment, ok, real_neo4j_compose_images};
use common::neo4j;
use common::{text, wait_until};

const STORE: &str = "structr-neo4j-database";

/// Waits until Neo4j in the project's neo4j container answers over Bolt.
fn wait_serving() {
    wait_until(Duration::from_secs(240), "Neo4j serves Bolt", || {
        docker(&[
            "exec",
            "structr-neo4j",
            "cypher-shell",
            "-a",
            "bolt://127.0.0.1:7687",
            "--format",
            "plain",
            "RETURN 1",
        ])
        .status
        .success()
    });
}

/// Regular files in the structr-files volume.
fn file_count() -> usize {
    walkdir(&vol("structr-files"))
}

fn walkdir(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walkdir(&e.path()),
                    Ok(t) if t.is_file() => 1,
                    _ => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn wait_files_grow(before: usize, more: usize) {
    wait_until(
        Duration::from_secs(120),
        &format!("structr writes {more} more files than {before}"),
        || file_count() > before + more,
    );
}

/// The generation's Neo4j volume, unpacked on the host with zstd and tar alone.
fn generation_store(p: &Project, id: &str, host: &Path) -> PathBuf {
    let dir = host.join(format!("{id}-generation"));
    neo4j::unpack_archive(&p.repo().join(id).join(format!("{STORE}.tar.zst")), &dir);
    dir
}

/// Structr stopped, Neo4j serving: the stand-in's check over Bolt, run in
/// Neo4j's network namespace with the files volume (every `:File` node has its
/// file and every file its node).
fn assert_invariant(structr_image: &str) {
    let out = docker(&[
        "run",
        "--rm",
        "--user",
        "root",
        "--network",
        "container:structr-neo4j",
        "-v",
        "structr-files:/var/lib/structr/files",
        "--entrypoint",
        "/usr/local/bin/structr-standin",
        structr_image,
        "check",
        "--bolt-neo4j",
        "127.0.0.1:7687",
        "--dir",
        "/var/lib/structr",
    ]);
    assert!(
        out.status.success(),
        "the graph and the files disagree: {}",
        text(&out)
    );
    let files = file_count();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        files > 10 && said.contains(&format!("ok: {files} nodes, {files} files")),
        "{said}"
    );
}

#[test]
fn real_neo4j_under_compose_backup_drill_restore_fresh_host_and_a_damaged_generation() {
    let _turn = common::docker::one_at_a_time();
    environment();
    let (neo4j_image, structr_image) = real_neo4j_compose_images();
    let host = tempfile::tempdir().unwrap();
    let p = Project::new(
        "compose-real-neo4j",
        &[
            ("@NEO4J_IMAGE@", neo4j_image),
            ("@STRUCTR_IMAGE@", structr_image),
        ],
    );
    p.compose_ok(&["up", "-d"]);
    wait_serving();
    wait_files_grow(0, 10);

    let out = p.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(p.running(), "containers run after the backup");
    let id = p.newest();
    let (generation, check) = neo4j::judge(&generation_store(&p, &id, host.path()));
    neo4j::assert_clean("the generation's store", &generation, &check);

    // The drill starts the installation's own image on a copy, counts its
    // graph and runs Neo4j's consistency checker on it; production keeps running.
    let out = p.cli(&["drill", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    eprintln!("drill of a good generation: {said}");
    let counted = format!(
        "; {} nodes, {} relationships",
        generation.nodes.unwrap(),
        generation.relationships.unwrap()
    );
    assert!(
        said.contains(&format!("{neo4j_image} started on the copy"))
            && said.contains(&counted)
            && said.contains("consistency check of neo4j: consistent"),
        "{said}"
    );
    assert!(p.running(), "production kept running during the drill");
    let names = ok(docker(&["ps", "-a", "--format", "{{.Names}}"]), "docker ps");
    assert!(!names.contains("structr-backup-drill"), "{names}");

    // Write more; then Structr stays stopped through the restore (a restore
    // leaves stopped services stopped), so nothing writes before the look.
    wait_files_grow(file_count(), 20);
    p.compose_ok(&["stop", "-t", "120"]);
    let later = neo4j::facts(&vol(STORE));
    assert_ne!(
        later.graph(),
        generation.graph(),
        "the writes changed nothing"
    );
    p.compose_ok(&["start", "neo4j"]);
    wait_serving();
    let out = p.cli(&["--yes", "restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    wait_serving();
    assert_invariant(structr_image);
    p.compose_ok(&["stop", "-t", "120"]);
    let (restored, check) = neo4j::judge(&vol(STORE));
    neo4j::assert_restored("the restored store", &restored, &check, &generation);

    // A fresh Docker host: the project folder is there, its containers and
    // volumes are not. The restore creates them (`compose create`) and fills
    // them; Neo4j then starts on the restored store.
    p.compose_ok(&["down", "-v", "-t", "120"]);
    assert!(!vol(STORE).exists());
    let out = p.cli_env(
        &[("COMPOSE_PROJECT_NAME", "structr-e2e")],
        &["--yes", "restore", &id],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!p.running(), "nothing was started by the restore");
    p.compose_ok(&["up", "-d", "neo4j"]);
    wait_serving();
    assert_invariant(structr_image);
    p.compose_ok(&["stop", "-t", "120"]);
    let (fresh, check) = neo4j::judge(&vol(STORE));
    neo4j::assert_restored(
        "the store restored onto a fresh host",
        &fresh,
        &check,
        &generation,
    );

    // The generation's store damaged after the backup, every checksum rewritten
    // to match: only Neo4j can tell, and the drill says what it found.
    common::drill::truncate_in_archive(
        &p.repo().join(&id),
        STORE,
        "databases/neo4j/neostore.nodestore.db",
    );
    let out = p.cli(&["verify", &id, "--deep"]);
    assert!(out.status.success(), "verify: {}", text(&out));
    let out = p.cli(&["drill", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    eprintln!("drill of a damaged generation: {said}");
    assert!(
        said.contains("Neo4j's consistency check of neo4j on the copy failed")
            && said.contains("inconsistencies found: Number of "),
        "{said}"
    );

    // This host's Neo4j image is older than the store needs (the same image,
    // tagged as an older release): the restore refuses before anything is
    // stopped, with the kernel version it read from the store's transaction
    // logs at backup time.
    let older = "structr-e2e/neo4j:5.20.0";
    ok(docker(&["tag", neo4j_image, older]), "docker tag");
    let file = p.path().join("docker-compose.yml");
    let yml = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, yml.replace(neo4j_image.as_str(), older)).unwrap();
    p.compose_ok(&["up", "--no-start"]);
    let out = p.cli(&["--yes", "restore", &id]);
    let said = text(&out);
    let _ = docker(&["rmi", older]);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("Neo4j store needs Neo4j 5.25 or newer")
            && said.contains("Neo4j 5.20.0 is installed here, which cannot open it"),
        "{said}"
    );
}
