//! A real Neo4j under a real systemd (issue 21, point 3): the Debian container
//! with Debian's JRE runs Neo4j Community (scripts/neo4j-real's jars) as
//! neo4j.service and the Structr stand-in as structr.service, its graph in that
//! Neo4j over Bolt and its files in /usr/lib/structr/files. Write → backup →
//! write more → restore, for the archive and the restic kind: Neo4j starts on the
//! restored store with the graph of the generation (counts and a checksum of all
//! properties), Neo4j's own consistency checker passes it, and every `:File` node
//! has its file and every file its node. The control: a copy taken while Neo4j
//! runs and Structr writes is one Neo4j itself refuses as needing recovery.
//!
//! Stores are judged on the host by the same Neo4j release's tools
//! (tests/common/neo4j.rs) on copies taken out with `docker cp`.

use crate::common;

use std::path::{Path, PathBuf};

use common::docker::{boot_image, environment_real_neo4j, real_neo4j_server, Container};
use common::neo4j::{self, Check, Facts};
use common::text;

const DATA: &str = "/var/lib/neo4j/data";

fn newest(c: &Container) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&c.exec_ok("structr-backup list --json")).unwrap();
    v[0]["id"].as_str().unwrap().to_string()
}

/// Copies the container's `src` (a stopped store) to `host/name` and judges it.
fn judge(c: &Container, src: &str, host: &Path, name: &str) -> (Facts, Check) {
    let dest = host.join(name);
    c.copy_out(src, &dest);
    neo4j::judge(&dest)
}

