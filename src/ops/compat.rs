//! Whether a generation fits this installation, decided before anything stops:
//! the same kind of installation (its components are placed by role), a Neo4j
//! no older than the one that wrote the store, and what becomes of each file
//! owner. A restore onto a fresh server is where these differ.

use std::collections::BTreeMap;

use crate::install::neo4j_store::{self, KernelVersion};
use crate::install::{Installation, ROLE_NEO4J_DATA};
use crate::ops::event::{Event, Sink};
use crate::repo::manifest::Manifest;
use crate::repo::owners::{self, Mapping, OwnerMap};

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Checks {
    /// Reasons the restore is refused (each says what to do instead).
    pub refusals: Vec<String>,
    /// Differences the user should see in the plan; none stops the restore.
    pub notes: Vec<String>,
    /// Every recorded owner and its id here.
    pub owners: Vec<Mapping>,
}

impl Checks {
    pub fn owner_map(&self) -> OwnerMap {
        owners::owner_map(&self.owners)
    }

    /// The lines a plan shows: notes, then owner mappings (only those that
    /// change something or are missing), each missing name with its fix.
    pub fn plan_lines(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        for m in &self.owners {
            if m.changes() {
                out.push(format!("owner {m}"));
            } else if m.missing() {
                out.push(format!("WARNING: {m}; fix: {}", m.fix()));
            }
        }
        out
    }
}

pub fn check(inst: &Installation, m: &Manifest) -> Checks {
    let mut c = Checks::default();
    if let Some(why) = super::snapshot::restore_refusal(m) {
        c.refusals.push(why);
        return c;
    }
    let here = inst.kind.to_string();
    if !m.installation.is_empty() && m.installation != here {
        c.refusals.push(format!(
            "generation {} was taken from a {} installation and this is a {here} installation, so its components have no place here: {}. Restore it onto a {} installation (or by hand with `structr-backup show {} --runbook`)",
            m.id,
            m.installation,
            m.components
                .iter()
                .map(|x| format!("{} ({}, from {})", x.name, x.role, x.source.display()))
                .collect::<Vec<_>>()
                .join(", "),
            m.installation,
            m.id
        ));
    }
    check_versions(inst, m, &mut c);
    if nix::unistd::geteuid().is_root() {
        c.owners = owners::mappings(&m.owners);
        if m.owners.is_empty() {
            c.notes.push(
                "the generation records no owner names (made by an older version): owners are restored by number".into(),
            );
        }
    } else {
        c.notes.push(
            "not running as root: the files will belong to the user running the restore".into(),
        );
    }
    c
}

/// The Neo4j and Structr versions the manifest recorded, against those here. A
/// store written by a newer Neo4j cannot be opened by an older one: where the
/// generation records the kernel version its store needs, that decides;
/// otherwise the package or image majors do.
fn check_versions(inst: &Installation, m: &Manifest, c: &mut Checks) {
    let kernel_decided = check_kernel(inst, m, c);
    for product in ["neo4j", "structr"] {
        let then = version_of(&m.versions, product);
        let now = version_of(&inst.versions, product);
        match (then, now) {
            (Some(then), Some(now)) => {
                let (a, b) = (major(&then), major(&now));
                if product == "neo4j"
                    && !kernel_decided
                    && matches!((a, b), (Some(a), Some(b)) if a > b)
                {
                    c.refusals.push(format!(
                        "the generation's Neo4j store was written by Neo4j {then}, and Neo4j {now} is installed here: an older Neo4j cannot open a newer major's store. Install Neo4j {} (or newer) first, then restore",
                        a.unwrap_or_default()
                    ));
                } else if then != now {
                    c.notes.push(format!(
                        "{product}: {then} in the generation, {now} here"
                    ));
                }
            }
            (Some(then), None) => c.notes.push(format!(
                "{product}: {then} in the generation; the version here could not be read, so it is not compared"
            )),
            _ => {}
        }
    }
}

