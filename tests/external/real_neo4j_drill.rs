//! Drills that start the installation's own Neo4j on the copy (issue 21 point 5):
//! a Debian-like installation whose NEO4J_HOME holds `bin/neo4j`,
//! `bin/neo4j-admin` and `bin/cypher-shell`: shell stand-ins for the package's
//! scripts only, around the real Neo4j built by scripts/neo4j-real (the launcher,
//! Neo4j's own AdminTool) and the stand-in's Bolt client; the database and its
//! consistency checker are real. A good generation drills ok with what it
//! proved; one whose store was truncated after the backup (every checksum
//! rewritten to match, so only Neo4j can notice) fails with Neo4j's reason.
//! Production's data folder is not touched, and a production Neo4j running
//! during the drill keeps running.

use crate::common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::neo4j::{self, Neo4j};
use common::{q, text, tree, Sandbox, STANDIN};

/// The user production's Neo4j runs as in these tests (`nobody`).
const NEO4J_USER: u32 = 65534;

/// The Neo4j package's programs, as stand-in scripts around the real Neo4j.
fn debian_home(dir: &Path) -> PathBuf {
    // Neo4j's jars where its own user can read them (the cache may be under
    // root's home): hard links where they can be made.
    let cache = dir.join("neo4j-release");
    let from = neo4j::cache(neo4j::LTS);
    let copied = common::shell(
        &format!(
            "cp -al {f} {t} 2>/dev/null || (rm -rf {t} && cp -a {f} {t})",
            f = q(&from),
            t = q(&cache)
        ),
        dir,
    );
    assert!(copied.status.success(), "{}", text(&copied));
    let home = dir.join("usr-share-neo4j");
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let launcher = q(&cache.join("bin/neo4j-launcher"));
    let scripts = [
        (
            "neo4j",
            format!(
                "#!/bin/sh\n\
                 # Test stand-in for the package's bin/neo4j script: `console` runs the real\n\
                 # Neo4j in the foreground on $NEO4J_CONF/neo4j.conf (its data folder, Bolt).\n\
                 case \"$1\" in\n\
                 --version|version) exec {launcher} version ;;\n\
                 console) ;;\n\
                 *) echo \"neo4j (test stand-in): only console and --version\" >&2; exit 2 ;;\n\
                 esac\n\
                 [ -z \"$DRILL_RAN_AS\" ] || id -u > \"$DRILL_RAN_AS\"\n\
                 conf=\"${{NEO4J_CONF:-$NEO4J_HOME/conf}}\"\n\
                 get() {{ sed -n \"s/^$1=//p\" \"$conf/neo4j.conf\" | tail -n 1; }}\n\
                 exec {launcher} serve --home \"$NEO4J_HOME\" --conf \"$conf\" \
                 --data \"$(get server.directories.data)\" --bolt \"$(get server.bolt.listen_address)\"\n"
            ),
        ),
        (
            "neo4j-admin",
            format!(
                "#!/bin/sh\n# Neo4j's own AdminTool (NEO4J_HOME, NEO4J_CONF).\nexec {} \"$@\"\n",
                q(&cache.join("bin/neo4j-admin"))
            ),
        ),
        (
            "cypher-shell",
            format!("#!/bin/sh\nexec {STANDIN} cypher-shell \"$@\"\n"),
        ),
    ];
    for (name, script) in scripts {
        let p = bin.join(name);
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    home
}

/// Production: a real Neo4j on the sandbox's data folder whose neo4j.conf names
/// its Bolt port, logs and run folders, as /etc/neo4j/neo4j.conf does.
fn start_production(sb: &Sandbox) -> Neo4j {
    let home = sb.neo4j_data.parent().unwrap();
    let db = Neo4j::start_version(neo4j::LTS, home, &sb.neo4j_data);
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(home.join("conf/neo4j.conf"))
        .unwrap();
    writeln!(
        conf,
        "server.bolt.listen_address=127.0.0.1:{}\nserver.directories.logs={}\nserver.directories.run={}",
        db.port,
        home.join("logs").display(),
        home.join("run").display()
    )
    .unwrap();
    db
}

/// A sandbox (services are flags: the test runs production's Neo4j itself)
/// with a real Neo4j store of 500 nodes and 500 relationships, one backup of it
/// taken while Neo4j was stopped, and `[drill]` naming the Debian-like home.
fn drilled() -> (Sandbox, PathBuf) {
    let sb = common::drill::drill_sandbox();
    let mut db = start_production(&sb);
    db.write_graph(0, 500);
    db.terminate();
    // As the Debian package leaves it: the store belongs to Neo4j's own user,
    // and the drill's Neo4j runs as that user (it reads its programs from the
    // sandbox, which is then open to it).
    let owned = common::shell(
        &format!(
            "chown -R {NEO4J_USER}:{NEO4J_USER} {} && chmod 755 {}",
            q(&sb.neo4j_data),
            q(sb.dir.path())
        ),
        sb.dir.path(),
    );
    assert!(owned.status.success(), "{}", text(&owned));
    let scratch = sb.dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let home = debian_home(sb.dir.path());
    let mut cfg = std::fs::OpenOptions::new()
        .append(true)
        .open(&sb.config)
        .unwrap();
    writeln!(
        cfg,
        "\n[drill]\nscratch = {}\nneo4j_home = {}\nneo4j_conf = {}\ntimeout_secs = 300",
        common::toml_str(&scratch.display().to_string()),
        common::toml_str(&home.display().to_string()),
        common::toml_str(
            &sb.neo4j_data
                .parent()
                .unwrap()
                .join("conf")
                .display()
                .to_string()
        ),
    )
    .unwrap();
    sb.start();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    (sb, scratch)
}

fn last_drill(sb: &Sandbox) -> serde_json::Value {
    let v = common::json(&sb.cli(&["list", "--json"]));
    v[0]["last_drill"].clone()
}

#[test]
fn a_drill_starts_the_installations_neo4j_on_the_copy_counts_and_checks_it() {
    let (sb, scratch) = drilled();
    let before = tree::snapshot(&sb.neo4j_data);

    // A copy a killed drill left after it handed it to Neo4j's user: removed.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let left = scratch.join(format!(
        "structr-backup-drill-{}-{}-0123456789abcdef",
        sb.newest(),
        gone.id()
    ));
    std::fs::create_dir(&left).unwrap();
    std::fs::set_permissions(&left, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&left, Some(NEO4J_USER), Some(NEO4J_USER)).unwrap();

    // The drill's bin/neo4j says which user it ran as.
    let said = tempfile::tempdir().unwrap();
    std::fs::set_permissions(said.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let ran_as = said.path().join("ran-as");
    let out = sb
        .cli_command(&["drill"])
        .env("DRILL_RAN_AS", &ran_as)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = last_drill(&sb);
    assert_eq!(d["ok"], true, "{d}");
    let detail = d["detail"].as_str().unwrap();
    eprintln!("drill: {detail}");
    assert_eq!(
        std::fs::read_to_string(&ran_as).unwrap().trim(),
        NEO4J_USER.to_string(),
        "the drill's Neo4j runs as the user that owns production's store"
    );
    for proved in [
        "Neo4j 5.26.30 started on the copy as ",
        "500 nodes, 500 relationships",
        "consistency check of neo4j: consistent",
    ] {
        assert!(detail.contains(proved), "{proved:?} not in {detail:?}");
    }
    // Production's data folder is as it was: the copy's Neo4j ran elsewhere.
    assert_eq!(
        tree::diff(&before, &tree::snapshot(&sb.neo4j_data)),
        Vec::<String>::new()
    );
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "the copy is removed"
    );
}

