//! Finding the installation: a custom one described in the config, a Debian/systemd
//! server (structr.service, neo4j.service), or a Docker Compose project. Detection
//! only reads; what it could not see is reported with how to fix it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::compose::{self, ComposeService, Project};
use super::conf;
use super::health::Health;
use super::maintenance::Spec;
use super::service::{CommandService, ServiceControl};
use super::systemd::{unit_loaded, unit_property, SystemdService};
use super::{ComponentSpec, Installation, ROLE_NEO4J_DATA, ROLE_STRUCTR};
use crate::config::{Config, Kind};

pub const STRUCTR_DIR_DEFAULT: &str = "/usr/lib/structr";

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("no Structr installation found: {reason}. Describe it in the config ([installation] kind = \"custom\" with neo4j_data, structr_dir and the neo4j/structr start, stop and status commands; see the README), or run `structr-backup demo` to try the tool on a sandbox")]
    NotFound { reason: String },
    #[error("the {kind} installation named in the config was not found: {reason}")]
    Missing { kind: Kind, reason: String },
}

pub fn detect(config: &Config) -> Result<Installation, DetectError> {
    let inst = &config.installation;
    let complete = inst.neo4j.is_some()
        && inst.structr.is_some()
        && inst.neo4j_data.is_some()
        && inst.structr_dir.is_some();
    let found = match inst.kind {
        Kind::Custom => Ok(custom(config)),
        Kind::Systemd => systemd(config).map_err(|reason| DetectError::Missing {
            kind: Kind::Systemd,
            reason,
        }),
        Kind::Compose => compose(config).map_err(|reason| DetectError::Missing {
            kind: Kind::Compose,
            reason,
        }),
        Kind::Auto if complete => Ok(custom(config)),
        Kind::Auto => systemd(config).or_else(|s| {
            compose(config).map_err(|c| DetectError::NotFound {
                reason: format!("systemd: {s}; Docker Compose: {c}"),
            })
        }),
    };
    found.map(|mut i| {
        add_linked_folders(&mut i);
        i.notes.extend(vm_note());
        i
    })
}

/// A top-level entry of a component that is a symlink to a folder elsewhere (say
/// `files/` on another disk) would be archived as the link alone; it becomes a
/// component of its own, as `files.path` outside the Structr folder does.
fn add_linked_folders(inst: &mut Installation) {
    let mut extra = Vec::new();
    for c in &inst.components {
        let Ok(root) = c.path.canonicalize() else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(&c.path) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let link = e.path();
            let is_link =
                std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
            let Ok(target) = link.canonicalize() else {
                continue;
            };
            if !is_link || !target.is_dir() || target.starts_with(&root) {
                continue;
            }
            // Already a component (files.path), or overlapping one: leave it be.
            let overlaps = inst
                .components
                .iter()
                .chain(&extra)
                .any(|o: &ComponentSpec| {
                    let o = o.path.canonicalize().unwrap_or_else(|_| o.path.clone());
                    o.starts_with(&target) || target.starts_with(&o)
                });
            if overlaps {
                continue;
            }
            let name = format!("{}-{}", c.name, safe_name(&e.file_name().to_string_lossy()));
            extra.push(ComponentSpec {
                name: name.clone(),
                role: name,
                path: target,
                neo4j_store: false,
            });
        }
    }
    for x in &extra {
        inst.notes.push(format!(
            "{} is reached through a symbolic link from inside the installation: it is backed up as its own component, {}",
            x.path.display(),
            x.name
        ));
    }
    inst.components.extend(extra);
}

/// A component name that is also a safe file name for its archive.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

fn timeouts(config: &Config) -> (Duration, Duration) {
    let i = &config.installation;
    (
        Duration::from_secs(i.stop_timeout_secs),
        Duration::from_secs(i.start_timeout_secs),
    )
}

fn custom(config: &Config) -> Installation {
    let inst = &config.installation;
    let mut components = Vec::new();
    let mut services: Vec<Box<dyn ServiceControl>> = Vec::new();
    if let Some(p) = &inst.neo4j_data {
        components.push(ComponentSpec::new(ROLE_NEO4J_DATA, p.clone()));
    }
    if let Some(p) = &inst.structr_dir {
        components.push(ComponentSpec::new(ROLE_STRUCTR, p.clone()));
    }
    if let Some(c) = &inst.structr {
        services.push(Box::new(CommandService::new("structr", c)));
    }
    if let Some(c) = &inst.neo4j {
        services.push(Box::new(CommandService::new("neo4j", c)));
    }
    let (stop_timeout, start_timeout) = timeouts(config);
    let sconf = inst.structr_dir.as_deref().and_then(conf::structr_conf);
    Installation {
        kind: Kind::Custom,
        host: crate::sys::hostname(),
        components,
        services,
        notes: vec![],
        versions: BTreeMap::new(),
        stop_timeout,
        start_timeout,
        maintenance: maintenance_spec(config, Kind::Custom, sconf.as_ref()),
    }
}