/// The kernel version the generation's store needs (read from its transaction
/// logs at backup time) against the Neo4j installed here. Returns whether it
/// decided: the generation records one and it could be read.
fn check_kernel(inst: &Installation, m: &Manifest, c: &mut Checks) -> bool {
    if m.neo4j_kernel.is_empty() {
        if m.components.iter().any(|x| x.role == ROLE_NEO4J_DATA) {
            c.notes.push(
                "the generation does not record the kernel version its Neo4j store needs (made before it was recorded, or its logs could not be read then): only the Neo4j package or image versions are compared".into(),
            );
        }
        return false;
    }
    let mut needed: Option<(&str, (u32, u32), &str)> = None;
    for (db, name) in &m.neo4j_kernel {
        let Some(release) = KernelVersion::parse_release(name) else {
            c.notes.push(format!(
                "WARNING: the generation's Neo4j database `{db}` records kernel version {name}, which this structr-backup does not know: make sure the Neo4j here is at least as new as the one that wrote it"
            ));
            return false;
        };
        if needed.is_none_or(|(_, r, _)| release > r) {
            needed = Some((db, release, name));
        }
    }
    let Some((db, need, need_name)) = needed else {
        return false;
    };
    let here = version_of(&inst.versions, "neo4j");
    // `5 (from neo4j.conf keys)` is what 5.x and 2025.x configurations both say:
    // a lower bound, not a release.
    let installed = here
        .as_deref()
        .filter(|v| !v.contains("neo4j.conf"))
        .and_then(release_of);
    let supported = match installed {
        Some((major, Some(minor))) => Some((major, minor) >= need),
        Some((major, None)) if major != need.0 => Some(major > need.0),
        _ => None,
    };
    match (supported, here) {
        (Some(true), _) => {}
        (Some(false), Some(now)) => {
            let then = version_of(&m.versions, "neo4j")
                .map(|v| format!(" (the backup was taken with Neo4j {v})"))
                .unwrap_or_default();
            c.refusals.push(format!(
                "generation {}'s Neo4j store needs Neo4j {need_name} or newer: its database `{db}` was last written with kernel version {need_name}, read from its transaction logs{then}, and Neo4j {now} is installed here, which cannot open it. Install Neo4j {need_name} or newer first, then restore; or restore onto a server that runs it",
                m.id
            ));
        }
        (_, now) => c.notes.push(format!(
            "WARNING: the generation's Neo4j store needs Neo4j {need_name} or newer (kernel version of database `{db}`, read from its transaction logs), and the Neo4j version here {}: make sure it is {need_name} or newer before Neo4j starts on the restored store",
            match now {
                Some(v) => format!("({v}) does not say which release it is"),
                None => "could not be read".to_string(),
            }
        )),
    }
    true
}

/// The line a runbook or `show` gives the store's kernel versions, e.g.
/// `needs Neo4j 5.25 or newer (kernel version of neo4j 5.25, system 5.25)`.
pub fn kernel_line(m: &Manifest) -> Option<String> {
    if m.neo4j_kernel.is_empty() {
        return None;
    }
    let each: Vec<String> = m
        .neo4j_kernel
        .iter()
        .map(|(db, v)| format!("{db} {v}"))
        .collect();
    let newest = m
        .neo4j_kernel
        .values()
        .filter_map(|v| KernelVersion::parse_release(v).map(|r| (r, v)))
        .max()
        .map(|(_, v)| format!("needs Neo4j {v} or newer "))
        .unwrap_or_default();
    Some(format!(
        "{newest}(kernel version of {}, read from its transaction logs)",
        each.join(", ")
    ))
}

/// The kernel versions of the installation's Neo4j store, each database's
/// read from its transaction logs, as a manifest records them. The backup calls
/// it while Neo4j is stopped (the logs are then complete and still); a store it
/// cannot read gives a warning and nothing recorded, never a failed backup.
pub fn store_kernel(inst: &Installation, on: Sink) -> BTreeMap<String, String> {
    let Some(data) = inst.components.iter().find(|c| c.is_neo4j_store()) else {
        return BTreeMap::new();
    };
    // A folder without Neo4j's transaction logs (an empty store, a stand-in's
    // files of the same name) has no kernel version to tell: said, not warned.
    if !has_transaction_logs(&data.path) {
        on(Event::Info(format!(
            "no Neo4j transaction logs in {}: the store's kernel version is not recorded",
            data.path.join("transactions").display()
        )));
        return BTreeMap::new();
    }
    match neo4j_store::database_kernel_versions(&data.path) {
        Ok(all) => all.into_iter().map(|(db, v)| (db, v.name())).collect(),
        Err(e) => {
            on(Event::Warning(format!(
                "the kernel version of the Neo4j store could not be read ({e}); the generation does not record it, so a restore compares only Neo4j's package or image versions"
            )));
            BTreeMap::new()
        }
    }
}

