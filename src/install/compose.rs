//! Docker Compose installations: found from the containers' compose labels
//! (`docker inspect`, JSON), controlled with `docker compose` (v2) or
//! `docker-compose` (v1). Volume contents are read and restored through the
//! volume's mountpoint on the host, which needs root.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::health::Health;
use super::service::{act_and_wait, run_checked, ServiceControl, ServiceError};
use super::ComponentSpec;
use crate::config::ComposeMode;
use crate::process;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub name: String,
    pub config: ContainerConfig,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub network_settings: Option<NetworkSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub image: String,
    #[serde(default)]
    pub labels: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    pub source: PathBuf,
    pub destination: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    #[serde(default)]
    pub ports: Option<std::collections::HashMap<String, Option<Vec<PortBinding>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// The compose command on this machine: `docker compose` or `docker-compose`.
pub fn compose_command() -> Option<Vec<String>> {
    let v2: Vec<String> = vec!["docker".into(), "compose".into()];
    let ok = |argv: &[String]| {
        let mut a = argv.to_vec();
        a.push("version".into());
        process::run(&a, Duration::from_secs(10)).is_ok_and(|o| o.success())
    };
    if ok(&v2) {
        return Some(v2);
    }
    let v1 = vec!["docker-compose".to_string()];
    ok(&v1).then_some(v1)
}

/// All containers that belong to a compose project (running or not).
pub fn compose_containers() -> Result<Vec<Container>, String> {
    let argv: Vec<String> = [
        "docker",
        "ps",
        "-a",
        "-q",
        "--filter",
        "label=com.docker.compose.project",
    ]
    .map(String::from)
    .to_vec();
    let out = process::run(&argv, TIMEOUT).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(out.tail());
    }
    let ids: Vec<String> = out.stdout.split_whitespace().map(String::from).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut argv: Vec<String> = vec!["docker".into(), "inspect".into()];
    argv.extend(ids);
    let out = process::run(&argv, TIMEOUT).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(out.tail());
    }
    serde_json::from_str(&out.stdout)
        .map_err(|e| format!("cannot read `docker inspect` output: {e}"))
}

/// A project that was never started here (a fresh Docker host after a
/// disaster) has no containers to read its volumes' places from: `compose
/// create` makes its containers and named volumes without starting anything,
/// so a restore can fill them. Says what it did; None when there was nothing
/// to do. `COMPOSE_PROJECT_NAME`, if set, names the project as compose itself
/// would.
pub fn create_if_fresh(compose_file: &Path) -> Result<Option<String>, String> {
    let dir = compose_file.parent().unwrap_or(Path::new("/"));
    let containers = compose_containers()?;
    let has_containers = containers
        .iter()
        .any(|c| Path::new(label(c, "com.docker.compose.project.working_dir")) == dir);
    if has_containers {
        return Ok(None);
    }
    let mut argv =
        compose_command().ok_or("neither `docker compose` nor `docker-compose` is installed")?;
    argv.extend([
        "-f".into(),
        compose_file.display().to_string(),
        "create".into(),
    ]);
    let out = process::run(&argv, Duration::from_secs(600)).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "`{}` failed: {}",
            process::display(&argv),
            out.tail()
        ));
    }
    Ok(Some(format!(
        "the compose project in {} had no containers: `{}` created them and their volumes, and started nothing",
        dir.display(),
        process::display(&argv)
    )))
}

fn label<'a>(c: &'a Container, key: &str) -> &'a str {
    c.config.labels.get(key).map(String::as_str).unwrap_or("")
}

pub fn is_neo4j(c: &Container) -> bool {
    let image = c.config.image.rsplit('/').next().unwrap_or("");
    image.starts_with("neo4j") || c.mounts.iter().any(|m| m.destination == "/data")
}

pub fn is_structr(c: &Container) -> bool {
    c.config.image.starts_with("structr/structr")
        || c.mounts
            .iter()
            .any(|m| m.destination.starts_with("/var/lib/structr"))
}

