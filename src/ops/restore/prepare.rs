//! What a restore needs before the installation can be detected, and the plan
//! both faces show before the confirmation.

use super::super::compat::{self, Checks};
use super::super::{app_export, window, Context, OpError};
use super::place::has_entries;
use super::place::{placements, what_is_lost};
use crate::ops::placement::Placement;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// What restoring a generation here does, worked out before the confirmation
/// without changing anything: both faces show it, in their own words.
pub struct RestorePlan {
    /// The generation, with only the components that go into the installation.
    pub manifest: Manifest,
    /// It held an application export, which a restore does not put back.
    pub app_export: bool,
    /// Refusals, notes and owner mappings.
    pub checks: Checks,
    /// Where each component goes, or why it cannot.
    pub targets: Result<Vec<Target>, String>,
    /// Services stopped for the restore and started again, in stop order.
    pub stops: Vec<String>,
    /// Services found stopped: they stay stopped.
    pub left_stopped: Vec<String>,
}

/// One component's place, and what is there now.
pub struct Target {
    pub placement: Placement,
    pub exists: bool,
    /// It exists and holds nothing.
    pub empty: bool,
    /// What restoring over it loses (`what_is_lost`), when asked for.
    pub lost: Option<String>,
}

impl RestorePlan {
    /// Why the restore would be refused, if it would.
    pub fn refusal(&self) -> Option<String> {
        match (&self.checks.refusals.first(), &self.targets) {
            (Some(r), _) => Some(r.to_string()),
            (None, Err(e)) => Some(e.clone()),
            (None, Ok(_)) => None,
        }
    }
}

/// The plan of restoring generation `id` of `from` into `ctx`'s installation;
/// with `losses`, each existing target is walked for what changed there since
/// the backup (seconds on a large folder).
pub fn plan(ctx: &Context, from: &Store, id: &str, losses: bool) -> Result<RestorePlan, OpError> {
    let mut manifest = from.manifest(id)?;
    let app_export = manifest.components.iter().any(app_export::is_app);
    manifest
        .components
        .retain(app_export::goes_into_installation);
    let checks = compat::check(ctx.inst, &manifest);
    let targets = placements(ctx, &manifest)
        .map(|ps| {
            ps.into_iter()
                .map(|p| Target {
                    exists: p.target.exists(),
                    empty: p.target.exists() && !has_entries(&p.target),
                    lost: losses.then(|| what_is_lost(&p.target, &manifest)),
                    placement: p,
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    let left_stopped = window::found_stopped(ctx.inst);
    let stops = ctx
        .inst
        .services
        .iter()
        .map(|s| s.name().to_string())
        .filter(|n| !left_stopped.contains(n))
        .collect();
    Ok(RestorePlan {
        manifest,
        app_export,
        checks,
        targets,
        stops,
        left_stopped,
    })
}

/// Prepares what a restore needs before the installation can even be detected: on
/// a fresh Docker host, the Compose project's containers and empty volumes
/// (`docker compose create`, nothing started). Returns what it did, if anything.
pub fn prepare_installation(config: &crate::config::Config) -> Result<Option<String>, OpError> {
    let Some(file) = &config.installation.compose_file else {
        return Ok(None);
    };
    let compose = matches!(
        config.installation.kind,
        crate::config::Kind::Compose | crate::config::Kind::Auto
    );
    if !compose || !file.exists() {
        return Ok(None);
    }
    crate::install::compose::create_if_fresh(file).map_err(|e| {
        OpError::failed(format!(
            "cannot prepare the compose project: {e}. Nothing was changed"
        ))
    })
}
