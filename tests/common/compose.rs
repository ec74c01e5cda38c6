//! A Compose project shaped like Structr's official docker-setup, from one of
//! the folders in tests/e2e (its fixed project, container and volume names), in
//! a temporary folder beside the repository it is backed up into.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::docker::{docker, ok};
use super::{text, BIN};

pub const VOLUMES: &str = "/var/lib/docker/volumes";

/// A named volume's folder on the host.
pub fn vol(name: &str) -> PathBuf {
    Path::new(VOLUMES).join(name).join("_data")
}

/// The project, taken down with its volumes when dropped.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// `tests/e2e/<template>` copied to `<tmp>/structr`, each `(from, to)` of
    /// `replace` replaced in its docker-compose.yml; leftovers of an earlier,
    /// interrupted run (the names are fixed) taken down first.
    pub fn new(template: &str, replace: &[(&str, &str)]) -> Project {
        let p = Project {
            dir: tempfile::Builder::new()
                .prefix("compose-")
                .tempdir()
                .unwrap(),
        };
        let copy = Command::new("cp")
            .arg("-r")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/e2e")
                    .join(template),
            )
            .arg(p.path())
            .status()
            .unwrap();
        assert!(copy.success());
        let file = p.path().join("docker-compose.yml");
        let mut yml = std::fs::read_to_string(&file).unwrap();
        for (from, to) in replace {
            yml = yml.replace(from, to);
        }
        std::fs::write(&file, yml).unwrap();
        let _ = p.compose(&["down", "-v", "-t", "2"]);
        p
    }

    /// The project folder (docker-compose.yml, structr/license.key).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("structr")
    }

    /// The archive repository the tests back up into.
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", "structr-e2e", "-f"])
            .arg(self.path().join("docker-compose.yml"))
            .args(args)
            .output()
            .expect("docker-compose is installed by scripts/e2e-env")
    }

    /// `compose ARGS`, which must succeed.
    pub fn compose_ok(&self, args: &[&str]) {
        let out = self.compose(args);
        assert!(out.status.success(), "compose {args:?}: {}", text(&out));
    }

    /// structr-backup with the project's repository and compose file.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_env(&[], args)
    }

    pub fn cli_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--repo")
            .arg(self.repo())
            .arg("--compose-file")
            .arg(self.path().join("docker-compose.yml"))
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Both containers run.
    pub fn running(&self) -> bool {
        let out = ok(docker(&["ps", "--format", "{{.Names}}"]), "docker ps");
        out.lines().any(|l| l == "structr-app") && out.lines().any(|l| l == "structr-neo4j")
    }

    /// The id of the newest generation.
    pub fn newest(&self) -> String {
        let list: serde_json::Value =
            serde_json::from_slice(&self.cli(&["list", "--json"]).stdout).unwrap();
        list[0]["id"].as_str().unwrap().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "-t", "2"]);
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("rm -rf {VOLUMES}/structr-*/_data.pre-restore-*"))
            .status();
    }
}
