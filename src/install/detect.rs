//! Finding the installation. The `custom` kind is described entirely by the config;
//! `auto` uses it when the config describes one.

use std::time::Duration;

use super::service::CommandService;
use super::{ComponentSpec, Installation, ROLE_NEO4J_DATA, ROLE_STRUCTR};
use crate::config::{Config, Kind};

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("no Structr installation found: {reason}. Describe it in the config ([installation] kind = \"custom\" with neo4j_data, structr_dir and the neo4j/structr start, stop and status commands; see the README), or run `structr-backup demo` to try the tool on a sandbox")]
    NotFound { reason: String },
    #[error("installation kind \"{0}\" is not supported by this version; use kind = \"custom\"")]
    Unsupported(Kind),
}

pub fn detect(config: &Config) -> Result<Installation, DetectError> {
    let inst = &config.installation;
    match inst.kind {
        Kind::Custom => Ok(custom(config)),
        Kind::Auto
            if inst.neo4j.is_some()
                && inst.structr.is_some()
                && inst.neo4j_data.is_some()
                && inst.structr_dir.is_some() =>
        {
            Ok(custom(config))
        }
        Kind::Auto => Err(DetectError::NotFound {
            reason: "the config does not describe an installation".into(),
        }),
        other => Err(DetectError::Unsupported(other)),
    }
}

fn custom(config: &Config) -> Installation {
    let inst = &config.installation;
    let mut components = Vec::new();
    let mut services: Vec<Box<dyn super::service::ServiceControl>> = Vec::new();
    if let Some(p) = &inst.structr_dir {
        components.push(ComponentSpec::new(ROLE_STRUCTR, p.clone()));
    }
    if let Some(p) = &inst.neo4j_data {
        components.insert(0, ComponentSpec::new(ROLE_NEO4J_DATA, p.clone()));
    }
    if let Some(c) = &inst.structr {
        services.push(Box::new(CommandService::new("structr", c)));
    }
    if let Some(c) = &inst.neo4j {
        services.push(Box::new(CommandService::new("neo4j", c)));
    }
    Installation {
        kind: Kind::Custom,
        host: crate::repo::lock::hostname(),
        components,
        services,
        notes: vm_note().into_iter().collect(),
        stop_timeout: Duration::from_secs(inst.stop_timeout_secs),
        start_timeout: Duration::from_secs(inst.start_timeout_secs),
    }
}

/// Structr's documentation names a snapshot of the stopped VM as a backup option.
pub fn vm_note() -> Option<String> {
    let out = super::command::run(
        &["systemd-detect-virt".into(), "--vm".into()],
        Duration::from_secs(5),
    )
    .ok()?;
    let virt = out.stdout.trim();
    (out.success() && !virt.is_empty() && virt != "none").then(|| {
        format!("This machine is a virtual machine ({virt}): a snapshot of the stopped VM is an alternative full backup, as Structr's documentation says.")
    })
}
