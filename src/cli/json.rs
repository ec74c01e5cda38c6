//! The JSON shapes of generations (`list --json`, `show --json`), as docs/json.md describes them.

use serde::Serialize;

use crate::repo::manifest::{DrillRecord, Manifest, VerifyRecord};
use crate::units;

/// A restore drill's result in words: `ok 3 days ago`, `FAILED 1 hour ago: why`.
pub(super) fn drilled_words(m: &Manifest) -> String {
    match &m.last_drill {
        None => "never".into(),
        Some(d) => format!(
            "{} {}{}",
            if d.ok { "ok" } else { "FAILED" },
            units::age(chrono::Utc::now() - d.at),
            if d.ok {
                String::new()
            } else {
                format!(": {}", d.detail)
            }
        ),
    }
}

pub(super) fn verified_word(m: &Manifest) -> &'static str {
    match &m.last_verified {
        None => "never",
        Some(v) if !v.ok => "FAILED",
        Some(v) if v.deep => "deep",
        Some(_) => "quick",
    }
}

/// A generation in brief, as `list` and the prune plan give it: the manifest's
/// own field names, and the two totals (see docs/json.md).
#[derive(Serialize)]
pub(super) struct Brief<'a> {
    id: &'a str,
    created_at: chrono::DateTime<chrono::Utc>,
    host: &'a str,
    installation: &'a str,
    label: &'a str,
    /// A restore's safety backup: the generation that restore put in place.
    restoring: &'a Option<String>,
    pinned: bool,
    last_verified: &'a Option<VerifyRecord>,
    last_drill: &'a Option<DrillRecord>,
    downtime_secs: f64,
    source_bytes: u64,
    stored_bytes: u64,
    snapshot: &'a Option<String>,
    /// `snapshot` for a generation that only records a `[snapshot] command`'s snapshot.
    kind: &'static str,
}

impl<'a> Brief<'a> {
    pub(super) fn of(m: &'a Manifest) -> Self {
        Self {
            id: &m.id,
            created_at: m.created_at,
            host: &m.host,
            installation: &m.installation,
            label: &m.label,
            restoring: &m.restoring,
            pinned: m.pinned,
            last_verified: &m.last_verified,
            last_drill: &m.last_drill,
            downtime_secs: m.timings.downtime_secs,
            source_bytes: m.total_bytes(),
            stored_bytes: m.total_archive_size(),
            snapshot: &m.snapshot,
            kind: if m.is_external_snapshot() {
                "snapshot"
            } else {
                "archive"
            },
        }
    }
}

/// A whole generation, as `show` and `backup` give it: the manifest with the two
/// totals added.
#[derive(Serialize)]
pub(super) struct Whole<'a> {
    #[serde(flatten)]
    manifest: &'a Manifest,
    source_bytes: u64,
    stored_bytes: u64,
}

impl<'a> Whole<'a> {
    pub(super) fn of(m: &'a Manifest) -> Self {
        Self {
            manifest: m,
            source_bytes: m.total_bytes(),
            stored_bytes: m.total_archive_size(),
        }
    }
}

/// How a command failed, for scripts: `{"error": {"kind", "message"}, "exit_code"}`.
#[derive(Serialize)]
pub(super) struct FailureDoc<'a> {
    pub error: ErrorDoc<'a>,
    pub exit_code: u8,
}

#[derive(Serialize)]
pub(super) struct ErrorDoc<'a> {
    pub kind: &'static str,
    pub message: &'a str,
}

/// `doc` as pretty JSON with its keys sorted, as every `--json` document has
/// printed them since the first version (scripts diffing outputs rely on it).
pub(super) fn pretty(doc: &impl Serialize) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&serde_json::to_value(doc)?)
}
