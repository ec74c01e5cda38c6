//! `detect`.

use std::path::PathBuf;

use serde::Serialize;

use super::env::{Env, Result};
use crate::config;
use crate::install::ComponentSpec;
use crate::ops::{self};
use crate::outln;
use crate::secrets::Location;

/// `detect --json` (docs/json.md).
#[derive(Serialize)]
struct DetectDoc<'a> {
    kind: config::Kind,
    host: &'a str,
    components: &'a [ComponentSpec],
    services: Vec<ServiceDoc<'a>>,
    notes: &'a [String],
    config: String,
    repository: Location,
    repository_kind: config::RepoKind,
    state: StateDoc,
}

#[derive(Serialize)]
struct ServiceDoc<'a> {
    name: &'a str,
    control: String,
    /// true, false, or null when the service manager could not say.
    running: Option<bool>,
}

/// Where this installation's run state lives.
#[derive(Serialize)]
struct StateDoc {
    key: String,
    journal: PathBuf,
    lock: PathBuf,
}

pub(super) fn detect_cmd(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    if env.cli.json {
        return env.print_json(&DetectDoc {
            kind: inst.kind,
            host: &inst.host,
            components: &inst.components,
            services: inst
                .services
                .iter()
                .map(|s| ServiceDoc {
                    name: s.name(),
                    control: s.describe(),
                    running: s.is_running().ok(),
                })
                .collect(),
            notes: &inst.notes,
            config: env.source.to_string(),
            repository: env.store.location(),
            repository_kind: env.store.kind(),
            state: StateDoc {
                key: inst.key(),
                journal: ops::state::journal_path(&inst),
                lock: ops::state::lock_path(&inst),
            },
        });
    }
    outln!("installation {} on {}", inst.kind, inst.host);
    outln!("config       {}", env.source);
    outln!(
        "repository   {} ({})",
        env.store.location(),
        env.store.kind()
    );
    for c in &inst.components {
        outln!(
            "component    {} ({}) at {}",
            c.name,
            c.role,
            c.path.display()
        );
    }
    for s in &inst.services {
        let state = match s.is_running() {
            Ok(true) => "running",
            Ok(false) => "stopped",
            Err(_) => "unknown",
        };
        outln!("service      {} ({state}), {}", s.name(), s.describe());
    }
    for n in &inst.notes {
        outln!("note         {n}");
    }
    Ok(())
}
