//! Where the installation's own Neo4j programs are: `bin/neo4j` (to start it on a
//! drill's copy), `bin/neo4j-admin` (its consistency checker), `cypher-shell`
//! (counts), and the folder holding its neo4j.conf. Read from the config
//! (`[drill] neo4j_home`, `neo4j_conf`), else from neo4j.service (ExecStart's
//! program, NEO4J_HOME/NEO4J_CONF in its environment), else the Debian package's
//! places (/usr/share/neo4j, /etc/neo4j). Only reads.

use std::path::{Path, PathBuf};

use super::conf::NEO4J_CONF;
use super::systemd::unit_property;

/// The Debian package's NEO4J_HOME.
pub const DEBIAN_HOME: &str = "/usr/share/neo4j";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neo4jBin {
    /// NEO4J_HOME (holds `bin/`, `lib/`).
    pub home: PathBuf,
    /// The `neo4j` program.
    pub neo4j: PathBuf,
    /// The folder holding neo4j.conf (NEO4J_CONF).
    pub conf_dir: PathBuf,
}

impl Neo4jBin {
    /// `neo4j-admin` beside `neo4j`, if the installation has it.
    pub fn admin(&self) -> Option<PathBuf> {
        let dir = self.neo4j.parent()?;
        executable(&dir.join("neo4j-admin"))
    }

    /// `cypher-shell` (its own Debian package, in /usr/bin) beside `neo4j` or in /usr/bin.
    pub fn cypher_shell(&self) -> Option<PathBuf> {
        let beside = self.neo4j.parent().map(|d| d.join("cypher-shell"));
        beside
            .into_iter()
            .chain([PathBuf::from("/usr/bin/cypher-shell")])
            .find_map(|p| executable(&p))
    }
}

/// Where the installation's Neo4j is; `Err` lists every place looked at.
/// `unit` is neo4j.service's name when the installation is run by systemd.
pub fn locate(
    home: Option<&Path>,
    conf: Option<&Path>,
    unit: Option<&str>,
) -> Result<Neo4jBin, String> {
    let mut looked = Vec::new();
    let mut env = Vec::new();
    let mut programs = Vec::new();
    match home {
        Some(h) => programs.push(h.join("bin/neo4j")),
        None => {
            if let Some(unit) = unit {
                env = unit_env(unit);
                if let Some(p) = exec_start(unit) {
                    programs.push(p);
                }
                if let Some(h) = lookup(&env, "NEO4J_HOME") {
                    programs.push(PathBuf::from(h).join("bin/neo4j"));
                }
            }
            programs.push(Path::new(DEBIAN_HOME).join("bin/neo4j"));
        }
    }
    let mut found = None;
    for p in &programs {
        // /usr/bin/neo4j is a link into /usr/share/neo4j/bin: its folder is the home's.
        match executable(p).and_then(|p| p.canonicalize().ok()) {
            Some(real) => {
                found = Some(real);
                break;
            }
            None => looked.push(p.display().to_string()),
        }
    }
    let Some(neo4j) = found else {
        return Err(format!("no Neo4j program at {}", looked.join(", ")));
    };
    let home = match (home, lookup(&env, "NEO4J_HOME")) {
        (Some(h), _) => h.to_path_buf(),
        (None, Some(h)) => PathBuf::from(h),
        (None, None) => neo4j
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from(DEBIAN_HOME), Path::to_path_buf),
    };
    let debian_conf = Path::new(NEO4J_CONF).parent().map(Path::to_path_buf);
    let confs: Vec<PathBuf> = match conf {
        Some(c) => vec![c.to_path_buf()],
        None => lookup(&env, "NEO4J_CONF")
            .map(PathBuf::from)
            .into_iter()
            .chain(debian_conf)
            .chain([home.join("conf")])
            .collect(),
    };
    let conf_dir = confs
        .iter()
        .find(|d| d.join("neo4j.conf").is_file())
        .cloned()
        .ok_or_else(|| {
            let names: Vec<String> = confs
                .iter()
                .map(|d| d.join("neo4j.conf").display().to_string())
                .collect();
            format!(
                "{} found, but no neo4j.conf at {}",
                neo4j.display(),
                names.join(", ")
            )
        })?;
    Ok(Neo4jBin {
        home,
        neo4j,
        conf_dir,
    })
}

fn executable(p: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(p).ok()?;
    (m.is_file() && m.permissions().mode() & 0o111 != 0).then(|| p.to_path_buf())
}

/// The program of the unit's ExecStart (`{ path=/usr/bin/neo4j ; argv[]=… }`).
fn exec_start(unit: &str) -> Option<PathBuf> {
    parse_exec_start(&unit_property(unit, "ExecStart"))
}

fn parse_exec_start(value: &str) -> Option<PathBuf> {
    let rest = value.split("path=").nth(1)?;
    let path = rest.split([' ', ';']).next()?.trim();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// The unit's Environment= pairs (`A=1 B=2`).
fn unit_env(unit: &str) -> Vec<(String, String)> {
    unit_property(unit, "Environment")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_names_the_program() {
        assert_eq!(
            parse_exec_start(
                "{ path=/usr/share/neo4j/bin/neo4j ; argv[]=/usr/share/neo4j/bin/neo4j console ; ignore_errors=no }"
            ),
            Some(PathBuf::from("/usr/share/neo4j/bin/neo4j"))
        );
        assert_eq!(parse_exec_start(""), None);
    }

    #[test]
    fn a_configured_home_is_used_and_what_was_looked_for_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate(Some(dir.path()), Some(dir.path()), None).unwrap_err();
        assert!(
            e.contains(&dir.path().join("bin/neo4j").display().to_string()),
            "{e}"
        );

        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let neo4j = dir.path().join("bin/neo4j");
        std::fs::write(&neo4j, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&neo4j, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = locate(Some(dir.path()), Some(dir.path()), None).unwrap_err();
        assert!(e.contains("no neo4j.conf"), "{e}");

        std::fs::write(dir.path().join("neo4j.conf"), "").unwrap();
        let found = locate(Some(dir.path()), Some(dir.path()), None).unwrap();
        assert_eq!(found.neo4j, neo4j.canonicalize().unwrap());
        assert_eq!(found.conf_dir, dir.path());
        assert_eq!(found.admin(), None);
    }
}
