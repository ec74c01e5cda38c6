//! Helpers for the end-to-end tests against a real Docker engine: the prepared
//! environment (scripts/e2e-env), running commands, and cleaning up.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use super::{text, wait_until};

/// Runs scripts/e2e-env once per test binary; returns the systemd image tag.
/// The environment is required: without it the test fails and says why.
pub fn environment() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/e2e-env");
        let out = Command::new("bash").arg(script).output().expect("bash");
        assert!(
            out.status.success(),
            "scripts/e2e-env failed (it needs root and Debian's packages):\n{}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker is installed by scripts/e2e-env")
}

pub fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A container that is removed when dropped.
pub struct Container(pub String);

impl Container {
    pub fn exec(&self, script: &str) -> Output {
        docker(&["exec", &self.0, "sh", "-c", script])
    }

    pub fn exec_ok(&self, script: &str) -> String {
        ok(self.exec(script), script)
    }

    pub fn active(&self, unit: &str) -> bool {
        self.exec(&format!("systemctl is-active --quiet {unit}"))
            .status
            .success()
    }

    pub fn wait_active(&self, unit: &str) {
        wait_until(
            Duration::from_secs(60),
            &format!("{unit} is active"),
            || self.active(unit),
        );
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

pub fn release_binary(name: &str) -> std::path::PathBuf {
    // The tests run from the release build (scripts/test), so the binaries
    // beside the test executable are the ones to copy into containers.
    match name {
        "structr-backup" => env!("CARGO_BIN_EXE_structr-backup").into(),
        _ => env!("CARGO_BIN_EXE_structr-standin").into(),
    }
}

/// Boots the systemd image (scripts/e2e-env) as a container with systemd as
/// PID 1 and no network, and waits until systemd has finished starting up.
pub fn boot_systemd(name_prefix: &str) -> Container {
    boot_image(name_prefix, environment())
}

/// Boots `image` (one of scripts/e2e-env's systemd images) as [`boot_systemd`] does.
pub fn boot_image(name_prefix: &str, image: &str) -> Container {
    let name = format!("{name_prefix}-{}", std::process::id());
    let _ = docker(&["rm", "-f", &name]);
    ok(
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "-e",
            "container=docker",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup",
            image,
            "/lib/systemd/systemd",
        ]),
        "docker run",
    );
    let c = Container(name);
    wait_until(Duration::from_secs(60), "systemd is up", || {
        let out = c.exec("systemctl is-system-running");
        let state = String::from_utf8_lossy(&out.stdout);
        state.contains("running") || state.contains("degraded")
    });
    c
}

impl Container {
    /// Copies a host file into the container. Not into a tmpfs mount (/tmp,
    /// /run): `docker cp` writes beneath it, where the container cannot see it.
    pub fn copy_in(&self, host: &Path, dest: &str) {
        ok(
            docker(&[
                "cp",
                &host.display().to_string(),
                &format!("{}:{dest}", self.0),
            ]),
            "docker cp",
        );
    }
}

impl Container {
    /// Copies our two binaries into the container.
    pub fn with_binaries(&self) {
        for bin in ["structr-backup", "structr-standin"] {
            self.copy_in(&release_binary(bin), &format!("/usr/local/bin/{bin}"));
        }
    }
}

/// The systemd image as a running server: the installation in place, `setup`
/// (a shell line, may be empty) run before both services start, Structr writing.
pub fn running_server(name_prefix: &str, setup: &str) -> Container {
    let c = boot_systemd(name_prefix);
    c.with_binaries();
    c.exec_ok("cp -a /opt/e2e/structr /usr/lib/structr && mkdir -p /var/lib/neo4j/data && chown -R neo4j:neo4j /var/lib/neo4j");
    if !setup.is_empty() {
        c.exec_ok(setup);
    }
    c.exec_ok("systemctl start neo4j structr");
    c.wait_active("neo4j");
    c.wait_active("structr");
    wait_until(Duration::from_secs(30), "structr writes files", || {
        c.exec_ok("find /usr/lib/structr/files -type f | wc -l")
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
            > 10
    });
    c
}

impl Container {
    /// Stops both services and runs the stand-in's consistency check on the
    /// installation (every id in the store has a file and every file an id).
    pub fn stop_and_check_consistent(&self) {
        self.exec_ok("systemctl stop structr neo4j");
        let check =
            self.exec("structr-standin check --data /var/lib/neo4j/data --dir /usr/lib/structr");
        assert!(
            check.status.success(),
            "restored state is inconsistent: {}",
            text(&check)
        );
    }
}

