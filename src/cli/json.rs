//! The JSON shapes of generations (`list --json`, `show --json`), as docs/json.md describes them.

use serde_json::json;

use crate::repo::manifest::Manifest;
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
pub(super) fn list_json(m: &Manifest) -> serde_json::Value {
    json!({
        "id": m.id,
        "created_at": m.created_at,
        "host": m.host,
        "installation": m.installation,
        "label": m.label,
        "pinned": m.pinned,
        "last_verified": m.last_verified,
        "last_drill": m.last_drill,
        "downtime_secs": m.timings.downtime_secs,
        "source_bytes": m.total_bytes(),
        "stored_bytes": m.total_archive_size(),
        "snapshot": m.snapshot,
        "kind": if m.is_external_snapshot() { "snapshot" } else { "archive" },
    })
}

/// A whole generation, as `show` and `backup` give it: the manifest with the two
/// totals added.
pub(super) fn generation_json(m: &Manifest) -> serde_json::Value {
    let mut v = json!(m);
    v["source_bytes"] = json!(m.total_bytes());
    v["stored_bytes"] = json!(m.total_archive_size());
    v
}
