//! Facts the wizard shows before a backup or a restore. They walk folders, which
//! can take seconds on a large installation, so the wizard gathers them on a
//! thread and shows "measuring…" meanwhile.

use crate::install::Installation;
use crate::ops::{self, Context};
use crate::repo::store::Store;
use crate::units;

/// The backup plan's facts, and the bytes the backup will read (for its ETA).
pub struct Plan {
    pub lines: Vec<String>,
    pub bytes: Option<u64>,
}

/// Sizes, free space and expected downtime for the backup plan screen.
pub fn backup_plan(inst: &Installation, store: &Store) -> Plan {
    let last = store
        .list()
        .ok()
        .and_then(|(l, _)| l.into_iter().find(|m| m.timings.downtime_secs > 0.0));
    let folder = store.local_folder().unwrap_or(std::path::Path::new("/"));
    match ops::preflight::estimate(
        &inst.components,
        folder.ancestors().find(|p| p.exists()).unwrap_or(folder),
        last.as_ref(),
    ) {
        Ok(e) => {
            let mut v: Vec<String> = e
                .sources
                .iter()
                .map(|s| {
                    format!(
                        "{:<11} {} in {} files",
                        s.name,
                        units::bytes(s.bytes),
                        s.files
                    )
                })
                .collect();
            v.push(format!(
                "free space  {} (about {} needed)",
                units::bytes(e.free_bytes),
                units::bytes(e.needed_bytes)
            ));
            v.push(format!(
                "downtime    {}",
                e.expected_downtime
                    .map_or("unknown (first backup)".into(), |d| format!(
                        "about {}",
                        units::duration(d)
                    ))
            ));
            for stopped in ops::window::found_stopped(inst) {
                v.push(format!(
                    "WARNING: {stopped} is already stopped: it is copied as it is and left stopped"
                ));
            }
            for w in ops::preflight::boundary_warnings(&e.sources, &inst.components) {
                v.push(format!("WARNING: {w}"));
            }
            Plan {
                lines: v,
                bytes: Some(e.sources.iter().map(|s| s.bytes).sum()),
            }
        }
        Err(e) => Plan {
            lines: vec![format!("Cannot back up: {e}")],
            bytes: None,
        },
    }
}

/// What a restore of `id` replaces, one fact per line, for the confirmation
/// (`ops::restore::plan`, in the wizard's words).
pub fn restore(inst: &Installation, store: &Store, id: &str) -> Vec<String> {
    // Only the installation and the repository matter for where things go.
    let ctx = Context::preview(inst, store.clone());
    let plan = match ops::restore::plan(&ctx, store, id, true) {
        Ok(p) => p,
        Err(e) => return vec![e.to_string()],
    };
    let targets = match &plan.targets {
        Ok(t) => t,
        Err(e) => return vec![format!("Cannot restore: {e}")],
    };
    let m = &plan.manifest;
    let mut facts = vec![format!(
        "From {} on host {}, {}.",
        m.created_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M"),
        m.host,
        units::age(chrono::Utc::now() - m.created_at)
    )];
    facts.extend(plan.checks.refusals.iter().map(|r| format!("REFUSED: {r}")));
    for t in targets {
        let p = &t.placement;
        if !t.exists {
            facts.push(format!(
                "CREATES {} (it does not exist yet) with {} of the backup.",
                p.target.display(),
                units::bytes(p.bytes)
            ));
            continue;
        }
        let spec = [crate::install::ComponentSpec::new(
            &p.name,
            p.target.clone(),
        )];
        let now = ops::preflight::measure(&spec)
            .ok()
            .and_then(|v| v.into_iter().next());
        facts.push(format!(
            "REPLACES {} (now {}) with {} of the backup.",
            p.target.display(),
            now.map_or("unreadable".into(), |s| format!(
                "{} in {} files",
                units::bytes(s.bytes),
                s.files
            )),
            units::bytes(p.bytes)
        ));
        if let Some(lost) = &t.lost {
            facts.push(format!("  {lost}"));
        }
        facts.push(format!(
            "  the current folder is kept as {}",
            p.kept.display()
        ));
    }
    let names: Vec<&str> = inst.services.iter().map(|s| s.name()).collect();
    facts.push(format!(
        "Stops {} during the restore; a safety backup of the current state is taken first.",
        names.join(" and ")
    ));
    facts
}