/// One compose project with a Neo4j and a Structr service.
#[derive(Debug)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub neo4j: Container,
    pub structr: Container,
}

/// Picks the project: the one whose folder is `want_dir` (from the config or the
/// current folder) if any, else the only project that has both services.
pub fn find_project(
    containers: Vec<Container>,
    want_dir: Option<&Path>,
) -> Result<Project, String> {
    let mut projects: Vec<String> = containers
        .iter()
        .map(|c| label(c, "com.docker.compose.project").to_string())
        .collect();
    projects.sort();
    projects.dedup();
    let mut candidates = Vec::new();
    for p in projects {
        let of: Vec<&Container> = containers
            .iter()
            .filter(|c| label(c, "com.docker.compose.project") == p)
            .collect();
        let dir = of
            .first()
            .map(|c| PathBuf::from(label(c, "com.docker.compose.project.working_dir")))
            .unwrap_or_default();
        let neo = of.iter().position(|c| is_neo4j(c) && !is_structr(c));
        let st = of.iter().position(|c| is_structr(c));
        if let (Some(n), Some(s)) = (neo, st) {
            let files = label(of[n], "com.docker.compose.project.config_files")
                .split(',')
                .filter(|f| !f.is_empty())
                .map(PathBuf::from)
                .collect();
            candidates.push((p, dir, files, of[n].name.clone(), of[s].name.clone()));
        }
    }
    let chosen = match want_dir {
        Some(d) => candidates.into_iter().find(|c| c.1 == d),
        None if candidates.len() == 1 => candidates.pop(),
        None if candidates.is_empty() => None,
        None => {
            let names: Vec<String> = candidates
                .iter()
                .map(|c| format!("{} ({})", c.0, c.1.display()))
                .collect();
            return Err(format!(
                "several compose projects run Structr: {}; name one with compose_file in [installation]",
                names.join(", ")
            ));
        }
    };
    let Some((name, dir, files, neo_name, st_name)) = chosen else {
        return Err(match want_dir {
            Some(d) => format!("no containers of a compose project in {} (start it once with `docker compose up -d`)", d.display()),
            None => "no compose project with a neo4j and a structr service has containers".into(),
        });
    };
    let mut containers = containers;
    let take = |cs: &mut Vec<Container>, n: &str| {
        cs.iter().position(|c| c.name == n).map(|i| cs.remove(i))
    };
    let neo4j = take(&mut containers, &neo_name).ok_or("neo4j container vanished")?;
    let structr = take(&mut containers, &st_name).ok_or("structr container vanished")?;
    Ok(Project {
        name,
        dir,
        files,
        neo4j,
        structr,
    })
}

impl Project {
    pub fn service_name(c: &Container) -> String {
        label(c, "com.docker.compose.service").to_string()
    }

    /// Components: every named volume and bind-mounted folder outside the project
    /// folder of both services, then the project folder itself (compose file,
    /// `.env`, bind-mounted license.key).
    pub fn components(&self) -> (Vec<ComponentSpec>, Vec<String>) {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for (c, is_neo) in [(&self.neo4j, true), (&self.structr, false)] {
            let svc = Self::service_name(c);
            // Docker lists mounts in no fixed order; sort them so archives line up.
            let mut mounts: Vec<&Mount> = c.mounts.iter().collect();
            mounts.sort_by(|a, b| a.destination.cmp(&b.destination));
            for m in mounts {
                // A volume both services mount is one component.
                if m.name
                    .as_ref()
                    .is_some_and(|n| out.iter().any(|o: &ComponentSpec| &o.name == n))
                {
                    continue;
                }
                let role = format!("{svc}:{}", m.destination);
                let spec = match (m.kind.as_str(), &m.name) {
                    ("volume", Some(name)) => ComponentSpec {
                        name: name.clone(),
                        role,
                        path: m.source.clone(),
                        neo4j_store: is_neo && m.destination == "/data",
                    },
                    ("bind", _) if m.source.starts_with(&self.dir) => continue,
                    ("bind", _) if m.source.is_dir() => ComponentSpec {
                        name: format!("bind{}", m.source.display()).replace('/', "-"),
                        role,
                        path: m.source.clone(),
                        neo4j_store: is_neo && m.destination == "/data",
                    },
                    _ => {
                        notes.push(format!(
                            "{} ({svc}:{}) is not backed up: only folders and named volumes are",
                            m.source.display(),
                            m.destination
                        ));
                        continue;
                    }
                };
                out.push(spec);
            }
        }
        out.push(ComponentSpec {
            name: "compose-project".into(),
            role: "compose-project".into(),
            path: self.dir.clone(),
            neo4j_store: false,
        });
        (out, notes)
    }

