//! A generation's manifest as restic snapshot tags, readable in `restic snapshots`:
//!
//! ```text
//! structr-backup                      marks our snapshots
//! id:20261125T031500Z                 the generation id
//! installation:systemd
//! tool:0.1.0
//! label:before the upgrade            (commas and % are percent-encoded)
//! component:neo4j-data:neo4j-data:/var/lib/neo4j/data    name:role:path
//! size:neo4j-data:12:20:4096          name:files:entries:bytes
//! timings:downtime=3.210;total=5.100;stop=0.500;copy=1.200;start=1.500
//! version:neo4j=5.26.0
//! kernel:neo4j=5.25                   the kernel version a database's store needs
//! already-stopped:neo4j
//! added:1048576                       bytes the snapshot added to the repository
//! drill:2026-11-25T03:30:00Z;ok;12.5;what proved it   the last restore drill
//! user:107=neo4j                      owner names (see repo::owners)
//! group:107=neo4j
//! pinned
//! restoring:20261124T031500Z          a restore's safety backup: what it restored
//! ```
//! Tags are untrusted input like any manifest: ids and names are checked, text is
//! made printable, and nothing here ever names a place we write to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::ids::is_generation_id;
use crate::repo::manifest::{Component, DrillRecord, Manifest, Timings, FORMAT_VERSION, MAX_LABEL};
use crate::repo::owners::Owners;
use crate::text::printable;

pub const MARKER: &str = "structr-backup";
pub const PINNED: &str = "pinned";

/// The tag that names generation `id` (for `--tag` filters).
pub fn id_tag(id: &str) -> String {
    format!("id:{id}")
}

/// Commas split restic's `--tag` lists; `%` is escaped so decoding is exact.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace(',', "%2C")
}

fn unescape(s: &str) -> String {
    s.replace("%2C", ",").replace("%25", "%")
}

/// The tags recording `m` (timings included when known).
pub fn encode(m: &Manifest) -> Vec<String> {
    let mut tags = vec![
        MARKER.to_string(),
        id_tag(&m.id),
        format!("installation:{}", escape(&m.installation)),
        format!("tool:{}", escape(&m.tool_version)),
    ];
    if !m.label.is_empty() {
        tags.push(format!("label:{}", escape(&m.label)));
    }
    if let Some(id) = &m.restoring {
        tags.push(format!("restoring:{id}"));
    }
    for c in &m.components {
        tags.push(format!(
            "component:{}:{}:{}",
            c.name,
            c.role,
            escape(&c.source.to_string_lossy())
        ));
        tags.push(format!(
            "size:{}:{}:{}:{}",
            c.name, c.files, c.entries, c.bytes
        ));
    }
    for (k, v) in &m.versions {
        tags.push(format!("version:{}={}", escape(k), escape(v)));
    }
    tags.extend(kernel_tags(&m.neo4j_kernel));
    for (id, name) in &m.owners.users {
        tags.push(format!("user:{id}={}", escape(name)));
    }
    for (id, name) in &m.owners.groups {
        tags.push(format!("group:{id}={}", escape(name)));
    }
    for s in &m.services_already_stopped {
        tags.push(format!("already-stopped:{}", escape(s)));
    }
    if m.pinned {
        tags.push(PINNED.to_string());
    }
    tags
}

/// `kernel:neo4j=5.25` for each database: the kernel version its store needs
/// (known only once Neo4j is stopped, so a backup may add these by retagging).
pub fn kernel_tags(kernel: &BTreeMap<String, String>) -> Vec<String> {
    kernel
        .iter()
        .map(|(db, v)| format!("kernel:{}={}", escape(db), escape(v)))
        .collect()
}

pub fn timings_tag(t: &Timings) -> String {
    format!(
        "timings:downtime={:.3};total={:.3};stop={:.3};copy={:.3};start={:.3}",
        t.downtime_secs, t.total_secs, t.stop_secs, t.copy_secs, t.start_secs
    )
}

pub fn drill_tag(d: &DrillRecord) -> String {
    format!(
        "drill:{};{};{:.1};{}",
        d.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        if d.ok { "ok" } else { "failed" },
        d.secs,
        escape(&d.detail)
    )
}

