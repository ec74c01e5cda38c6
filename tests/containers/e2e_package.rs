//! The Debian package, for real: built by scripts/package (cargo-deb), installed
//! with dpkg into the systemd test container (see tests/containers/e2e_systemd.rs), run by
//! its own unit under systemd, read back from the journal, removed and purged.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{boot_systemd, release_binary, Container};
use common::{text, wait_until};

/// Runs scripts/package and returns the .deb it built.
fn build_package() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/package"))
        .output()
        .expect("bash");
    assert!(out.status.success(), "scripts/package: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let arch = String::from_utf8(
        Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .expect("dpkg")
            .stdout,
    )
    .unwrap();
    assert_eq!(
        name,
        format!(
            "structr-backup_{}_{}.deb",
            env!("CARGO_PKG_VERSION"),
            arch.trim()
        )
    );
    assert!(deb.starts_with(root.join("target/debian")), "{deb:?}");
    deb
}

/// The journal's records of the backup unit, as JSON objects.
fn journal(c: &Container) -> Vec<serde_json::Value> {
    c.exec_ok("journalctl -u structr-backup.service -o json --no-pager")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn message(record: &serde_json::Value) -> String {
    record["MESSAGE"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_deb_installs_runs_under_systemd_logs_priorities_and_removes_cleanly() {
    let _turn = common::docker::one_at_a_time();
    let deb = build_package();
    let c = boot_systemd("sb-package");
    // The stand-in services, as in tests/containers/e2e_systemd.rs; the package brings the rest.
    c.copy_in(
        &release_binary("structr-standin"),
        "/usr/local/bin/structr-standin",
    );
    c.exec_ok("cp -a /opt/e2e/structr /usr/lib/structr && mkdir -p /var/lib/neo4j/data && chown -R neo4j:neo4j /var/lib/neo4j");
    c.exec_ok("systemctl start neo4j structr");
    c.wait_active("neo4j");
    c.wait_active("structr");
    c.copy_in(&deb, "/root/structr-backup.deb");

    // Install.
    c.exec_ok("dpkg -i /root/structr-backup.deb");
    let version = c.exec_ok("structr-backup --version");
    let host_version = String::from_utf8(
        Command::new(release_binary("structr-backup"))
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(version, host_version, "the packaged binary is this build");
    assert!(
        version.starts_with(&format!("structr-backup {} (", env!("CARGO_PKG_VERSION")))
            && version.trim_end().ends_with(')'),
        "{version}"
    );
    assert_eq!(
        c.exec_ok("command -v structr-backup").trim(),
        "/usr/bin/structr-backup"
    );

    // The man page the unit's Documentation= names, with a section per command.
    assert_eq!(
        c.exec_ok("man -w structr-backup").trim(),
        "/usr/share/man/man1/structr-backup.1.gz"
    );
    assert!(c
        .exec_ok("systemctl show -p Documentation --value structr-backup.service")
        .contains("man:structr-backup(1)"));
    let page = c.exec_ok("MANPAGER=cat MANWIDTH=100 man structr-backup 2>/dev/null");
    for section in [
        "COMMAND: BACKUP",
        "COMMAND: RESTORE",
        "COMMAND: PRUNE",
        "EXIT STATUS",
    ] {
        assert!(page.contains(section), "{section} missing from:\n{page}");
    }

    // Completions where each shell looks for them; bash's loads.
    for path in [
        "/usr/share/bash-completion/completions/structr-backup",
        "/usr/share/zsh/vendor-completions/_structr-backup",
        "/usr/share/fish/vendor_completions.d/structr-backup.fish",
    ] {
        c.exec_ok(&format!("grep -q restore {path}"));
    }
    c.exec_ok("bash -c '. /usr/share/bash-completion/completions/structr-backup && complete -p structr-backup'");

    // The config: a conffile, owner-only, in an owner-only folder.
    assert_eq!(
        c.exec_ok("stat -c '%a %U' /etc/structr-backup /etc/structr-backup/config.toml"),
        "700 root\n600 root\n"
    );
    assert!(c
        .exec_ok("dpkg-query -W -f='${Conffiles}' structr-backup")
        .contains("/etc/structr-backup/config.toml"));

    // The units: installed, neither enabled nor started.
    let units = c.exec_ok("systemctl list-unit-files 'structr-backup*' --no-legend");
    assert!(
        units
            .lines()
            .any(|l| l.starts_with("structr-backup.timer") && l.contains("disabled")),
        "{units}"
    );
    assert!(units.contains("structr-backup.service"), "{units}");
    assert!(!c.active("structr-backup.timer"));
    c.exec_ok("test -f /lib/systemd/system/structr-backup.timer");
    // The monthly restore drill: installed, left for the admin to enable.
    let drill = c.exec_ok("systemctl cat structr-backup-drill.timer structr-backup-drill.service");
    assert!(
        drill.contains("OnCalendar=*-*-01")
            && drill.contains("ExecStart=/usr/bin/structr-backup drill"),
        "{drill}"
    );
    assert!(!c.active("structr-backup-drill.timer"));
    assert!(c
        .exec_ok("systemctl cat structr-backup.service")
        .contains("ExecStart=/usr/bin/structr-backup backup"));

    // Configure the packaged config for this server: its repository elsewhere.
    c.exec_ok(
        "sed -i 's|^path = \"/var/backups/structr\"|path = \"/srv/backups\"|' /etc/structr-backup/config.toml",
    );
    c.exec_ok("grep -q '^path = \"/srv/backups\"' /etc/structr-backup/config.toml");

    // Off the journal, no priority prefixes, even with a JOURNAL_STREAM inherited
    // from elsewhere.
    let out = c.exec("JOURNAL_STREAM=1:1 structr-backup show nope");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");

    // Structr already stopped: the backup warns, copies and leaves it stopped.
    c.exec_ok("systemctl stop structr");
    let t = Instant::now();
    let out = c.exec("systemctl start structr-backup.service");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        c.exec_ok("journalctl -u structr-backup.service --no-pager")
    );
    eprintln!("systemctl start structr-backup.service took {took:?}");
    assert!(c.active("neo4j") && !c.active("structr"));
    let ids = c.exec_ok("ls /srv/backups");
    let id = ids.lines().next().unwrap_or_default().to_string();
    assert_eq!(id.len(), "20261124T031500Z".len(), "{ids}");
    c.exec_ok(&format!("cd /srv/backups/{id} && sha256sum -c SHA256SUMS"));

    // The journal: the warning at priority 4, information at 6, no visible prefix.
    wait_until(
        Duration::from_secs(10),
        "the warning is in the journal",
        || {
            journal(&c)
                .iter()
                .any(|r| message(r).contains("already stopped"))
        },
    );
    let records = journal(&c);
    let ours: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["SYSLOG_IDENTIFIER"] == "structr-backup")
        .collect();
    assert!(!ours.is_empty(), "{records:?}");
    for r in &ours {
        assert!(!message(r).starts_with('<'), "prefix left visible: {r}");
    }
    let warning = ours
        .iter()
        .find(|r| message(r).starts_with("warning: already stopped: structr"))
        .unwrap_or_else(|| panic!("no warning in {ours:?}"));
    assert_eq!(warning["PRIORITY"], "4", "{warning}");
    let plan = ours
        .iter()
        .find(|r| message(r).starts_with("plan: "))
        .unwrap_or_else(|| {
            panic!("no plan line (the journal stamps lines, we do not) in {ours:?}")
        });
    assert_eq!(plan["PRIORITY"], "6", "{plan}");
    let filtered = c.exec_ok("journalctl -u structr-backup.service -p warning --no-pager -o cat");
    assert!(filtered.contains("already stopped"), "{filtered}");
    assert!(!filtered.contains("plan: "), "{filtered}");

    // A failing run: its error line at priority 3.
    c.exec_ok(
        "sed -i 's/^compression_level = 3/compression_level = 99/' /etc/structr-backup/config.toml",
    );
    let out = c.exec("systemctl start structr-backup.service");
    assert!(!out.status.success(), "a broken config fails the unit");
    wait_until(
        Duration::from_secs(10),
        "the error is in the journal",
        || {
            journal(&c)
                .iter()
                .any(|r| message(r).contains("compression_level") && r["PRIORITY"] == "3")
        },
    );
    let filtered = c.exec_ok("journalctl -u structr-backup.service -p err --no-pager -o cat");
    assert!(
        filtered.contains("error: ") && !filtered.contains("already stopped"),
        "{filtered}"
    );
    c.exec_ok(
        "sed -i 's/^compression_level = 99/compression_level = 3/' /etc/structr-backup/config.toml",
    );
    c.exec_ok("systemctl reset-failed structr-backup.service");

    // Installed again over itself: the admin's config stays, and so do its modes.
    c.exec_ok("dpkg -i /root/structr-backup.deb");
    c.exec_ok("grep -q '^path = \"/srv/backups\"' /etc/structr-backup/config.toml");
    assert_eq!(
        c.exec_ok("stat -c '%a' /etc/structr-backup /etc/structr-backup/config.toml"),
        "700\n600\n"
    );

    // Remove: the program goes, the config and the backups stay.
    c.exec_ok("dpkg -r structr-backup");
    c.exec_ok("test ! -e /usr/bin/structr-backup");
    c.exec_ok("test ! -e /lib/systemd/system/structr-backup.service");
    c.exec_ok("grep -q '^path = \"/srv/backups\"' /etc/structr-backup/config.toml");
    c.exec_ok(&format!("test -f /srv/backups/{id}/SHA256SUMS"));

    // Purge: the config goes too; the backups never do.
    c.exec_ok("dpkg -P structr-backup");
    c.exec_ok("test ! -e /etc/structr-backup/config.toml");
    c.exec_ok(&format!(
        "cd /srv/backups/{id} && sha256sum -c --quiet SHA256SUMS"
    ));
}