/// One container test at a time: each boots its own Debian containers or
/// Compose project, and two at once on a two-core machine run into their start
/// timeouts. (As separate test binaries, cargo ran them one after the other.)
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs scripts/e2e-env with STRUCTR_E2E_REAL_NEO4J=1 once per test binary and
/// returns the tag of the systemd image with a real Neo4j (Debian's JRE, Neo4j's
/// jars from scripts/neo4j-real, restic; tests/e2e/real-neo4j).
pub fn environment_real_neo4j() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/e2e-env");
        let out = Command::new("bash")
            .arg(script)
            .env("STRUCTR_E2E_REAL_NEO4J", "1")
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "scripts/e2e-env (STRUCTR_E2E_REAL_NEO4J=1) failed: it needs root, Debian's \
             packages, Maven Central for scripts/neo4j-real and the Debian mirror once:\n{}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

/// The real-Neo4j systemd image as a running server: neo4j.service serving Bolt
/// on 127.0.0.1:7687 (it prints `Started.`), structr.service writing its graph
/// into it and its files into /usr/lib/structr/files.
pub fn real_neo4j_server(name_prefix: &str) -> Container {
    let c = boot_image(name_prefix, environment_real_neo4j());
    c.with_binaries();
    c.exec_ok("cp -a /opt/e2e/structr /usr/lib/structr && mkdir -p /var/lib/neo4j/data && chown -R neo4j:neo4j /var/lib/neo4j");
    c.exec_ok("systemctl start neo4j");
    c.wait_neo4j_started();
    c.exec_ok("systemctl start structr");
    c.wait_active("structr");
    c.wait_files_grow(0, 10);
    c
}

impl Container {
    /// Copies a path out of the container to the host (ownership kept).
    pub fn copy_out(&self, src: &str, host: &Path) {
        ok(
            docker(&[
                "cp",
                &format!("{}:{src}", self.0),
                &host.display().to_string(),
            ]),
            "docker cp out",
        );
    }

    /// Files under /usr/lib/structr/files.
    pub fn file_count(&self) -> u32 {
        self.exec_ok("find /usr/lib/structr/files -type f | wc -l")
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Waits until Structr holds more than `before + more` files.
    pub fn wait_files_grow(&self, before: u32, more: u32) {
        wait_until(
            Duration::from_secs(120),
            &format!("structr writes {more} more files than {before}"),
            || self.file_count() > before + more,
        );
    }

    /// Waits until the real neo4j.service is active and its launcher printed
    /// `Started.` (Bolt serves) since the unit last started; on timeout, fails
    /// with the unit's journal (Neo4j's reason for not starting).
    pub fn wait_neo4j_started(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(240);
        while !self
            .exec("journalctl -u neo4j -o cat --no-pager _SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value neo4j) | grep -qx Started.")
            .status
            .success()
        {
            if std::time::Instant::now() >= deadline {
                let journal = self.exec("journalctl -u neo4j -o cat --no-pager | grep -v '^\\s*at ' | tail -n 40");
                panic!(
                    "neo4j.service did not print Started. within 240 s; its journal:\n{}",
                    text(&journal)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The Compose images with the real Neo4j (tests/e2e/compose-real-neo4j):
/// Neo4j's, tagged `structr-e2e/neo4j:<version>` as an official image is tagged
/// with its release, and the same image again as the Structr stand-in's
/// (`structr/structr-standin-real:e2e`). Built once per test binary on the
/// real-Neo4j systemd image, with this build's structr-standin.
pub fn real_neo4j_compose_images() -> &'static (String, String) {
    static TAGS: OnceLock<(String, String)> = OnceLock::new();
    TAGS.get_or_init(|| {
        let real = environment_real_neo4j();
        let home = super::neo4j::cache(super::neo4j::LTS);
        let version = std::fs::read_to_string(home.join("VERSION")).unwrap();
        let neo4j = format!("structr-e2e/neo4j:{}", version.trim());
        let structr = "structr/structr-standin-real:e2e".to_string();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/compose-real-neo4j");
        let ctx = tempfile::tempdir().unwrap();
        for f in ["neo4j.conf", "docker-entrypoint.sh"] {
            std::fs::copy(from.join(f), ctx.path().join(f)).unwrap();
        }
        std::fs::copy(
            release_binary("structr-standin"),
            ctx.path().join("structr-standin"),
        )
        .unwrap();
        let dockerfile = std::fs::read_to_string(from.join("Dockerfile")).unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            dockerfile.replace("@REAL@", real),
        )
        .unwrap();
        let ctx_path = ctx.path().display().to_string();
        ok(
            docker(&["build", "-q", "--network", "none", "-t", &neo4j, &ctx_path]),
            "docker build (the Compose image with the real Neo4j)",
        );
        ok(docker(&["tag", &neo4j, &structr]), "docker tag");
        (neo4j, structr)
    })
}