    /// Structr's published HTTP port on the host's loopback, if any.
    pub fn structr_health(&self) -> Health {
        let ports = self
            .structr
            .network_settings
            .as_ref()
            .and_then(|n| n.ports.as_ref());
        let port = ports
            .and_then(|p| p.get("8082/tcp"))
            .and_then(|b| b.as_ref())
            .and_then(|b| {
                b.iter().find(|b| {
                    b.host_ip == "127.0.0.1" || b.host_ip == "0.0.0.0" || b.host_ip.is_empty()
                })
            })
            .and_then(|b| b.host_port.parse().ok());
        match port {
            Some(port) => Health::Http {
                port,
                path: "/structr/health/ready".into(),
            },
            None => Health::Running,
        }
    }
}

pub struct ComposeService {
    /// `neo4j` or `structr` (our name), and the compose service name.
    name: String,
    service: String,
    project: String,
    compose: Vec<String>,
    files: Vec<PathBuf>,
    dir: PathBuf,
    /// Stopped last (Neo4j): in `down` mode its stop takes the project down.
    last: bool,
    mode: ComposeMode,
    health: Health,
}

impl ComposeService {
    /// `docker ps -q` of this service's containers (the up ones), optionally only
    /// those in `status`.
    fn containers(&self, status: Option<&str>) -> Result<process::Output, ServiceError> {
        let mut argv: Vec<String> = vec![
            "docker".into(),
            "ps".into(),
            "-q".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={}", self.project),
            "--filter".into(),
            format!("label=com.docker.compose.service={}", self.service),
        ];
        if let Some(s) = status {
            argv.extend(["--filter".into(), format!("status={s}")]);
        }
        Ok(process::run(&argv, TIMEOUT)?)
    }

    pub fn new(
        name: &str,
        service: &str,
        p: &Project,
        compose: &[String],
        last: bool,
        mode: ComposeMode,
        health: Health,
    ) -> Self {
        Self {
            name: name.into(),
            service: service.into(),
            project: p.name.clone(),
            compose: compose.to_vec(),
            files: p.files.clone(),
            dir: p.dir.clone(),
            last,
            mode,
            health,
        }
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut a = self.compose.clone();
        a.extend(["-p".into(), self.project.clone()]);
        for f in &self.files {
            a.extend(["-f".into(), f.display().to_string()]);
        }
        a.extend(["--project-directory".into(), self.dir.display().to_string()]);
        a.extend(args.iter().map(|s| s.to_string()));
        a
    }

    fn run(&self, args: &[&str], timeout: Duration) -> Result<(), ServiceError> {
        run_checked(&self.name, &self.argv(args), timeout, "")
    }
}

