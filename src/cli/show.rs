//! `show ID` and `show ID --runbook`.

use serde::Serialize;

use super::env::{Env, Failure, Result};
use super::json::{drilled_words, verified_word, Whole};
use crate::ops::{self, OpError};
use crate::units;
use crate::{errln, outln};

pub(super) fn show(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let m = env.reading().manifest(id).map_err(OpError::from)?;
    if env.cli.json {
        return env.print_json(&Whole::of(&m));
    }
    let local = m.created_at.with_timezone(&chrono::Local);
    outln!("generation   {}", m.id);
    outln!(
        "created      {} ({})",
        local.format("%Y-%m-%d %H:%M:%S %Z"),
        units::age(chrono::Utc::now() - m.created_at)
    );
    outln!("host         {} ({} installation)", m.host, m.installation);
    let label = m.label_words();
    outln!(
        "label        {}",
        if label.is_empty() { "-" } else { &label }
    );
    outln!("pinned       {}", if m.pinned { "yes" } else { "no" });
    outln!("verified     {}", verified_word(&m));
    outln!("drilled      {}", drilled_words(&m));
    match &m.restoring {
        // Taken inside a restore's stop window: the downtime is the restore's.
        Some(id) => outln!("downtime     within the restore of {id}"),
        None => outln!(
            "downtime     {}",
            units::duration(std::time::Duration::from_secs_f64(m.timings.downtime_secs))
        ),
    }
    outln!("tool         structr-backup {}", m.tool_version);
    if let Some(s) = &m.snapshot {
        outln!(
            "snapshot     {s} (restic; added {} to the repository)",
            units::bytes(m.total_archive_size())
        );
    }
    if let Some(s) = &m.snapshot_backup {
        outln!(
            "snapshot     {} by `{}` in {} (exit status {})",
            if s.is_external() {
                "taken"
            } else {
                "LVM snapshots read"
            },
            s.command,
            units::duration(std::time::Duration::from_secs_f64(s.secs)),
            s.exit_status.map_or("none".into(), |x| x.to_string())
        );
        for l in s.output.lines() {
            outln!("             {l}");
        }
    }
    for c in m.components.iter().filter(|c| c.archive.is_empty()) {
        outln!(
            "component    {} ({}) from {}: {} files, {}",
            c.name,
            c.role,
            c.source.display(),
            c.files,
            units::bytes(c.bytes)
        );
    }
    for c in m.components.iter().filter(|c| !c.archive.is_empty()) {
        outln!(
            "component    {} ({}) from {}: {} files, {} → {} {}",
            c.name,
            c.role,
            c.source.display(),
            c.files,
            units::bytes(c.bytes),
            units::bytes(c.archive_size),
            c.archive
        );
    }
    Ok(())
}

/// `show ID --runbook --json` (docs/json.md).
#[derive(Serialize)]
struct RunbookDoc<'a> {
    id: &'a str,
    /// false: the generation carries none; this one was written now from its manifest.
    stored: bool,
    runbook: &'a str,
}

/// The generation's own runbook, exactly as stored; a generation made before
/// runbooks existed gets one written now from its manifest (and stderr says so).
pub(super) fn show_runbook(env: &Env, id: &str) -> Result<()> {
    let id = &env.id(id)?;
    let store = env.reading();
    let m = store.manifest(id).map_err(OpError::from)?;
    // A recorded hypervisor snapshot has no files to restore by hand.
    if let Some(why) = ops::snapshot::restore_refusal(&m) {
        return Err(Failure::usage(format!("no runbook: {why}")));
    }
    let (text, stored) = match ops::runbook::stored(store, &m) {
        Ok(text) => (text, true),
        Err(ops::runbook::NotStored::Changed(why)) => return Err(OpError::Verify(why).into()),
        Err(ops::runbook::NotStored::Missing(why)) => {
            errln!(
                "generation {id} carries no {} ({why}); this one is written now from its manifest",
                ops::runbook::FILE
            );
            let controls = ops::runbook::controls(&m, Some(&env.config.installation));
            let source = ops::runbook::Source::of(store);
            (ops::runbook::render_with(&m, &source, &controls), false)
        }
    };
    if env.cli.json {
        return env.print_json(&RunbookDoc {
            id,
            stored,
            runbook: &text,
        });
    }
    crate::out!("{text}");
    Ok(())
}
