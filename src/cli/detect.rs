//! `detect`.

use serde_json::json;

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;

pub(super) fn detect_cmd(env: &Env) -> Result<()> {
    let inst = env.installation()?;
    if env.cli.json {
        env.print_json(json!({
            "kind": inst.kind,
            "host": inst.host,
            "components": inst.components,
            // `running`: true, false, or null when the service manager could not say.
            "services": inst.services.iter().map(|s| json!({"name": s.name(), "control": s.describe(), "running": s.is_running().ok()})).collect::<Vec<_>>(),
            "notes": inst.notes,
            "config": env.source.to_string(),
            "repository": env.store.location(),
            "repository_kind": env.store.kind(),
            "state": {
                "key": inst.key(),
                "journal": ops::state::journal_path(&inst),
                "lock": ops::state::lock_path(&inst),
            },
        }));
        return Ok(());
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