fn parse_drill(v: &str) -> Option<DrillRecord> {
    let mut parts = v.splitn(4, ';');
    let at = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let ok = parts.next()? == "ok";
    let secs = parts.next()?.parse().ok()?;
    let detail = unescape(parts.next().unwrap_or_default());
    Some(DrillRecord {
        at,
        ok,
        secs,
        detail,
    })
}

pub fn added_tag(bytes: u64) -> String {
    format!("added:{bytes}")
}

/// The facts restic keeps beside the tags.
pub struct SnapshotFacts<'a> {
    pub snapshot_id: &'a str,
    pub time: DateTime<Utc>,
    pub hostname: &'a str,
    pub tags: &'a [String],
}

/// The manifest a snapshot's tags describe; `Err` says what is wrong with them.
/// `Ok(None)`: not one of ours.
pub fn decode(s: &SnapshotFacts) -> Result<Option<Manifest>, String> {
    if !s.tags.iter().any(|t| t == MARKER) {
        return Ok(None);
    }
    let value = |key: &str| {
        s.tags
            .iter()
            .find_map(|t| t.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
    };
    let all = |key: &'static str| {
        s.tags
            .iter()
            .filter_map(move |t| t.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
    };
    let id = value("id").ok_or("no id: tag")?;
    if !is_generation_id(id) {
        return Err(format!("{:?} is not a generation id", printable(id, 30)));
    }
    let mut components = Vec::new();
    for c in all("component") {
        let mut parts = c.splitn(3, ':');
        let (Some(name), Some(role), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "component tag {:?} is incomplete",
                printable(c, 60)
            ));
        };
        if !crate::repo::manifest::is_plain_name(name) || !is_plain_role(role) {
            return Err(format!(
                "component tag {:?} has a name that is not plain",
                printable(c, 60)
            ));
        }
        let source = PathBuf::from(unescape(path));
        if !source.is_absolute() {
            return Err(format!("component {name}: its path is not absolute"));
        }
        let (files, entries, bytes) = all("size")
            .find_map(|t| {
                let v: Vec<&str> = t.split(':').collect();
                match v.as_slice() {
                    [n, f, e, b] if *n == name => {
                        Some((f.parse().ok()?, e.parse().ok()?, b.parse().ok()?))
                    }
                    _ => None,
                }
            })
            .unwrap_or((0, 0, 0));
        components.push(Component {
            name: name.to_string(),
            role: role.to_string(),
            source,
            archive: String::new(),
            index: String::new(),
            files,
            entries,
            bytes,
            archive_size: 0,
            sha256: String::new(),
        });
    }
    if components.is_empty() {
        return Err("no component: tags".into());
    }
    let timings = match value("timings") {
        Some(t) => parse_timings(t)?,
        None => Timings::default(),
    };
    let versions: BTreeMap<String, String> = all("version")
        .filter_map(|v| v.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect();
    let mut m = Manifest {
        format_version: FORMAT_VERSION,
        id: id.to_string(),
        created_at: s.time,
        host: s.hostname.to_string(),
        installation: value("installation").map(unescape).unwrap_or_default(),
        tool_version: value("tool").map(unescape).unwrap_or_default(),
        label: value("label").map(unescape).unwrap_or_default(),
        pinned: s.tags.iter().any(|t| t == PINNED),
        last_verified: None,
        last_drill: value("drill").and_then(parse_drill),
        timings,
        versions,
        neo4j_kernel: all("kernel")
            .filter_map(|v| v.split_once('='))
            .map(|(k, v)| (unescape(k), unescape(v)))
            .collect(),
        services_already_stopped: all("already-stopped").map(unescape).collect(),
        components,
        snapshot: Some(s.snapshot_id.to_string()),
        added_bytes: value("added").and_then(|v| v.parse().ok()),
        owners: Owners {
            users: id_names(all("user")),
            groups: id_names(all("group")),
        },
        snapshot_backup: None,
        // An id, or nothing: the tag is untrusted text.
        restoring: value("restoring")
            .filter(|id| crate::ids::is_generation_id(id))
            .map(str::to_string),
    };
    m.label = printable(&m.label, MAX_LABEL);
    m.sanitize();
    Ok(Some(m))
}

