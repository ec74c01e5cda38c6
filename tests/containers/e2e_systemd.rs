//! Against a real systemd: a Debian container booted with systemd as PID 1, with
//! neo4j.service and structr.service shaped like the packages' units (Structr's
//! with Restart=always) running the stand-ins at /var/lib/neo4j/data and
//! /usr/lib/structr. The release binary runs inside it with `docker exec`.

use crate::common;

use common::docker::{running_server, Container};
use common::text;

fn boot() -> Container {
    running_server("sb-systemd", "")
}

fn newest(c: &Container) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&c.exec_ok("structr-backup list --json")).unwrap();
    v[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn systemd_detect_backup_restore_a_failing_unit_and_an_unhealthy_one() {
    let _turn = common::docker::one_at_a_time();
    let c = boot();

    let v: serde_json::Value =
        serde_json::from_str(&c.exec_ok("structr-backup detect --json")).unwrap();
    assert_eq!(v["kind"], "systemd", "{v}");
    let paths: Vec<(&str, &str)> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("neo4j-data", "/var/lib/neo4j/data"),
            ("structr", "/usr/lib/structr")
        ]
    );

    // Backup: Restart=always must not bring Structr back while we copy.
    let out = c.exec("structr-backup backup");
    assert!(out.status.success(), "{}", text(&out));
    assert!(c.active("neo4j") && c.active("structr"));
    assert_eq!(
        c.exec_ok("systemctl show -p NRestarts --value structr")
            .trim(),
        "0",
        "systemd did not restart Structr behind our back"
    );
    let id = newest(&c);
    c.exec_ok(&format!(
        "cd /var/backups/structr/{id} && sha256sum -c SHA256SUMS"
    ));
    // The application export, asked of the running Structr (port and superuser
    // from /usr/lib/structr/structr.conf) before its unit was stopped.
    c.exec_ok(&format!(
        "structr-backup restore {id} --only app --to /root/app-export && test -s /root/app-export/schema/schema.json"
    ));
    let conf_before = c.exec_ok("sha256sum /usr/lib/structr/structr.conf");

    // Damage the installation, then restore.
    c.exec_ok("echo changed >> /usr/lib/structr/structr.conf; find /usr/lib/structr/files -type f | head -n 5 | xargs rm -f");
    let out = c.exec(&format!("structr-backup --yes restore {id}"));
    assert!(out.status.success(), "{}", text(&out));
    let app_files = c.exec_ok("find /usr/lib/structr /var/lib/neo4j -name schema.json");
    assert!(
        app_files.trim().is_empty(),
        "the application export is never put into the installation: {app_files}"
    );
    assert!(
        c.active("neo4j") && c.active("structr"),
        "both run after the restore: {}",
        text(&out)
    );
    assert_eq!(
        c.exec_ok("sha256sum /usr/lib/structr/structr.conf"),
        conf_before,
        "structr.conf is the backed-up one"
    );
    c.stop_and_check_consistent();
    assert_eq!(
        c.exec_ok("stat -c %U /var/lib/neo4j/data/databases/neo4j/nodes.db")
            .trim(),
        "neo4j",
        "ownership restored"
    );
    c.exec_ok("systemctl start neo4j structr");
    c.wait_active("structr");

    // A unit that fails to start: a clear error, the journal, then recover.
    c.exec_ok("echo 'license expired' > /etc/structr-fail-start");
    let out = c.exec("structr-backup backup");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("structr")
            && err.contains("DOWN")
            && err.contains("systemctl status structr.service"),
        "{err}"
    );
    let out = c.exec("structr-backup list");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("left these services stopped: structr"),
        "{}",
        text(&out)
    );
    c.exec_ok("rm /etc/structr-fail-start");
    let out = c.exec("structr-backup recover");
    assert!(out.status.success(), "{}", text(&out));
    c.wait_active("structr");
    assert!(c.active("neo4j"));

    // A health check that times out is reported loudly but undoes nothing: structr.conf
    // names a port nobody listens on, and starts may take 5 s.
    c.exec_ok("mkdir -p /etc/structr-backup && printf '[installation]\\nstart_timeout_secs = 5\\n' > /etc/structr-backup/config.toml");
    c.exec_ok("sed -i 's/application.http.port = 8082/application.http.port = 8099/' /usr/lib/structr/structr.conf");
    let out = c.exec("structr-backup backup");
    assert!(
        out.status.success(),
        "an unhealthy service does not fail the backup: {}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("WARNING: not healthy after start: structr"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("http://127.0.0.1:8099/structr/health/ready")
            && stderr.contains("journalctl -u structr.service"),
        "{stderr}"
    );
    assert!(c.active("structr") && c.active("neo4j"));
}

/// One request to 127.0.0.1:8082 inside the container (bash's /dev/tcp: the
/// image has no curl); the answer as read, empty when nothing listens.
const GET_8082: &str = r#"bash -c 'exec 3<>/dev/tcp/127.0.0.1/8082 && printf "GET /structr/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3 && timeout 3 cat <&3' 2>/dev/null"#;

#[test]
fn systemd_maintenance_page_answers_503_while_structr_is_stopped_and_structr_gets_its_port_back() {
    // The page on 127.0.0.1 (tests listen on loopback only), the page file at its
    // default path, and a Neo4j stop that takes 3 s more: a window to look into.
    let c = running_server(
        "sb-maint",
        "mkdir -p /etc/structr-backup /etc/systemd/system/neo4j.service.d \
         && printf '[maintenance]\\nbind = \"127.0.0.1\"\\n' > /etc/structr-backup/config.toml \
         && printf '<h1>Back soon</h1>\\n' > /etc/structr-backup/maintenance.html \
         && printf '[Service]\\nExecStopPost=/bin/sleep 3\\n' > /etc/systemd/system/neo4j.service.d/slow-stop.conf \
         && systemctl daemon-reload",
    );
    let before = c.exec_ok(GET_8082);
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");

    let script = format!(
        "structr-backup backup > /root/backup.log 2>&1 & pid=$!\n\
         for i in $(seq 1 200); do\n\
           r=$({GET_8082})\n\
           case \"$r\" in \"HTTP/1.1 503\"*) printf '%s' \"$r\" > /root/page.txt; break;; esac\n\
           sleep 0.1\n\
         done\n\
         wait $pid; echo \"backup exit $?\""
    );
    let said = c.exec_ok(&script);
    let log = c.exec_ok("cat /root/backup.log");
    assert!(said.contains("backup exit 0"), "{said}\n{log}");
    let page = c.exec_ok("cat /root/page.txt 2>/dev/null || true");
    assert!(
        page.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "no 503 on port 8082 during the backup: {page:?}\n{log}"
    );
    let retry = page
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(retry.is_some_and(|r| (5..=60).contains(&r)), "{page}");
    // (the shell's $(…) dropped the final newline)
    assert!(page.ends_with("\r\n\r\n<h1>Back soon</h1>"), "{page}");
    assert!(
        log.contains("maintenance page up on 127.0.0.1:8082")
            && log.contains("maintenance page on port 8082 taken down"),
        "{log}"
    );

    // Structr got its port back: its unit runs and it answers there.
    c.wait_active("structr");
    common::wait_until(
        std::time::Duration::from_secs(30),
        "Structr answers on 8082 after the backup",
        || String::from_utf8_lossy(&c.exec(GET_8082).stdout).starts_with("HTTP/1.1 200"),
    );
    assert_eq!(
        c.exec_ok("systemctl show -p NRestarts --value structr")
            .trim(),
        "0"
    );
}
