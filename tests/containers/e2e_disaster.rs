//! Disaster recovery against a real systemd: one container (the old server) backs
//! up; a second one (the new server) has the same packages' units but a `neo4j`
//! user with another uid and no installation data at all. The generation reaches
//! it as a copied repository folder and through an [[offsite]] folder; after the
//! restore the stand-in Neo4j starts as `neo4j` (it must own its store), the
//! invariant across both folders holds and Structr's health check answers.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::docker::{boot_systemd, docker, ok, running_server, Container};
use common::{text, wait_until};

/// The old server: running, writing, with an off-site folder configured.
fn old_server() -> Container {
    running_server(
        "sb-dr-old",
        &format!("{OFFSITE_CONFIG} && structr-backup init"),
    )
}

/// Both servers' config: an off-site folder named `usb`.
const OFFSITE_CONFIG: &str = "mkdir -p /etc/structr-backup && printf '[[offsite]]\\nname = \"usb\"\\npath = \"/mnt/usb/structr\"\\n' > /etc/structr-backup/config.toml";

/// The new server: the units are installed, `neo4j` has uid 7500 instead of
/// 7474, and neither the Neo4j data folder nor the Structr folder exists.
fn new_server() -> Container {
    let c = boot_systemd("sb-dr-new");
    c.exec_ok("sed -i 's/^neo4j:x:7474:7474:/neo4j:x:7500:7500:/' /etc/passwd && sed -i 's/^neo4j:x:7474:/neo4j:x:7500:/' /etc/group");
    c.with_binaries();
    c.exec_ok(OFFSITE_CONFIG);
    assert!(!c.active("neo4j") && !c.active("structr"));
    c
}

/// Copies a folder from one container to another through the host (docker cp
/// keeps owners by number, as a disk carried over would).
fn carry(from: &Container, to: &Container, src: &str, dest: &str, via: &Path) {
    let host = via.join(dest.trim_start_matches('/').replace('/', "_"));
    ok(
        docker(&[
            "cp",
            &format!("{}:{src}", from.0),
            &host.display().to_string(),
        ]),
        "docker cp out",
    );
    to.exec_ok(&format!(
        "mkdir -p {}",
        Path::new(dest).parent().unwrap().display()
    ));
    ok(
        docker(&[
            "cp",
            &host.display().to_string(),
            &format!("{}:{dest}", to.0),
        ]),
        "docker cp in",
    );
}

/// The new server after a restore: start as the admin would, then check.
fn started_and_consistent(c: &Container) {
    c.exec_ok("systemctl start neo4j structr");
    c.wait_active("neo4j");
    c.wait_active("structr");
    wait_until(
        Duration::from_secs(30),
        "structr answers its health check",
        || {
            c.exec("bash -c 'exec 3<>/dev/tcp/127.0.0.1/8082 && printf \"GET /structr/health/ready HTTP/1.0\\r\\n\\r\\n\" >&3 && head -n 1 <&3 | grep -q \" 200\"'")
            .status
            .success()
        },
    );
    assert_eq!(
        c.exec_ok("stat -c %U:%G /var/lib/neo4j/data/databases/neo4j/nodes.db")
            .trim(),
        "neo4j:neo4j",
        "the store belongs to this machine's neo4j"
    );
    assert_eq!(
        c.exec_ok("stat -c %u /var/lib/neo4j/data/databases/neo4j/nodes.db")
            .trim(),
        "7500"
    );
    // Neo4j runs as neo4j and has written since it started: it can use its store.
    wait_until(Duration::from_secs(30), "neo4j writes to its store", || {
        c.exec("find /var/lib/neo4j/data -newer /usr/local/bin/structr-backup -type f -user neo4j | grep -q .")
            .status
            .success()
    });
    c.stop_and_check_consistent();
}

#[test]
fn disaster_recovery_onto_a_fresh_systemd_server() {
    let _turn = common::docker::one_at_a_time();
    let old = old_server();
    let out = old.exec("structr-backup backup");
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value =
        serde_json::from_str(&old.exec_ok("structr-backup list --json")).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_string();
    assert!(
        old.exec_ok(
            "test -f /mnt/usb/structr/{id}/manifest.toml && echo yes"
                .replace("{id}", &id)
                .as_str()
        )
        .contains("yes"),
        "the off-site folder holds the copy"
    );
    let conf = old.exec_ok("sha256sum < /usr/lib/structr/structr.conf");
    let via = tempfile::tempdir().unwrap();

    // 1. A copied repository folder.
    let new = new_server();
    carry(
        &old,
        &new,
        "/var/backups/structr",
        "/root/copied",
        via.path(),
    );
    let out = new.exec("structr-backup --from /root/copied list");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));

    // A store from a newer Neo4j is refused before anything happens.
    new.exec_ok("cp -a /root/copied /root/newer && sed -i 's/^neo4j = .*/neo4j = \"2099.1.0\"/' /root/newer/*/manifest.toml");
    let out = new.exec("structr-backup --yes --from /root/newer restore latest");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("written by Neo4j 2099.1.0") && err.contains("Install Neo4j 2099"),
        "{err}"
    );
    assert!(new.exec("test -e /var/lib/neo4j/data").status.code() == Some(1));

    let out = new.exec(&format!(
        "structr-backup --yes --from /root/copied restore {id}"
    ));
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("owner neo4j (user): uid 7474 in the generation → 7500 here")
            && said.contains("owner neo4j (group): gid 7474 in the generation → 7500 here"),
        "the plan reports the mapping: {said}"
    );
    assert!(
        said.contains("/var/lib/neo4j/data does not exist yet: it is CREATED"),
        "{said}"
    );
    assert!(
        said.contains("are left stopped; start them in this order when ready: neo4j"),
        "{said}"
    );
    assert_eq!(
        new.exec_ok("sha256sum < /usr/lib/structr/structr.conf"),
        conf
    );
    started_and_consistent(&new);
    drop(new);

    // 2. Through the off-site target, on another fresh server.
    let new = new_server();
    carry(
        &old,
        &new,
        "/mnt/usb/structr",
        "/mnt/usb/structr",
        via.path(),
    );
    let out = new.exec("structr-backup --yes --from usb restore latest");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        new.exec("test -e /var/backups/structr").status.code(),
        Some(1),
        "no safety backup and nothing else written into the local repository"
    );
    started_and_consistent(&new);
}