#[test]
fn a_drill_of_a_store_damaged_after_the_backup_fails_with_neo4js_reason() {
    let (sb, scratch) = drilled();
    let id = sb.newest();
    common::drill::truncate_in_archive(
        &sb.repo.join(&id),
        "neo4j-data",
        "databases/neo4j/neostore.nodestore.db",
    );
    // Every checksum we keep matches the damaged store: only Neo4j can tell.
    let out = sb.cli(&["verify", &id, "--deep"]);
    assert!(out.status.success(), "verify: {}", text(&out));

    // Production runs during the drill, on the port its neo4j.conf names.
    let mut db = start_production(&sb);
    let out = sb.cli(&["drill", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let d = last_drill(&sb);
    assert_eq!(d["ok"], false, "{d}");
    let detail = d["detail"].as_str().unwrap();
    eprintln!("drill: {detail}");
    // Neo4j started on the copy (beside production, on ports of its own) and its
    // consistency checker found the damage.
    assert!(
        detail.contains("Neo4j's consistency check of neo4j on the copy failed")
            && detail.contains("inconsistencies found: Number of "),
        "{detail}"
    );
    assert!(!detail.contains("sha256"), "{detail}");
    assert_eq!(db.counts(), (500, 500), "production keeps running");
    db.terminate();
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}