fn not_root_note(what: &str) -> Option<String> {
    (!nix::unistd::geteuid().is_root()).then(|| {
        format!(
            "not running as root: {what} may not be readable; run structr-backup as root (sudo)"
        )
    })
}

/// A Debian/systemd server as Structr's and Neo4j's packages install it.
fn systemd(config: &Config) -> Result<Installation, String> {
    let inst = &config.installation;
    if !Path::new("/run/systemd/system").exists() {
        return Err("systemd is not running on this machine".into());
    }
    for unit in [&inst.structr_unit, &inst.neo4j_unit] {
        if !unit_loaded(unit)? {
            return Err(format!("{unit} is not installed (set structr_unit / neo4j_unit in [installation] if the units have other names)"));
        }
    }
    let structr_dir = inst.structr_dir.clone().unwrap_or_else(|| {
        let wd = unit_property(&inst.structr_unit, "WorkingDirectory");
        PathBuf::from(if wd.is_empty() {
            STRUCTR_DIR_DEFAULT
        } else {
            wd.as_str()
        })
    });
    let sconf = conf::structr_conf(&structr_dir);
    let nconf = conf::neo4j_conf(Path::new(conf::NEO4J_CONF));
    let neo4j_data = inst
        .neo4j_data
        .clone()
        .unwrap_or_else(|| nconf.data_dir.clone());
    let mut notes = Vec::new();
    let mut components = vec![
        ComponentSpec::new(ROLE_NEO4J_DATA, neo4j_data),
        ComponentSpec::new(ROLE_STRUCTR, structr_dir.clone()),
    ];
    let http_port = match &sconf {
        Some(c) => {
            if let Some(files) = &c.files_outside {
                components.push(ComponentSpec::new("structr-files", files.clone()));
            }
            c.http_port
        }
        None => {
            notes.push(format!(
                "{}/structr.conf could not be read; assuming HTTP port 8082",
                structr_dir.display()
            ));
            8082
        }
    };
    notes.extend(not_root_note("the Neo4j data directory and structr.conf"));
    let (stop_timeout, start_timeout) = timeouts(config);
    Ok(Installation {
        kind: Kind::Systemd,
        host: crate::sys::hostname(),
        components,
        services: vec![
            Box::new(SystemdService::new(
                "structr",
                &inst.structr_unit,
                Health::Http {
                    port: http_port,
                    path: "/structr/health/ready".into(),
                },
            )),
            Box::new(SystemdService::new(
                "neo4j",
                &inst.neo4j_unit,
                Health::Tcp(nconf.bolt_port),
            )),
        ],
        notes,
        versions: systemd_versions(&structr_dir, nconf.generation),
        stop_timeout,
        start_timeout,
        maintenance: maintenance_spec(config, Kind::Systemd, sconf.as_ref()),
    })
}

