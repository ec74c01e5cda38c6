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
