//! Issue 21 point 6 against a real Neo4j Community: the kernel version our own
//! reader takes from a store's transaction logs (`install::neo4j_store`) is the
//! one Neo4j's own tools report (`neo4j-launcher facts`, the witness), for a
//! store written by 5.26 and one written by 2025.12; damaged logs give clear
//! errors; and a restore's compatibility check refuses a 2025 store for a 5.26
//! installation and lets a 5.26 store onto 2025 without a warning. Built by
//! scripts/neo4j-real (cached); the tests fail, never skip, when a release or its
//! JDK is missing.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::neo4j::{self, Neo4j};
use structr_backup::config::Kind;
use structr_backup::install::neo4j_store::{self, KernelVersion};
use structr_backup::install::{ComponentSpec, Installation, ROLE_NEO4J_DATA};
use structr_backup::ops::compat;
use structr_backup::repo::manifest::Manifest;

/// A systemd installation whose Neo4j data folder is `data` and whose Neo4j
/// package is `neo4j` (as dpkg reports it).
fn installation(data: &Path, neo4j: &str) -> Installation {
    Installation {
        kind: Kind::Systemd,
        host: "test".into(),
        components: vec![ComponentSpec::new(ROLE_NEO4J_DATA, data.to_path_buf())],
        services: vec![],
        notes: vec![],
        versions: [("neo4j".to_string(), neo4j.to_string())].into(),
        stop_timeout: Duration::from_secs(1),
        start_timeout: Duration::from_secs(1),
        maintenance: None,
    }
}

/// What a backup of `inst` records: the kernel versions read by the hook the
/// backup calls while Neo4j is stopped.
fn generation(inst: &Installation) -> Manifest {
    let mut warnings = Vec::new();
    let kernel = compat::store_kernel(inst, &mut |e| warnings.push(format!("{e:?}")));
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut m: Manifest = toml::from_str(&format!(
        "format_version = 1\nid = \"20261125T031500Z\"\ncreated_at = \"2026-11-25T03:15:00Z\"\n\
         host = \"old\"\ninstallation = \"systemd\"\ntool_version = \"0\"\ncomponents = []\n\
         [versions]\nneo4j = \"{}\"\n",
        inst.versions["neo4j"]
    ))
    .unwrap();
    m.neo4j_kernel = kernel;
    m
}

/// Starts `version` on a fresh data folder, writes a graph, stops it cleanly.
fn store_written_by(version: &str, dir: &Path) -> std::path::PathBuf {
    let home = dir.join("neo4j");
    let mut db = Neo4j::start_version(version, &home, &home.join("data"));
    db.write_graph(0, 40);
    db.terminate();
    home.join("data")
}

#[test]
fn a_store_written_by_5_26_reads_as_neo4j_says_and_damaged_logs_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_written_by(neo4j::LTS, dir.path());

    let witness = neo4j::facts(&data);
    let ours = neo4j_store::kernel_version(&data).unwrap();
    assert_eq!(ours.neo4j_name(), Some(witness.kernel_version.as_str()));
    assert!(
        witness.kernel_version.starts_with("V5_"),
        "{}",
        witness.json
    );
    assert!(ours.name().starts_with("5."), "{ours}");
    let each = neo4j_store::database_kernel_versions(&data).unwrap();
    assert_eq!(
        each.keys().collect::<Vec<_>>(),
        ["neo4j", "system"],
        "{each:?}"
    );

    // Restored onto a newer Neo4j: allowed, and nothing to warn about.
    let m = generation(&installation(&data, "1:5.26.30"));
    assert_eq!(m.neo4j_kernel["neo4j"], ours.name());
    let c = compat::check(&installation(&data, "2025.12.1"), &m);
    assert!(c.refusals.is_empty(), "{c:?}");
    assert!(c.notes.iter().all(|n| !n.contains("WARNING")), "{c:?}");
    // Onto the Neo4j that wrote it: allowed too.
    let c = compat::check(&installation(&data, "1:5.26.30"), &m);
    assert!(c.refusals.is_empty(), "{c:?}");

    // Damaged copies of the logs.
    let tx = data.join("transactions/neo4j");
    let checkpoint = tx.join("checkpoint.0");
    let log = tx.join("neostore.transaction.db.0");
    let cut = std::fs::OpenOptions::new()
        .write(true)
        .open(&checkpoint)
        .unwrap();
    cut.set_len(100).unwrap();
    let e = neo4j_store::kernel_version(&data).unwrap_err();
    assert!(e.contains("checkpoint.0 is truncated: 100 bytes"), "{e}");
    std::fs::remove_file(&checkpoint).unwrap();
    let mut garbage = std::fs::read(&log).unwrap();
    garbage.truncate(4096);
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(77);
    }
    std::fs::write(&log, &garbage).unwrap();
    let e = neo4j_store::kernel_version(&data).unwrap_err();
    assert!(
        e.contains("neostore.transaction.db.0: unknown log format"),
        "{e}"
    );
    // The backup's hook: a log it cannot read is a warning, not a failure.
    let hook = || {
        let mut events = Vec::new();
        let kernel = compat::store_kernel(&installation(&data, "1:5.26.30"), &mut |e| {
            events.push(format!("{e:?}"))
        });
        (kernel, events)
    };
    let (kernel, events) = hook();
    assert!(kernel.is_empty());
    assert!(
        events.len() == 1
            && events[0].contains("Warning")
            && events[0].contains("could not be read"),
        "{events:?}"
    );
    std::fs::remove_file(&log).unwrap();
    let e = neo4j_store::kernel_version(&data).unwrap_err();
    assert!(e.contains("no transaction log"), "{e}");
    // One database's logs gone while another's are there: still a warning.
    let (kernel, events) = hook();
    assert!(kernel.is_empty());
    assert!(
        events.len() == 1 && events[0].contains("Warning") && events[0].contains("missing"),
        "{events:?}"
    );
    // No log at all (a stand-in, an empty store): said, not warned.
    std::fs::remove_dir_all(data.join("transactions")).unwrap();
    let (kernel, events) = hook();
    assert!(kernel.is_empty());
    assert!(
        events.len() == 1
            && events[0].contains("Info")
            && events[0].contains("no Neo4j transaction logs"),
        "{events:?}"
    );
}

#[test]
fn a_store_written_by_2025_reads_as_2025_and_a_5_26_installation_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_written_by(neo4j::CALVER, dir.path());

    let witness = neo4j::try_facts(neo4j::CALVER, &data).unwrap();
    let ours = neo4j_store::kernel_version(&data).unwrap();
    assert_eq!(ours.neo4j_name(), Some(witness.kernel_version.as_str()));
    assert!(
        witness.kernel_version.starts_with("V2025_"),
        "{}",
        witness.json
    );
    assert!(
        KernelVersion::parse_release(&ours.name()).is_some_and(|(major, _)| major == 2025),
        "{ours}"
    );

    let m = generation(&installation(&data, "2025.12.1"));
    let c = compat::check(&installation(&data, "1:5.26.30"), &m);
    assert_eq!(c.refusals.len(), 1, "{c:?}");
    let why = &c.refusals[0];
    assert!(
        why.contains(&format!("needs Neo4j {} or newer", ours.name())),
        "{why}"
    );
    assert!(why.contains("Neo4j 1:5.26.30 is installed here"), "{why}");
    assert!(why.contains("Install Neo4j 2025."), "{why}");
    // The store really is one 5.26 cannot open: its own tools refuse it.
    assert!(neo4j::try_facts(neo4j::LTS, &data).is_err());
}
