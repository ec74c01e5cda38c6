//! Whether a generation fits this installation, decided before anything stops:
//! the same kind of installation (its components are placed by role), a Neo4j
//! no older than the one that wrote the store, and what becomes of each file
//! owner. A restore onto a fresh server is where these differ.

use crate::install::Installation;
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
/// store written by a newer Neo4j major cannot be opened by an older one.
fn check_versions(inst: &Installation, m: &Manifest, c: &mut Checks) {
    for product in ["neo4j", "structr"] {
        let then = version_of(&m.versions, product);
        let now = version_of(&inst.versions, product);
        match (then, now) {
            (Some(then), Some(now)) => {
                let (a, b) = (major(&then), major(&now));
                if product == "neo4j" && matches!((a, b), (Some(a), Some(b)) if a > b) {
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
}