impl ServiceControl for ComposeService {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!(
            "compose service {} of project {} ({})",
            self.service,
            self.project,
            self.dir.display()
        )
    }

    fn is_running(&self) -> Result<bool, ServiceError> {
        Ok(!self.containers(Some("running"))?.stdout.trim().is_empty())
    }

    fn is_stopped(&self) -> Result<bool, ServiceError> {
        // No container of the service up at all: not running, restarting or paused.
        let out = self.containers(None)?;
        Ok(out.success() && out.stdout.trim().is_empty())
    }

    fn stop(&self, timeout: Duration) -> Result<(), ServiceError> {
        let secs = timeout.as_secs().to_string();
        act_and_wait(self, false, timeout, "docker ps".into(), || {
            match (self.mode, self.last) {
                (ComposeMode::Down, true) => self.run(&["down", "-t", &secs], timeout),
                _ => self.run(&["stop", "-t", &secs, &self.service], timeout),
            }
        })
    }

    fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        let hint = format!(
            "docker logs $(docker ps -aq --filter label=com.docker.compose.service={})",
            self.service
        );
        act_and_wait(self, true, timeout, hint, || {
            self.run(&["up", "-d", &self.service], timeout)
        })
    }

    fn wait_healthy(&self, timeout: Duration) -> Result<(), ServiceError> {
        super::service::wait_healthy(
            &self.name,
            &self.health,
            timeout,
            &format!(
                "docker compose -p {} ps; docker compose -p {} logs {}",
                self.project, self.project, self.service
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECT: &str = r#"[
      {"Name": "/structr-neo4j", "Config": {"Image": "neo4j:latest", "Labels": {"com.docker.compose.project": "docker-setup", "com.docker.compose.service": "neo4j", "com.docker.compose.project.working_dir": "/opt/docker-setup", "com.docker.compose.project.config_files": "/opt/docker-setup/docker-compose.yml"}},
       "Mounts": [{"Type": "volume", "Name": "structr-neo4j-database", "Source": "/var/lib/docker/volumes/structr-neo4j-database/_data", "Destination": "/data"},
                  {"Type": "volume", "Name": "structr-neo4j-logs", "Source": "/var/lib/docker/volumes/structr-neo4j-logs/_data", "Destination": "/logs"}]},
      {"Name": "/structr-app", "Config": {"Image": "structr/structr:6.0.0", "Labels": {"com.docker.compose.project": "docker-setup", "com.docker.compose.service": "structr", "com.docker.compose.project.working_dir": "/opt/docker-setup"}},
       "Mounts": [{"Type": "volume", "Name": "structr-files", "Source": "/var/lib/docker/volumes/structr-files/_data", "Destination": "/var/lib/structr/files"},
                  {"Type": "bind", "Source": "/opt/docker-setup/structr/license.key", "Destination": "/var/lib/structr/license.key"}],
       "NetworkSettings": {"Ports": {"8082/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8082"}]}}}
    ]"#;

    #[test]
    fn the_official_setup_is_recognised_from_docker_inspect() {
        let containers: Vec<Container> = serde_json::from_str(INSPECT).unwrap();
        let p = find_project(containers, None).unwrap();
        assert_eq!(p.name, "docker-setup");
        assert_eq!(p.dir, PathBuf::from("/opt/docker-setup"));
        let (components, notes) = p.components();
        let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "structr-neo4j-database",
                "structr-neo4j-logs",
                "structr-files",
                "compose-project"
            ]
        );
        assert!(components[0].neo4j_store && !components[1].neo4j_store);
        assert_eq!(components[2].role, "structr:/var/lib/structr/files");
        assert!(
            notes.is_empty(),
            "the license.key bind lies in the project folder: {notes:?}"
        );
        assert_eq!(
            p.structr_health(),
            Health::Http {
                port: 8082,
                path: "/structr/health/ready".into()
            }
        );
    }

    #[test]
    fn a_wrong_folder_says_how_to_fix_it() {
        let containers: Vec<Container> = serde_json::from_str(INSPECT).unwrap();
        let err = find_project(containers, Some(Path::new("/elsewhere"))).unwrap_err();
        assert!(err.contains("/elsewhere") && err.contains("up -d"), "{err}");
    }
}