/// `107=neo4j` tags → id → name (the names are checked in `Manifest::sanitize`).
fn id_names<'a>(tags: impl Iterator<Item = &'a str>) -> BTreeMap<u32, String> {
    tags.filter_map(|t| t.split_once('='))
        .filter_map(|(id, name)| Some((id.parse().ok()?, unescape(name))))
        .collect()
}

fn is_plain_role(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 60
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_timings(t: &str) -> Result<Timings, String> {
    let mut out = Timings::default();
    for part in t.split(';') {
        let (k, v) = part.split_once('=').ok_or("timings tag is malformed")?;
        let v: f64 = v
            .parse()
            .map_err(|_| format!("timings.{} is not a number", printable(k, 20)))?;
        match k {
            "downtime" => out.downtime_secs = v,
            "total" => out.total_secs = v,
            "stop" => out.stop_secs = v,
            "copy" => out.copy_secs = v,
            "start" => out.start_secs = v,
            _ => {}
        }
    }
    out.check()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            id: "20261125T031500Z".into(),
            created_at: "2026-11-25T03:15:00Z".parse().unwrap(),
            host: "web1".into(),
            installation: "systemd".into(),
            tool_version: "0.1.0".into(),
            label: "before 6.1, 50% done".into(),
            pinned: true,
            last_verified: None,
            last_drill: None,
            timings: Timings::default(),
            versions: [("neo4j".to_string(), "5.26.0".to_string())].into(),
            neo4j_kernel: [("neo4j".to_string(), "5.25".to_string())].into(),
            services_already_stopped: vec!["neo4j".into()],
            components: vec![Component {
                name: "neo4j-data".into(),
                role: "neo4j-data".into(),
                source: "/var/lib/neo4j/da,ta:x".into(),
                archive: String::new(),
                index: String::new(),
                files: 12,
                entries: 20,
                bytes: 4096,
                archive_size: 0,
                sha256: String::new(),
            }],
            snapshot: None,
            added_bytes: None,
            snapshot_backup: None,
            restoring: Some("20261124T031500Z".into()),
            owners: Default::default(),
        }
    }

    fn facts<'a>(tags: &'a [String]) -> SnapshotFacts<'a> {
        SnapshotFacts {
            snapshot_id: "abc",
            time: "2026-11-25T03:15:00Z".parse().unwrap(),
            hostname: "web1",
            tags,
        }
    }

    #[test]
    fn round_trips_through_tags_with_commas_and_colons() {
        let m = manifest();
        let mut tags = encode(&m);
        assert!(tags.iter().all(|t| !t.contains(',')), "{tags:?}");
        let t = Timings {
            downtime_secs: 3.25,
            total_secs: 5.5,
            stop_secs: 0.5,
            copy_secs: 1.25,
            start_secs: 1.5,
        };
        tags.push(timings_tag(&t));
        tags.push(added_tag(77));
        let back = decode(&facts(&tags)).unwrap().unwrap();
        let mut want = m;
        want.timings = t;
        want.snapshot = Some("abc".into());
        want.added_bytes = Some(77);
        assert_eq!(back, want);
    }

    #[test]
    fn foreign_snapshots_are_not_ours_and_hostile_tags_are_refused() {
        assert!(decode(&facts(&["daily".to_string()])).unwrap().is_none());
        let hostile = |tag: &str| {
            let mut tags = encode(&manifest());
            tags.retain(|t| !t.starts_with("id:") && !t.starts_with("component:"));
            tags.push(tag.to_string());
            tags
        };
        let mut t = hostile("id:../../etc");
        t.push("component:a:b:/x".into());
        assert!(decode(&facts(&t))
            .unwrap_err()
            .contains("not a generation id"));
        let mut t = hostile("component:../x:role:/x");
        t.push("id:20261125T031500Z".into());
        assert!(decode(&facts(&t)).unwrap_err().contains("not plain"));
        let mut t = hostile("component:a:role:relative/x");
        t.push("id:20261125T031500Z".into());
        assert!(decode(&facts(&t)).unwrap_err().contains("not absolute"));
        let mut t = encode(&manifest());
        t.push("timings:downtime=NaN;total=1;stop=0;copy=0;start=0".into());
        assert!(decode(&facts(&t)).is_err());
    }
}