/// Structr stopped, Neo4j serving the store: the stand-in's check over Bolt
/// (every `:File` node has its file under /usr/lib/structr/files and vice versa).
fn assert_invariant(c: &Container) {
    let out = c.exec("structr-standin check --bolt-neo4j 127.0.0.1:7687 --dir /usr/lib/structr");
    assert!(
        out.status.success(),
        "the restored graph and files disagree: {}",
        text(&out)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let files = c.file_count();
    assert!(
        files > 10 && said.contains(&format!("ok: {files} nodes, {files} files")),
        "{said}"
    );
}

/// Write (running) → backup → write more → restore → the restored store is the
/// generation's, clean, and Neo4j serves it with Structr's files in step. Both
/// services are stopped at the end.
/// `generation_store` puts the generation's Neo4j data folder on the host, read
/// with the repository kind's standard tool alone, and returns its path.
fn backup_write_restore(c: &Container, host: &Path, generation_store: impl Fn(&str) -> PathBuf) {
    let out = c.exec("structr-backup backup");
    assert!(out.status.success(), "{}", text(&out));
    assert!(c.active("neo4j") && c.active("structr"), "{}", text(&out));
    let id = newest(c);

    // The generation holds a cold store: clean, consistent, with a graph.
    let (generation, check) = neo4j::judge(&generation_store(&id));
    neo4j::assert_clean("the generation's store", &generation, &check);

    // Write more: Structr keeps adding files and nodes; the store moves on.
    c.wait_neo4j_started();
    let files = c.file_count();
    c.wait_files_grow(files, 20);
    c.exec_ok("systemctl stop structr neo4j");
    let later_data = host.join(format!("{id}-later"));
    c.copy_out(DATA, &later_data);
    let later = neo4j::facts(&later_data);
    assert_ne!(
        later.graph(),
        generation.graph(),
        "the writes after the backup changed nothing"
    );
    // Structr stays stopped through the restore (a restore leaves stopped
    // services stopped), so nothing writes between the restore and the look at
    // the store; Neo4j runs, so the restore stops and starts it.
    c.exec_ok("systemctl start neo4j");
    c.wait_neo4j_started();

    let out = c.exec(&format!("structr-backup --yes restore {id}"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        c.active("neo4j") && !c.active("structr"),
        "Neo4j runs after the restore, Structr stays stopped: {}",
        text(&out)
    );
    // Neo4j started on the restored store (a fresh invocation that serves Bolt).
    c.wait_neo4j_started();
    assert_invariant(c);

    c.exec_ok("systemctl stop neo4j");
    let (restored, check) = judge(c, DATA, host, &format!("{id}-restored"));
    neo4j::assert_restored("the restored store", &restored, &check, &generation);
    assert_eq!(
        c.exec_ok(&format!("stat -c %U {DATA}/databases/neo4j/neostore"))
            .trim(),
        "neo4j"
    );
}

#[test]
fn real_neo4j_under_systemd_a_live_copy_needs_recovery_and_both_kinds_restore_the_graph() {
    let _turn = common::docker::one_at_a_time();
    let host = tempfile::tempdir().unwrap();
    let c = real_neo4j_server("sb-real-neo4j");

    // The control: a copy of the data folder taken while Neo4j runs and Structr
    // writes, as a backup that did not stop the services would take it.
    let files = c.file_count();
    c.wait_files_grow(files, 20);
    c.exec_ok(&format!("cp -a {DATA} /root/live-copy"));
    let (live, check) = judge(&c, "/root/live-copy", host.path(), "live-copy");
    assert!(
        live.recovery_required,
        "a copy of a running Neo4j read as clean: {}",
        live.json
    );
    assert!(
        matches!(check, Check::NeedsRecovery(_) | Check::Inconsistent(_)),
        "{check:?}"
    );

    // The archive kind: the generation's store read with zstd and tar alone.
    backup_write_restore(&c, host.path(), |id| {
        archive_generation_store(&c, "/var/backups/structr", id, host.path())
    });

    // The restic kind, in the same container (one boot and one first start of
    // Neo4j less: the suite's time): the generation's store read with restic alone.
    c.exec_ok("systemctl start neo4j structr");
    c.wait_neo4j_started();
    c.exec_ok(
        "mkdir -p /etc/structr-backup && printf '[repository]\\nkind = \"restic\"\\n' > /etc/structr-backup/config.toml",
    );
    let out = c.exec("structr-backup init");
    assert!(out.status.success(), "{}", text(&out));
    backup_write_restore(&c, host.path(), |id| {
        c.exec_ok(&format!(
            "rm -rf /root/generation && RESTIC_PASSWORD_FILE=/etc/structr-backup/restic-password \
             restic -r /var/backups/structr-restic --no-cache restore latest --tag id:{id} \
             --include {DATA} --target /root/generation"
        ));
        let dir = host.path().join(format!("{id}-restic"));
        c.copy_out(&format!("/root/generation{DATA}"), &dir);
        dir
    });
}

/// The Neo4j data folder of generation `id` in the archive repository `repo` in
/// the container, unpacked on the host with zstd and tar alone.
fn archive_generation_store(c: &Container, repo: &str, id: &str, host: &Path) -> PathBuf {
    let archive = host.join(format!("{id}-neo4j-data.tar.zst"));
    c.copy_out(&format!("{repo}/{id}/neo4j-data.tar.zst"), &archive);
    let dir = host.join(format!("{id}-archive"));
    neo4j::unpack_archive(&archive, &dir);
    dir
}

/// Disaster recovery onto a fresh server: the generation of a running real Neo4j,
/// carried as a repository folder to a new container whose `neo4j` user has
/// another uid and which has no installation data. After the restore Neo4j starts
/// there as its own `neo4j` on the restored store, with the generation's graph,
/// consistent, and Structr's files in step with it.
#[test]
fn real_neo4j_disaster_recovery_onto_a_fresh_systemd_server() {
    let _turn = common::docker::one_at_a_time();
    let host = tempfile::tempdir().unwrap();
    let old = real_neo4j_server("sb-real-dr-old");
    let out = old.exec("structr-backup backup");
    assert!(out.status.success(), "{}", text(&out));
    let id = newest(&old);
    let (generation, check) = neo4j::judge(&archive_generation_store(
        &old,
        "/var/backups/structr",
        &id,
        host.path(),
    ));
    neo4j::assert_clean("the generation's store", &generation, &check);
    old.copy_out("/var/backups/structr", &host.path().join("repo"));
    drop(old);

    let new = boot_image("sb-real-dr-new", environment_real_neo4j());
    // As the package installed on this machine leaves it: its neo4j user owns
    // the home (/var/lib/neo4j, without data) and the logs.
    new.exec_ok("sed -i 's/^neo4j:x:7474:7474:/neo4j:x:7500:7500:/' /etc/passwd && sed -i 's/^neo4j:x:7474:/neo4j:x:7500:/' /etc/group \
         && mkdir -p /var/lib/neo4j && chown -R neo4j:neo4j /var/lib/neo4j /var/log/neo4j");
    new.with_binaries();
    assert!(!new.active("neo4j") && !new.active("structr"));
    new.copy_in(&host.path().join("repo"), "/root/copied");
    let out = new.exec(&format!(
        "structr-backup --yes --from /root/copied restore {id}"
    ));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        new.exec_ok(&format!("stat -c %u:%U {DATA}/databases/neo4j/neostore"))
            .trim(),
        "7500:neo4j",
        "the store belongs to this machine's neo4j"
    );

    // Started as the admin would: Neo4j (as uid 7500) serves the restored store.
    new.exec_ok("systemctl start neo4j");
    new.wait_neo4j_started();
    assert_invariant(&new);
    new.exec_ok("systemctl stop neo4j");
    let (restored, check) = judge(&new, DATA, host.path(), "restored");
    neo4j::assert_restored(
        "the store restored onto the new server",
        &restored,
        &check,
        &generation,
    );
}