/// Whether `data/transactions/<db>/` holds a `neostore.transaction.db.N` that
/// begins like one of Neo4j's (its first byte a log format Neo4j writes, 7 to
/// 11): a file that only has the name (a stand-in's) is no Neo4j log.
fn has_transaction_logs(data: &std::path::Path) -> bool {
    use std::io::Read;
    let neo4j_like = |p: &std::path::Path| {
        let mut first = [0u8; 1];
        std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut first))
            .is_ok_and(|()| (7..=11).contains(&first[0]))
    };
    let Ok(dbs) = std::fs::read_dir(data.join("transactions")) else {
        return false;
    };
    dbs.flatten().any(|db| {
        std::fs::read_dir(db.path()).is_ok_and(|files| {
            files.flatten().any(|f| {
                f.file_name()
                    .to_string_lossy()
                    .starts_with("neostore.transaction.db.")
                    && neo4j_like(&f.path())
            })
        })
    })
}

/// `1:5.26.0` → (5, Some(26)), `2025.12.1` → (2025, Some(12)), `5-community`
/// → (5, None), `latest` → None.
fn release_of(version: &str) -> Option<(u32, Option<u32>)> {
    let v = version.split_once(':').map_or(version, |(_, rest)| rest);
    let digits = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_digit()).collect() };
    let major = digits(v);
    let maj: u32 = major.parse().ok()?;
    let minor = v[major.len()..]
        .strip_prefix('.')
        .and_then(|rest| digits(rest).parse().ok());
    Some((maj, minor))
}

/// A product's version from a versions map: the package (`neo4j`,
/// `neo4j-enterprise`, `structr`) or the image tag (`neo4j-image`).
fn version_of(v: &std::collections::BTreeMap<String, String>, product: &str) -> Option<String> {
    let image = |key: &str| {
        v.get(key).and_then(|img| {
            // `registry:5000/neo4j:5.26` → `5.26`; an image without a tag says nothing.
            let last = img.rsplit('/').next()?;
            last.split_once(':').map(|(_, tag)| tag.to_string())
        })
    };
    match product {
        "neo4j" => v
            .get("neo4j")
            .or_else(|| v.get("neo4j-enterprise"))
            .cloned()
            .or_else(|| image("neo4j-image")),
        _ => v.get(product).cloned().or_else(|| image("structr-image")),
    }
}