fn systemd_versions(
    structr_dir: &Path,
    neo4j_generation: Option<&str>,
) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for pkg in ["neo4j", "neo4j-enterprise", "structr"] {
        let argv: Vec<String> = ["dpkg-query", "-W", "-f", "${Version}", pkg]
            .map(String::from)
            .to_vec();
        if let Ok(out) = crate::process::run(&argv, Duration::from_secs(10)) {
            if out.success() && !out.stdout.trim().is_empty() {
                v.insert(pkg.to_string(), out.stdout.trim().to_string());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(structr_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(ver) = name
                .strip_prefix("structr-")
                .and_then(|n| n.strip_suffix(".jar"))
            {
                v.entry("structr".into()).or_insert_with(|| ver.to_string());
            }
        }
    }
    if let (Some(g), false) = (neo4j_generation, v.contains_key("neo4j")) {
        v.insert("neo4j".into(), format!("{g} (from neo4j.conf keys)"));
    }
    v
}

/// A Docker Compose project with a neo4j and a structr service.
fn compose(config: &Config) -> Result<Installation, String> {
    let inst = &config.installation;
    let cmd = compose::compose_command()
        .ok_or("neither `docker compose` nor `docker-compose` is installed")?;
    let containers = compose::compose_containers().map_err(|e| {
        format!(
            "cannot ask Docker ({}); is dockerd running and are you root or in the docker group?",
            e.trim()
        )
    })?;
    let cwd_compose = [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yml",
        "compose.yaml",
    ]
    .iter()
    .filter_map(|f| std::env::current_dir().ok().map(|d| d.join(f)))
    .find(|p| p.exists());
    let want_dir = inst
        .compose_file
        .as_ref()
        .or(cwd_compose.as_ref())
        .and_then(|f| f.parent().map(Path::to_path_buf));
    let project: Project = compose::find_project(containers, want_dir.as_deref())?;
    let (components, mut notes) = project.components();
    notes.extend(not_root_note(
        "Docker volumes (read through their mountpoints)",
    ));
    let (stop_timeout, start_timeout) = timeouts(config);
    let mut versions = BTreeMap::new();
    versions.insert("neo4j-image".into(), project.neo4j.config.image.clone());
    versions.insert("structr-image".into(), project.structr.config.image.clone());
    let structr_svc = Project::service_name(&project.structr);
    let neo4j_svc = Project::service_name(&project.neo4j);
    let mode = inst.compose_mode;
    Ok(Installation {
        kind: Kind::Compose,
        host: crate::sys::hostname(),
        components,
        services: vec![
            Box::new(ComposeService::new(
                "structr",
                &structr_svc,
                &project,
                &cmd,
                false,
                mode,
                project.structr_health(),
            )),
            Box::new(ComposeService::new(
                "neo4j",
                &neo4j_svc,
                &project,
                &cmd,
                true,
                mode,
                Health::Running,
            )),
        ],
        notes,
        versions,
        stop_timeout,
        start_timeout,
        // structr.conf lives inside the container: the port is `[maintenance] port`.
        maintenance: maintenance_spec(config, Kind::Compose, None),
    })
}

/// The maintenance page as configured: on by default except for Compose (whose
/// port belongs to Docker's publish or a proxy), on Structr's address and port
/// unless `[maintenance]` names others.
fn maintenance_spec(
    config: &Config,
    kind: Kind,
    sconf: Option<&conf::StructrConf>,
) -> Option<Spec> {
    let m = &config.maintenance;
    if !m.enabled.unwrap_or(kind != Kind::Compose) {
        return None;
    }
    let all = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    Some(Spec {
        addr: m.bind.or(sconf.and_then(|c| c.host)).unwrap_or(all),
        port: m.port.or(sconf.map(|c| c.http_port)).unwrap_or(8082),
        page: m.page.clone(),
        default_retry: Duration::from_secs(m.retry_after_secs),
    })
}

/// Structr's documentation names a snapshot of the stopped VM as a backup option.
pub fn vm_note() -> Option<String> {
    let out = crate::process::run(
        &["systemd-detect-virt".into(), "--vm".into()],
        Duration::from_secs(5),
    )
    .ok()?;
    let virt = out.stdout.trim();
    (out.success() && !virt.is_empty() && virt != "none").then(|| {
        format!("This machine is a virtual machine ({virt}): a snapshot of the stopped VM is an alternative full backup, as Structr's documentation says.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(maintenance: &str) -> Config {
        let text = format!("[maintenance]\n{maintenance}\n");
        crate::config::parse(&text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn the_maintenance_page_is_on_but_for_compose_on_structrs_address_and_port() {
        let sconf = conf::parse_structr_conf(
            "application.http.port = 9090\napplication.host = 127.0.0.1\n",
            Path::new("/s"),
        );
        let on = maintenance_spec(&config(""), Kind::Systemd, Some(&sconf)).unwrap();
        assert_eq!((on.addr.to_string(), on.port), ("127.0.0.1".into(), 9090));
        assert_eq!(on.default_retry, Duration::from_secs(60));
        let custom = maintenance_spec(&config(""), Kind::Custom, None).unwrap();
        assert_eq!(
            (custom.addr.to_string(), custom.port),
            ("0.0.0.0".into(), 8082)
        );
        assert_eq!(maintenance_spec(&config(""), Kind::Compose, None), None);
        let set = config("enabled = true\nbind = \"::1\"\nport = 8443\nretry_after_secs = 300");
        let compose = maintenance_spec(&set, Kind::Compose, Some(&sconf)).unwrap();
        assert_eq!(
            (compose.addr.to_string(), compose.port),
            ("::1".into(), 8443)
        );
        assert_eq!(compose.default_retry, Duration::from_secs(300));
        let off = config("enabled = false");
        assert_eq!(maintenance_spec(&off, Kind::Systemd, Some(&sconf)), None);
        for bad in ["port = 0", "retry_after_secs = 0", "bind = \"everywhere\""] {
            let text = format!("[maintenance]\n{bad}\n");
            assert!(
                crate::config::parse(&text, Path::new("t.toml")).is_err(),
                "{bad}"
            );
        }
    }
}