/// The major version: `1:5.26.0` → 5, `2025.01.0` → 2025, `5 (from neo4j.conf
/// keys)` → 5, `latest` → None.
fn major(version: &str) -> Option<u32> {
    let v = version.split_once(':').map_or(version, |(_, rest)| rest);
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_read_from_packages_images_and_config_keys() {
        assert_eq!(major("1:5.26.0"), Some(5));
        assert_eq!(major("2025.01.0"), Some(2025));
        assert_eq!(major("5 (from neo4j.conf keys)"), Some(5));
        assert_eq!(major("latest"), None);
        let v = [(
            "neo4j-image".to_string(),
            "reg:5000/neo4j:4.4-community".to_string(),
        )]
        .into();
        assert_eq!(version_of(&v, "neo4j").as_deref(), Some("4.4-community"));
        let v = [("neo4j-image".to_string(), "neo4j".to_string())].into();
        assert_eq!(version_of(&v, "neo4j"), None);
    }

    #[test]
    fn releases_read_from_packages_and_tags() {
        assert_eq!(release_of("1:5.26.0"), Some((5, Some(26))));
        assert_eq!(release_of("2025.12.1"), Some((2025, Some(12))));
        assert_eq!(release_of("5.26-community"), Some((5, Some(26))));
        assert_eq!(release_of("5-enterprise"), Some((5, None)));
        assert_eq!(release_of("latest"), None);
    }

    fn installation(neo4j: Option<&str>) -> Installation {
        Installation {
            kind: crate::config::Kind::Systemd,
            host: "h".into(),
            components: vec![],
            services: vec![],
            notes: vec![],
            versions: neo4j
                .map(|v| ("neo4j".to_string(), v.to_string()))
                .into_iter()
                .collect(),
            stop_timeout: std::time::Duration::from_secs(1),
            start_timeout: std::time::Duration::from_secs(1),
            maintenance: None,
        }
    }

    /// A generation whose store needs `kernel` (both databases), taken with `neo4j`.
    fn generation(kernel: &[(&str, &str)], neo4j: &str) -> Manifest {
        let mut m = Manifest::bare("20261125T031500Z", chrono::Utc::now());
        m.installation = "systemd".into();
        m.versions = [("neo4j".to_string(), neo4j.to_string())].into();
        m.neo4j_kernel = kernel
            .iter()
            .map(|(db, v)| (db.to_string(), v.to_string()))
            .collect();
        m
    }

    fn versions(inst: &Installation, m: &Manifest) -> Checks {
        let mut c = Checks::default();
        check_versions(inst, m, &mut c);
        c
    }

    #[test]
    fn a_store_needing_a_newer_neo4j_is_refused_with_what_to_install() {
        let m = generation(&[("neo4j", "2025.11"), ("system", "2025.11")], "2025.12.1");
        let c = versions(&installation(Some("1:5.26.0")), &m);
        assert_eq!(c.refusals.len(), 1, "{c:?}");
        let why = &c.refusals[0];
        assert!(why.contains("needs Neo4j 2025.11 or newer"), "{why}");
        assert!(why.contains("Neo4j 1:5.26.0 is installed here"), "{why}");
        assert!(
            why.contains("Install Neo4j 2025.11 or newer first"),
            "{why}"
        );
        assert!(why.contains("taken with Neo4j 2025.12.1"), "{why}");

        // Within one major: a 5.25 store on 5.24.
        let m = generation(&[("neo4j", "5.25")], "5.26.0");
        let c = versions(&installation(Some("5.24.0")), &m);
        assert!(c.refusals[0].contains("needs Neo4j 5.25 or newer"), "{c:?}");
        // The newest database decides.
        let m = generation(&[("neo4j", "5.25"), ("system", "2025.11")], "2025.12.1");
        let c = versions(&installation(Some("5.26.0")), &m);
        assert!(c.refusals[0].contains("database `system`"), "{c:?}");
    }

    #[test]
    fn an_older_store_on_a_newer_neo4j_passes_without_a_warning() {
        let m = generation(&[("neo4j", "5.25"), ("system", "5.25")], "1:5.26.0");
        let c = versions(&installation(Some("2025.12.1")), &m);
        assert!(c.refusals.is_empty(), "{c:?}");
        assert!(c.notes.iter().all(|n| !n.contains("WARNING")), "{c:?}");
        // A 2025 installation whose store was never upgraded: the kernel decides,
        // not the package major.
        let m = generation(&[("neo4j", "5.25"), ("system", "5.25")], "2025.12.1");
        let c = versions(&installation(Some("5.26.0")), &m);
        assert!(c.refusals.is_empty(), "{c:?}");
    }

    #[test]
    fn unknown_on_either_side_is_a_warning() {
        let m = generation(&[("neo4j", "2025.11")], "2025.12.1");
        for here in [None, Some("latest"), Some("5 (from neo4j.conf keys)")] {
            let c = versions(&installation(here), &m);
            assert!(c.refusals.is_empty(), "{here:?}: {c:?}");
            assert!(
                c.notes
                    .iter()
                    .any(|n| n.starts_with("WARNING") && n.contains("2025.11 or newer")),
                "{here:?}: {c:?}"
            );
        }
        let m = generation(&[("neo4j", "unknown (byte 40)")], "2026.01.0");
        let c = versions(&installation(Some("5.26.0")), &m);
        assert!(c.notes.iter().any(|n| n.contains("does not know")), "{c:?}");
    }
}
